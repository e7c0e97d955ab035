"""Ganeti's ``key=val,key=val`` and ``ident:key=val,...`` option syntax.

The rules are those of Ganeti's command line (``cli_opts._SplitKeyVal`` and
``utils.UnescapeAndSplit``):

* elements are separated by ``,``; ``\\,`` is a literal comma and ``\\\\`` a
  literal backslash;
* ``key=value`` sets a value (the value may contain further ``=``);
* a bare ``key`` means ``True``, ``no_key`` means ``False`` and ``-key``
  means "reset to default" (``None``);
* a key may appear only once.

Values are returned as strings (``"True"``/``"False"`` for the bare forms)
or ``None`` for a reset, which is how they end up in ``config.ini``.
"""

from __future__ import annotations

from ovfconverter.errors import OptionError

NO_PREFIX = "no_"
UN_PREFIX = "-"


def split_escaped(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep`` where it is not escaped with a backslash,
    then undo the escapes (``\\x`` becomes ``x``).

    >>> split_escaped(r"a=1,b=x\\,y")
    ['a=1', 'b=x,y']
    """
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def parse_keyval(text: str, option: str) -> dict[str, str | None]:
    """Parse ``key=val,key=val`` into a dict (see the module rules).

    :param text: the option's argument; empty gives an empty dict.
    :param option: the option's name, for messages (``-B``).
    :raises OptionError: an empty key or a key given twice.
    """
    result: dict[str, str | None] = {}
    if not text:
        return result
    for element in split_escaped(text):
        value: str | None
        if "=" in element:
            key, value = element.split("=", 1)
        elif element.startswith(NO_PREFIX):
            key, value = element[len(NO_PREFIX) :], "False"
        elif element.startswith(UN_PREFIX):
            key, value = element[len(UN_PREFIX) :], None
        else:
            key, value = element, "True"
        key = key.strip()
        if not key:
            raise OptionError(f"empty key in option {option} {text!r}")
        if key in result:
            raise OptionError(f"duplicate key {key!r} in option {option}")
        result[key] = value
    return result


def parse_ident_keyval(text: str, option: str) -> tuple[str, dict[str, str | None] | None]:
    """Parse ``ident:key=val,...`` (``-H kvm:kernel_path=/vmlinuz``,
    ``--net 0:mode=bridged``).

    :returns: ``(ident, params)``; ``params`` is ``None`` for the removal
        forms ``no_ident`` and ``-ident``.
    :raises OptionError: an empty ident, or parameters given with a removal
        form.
    """
    ident, _, rest = text.partition(":")
    removal = ident.startswith(NO_PREFIX) or (
        ident.startswith(UN_PREFIX) and not ident[len(UN_PREFIX) : len(UN_PREFIX) + 1].isdigit()
    )
    if removal:
        if rest:
            raise OptionError(f"option {option} {text!r}: cannot give parameters when removing {ident!r}")
        ident = ident[len(NO_PREFIX) :] if ident.startswith(NO_PREFIX) else ident[len(UN_PREFIX) :]
        if not ident:
            raise OptionError(f"option {option} {text!r}: empty name")
        return ident, None
    if not ident.strip():
        raise OptionError(f"option {option} {text!r}: empty name before ':'")
    return ident.strip(), parse_keyval(rest, option)


def parse_index(ident: str, option: str, limit: int) -> int:
    """Parse the ``N`` of ``--disk N:...`` / ``--net N:...``.

    :raises OptionError: not a number in ``0 .. limit - 1``.
    """
    if not (ident.isascii() and ident.isdigit() and len(ident) <= 6) or int(ident) >= limit:
        raise OptionError(f"option {option}: index {ident!r} is not a number from 0 to {limit - 1}")
    return int(ident)
