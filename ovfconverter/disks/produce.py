"""Producing an export's disk image from a raw dump, into a
:class:`~ovfconverter.package.sink.Sink`, in as few passes as the format
allows:

* streamOptimized VMDK: our own writer (:mod:`ovfconverter.disks.vmdk_writer`),
  compressing grains on a thread pool, straight into the sink: one pass;
* raw: the dump's bytes, holes kept as holes: one pass;
* other formats (qcow2, VDI, VHD, VHDX, monolithicSparse VMDK): qemu-img
  writes a temporary image (its writes are not sequential), then its bytes
  go to the sink.

Every image is checked after it is written (header inspection; ``qemu-img
check`` for formats qemu can check), in :func:`check_written`.
"""

from __future__ import annotations

import os
import uuid
import zlib

from ovfconverter.disks import qemu_img
from ovfconverter.disks.convert import range_reader
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.targets import TargetFormat, convert_from_raw
from ovfconverter.disks.vmdk_writer import write_stream_optimized
from ovfconverter.errors import DiskImageError
from ovfconverter.package.sink import Sink, copy_to_sink
from ovfconverter.package.streams import ByteRange
from ovfconverter.progress import Meter, ProgressCallback

SECTOR = 512


def native(target: TargetFormat) -> bool:
    """True when ovfconverter writes ``target`` itself (raw,
    streamOptimized VMDK), sequentially, in one pass."""
    return target.qemu_format == "raw" or (target.name == "vmdk" and target.subformat == "streamOptimized")


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
        :mod:`ovfconverter.disks.deflate`).
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


def check_written(image: ByteRange, target: TargetFormat, virtual_size: int) -> None:
    """Check an image written natively (after :func:`produce_image`): its
    header says the format, subformat and size asked for, and
    ``qemu-img check`` finds no error.  (Images qemu-img wrote were checked
    by :func:`~ovfconverter.disks.targets.convert_from_raw`.)

    :raises DiskImageError: it does not.
    """
    if not native(target) or target.qemu_format == "raw":
        return
    inspection = inspect_image(range_reader(image), image.size)
    if inspection.format != "vmdk" or inspection.problems or inspection.subformat != target.subformat:
        raise DiskImageError(
            f"the VMDK written reads back as {inspection.format} {inspection.subformat} "
            f"({'; '.join(inspection.problems) or 'no problem'})",
            image.name,
        )
    if inspection.virtual_size != virtual_size:
        raise DiskImageError(f"the VMDK written has capacity {inspection.virtual_size}, not {virtual_size}", image.name)
    report = qemu_img.check(image, "vmdk")
    if report.get("corruptions") or report.get("leaks") or report.get("check-errors"):
        raise DiskImageError("qemu-img check finds errors in the VMDK written", image.name)
