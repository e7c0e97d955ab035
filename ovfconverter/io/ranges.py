"""Byte ranges: where bytes are (a file, an OVA member, a chunk), read in
place, in blocks.

Nothing here loads a whole file into memory: data moves in blocks of
:data:`BLOCK_SIZE` bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from ovfconverter.errors import PackageError, UnsafeInputError

BLOCK_SIZE = 4 << 20
"""Bytes read or written at a time (4 MiB)."""


@dataclass(frozen=True)
class ByteRange:
    """``size`` bytes of the file ``path`` starting at ``offset``.

    :ivar path: absolute, real path of the file holding the bytes (the OVA
        for an OVA member).
    :ivar offset: where the bytes start, in bytes.
    :ivar size: how many bytes.
    :ivar name: the package-relative name, for messages.
    """

    path: str
    offset: int
    size: int
    name: str


def total_size(ranges: Sequence[ByteRange]) -> int:
    """Sum of the ranges' sizes, in bytes."""
    return sum(r.size for r in ranges)


def iter_ranges(ranges: Sequence[ByteRange], block_size: int = BLOCK_SIZE) -> Generator[bytes, None, None]:
    """Yield the bytes of ``ranges``, in order, in blocks of at most
    ``block_size`` bytes.

    :raises PackageError: a file is shorter than its range (truncated).
    """
    for part in ranges:
        if part.size < 0 or part.offset < 0:
            raise PackageError(f"has a negative size or offset ({part.size} at {part.offset})", part.name)
        with open(part.path, "rb") as stream:
            stream.seek(part.offset)
            left = part.size
            while left:
                data = stream.read(min(block_size, left))
                if not data:
                    raise PackageError(f"file ends {left} bytes early (truncated)", part.name)
                left -= len(data)
                yield data


def read_range(part: ByteRange, limit: int) -> bytes:
    """Return all of ``part`` (a descriptor, manifest...) as bytes.

    :param limit: the most bytes accepted.
    :raises UnsafeInputError: ``part`` is larger than ``limit``.
    """
    if part.size > limit:
        raise UnsafeInputError(f"is {part.size} bytes, more than the {limit} bytes allowed; refusing", part.name)
    return b"".join(iter_ranges([part]))


ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, size)``: bytes at ``offset`` (fewer at the end)."""


def range_reader(part: ByteRange) -> ReadAt:
    """A ``read_at(offset, size)`` function over ``part`` (for the image
    inspector); reads past its end return fewer bytes."""

    def read_at(offset: int, size: int) -> bytes:
        if offset >= part.size or size <= 0:
            return b""
        size = min(size, part.size - offset)
        with open(part.path, "rb") as stream:
            stream.seek(part.offset + offset)
            return stream.read(size)

    return read_at
