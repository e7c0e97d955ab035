"""Xen's ``xl.cfg`` (xl.cfg(5), Xen 4.17), as the subset ovfconverter writes,
and its disk specification (xl-disk-configuration(5)), as frozen dataclasses.

Names are xl's own (``vdev``, ``access``, ``devtype``, ``bridge``,
``model``); memory is in **MiB** as xl's ``memory=``.  No I/O:
:mod:`ovfconverter.formats.xl_cfg` writes it, :mod:`ovfconverter.hub.xen`
builds it from a :class:`~ovfconverter.model.machine.Machine`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class GuestType(enum.Enum):
    """``type=``: fully virtualized (firmware boots the disk) or
    paravirtualized (xl loads a kernel, or a boot loader finds one)."""

    HVM = "hvm"
    PV = "pv"


@dataclass(frozen=True)
class XlDisk:
    """One ``disk=[...]`` entry in key=value form.

    :ivar target: the image file, ``None`` for an empty CD-ROM drive.
    :ivar vdev: ``hda``-``hdd`` (HVM emulated IDE/AHCI), ``xvda``... (PV),
        ``sda``... (PV, Ganeti's default prefix).
    :ivar format: ``raw`` or ``qcow2``.
    :ivar access: ``rw`` or ``ro``.
    :ivar cdrom: ``devtype=cdrom``.
    """

    vdev: str
    target: str | None
    format: str = "raw"
    access: str = "rw"
    cdrom: bool = False


@dataclass(frozen=True)
class XlVif:
    """One ``vif=[...]`` entry: ``mac``, ``bridge`` and, for HVM, the
    emulated ``model`` (``e1000``, ``rtl8139``...)."""

    bridge: str
    mac: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class XlConfig:
    """A domain configuration.

    :ivar memory_mib: ``memory=``, MiB.
    :ivar bios: HVM firmware, ``seabios`` or ``ovmf`` (``None``: xl's default,
        SeaBIOS).
    :ivar hdtype: HVM ``hdtype=``: ``ide`` or ``ahci``.
    :ivar boot: HVM ``boot=`` device letters (``c`` disk, ``d`` CD-ROM).
    :ivar kernel: PV ``kernel=`` (a path on the Xen host), with ``ramdisk``,
        ``root`` and ``extra`` (kernel command line).
    :ivar bootloader: PV ``bootloader=`` (``pygrub``), instead of a kernel.
    :ivar comment: lines written as ``#`` comments at the top.
    """

    name: str
    type: GuestType
    memory_mib: int
    vcpus: int
    disks: tuple[XlDisk, ...] = ()
    vifs: tuple[XlVif, ...] = ()
    bios: str | None = None
    hdtype: str | None = None
    boot: str | None = None
    kernel: str | None = None
    ramdisk: str | None = None
    root: str | None = None
    extra: str | None = None
    bootloader: str | None = None
    serial: str | None = "pty"
    comment: tuple[str, ...] = ()
