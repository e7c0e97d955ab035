"""Typed diagnostics: every warning the library reports keeps its parts.

A :class:`Diagnostic` *is* the one line a person reads
(``"subject: message"``, a :class:`str`, so results' ``warnings`` lists keep
their shape), and also carries, for programs, a stable :attr:`~Diagnostic.code`
naming the kind of thing it reports, the :attr:`~Diagnostic.subject` (the
file, member or element concerned) and the bare :attr:`~Diagnostic.message`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ovfconverter.enums import Words
from ovfconverter.parameters import Parameter, Part, parts_of, render


class Code(Words):
    """What a diagnostic reports (the step that noticed it, or what it is)."""

    PACKAGE = "package"  # the package does not conform (a gzip OVA, the descriptor not first)
    SOURCE = "source"  # what reading the source worked around or left out
    PLAN = "plan"  # what the target's plan decided against the source
    FILE_SIZE = "file-size"  # a stored file is not the size its reference says
    MANIFEST = "manifest"  # a file the manifest lists is absent, or one it should list is not
    IMAGE = "image"  # what converting an image noticed (capacity, subformat)
    DUMP_SIZE = "dump-size"  # a Ganeti dump larger than its diskN_size
    PLACE = "place"  # where the result is written has consequences


class Diagnostic(str):
    """A warning: its text, ``"subject: message"``, and its parts.

    :ivar code: a :class:`Code`.
    :ivar subject: the file, member or element concerned, or ``None``.
    :ivar message: the text without the subject, parameters spelled as the
        library names them.
    :ivar parts: the message's parts: text and the caller's parameters it
        names (:class:`~ovfconverter.parameters.Parameter`).
    """

    code: Code
    subject: str | None
    message: str
    parts: tuple[Part, ...]

    def __new__(cls, message: str | Sequence[Part], subject: str | None = None, code: Code = Code.SOURCE) -> Diagnostic:
        parts = text_parts(message) if isinstance(message, str) else parts_of(message)
        text = render(parts)
        self = super().__new__(cls, f"{subject}: {text}" if subject else text)
        self.code, self.subject, self.message, self.parts = code, subject, text, parts
        return self

    def describe(self, spell: Callable[[Parameter], str] = str) -> str:
        """The one line, each parameter spelled by ``spell`` (the command
        line passes the flag that sets it)."""
        text = render(self.parts, spell)
        return f"{self.subject}: {text}" if self.subject else text


def text_parts(text: str) -> tuple[Part, ...]:
    """The parts of a warning or problem: a :class:`Diagnostic`'s (its
    subject as text first), else the text as one part."""
    if isinstance(text, Diagnostic):
        return (f"{text.subject}: ", *text.parts) if text.subject else text.parts
    return (text,)


def join_parts(texts: Iterable[str], separator: str) -> tuple[Part, ...]:
    """``separator.join(texts)`` as parts, keeping the parameters the texts
    name (:func:`text_parts`)."""
    joined: list[Part] = []
    for index, text in enumerate(texts):
        if index:
            joined.append(separator)
        joined.extend(text_parts(text))
    return tuple(joined)
