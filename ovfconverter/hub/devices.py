"""The device policy: which firmware, disk buses, storage controller models and
NIC models a :class:`~ovfconverter.model.machine.Machine` gets on each target,
so that it boots where it arrives without hand edits.

One policy for every target (libvirt, Ganeti kvm and xen-hvm, xl, OpenStack,
OVF); each target's *spelling* of the result (libvirt ``bus=``/``model=``,
Ganeti's ``disk_type`` in :mod:`ovfconverter.hub.ganeti_devices`, Glance's
``hw_disk_bus``, OVF's ``rasd:ResourceSubType``...) lives with that target.

The rules (``doc/mapping.rst``, "Devices", has the table and the boot facts):

1. Keep the bus, controller model and NIC model the guest had, on the
   emulation whose guest driver is the same (:data:`SAME_DRIVER`).
2. Where the target has no such emulation, take one of the same family that
   Linux guests carry a driver for (LSI Logic 53C1030, LSI SAS 1068 and
   BusLogic all become QEMU's LSI 53C895A, ``sym53c8xx``); Windows guests and
   anything else fall back to the target's universal controller (IDE on
   i440fx, SATA/AHCI on q35): every guest has a driver for it.
3. Guests known to carry virtio drivers (:func:`virtio_support`) get
   virtio-blk and virtio-net instead (Windows never does).
4. The boot disk must hang on a controller the target's firmware boots from
   (:attr:`TargetCapabilities.bootable`, found by booting: SeaBIOS boots all of
   QEMU's controllers; OVMF only IDE, AHCI, virtio-blk, virtio-scsi and NVMe);
   otherwise it moves to virtio (guests with virtio) or the universal one.
5. ``DevicePolicy.VIRTIO`` puts every disk and NIC on virtio where the target
   has it; ``DevicePolicy.KEEP`` keeps what the guest had wherever the target
   emulates it, the boot rule only warns.

Pure: imports only ``model``; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.model.machine import (
    Bus,
    Chipset,
    ControllerModel,
    Disk,
    Firmware,
    GuestOS,
    Machine,
    NicModel,
    OsFamily,
    RemovableDrive,
    VMwareSettings,
)
from ovfconverter.parameters import Parameter


class TargetKind(enum.Enum):
    """The systems a machine can be placed on; each has
    :class:`TargetCapabilities` in :data:`CAPABILITIES`."""

    LIBVIRT = "libvirt"  # QEMU/KVM through libvirt (9.0, QEMU 7.2)
    OPENSTACK = "openstack"  # Nova's libvirt driver: the same QEMU
    GANETI_KVM = "ganeti-kvm"  # Ganeti 3.0 kvm hypervisor
    GANETI_XEN_HVM = "ganeti-xen-hvm"  # Ganeti 3.0 xen-hvm hypervisor
    XEN_HVM = "xen-hvm"  # xl.cfg type="hvm" (qemu-xen device model)
    VIRTUALBOX = "virtualbox"  # an OVF/OVA for VirtualBox 6.1 and later
    VMWARE = "vmware"  # an OVF/OVA for ESXi 6.7+, Workstation 14+, Fusion 10+
    OVF = "ovf"  # an OVF/OVA both of them import (--for generic)


class DevicePolicy(str, enum.Enum):
    """How devices are chosen: ``AUTO`` (the rules above), ``VIRTIO``
    (``--virtio``) or ``KEEP`` (``--keep-devices``)."""

    AUTO = "auto"
    VIRTIO = "virtio"
    KEEP = "keep"


@dataclass(frozen=True)
class Storage:
    """A place to hang a disk: a bus and, for buses with several, the
    controller model (``None`` = the bus's only or default model)."""

    bus: Bus
    model: ControllerModel | None = None

    def __str__(self) -> str:
        return self.bus.value if self.model is None else f"{self.bus.value}/{self.model.value}"


IDE = Storage(Bus.IDE)
SATA = Storage(Bus.SATA, ControllerModel.AHCI)
VIRTIO_BLK = Storage(Bus.VIRTIO)
NVME = Storage(Bus.NVME)
LSI = Storage(Bus.SCSI, ControllerModel.LSILOGIC)
MEGASAS = Storage(Bus.SCSI, ControllerModel.MEGASAS)
PVSCSI = Storage(Bus.SCSI, ControllerModel.PVSCSI)
VIRTIO_SCSI = Storage(Bus.SCSI, ControllerModel.VIRTIO_SCSI)
LSISAS = Storage(Bus.SCSI, ControllerModel.LSISAS1068)
BUSLOGIC = Storage(Bus.SCSI, ControllerModel.BUSLOGIC)

IDE_DEVICES = 4
"""Devices one PC IDE controller holds (two channels, master and slave):
QEMU's PIIX, VirtualBox's PIIX4, VMware's two IDE controllers of two."""


@dataclass(frozen=True)
class TargetCapabilities:
    """What a target emulates and boots from.

    :ivar storage: every :class:`Storage` the target can give a disk.
    :ivar bootable: per firmware, the storage its firmware boots from; a
        firmware absent from the mapping is not available on the target.
    :ivar nics: NIC models the target emulates.
    :ivar chipsets: chipsets it offers (first = default).
    :ivar uniform: one disk storage and one NIC model for the whole machine
        (Ganeti's ``disk_type``/``nic_type`` are per instance).
    :ivar exact: the target's models are the very devices a source's OVF
        names (the target *is* VMware or VirtualBox), not look-alikes with
        other guest drivers (QEMU's LSI 53C895A for VMware's 53C1030): a
        source's storage the target lists is kept as it is, for every guest.
    :ivar ide_room: disks (and removable drives, where written) the target's
        IDE holds (Ganeti kvm's ``ide`` adds QEMU's own empty CD-ROM).
    :ivar drives: the target writes the machine's removable drives (they
        take IDE room).
    :ivar spill: where disks go that do not fit on IDE, in preference (a
        SCSI one only for guests with its driver).
    """

    storage: frozenset[Storage]
    bootable: Mapping[Firmware, frozenset[Storage]]
    nics: frozenset[NicModel]
    chipsets: tuple[Chipset, ...] = (Chipset.I440FX,)
    uniform: bool = False
    exact: bool = False
    ide_room: int = IDE_DEVICES
    drives: bool = True
    spill: tuple[Storage, ...] = ()

    def universal(self, chipset: Chipset) -> Storage:
        """The controller every guest has a driver for: IDE on i440fx, AHCI
        on q35 (which has no IDE), IDE where AHCI is not emulated."""
        return SATA if chipset is Chipset.Q35 and SATA in self.storage else IDE


# QEMU 7.2 as libvirt 9.0 drives it.  LSI SAS 1068 (mptsas1068) is left out on
# purpose: SeaBIOS boots from it, but Linux 6.1's mptsas attaches no disk on
# it.  libvirt 9.0 has no NVMe disk bus.  Boot facts: doc/mapping.rst.
_QEMU_STORAGE = frozenset({IDE, SATA, VIRTIO_BLK, LSI, MEGASAS, PVSCSI, VIRTIO_SCSI})
_QEMU_NICS = frozenset(
    {
        NicModel.E1000,
        NicModel.E1000E,
        NicModel.VMXNET3,
        NicModel.PCNET32,
        NicModel.RTL8139,
        NicModel.NE2K_PCI,
        NicModel.VIRTIO,
    }
)
_QEMU = TargetCapabilities(
    storage=_QEMU_STORAGE,
    bootable=MappingProxyType(
        {
            Firmware.BIOS: _QEMU_STORAGE,
            Firmware.EFI: frozenset({IDE, SATA, VIRTIO_BLK, VIRTIO_SCSI}),
        }
    ),
    nics=_QEMU_NICS,
    chipsets=(Chipset.I440FX, Chipset.Q35),
    spill=(SATA,),  # QEMU's AHCI works on i440fx too, and Windows (since Vista) has its driver
)
_GANETI_KVM_STORAGE = frozenset({IDE, VIRTIO_BLK, LSI, MEGASAS, VIRTIO_SCSI})
_XEN_STORAGE = frozenset({IDE})
_VBOX_STORAGE = frozenset({IDE, SATA, LSI})  # PIIX4 IDE, AHCI SATA, LsiLogic SCSI
_VMWARE_STORAGE = frozenset({IDE, SATA, LSI, LSISAS, PVSCSI})


def _ovf(storage: frozenset[Storage], efi: frozenset[Storage], nics: frozenset[NicModel]) -> TargetCapabilities:
    """An OVF product's importer: its models *are* the ones a source's OVF
    names (``exact``); placing the plan (:func:`~ovfconverter.hub.publishing.place_devices`)
    moves devices past IDE's four to SATA, which every product has."""
    return TargetCapabilities(
        storage=storage,
        bootable=MappingProxyType({Firmware.BIOS: storage, Firmware.EFI: efi}),
        nics=nics,
        exact=True,
        ide_room=1 << 10,
    )


#: Per target: what it emulates and boots from (facts, see doc/mapping.rst).
CAPABILITIES: Mapping[TargetKind, TargetCapabilities] = MappingProxyType(
    {
        TargetKind.LIBVIRT: _QEMU,
        TargetKind.OPENSTACK: _QEMU,
        # Ganeti 3.0.2: no SATA/NVMe disk_type, one disk_type and nic_type
        # per instance, no UEFI parameter: OVMF through kvm_extra (booted on
        # the test cluster).
        TargetKind.GANETI_KVM: TargetCapabilities(
            storage=_GANETI_KVM_STORAGE,
            bootable=MappingProxyType(
                {Firmware.BIOS: _GANETI_KVM_STORAGE, Firmware.EFI: frozenset({IDE, VIRTIO_BLK, VIRTIO_SCSI})}
            ),
            nics=frozenset({NicModel.E1000, NicModel.PCNET32, NicModel.RTL8139, NicModel.NE2K_PCI, NicModel.VIRTIO}),
            uniform=True,
            ide_room=IDE_DEVICES - 1,  # disk_type=ide adds QEMU's own empty CD-ROM
            drives=False,  # a Ganeti import writes no removable drives
            spill=(LSI,),
        ),
        # Emulated IDE disks that PV-aware guests unplug for xen-blkfront.
        TargetKind.GANETI_XEN_HVM: TargetCapabilities(
            storage=_XEN_STORAGE,
            bootable=MappingProxyType({Firmware.BIOS: _XEN_STORAGE}),
            nics=frozenset({NicModel.E1000, NicModel.RTL8139, NicModel.NE2K_PCI}),
            uniform=True,
            drives=False,
        ),
        TargetKind.XEN_HVM: TargetCapabilities(
            storage=frozenset({IDE, SATA}),
            bootable=MappingProxyType({Firmware.BIOS: frozenset({IDE, SATA}), Firmware.EFI: frozenset({IDE, SATA})}),
            nics=frozenset({NicModel.E1000, NicModel.RTL8139, NicModel.NE2K_PCI, NicModel.PCNET32}),
            ide_room=1 << 10,  # hub/xen names drives past the fourth xvd*: PV-aware guests see them
        ),
        # What VirtualBox's OVF import maps to its own controllers and NICs
        # (ovfreader.cpp, ApplianceImplImport.cpp; doc/publishing.rst).
        TargetKind.VIRTUALBOX: _ovf(
            _VBOX_STORAGE, frozenset({IDE, SATA}), frozenset({NicModel.E1000, NicModel.PCNET32, NicModel.VIRTIO})
        ),
        # ovftool's ResourceSubTypes (doc/publishing.rst); never virtio.
        TargetKind.VMWARE: _ovf(
            _VMWARE_STORAGE, _VMWARE_STORAGE, frozenset({NicModel.E1000, NicModel.E1000E, NicModel.VMXNET3})
        ),
        # What both import and boot from.
        TargetKind.OVF: _ovf(_VBOX_STORAGE, frozenset({IDE, SATA}), frozenset({NicModel.E1000})),
    }
)

#: Source storage -> the emulation whose guest driver is the same one.
SAME_DRIVER: Mapping[Storage, Storage] = MappingProxyType(
    {
        IDE: IDE,
        Storage(Bus.IDE, ControllerModel.PIIX3): IDE,
        Storage(Bus.IDE, ControllerModel.PIIX4): IDE,
        SATA: SATA,
        Storage(Bus.SATA): SATA,
        VIRTIO_BLK: VIRTIO_BLK,
        NVME: NVME,
        MEGASAS: MEGASAS,
        PVSCSI: PVSCSI,
        LSISAS: LSISAS,
        VIRTIO_SCSI: VIRTIO_SCSI,
    }
)

#: Source storage -> an emulation of the same family with another driver,
#: which Linux distribution kernels carry (``sym53c8xx``); not for Windows.
SAME_FAMILY: Mapping[Storage, Storage] = MappingProxyType(
    {
        LSI: LSI,  # VMware/VirtualBox LSI 53C1030 (mptspi) -> QEMU 53C895A
        Storage(Bus.SCSI, ControllerModel.LSISAS1068): LSI,
        Storage(Bus.SCSI, ControllerModel.BUSLOGIC): LSI,
        Storage(Bus.SCSI): LSI,
    }
)

#: NIC models without an emulation on some targets -> the nearest one.
_NIC_FALLBACK: Mapping[NicModel, NicModel] = MappingProxyType(
    {
        NicModel.E1000E: NicModel.E1000,
        NicModel.VMXNET3: NicModel.E1000,
        NicModel.VMXNET2: NicModel.E1000,
        NicModel.VIRTIO: NicModel.E1000,
        NicModel.PCNET32: NicModel.E1000,
    }
)


@dataclass(frozen=True)
class VirtioSupport:
    """Whether a guest can be assumed to carry virtio drivers.

    :ivar disk: virtio-blk works for its boot disk (the driver is in its
        kernel *and* its initramfs by default).
    :ivar net: virtio-net works (the driver is in its kernel's modules).
    :ivar reason: why, for messages.
    """

    disk: bool
    net: bool
    reason: str


# distribution -> (first version with virtio drivers, initramfs carries
# virtio_blk by default).  initramfs-tools (Debian, Ubuntu: MODULES=most) and
# Alpine's mkinitfs include virtio; dracut's host-only images (RHEL, Fedora,
# SUSE) carry only the drivers of the machine they were built on.  FreeBSD's
# GENERIC kernel has virtio built in since 10.0.
_VIRTIO_DISTRIBUTIONS: Mapping[str, tuple[tuple[int, ...], bool]] = MappingProxyType(
    {
        "debian": ((5,), True),
        "ubuntu": ((8, 4), True),
        "alpine": ((2, 0), True),
        "fedora": ((9,), False),
        "rhel": ((6,), False),
        "centos": ((6,), False),
        "rocky": ((8,), False),
        "almalinux": ((8,), False),
        "oraclelinux": ((6,), False),
        "sles": ((11,), False),
        "opensuse": ((11,), False),
        "freebsd": ((10,), True),
    }
)
# Distributions whose every release still met has virtio: an unknown version
# counts as supported.  (RHEL/CentOS 5 did not have it everywhere.)
_VIRTIO_ANY_VERSION = frozenset({"debian", "ubuntu", "alpine", "fedora", "rocky", "almalinux", "opensuse"})


def _version_tuple(text: str) -> tuple[int, ...] | None:
    parts: list[int] = []
    for piece in text.replace("-", ".").split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def virtio_support(os: GuestOS) -> VirtioSupport:
    """Whether the guest ``os`` carries virtio drivers, from its family,
    distribution and version (:class:`~ovfconverter.model.machine.GuestOS`).

    Windows never does (virtio-win is not inbox); Linux distributions and
    FreeBSD by the table above; anything unknown does not.
    """
    if os.family is OsFamily.WINDOWS:
        return VirtioSupport(False, False, "Windows has no inbox virtio drivers")
    name = (os.distribution or "").lower()
    entry = _VIRTIO_DISTRIBUTIONS.get(name)
    if entry is None:
        return VirtioSupport(False, False, f"virtio drivers not known for {name or 'this guest OS'}")
    first, initramfs = entry
    version = _version_tuple(os.version) if os.version else None
    ok = name in _VIRTIO_ANY_VERSION if version is None else version >= first
    if not ok:
        return VirtioSupport(False, False, f"{name} {os.version or '(version unknown)'} may predate virtio")
    return VirtioSupport(initramfs, True, f"{name} carries virtio drivers")


@dataclass(frozen=True)
class DevicePlan:
    """The devices chosen for a machine on one target.

    :ivar disks: one :class:`Storage` per :attr:`Machine.disks`, same order.
    :ivar removable: one per :attr:`Machine.removable` (never virtio-blk).
    :ivar nics: one :class:`NicModel` per :attr:`Machine.nics`.
    :ivar notes: why something differs from the source, one line each, for
        warnings.
    """

    target: TargetKind
    firmware: Firmware
    secure_boot: bool
    chipset: Chipset
    disks: tuple[Storage, ...] = ()
    removable: tuple[Storage, ...] = ()
    nics: tuple[NicModel, ...] = ()
    notes: tuple[str, ...] = field(default=())


def vmware_firmware(settings: VMwareSettings) -> tuple[Firmware | None, bool]:
    """What VMware's settings say of the firmware: ``vmw:Config`` (what
    vSphere exports write) or ``vmw:ExtraConfig`` (``.vmx`` keys)
    ``firmware`` = ``efi``/``bios``, and secure boot on
    (``bootOptions.efiSecureBootEnabled`` or ``uefi.secureBoot.enabled``
    ``true``).  ``None`` when they do not say."""
    values = {key.strip().lower(): value.strip().lower() for key, value in settings.extra_config}
    found = values.get("firmware")
    firmware = Firmware(found) if found in ("efi", "bios") else None
    secure = "true" in (values.get("bootoptions.efisecurebootenabled"), values.get("uefi.secureboot.enabled"))
    return firmware, secure


def machine_firmware(machine: Machine) -> tuple[Firmware, bool]:
    """The machine's firmware and secure boot setting: :attr:`Machine.firmware`,
    else VMware's settings (:func:`vmware_firmware`), else BIOS without
    secure boot."""
    firmware = machine.firmware
    secure = machine.secure_boot
    if machine.vmware is not None:
        said, said_secure = vmware_firmware(machine.vmware)
        firmware = firmware or said
        secure = secure or said_secure
    firmware = firmware or Firmware.BIOS
    return firmware, secure and firmware is Firmware.EFI


def _source_storage(machine: Machine, disk: Disk | RemovableDrive) -> Storage | None:
    bus = machine.disk_bus(disk)
    if bus is None:
        return None
    controller = machine.disk_controller(disk)
    model = controller.model if controller is not None and controller.bus is bus else None
    if bus is Bus.SATA and model is None:
        model = ControllerModel.AHCI
    return Storage(bus, model)


@dataclass(frozen=True)
class _Context:
    caps: TargetCapabilities
    firmware: Firmware
    chipset: Chipset
    policy: DevicePolicy
    virtio: VirtioSupport
    windows: bool


def _kept(ctx: _Context, source: Storage | None) -> tuple[Storage | None, str]:
    """The target storage that keeps the source's driver (or family), with a
    note when it is not exactly the source's."""
    if source is None:
        return None, "the source does not say which controller"
    if ctx.caps.exact and source in ctx.caps.storage:
        return source, ""
    same = SAME_DRIVER.get(source)
    if same is IDE and ctx.chipset is Chipset.Q35:
        same = SATA
    if same is not None and same in ctx.caps.storage:
        return same, ""
    family = SAME_FAMILY.get(source)
    if family is not None and family in ctx.caps.storage and not ctx.windows:
        return family, "" if family == source else f"{source} is emulated as {family}"
    return None, f"the target has no {source} controller"


def _choose_disk(ctx: _Context, source: Storage | None, boot: bool, label: str) -> tuple[Storage, list[str]]:
    caps, notes = ctx.caps, list[str]()
    universal = caps.universal(ctx.chipset)
    want_virtio = ctx.policy is DevicePolicy.VIRTIO or (ctx.policy is DevicePolicy.AUTO and ctx.virtio.disk)
    if want_virtio and VIRTIO_BLK in caps.storage:
        choice: Storage | None = VIRTIO_BLK
        why: str | Parameter = (
            Parameter("policy", value=DevicePolicy.VIRTIO.value)
            if ctx.policy is DevicePolicy.VIRTIO
            else ctx.virtio.reason
        )
    else:
        choice, why = _kept(ctx, source)
    if choice is None:
        choice = universal
    if why and choice != source:
        notes.append(Diagnostic((f"{label}: ", why, f": using {choice}")))
    bootable = caps.bootable.get(ctx.firmware, frozenset())
    if boot and choice not in bootable:
        if ctx.policy is DevicePolicy.KEEP:
            notes.append(f"{label}: {ctx.firmware.value} firmware cannot boot from {choice}; kept as asked")
        else:
            better = VIRTIO_BLK if ctx.virtio.disk and VIRTIO_BLK in bootable else universal
            notes.append(f"{label}: {ctx.firmware.value} firmware cannot boot from {choice}: using {better}")
            choice = better
    return choice, notes


def _choose_removable(ctx: _Context, source: Storage | None) -> Storage:
    kept, _ = _kept(ctx, source)
    if kept is None or kept.bus in (Bus.VIRTIO, Bus.NVME):
        return ctx.caps.universal(ctx.chipset)
    return kept


def _choose_nic(ctx: _Context, source: NicModel | None, label: str) -> tuple[NicModel, list[str]]:
    caps = ctx.caps
    want_virtio = ctx.policy is DevicePolicy.VIRTIO or (ctx.policy is DevicePolicy.AUTO and ctx.virtio.net)
    if want_virtio and NicModel.VIRTIO in caps.nics:
        return NicModel.VIRTIO, []
    if source is not None and source in caps.nics:
        return source, []
    choice = _NIC_FALLBACK.get(source, NicModel.E1000) if source is not None else NicModel.E1000
    if choice not in caps.nics:
        choice = NicModel.E1000 if NicModel.E1000 in caps.nics else NicModel.RTL8139
    if source is None:
        return choice, [f"{label}: the source does not say the NIC model: using {choice.value}"]
    return choice, [f"{label}: the target has no {source.value} NIC: using {choice.value}"]


def _spill_ide(ctx: _Context, disks: list[Storage], room: int, notes: list[str]) -> list[Storage]:
    """Disks that do not fit on the target's IDE (``room`` places) move to
    its :attr:`~TargetCapabilities.spill` storage: the ones past the room,
    or, on a uniform target, all of them (the boot disk only where the
    firmware boots from it)."""
    on_ide = [index for index, storage in enumerate(disks) if storage == IDE]
    if len(on_ide) <= max(room, 0):
        return disks
    caps = ctx.caps
    bootable = caps.bootable.get(ctx.firmware, frozenset())
    usable = [
        storage
        for storage in caps.spill
        if storage in caps.storage
        and (caps.exact or storage.bus is not Bus.SCSI or not ctx.windows)
        and (not caps.uniform or storage in bootable)
    ]
    what = f"{len(on_ide)} disks on IDE, which holds {max(room, 0)} here"
    if not usable:
        notes.append(f"{what}: the target has no other controller for this guest; it may not start")
        return disks
    moved = on_ide if caps.uniform else on_ide[max(room, 0) :]
    notes.append(f"{what}: disk {', '.join(str(i) for i in moved)} on {usable[0]}")
    return [usable[0] if index in moved else storage for index, storage in enumerate(disks)]


def _chipset(machine: Machine, caps: TargetCapabilities) -> Chipset:
    if machine.chipset is not None and machine.chipset in caps.chipsets:
        return machine.chipset
    return caps.chipsets[0]


def choose_devices(machine: Machine, target: TargetKind, policy: DevicePolicy = DevicePolicy.AUTO) -> DevicePlan:
    """Choose firmware, chipset, disk storage and NIC models for ``machine``
    on ``target`` by the rules of this module's docstring.

    Never raises for any machine: what cannot be kept is replaced, and each
    replacement is explained in :attr:`DevicePlan.notes`.  On targets with
    :attr:`TargetCapabilities.uniform` devices, the boot disk's choice (and
    the first NIC's) applies to all.
    """
    caps = CAPABILITIES[target]
    firmware, secure = machine_firmware(machine)
    notes: list[str] = []
    if firmware not in caps.bootable:
        notes.append(f"{target.value} has no {firmware.value.upper()} firmware: the machine gets BIOS and may not boot")
        firmware, secure = Firmware.BIOS, False
    chipset = _chipset(machine, caps)
    if secure and Chipset.Q35 in caps.chipsets and chipset is not Chipset.Q35:
        notes.append("secure boot needs the q35 chipset (SMM): using q35")
        chipset = Chipset.Q35
    ctx = _Context(
        caps=caps,
        firmware=firmware,
        chipset=chipset,
        policy=policy,
        virtio=virtio_support(machine.os),
        windows=machine.os.family is OsFamily.WINDOWS,
    )
    disks: list[Storage] = []
    for number, disk in enumerate(machine.disks):
        source = _source_storage(machine, disk)
        if caps.uniform and disks:
            if source is not None and source != disks[0]:
                notes.append(f"disk {number}: {target.value} has one disk type per instance: using {disks[0]}")
            disks.append(disks[0])
            continue
        choice, more = _choose_disk(ctx, source, number == 0, f"disk {number}")
        disks.append(choice)
        notes.extend(more)
    removable = tuple(_choose_removable(ctx, _source_storage(machine, drive)) for drive in machine.removable)
    drives_on_ide = sum(storage == IDE for storage in removable) if caps.drives else 0
    disks = _spill_ide(ctx, disks, caps.ide_room - drives_on_ide, notes)
    nics: list[NicModel] = []
    for number, nic in enumerate(machine.nics):
        if caps.uniform and nics:
            if nic.model is not None and nic.model != nics[0]:
                notes.append(f"nic {number}: {target.value} has one NIC type per instance: using {nics[0].value}")
            nics.append(nics[0])
            continue
        model, more = _choose_nic(ctx, nic.model, f"nic {number}")
        nics.append(model)
        notes.extend(more)
    return DevicePlan(
        target=target,
        firmware=firmware,
        secure_boot=secure,
        chipset=ctx.chipset,
        disks=tuple(disks),
        removable=removable,
        nics=tuple(nics),
        notes=tuple(notes),
    )
