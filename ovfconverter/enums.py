"""The base of ovfconverter's closed lists of words (formats, digests,
versions, statuses): each list is defined once, as a :class:`Words` enum,
and used wherever its values are compared or offered (the command line's
``choices`` included).

A :class:`Words` member *is* its string (``DiskFormat.VMDK == "vmdk"``),
so options and reports keep plain strings in their public shape.
"""

from __future__ import annotations

import enum


class Words(str, enum.Enum):
    """A string enum whose members print as their value."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value, in definition order."""
        return tuple(str(member.value) for member in cls)
