"""Producing disk images in the formats an export can carry, from raw dumps.

Each target format: its qemu-img driver and creation options, the file name
extension, and the ``ovf:format`` URI that consumers recognise (VMware's
VMDK URIs; for the others the URIs Ganeti and common producers write).
Every image written is checked afterwards: its header by the inspector, its
structure by ``qemu-img check`` where qemu-img can check that format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ovfconverter.disks import qemu_img
from ovfconverter.disks.convert import range_reader
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.errors import DiskImageError, OptionError
from ovfconverter.package.streams import ByteRange, copy_ranges
from ovfconverter.progress import ProgressCallback

VMDK_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html"


@dataclass(frozen=True)
class TargetFormat:
    """A disk format ``export`` can write.

    :ivar name: ovfconverter's name (``vmdk``, ``qcow2``...).
    :ivar qemu_format: the qemu-img driver.
    :ivar extension: file name extension, without the dot.
    :ivar uri: the ``ovf:format`` URI.
    :ivar options: qemu-img ``-o`` creation options.
    :ivar checkable: ``qemu-img check`` supports the format.
    """

    name: str
    qemu_format: str
    extension: str
    uri: str
    options: tuple[str, ...] = ()
    checkable: bool = True
    subformat: str | None = None


VMDK_SUBFORMATS = ("streamOptimized", "monolithicSparse")


def target_format(name: str, vmdk_subformat: str = "streamOptimized") -> TargetFormat:
    """Return the :class:`TargetFormat` called ``name`` (``raw``, ``vmdk``,
    ``qcow2`` or its Ganeti alias ``cow``, ``vdi``, ``vhd``, ``vhdx``).

    :raises OptionError: unknown format or VMDK subformat.
    """
    if name == "vmdk":
        if vmdk_subformat not in VMDK_SUBFORMATS:
            raise OptionError(f"VMDK subformat {vmdk_subformat!r} is not one of {', '.join(VMDK_SUBFORMATS)}")
        return TargetFormat(
            "vmdk",
            "vmdk",
            "vmdk",
            f"{VMDK_URI}#{vmdk_subformat}",
            (f"subformat={vmdk_subformat}",),
            subformat=vmdk_subformat,
        )
    formats = {
        "raw": TargetFormat("raw", "raw", "raw", "http://en.wikipedia.org/wiki/Byte", checkable=False),
        "qcow2": TargetFormat("qcow2", "qcow2", "qcow2", "http://www.gnome.org/~markmc/qcow-image-format.html"),
        "vdi": TargetFormat("vdi", "vdi", "vdi", "http://www.virtualbox.org/manual/ch05.html#vdidetails"),
        "vhd": TargetFormat(
            "vhd",
            "vpc",
            "vhd",
            "http://technet.microsoft.com/en-us/virtualserver/bb676673.aspx",
            ("subformat=dynamic", "force_size=on"),
            checkable=False,
        ),
        "vhdx": TargetFormat("vhdx", "vhdx", "vhdx", "http://www.microsoft.com/vhdx"),
    }
    formats["cow"] = formats["qcow2"]
    try:
        return formats[name]
    except KeyError:
        raise OptionError(
            f"unknown disk format {name!r}: expected raw, vmdk, qcow2 (or cow), vdi, vhd or vhdx"
        ) from None


def convert_from_raw(
    dump: ByteRange, dest: str, target: TargetFormat, progress: ProgressCallback | None = None
) -> tuple[int, int]:
    """Write the raw image ``dump`` as ``target`` into the new file ``dest``
    and check the result.

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
        )
    size = os.path.getsize(dest)
    written = ByteRange(os.path.abspath(dest), 0, size, os.path.basename(dest))
    inspection = inspect_image(range_reader(written), size)
    expected = "raw" if target.qemu_format == "raw" else target.name
    if inspection.format not in ((expected, "iso") if expected == "raw" else (expected,)) or inspection.problems:
        raise DiskImageError(
            f"the {target.name} image written reads back as {inspection.format}"
            + (f" ({'; '.join(inspection.problems)})" if inspection.problems else ""),
            written.name,
        )
    if target.subformat and inspection.subformat != target.subformat:
        raise DiskImageError(f"the VMDK written is {inspection.subformat}, not {target.subformat}", written.name)
    if target.checkable:
        report = qemu_img.check(written, target.qemu_format)
        if report.get("corruptions") or report.get("leaks") or report.get("check-errors"):
            raise DiskImageError(f"qemu-img check finds errors in the {target.name} image written", written.name)
    if target.qemu_format == "raw":
        return size, size
    data = qemu_img.info(qemu_img.image_spec(written), target.qemu_format, written.name)
    virtual_size = data.get("virtual-size")
    if not isinstance(virtual_size, int) or virtual_size < dump.size:
        raise DiskImageError(f"the {target.name} image written has virtual size {virtual_size!r}", written.name)
    return size, virtual_size
