"""Machine -> libvirt domain (:class:`~ovfconverter.model.libvirt.Domain`).

Devices come from :func:`ovfconverter.hub.devices.choose_devices` for
:attr:`~ovfconverter.hub.devices.TargetKind.LIBVIRT`; this module only spells
them as libvirt does (https://libvirt.org/formatdomain.html): buses
``ide``/``sata``/``scsi``/``virtio``, SCSI controller models ``lsilogic``,
``lsisas1078`` (QEMU's megasas), ``vmpvscsi``, ``virtio-scsi``; NIC models
``e1000``, ``e1000e``, ``vmxnet3``, ``pcnet``, ``rtl8139``, ``ne2k_pci``,
``virtio``; drive addresses and target names (``hda``, ``sda``, ``vda``).

Pure: the caller (the libvirt target) says where each disk's file is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ovfconverter.errors import TargetError
from ovfconverter.hub import values
from ovfconverter.hub.devices import DevicePlan, DevicePolicy, Storage, TargetKind, choose_devices
from ovfconverter.model.libvirt import (
    CpuTopology,
    DiskDevice,
    Domain,
    DomainController,
    DomainDisk,
    DomainInterface,
    DomainType,
    DriveAddress,
    InterfaceType,
)
from ovfconverter.model.machine import Architecture, Bus, Chipset, ControllerModel, DriveKind, Firmware, Machine, Nic

#: libvirt ``<controller type='scsi' model=>`` per controller model.
SCSI_MODELS: Mapping[ControllerModel, str] = MappingProxyType(
    {
        ControllerModel.LSILOGIC: "lsilogic",
        ControllerModel.LSISAS1068: "lsisas1068",
        ControllerModel.MEGASAS: "lsisas1078",
        ControllerModel.PVSCSI: "vmpvscsi",
        ControllerModel.VIRTIO_SCSI: "virtio-scsi",
        ControllerModel.BUSLOGIC: "buslogic",
    }
)
#: libvirt ``<model type=>`` per NIC model.
NIC_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "e1000": "e1000",
        "e1000e": "e1000e",
        "vmxnet3": "vmxnet3",
        "pcnet32": "pcnet",
        "rtl8139": "rtl8139",
        "ne2k_pci": "ne2k_pci",
        "virtio": "virtio",
    }
)
_BUS_NAMES: Mapping[Bus, str] = MappingProxyType(
    {Bus.IDE: "ide", Bus.SATA: "sata", Bus.SCSI: "scsi", Bus.VIRTIO: "virtio", Bus.FLOPPY: "fdc"}
)
_PREFIX = {"ide": "hd", "sata": "sd", "scsi": "sd", "virtio": "vd", "fdc": "fd"}
_UNITS = {"ide": 4, "sata": 6, "scsi": 7, "fdc": 2}


@dataclass(frozen=True)
class Attachment:
    """Where a NIC connects: ``--net N:bridge=br0`` or ``--net N:network=NAME``."""

    type: InterfaceType
    source: str


@dataclass(frozen=True)
class LibvirtSettings:
    """Choices of the libvirt target.

    :ivar disk_paths: the file of each :attr:`Machine.disks` entry, as the
        domain should name it (absolute, or relative to the domain XML).
    :ivar disk_format: ``qcow2`` or ``raw``.
    :ivar removable_paths: the image of each :attr:`Machine.removable`
        drive, ``None`` for an empty drive; shorter tuples mean empty.
    :ivar attachments: per NIC number; others use :attr:`default_attachment`.
    """

    disk_paths: tuple[str, ...]
    disk_format: str = "qcow2"
    domain_type: DomainType = DomainType.KVM
    policy: DevicePolicy = DevicePolicy.AUTO
    removable_paths: tuple[str | None, ...] = ()
    attachments: Mapping[int, Attachment] = field(default_factory=lambda: MappingProxyType({}))
    default_attachment: Attachment = Attachment(InterfaceType.NETWORK, "default")
    name: str | None = None


@dataclass(frozen=True)
class LibvirtResult:
    """The domain, the device plan it follows and the notes to warn with."""

    domain: Domain
    plan: DevicePlan
    notes: tuple[str, ...]


class _Slots:
    """Hands out target names and drive addresses per bus and controller."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.units: dict[tuple[str, int], int] = {}
        self.controllers: list[DomainController] = []
        self.current: dict[tuple[str, ControllerModel | None], int] = {}

    def dev(self, bus: str) -> str:
        prefix = _PREFIX[bus]
        n = self.names.get(prefix, 0)
        self.names[prefix] = n + 1
        if n >= 26 * 27:
            raise TargetError(f"too many {bus} devices for libvirt target names")
        letters = chr(ord("a") + n % 26)
        if n >= 26:
            letters = chr(ord("a") + n // 26 - 1) + letters
        return prefix + letters

    def _controller(self, bus: str, model: ControllerModel | None) -> int:
        """The index of a controller of ``bus`` (and SCSI ``model``) with a
        free unit, adding one when all are full."""
        key = (bus, model if bus == "scsi" else None)
        index = self.current.get(key)
        if index is not None and self.units[(bus, index)] < _UNITS[bus]:
            return index
        if index is not None and bus in ("ide", "fdc"):
            raise TargetError(f"more than {_UNITS[bus]} {bus} devices: libvirt's {bus} controller has no more")
        index = sum(1 for c in self.controllers if c.type == bus)
        spelled = SCSI_MODELS.get(model) if bus == "scsi" and model is not None else None
        self.controllers.append(DomainController(type=bus, index=index, model=spelled))
        self.current[key] = index
        self.units[(bus, index)] = 0
        return index

    def address(self, bus: str, model: ControllerModel | None) -> DriveAddress | None:
        if bus == "virtio":
            return None
        index = self._controller(bus, model)
        unit = self.units[(bus, index)]
        self.units[(bus, index)] = unit + 1
        if bus == "ide":
            return DriveAddress(controller=index, bus=unit // 2, unit=unit % 2)
        return DriveAddress(controller=index, unit=unit)


def _topology(machine: Machine, vcpus: int) -> CpuTopology | None:
    cpus = machine.cpus
    if cpus is None or cpus.sockets is None or cpus.cores is None:
        return None
    threads = cpus.threads or 1
    if cpus.sockets * cpus.cores * threads != vcpus:
        return None
    return CpuTopology(sockets=cpus.sockets, cores=cpus.cores, threads=threads)


def _arch(machine: Machine) -> str:
    arch = machine.os.architecture or Architecture.X86_64
    if arch not in (Architecture.X86_64, Architecture.I686):
        raise TargetError(f"libvirt target: {arch.value} guests are not supported (x86_64 and i686 only)")
    return str(arch.value)


def _disks(machine: Machine, plan: DevicePlan, settings: LibvirtSettings, slots: _Slots) -> list[DomainDisk]:
    if len(settings.disk_paths) != len(machine.disks):
        raise ValueError("LibvirtSettings.disk_paths must name one file per disk")
    disks: list[DomainDisk] = []
    for number, (path, storage) in enumerate(zip(settings.disk_paths, plan.disks, strict=True)):
        disks.append(_disk(DiskDevice.DISK, storage, path, settings.disk_format, slots, number == 0))
    for number, (drive, storage) in enumerate(zip(machine.removable, plan.removable, strict=True)):
        image = settings.removable_paths[number] if number < len(settings.removable_paths) else None
        device = DiskDevice.FLOPPY if drive.kind is DriveKind.FLOPPY else DiskDevice.CDROM
        if device is DiskDevice.FLOPPY:
            storage = Storage(Bus.FLOPPY)
        boot = not machine.disks and number == 0
        disks.append(_disk(device, storage, image, "raw" if image else None, slots, boot))
    return disks


def _disk(
    device: DiskDevice, storage: Storage, path: str | None, fmt: str | None, slots: _Slots, boot: bool
) -> DomainDisk:
    bus = _BUS_NAMES[storage.bus]
    return DomainDisk(
        device=device,
        bus=bus,
        dev=slots.dev(bus),
        source=path,
        driver_type=fmt,
        address=slots.address(bus, storage.model),
        boot_order=1 if boot else None,
        readonly=device is not DiskDevice.DISK,
    )


def _ganeti_bridge(nic: Nic) -> Attachment | None:
    """A Ganeti NIC in bridged mode keeps its bridge (``nicN_link``)."""
    ganeti = nic.ganeti
    if ganeti is not None and (ganeti.mode or "bridged") == "bridged" and ganeti.link:
        return Attachment(InterfaceType.BRIDGE, ganeti.link)
    return None


def _interfaces(machine: Machine, plan: DevicePlan, settings: LibvirtSettings) -> list[DomainInterface]:
    result = []
    for number, (nic, model) in enumerate(zip(machine.nics, plan.nics, strict=True)):
        attach = settings.attachments.get(number) or _ganeti_bridge(nic) or settings.default_attachment
        result.append(
            DomainInterface(
                type=attach.type,
                source=attach.source,
                mac=values.mac_address(nic.mac, number),
                model=NIC_MODELS[model.value],
            )
        )
    return result


def machine_to_domain(machine: Machine, settings: LibvirtSettings) -> LibvirtResult:
    """The libvirt domain for ``machine``.

    :raises ovfconverter.errors.TargetError: a name, MAC, memory or CPU count
        libvirt refuses, an architecture other than x86, or more IDE devices
        than the IDE controller holds.
    :raises ValueError: ``settings.disk_paths`` does not match the disks.
    """
    plan = choose_devices(machine, TargetKind.LIBVIRT, settings.policy)
    slots = _Slots()
    disks = _disks(machine, plan, settings, slots)
    vcpus = values.vcpu_count(machine)
    name = values.vm_name(machine if settings.name is None else replace(machine, name=settings.name), "libvirt")
    domain = Domain(
        type=settings.domain_type,
        name=name,
        memory_kib=-(-values.memory_bytes(machine) // 1024),
        vcpus=vcpus,
        description=values.free_text(machine.description),
        arch=_arch(machine),
        machine="q35" if plan.chipset is Chipset.Q35 else "pc",
        firmware="efi" if plan.firmware is Firmware.EFI else None,
        secure_boot=plan.secure_boot,
        topology=_topology(machine, vcpus),
        disks=tuple(disks),
        controllers=tuple(slots.controllers),
        interfaces=tuple(_interfaces(machine, plan, settings)),
    )
    return LibvirtResult(domain=domain, plan=plan, notes=plan.notes)
