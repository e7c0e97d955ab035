"""The device policy (hub/devices.py): what each target gets, pure."""

from __future__ import annotations

import pytest

from ovfconverter.hub.devices import (
    CAPABILITIES,
    IDE,
    LSI,
    PVSCSI,
    SATA,
    VIRTIO_BLK,
    VIRTIO_SCSI,
    DevicePolicy,
    Storage,
    TargetKind,
    choose_devices,
    machine_firmware,
    virtio_support,
)
from ovfconverter.hub.ganeti_devices import ganeti_kvm_devices, ganeti_kvm_parameters, ganeti_xen_hvm_parameters
from ovfconverter.model.machine import (
    Bus,
    Chipset,
    Controller,
    ControllerModel,
    Disk,
    DriveKind,
    Firmware,
    GuestOS,
    Machine,
    Nic,
    NicModel,
    OsFamily,
    RemovableDrive,
    VMwareSettings,
)

LINUX = GuestOS(family=OsFamily.LINUX, description="Other Linux (64-bit)")
DEBIAN = GuestOS(family=OsFamily.LINUX, distribution="debian", version="12")
WINDOWS = GuestOS(family=OsFamily.WINDOWS, distribution="windows", version="2019")


def machine(
    bus: Bus = Bus.SCSI,
    model: ControllerModel | None = ControllerModel.LSILOGIC,
    nic: NicModel | None = NicModel.E1000,
    os: GuestOS = LINUX,
    disks: int = 1,
    **kw: object,
) -> Machine:
    return Machine(
        name="vm",
        os=os,
        controllers=(Controller(bus=bus, model=model),),
        disks=tuple(Disk(capacity=1 << 30, controller=0, unit=i) for i in range(disks)),
        nics=(Nic(mac="52:54:00:00:00:01", model=nic),),
        **kw,  # type: ignore[arg-type]
    )


def test_vmware_lsilogic_linux_keeps_lsi_and_e1000_on_libvirt() -> None:
    plan = choose_devices(machine(), TargetKind.LIBVIRT)
    assert plan.disks == (LSI,)
    assert plan.nics == (NicModel.E1000,)
    assert plan.firmware is Firmware.BIOS and plan.chipset is Chipset.I440FX
    assert plan.notes == ()


def test_debian_goes_virtio_unless_kept() -> None:
    m = machine(Bus.SATA, ControllerModel.AHCI, NicModel.VIRTIO, os=DEBIAN)
    assert choose_devices(m, TargetKind.LIBVIRT).disks == (VIRTIO_BLK,)
    kept = choose_devices(m, TargetKind.LIBVIRT, DevicePolicy.KEEP)
    assert kept.disks == (SATA,) and kept.nics == (NicModel.VIRTIO,)


def test_windows_stays_and_never_gets_an_lsi_it_has_no_driver_for() -> None:
    m = machine(os=WINDOWS, nic=NicModel.E1000E)
    plan = choose_devices(m, TargetKind.LIBVIRT)
    assert plan.disks == (IDE,)
    assert plan.nics == (NicModel.E1000E,)
    assert any("lsilogic" in note for note in plan.notes)
    pv = choose_devices(machine(model=ControllerModel.PVSCSI, os=WINDOWS), TargetKind.LIBVIRT)
    assert pv.disks == (PVSCSI,)


def test_efi_moves_boot_disk_off_controllers_ovmf_cannot_boot() -> None:
    m = machine(model=ControllerModel.PVSCSI, firmware=Firmware.EFI)
    plan = choose_devices(m, TargetKind.LIBVIRT)
    assert plan.firmware is Firmware.EFI
    assert plan.disks == (IDE,)
    assert any("cannot boot" in note for note in plan.notes)
    kept = choose_devices(m, TargetKind.LIBVIRT, DevicePolicy.KEEP)
    assert kept.disks == (PVSCSI,) and any("kept as asked" in n for n in kept.notes)
    # a second disk on the same controller is not the boot disk: it stays
    two = choose_devices(machine(model=ControllerModel.PVSCSI, firmware=Firmware.EFI, disks=2), TargetKind.LIBVIRT)
    assert two.disks == (IDE, PVSCSI)


def test_efi_from_vmware_extra_config_with_secure_boot() -> None:
    m = machine(vmware=VMwareSettings(extra_config=(("firmware", "efi"), ("uefi.secureBoot.enabled", "TRUE"))))
    assert machine_firmware(m) == (Firmware.EFI, True)
    assert machine_firmware(machine()) == (Firmware.BIOS, False)
    bios = machine(vmware=VMwareSettings(extra_config=(("uefi.secureBoot.enabled", "true"),)))
    assert machine_firmware(bios) == (Firmware.BIOS, False)


def test_virtio_policy_and_windows() -> None:
    plan = choose_devices(machine(os=WINDOWS), TargetKind.LIBVIRT, DevicePolicy.VIRTIO)
    assert plan.disks == (VIRTIO_BLK,) and plan.nics == (NicModel.VIRTIO,)
    assert virtio_support(WINDOWS).disk is False


@pytest.mark.parametrize(
    ("os", "disk", "net"),
    [
        (DEBIAN, True, True),
        (GuestOS(family=OsFamily.LINUX, distribution="debian"), True, True),
        (GuestOS(family=OsFamily.LINUX, distribution="ubuntu", version="22.04"), True, True),
        (GuestOS(family=OsFamily.LINUX, distribution="ubuntu", version="6.06"), False, False),
        (GuestOS(family=OsFamily.LINUX, distribution="rhel", version="9.2"), False, True),
        (GuestOS(family=OsFamily.LINUX, distribution="rhel"), False, False),
        (GuestOS(family=OsFamily.LINUX, distribution="centos", version="5.11"), False, False),
        (GuestOS(family=OsFamily.BSD, distribution="freebsd", version="13.2"), True, True),
        (LINUX, False, False),
        (GuestOS(), False, False),
    ],
)
def test_virtio_support_table(os: GuestOS, disk: bool, net: bool) -> None:
    support = virtio_support(os)
    assert (support.disk, support.net) == (disk, net), support.reason


def test_ganeti_kvm_parameters_from_lsi_e1000() -> None:
    plan = choose_devices(machine(), TargetKind.GANETI_KVM)
    assert ganeti_kvm_parameters(plan) == {
        "boot_order": "disk",
        "kernel_path": "",
        "initrd_path": "",
        "machine_version": "pc",
        "disk_type": "scsi-hd",
        "scsi_controller_type": "lsi",
        "nic_type": "e1000",
    }


def test_ganeti_kvm_has_no_sata_or_vmxnet3_and_efi_through_kvm_extra() -> None:
    m = machine(Bus.SATA, ControllerModel.AHCI, NicModel.VMXNET3, firmware=Firmware.EFI)
    plan = choose_devices(m, TargetKind.GANETI_KVM)
    params = ganeti_kvm_parameters(plan)
    assert params["disk_type"] == "ide" and params["nic_type"] == "e1000"
    assert plan.firmware is Firmware.EFI
    assert params["kvm_extra"] == "-bios /usr/share/ovmf/OVMF.fd"
    assert ganeti_kvm_devices(params).firmware is Firmware.EFI
    # OVMF does not boot from lsi: the boot disk moves
    assert choose_devices(machine(firmware=Firmware.EFI), TargetKind.GANETI_KVM).disks == (IDE,)
    xen = choose_devices(m, TargetKind.GANETI_XEN_HVM)
    assert xen.firmware is Firmware.BIOS and any("EFI" in note for note in xen.notes)
    with pytest.raises(ValueError):
        ganeti_xen_hvm_parameters(plan)


def test_ganeti_one_disk_type_per_instance() -> None:
    m = Machine(
        os=DEBIAN,
        controllers=(Controller(Bus.IDE), Controller(Bus.SCSI, ControllerModel.VIRTIO_SCSI)),
        disks=(Disk(controller=1), Disk(controller=0)),
        nics=(Nic(model=NicModel.VIRTIO), Nic(model=NicModel.E1000)),
    )
    plan = choose_devices(m, TargetKind.GANETI_KVM, DevicePolicy.KEEP)
    assert plan.disks == (VIRTIO_SCSI, VIRTIO_SCSI)
    assert plan.nics == (NicModel.VIRTIO, NicModel.VIRTIO)
    assert len(plan.notes) == 2
    assert ganeti_kvm_parameters(plan)["scsi_controller_type"] == "virtio-scsi-pci"


def test_xen_hvm_is_ide_and_emulated_nics() -> None:
    plan = choose_devices(machine(os=DEBIAN, nic=NicModel.VIRTIO), TargetKind.GANETI_XEN_HVM)
    assert plan.disks == (IDE,)
    assert ganeti_xen_hvm_parameters(plan) == {"boot_order": "cd", "disk_type": "ioemu", "nic_type": "e1000"}
    xl = choose_devices(machine(Bus.SATA, ControllerModel.AHCI, NicModel.PCNET32), TargetKind.XEN_HVM)
    assert xl.disks == (SATA,) and xl.nics == (NicModel.PCNET32,)


def test_q35_has_no_ide() -> None:
    m = machine(Bus.IDE, None, chipset=Chipset.Q35)
    plan = choose_devices(m, TargetKind.LIBVIRT)
    assert plan.chipset is Chipset.Q35 and plan.disks == (SATA,)
    assert choose_devices(m, TargetKind.GANETI_KVM).chipset is Chipset.I440FX


def test_unknown_controller_and_cdrom() -> None:
    m = Machine(
        disks=(Disk(),),
        removable=(RemovableDrive(kind=DriveKind.CDROM, bus=Bus.VIRTIO),),
        nics=(Nic(),),
    )
    plan = choose_devices(m, TargetKind.LIBVIRT)
    assert plan.disks == (IDE,) and plan.removable == (IDE,) and plan.nics == (NicModel.E1000,)


def test_every_choice_is_something_the_target_has() -> None:
    oses = [LINUX, DEBIAN, WINDOWS, GuestOS()]
    sources = [Storage(bus, model) for bus in Bus for model in [None, *ControllerModel]]
    for target, caps in CAPABILITIES.items():
        for os in oses:
            for src in sources:
                for firmware in Firmware:
                    for policy in DevicePolicy:
                        m = Machine(
                            os=os,
                            firmware=firmware,
                            controllers=(Controller(src.bus, src.model),),
                            disks=(Disk(controller=0),),
                            nics=tuple(Nic(model=n) for n in NicModel),
                        )
                        plan = choose_devices(m, target, policy)
                        assert plan.disks[0] in caps.storage, (target, src)
                        assert set(plan.nics) <= caps.nics
                        if policy is not DevicePolicy.KEEP:
                            assert plan.disks[0] in caps.bootable[plan.firmware], (target, src, firmware)


def test_ganeti_kvm_devices_reverse() -> None:
    devices = ganeti_kvm_devices({"disk_type": "scsi-hd", "scsi_controller_type": "megasas", "nic_type": "e1000"})
    assert devices.storage == Storage(Bus.SCSI, ControllerModel.MEGASAS)
    assert devices.nic_model is NicModel.E1000 and devices.firmware is Firmware.BIOS
    defaults = ganeti_kvm_devices({"disk_type": "None", "kvm_extra": "-bios /usr/share/ovmf/OVMF.fd"})
    assert defaults.storage == VIRTIO_BLK and defaults.nic_model is NicModel.VIRTIO
    assert defaults.firmware is Firmware.EFI
    assert ganeti_kvm_devices({"disk_type": "mtd", "nic_type": "i82551"}).storage is None
    for storage in CAPABILITIES[TargetKind.GANETI_KVM].storage:
        plan = choose_devices(
            Machine(controllers=(Controller(storage.bus, storage.model),), disks=(Disk(controller=0),)),
            TargetKind.GANETI_KVM,
            DevicePolicy.KEEP,
        )
        assert ganeti_kvm_devices(ganeti_kvm_parameters(plan)).storage == storage
