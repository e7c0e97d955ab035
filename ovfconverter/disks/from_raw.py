"""From raw: writing a raw disk image (a Ganeti disk dump) in an output
format, into a :class:`~ovfconverter.io.sink.Sink`, in as few passes as the
format allows:

* streamOptimized VMDK: our own writer (:mod:`ovfconverter.vmdk.writer`),
  compressing grains on a thread pool, straight into the sink: one pass;
* raw: the dump's bytes, holes kept as holes: one pass;
* other formats (qcow2, VDI, VHD, VHDX, monolithicSparse VMDK): qemu-img
  writes the image straight into the sink's file at the sink's position
  (an OVA member, or the package's own file): an empty image made by
  ``qemu-img create`` is put there, and ``qemu-img convert -n`` fills it
  through the raw driver's ``offset`` (its writes are not sequential, so
  nothing can take them from a pipe).  The bytes are then hashed from the
  page cache while ``qemu-img check`` reads them on the other core.  Only
  when the sink compresses (``--compress``) does qemu-img write a
  temporary image whose bytes then go through the sink.

Every image is checked after it is written, by one function,
:func:`check_written`: its header read back by the inspector says the
format, subformat and size asked for, and ``qemu-img check`` finds no error
where qemu-img can check that format.
"""

from __future__ import annotations

import os
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor

from ovfconverter.disks import qemu_img
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.output_formats import TargetFormat
from ovfconverter.errors import DiskImageError
from ovfconverter.io.ranges import ByteRange, range_reader
from ovfconverter.io.sink import Sink, copy_to_sink
from ovfconverter.io.sparse import copy_ranges
from ovfconverter.progress import Meter, ProgressCallback
from ovfconverter.timing import stage
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
    claims before writing ``target``, in bytes: the data for raw; the
    largest image qemu-img may write for the formats it writes (straight
    into the package); nothing for compressed output (streamOptimized VMDK,
    ``--compress``), which is written in one pass and is at most about the
    data's size: a full disk then ends the export cleanly."""
    if compress or checked_after_writing(target):
        return 0
    if target.qemu_format == "raw":
        return allocated
    return largest_image(allocated)


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
    location: str | None = None,
) -> int:
    """Write ``dump`` (a raw image) as ``target`` into ``sink``.

    :param name: the image's file name in the package (written into a
        VMDK's descriptor; used in messages).
    :param workdir: where qemu-img's temporary image goes.
    :param location: the path of the file the sink's stream writes, whose
        end is the sink's position: qemu-img then writes its image there
        in place (``None``: through a temporary image).
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
    if location is not None and not sink.compressing:
        return convert_in_place(dump, target, sink, location, name, workdir, progress)
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


def convert_in_place(
    dump: ByteRange,
    target: TargetFormat,
    sink: Sink,
    location: str,
    name: str,
    workdir: str,
    progress: ProgressCallback | None = None,
) -> int:
    """Write ``dump`` as ``target`` (a format qemu-img writes) at the sink's
    position in ``location``, at or past the end of that file, then hash it
    into the sink while it is checked (:func:`check_written`) on the other
    core.  ``qemu-img info`` reads the virtual size from the empty image
    while the conversion runs.

    :returns: the image's virtual size in bytes.
    :raises QemuImgError: qemu-img failed.
    :raises DiskImageError: the image written is not what was asked for.
    """
    sink.stream.flush()
    start = sink.stream.tell()
    descriptor = sink.stream.fileno()
    empty = os.path.join(workdir, f"empty-{uuid.uuid4().hex}.{target.extension}")
    try:
        qemu_img.create(empty, target.qemu_format, dump.size, name, target.options)
        with open(empty, "rb") as stream:
            header = stream.read(largest_image(0))
        os.pwrite(descriptor, header, start)
        with ThreadPoolExecutor(2, thread_name_prefix="image") as pool:
            measuring = pool.submit(_virtual_size, ByteRange(empty, 0, len(header), name), target, dump)
            with stage("qemu-img convert in place", name):
                qemu_img.convert_into(
                    qemu_img.image_spec(dump),
                    "raw",
                    ByteRange(os.path.abspath(location), start, len(header), name),
                    target.qemu_format,
                    name,
                    total=dump.size,
                    progress=progress,
                    max_file_size=start + largest_image(dump.size),
                )
            written = ByteRange(os.path.abspath(location), start, os.fstat(descriptor).st_size - start, name)
            if start and written.size % SECTOR:
                # qemu reads a slice of whole sectors only: put the tar padding, zeros, in place already
                os.ftruncate(descriptor, start + -(-written.size // SECTOR) * SECTOR)
            with stage("hash and check, side by side", name):
                checking = pool.submit(check_written, qemu_img.sector_aligned(written), target)
                try:
                    meter = Meter(progress, "pack", name, written.size)
                    saved, sink.meter = sink.meter, meter
                    sink.written_in_place(written.size, written.path)
                    sink.meter = saved
                    meter.finish()
                finally:
                    checking.result()
            return measuring.result()
    finally:
        if os.path.exists(empty):
            os.unlink(empty)


def _virtual_size(image: ByteRange, target: TargetFormat, dump: ByteRange) -> int:
    """The virtual size ``qemu-img info`` gives for ``image``, in bytes,
    which must hold ``dump``.

    :raises DiskImageError: it does not.
    """
    data = qemu_img.info(qemu_img.image_spec(image), target.qemu_format, image.name)
    virtual_size = data.get("virtual-size")
    if not isinstance(virtual_size, int) or virtual_size < dump.size:
        raise DiskImageError(f"the {target.name} image written has virtual size {virtual_size!r}", image.name)
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
    if target.qemu_format == "raw":
        check_written(written, target)
        return size, size
    check_written(written, target)
    return size, _virtual_size(written, target, dump)


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
