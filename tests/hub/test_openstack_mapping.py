"""The OpenStack mapping: Machine + device choices -> Glance image records.

Every property name and value written is checked against the enums of
Nova/Glance spelled in ``model/openstack.py``; tests against the real
Glance's metadefs are in ``tests/pipelines/test_glance_upload.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from ovfconverter.errors import OptionError
from ovfconverter.hub.openstack import GIB, MIB, glance_images, image_names, os_distro
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Chipset,
    ControllerModel,
    Disk,
    Firmware,
    GanetiSettings,
    GuestOS,
    Machine,
    Memory,
    NicModel,
    OsFamily,
    frozen_map,
)
from ovfconverter.model.openstack import (
    ContainerFormat,
    DiskFormat,
    HwDiskBus,
    HwFirmwareType,
    HwScsiModel,
    HwVifModel,
    ImageRole,
    OsSecureBoot,
    OsType,
)


@dataclass(frozen=True)
class Storage:
    bus: Bus
    model: ControllerModel | None = None


@dataclass(frozen=True)
class Devices:
    """The device policy's answer, as ``hub.devices.DevicePlan`` gives it."""

    firmware: Firmware = Firmware.BIOS
    secure_boot: bool = False
    chipset: Chipset = Chipset.I440FX
    disks: tuple[Storage, ...] = (Storage(Bus.VIRTIO),)
    nics: tuple[NicModel, ...] = (NicModel.VIRTIO,)


DEBIAN = GuestOS(family=OsFamily.LINUX, distribution="debian", version="12", architecture=Architecture.X86_64)


def machine(**changes: object) -> Machine:
    base = Machine(
        name="web1.example.com",
        os=DEBIAN,
        memory=Memory(size=2048 * MIB),
        disks=(Disk(capacity=10 * GIB),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_boot_image_carries_every_machine_property() -> None:
    mapping = glance_images(machine(), Devices())
    (image,) = mapping.images
    assert image.create_fields() == {
        "name": "web1.example.com",
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_disk": 10,
        "min_ram": 2048,
        "architecture": "x86_64",
        "os_type": "linux",
        "os_distro": "debian",
        "os_version": "12",
        "hw_firmware_type": "bios",
        "hw_machine_type": "pc",
        "hw_disk_bus": "virtio",
        "hw_vif_model": "virtio",
    }
    assert image.role is ImageRole.BOOT and mapping.notes == ()


def test_sizes_round_up_to_glance_units() -> None:
    m = machine(memory=Memory(size=1000 * MIB + 1), disks=(Disk(capacity=GIB + 1),))
    (image,) = glance_images(m, Devices()).images
    assert (image.min_disk, image.min_ram) == (2, 1001)
    exact = machine(memory=Memory(size=512 * MIB), disks=(Disk(capacity=3 * GIB),))
    (image,) = glance_images(exact, Devices()).images
    assert (image.min_disk, image.min_ram) == (3, 512)


def test_min_ram_is_the_memory_floor_when_the_source_has_one() -> None:
    m = machine(memory=Memory(size=4096 * MIB, minimum=1024 * MIB))
    assert glance_images(m, Devices()).images[0].min_ram == 1024


def test_further_disks_become_volume_images_named_by_position() -> None:
    m = machine(disks=(Disk(capacity=10 * GIB), Disk(capacity=GIB // 2), Disk(capacity=100 * GIB)))
    devices = Devices(
        disks=(
            Storage(Bus.SCSI, ControllerModel.VIRTIO_SCSI),
            Storage(Bus.IDE),
            Storage(Bus.SCSI, ControllerModel.LSILOGIC),
        )
    )
    images = glance_images(m, devices).images
    assert [i.name for i in images] == ["web1.example.com", "web1.example.com-disk1", "web1.example.com-disk2"]
    assert [i.role for i in images] == [ImageRole.BOOT, ImageRole.VOLUME, ImageRole.VOLUME]
    assert [i.min_disk for i in images] == [10, 1, 100]
    assert [(i.hw_disk_bus, i.hw_scsi_model) for i in images] == [
        (HwDiskBus.SCSI, HwScsiModel.VIRTIO_SCSI),
        (HwDiskBus.IDE, None),
        (HwDiskBus.SCSI, HwScsiModel.LSILOGIC),
    ]
    # Volumes describe their disk only: booting properties stay on the boot image.
    assert set(images[1].create_fields()) == {
        "name",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "hw_disk_bus",
    }
    assert images[1].min_ram == 0


def test_uefi_q35_secure_boot_windows() -> None:
    windows = GuestOS(family=OsFamily.WINDOWS, distribution="windows", version="2019", architecture=Architecture.X86_64)
    m = machine(os=windows)
    devices = Devices(
        firmware=Firmware.EFI,
        secure_boot=True,
        chipset=Chipset.Q35,
        disks=(Storage(Bus.SATA),),
        nics=(NicModel.E1000E,),
    )
    (image,) = glance_images(m, devices).images
    assert image.hw_firmware_type is HwFirmwareType.UEFI
    assert image.os_secure_boot is OsSecureBoot.REQUIRED
    assert image.hw_machine_type == "q35"
    assert image.os_type is OsType.WINDOWS
    assert (image.hw_disk_bus, image.hw_vif_model) == (HwDiskBus.SATA, HwVifModel.E1000E)


def test_secure_boot_needs_uefi() -> None:
    (image,) = glance_images(machine(), Devices(secure_boot=True)).images
    assert image.os_secure_boot is None and image.hw_firmware_type is HwFirmwareType.BIOS


@pytest.mark.parametrize(
    ("nic", "vif"),
    [
        (NicModel.E1000, "e1000"),
        (NicModel.E1000E, "e1000e"),
        (NicModel.VMXNET3, "vmxnet3"),
        (NicModel.PCNET32, "pcnet"),
        (NicModel.RTL8139, "rtl8139"),
        (NicModel.NE2K_PCI, "ne2k_pci"),
        (NicModel.VIRTIO, "virtio"),
    ],
)
def test_nic_models_spelled_as_nova(nic: NicModel, vif: str) -> None:
    (image,) = glance_images(machine(), Devices(nics=(nic,))).images
    assert image.properties()["hw_vif_model"] == vif


def test_one_nic_model_per_server_is_noted() -> None:
    mapping = glance_images(machine(), Devices(nics=(NicModel.E1000, NicModel.VIRTIO)))
    assert mapping.images[0].hw_vif_model is HwVifModel.E1000
    assert any("one model" in note for note in mapping.notes)


def test_what_nova_cannot_say_is_left_unset_and_noted() -> None:
    devices = Devices(disks=(Storage(Bus.SCSI, ControllerModel.MEGASAS),), nics=(NicModel.VMXNET2,))
    mapping = glance_images(machine(), devices)
    image = mapping.images[0]
    assert image.hw_disk_bus is HwDiskBus.SCSI and image.hw_scsi_model is None
    assert image.hw_vif_model is None and "hw_vif_model" not in image.properties()
    assert len(mapping.notes) == 2
    nvme = glance_images(machine(), Devices(disks=(Storage(Bus.NVME),)))
    assert nvme.images[0].hw_disk_bus is None and nvme.notes


def test_no_nics_no_vif_model() -> None:
    (image,) = glance_images(machine(), Devices(nics=())).images
    assert "hw_vif_model" not in image.properties()


def test_unknown_guest_sets_nothing_about_it() -> None:
    (image,) = glance_images(machine(os=GuestOS()), Devices()).images
    props = image.properties()
    for key in ("architecture", "os_type", "os_distro", "os_version"):
        assert key not in props
    assert props["hw_machine_type"] == "pc"  # x86 assumed: IDE needs "pc"


def test_machine_type_only_on_x86() -> None:
    arm = machine(os=replace(DEBIAN, architecture=Architecture.AARCH64))
    (image,) = glance_images(arm, Devices()).images
    assert image.hw_machine_type is None and image.architecture == "aarch64"


def test_other_families_have_no_os_type() -> None:
    bsd = machine(os=GuestOS(family=OsFamily.BSD, distribution="freebsd", version="14.1"))
    (image,) = glance_images(bsd, Devices()).images
    assert image.os_type is None and image.os_distro == "freebsd" and image.os_version == "14.1"


def test_guest_agent_only_where_the_source_says() -> None:
    assert glance_images(machine(), Devices()).images[0].hw_qemu_guest_agent is None
    for value, expected in (("True", "yes"), ("False", "no")):
        ganeti = GanetiSettings(hypervisor="kvm", hypervisor_parameters=frozen_map({"use_guest_agent": value}))
        (image,) = glance_images(machine(ganeti=ganeti), Devices()).images
        assert image.properties()["hw_qemu_guest_agent"] == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("debian", "debian"),
        ("Debian", "debian"),
        ("archlinux", "arch"),
        ("redhat", "rhel"),
        ("rockylinux", "rocky"),
        ("sles", "sles"),
        ("", None),
        (None, None),
        ("debian\nos_type=windows", None),
        ("a b", None),
    ],
)
def test_os_distro_vocabulary(given: str | None, expected: str | None) -> None:
    assert os_distro(given) == expected


def test_hostile_version_is_dropped() -> None:
    m = machine(os=replace(DEBIAN, version="12\x1b]0;pwned\x07"))
    assert glance_images(m, Devices()).images[0].os_version is None


def test_raw_by_option_never_vmdk() -> None:
    (image,) = glance_images(machine(), Devices(), disk_format=DiskFormat.RAW).images
    assert image.disk_format is DiskFormat.RAW and image.container_format is ContainerFormat.BARE
    for refused in (DiskFormat.VMDK, DiskFormat.VHD, DiskFormat.VDI):
        with pytest.raises(OptionError, match="qcow2 or raw"):
            glance_images(machine(), Devices(), disk_format=refused)


def test_name_option_and_refusals() -> None:
    assert glance_images(machine(), Devices(), name="other").images[0].name == "other"
    with pytest.raises(OptionError, match="no name"):
        glance_images(machine(name=None), Devices())
    with pytest.raises(OptionError, match="no disk"):
        glance_images(machine(disks=()), Devices(disks=()))
    with pytest.raises(OptionError, match="capacity"):
        glance_images(machine(disks=(Disk(),)), Devices())
    with pytest.raises(OptionError, match="control"):
        image_names("evil\x1b[2J", 1)
    with pytest.raises(OptionError, match="255"):
        image_names("x" * 250, 2)
    assert image_names("x" * 255, 1) == ("x" * 255,)


def test_with_the_shared_device_policy() -> None:
    """The real policy's plans, spelled for Glance: a Debian guest on VMware
    LSI Logic gets virtio (its initramfs carries virtio_blk); a Windows guest
    keeps what it has a driver for; MegaRAID SAS, which the policy keeps,
    has no Nova spelling and is noted."""
    from ovfconverter.hub.devices import DevicePolicy, TargetKind, choose_devices
    from ovfconverter.model.machine import Controller, Nic

    lsi = (Controller(Bus.SCSI, ControllerModel.LSILOGIC),)
    debian = machine(controllers=lsi, disks=(Disk(capacity=GIB, controller=0),), nics=(Nic(model=NicModel.VMXNET3),))
    mapping = glance_images(debian, choose_devices(debian, TargetKind.OPENSTACK))
    assert (mapping.images[0].hw_disk_bus, mapping.images[0].hw_vif_model) == (HwDiskBus.VIRTIO, HwVifModel.VIRTIO)
    kept = glance_images(debian, choose_devices(debian, TargetKind.OPENSTACK, DevicePolicy.KEEP)).images[0]
    assert (kept.hw_disk_bus, kept.hw_scsi_model, kept.hw_vif_model) == (
        HwDiskBus.SCSI,
        HwScsiModel.LSILOGIC,
        HwVifModel.VMXNET3,
    )
    windows = replace(debian, os=GuestOS(family=OsFamily.WINDOWS, distribution="windows"))
    image = glance_images(windows, choose_devices(windows, TargetKind.OPENSTACK)).images[0]
    assert image.hw_disk_bus is HwDiskBus.IDE and image.os_type is OsType.WINDOWS
    megasas = machine(
        os=GuestOS(),
        controllers=(Controller(Bus.SCSI, ControllerModel.MEGASAS),),
        disks=(Disk(capacity=GIB, controller=0),),
    )
    mapping = glance_images(megasas, choose_devices(megasas, TargetKind.OPENSTACK))
    assert mapping.images[0].hw_disk_bus is HwDiskBus.SCSI and mapping.images[0].hw_scsi_model is None
    assert any("megasas" in note for note in mapping.notes)
