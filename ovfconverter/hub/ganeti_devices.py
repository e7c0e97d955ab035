"""Ganeti's hypervisor parameters for devices, both ways: what a device plan
(:mod:`ovfconverter.hub.devices`) becomes as Ganeti 3.0 kvm or xen-hvm
parameters (``gnt-instance modify -H`` names and values, ``config.ini``'s
``[hypervisor]``), which of them an import writes, and what an exported
instance's parameters say of its devices.

Facts (``doc/mapping.rst``, "Devices"): Ganeti 3.0.2's kvm hypervisor has
``disk_type`` ``ide``/``paravirtual``/``scsi-hd`` (``scsi`` fails with QEMU
7.2) with ``scsi_controller_type`` ``lsi``/``megasas``/``virtio-scsi-pci``,
``nic_type`` ``e1000``/``pcnet``/``rtl8139``/``ne2k_pci``/``paravirtual``, no
SATA, NVMe or UEFI parameter (OVMF through ``kvm_extra``); its xen-hvm
hypervisor emulates IDE (``disk_type=ioemu``) and the NICs ``e1000``,
``rtl8139``, ``ne2k_pci``.  Sources: Ganeti 3.0 ``hv_kvm``/``hv_xen``
parameter lists, and booting on the test cluster.

Pure: imports only ``model`` and :mod:`ovfconverter.hub.devices`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ovfconverter.hub.devices import IDE, VIRTIO_BLK, DevicePlan, DevicePolicy, Storage, TargetKind, choose_devices
from ovfconverter.model.machine import Bus, ControllerModel, Firmware, Machine, NicModel

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


@dataclass(frozen=True)
class InstanceDevices:
    """What a Ganeti instance's hypervisor parameters say of its devices.

    :ivar storage: where its disks hang; ``None``: no neutral equivalent,
        or unknown.
    :ivar nic_model: its NICs' model (one for all), ``None`` when unknown.
    :ivar firmware: ``None`` when unknown.
    """

    storage: Storage | None = None
    nic_model: NicModel | None = None
    firmware: Firmware | None = None


_XEN_HVM_NICS: Mapping[str, NicModel] = MappingProxyType(
    {name: model for model, name in GANETI_NIC_TYPES.items() if model is not NicModel.VIRTIO}
)


def instance_devices(hypervisor: str | None, hvparams: Mapping[str, str | None]) -> InstanceDevices:
    """The devices of a Ganeti instance of ``hypervisor`` with these
    parameters, as exported (``gnt-backup export`` writes every one with its
    effective value): kvm's ``disk_type``, ``scsi_controller_type``,
    ``nic_type`` and an OVMF ``kvm_extra`` (:func:`ganeti_kvm_devices`);
    xen-hvm's ``disk_type=ioemu`` (emulated IDE; its default, paravirtual,
    has no emulated controller) and emulated ``nic_type`` (default
    ``rtl8139``).  Other hypervisors (xen-pvm's PV devices, lxc...) and an
    unnamed one say nothing."""
    params = {key: value for key, value in hvparams.items() if value is not None}
    if hypervisor == "kvm":
        found = ganeti_kvm_devices(params)
        return InstanceDevices(found.storage, found.nic_model, found.firmware)
    if hypervisor == "xen-hvm":
        disk_type = (params.get("disk_type") or "paravirtual").strip().lower()
        nic_type = (params.get("nic_type") or "rtl8139").strip().lower()
        return InstanceDevices(IDE if disk_type == "ioemu" else None, _XEN_HVM_NICS.get(nic_type), Firmware.BIOS)
    return InstanceDevices()


def device_parameters(
    machine: Machine, hypervisor: str | None, policy: DevicePolicy = DevicePolicy.AUTO
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The hypervisor parameters that make ``machine`` boot as a Ganeti
    instance of ``hypervisor`` (:func:`ganeti_kvm_parameters` or
    :func:`ganeti_xen_hvm_parameters` of its device plan), and the plan's
    notes.

    Nothing for a machine whose Ganeti settings name that hypervisor (a
    Ganeti instance: its parameters, even none, are its own and a round trip
    keeps them exactly), nor for hypervisors without emulated devices to
    choose (xen-pvm, lxc, fake, chroot) or an unknown one (``None``).
    """
    settings = machine.ganeti
    if settings is not None and settings.hypervisor == hypervisor:
        return {}, ()
    if hypervisor == "kvm":
        plan = choose_devices(machine, TargetKind.GANETI_KVM, policy)
        return ganeti_kvm_parameters(plan), plan.notes
    if hypervisor == "xen-hvm":
        plan = choose_devices(machine, TargetKind.GANETI_XEN_HVM, policy)
        return ganeti_xen_hvm_parameters(plan), plan.notes
    return {}, ()
