"""The disk formats ovfconverter writes from raw images.

Each output format: its qemu-img driver and creation options, the file name
extension, and the ``ovf:format`` URI that consumers recognise (VMware's
VMDK URIs; for the others the URIs Ganeti and common producers write).
Writing them is :mod:`ovfconverter.disks.from_raw`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ovfconverter.enums import Words
from ovfconverter.errors import OptionError

VMDK_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html"


@dataclass(frozen=True)
class TargetFormat:
    """A disk format ovfconverter writes.

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


class DiskFormat(Words):
    """The disk formats ovfconverter writes (``cow`` is Ganeti's name for
    qcow2)."""

    VMDK = "vmdk"
    RAW = "raw"
    QCOW2 = "qcow2"
    COW = "cow"
    VDI = "vdi"
    VHD = "vhd"
    VHDX = "vhdx"


class VmdkSubformat(Words):
    """The VMDK createTypes ovfconverter writes."""

    STREAM_OPTIMIZED = "streamOptimized"
    MONOLITHIC_SPARSE = "monolithicSparse"


VMDK_SUBFORMATS = VmdkSubformat.values()


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
