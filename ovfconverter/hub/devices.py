"""The device policy: which firmware, disk buses, storage controller models and
NIC models a :class:`~ovfconverter.model.machine.Machine` gets on each target,
so that it boots where it arrives without hand edits.

One policy for every target (libvirt, Ganeti kvm and xen-hvm, xl, OpenStack);
each target's *spelling* of the result (libvirt ``bus=``/``model=``, Ganeti's
``disk_type``..., Glance's ``hw_disk_bus``...) lives with that target, except
Ganeti's hypervisor parameters, which are here (:func:`ganeti_kvm_parameters`,
:func:`ganeti_xen_hvm_parameters`, and the reverse, :func:`ganeti_kvm_devices`).

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


class DevicePolicy(enum.Enum):
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
LSISAS = Storage(Bus.SCSI, ControllerModel.LSISAS1068)
VIRTIO_SCSI = Storage(Bus.SCSI, ControllerModel.VIRTIO_SCSI)


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
    """

    storage: frozenset[Storage]
    bootable: Mapping[Firmware, frozenset[Storage]]
    nics: frozenset[NicModel]
    chipsets: tuple[Chipset, ...] = (Chipset.I440FX,)
    uniform: bool = False

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
)
_GANETI_KVM_STORAGE = frozenset({IDE, VIRTIO_BLK, LSI, MEGASAS, VIRTIO_SCSI})
_XEN_STORAGE = frozenset({IDE})
_VBOX_STORAGE = frozenset({IDE, SATA, LSI})  # PIIX4 IDE, AHCI SATA, LsiLogic SCSI
_VMWARE_STORAGE = frozenset({IDE, SATA, LSI, LSISAS, PVSCSI})

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
        ),
        # Emulated IDE disks that PV-aware guests unplug for xen-blkfront.
        TargetKind.GANETI_XEN_HVM: TargetCapabilities(
            storage=_XEN_STORAGE,
            bootable=MappingProxyType({Firmware.BIOS: _XEN_STORAGE}),
            nics=frozenset({NicModel.E1000, NicModel.RTL8139, NicModel.NE2K_PCI}),
            uniform=True,
        ),
        TargetKind.XEN_HVM: TargetCapabilities(
            storage=frozenset({IDE, SATA}),
            bootable=MappingProxyType({Firmware.BIOS: frozenset({IDE, SATA}), Firmware.EFI: frozenset({IDE, SATA})}),
            nics=frozenset({NicModel.E1000, NicModel.RTL8139, NicModel.NE2K_PCI, NicModel.PCNET32}),
        ),
        # What VirtualBox's OVF import maps to its own controllers and NICs
        # (ovfreader.cpp, ApplianceImplImport.cpp; doc/publishing.rst).
        TargetKind.VIRTUALBOX: TargetCapabilities(
            storage=_VBOX_STORAGE,
            bootable=MappingProxyType({Firmware.BIOS: _VBOX_STORAGE, Firmware.EFI: frozenset({IDE, SATA})}),
            nics=frozenset({NicModel.E1000, NicModel.PCNET32, NicModel.VIRTIO}),
        ),
        # ovftool's ResourceSubTypes (doc/publishing.rst); never virtio.
        TargetKind.VMWARE: TargetCapabilities(
            storage=_VMWARE_STORAGE,
            bootable=MappingProxyType({Firmware.BIOS: _VMWARE_STORAGE, Firmware.EFI: _VMWARE_STORAGE}),
            nics=frozenset({NicModel.E1000, NicModel.E1000E, NicModel.VMXNET3}),
        ),
        # What both import and boot from.
        TargetKind.OVF: TargetCapabilities(
            storage=_VBOX_STORAGE,
            bootable=MappingProxyType({Firmware.BIOS: _VBOX_STORAGE, Firmware.EFI: frozenset({IDE, SATA})}),
            nics=frozenset({NicModel.E1000}),
        ),
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


def machine_firmware(machine: Machine) -> tuple[Firmware, bool]:
    """The machine's firmware and secure boot setting: :attr:`Machine.firmware`,
    else VMware ExtraConfig ``firmware`` (``efi``/``bios``) and
    ``uefi.secureBoot.enabled``, else BIOS without secure boot."""
    firmware = machine.firmware
    secure = machine.secure_boot
    if machine.vmware is not None:
        extra = {key.lower(): value.strip().lower() for key, value in machine.vmware.extra_config}
        if firmware is None and extra.get("firmware") in ("efi", "bios"):
            firmware = Firmware(extra["firmware"])
        if extra.get("uefi.secureboot.enabled") == "true":
            secure = True
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


# --- Ganeti's spelling ------------------------------------------------------

#: Ganeti kvm ``scsi_controller_type`` per controller model (Ganeti 3.0
#: ``HT_KVM_VALID_SCSI_CONTROLLER_TYPES``).
GANETI_SCSI_CONTROLLER_TYPES: Mapping[ControllerModel, str] = MappingProxyType(
    {
        ControllerModel.LSILOGIC: "lsi",
        ControllerModel.MEGASAS: "megasas",
        ControllerModel.VIRTIO_SCSI: "virtio-scsi-pci",
    }
)
#: Ganeti ``nic_type`` per NIC model (kvm and xen-hvm spell them alike).
GANETI_NIC_TYPES: Mapping[NicModel, str] = MappingProxyType(
    {
        NicModel.E1000: "e1000",
        NicModel.PCNET32: "pcnet",
        NicModel.RTL8139: "rtl8139",
        NicModel.NE2K_PCI: "ne2k_pci",
        NicModel.VIRTIO: "paravirtual",
    }
)


#: The OVMF image Ganeti kvm instances boot EFI with (``kvm_extra``): Debian's
#: ``ovmf`` package, without secure boot.  Ganeti 3.0 has no UEFI parameter.
GANETI_OVMF = "/usr/share/ovmf/OVMF.fd"


def ganeti_kvm_parameters(plan: DevicePlan) -> dict[str, str]:
    """Ganeti kvm hypervisor parameters (Ganeti 3.0 ``gnt-instance modify -H``
    names and values) for a plan made for :attr:`TargetKind.GANETI_KVM`.

    ``disk_type`` ``ide``/``paravirtual``/``scsi-hd`` (never ``scsi``: QEMU 7.2
    refuses ``if=scsi``) with ``scsi_controller_type``; ``nic_type``;
    ``boot_order=disk``; ``kernel_path``/``initrd_path`` empty (the disk's own
    boot loader); ``machine_version=pc`` (i440fx, which has IDE); for EFI,
    ``kvm_extra=-bios`` :data:`GANETI_OVMF` (which replaces a cluster-level
    ``kvm_extra``; the node needs Debian's ``ovmf``).

    :raises ValueError: the plan was made for another target.
    """
    if plan.target is not TargetKind.GANETI_KVM:
        raise ValueError(f"a plan for {plan.target.value} has no Ganeti kvm parameters")
    params = {"boot_order": "disk", "kernel_path": "", "initrd_path": "", "machine_version": "pc"}
    if plan.firmware is Firmware.EFI:
        params["kvm_extra"] = f"-bios {GANETI_OVMF}"
    if plan.disks:
        storage = plan.disks[0]
        if storage.bus is Bus.VIRTIO:
            params["disk_type"] = "paravirtual"
        elif storage.bus is Bus.SCSI and storage.model is not None:
            params["disk_type"] = "scsi-hd"
            params["scsi_controller_type"] = GANETI_SCSI_CONTROLLER_TYPES[storage.model]
        else:
            params["disk_type"] = "ide"
    if plan.nics:
        params["nic_type"] = GANETI_NIC_TYPES[plan.nics[0]]
    return params


def ganeti_xen_hvm_parameters(plan: DevicePlan) -> dict[str, str]:
    """Ganeti xen-hvm hypervisor parameters for a plan made for
    :attr:`TargetKind.GANETI_XEN_HVM`: ``disk_type=ioemu`` (emulated IDE,
    which guests with PV drivers unplug), ``nic_type`` and ``boot_order=cd``
    (disk first, then CD-ROM).

    :raises ValueError: the plan was made for another target.
    """
    if plan.target is not TargetKind.GANETI_XEN_HVM:
        raise ValueError(f"a plan for {plan.target.value} has no Ganeti xen-hvm parameters")
    params = {"boot_order": "cd", "disk_type": "ioemu"}
    if plan.nics:
        params["nic_type"] = GANETI_NIC_TYPES[plan.nics[0]]
    return params


@dataclass(frozen=True)
class GanetiKvmDevices:
    """What a Ganeti kvm instance's parameters say about its devices (the
    reverse of :func:`ganeti_kvm_parameters`, for export).

    :ivar storage: where its disks hang, ``None`` for a ``disk_type`` with no
        neutral equivalent (``mtd``, ``pflash``, ``sd``...).
    :ivar nic_model: ``None`` for NIC types with no neutral model (i8255x,
        ``ne2k_isa``).
    """

    storage: Storage | None
    nic_model: NicModel | None
    firmware: Firmware = Firmware.BIOS


_KVM_DISK_TYPES: Mapping[str, Storage] = MappingProxyType({"ide": IDE, "paravirtual": VIRTIO_BLK})
_NIC_FROM_GANETI: Mapping[str, NicModel] = MappingProxyType({v: k for k, v in GANETI_NIC_TYPES.items()})
_SCSI_FROM_GANETI: Mapping[str, ControllerModel] = MappingProxyType(
    {v: k for k, v in GANETI_SCSI_CONTROLLER_TYPES.items()}
)


def ganeti_kvm_devices(hvparams: Mapping[str, str]) -> GanetiKvmDevices:
    """Devices from Ganeti kvm hypervisor parameters (``disk_type``,
    ``scsi_controller_type``, ``nic_type``, ``kvm_extra``), as
    ``config.ini``'s ``[hypervisor]`` section spells them.

    Missing parameters take Ganeti 3.0's kvm defaults (``disk_type``
    paravirtual, ``nic_type`` paravirtual, ``scsi_controller_type`` lsi).
    ``kvm_extra`` naming an OVMF image (``-bios .../OVMF.fd``) means EFI.
    """

    def get(key: str, default: str) -> str:
        value = (hvparams.get(key) or "").strip().lower()
        return default if value in ("", "none") else value

    disk_type = get("disk_type", "paravirtual")
    storage: Storage | None = _KVM_DISK_TYPES.get(disk_type)
    if disk_type in ("scsi", "scsi-hd", "scsi-block", "scsi-generic"):
        model = _SCSI_FROM_GANETI.get(get("scsi_controller_type", "lsi"))
        storage = Storage(Bus.SCSI, model) if model is not None else None
    nic_model = _NIC_FROM_GANETI.get(get("nic_type", "paravirtual"))
    firmware = Firmware.EFI if "ovmf" in get("kvm_extra", "") else Firmware.BIOS
    return GanetiKvmDevices(storage=storage, nic_model=nic_model, firmware=firmware)
