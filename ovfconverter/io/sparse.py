"""Sparse files: finding the data of a file with holes, and writing files
that keep runs of zeros as holes.

Two halves of the same idea, each written once here:

* reading: :func:`data_extents` asks the file system where the data is
  (``SEEK_DATA``/``SEEK_HOLE``), so holes are never read;
* writing: :func:`zero_split` cuts a block into all-zero and other pieces
  (a ``bytes`` comparison: memcmp speed); :class:`SparseWriter` seeks over
  the zero pieces instead of writing them.

:func:`copy_ranges` and :func:`gunzip_ranges` copy or decompress byte
ranges into a new sparse file, bounded.
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable, Iterator, Sequence

from ovfconverter.errors import UnsafeInputError
from ovfconverter.io.deflate import gunzip_chunks
from ovfconverter.io.ranges import ByteRange, iter_ranges, total_size
from ovfconverter.progress import Meter, ProgressCallback

ZERO_PIECE = 1 << 16
"""Bytes of the pieces :func:`zero_split` compares with zeros (64 KiB)."""

_ZEROS = bytes(ZERO_PIECE)


def data_extents(fd: int, offset: int, size: int, align: int = 1) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` byte ranges, relative to ``offset``, of the
    ``size`` bytes at ``offset`` of the open file ``fd`` that may hold data,
    in order, widened to multiples of ``align`` bytes; the holes between
    them read as zeros.  Where the file system cannot tell, the rest is one
    range."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, offset + pos, os.SEEK_DATA) - offset
            end = os.lseek(fd, offset + start, os.SEEK_HOLE) - offset if start < size else size
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after pos
                return
            yield pos, size  # SEEK_DATA unsupported: read everything
            return
        if start >= size:
            return
        start -= start % align
        start = max(start, pos)
        end = min(-(-end // align) * align, size)
        if end <= start:  # pragma: no cover - defensive against odd file systems
            end = min(start + align, size)
        yield start, end
        pos = end


def zero_split(data: bytes | bytearray | memoryview, piece: int = ZERO_PIECE) -> Iterator[tuple[bool, memoryview]]:
    """Cut ``data`` into pieces of ``piece`` bytes (the last may be
    shorter) and say of each whether it is all zeros: ``(zero, view)``."""
    view = memoryview(data)
    zeros = _ZEROS if piece == ZERO_PIECE else bytes(piece)
    for start in range(0, len(view), piece):
        part = view[start : start + piece]
        yield part == zeros[: len(part)], part


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
        for zero, piece in zero_split(data):
            if zero:
                self._file.seek(len(piece), io.SEEK_CUR)
            else:
                self._file.write(piece)
        self.size += len(data)

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
