"""To raw: turning a source's disk image into a raw, sparse disk (a Ganeti
disk dump).

Steps for one image: make its bytes readable as one range (decompress gzip,
join chunks, bounded, into the private work folder; plain files and OVA
members are read in place), inspect the header
(:mod:`ovfconverter.disks.inspector`), require the format the descriptor
declares, ask ``qemu-img info`` with that format and check its answer again,
then convert with ``qemu-img convert -f FORMAT -O raw`` (raw images are
copied, sparse, without qemu).

Every step is bounded before it starts: decompression by the declared
capacity, joined chunks likewise, and each conversion claims the most it
can write from the free space of the output file system
(:class:`~ovfconverter.package.space.SpaceBudget`) before writing.  Formats
with allocation tables are checked by ``qemu-img check`` first (qcow2, VDI,
VHDX: shared or stray clusters are refused); for formats that store data
uncompressed, a conversion that writes more than the stored image could
hold is stopped as it happens, and qemu-img's output is capped by
``RLIMIT_FSIZE`` at the virtual size and its run time by
:func:`~ovfconverter.disks.qemu_img.convert_timeout`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ovfconverter.disks import qemu_img
from ovfconverter.disks.inspector import (
    SAFE_VMDK_CREATE_TYPES,
    Inspection,
    inspect_image,
)
from ovfconverter.errors import DiskImageError, UnsafeInputError
from ovfconverter.io.ranges import ByteRange, iter_ranges, range_reader, total_size
from ovfconverter.io.sparse import copy_ranges, data_extents, gunzip_ranges
from ovfconverter.io.writeback import write_behind
from ovfconverter.model.envelope import formats_for_uri, vmdk_subformat_for_uri
from ovfconverter.model.units import format_bytes
from ovfconverter.package.space import SpaceBudget, stored_limit
from ovfconverter.progress import ProgressCallback
from ovfconverter.timing import stage
from ovfconverter.vmdk.reader import read_stream_optimized


@dataclass(frozen=True)
class SourceImage:
    """A disk image as the package holds it.

    :ivar name: its href, for messages.
    :ivar ranges: where its stored bytes are (several for chunks).
    :ivar compression: ``"gzip"`` or ``None``.
    :ivar declared_format: the ``ovf:format`` URI, or ``None``.
    :ivar capacity: ``ovf:capacity`` in bytes, or ``None``.
    """

    name: str
    ranges: tuple[ByteRange, ...]
    compression: str | None = None
    declared_format: str | None = None
    capacity: int | None = None


@dataclass
class ConvertedDisk:
    """A raw disk dump written by :func:`convert_to_raw`.

    :ivar virtual_size: the image's virtual size in bytes (= the dump's
        length).
    :ivar source_format: the format the image was read as.
    """

    path: str
    virtual_size: int
    source_format: str
    subformat: str | None = None
    warnings: list[str] = field(default_factory=list)


def check_capacity(virtual_size: int, capacity: int | None, name: str) -> list[str]:
    """Compare an image's virtual size with ``ovf:capacity``.

    A smaller image, or one larger only by format rounding (sectors,
    clusters, VHD geometry: up to 1/8 + 16 MiB), is accepted with a warning;
    the image wins.  A much larger one is refused: Ganeti would allocate the
    larger disk on import, which a package must not be able to impose by
    understating its capacity.

    :returns: warnings.
    :raises UnsafeInputError: the image is much larger than declared.
    """
    if capacity is None or capacity == virtual_size:
        return []
    if virtual_size > capacity + capacity // 8 + (16 << 20):
        raise UnsafeInputError(
            f"the image's virtual size ({format_bytes(virtual_size)}) is far larger than ovf:capacity "
            f"({format_bytes(capacity)}); refusing",
            name,
        )
    return [
        f"{name}: the image's virtual size ({format_bytes(virtual_size)}, {virtual_size} bytes) "
        f"differs from ovf:capacity ({capacity} bytes); using the image's"
    ]


def materialize(
    source: SourceImage,
    workdir: str,
    progress: ProgressCallback | None = None,
    on_data: Callable[[bytes], None] | None = None,
    space: SpaceBudget | None = None,
) -> tuple[ByteRange, bool]:
    """Return one byte range holding the image's uncompressed bytes.

    Plain single files are returned in place; gzip and chunked files are
    written (sparse, bounded by :func:`stored_limit` and by ``space``) into
    ``workdir``, and ``on_data`` then sees every stored byte as it is read.

    :param space: the budget of ``workdir``'s file system (default: a new
        one).
    :returns: ``(range, temporary)``; ``temporary`` is true when the range
        is a file in ``workdir`` that the caller must remove.
    :raises UnsafeInputError: decompression beyond the limit, or chunks
        larger than the capacity allows.
    :raises FileAccessError: not enough free space.
    :raises PackageError: corrupt gzip data or truncated files.
    """
    if source.compression is None and len(source.ranges) == 1:
        return source.ranges[0], False
    space = space or SpaceBudget(workdir)
    target = os.path.join(workdir, f"source-{uuid.uuid4().hex}.img")
    declared = stored_limit(source.capacity)
    if source.compression == "gzip":
        limit = space.left if declared is None else min(declared, space.left)
        space.claim(limit, "decompressing the image", source.name)
        try:
            size = gunzip_ranges(source.ranges, target, limit, progress, source.name, on_block=on_data)
        finally:
            space.release(limit - (os.path.getsize(target) if os.path.exists(target) else 0))
    else:
        size = total_size(source.ranges)
        if declared is not None and size > declared:
            raise UnsafeInputError(
                f"its chunks hold {size} bytes, more than ovf:capacity ({format_bytes(source.capacity or 0)}) "
                "allows; refusing",
                source.name,
            )
        space.claim(size, "joining the image's chunks", source.name)
        size = copy_ranges(source.ranges, target, progress, source.name, on_block=on_data)
    return ByteRange(target, 0, size, source.name), True


def check_inspection(inspection: Inspection, declared: str | None, name: str) -> list[str]:
    """Refuse an image whose bytes are unsafe, not a disk image, or not the
    format the descriptor declares.

    :returns: warnings (a VMDK subformat other than declared).
    :raises UnsafeInputError: a problem found by the inspector, or the
        bytes are of another format than ``ovf:format`` says.
    :raises DiskImageError: the bytes are a gzip or tar stream.
    """
    if inspection.problems:
        raise UnsafeInputError(f"{'; '.join(inspection.problems)}; refusing", name)
    if inspection.format in ("gzip", "tar"):
        raise DiskImageError(
            f"is a {inspection.format} stream, not a disk image"
            + (' (is ovf:compression="gzip" missing?)' if inspection.format == "gzip" else ""),
            name,
        )
    if inspection.qemu_format is None:
        raise UnsafeInputError(f"{inspection.format} images are not accepted; refusing", name)
    allowed = formats_for_uri(declared)
    if allowed is not None and inspection.format not in allowed:
        raise UnsafeInputError(
            f"ovf:format says {'/'.join(sorted(allowed))} ({declared}) but the bytes are a "
            f"{inspection.format} image; refusing",
            name,
        )
    warnings = []
    expected_sub = vmdk_subformat_for_uri(declared)
    if inspection.format == "vmdk" and expected_sub and inspection.subformat != expected_sub:
        warnings.append(f"{name}: ovf:format says {expected_sub} but the VMDK is {inspection.subformat}")
    return warnings


def check_qemu_info(data: dict[str, Any], inspection: Inspection, name: str) -> int:
    """Check ``qemu-img info``'s answer against what the inspector saw.

    :returns: the virtual size in bytes.
    :raises UnsafeInputError: a backing file, data file, extra extents, a
        createType or format other than expected.
    :raises DiskImageError: no usable virtual size.
    """
    if data.get("format") != inspection.qemu_format:
        raise UnsafeInputError(f"qemu-img reads it as {data.get('format')!r}, not {inspection.qemu_format}", name)
    for key in ("backing-filename", "full-backing-filename", "backing-filename-format"):
        if data.get(key):
            raise UnsafeInputError(f"image has a backing file {data[key]!r}; refusing", name)
    if data.get("encrypted"):
        raise UnsafeInputError("image is encrypted; refusing", name)
    specific = data.get("format-specific") or {}
    details = specific.get("data") or {} if isinstance(specific, dict) else {}
    if isinstance(details, dict):
        if details.get("data-file"):
            raise UnsafeInputError(f"image keeps its data in {details['data-file']!r}; refusing", name)
        if inspection.qemu_format == "vmdk":
            create_type = details.get("create-type")
            if create_type not in SAFE_VMDK_CREATE_TYPES:
                raise UnsafeInputError(f"VMDK createType {create_type!r} is not accepted; refusing", name)
            extents = details.get("extents") or []
            if len(extents) != 1:
                raise UnsafeInputError(f"VMDK has {len(extents)} extents, not 1; refusing", name)
    size = data.get("virtual-size")
    if not isinstance(size, int) or size <= 0:
        raise DiskImageError("image has no usable virtual size", name)
    return size


def capacity_limit(capacity: int | None) -> int | None:
    """The largest virtual size :func:`check_capacity` accepts, in bytes."""
    return None if capacity is None else capacity + capacity // 8 + (16 << 20)


def _hash_alongside(part: ByteRange, on_data: Callable[[bytes], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Feed ``part``'s bytes to ``on_data`` on a thread of its own, while
    qemu-img reads the same bytes (the page cache serves both)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for block in iter_ranges([part]):
                on_data(block)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"hash {part.name}", daemon=True)
    thread.start()
    return thread, errors


UNCOMPRESSED_FORMATS = ("vdi", "vpc", "vhdx")
"""qemu formats that store every data block as it is: converting one can
write no more data than the image file holds."""
_VMDK_COMPRESSED_FLAG = 1 << 16


def most_written(inspection: Inspection, part: ByteRange, virtual_size: int) -> int:
    """The most data converting ``part`` to raw can write, in bytes: its
    virtual size, and for formats that store data uncompressed (VDI, VHD,
    VHDX, a VMDK without compressed grains) no more than the file holds,
    plus 1/16 + 16 MiB for block rounding.  An image whose tables point many
    blocks at the same data writes more: it is stopped."""
    uncompressed = inspection.qemu_format in UNCOMPRESSED_FORMATS
    if inspection.qemu_format == "vmdk" and inspection.subformat == "monolithicSparse":
        flags = int.from_bytes(range_reader(part)(8, 4).ljust(4, b"\0"), "little")
        uncompressed = not flags & _VMDK_COMPRESSED_FLAG
    if not uncompressed:
        return virtual_size
    return min(virtual_size, part.size + part.size // 16 + (16 << 20))


def _bytes_written(pid: int, dest: str) -> int:
    """Bytes qemu-img (``pid``) has written so far: ``wchar`` of its
    ``/proc/PID/io`` (all its threads), else the blocks ``dest`` holds."""
    try:
        with open(f"/proc/{pid}/io", "rb") as stream:
            for line in stream:
                if line.startswith(b"wchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.stat(dest).st_blocks * 512
    except OSError:
        return 0


def _expanded(most: int, stored: int) -> str:
    return (
        f"the conversion wrote more than {format_bytes(most)} from a {format_bytes(stored)} image "
        "whose format stores data uncompressed: its allocation tables point many blocks at the same "
        "data; refusing"
    )


def expansion_watcher(dest: str, most: int, stored: int) -> qemu_img.Watcher:
    """A qemu-img watcher stopping a conversion that writes more than
    ``most`` bytes (see :func:`most_written`)."""

    def watch(pid: int) -> str | None:
        return _expanded(most, stored) if _bytes_written(pid, dest) > most else None

    return watch


def check_tables(spec: str, inspection: Inspection, virtual_size: int, name: str) -> None:
    """``qemu-img check`` the image's allocation tables, for the formats it
    checks them (:data:`~ovfconverter.disks.qemu_img.CHECKED_FORMATS`).

    :raises UnsafeInputError: corruption (clusters shared by several guest
        offsets, or out of place): converting such an image can expand a
        few KiB into its whole virtual size of data.
    :raises QemuImgError: the check failed or ran out of time or memory.
    """
    if inspection.qemu_format not in qemu_img.CHECKED_FORMATS:
        return
    report = qemu_img.check_source(spec, inspection.qemu_format, name, virtual_size)
    corruptions, errors = report.get("corruptions") or 0, report.get("check-errors") or 0
    if corruptions or errors:
        raise UnsafeInputError(
            f"qemu-img check finds {corruptions} corruption(s) and {errors} error(s) in its allocation tables "
            "(clusters shared or out of place: converting it could write its whole virtual size of data); refusing",
            name,
        )


def _allocated(part: ByteRange) -> int:
    """Bytes of ``part`` that may hold data (holes of a sparse file left out)."""
    with open(part.path, "rb") as stream:
        return sum(end - start for start, end in data_extents(stream.fileno(), part.offset, part.size))


def _convert_with_qemu(
    part: ByteRange,
    source: SourceImage,
    inspection: Inspection,
    dest: str,
    space: SpaceBudget,
    progress: ProgressCallback | None,
    pending: Callable[[bytes], None] | None,
) -> tuple[int, list[str]]:
    """The qemu-img path of :func:`convert_to_raw`: info, checks, convert.

    :returns: ``(virtual size, warnings)``.
    """
    assert inspection.qemu_format is not None
    spec = qemu_img.image_spec(qemu_img.sector_aligned(part))
    with stage("qemu-img info and check", source.name):
        data = qemu_img.info(spec, inspection.qemu_format, source.name)
        virtual_size = check_qemu_info(data, inspection, source.name)
        warnings = check_capacity(virtual_size, source.capacity, source.name)
        check_tables(spec, inspection, virtual_size, source.name)
    most = most_written(inspection, part, virtual_size)
    space.claim(most, "converting the image", source.name)
    watcher = expansion_watcher(dest, most, part.size) if most < virtual_size else None
    hashing = _hash_alongside(part, pending) if pending else None
    try:
        qemu_img.convert(
            spec,
            inspection.qemu_format,
            dest,
            "raw",
            source.name,
            total=virtual_size,
            progress=progress,
            max_file_size=virtual_size,
            watcher=watcher,
        )
    finally:
        if hashing:
            hashing[0].join()
    if hashing and hashing[1]:
        raise hashing[1][0]
    if watcher is not None and os.stat(dest).st_blocks * 512 > most:  # faster than the watcher looks
        raise UnsafeInputError(_expanded(most, part.size), source.name)
    return virtual_size, warnings


def convert_to_raw(
    source: SourceImage,
    dest: str,
    workdir: str,
    progress: ProgressCallback | None = None,
    on_data: Callable[[bytes], None] | None = None,
    threads: int = 2,
    space: SpaceBudget | None = None,
    durable: bool = False,
) -> ConvertedDisk:
    """Convert ``source`` into the new raw file ``dest``, sparse.

    streamOptimized VMDKs are read by ovfconverter's own reader
    (:mod:`ovfconverter.vmdk.reader`, grains inflated on ``threads``
    threads); raw images are copied; other formats go through qemu-img,
    after its ``info`` (and, for formats with allocation tables it checks,
    ``check``) is checked.  Each path first claims from ``space`` the most
    it can write.

    :param dest: where the raw dump goes (absolute path, must not exist).
    :param workdir: a private folder on the same file system for temporary
        files (decompressed or joined images).
    :param on_data: called with every stored byte of the source, in order:
        in the same pass as the conversion where ovfconverter reads the
        bytes, on a thread alongside qemu-img otherwise (for the manifest
        digest: hash exactly what is converted).
    :param space: the free space of ``dest``'s file system, shared with
        other conversions of the same run (default: measured here).
    :param durable: ``dest`` is a result its caller will ``fsync``: it is
        ``fdatasync``'d as it grows (:func:`~ovfconverter.io.writeback.write_behind`),
        so that the ``fsync`` finds little left to do.
    :raises UnsafeInputError: the image is unsafe, its format is not the
        declared one, its tables are corrupt, or it writes more than it can
        hold.
    :raises FileAccessError: not enough free space for what it may write.
    :raises DiskImageError: not a disk image, or qemu-img failed.
    :raises PackageError: corrupt compressed data or truncated files.
    """
    space = space or SpaceBudget(os.path.dirname(os.path.abspath(dest)))
    part, temporary = materialize(source, workdir, progress, on_data, space)
    pending = None if temporary else on_data  # bytes not yet shown to on_data
    try:
        with write_behind(dest) if durable else contextlib.nullcontext():
            return _convert_part(source, part, temporary, dest, space, progress, pending, threads)
    finally:
        if temporary:
            try:
                os.unlink(part.path)
            except FileNotFoundError:
                pass


def _convert_part(
    source: SourceImage,
    part: ByteRange,
    temporary: bool,
    dest: str,
    space: SpaceBudget,
    progress: ProgressCallback | None,
    pending: Callable[[bytes], None] | None,
    threads: int,
) -> ConvertedDisk:
    """The body of :func:`convert_to_raw` once the image is one byte range
    (``part``; a scratch file the caller removes when ``temporary``)."""
    inspection = inspect_image(range_reader(part), part.size)
    warnings = check_inspection(inspection, source.declared_format, source.name)
    if inspection.qemu_format == "raw":
        virtual_size = part.size
        warnings += check_capacity(virtual_size, source.capacity, source.name)
        if temporary:
            os.replace(part.path, dest)
        else:
            space.claim(_allocated(part), "copying the image", source.name)
            copy_ranges([part], dest, progress, source.name, on_block=pending)
    elif inspection.format == "vmdk" and inspection.subformat == "streamOptimized":
        limit = capacity_limit(source.capacity)
        claims = [size for size in (inspection.virtual_size, limit) if size is not None]
        space.claim(min(claims) if claims else space.left, "inflating the VMDK's grains", source.name)
        virtual_size = read_stream_optimized(
            part, dest, source.name, threads=threads, progress=progress, on_data=pending, max_size=limit
        )
        warnings += check_capacity(virtual_size, source.capacity, source.name)
    else:
        virtual_size, more = _convert_with_qemu(part, source, inspection, dest, space, progress, pending)
        warnings += more
    written = os.path.getsize(dest)
    if written != virtual_size:
        raise DiskImageError(
            f"conversion wrote {written} bytes where the image's virtual size is {virtual_size}", source.name
        )
    return ConvertedDisk(dest, virtual_size, inspection.format, inspection.subformat, warnings)


def create_blank(dest: str, size: int) -> None:
    """Create the sparse, all-zero raw file ``dest`` of ``size`` bytes."""
    with open(dest, "xb") as stream:
        stream.truncate(size)
