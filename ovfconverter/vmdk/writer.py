"""Writing a raw disk image as a streamOptimized VMDK, sequentially, in one
pass (the output may be an OVA member being written: it is never seeked).

How it goes fast:

* the source is read in blocks of :data:`READ_BLOCK` bytes; holes of plain
  files are skipped without reading (``SEEK_DATA``/``SEEK_HOLE``), and
  all-zero grains are found by comparing with a zero ``bytes`` object
  (memcmp speed) and are not written;
* non-zero grains are deflated on a thread pool (zlib-ng, ISA-L and zlib
  release the GIL), in jobs of up to :data:`JOB_BYTES` bytes, while the
  main thread reads ahead and writes finished jobs in order;
* memory is bounded: at most ``2 * threads + 2`` jobs are in flight (a few
  tens of MiB whatever the disk size).

Compression level: :data:`~ovfconverter.io.deflate.DEFAULT_LEVEL` (1,
ISA-L); see :mod:`ovfconverter.io.deflate` for the measured trade-offs.
"""

from __future__ import annotations

import os
import random
import stat
import struct
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from ovfconverter.errors import DiskImageError, OptionError
from ovfconverter.io import deflate
from ovfconverter.io.ranges import ByteRange
from ovfconverter.io.sparse import data_extents, zero_split
from ovfconverter.progress import Meter, ProgressCallback
from ovfconverter.vmdk.format import (
    GRAIN_SECTORS,
    GT_SECTORS,
    GTES_PER_GT,
    MARKER_FOOTER,
    MARKER_GD,
    MARKER_GT,
    MAX_SECTOR_OFFSET,
    SECTOR,
    SparseHeader,
    make_descriptor,
    pack_grain_marker,
    pack_metadata_marker,
)


class Writable(Protocol):
    """Where the VMDK goes: anything with ``write`` (a file, an OVA member,
    a hashing :class:`~ovfconverter.io.sink.Sink`)."""

    def write(self, data: bytes, /) -> object: ...


READ_BLOCK = 8 << 20
"""Bytes read from the source at a time (a multiple of every grain size)."""
JOB_BYTES = 4 << 20
"""Most source bytes one compression job handles (64 grains of 64 KiB)."""
MIN_DESCRIPTOR_SECTORS = 20
"""Room reserved for the embedded descriptor, in sectors (as VMware does)."""

_Job = list[tuple[int, bytes]]
"""Grains of one job: ``(grain index, data)``; after compression the data
is the zlib stream."""


def _compress_job(job: _Job, level: int) -> _Job:
    """Deflate each grain of ``job`` (runs on a worker thread)."""
    return [(index, deflate.compress(data, level)) for index, data in job]


class _Output:
    """Appends grains and metadata to the output stream, in order, keeping
    the sector count, the current grain table and the grain directory."""

    def __init__(self, out: Writable, header: SparseHeader, name: str, on_data: Callable[[bytes], None] | None) -> None:
        self.out = out
        self.name = name
        self.on_data = on_data
        self.header = header
        self.sector = 0
        self.gd = [0] * header.gt_count
        self.group = -1
        self.gt = [0] * GTES_PER_GT
        self.gt_used = False

    def write(self, pieces: list[bytes]) -> None:
        """Write sector-aligned ``pieces`` as one block."""
        block = b"".join(pieces)
        try:
            self.out.write(block)
        except OSError as exc:
            raise DiskImageError(f"cannot write the VMDK ({exc.strerror})", self.name) from None
        if self.on_data:
            self.on_data(block)
        self.sector += len(block) // SECTOR

    def _check_offset(self, sector: int) -> None:
        if sector > MAX_SECTOR_OFFSET:
            raise DiskImageError(
                "streamOptimized VMDK would exceed 2 TiB, which grain tables cannot address", self.name
            )

    def _flush_gt(self, pieces: list[bytes], at: int) -> int:
        """Append the current grain table (if it has grains) to
        ``pieces``, which start at sector ``at``; return the next sector."""
        if self.gt_used:
            self.gd[self.group] = at + 1
            pieces.append(pack_metadata_marker(GT_SECTORS, MARKER_GT))
            pieces.append(struct.pack(f"<{GTES_PER_GT}I", *self.gt))
            self.gt = [0] * GTES_PER_GT
            self.gt_used = False
            at += 1 + GT_SECTORS
        return at

    def grains(self, job: _Job) -> None:
        """Write the compressed grains of ``job`` (ascending grain index),
        with the grain tables of the groups they complete."""
        pieces: list[bytes] = []
        at = self.sector
        for index, data in job:
            group, entry = divmod(index, GTES_PER_GT)
            if group != self.group:
                at = self._flush_gt(pieces, at)
                self.group = group
            self._check_offset(at)
            self.gt[entry] = at
            self.gt_used = True
            marker = pack_grain_marker(index * self.header.grain_size, len(data))
            pad = -(len(marker) + len(data)) % SECTOR
            pieces += (marker, data, bytes(pad))
            at += (len(marker) + len(data) + pad) // SECTOR
        if pieces:
            self.write(pieces)

    def finish(self) -> None:
        """Write the last grain table, the grain directory, the footer and
        the end-of-stream marker."""
        pieces: list[bytes] = []
        at = self._flush_gt(pieces, self.sector)
        gd_sector = at + 1
        self._check_offset(gd_sector + self.header.gd_sectors)
        gd = struct.pack(f"<{len(self.gd)}I", *self.gd)
        pieces.append(pack_metadata_marker(self.header.gd_sectors, MARKER_GD))
        pieces.append(gd.ljust(self.header.gd_sectors * SECTOR, b"\0"))
        pieces.append(pack_metadata_marker(1, MARKER_FOOTER))
        pieces.append(self.header.with_gd(gd_sector).pack())
        pieces.append(bytes(SECTOR))  # end-of-stream marker
        self.write(pieces)


def _check_name(name: str) -> None:
    if not name or any(ch == '"' or ord(ch) < 32 or ch == "\x7f" for ch in name):
        raise OptionError(f"VMDK file name {name!r} is empty or holds quotes or control characters")


def write_stream_optimized(
    source: ByteRange,
    out: Writable,
    name: str,
    *,
    level: int = deflate.DEFAULT_LEVEL,
    threads: int = 2,
    progress: ProgressCallback | None = None,
    on_data: Callable[[bytes], None] | None = None,
    cid: int | None = None,
    grain_size: int = GRAIN_SECTORS,
) -> int:
    """Write the raw image ``source`` to ``out`` as a streamOptimized VMDK.

    The virtual size (capacity) is ``source.size`` rounded up to a sector
    (512 bytes); the padding reads as zeros.  ``out`` is only written to,
    sequentially (never seeked, never flushed or closed).

    :param source: the raw image: a plain file, or ``size`` bytes at
        ``offset`` of a larger file.
    :param out: a binary stream open for writing.
    :param name: the VMDK's file name, written in the descriptor's extent
        line and used in messages.
    :param level: zlib-style compression level 0-9 (default
        :data:`~ovfconverter.io.deflate.DEFAULT_LEVEL`; see that module
        for which library compresses at which level).
    :param threads: compression threads (>= 1).
    :param progress: receives ``"convert"`` events counting source bytes.
    :param on_data: called with every block written to ``out``, in order
        (to hash the output in the same pass).
    :param cid: the descriptor's content id (32 bits); random when None.
    :param grain_size: sectors per grain, a power of two in 8-2048 (default
        128: 64 KiB, what VMware and qemu use).
    :returns: bytes written to ``out``.
    :raises OptionError: bad ``level``, ``threads`` or ``name``.
    :raises DiskImageError: the source is empty, unreadable or shorter than
        ``source.size``, or the VMDK would exceed 2 TiB.
    """
    _check_name(name)
    deflate.backend_level(level)
    if threads < 1:
        raise OptionError(f"threads must be at least 1, not {threads}")
    if not 8 <= grain_size <= 2048 or grain_size & (grain_size - 1):
        raise OptionError(f"grain size {grain_size} sectors is not a power of two in 8-2048")
    if source.size <= 0:
        raise DiskImageError("is empty (0 bytes): a VMDK needs a capacity of at least one sector", source.name)
    capacity = -(-source.size // SECTOR)
    desc = make_descriptor(capacity, name, random.getrandbits(32) if cid is None else cid)
    desc_sectors = max(MIN_DESCRIPTOR_SECTORS, -(-len(desc) // SECTOR))
    overhead = -(-(1 + desc_sectors) // grain_size) * grain_size
    header = SparseHeader(capacity=capacity, grain_size=grain_size, descriptor_size=desc_sectors, overhead=overhead)
    try:
        fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise DiskImageError(f"cannot be opened ({exc.strerror})", source.name) from None
    meter = Meter(progress, "convert", name, source.size)
    output = _Output(out, header, name, on_data)
    pending: deque[Future[_Job]] = deque()
    try:
        output.write([header.pack(), desc.ljust((overhead - 1) * SECTOR, b"\0")])
        with ThreadPoolExecutor(threads, thread_name_prefix="vmdk-deflate") as pool:
            try:
                for job in _grain_jobs(fd, source, header.grain_bytes, meter):
                    pending.append(pool.submit(_compress_job, job, level))
                    while len(pending) > 2 * threads + 2:
                        output.grains(pending.popleft().result())
                while pending:
                    output.grains(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
    finally:
        os.close(fd)
    output.finish()
    meter.update_to(source.size)
    meter.finish()
    return output.sector * SECTOR


def _grain_jobs(fd: int, source: ByteRange, grain: int, meter: Meter) -> Iterator[_Job]:
    """Read ``source`` and yield its non-zero grains of ``grain`` bytes in
    jobs of at most :data:`JOB_BYTES`, in order.  The last grain holds what is left of
    the source, zero-padded to a sector.

    :raises DiskImageError: read error or short file.
    """
    try:
        info = os.fstat(fd)
    except OSError as exc:  # pragma: no cover - fstat of an open fd does not fail
        raise DiskImageError(f"cannot be read ({exc.strerror})", source.name) from None
    if stat.S_ISREG(info.st_mode):
        if info.st_size < source.offset + source.size:
            raise DiskImageError(
                f"is {max(0, info.st_size - source.offset)} bytes, less than its size of "
                f"{source.size} bytes (truncated)",
                source.name,
            )
        extents: Iterator[tuple[int, int]] = data_extents(fd, source.offset, source.size, align=grain)
    else:  # block device: no SEEK_DATA
        extents = iter([(0, source.size)])
    zero_block = bytes(READ_BLOCK)
    buf = bytearray(READ_BLOCK)  # reused: fresh 8 MiB buffers cost page faults
    view = memoryview(buf)
    job_grains = max(1, JOB_BYTES // grain)
    job: _Job = []
    for start, end in extents:
        pos = start
        while pos < end:
            want = min(len(buf), end - pos)
            try:
                got = os.preadv(fd, [view[:want]], source.offset + pos)
            except OSError as exc:
                raise DiskImageError(f"read error at byte {pos} ({exc.strerror})", source.name) from None
            if got != want:
                raise DiskImageError(
                    f"ends at byte {pos + got}, before its size of {source.size} bytes (truncated)", source.name
                )
            if want < len(buf):
                buf[want:] = bytes(len(buf) - want)
            if buf != zero_block:
                for number, (zero, piece) in enumerate(zero_split(view[:want], grain)):
                    if not zero:
                        data = bytes(piece)
                        if len(data) % SECTOR:
                            data += bytes(-len(data) % SECTOR)
                        job.append(((pos + number * grain) // grain, data))
                        if len(job) >= job_grains:
                            yield job
                            job = []
            pos += want
            meter.update_to(pos)
    if job:
        yield job
