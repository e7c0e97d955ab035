"""Structures of the streamOptimized VMDK format (VMware "Virtual Disk
Format 5.0"): the sparse extent header, markers, the embedded descriptor, and
the checks the reader applies to them.

Units: the format counts in *sectors* of :data:`SECTOR` (512) bytes; every
name below says whether it holds sectors or bytes.  Everything on disk is
little-endian.

Layout of a stream as :mod:`ovfconverter.vmdk.writer` writes it::

    header (1 sector, gdOffset = GD_AT_END) | descriptor | zeros up to overHead
    for each group of 512 grains holding data:
        grain marker + zlib data, padded to a sector (one per non-zero grain)
        grain table marker | grain table (512 u32 sector offsets, 4 sectors)
    grain directory marker | grain directory (one u32 per group)
    footer marker | footer (the header with the real gdOffset) | end-of-stream
"""

from __future__ import annotations

import re
import struct
from dataclasses import astuple, dataclass, replace

from ovfconverter.errors import DiskImageError, UnsafeInputError

SECTOR = 512
"""Bytes per sector."""
MAGIC = 0x564D444B
"""``"KDMV"`` read as a little-endian u32."""
VERSION = 3
"""Header version written (readers accept 1-3)."""
FLAG_NEWLINE_TEST = 1 << 0
FLAG_REDUNDANT_GD = 1 << 1
FLAG_ZEROED_GTE = 1 << 2
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
STREAM_FLAGS = FLAG_NEWLINE_TEST | FLAG_COMPRESSED | FLAG_MARKERS
"""Flags written: valid newline test, compressed grains, markers."""
KNOWN_FLAGS = STREAM_FLAGS | FLAG_REDUNDANT_GD | FLAG_ZEROED_GTE
GRAIN_SECTORS = 128
"""Grain size written, in sectors (64 KiB)."""
GTES_PER_GT = 512
"""Entries per grain table (each grain table covers 512 grains)."""
GT_SECTORS = GTES_PER_GT * 4 // SECTOR
"""Sectors of one grain table (4)."""
GD_AT_END = 0xFFFFFFFFFFFFFFFF
"""gdOffset of a stream's leading header: the directory is in the footer."""
COMPRESS_DEFLATE = 1
NEWLINE_CHARS = b"\n \r\n"
MAX_CAPACITY_SECTORS = 1 << 40
"""Largest capacity accepted, in sectors (512 TiB)."""
MAX_DESCRIPTOR_SECTORS = 128
"""Largest embedded descriptor read, in sectors (64 KiB)."""
MAX_SECTOR_OFFSET = 0xFFFFFFFF
"""Grain tables hold u32 sector offsets: a stream cannot exceed 2 TiB."""
COMPRESSED_SLACK = 1024
"""Bytes a compressed grain may exceed its grain size by (deflate of
incompressible data adds a few bytes per 64 KiB)."""

MARKER_EOS = 0
MARKER_GT = 1
MARKER_GD = 2
MARKER_FOOTER = 3
MARKER_NAMES = dict(enumerate(["end-of-stream", "grain table", "grain directory", "footer"]))

_HEADER = struct.Struct("<IIIQQQQIQQQB4sH")
_MARKER = struct.Struct("<QII")
_GRAIN_MARKER = struct.Struct("<QI")
GRAIN_MARKER_SIZE = _GRAIN_MARKER.size
"""Bytes of a grain marker before its compressed data (u64 lba, u32 size)."""


@dataclass(frozen=True)
class SparseHeader:
    """A sparse extent header (the first sector, or the footer); the fields
    are in their on-disk order.

    :ivar capacity: virtual size, in sectors.
    :ivar grain_size: sectors per grain.
    :ivar descriptor_offset: sector of the embedded descriptor.
    :ivar descriptor_size: sectors of the embedded descriptor.
    :ivar num_gtes_per_gt: entries per grain table.
    :ivar rgd_offset: sector of the redundant grain directory (0: none).
    :ivar gd_offset: sector of the grain directory, or :data:`GD_AT_END`.
    :ivar overhead: sectors before the first grain (overHead).
    """

    magic: int = MAGIC
    version: int = VERSION
    flags: int = STREAM_FLAGS
    capacity: int = 0
    grain_size: int = GRAIN_SECTORS
    descriptor_offset: int = 1
    descriptor_size: int = 20
    num_gtes_per_gt: int = GTES_PER_GT
    rgd_offset: int = 0
    gd_offset: int = GD_AT_END
    overhead: int = GRAIN_SECTORS
    unclean_shutdown: int = 0
    newline_chars: bytes = NEWLINE_CHARS
    compress_algorithm: int = COMPRESS_DEFLATE

    def pack(self) -> bytes:
        """The header as one 512-byte sector."""
        return _HEADER.pack(*astuple(self)).ljust(SECTOR, b"\0")

    @classmethod
    def unpack(cls, data: bytes) -> SparseHeader:
        """Parse the first :data:`SECTOR` bytes of ``data`` without checking
        them (see :meth:`validate`).

        :raises DiskImageError: ``data`` is shorter than a header.
        """
        if len(data) < _HEADER.size:
            raise DiskImageError("is too short to hold a VMDK sparse extent header (truncated)")
        return cls(*_HEADER.unpack_from(data))

    def with_gd(self, gd_offset: int) -> SparseHeader:
        """A copy with ``gd_offset`` (in sectors) set: the footer."""
        return replace(self, gd_offset=gd_offset)

    @property
    def grain_bytes(self) -> int:
        """Bytes per grain."""
        return self.grain_size * SECTOR

    @property
    def grain_count(self) -> int:
        """Grains covering the capacity (the last may be partial)."""
        return -(-self.capacity // self.grain_size)

    @property
    def gt_count(self) -> int:
        """Grain tables covering the capacity = entries of the grain
        directory."""
        return -(-self.grain_count // self.num_gtes_per_gt)

    @property
    def gd_sectors(self) -> int:
        """Sectors the grain directory occupies."""
        return -(-self.gt_count * 4 // SECTOR)

    @property
    def absent_entry(self) -> int:
        """Largest grain table entry meaning "no grain": 1 with the
        zeroed-grain flag (1 = a grain of zeros), else 0."""
        return 1 if self.flags & FLAG_ZEROED_GTE else 0

    def validate(self, name: str, where: str = "header") -> None:
        """Check that this header describes a streamOptimized extent that
        the reader handles.

        :param where: ``"header"`` or ``"footer"``, for messages.
        :raises DiskImageError: not a VMDK sparse extent, or an unsupported
            variant (version, flags, compression, grain table size).
        :raises UnsafeInputError: sizes beyond the limits.
        """
        if self.magic != MAGIC:
            raise DiskImageError(f"{where} does not start with the VMDK magic KDMV; not a sparse VMDK extent", name)
        if not 1 <= self.version <= 3:
            raise DiskImageError(f"{where} has unsupported VMDK version {self.version} (1-3 are known)", name)
        if self.flags & ~KNOWN_FLAGS:
            raise DiskImageError(f"{where} has unknown flags 0x{self.flags:08x}; refusing", name)
        if self.flags & (FLAG_COMPRESSED | FLAG_MARKERS) != FLAG_COMPRESSED | FLAG_MARKERS:
            raise DiskImageError(
                f"{where} flags 0x{self.flags:08x} lack compressed grains with markers: not a streamOptimized extent",
                name,
            )
        if self.flags & FLAG_NEWLINE_TEST and self.newline_chars != NEWLINE_CHARS:
            raise DiskImageError(
                f"{where} newline check characters are altered (the file was transferred in text mode)", name
            )
        if self.compress_algorithm != COMPRESS_DEFLATE:
            raise DiskImageError(
                f"{where} has compression algorithm {self.compress_algorithm}, only 1 (deflate) is known", name
            )
        if self.num_gtes_per_gt != GTES_PER_GT:
            raise DiskImageError(
                f"{where} has {self.num_gtes_per_gt} entries per grain table, only {GTES_PER_GT} is supported", name
            )
        gs = self.grain_size
        if not 8 <= gs <= 2048 or gs & (gs - 1):
            raise DiskImageError(f"{where} grain size {gs} sectors is not a power of two in 8-2048", name)
        if self.capacity == 0:
            raise DiskImageError(f"{where} capacity is 0 sectors: an empty disk", name)
        if self.capacity > MAX_CAPACITY_SECTORS:
            raise UnsafeInputError(
                f"{where} capacity of {self.capacity} sectors exceeds {MAX_CAPACITY_SECTORS}; refusing", name
            )
        if self.descriptor_offset < 1 or not 1 <= self.descriptor_size <= MAX_DESCRIPTOR_SECTORS:
            raise UnsafeInputError(
                f"{where} places the descriptor at sector {self.descriptor_offset} "
                f"({self.descriptor_size} sectors): needs 1-{MAX_DESCRIPTOR_SECTORS} "
                "sectors after the header; refusing",
                name,
            )
        if self.overhead < self.descriptor_offset + self.descriptor_size:
            raise UnsafeInputError(
                f"{where} overhead of {self.overhead} sectors does not cover the descriptor; refusing", name
            )


def pack_grain_marker(lba: int, size: int) -> bytes:
    """A grain marker: ``lba`` (sector of the virtual disk where the grain
    starts) and ``size`` (bytes of compressed data that follow)."""
    return _GRAIN_MARKER.pack(lba, size)


def pack_metadata_marker(num_sectors: int, marker_type: int) -> bytes:
    """A metadata marker sector: ``num_sectors`` sectors of metadata of
    ``marker_type`` (:data:`MARKER_GT`...) follow."""
    return _MARKER.pack(num_sectors, 0, marker_type).ljust(SECTOR, b"\0")


def unpack_marker(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Parse a marker at ``offset`` of ``data`` (16 bytes needed).

    :returns: ``(value, size, type)``: for a grain marker (size != 0) value
        is the lba in sectors and type is meaningless; for metadata markers
        (size == 0) value is the number of sectors that follow.
    """
    value, size, kind = _MARKER.unpack_from(data, offset)
    return value, size, kind


def parse_footer(tail: bytes, header: SparseHeader, name: str) -> SparseHeader:
    """Parse and check the last 1536 bytes of a stream (footer marker,
    footer, end-of-stream marker) against the leading ``header``.

    :returns: the footer, whose gdOffset is authoritative.
    :raises DiskImageError: markers missing (truncated file), a bad footer,
        or one that disagrees with ``header``.
    :raises UnsafeInputError: see :meth:`SparseHeader.validate`.
    """
    if len(tail) < 3 * SECTOR or unpack_marker(tail) != (1, 0, MARKER_FOOTER):
        raise DiskImageError("has no footer marker 1536 bytes before its end (truncated?)", name)
    if unpack_marker(tail, 2 * SECTOR) != (0, 0, MARKER_EOS):
        raise DiskImageError("does not end with an end-of-stream marker (truncated?)", name)
    footer = SparseHeader.unpack(tail[SECTOR : 2 * SECTOR])
    footer.validate(name, "footer")
    for field in (
        "capacity",
        "grain_size",
        "descriptor_offset",
        "descriptor_size",
        "overhead",
        "num_gtes_per_gt",
        "compress_algorithm",
    ):
        if getattr(footer, field) != getattr(header, field):
            raise DiskImageError(f"footer and header disagree on {field}", name)
    return footer


def check_metadata_place(
    header: SparseHeader, start: int, sectors: int, data_end: int, file_size: int, what: str, name: str
) -> bool:
    """Check that metadata of ``sectors`` sectors at sector ``start`` lies
    in the file (``file_size`` bytes) before ``data_end`` (bytes, where the
    footer starts), clear of the header and descriptor, and wholly before
    or after overHead.

    :param what: ``"grain table 3"``..., for messages.
    :returns: whether it lies after overHead (among the markers).
    :raises UnsafeInputError: otherwise.
    """
    end = start + sectors
    if end * SECTOR > file_size:
        raise UnsafeInputError(f"{what} at sector {start} lies past the end of the file; refusing", name)
    if start < 1 or end * SECTOR > data_end:
        raise UnsafeInputError(f"{what} at sector {start} overlaps the header or footer; refusing", name)
    if start < header.descriptor_offset + header.descriptor_size and header.descriptor_offset < end:
        raise UnsafeInputError(f"{what} at sector {start} overlaps the descriptor; refusing", name)
    if start < header.overhead < end:
        raise UnsafeInputError(f"{what} at sector {start} straddles overHead; refusing", name)
    return start >= header.overhead


def check_grain_table(
    table: tuple[int, ...], group: int, header: SparseHeader, data_end: int, file_size: int, name: str
) -> int:
    """Check the entries (sector offsets of grain markers) of grain table
    ``group``: each must lie at or after overHead with room for a marker
    before ``data_end`` (bytes), and none may map a grain past the capacity.

    :param file_size: bytes of the whole file, for messages.
    :returns: how many entries point at grains.
    :raises UnsafeInputError: an entry breaks these rules.
    """
    absent = header.absent_entry
    used = [entry for entry in table if entry > absent]
    if not used:
        return 0
    grains_here = header.grain_count - group * GTES_PER_GT
    if grains_here < GTES_PER_GT and any(entry > absent for entry in table[grains_here:]):
        raise UnsafeInputError(f"grain table {group} maps grains beyond the capacity; refusing", name)
    if min(used) < header.overhead or max(used) * SECTOR + GRAIN_MARKER_SIZE > data_end:
        bad = next(
            i
            for i, e in enumerate(table)
            if e > absent and (e < header.overhead or e * SECTOR + GRAIN_MARKER_SIZE > data_end)
        )
        where = (
            "past the end of the file"
            if table[bad] * SECTOR >= file_size
            else ("into the metadata before overHead" if table[bad] < header.overhead else "past the grain data")
        )
        raise UnsafeInputError(f"grain table entry {bad} of grain table {group} points {where}; refusing", name)
    return len(used)


def geometry(capacity: int) -> tuple[int, int, int]:
    """BIOS geometry ``(cylinders, heads, sectors)`` for ``capacity``
    sectors: 255 heads, 63 sectors, at most 65535 cylinders."""
    return min(capacity // (255 * 63), 65535), 255, 63


def make_descriptor(capacity: int, file_name: str, cid: int, adapter: str = "lsilogic") -> bytes:
    """The embedded descriptor text of a streamOptimized extent of
    ``capacity`` sectors, unpadded.

    :param file_name: the extent's file name, written in the extent line.
    :param cid: content id, 32 bits.
    """
    cylinders, heads, sectors = geometry(capacity)
    text = (
        "# Disk DescriptorFile\n"
        "version=1\n"
        f"CID={cid & 0xFFFFFFFF:08x}\n"
        "parentCID=ffffffff\n"
        'createType="streamOptimized"\n'
        "\n"
        "# Extent description\n"
        f'RW {capacity} SPARSE "{file_name}"\n'
        "\n"
        "# The Disk Data Base\n"
        "#DDB\n"
        "\n"
        'ddb.virtualHWVersion = "4"\n'
        f'ddb.adapterType = "{adapter}"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        f'ddb.geometry.heads = "{heads}"\n'
        f'ddb.geometry.sectors = "{sectors}"\n'
    )
    return text.encode("utf-8")


_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d{1,20})\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d{1,20}))?)?\s*$')
_KEY = re.compile(r'^([A-Za-z][\w.]*)\s*=\s*"?([^"]*)"?\s*$')


@dataclass(frozen=True)
class Descriptor:
    """What the reader takes from an embedded descriptor.

    :ivar create_type: the ``createType`` value.
    :ivar extent_sectors: the size of its single extent, in sectors.
    """

    create_type: str
    extent_sectors: int


def parse_descriptor(data: bytes, name: str) -> Descriptor:
    """Parse and check an embedded descriptor (``data`` may carry NUL
    padding): it must say ``createType="streamOptimized"``, have no parent,
    and name exactly one ``SPARSE`` extent.

    :raises DiskImageError: not text, another create type, or not one
        sparse extent.
    :raises UnsafeInputError: it refers to a parent disk.
    """
    try:
        text = data.split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise DiskImageError("embedded descriptor is not UTF-8 text", name) from None
    keys: dict[str, str] = {}
    extents: list[tuple[str, int]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        extent = _EXTENT.match(line)
        if extent:
            extents.append((extent.group(3), int(extent.group(2))))
            continue
        key = _KEY.match(line)
        if key:
            keys[key.group(1)] = key.group(2)
    create_type = keys.get("createType", "")
    if create_type != "streamOptimized":
        raise DiskImageError(f'embedded descriptor has createType="{create_type}", expected "streamOptimized"', name)
    parent = keys.get("parentCID", "ffffffff").lower()
    if parent != "ffffffff" or "parentFileNameHint" in keys:
        raise UnsafeInputError("embedded descriptor refers to a parent disk; refusing", name)
    if len(extents) != 1 or extents[0][0] != "SPARSE":
        kinds = ", ".join(kind for kind, _ in extents) or "none"
        raise DiskImageError(f"embedded descriptor must list exactly one SPARSE extent (found: {kinds})", name)
    return Descriptor(create_type, extents[0][1])
