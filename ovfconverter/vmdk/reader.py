"""Converting a streamOptimized VMDK (a plain file or an OVA member read in
place) into a new sparse raw file, validating everything on the way.

Read are streams as VMware's spec and :mod:`~ovfconverter.vmdk.writer`
write them (gdOffset = GD_AT_END; grains, grain tables and directory behind
markers; footer and end-of-stream marker), and ``qemu-img``'s (real
gdOffset; directory and tables before overHead without markers; grains).

As qemu does, the grain directory and tables (of the footer if any) say
where each grain is.  Also, from overHead to the footer the file must be an
unbroken chain of markers, each grain marker must sit where the grain table
entry of its lba points, every entry must be met in the chain, and grain
tables must come in the directory's order.  Anything else is refused.

The member is read once, in order, in blocks of :data:`READ_BLOCK` bytes
that all go to ``on_data`` (to check a digest in the same pass); header,
footer and tables are read ahead with small ``pread`` calls.  Grains are
inflated and written with ``os.pwrite`` (all-zero grains are skipped: the
output stays sparse) on a thread pool, at most ``2 * threads + 2`` batches
of about :data:`BATCH_BYTES` in flight.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ovfconverter.errors import DiskImageError, OutputExistsError, UnsafeInputError
from ovfconverter.io import deflate
from ovfconverter.io.ranges import ByteRange
from ovfconverter.progress import Meter, ProgressCallback
from ovfconverter.vmdk.format import (
    COMPRESSED_SLACK,
    GD_AT_END,
    GRAIN_MARKER_SIZE,
    GT_SECTORS,
    GTES_PER_GT,
    MARKER_EOS,
    MARKER_FOOTER,
    MARKER_GD,
    MARKER_GT,
    MARKER_NAMES,
    SECTOR,
    SparseHeader,
    check_grain_table,
    check_metadata_place,
    parse_descriptor,
    parse_footer,
)

READ_BLOCK = 8 << 20
"""Bytes read from the member at a time."""
BATCH_BYTES = 4 << 20
"""Compressed bytes handed to a worker at a time (about)."""
GT_CACHE = 256
"""Grain tables kept in memory for lookups (2 KiB each)."""

_Grain = tuple[int, bytes, int, int]
"""``(byte offset in the raw output, zlib data, expected bytes, byte offset
of the marker in the VMDK)``."""


def _pread(fd: int, source: ByteRange, offset: int, count: int, name: str) -> bytes:
    """``count`` bytes at ``offset`` of the member ``source``.

    :raises DiskImageError: they lie past its end or cannot be read.
    """
    if offset < 0 or offset + count > source.size:
        raise DiskImageError(f"needs bytes {offset}-{offset + count} but is only {source.size} bytes (truncated)", name)
    try:
        data = os.pread(fd, count, source.offset + offset)
    except OSError as exc:
        raise DiskImageError(f"read error at byte {offset} ({exc.strerror})", name) from None
    if len(data) != count:
        raise DiskImageError(
            f"ends at byte {offset + len(data)}, before its size of {source.size} bytes (truncated)", name
        )
    return data


class _Layout:
    """Header, footer, grain directory and grain table checks, done with
    small ``pread`` calls before the sequential pass.

    :ivar header: the authoritative header (the footer when there is one).
    :ivar data_end: byte offset where the marker chain ends (the footer
        marker, or the end of the member).
    :ivar gd: the grain directory (sector offsets of grain tables).
    :ivar data_gts: sector offsets of the grain tables at or after
        ``overHead``, ascending: each must be met behind a marker.
    :ivar grains: number of grain table entries pointing at grains.
    """

    def __init__(self, fd: int, source: ByteRange, name: str) -> None:
        self.fd, self.source, self.name = fd, source, name
        size = source.size
        lead = SparseHeader.unpack(self.pread(0, SECTOR))
        lead.validate(name)
        header = lead
        self.data_end = size
        if lead.gd_offset == GD_AT_END:
            if size % SECTOR or size < 3 * SECTOR:
                raise DiskImageError(f"size of {size} bytes is not a whole number of sectors (truncated)", name)
            header = parse_footer(self.pread(size - 3 * SECTOR, 3 * SECTOR), lead, name)
            self.data_end = size - 3 * SECTOR
        if header.gd_offset in (0, GD_AT_END):
            raise DiskImageError("has no grain directory (gdOffset is 0 or GD_AT_END in the footer)", name)
        self.header = header
        if header.overhead * SECTOR > self.data_end:
            raise DiskImageError(
                f"overHead of {header.overhead} sectors lies past the end of the file (truncated)", name
            )
        desc = self.pread(header.descriptor_offset * SECTOR, header.descriptor_size * SECTOR)
        if parse_descriptor(desc, name).extent_sectors != header.capacity:
            raise DiskImageError("descriptor extent size differs from the header's capacity", name)
        self._load_gd()
        self._check_gts()

    def pread(self, offset: int, count: int) -> bytes:
        """``count`` bytes at ``offset`` of the member (see :func:`_pread`)."""
        return _pread(self.fd, self.source, offset, count, self.name)

    def _place(self, start: int, sectors: int, what: str) -> bool:
        return check_metadata_place(self.header, start, sectors, self.data_end, self.source.size, what, self.name)

    def _load_gd(self) -> None:
        h = self.header
        self.gd_in_chain = self._place(h.gd_offset, h.gd_sectors, "grain directory")
        raw = self.pread(h.gd_offset * SECTOR, h.gt_count * 4)
        self.gd = array("I", raw)
        if array("I", b"\1\0\0\0")[0] != 1:  # pragma: no cover - big-endian hosts
            self.gd.byteswap()

    def _check_gts(self) -> None:
        h = self.header
        gd_start, gd_end = h.gd_offset, h.gd_offset + h.gd_sectors
        self.data_gts = array("I")
        self.grains = 0
        self.cache: OrderedDict[int, tuple[int, ...]] = OrderedDict()
        previous_end = 0
        for group, start in enumerate(self.gd):
            if not start:
                continue
            what = f"grain table {group}"
            if start < previous_end:
                raise UnsafeInputError(
                    f"grain directory entry {group} (sector {start}) is not after the previous grain table; refusing",
                    self.name,
                )
            previous_end = start + GT_SECTORS
            if self._place(start, GT_SECTORS, what):
                self.data_gts.append(start)
            if start < gd_end and gd_start < previous_end:
                raise UnsafeInputError(f"{what} at sector {start} overlaps the grain directory; refusing", self.name)
            self.grains += check_grain_table(self.table(group), group, h, self.data_end, self.source.size, self.name)

    def table(self, group: int) -> tuple[int, ...]:
        """Entries of grain table ``group`` (sector offsets of grain
        markers), from a small cache."""
        table = self.cache.get(group)
        if table is None:
            table = struct.unpack(f"<{GTES_PER_GT}I", self.pread(self.gd[group] * SECTOR, GT_SECTORS * SECTOR))
            self.cache[group] = table
            if len(self.cache) > GT_CACHE:
                self.cache.popitem(last=False)
        return table

    def unmatched_entry(self) -> str:
        """Describe a grain table entry that points to no grain marker of
        the right lba (for the error message after the chain pass)."""
        h = self.header
        for group, start in enumerate(self.gd):
            if not start:
                continue
            for index, entry in enumerate(self.table(group)):
                if entry > h.absent_entry:
                    lba, size = struct.unpack("<QI", self.pread(entry * SECTOR, GRAIN_MARKER_SIZE))
                    if size == 0 or lba != (group * GTES_PER_GT + index) * h.grain_size:
                        return f"grain table entry {index} of grain table {group} points to sector {entry}"
        return "a grain table entry points inside other data"


class _Sequential:
    """Reads the member once, in order, handing every block to
    ``on_data``; :meth:`take` and :meth:`skip` consume bytes."""

    def __init__(
        self, fd: int, source: ByteRange, name: str, on_data: Callable[[bytes], None] | None, meter: Meter
    ) -> None:
        self.fd, self.source, self.name, self.on_data, self.meter = fd, source, name, on_data, meter
        self.buf = b""
        self.at = 0
        self.fetched = 0

    def _fill(self) -> None:
        block = _pread(self.fd, self.source, self.fetched, min(READ_BLOCK, self.source.size - self.fetched), self.name)
        if not block:
            raise DiskImageError(f"ends at byte {self.fetched} (truncated)", self.name)
        if self.on_data:
            self.on_data(block)
        self.fetched += len(block)
        self.meter.update_to(self.fetched)
        self.buf, self.at = block, 0

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes."""
        if self.at + count <= len(self.buf):
            self.at += count
            return self.buf[self.at - count : self.at]
        parts = [self.buf[self.at :]]
        need = count - len(parts[0])
        while need:
            self._fill()
            parts.append(self.buf[:need])
            self.at = len(parts[-1])
            need -= self.at
        return b"".join(parts)

    def skip(self, count: int, zeros: bool = False) -> bool:
        """Pass over the next ``count`` bytes (still read and hashed); return
        whether they are all zero when ``zeros`` is set, else True."""
        clean = True
        while count:
            if self.at == len(self.buf):
                self._fill()
            piece = min(count, len(self.buf) - self.at)
            if zeros:
                clean = clean and not self.buf[self.at : self.at + piece].strip(b"\0")
            self.at += piece
            count -= piece
        return clean

    def drain(self) -> None:
        """Read (and hash) the rest of the member."""
        while self.fetched < self.source.size:
            self._fill()


def _inflate_batch(batch: list[_Grain], out_fd: int, grain_bytes: int, name: str) -> None:
    """Inflate the grains of ``batch`` and write the non-zero ones (runs on a
    worker thread)."""
    zero = bytes(grain_bytes)
    for offset, data, expected, marker_at in batch:
        where = f"grain at sector {marker_at // SECTOR}"
        raw = deflate.inflate(data, grain_bytes, name, where)
        if len(raw) != expected and len(raw) != grain_bytes:
            raise DiskImageError(f"{where} inflates to {len(raw)} bytes instead of {expected}", name)
        if len(raw) > expected:
            raw = raw[:expected]
        if raw == zero[:expected]:
            continue
        view = memoryview(raw)
        while view:
            try:
                written = os.pwrite(out_fd, view, offset)
            except OSError as exc:
                raise DiskImageError(f"cannot write the raw image ({exc.strerror})", name) from None
            view, offset = view[written:], offset + written


class _Chain:
    """The walk along the markers of the stream, from overHead to
    ``layout.data_end``: each grain checked against the grain tables and
    passed on in batches, each metadata marker against the header.

    :ivar next_gt: how many of ``layout.data_gts`` were met behind a marker.
    :ivar gd_seen: the grain directory was met (or lies before overHead).
    :ivar matched: grains met that a grain table entry points at.
    """

    def __init__(self, layout: _Layout, stream: _Sequential, submit: Callable[[list[_Grain]], None]) -> None:
        self.layout, self.stream, self.submit = layout, stream, submit
        self.next_gt, self.gd_seen, self.matched = 0, not layout.gd_in_chain, 0
        self.batch: list[_Grain] = []
        self.batch_bytes = 0

    def walk(self) -> None:
        """Walk every marker, then check that every table and grain was met.

        :raises DiskImageError, UnsafeInputError: a rule is broken.
        """
        layout, name, end = self.layout, self.layout.name, self.layout.data_end
        pos = layout.header.overhead * SECTOR
        self.stream.skip(pos)
        while pos < end:
            sector = pos // SECTOR
            if end - pos < GRAIN_MARKER_SIZE:
                raise DiskImageError(f"marker at sector {sector} is cut off by the end of the data (truncated)", name)
            value, size = struct.unpack("<QI", self.stream.take(GRAIN_MARKER_SIZE))
            if size:
                pos = self.grain(pos, value, size)
                continue
            after = self.metadata(pos, value)
            if after is None:
                break
            pos = after
        if self.batch:
            self.submit(self.batch)
        if self.next_gt != len(layout.data_gts) or not self.gd_seen:
            raise UnsafeInputError(
                "a grain table or the grain directory is not behind a marker of the stream; refusing", name
            )
        if self.matched != layout.grains:
            raise UnsafeInputError(f"{layout.unmatched_entry()}, where the stream has no grain for it; refusing", name)
        self.stream.drain()

    def grain(self, pos: int, lba: int, size: int) -> int:
        """The grain whose marker is at byte ``pos``: checked, queued.

        :returns: the byte offset of the next marker.
        """
        h, name, end = self.layout.header, self.layout.name, self.layout.data_end
        sector = pos // SECTOR
        if size > h.grain_bytes + COMPRESSED_SLACK:
            raise UnsafeInputError(
                f"grain at sector {sector} claims {size} compressed bytes, more than "
                f"{h.grain_bytes + COMPRESSED_SLACK}; refusing",
                name,
            )
        stop = pos + GRAIN_MARKER_SIZE + size
        if stop > end:
            raise DiskImageError(f"grain at sector {sector} runs past the end of the data (truncated)", name)
        if lba % h.grain_size or lba >= h.capacity:
            raise UnsafeInputError(
                f"grain at sector {sector} has lba {lba}, not a grain start within the capacity; refusing", name
            )
        group, index = divmod(lba // h.grain_size, GTES_PER_GT)
        entry = self.layout.table(group)[index] if self.layout.gd[group] else 0
        if entry != sector:
            raise UnsafeInputError(
                f"grain marker at sector {sector} says lba {lba}, but the grain table "
                f"places that grain at sector {entry}; refusing",
                name,
            )
        self.matched += 1
        data = self.stream.take(size)
        expected = min(h.grain_bytes, h.capacity * SECTOR - lba * SECTOR)
        self.batch.append((lba * SECTOR, data, expected, pos))
        self.batch_bytes += size
        if self.batch_bytes >= BATCH_BYTES:
            self.submit(self.batch)
            self.batch, self.batch_bytes = [], 0
        pad = min(-stop % SECTOR, end - stop)
        self.stream.skip(pad)
        return stop + pad

    def metadata(self, pos: int, sectors: int) -> int | None:
        """The metadata marker at byte ``pos``, followed by ``sectors``
        sectors: checked against the header and skipped.

        :returns: the byte offset of the next marker; ``None`` after the
            end-of-stream marker.
        """
        h, name, end = self.layout.header, self.layout.name, self.layout.data_end
        sector = pos // SECTOR
        kind = struct.unpack("<I", self.stream.take(4))[0]
        label = MARKER_NAMES.get(kind)
        if label is None:
            raise DiskImageError(f"marker at sector {sector} has unknown type {kind}", name)
        if end - pos < SECTOR or sectors > (end - pos) // SECTOR - 1:
            raise DiskImageError(f"{label} marker at sector {sector} runs past the end of the data (truncated)", name)
        if kind == MARKER_EOS:
            # qemu-img may leave zero sectors after the last grain
            if sectors or not self.stream.skip(end - pos - 16, zeros=True):
                raise DiskImageError(f"end-of-stream marker at sector {sector} is followed by data", name)
            return None
        if kind == MARKER_GT:
            if sectors != GT_SECTORS:
                raise UnsafeInputError(f"grain table marker at sector {sector} has {sectors} sectors, not 4", name)
            data_gts = self.layout.data_gts
            if self.next_gt < len(data_gts) and data_gts[self.next_gt] == sector + 1:
                self.next_gt += 1
            # else a table the directory does not name (VMware's tools write one
            # past the last group): it maps nothing and is skipped, as qemu does
        elif kind == MARKER_GD:
            if self.gd_seen or sectors < h.gd_sectors or h.gd_offset != sector + 1:
                raise UnsafeInputError(
                    f"grain directory marker at sector {sector} does not match the header; refusing", name
                )
            self.gd_seen = True
        elif kind == MARKER_FOOTER and sectors != 1:
            raise DiskImageError(f"footer marker at sector {sector} is not followed by one sector", name)
        self.stream.skip(SECTOR - 16 + sectors * SECTOR)
        return pos + (1 + sectors) * SECTOR


def read_stream_optimized(
    source: ByteRange,
    dest: str,
    name: str,
    *,
    threads: int = 2,
    progress: ProgressCallback | None = None,
    on_data: Callable[[bytes], None] | None = None,
    max_size: int | None = None,
) -> int:
    """Convert the streamOptimized VMDK ``source`` into the new sparse raw
    file ``dest`` (capacity bytes long; only non-zero grains are written).

    :param source: the VMDK: a plain file, or ``size`` bytes at ``offset``
        of a larger file (an OVA member).
    :param dest: the raw file to create; it must not exist.  It is removed
        again when conversion fails.
    :param name: the VMDK's name, for messages.
    :param threads: inflating threads (>= 1).
    :param progress: receives ``"convert"`` events counting VMDK bytes read.
    :param on_data: called with every byte of the member, in file order, in
        blocks (to verify a digest in the same pass).  When conversion fails
        it may not have seen every byte.
    :param max_size: the largest virtual size accepted, in bytes (e.g. from
        the OVF's capacity); ``None``: up to 512 TiB.
    :returns: the virtual size in bytes (= the length of ``dest``).
    :raises DiskImageError: not a streamOptimized VMDK, unsupported variant,
        truncated, corrupt, or read/write errors.
    :raises UnsafeInputError: offsets, sizes or references that break the
        rules above.
    :raises OutputExistsError: ``dest`` exists.
    """
    threads = max(1, threads)
    try:
        fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise DiskImageError(f"cannot be opened ({exc.strerror})", source.name) from None
    try:
        layout = _Layout(fd, source, name)
        capacity_bytes = layout.header.capacity * SECTOR
        if max_size is not None and capacity_bytes > max_size:
            raise UnsafeInputError(
                f"virtual size of {capacity_bytes} bytes exceeds the {max_size} bytes allowed; refusing", name
            )
        try:
            out_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            raise OutputExistsError(f"{dest} exists already") from None
        except OSError as exc:
            raise DiskImageError(f"cannot create {dest} ({exc.strerror})") from None
        try:
            os.ftruncate(out_fd, capacity_bytes)
            meter = Meter(progress, "convert", name, source.size)
            stream = _Sequential(fd, source, name, on_data, meter)
            _run(layout, stream, out_fd, threads)
            meter.finish()
        except BaseException:
            os.close(out_fd)
            os.unlink(dest)
            raise
        os.close(out_fd)
    except OSError as exc:
        raise DiskImageError(f"cannot convert to raw ({exc.strerror})", name) from None
    finally:
        os.close(fd)
    return capacity_bytes


def _run(layout: _Layout, stream: _Sequential, out_fd: int, threads: int) -> None:
    """The chain pass with inflating on ``threads`` workers."""
    pending: deque[Future[None]] = deque()
    grain_bytes = layout.header.grain_bytes
    with ThreadPoolExecutor(threads, thread_name_prefix="vmdk-inflate") as pool:

        def submit(batch: list[_Grain]) -> None:
            pending.append(pool.submit(_inflate_batch, batch, out_fd, grain_bytes, layout.name))
            while len(pending) > 2 * threads + 2:
                pending.popleft().result()

        try:
            _Chain(layout, stream, submit).walk()
            while pending:
                pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
