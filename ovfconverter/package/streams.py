"""Reading package bytes in place: byte ranges of files or OVA members,
concatenated chunks, hashing and bounded gzip decompression.

Nothing here loads a whole file into memory: data moves in blocks of
:data:`BLOCK_SIZE` bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

from ovfconverter.errors import PackageError, UnsafeInputError
from ovfconverter.progress import Meter, ProgressCallback

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


def read_head(ranges: Sequence[ByteRange], size: int) -> bytes:
    """Return the first ``size`` bytes of the concatenated ranges (fewer if
    they are shorter)."""
    out = bytearray()
    for data in iter_ranges(ranges, block_size=max(size, 4096)):
        out += data
        if len(out) >= size:
            break
    return bytes(out[:size])


def hash_ranges(
    ranges: Sequence[ByteRange], algorithm: str, progress: ProgressCallback | None = None, subject: str = ""
) -> str:
    """Return the hex digest (``sha1``, ``sha256``, ``sha512``) of the
    concatenated ranges.

    :raises PackageError: a file is truncated.
    """
    digest = hashlib.new(algorithm)
    meter = Meter(progress, "verify", subject or (ranges[0].name if ranges else ""), total_size(ranges))
    for data in iter_ranges(ranges):
        digest.update(data)
        meter.advance(len(data))
    meter.finish()
    return digest.hexdigest()


_ZEROS = bytes(1 << 16)


class SparseWriter:
    """Writes a stream to a new file, seeking over all-zero 64 KiB blocks so
    that the file stays sparse.  :meth:`close` sets the final length.

    :param path: the file to create (must not exist).
    :param limit: the most bytes that may be written, or ``None``.
    :param what: the name used in messages.
    """

    def __init__(self, path: str, limit: int | None = None, what: str = "") -> None:
        self._file = open(path, "xb")
        self.size = 0
        self.limit = limit
        self.what = what or os.path.basename(path)

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data``.

        :raises UnsafeInputError: the limit would be exceeded.
        """
        if self.limit is not None and self.size + len(data) > self.limit:
            raise UnsafeInputError(
                f"expands to more than {self.limit} bytes, beyond what its declared size allows; refusing",
                self.what,
            )
        view = memoryview(data)
        step = len(_ZEROS)
        for start in range(0, len(view), step):
            piece = view[start : start + step]
            if piece == _ZEROS[: len(piece)]:
                self._file.seek(len(piece), io.SEEK_CUR)
            else:
                self._file.write(piece)
        self.size += len(view)

    def close(self) -> None:
        """Fix the length (trailing holes count) and close the file."""
        if not self._file.closed:
            self._file.truncate(self.size)
            self._file.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self._file.close()


def copy_ranges(
    ranges: Sequence[ByteRange],
    dest: str,
    progress: ProgressCallback | None = None,
    subject: str = "",
    on_block: Callable[[bytes], None] | None = None,
) -> int:
    """Copy the concatenated ranges into the new file ``dest``, sparse.

    :param on_block: called with every block read, in order (to hash the
        source in the same pass).
    :returns: bytes written.
    """
    meter = Meter(progress, "copy", subject or dest, total_size(ranges))
    writer = SparseWriter(dest)
    try:
        for data in iter_ranges(ranges):
            if on_block:
                on_block(data)
            writer.write(data)
            meter.advance(len(data))
    finally:
        writer.close()
    meter.finish()
    return writer.size


def gunzip_chunks(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Decompress a gzip stream given as a sequence of byte blocks, yielding
    blocks of at most :data:`BLOCK_SIZE` bytes.  Several concatenated gzip
    members are all decompressed (RFC 1952 allows it); zero padding after
    the last member is ignored.

    :raises PackageError: not gzip data, corrupt, or truncated.
    """
    decomp: zlib._Decompress | None = None
    members = 0
    for data in chunks:
        buf = data
        while buf:
            if decomp is None:
                if members and not buf.strip(b"\0"):
                    break  # padding after the last member
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while True:
                try:
                    out = decomp.decompress(buf, BLOCK_SIZE)
                except zlib.error as exc:
                    raise PackageError(f"is not valid gzip data ({exc})", name) from None
                if out:
                    yield out
                buf = decomp.unconsumed_tail
                if decomp.eof or (not buf and len(out) < BLOCK_SIZE):
                    break
            if decomp.eof:
                buf = decomp.unused_data
                decomp = None
                members += 1
            else:
                buf = b""
    if decomp is not None or members == 0:
        raise PackageError("gzip data is truncated", name)


def gunzip_ranges(
    ranges: Sequence[ByteRange],
    dest: str,
    limit: int,
    progress: ProgressCallback | None = None,
    subject: str = "",
    on_block: Callable[[bytes], None] | None = None,
) -> int:
    """Decompress the gzip stream held by ``ranges`` into the new file
    ``dest``, sparse, writing at most ``limit`` bytes.

    :param on_block: called with every compressed block read, in order (to
        hash the source in the same pass).

    :returns: bytes written.
    :raises UnsafeInputError: the output would exceed ``limit`` (a
        decompression bomb, or a disk larger than declared).
    :raises PackageError: not gzip data, corrupt, or truncated.
    """
    name = subject or (ranges[0].name if ranges else dest)
    meter = Meter(progress, "decompress", name, total_size(ranges))

    def counted() -> Iterator[bytes]:
        for data in iter_ranges(ranges):
            if on_block:
                on_block(data)
            meter.advance(len(data))
            yield data

    writer = SparseWriter(dest, limit=limit, what=name)
    try:
        for out in gunzip_chunks(counted(), name):
            writer.write(out)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    meter.finish()
    return writer.size
