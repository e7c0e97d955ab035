"""Publishing profiles (hub/publishing.py) and the VirtualBox, VMware and
generic device targets of the device policy: pure rules, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ovfconverter.hub.devices import IDE, LSI, LSISAS, PVSCSI, TargetKind, choose_devices
from ovfconverter.hub.publishing import (
    PROFILES,
    SEED_KEY,
    Product,
    SeedAttachment,
    attach_seed,
    place_devices,
    profile_problems,
)
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    DriveKind,
    Firmware,
    GuestOS,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
)

DEBIAN = GuestOS(family=OsFamily.LINUX, distribution="debian", version="12")
WINDOWS = GuestOS(family=OsFamily.WINDOWS, distribution="windows")


def machine(
    disks: int = 1, bus: Bus | None = Bus.VIRTIO, nic: NicModel | None = NicModel.VIRTIO, **kw: object
) -> Machine:
    return Machine(
        name="vm",
        cpus=Cpus(1),
        memory=Memory(512 << 20),
        disks=tuple(Disk(capacity=1 << 30, bus=bus) for _ in range(disks)),
        nics=(Nic(model=nic),) if nic else (),
        **kw,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------
# the profiles' option rules


def test_every_profile_imports_the_defaults() -> None:
    defaults = {"format": "vmdk", "vmdk_subformat": "streamOptimized", "ovf_version": "1.0", "digest": "sha256"}
    for profile in PROFILES.values():
        assert profile_problems(profile, defaults) == []
        assert profile_problems(profile, {**defaults, "digest": "sha1"}) == []


def test_profile_problems_name_the_product_and_the_reason() -> None:
    problems = profile_problems(
        PROFILES[Product.VIRTUALBOX],
        {"format": "qcow2", "vmdk_subformat": "streamOptimized", "ovf_version": "2.0", "digest": "sha512"},
    )
    assert problems == [
        "format 'qcow2' is not for VirtualBox (vmdk: VirtualBox imports only VMDK disks from an OVF "
        "(and ISO images on CD-ROMs))",
        "ovf version '2.0' is not for VirtualBox (1.0: VirtualBox's own packages are OVF 1.0, the version both "
        "products import)",
        "digest 'sha512' is not for VirtualBox (sha1 or sha256: VirtualBox checks SHA256 and SHA1 manifests)",
    ]
    sparse = profile_problems(PROFILES[Product.VMWARE], {"format": "vmdk", "vmdk_subformat": "monolithicSparse"})
    assert sparse == [
        "vmdk subformat 'monolithicSparse' is not for VMware (streamOptimized: an OVA's disks are read as a "
        "stream, which only streamOptimized VMDKs allow)"
    ]


def test_profiles_system_types_and_seed_forms() -> None:
    assert PROFILES[Product.VIRTUALBOX].system_types == ("virtualbox-2.2",)
    assert PROFILES[Product.VMWARE].system_types == ("vmx-14",)
    assert PROFILES[Product.GENERIC].system_types == ("vmx-14",)
    assert PROFILES[Product.VIRTUALBOX].seed is SeedAttachment.CDROM_DISK
    assert PROFILES[Product.VMWARE].seed is SeedAttachment.CDROM_FILE
    assert PROFILES[Product.GENERIC].seed is SeedAttachment.HARD_DISK


# --------------------------------------------------------------------------
# the device policy on the three targets


def test_virtio_guest_on_each_product() -> None:
    """A Ganeti kvm guest (virtio disk and NIC, Debian): VirtualBox keeps
    virtio-net (it emulates it) but has no virtio-blk; VMware has neither;
    generic takes what both have."""
    vm = machine(os=DEBIAN)
    vbox = choose_devices(vm, TargetKind.VIRTUALBOX)
    assert (vbox.disks, vbox.nics) == ((IDE,), (NicModel.VIRTIO,))
    vmware = choose_devices(vm, TargetKind.VMWARE)
    assert (vmware.disks, vmware.nics) == ((IDE,), (NicModel.E1000,))
    generic = choose_devices(vm, TargetKind.OVF)
    assert (generic.disks, generic.nics) == ((IDE,), (NicModel.E1000,))
    assert any("no virtio" in note for note in generic.notes)


def test_vmware_guest_keeps_pvscsi_and_vmxnet3_for_vmware_only() -> None:
    vm = machine(
        bus=None,
        nic=NicModel.VMXNET3,
        os=DEBIAN,
        controllers=(Controller(Bus.SCSI, ControllerModel.PVSCSI),),
    )
    vm = replace(vm, disks=(Disk(capacity=1 << 30, controller=0),))
    vmware = choose_devices(vm, TargetKind.VMWARE)
    assert (vmware.disks, vmware.nics) == ((PVSCSI,), (NicModel.VMXNET3,))
    vbox = choose_devices(vm, TargetKind.VIRTUALBOX)
    assert (vbox.disks, vbox.nics) == ((IDE,), (NicModel.VIRTIO,))  # Debian carries virtio-net
    assert choose_devices(vm, TargetKind.OVF).nics == (NicModel.E1000,)


def test_lsi_sas_is_kept_on_vmware_and_becomes_lsilogic_elsewhere_for_linux() -> None:
    vm = machine(bus=None, os=DEBIAN, controllers=(Controller(Bus.SCSI, ControllerModel.LSISAS1068),))
    vm = replace(vm, disks=(Disk(capacity=1 << 30, controller=0),))
    assert choose_devices(vm, TargetKind.VMWARE).disks == (LSISAS,)
    assert choose_devices(vm, TargetKind.VIRTUALBOX).disks == (LSI,)
    windows = replace(vm, os=WINDOWS)
    assert choose_devices(windows, TargetKind.VIRTUALBOX).disks == (IDE,)


def test_efi_boot_disk_on_scsi_moves_for_virtualbox() -> None:
    """VirtualBox's EFI boots from IDE and SATA (the capabilities say so)."""
    vm = machine(bus=None, firmware=Firmware.EFI, controllers=(Controller(Bus.SCSI, ControllerModel.LSILOGIC),))
    vm = replace(vm, disks=(Disk(capacity=1 << 30, controller=0),))
    plan = choose_devices(vm, TargetKind.VIRTUALBOX)
    assert plan.firmware is Firmware.EFI and plan.disks == (IDE,)
    assert choose_devices(vm, TargetKind.VMWARE).disks == (LSI,)


# --------------------------------------------------------------------------
# placing the plan on the machine


def test_place_devices_fills_ide_then_overflows_to_sata() -> None:
    vm = attach_seed(machine(disks=4, bus=Bus.IDE), "vm-cidata.iso", 1 << 16, SeedAttachment.CDROM_DISK)
    plan = choose_devices(vm, TargetKind.OVF)
    placed, notes = place_devices(vm, plan)
    ide0, ide1, sata = placed.controllers
    assert (ide0.bus, ide0.index, ide1.bus, ide1.index) == (Bus.IDE, 0, Bus.IDE, 1)
    assert (sata.bus, sata.model) == (Bus.SATA, ControllerModel.AHCI)
    assert [(d.controller, d.unit) for d in placed.disks] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    (cdrom,) = placed.removable
    assert (cdrom.kind, cdrom.controller, cdrom.unit) == (DriveKind.CDROM, 2, 0)
    assert notes == ["drive 0: IDE holds 4 devices: using sata/ahci"]
    assert placed.nics[0].model is NicModel.E1000


def test_place_devices_skips_the_scsi_controllers_own_id() -> None:
    vm = machine(disks=17, bus=None, os=DEBIAN, controllers=(Controller(Bus.SCSI, ControllerModel.LSILOGIC),))
    vm = replace(vm, disks=tuple(Disk(capacity=1, controller=0) for _ in range(17)))
    placed, _ = place_devices(vm, choose_devices(vm, TargetKind.VMWARE))
    units = [(d.controller, d.unit) for d in placed.disks]
    assert units[:8] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 8)]
    assert units[15:] == [(1, 0), (1, 1)]
    assert [(c.bus, c.model, c.index) for c in placed.controllers] == [
        (Bus.SCSI, ControllerModel.LSILOGIC, 0),
        (Bus.SCSI, ControllerModel.LSILOGIC, 1),
    ]


@pytest.mark.parametrize("attachment", list(SeedAttachment))
def test_attach_seed(attachment: SeedAttachment) -> None:
    vm = attach_seed(machine(), "vm-cidata.iso", 1 << 20, attachment)
    if attachment is SeedAttachment.HARD_DISK:
        seed = vm.disks[-1]
        assert (seed.capacity, seed.bus, seed.image and seed.image.key) == (1 << 20, Bus.IDE, SEED_KEY)
        assert vm.removable == ()
    else:
        (drive,) = vm.removable
        assert drive.kind is DriveKind.CDROM and drive.image is not None
        assert (drive.image.key, drive.image.name, drive.image.format) == (SEED_KEY, "vm-cidata.iso", "iso")
        assert len(vm.disks) == 1
