"""Text from input made safe for a terminal: the one place the command line
escapes what it prints.

A package is somebody else's: its descriptor, manifest, certificate, member
names and image headers can carry ESC and BEL (clear the screen, retitle the
window, colour text), CR, NEL (U+0085), LS/PS (U+2028/9) and other line
breaks (forge whole lines, such as a false ``verified``), C1 controls
(U+009B is an 8-bit CSI) and bidi overrides (U+202A-E, U+2066-9: reorder
what the reader sees).  XML carries all of them as character references.

The library keeps the raw values (``--json`` prints them exactly: JSON
escapes control characters and, ASCII-only, every other non-ASCII one);
the command line passes every line it prints through :func:`escape_line`,
which writes each character Python's :meth:`str.isprintable` rejects (C0,
DEL, C1, line and paragraph separators, format characters such as the bidi
controls and zero-width ones, lone surrogates from undecodable file names,
unassigned and private-use code points, every space but U+0020) the way
``repr`` does: ``\\t``, ``\\n``, ``\\r``, ``\\xNN``, ``\\uNNNN`` or
``\\UNNNNNNNN``.  A backslash stays as it is: messages often quote names with
``repr`` already, and escaping those escapes again would only blur them; a
literal ``\\x1b`` in a name is four harmless characters.
"""

from __future__ import annotations

from collections.abc import Iterable

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_line(text: str) -> str:
    """Return ``text`` with every non-printable character escaped: the
    result holds only printable characters and U+0020, so it prints as
    exactly one line that moves no cursor and changes no mode."""
    if text.isprintable():
        return text  # the common case, and cheap
    return "".join(char if char.isprintable() else _escape_char(char) for char in text)


def escape_lines(lines: Iterable[str]) -> str:
    """Join ``lines`` with newlines, each escaped by :func:`escape_line`:
    the newlines between them are the only ones in the result."""
    return "\n".join(escape_line(line) for line in lines)


def escape_text(text: str) -> str:
    """Escape a text whose line breaks are the command line's own (a
    traceback): split at ``\\n`` only, escape each line, join again.  Any
    other line break (CR, NEL, LS, PS, VT, FF) is escaped."""
    return escape_lines(text.split("\n"))
