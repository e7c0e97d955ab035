"""Typed diagnostics: every warning the library reports keeps its parts.

A :class:`Diagnostic` *is* the one line a person reads
(``"subject: message"``, a :class:`str`, so results' ``warnings`` lists keep
their shape), and also carries, for programs, a stable :attr:`~Diagnostic.code`
naming the kind of thing it reports, the :attr:`~Diagnostic.subject` (the
file, member or element concerned) and the bare :attr:`~Diagnostic.message`.
"""

from __future__ import annotations

from ovfconverter.enums import Words


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
    :ivar message: the text without the subject.
    """

    code: Code
    subject: str | None
    message: str

    def __new__(cls, message: str, subject: str | None = None, code: Code = Code.SOURCE) -> Diagnostic:
        self = super().__new__(cls, f"{subject}: {message}" if subject else message)
        self.code, self.subject, self.message = code, subject, message
        return self
