"""libvirt's domain, as the subset ovfconverter writes (libvirt "Domain XML
format", https://libvirt.org/formatdomain.html), as frozen dataclasses.

Names and values are libvirt's own spelling (``bus='sata'``,
``model='lsilogic'``, ``type='bridge'``); memory is in **KiB** as libvirt's
``<memory unit='KiB'>``.  No I/O; :mod:`ovfconverter.formats.libvirt_xml`
writes it, :mod:`ovfconverter.hub.libvirt` builds it from a
:class:`~ovfconverter.model.machine.Machine`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DomainType(enum.Enum):
    """``<domain type=...>``: ``kvm`` (hardware virtualization) or ``qemu``
    (TCG software emulation)."""

    KVM = "kvm"
    QEMU = "qemu"


class DiskDevice(enum.Enum):
    """``<disk device=...>``."""

    DISK = "disk"
    CDROM = "cdrom"
    FLOPPY = "floppy"


class InterfaceType(enum.Enum):
    """``<interface type=...>``: a host bridge or a libvirt network."""

    BRIDGE = "bridge"
    NETWORK = "network"


@dataclass(frozen=True)
class DriveAddress:
    """``<address type='drive' controller= bus= target= unit=>`` of a disk
    on an IDE, SATA or SCSI controller."""

    controller: int
    bus: int = 0
    target: int = 0
    unit: int = 0


@dataclass(frozen=True)
class DomainDisk:
    """``<disk type='file'>`` (or a CD-ROM without media).

    :ivar bus: ``<target bus=>``: ``ide``, ``sata``, ``scsi``, ``virtio``,
        ``fdc``.
    :ivar dev: ``<target dev=>``: ``hda``, ``sda``, ``vda``, ``fda``...
    :ivar source: ``<source file=>``, ``None`` for an empty drive.
    :ivar driver_type: ``<driver name='qemu' type=>``: ``raw``, ``qcow2``.
    :ivar address: its drive address; ``None`` for virtio (a PCI device).
    :ivar boot_order: ``<boot order=>``, ``None`` for none.
    """

    device: DiskDevice
    bus: str
    dev: str
    source: str | None = None
    driver_type: str | None = None
    address: DriveAddress | None = None
    boot_order: int | None = None
    readonly: bool = False


@dataclass(frozen=True)
class DomainController:
    """``<controller type= index= model=>`` (``model`` ``None`` = libvirt's
    default for the type)."""

    type: str
    index: int
    model: str | None = None


@dataclass(frozen=True)
class DomainInterface:
    """``<interface>``: ``<source bridge=|network=>``, ``<mac address=>``
    (``None``: libvirt generates one), ``<model type=>``."""

    type: InterfaceType
    source: str
    mac: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class CpuTopology:
    """``<cpu><topology sockets= cores= threads=>``."""

    sockets: int
    cores: int
    threads: int


@dataclass(frozen=True)
class Domain:
    """A libvirt domain.

    :ivar machine: ``<os><type machine=>``: ``pc`` (i440fx) or ``q35``.
    :ivar firmware: ``<os firmware=>``: ``efi``, or ``None`` for BIOS.
    :ivar secure_boot: with EFI, ``<firmware><feature name='secure-boot'>``
        (and ``enrolled-keys``) enabled or not.
    :ivar memory_kib: ``<memory unit='KiB'>`` and ``<currentMemory>``.
    :ivar serial_console: a ``<serial type='pty'>`` with its ``<console>``.
    """

    type: DomainType
    name: str
    memory_kib: int
    vcpus: int
    uuid: str | None = None
    title: str | None = None
    description: str | None = None
    arch: str = "x86_64"
    machine: str = "pc"
    firmware: str | None = None
    secure_boot: bool = False
    topology: CpuTopology | None = None
    disks: tuple[DomainDisk, ...] = ()
    controllers: tuple[DomainController, ...] = ()
    interfaces: tuple[DomainInterface, ...] = ()
    serial_console: bool = True
