"""Where a produced file's bytes go: hashed (for the manifest), optionally
gzip-compressed, and written at the current position of a seekable file,
all in one pass.

The digest is always of the bytes stored (after compression), as the
manifest requires.  Runs of zeros given with :meth:`Sink.zeros` are hashed
like any data but, when nothing compresses them, become holes in the file
instead of being written, so raw disks stay sparse even inside an OVA.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from ovfconverter.io.deflate import Compressor, gzip_compressor
from ovfconverter.io.hashing import BackgroundHasher
from ovfconverter.io.sparse import data_extents, zero_split
from ovfconverter.progress import Meter

_ZERO_BLOCK = bytes(1 << 20)


class Sink:
    """A write-only byte stream that hashes what it stores.

    :param stream: a binary file open for writing, positioned where the
        data starts; :meth:`finish` leaves it positioned after the data.
    :param algorithm: the manifest's hashlib name (``sha256``...).
    :param gzip_level: gzip-compress the data at this level (1-9), or
        ``None`` to store it as it is.
    :param meter: progress, counting bytes given (before compression).
    """

    def __init__(
        self, stream: BinaryIO, algorithm: str, gzip_level: int | None = None, meter: Meter | None = None
    ) -> None:
        self.stream = stream
        self.digest = BackgroundHasher(algorithm)
        self.size = 0
        self.given = 0
        self.meter = meter
        self._hole_pending = 0
        self._compressor: Compressor | None = None
        if gzip_level is not None:
            self._compressor = gzip_compressor(gzip_level)

    # A file-like face for writers that only call write() (the VMDK writer).
    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Store ``data``; returns its length."""
        length = len(data)
        if not length:
            return 0
        self.given += length
        if self.meter:
            self.meter.advance(length)
        if self._compressor is not None:
            self._store(self._compressor.compress(data))
        else:
            self._store(data)
        return length

    def zeros(self, count: int) -> None:
        """Store ``count`` zero bytes (a hole when not compressing)."""
        if count <= 0:
            return
        if self._compressor is not None:
            while count:
                step = min(count, len(_ZERO_BLOCK))
                self.write(memoryview(_ZERO_BLOCK)[:step])
                count -= step
            return
        self.given += count
        if self.meter:
            self.meter.advance(count)
        left = count
        while left:
            step = min(left, len(_ZERO_BLOCK))
            self.digest.update(memoryview(_ZERO_BLOCK)[:step])
            left -= step
        self._hole_pending += count
        self.size += count

    def _store(self, data: bytes | bytearray | memoryview) -> None:
        if not len(data):
            return
        if self._hole_pending:
            self.stream.seek(self._hole_pending, io.SEEK_CUR)
            self._hole_pending = 0
        self.digest.update(data)
        self.stream.write(data)
        self.size += len(data)

    @property
    def compressing(self) -> bool:
        """True when the data is gzip-compressed on its way to the stream."""
        return self._compressor is not None

    def written_in_place(self, size: int, path: str, block_size: int = 4 << 20) -> None:
        """Take ``size`` bytes that another writer (qemu-img) has already
        put in the file at the stream's current position: hash them, read
        back from the page cache through ``path`` (that file's name: the
        stream itself is write-only), and move the stream past them.

        :raises ValueError: the sink compresses (nothing may bypass it).
        :raises OSError: the file ends before ``size`` bytes.
        """
        if self._compressor is not None:
            raise ValueError("a compressing sink cannot take bytes written in place")
        self.stream.flush()
        if self._hole_pending:
            self.stream.seek(self._hole_pending, io.SEEK_CUR)
            self._hole_pending = 0
        position = self.stream.tell()
        left = size
        with open(path, "rb", buffering=0) as source:
            while left:
                block = os.pread(source.fileno(), min(block_size, left), position)
                if not block:
                    raise OSError(f"{path} ends {left} bytes before the image written in place")
                self.digest.update(block)
                position += len(block)
                left -= len(block)
                self.size += len(block)
                self.given += len(block)
                if self.meter:
                    self.meter.advance(len(block))
        self.stream.seek(position)

    def finish(self) -> tuple[int, str]:
        """Flush the compressor and any trailing hole.

        :returns: (bytes stored, hex digest of them).
        """
        if self._compressor is not None:
            self._store(self._compressor.flush())
            self._compressor = None
        if self._hole_pending:
            # A trailing hole: move past it and make sure the file is long enough.
            end = self.stream.seek(self._hole_pending, io.SEEK_CUR)
            self._hole_pending = 0
            self.stream.truncate(max(end, os.fstat(self.stream.fileno()).st_size))
            self.stream.seek(end)
        if self.meter:
            self.meter.finish()
        return self.size, self.digest.hexdigest()

    def close(self) -> None:
        """Stop hashing after a failure (no digest)."""
        self.digest.close()


def copy_to_sink(path: str, offset: int, size: int, sink: Sink, block_size: int = 4 << 20) -> None:
    """Give ``size`` bytes at ``offset`` of ``path`` to ``sink``: holes and
    all-zero blocks as :meth:`Sink.zeros`, the rest as data."""
    position = 0
    with open(path, "rb") as stream:
        for start, end in data_extents(stream.fileno(), offset, size):
            sink.zeros(start - position)
            stream.seek(offset + start)
            left = end - start
            while left:
                block = stream.read(min(block_size, left))
                if not block:
                    raise OSError(f"{path} ended early")
                for zero, piece in zero_split(block):
                    if zero:
                        sink.zeros(len(piece))
                    else:
                        sink.write(piece)
                left -= len(block)
            position = end
    sink.zeros(size - position)
