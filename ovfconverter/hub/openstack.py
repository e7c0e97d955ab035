"""The OpenStack mapping: a :class:`~ovfconverter.model.machine.Machine` to
the Glance image records that make it boot under Nova.

One image per disk, in the machine's disk order: the boot disk first (the
image a server boots from, named after the machine), then each further disk
as an image of its own, named ``NAME-diskN`` (N its position), from which a
volume is created and attached.

Which bus, controller and NIC model the machine gets is not decided here but
by the device policy shared by every target (a :class:`Devices`, what
``hub/devices.py`` ``choose_devices(machine, TargetKind.OPENSTACK)``
returns); this module only spells its choices as Glance properties:

==================  ====================================================
property            from
==================  ====================================================
min_disk            the disk's capacity, GiB rounded up
min_ram             the machine's memory floor (``Memory.minimum``, else
                    ``Memory.size``), MiB rounded up; boot image only
architecture        ``GuestOS.architecture`` (libosinfo spelling)
os_type             ``GuestOS.family``: ``linux`` or ``windows`` only
os_distro           ``GuestOS.distribution`` (Glance's vocabulary)
os_version          ``GuestOS.version``
hw_firmware_type    the device plan's firmware: ``bios`` or ``uefi``
os_secure_boot      ``required`` when the plan keeps UEFI secure boot
hw_machine_type     ``pc`` (i440fx) or ``q35``, x86 only: Nova's default
                    is per cloud, and IDE exists only on ``pc``
hw_disk_bus         the plan's storage for the disk
hw_scsi_model       its controller model, when on SCSI
hw_vif_model        the plan's model of the first NIC (Nova has one per
                    server)
hw_qemu_guest_agent the source's say (Ganeti kvm ``use_guest_agent``)
==================  ====================================================

Pure: imports only ``model`` and ``errors``; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Protocol

from ovfconverter.errors import OptionError
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Chipset,
    ControllerModel,
    Firmware,
    Machine,
    NicModel,
    OsFamily,
)
from ovfconverter.model.openstack import (
    MAX_NAME,
    DiskFormat,
    GlanceImage,
    HwDiskBus,
    HwFirmwareType,
    HwScsiModel,
    HwVifModel,
    ImageRole,
    OsSecureBoot,
    OsType,
)

GIB = 1 << 30
MIB = 1 << 20

#: The image formats the OpenStack target writes.  VMDK and VHD are left
#: out on purpose: Glance may refuse them (VMDK subformats outside
#: ``vmdk_allowed_types``) and Nova's image backends convert or refuse them.
DISK_FORMATS = (DiskFormat.QCOW2, DiskFormat.RAW)


class Storage(Protocol):
    """Where the device policy hangs a disk (``hub.devices.Storage``)."""

    @property
    def bus(self) -> Bus: ...

    @property
    def model(self) -> ControllerModel | None: ...


class Devices(Protocol):
    """The device policy's choices for one machine on OpenStack
    (``hub.devices.DevicePlan``): one storage per disk, one model per NIC."""

    @property
    def firmware(self) -> Firmware: ...

    @property
    def secure_boot(self) -> bool: ...

    @property
    def chipset(self) -> Chipset: ...

    @property
    def disks(self) -> Sequence[Storage]: ...

    @property
    def nics(self) -> Sequence[NicModel]: ...


#: Neutral bus -> ``hw_disk_bus`` (Nova ``DiskBus``; NVMe has none).
DISK_BUSES: Mapping[Bus, HwDiskBus] = MappingProxyType(
    {
        Bus.IDE: HwDiskBus.IDE,
        Bus.SATA: HwDiskBus.SATA,
        Bus.SCSI: HwDiskBus.SCSI,
        Bus.VIRTIO: HwDiskBus.VIRTIO,
        Bus.USB: HwDiskBus.USB,
        Bus.FLOPPY: HwDiskBus.FDC,
    }
)
#: Neutral SCSI controller -> ``hw_scsi_model`` (Nova ``SCSIModel``; the
#: libvirt driver gives it to libvirt as the controller model).  MegaRAID SAS
#: has no Nova spelling.
SCSI_MODELS: Mapping[ControllerModel, HwScsiModel] = MappingProxyType(
    {
        ControllerModel.VIRTIO_SCSI: HwScsiModel.VIRTIO_SCSI,
        ControllerModel.LSILOGIC: HwScsiModel.LSILOGIC,
        ControllerModel.LSISAS1068: HwScsiModel.LSISAS1068,
        ControllerModel.BUSLOGIC: HwScsiModel.BUSLOGIC,
        ControllerModel.PVSCSI: HwScsiModel.VMPVSCSI,
    }
)
#: Neutral NIC model -> ``hw_vif_model`` (KVM/QEMU values of the metadef).
VIF_MODELS: Mapping[NicModel, HwVifModel] = MappingProxyType(
    {
        NicModel.VIRTIO: HwVifModel.VIRTIO,
        NicModel.E1000: HwVifModel.E1000,
        NicModel.E1000E: HwVifModel.E1000E,
        NicModel.NE2K_PCI: HwVifModel.NE2K_PCI,
        NicModel.PCNET32: HwVifModel.PCNET,
        NicModel.RTL8139: HwVifModel.RTL8139,
        NicModel.VMXNET3: HwVifModel.VMXNET3,
    }
)
#: Chipset -> ``hw_machine_type`` (QEMU machine type aliases on x86).
MACHINE_TYPES: Mapping[Chipset, str] = MappingProxyType({Chipset.I440FX: "pc", Chipset.Q35: "q35"})
#: Spellings Glance's "Useful image properties" says not to use for
#: ``os_distro``, to the recognized value.
_DISTRO_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "archlinux": "arch",
        "redhat": "rhel",
        "suse": "opensuse",
        "mandrakelinux": "mandrake",
        "mandrivalinux": "mandriva",
        "mandrivaent": "mes",
        "ms-dos": "msdos",
        "rockylinux": "rocky",
        "novell": "netware",
        "canonical": "ubuntu",
    }
)
_DISTRO = re.compile(r"[a-z][a-z0-9.+_-]*\Z")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
_X86 = (Architecture.X86_64, Architecture.I686, None)
_OS_TYPES: Mapping[OsFamily, OsType] = MappingProxyType(
    {OsFamily.LINUX: OsType.LINUX, OsFamily.WINDOWS: OsType.WINDOWS}
)


@dataclass(frozen=True)
class GlanceMapping:
    """The images of one machine, boot image first, and why anything the
    source had could not be said in Glance's terms (one line each)."""

    images: tuple[GlanceImage, ...]
    notes: tuple[str, ...] = ()


def ceil_units(size: int, unit: int) -> int:
    """``size`` bytes in ``unit``-byte units, rounded up (``min_disk`` in
    GiB, ``min_ram`` in MiB)."""
    return -(-size // unit)


def os_distro(distribution: str | None) -> str | None:
    """``os_distro`` for a libosinfo distribution name: lower case, the
    spellings Glance deprecates replaced, ``None`` when unknown or not a
    plain identifier."""
    if not distribution:
        return None
    name = distribution.strip().lower()
    name = _DISTRO_ALIASES.get(name, name)
    return name if _DISTRO.match(name) and len(name) <= MAX_NAME else None


def image_names(base: str, count: int) -> tuple[str, ...]:
    """Image names for a machine called ``base`` with ``count`` disks:
    ``base`` for the boot disk, ``base-diskN`` for disk N >= 1.

    :raises OptionError: ``base`` is empty, has control characters, or makes
        a name longer than Glance's 255 characters.
    """
    if not base or not base.strip():
        raise OptionError("the image name is empty")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in base):
        raise OptionError("the image name contains control characters")
    names = (base, *(f"{base}-disk{index}" for index in range(1, count)))
    if max(len(name) for name in names) > MAX_NAME:
        raise OptionError(f"image names are limited to {MAX_NAME} characters by Glance")
    return names


def _storage(storage: Storage | None, label: str, notes: list[str]) -> tuple[HwDiskBus | None, HwScsiModel | None]:
    """``hw_disk_bus`` and ``hw_scsi_model`` for one disk's storage."""
    if storage is None:
        return None, None
    bus = DISK_BUSES.get(storage.bus)
    if bus is None:
        notes.append(f"{label}: Nova has no {storage.bus.value} disk bus; hw_disk_bus left unset")
        return None, None
    if storage.bus is not Bus.SCSI or storage.model is None:
        return bus, None
    model = SCSI_MODELS.get(storage.model)
    if model is None:
        notes.append(f"{label}: Nova has no {storage.model.value} SCSI model; libvirt's default is used")
    return bus, model


def _guest_agent(machine: Machine) -> bool | None:
    """What the source says about the QEMU guest agent: Ganeti kvm's
    ``use_guest_agent`` hypervisor parameter (Ganeti >= 2.16)."""
    if machine.ganeti is None:
        return None
    value = machine.ganeti.hypervisor_parameters.get("use_guest_agent")
    if value is None or value.strip().lower() in ("", "none"):
        return None
    return value.strip().lower() in ("true", "yes", "1", "on")


def _version(version: str | None) -> str | None:
    text = version.strip() if version else ""
    return text if _VERSION.match(text) and len(text) <= MAX_NAME else None


def _vif_model(devices: Devices, notes: list[str]) -> HwVifModel | None:
    if not devices.nics:
        return None
    first = devices.nics[0]
    if any(model != first for model in devices.nics[1:]):
        notes.append(f"Nova gives every NIC of a server one model: all get {first.value}")
    vif = VIF_MODELS.get(first)
    if vif is None:
        notes.append(f"nic 0: Nova's libvirt driver has no {first.value} NIC; hw_vif_model left unset")
    return vif


def _boot_image(machine: Machine, devices: Devices, disk_format: DiskFormat, notes: list[str]) -> GlanceImage:
    """The fields that describe the whole machine, on the boot image."""
    guest = machine.os
    memory = machine.memory
    efi = devices.firmware is Firmware.EFI
    return GlanceImage(
        name="",
        disk_format=disk_format,
        min_ram=ceil_units(memory.minimum or memory.size, MIB) if memory is not None else 0,
        architecture=guest.architecture.value if guest.architecture else None,
        os_type=_OS_TYPES.get(guest.family) if guest.family else None,
        os_distro=os_distro(guest.distribution),
        os_version=_version(guest.version),
        hw_firmware_type=HwFirmwareType.UEFI if efi else HwFirmwareType.BIOS,
        os_secure_boot=OsSecureBoot.REQUIRED if devices.secure_boot and efi else None,
        hw_machine_type=MACHINE_TYPES.get(devices.chipset) if guest.architecture in _X86 else None,
        hw_vif_model=_vif_model(devices, notes),
        hw_qemu_guest_agent=_guest_agent(machine),
    )


def glance_images(
    machine: Machine,
    devices: Devices,
    *,
    disk_format: DiskFormat = DiskFormat.QCOW2,
    name: str | None = None,
) -> GlanceMapping:
    """The Glance image records of ``machine`` (without their data: the
    pipeline fills :attr:`GlanceImage.data` once each file is written).

    :param devices: the device policy's choices for ``machine`` on
        OpenStack; ``devices.disks`` has one entry per machine disk.
    :param disk_format: ``qcow2`` (default) or ``raw``.
    :param name: the boot image's name; default the machine's name.
    :raises OptionError: another disk format, no name, a name Glance
        refuses, a machine without disks, or a disk of unknown capacity.
    """
    if disk_format not in DISK_FORMATS:
        raise OptionError(
            f"the OpenStack target writes qcow2 or raw images, not {disk_format.value} "
            "(Glance may refuse it, Nova may not boot it)"
        )
    if not machine.disks:
        raise OptionError("the machine has no disk: there is nothing to make an image of")
    if len(devices.disks) != len(machine.disks):
        raise ValueError("the device plan does not match the machine's disks")
    base = name or machine.name
    if base is None:
        raise OptionError("the machine has no name: give the image one")
    names = image_names(base, len(machine.disks))
    notes: list[str] = []
    boot = _boot_image(machine, devices, disk_format, notes)
    volume = GlanceImage(name="", disk_format=disk_format, role=ImageRole.VOLUME)
    images = []
    for index, (disk, storage) in enumerate(zip(machine.disks, devices.disks, strict=True)):
        if disk.capacity is None:
            raise OptionError(f"disk {index}: its capacity is unknown")
        bus, model = _storage(storage, f"disk {index}", notes)
        images.append(
            replace(
                boot if index == 0 else volume,
                name=names[index],
                min_disk=ceil_units(disk.capacity, GIB),
                disk_index=index,
                hw_disk_bus=bus,
                hw_scsi_model=model,
            )
        )
    return GlanceMapping(tuple(images), tuple(notes))
