"""From raw: writing a raw disk image (a Ganeti disk dump) in an output
format, into a :class:`~ovfconverter.io.sink.Sink`, in as few passes as the
format allows:

* streamOptimized VMDK: our own writer (:mod:`ovfconverter.vmdk.writer`),
  compressing grains on a thread pool, straight into the sink: one pass;
* raw: the dump's bytes, holes kept as holes: one pass;
* other formats (qcow2, VDI, VHD, VHDX, monolithicSparse VMDK): qemu-img
  writes a temporary image (its writes are not sequential), which is
  checked, then its bytes go to the sink.

Every image is checked after it is written, by one function,
:func:`check_written`: its header read back by the inspector says the
format, subformat and size asked for, and ``qemu-img check`` finds no error
where qemu-img can check that format.
"""

from __future__ import annotations

import os
import uuid
import zlib

from ovfconverter.disks import qemu_img
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.output_formats import TargetFormat
from ovfconverter.errors import DiskImageError
from ovfconverter.io.ranges import ByteRange, range_reader
from ovfconverter.io.sink import Sink, copy_to_sink
from ovfconverter.io.sparse import copy_ranges
from ovfconverter.progress import Meter, ProgressCallback
from ovfconverter.vmdk.writer import write_stream_optimized

SECTOR = 512


def native(target: TargetFormat) -> bool:
    """True when ovfconverter writes ``target`` itself (raw,
    streamOptimized VMDK), sequentially, in one pass."""
    return target.qemu_format == "raw" or (target.name == "vmdk" and target.subformat == "streamOptimized")


def checked_after_writing(target: TargetFormat) -> bool:
    """True for the formats :func:`produce_image` writes itself that must be
    read back with :func:`check_written` once stored (streamOptimized VMDK);
    images qemu-img writes are checked inside :func:`produce_image`, and a
    raw image has no structure to check."""
    return native(target) and target.qemu_format != "raw"


def largest_image(size: int) -> int:
    """The largest file qemu-img may write for a raw image of ``size``
    bytes, in any output format: the data plus 1/16 + 64 MiB of metadata
    (tables, bitmaps, a VHDX's headers).  Beyond it qemu-img is stopped
    (``RLIMIT_FSIZE``)."""
    return size + size // 16 + (64 << 20)


def space_needed(target: TargetFormat, compress: bool, allocated: int) -> int:
    """Free space an export of a dump holding ``allocated`` bytes of data
    claims before writing ``target``, in bytes: the data for raw; twice the
    largest image qemu-img may write for the formats it writes (its
    temporary image, then the package's copy); nothing for compressed
    output (streamOptimized VMDK, ``--compress``), which is written in one
    pass and is at most about the data's size: a full disk then ends the
    export cleanly."""
    if compress or checked_after_writing(target):
        return 0
    if target.qemu_format == "raw":
        return allocated
    return 2 * largest_image(allocated)


def produce_image(
    dump: ByteRange,
    target: TargetFormat,
    sink: Sink,
    name: str,
    workdir: str,
    *,
    level: int,
    threads: int,
    progress: ProgressCallback | None = None,
) -> int:
    """Write ``dump`` (a raw image) as ``target`` into ``sink``.

    :param name: the image's file name in the package (written into a
        VMDK's descriptor; used in messages).
    :param workdir: where qemu-img's temporary image goes.
    :param level: VMDK grain compression level (see
        :mod:`ovfconverter.io.deflate`).
    :returns: the image's virtual size in bytes.
    :raises QemuImgError: qemu-img failed.
    :raises DiskImageError: the image written is not what was asked for.
    """
    if target.qemu_format == "raw":
        copy_to_sink(dump.path, dump.offset, dump.size, sink)
        return dump.size
    if native(target):
        cid = zlib.crc32(f"{name}:{dump.size}".encode()) or 1
        write_stream_optimized(dump, sink, name, level=level, threads=threads, progress=progress, cid=cid)
        return -(-dump.size // SECTOR) * SECTOR
    temporary = os.path.join(workdir, f"image-{uuid.uuid4().hex}.{target.extension}")
    try:
        size, virtual_size = convert_from_raw(dump, temporary, target, progress)
        meter = Meter(progress, "pack", name, size)
        saved, sink.meter = sink.meter, meter
        copy_to_sink(temporary, 0, size, sink)
        sink.meter = saved
        meter.finish()
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return virtual_size


def convert_from_raw(
    dump: ByteRange, dest: str, target: TargetFormat, progress: ProgressCallback | None = None
) -> tuple[int, int]:
    """Write the raw image ``dump`` as ``target`` into the new file ``dest``
    with qemu-img (or a sparse copy for raw), and check the result
    (:func:`check_written`).

    :returns: ``(file size, virtual size)`` of ``dest`` in bytes; formats
        that count in sectors round the virtual size up to 512 bytes.
    :raises QemuImgError: qemu-img failed.
    :raises DiskImageError: the written image is not what was asked for, or
        ``qemu-img check`` found errors.
    """
    if target.qemu_format == "raw":
        copy_ranges([dump], dest, progress, dump.name)
    else:
        qemu_img.convert(
            qemu_img.image_spec(dump),
            "raw",
            dest,
            target.qemu_format,
            dump.name,
            options=target.options,
            total=dump.size,
            progress=progress,
            max_file_size=largest_image(dump.size),
        )
    size = os.path.getsize(dest)
    written = ByteRange(os.path.abspath(dest), 0, size, os.path.basename(dest))
    check_written(written, target)
    if target.qemu_format == "raw":
        return size, size
    data = qemu_img.info(qemu_img.image_spec(written), target.qemu_format, written.name)
    virtual_size = data.get("virtual-size")
    if not isinstance(virtual_size, int) or virtual_size < dump.size:
        raise DiskImageError(f"the {target.name} image written has virtual size {virtual_size!r}", written.name)
    return size, virtual_size


def check_written(image: ByteRange, target: TargetFormat, virtual_size: int | None = None) -> None:
    """Check an image just written as ``target``: read back by the
    inspector it is that format (raw may read as an ISO) and subformat,
    without problems, of ``virtual_size`` bytes when given; and, where
    qemu-img can check the format, ``qemu-img check`` finds no error.

    :raises DiskImageError: it is not what was asked for, or is corrupt.
    """
    inspection = inspect_image(range_reader(image), image.size)
    expected = "raw" if target.qemu_format == "raw" else target.name
    allowed = (expected, "iso") if expected == "raw" else (expected,)
    if inspection.format not in allowed or inspection.problems:
        raise DiskImageError(
            f"the {target.name} image written reads back as {inspection.format}"
            + (f" ({'; '.join(inspection.problems)})" if inspection.problems else ""),
            image.name,
        )
    if target.subformat and inspection.subformat != target.subformat:
        raise DiskImageError(
            f"the {target.name} image written is {inspection.subformat}, not {target.subformat}", image.name
        )
    if virtual_size is not None and inspection.virtual_size != virtual_size:
        raise DiskImageError(
            f"the {target.name} image written has capacity {inspection.virtual_size}, not {virtual_size}", image.name
        )
    if target.checkable:
        report = qemu_img.check(image, target.qemu_format)
        if report.get("corruptions") or report.get("leaks") or report.get("check-errors"):
            raise DiskImageError(f"qemu-img check finds errors in the {target.name} image written", image.name)
