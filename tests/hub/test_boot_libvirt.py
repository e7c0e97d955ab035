"""Boot on arrival: machines shaped like a VMware OVA (LSI Logic + E1000,
BIOS), a VirtualBox OVA (SATA AHCI + virtio-net, Debian), and a VMware EFI
appliance (pvscsi + VmxNet3) are written as libvirt domains and booted under a
real libvirtd (TCG) with ``../shared/tools/make-boot-disk``'s disk; the
serial report must show the controllers and NIC models hub/devices chose.
Slow (about 20-60 s a boot under TCG)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import SHARED
from consumers import boot_domain, bridge, libvirtd, make_boot_disk, virt_xml_validate, world_readable_dir

from ovfconverter.formats.libvirt_xml import write_domain
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.libvirt import Attachment, LibvirtSettings, machine_to_domain
from ovfconverter.model.libvirt import DomainType, InterfaceType
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    GuestOS,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
    VMwareSettings,
)

pytestmark = pytest.mark.slow

BRIDGE = "ovfconvbr0"


@dataclass
class Case:
    machine: Machine
    policy: DevicePolicy
    firmware: str
    disk_driver: str
    nic_driver: str


MAC = "52:54:00:0f:c0:01"
CASES = {
    "vmware-lsilogic-e1000": Case(
        Machine(
            name="ovfconv-boot-vmware",
            os=GuestOS(family=OsFamily.LINUX, vmware_os_type="otherLinux64Guest"),
            cpus=Cpus(1),
            memory=Memory(256 << 20),
            controllers=(Controller(Bus.SCSI, ControllerModel.LSILOGIC, source_subtype="lsilogic"),),
            disks=(Disk(controller=0),),
            nics=(Nic(mac=MAC, model=NicModel.E1000),),
        ),
        DevicePolicy.AUTO,
        "bios",
        "sym53c8xx",
        "e1000",
    ),
    "virtualbox-ahci-virtio-net": Case(
        Machine(
            name="ovfconv-boot-vbox",
            os=GuestOS(family=OsFamily.LINUX, distribution="debian", virtualbox_os_type="Debian_64"),
            cpus=Cpus(1),
            memory=Memory(256 << 20),
            controllers=(Controller(Bus.SATA, ControllerModel.AHCI),),
            disks=(Disk(controller=0),),
            nics=(Nic(mac=MAC, model=NicModel.VIRTIO),),
        ),
        DevicePolicy.AUTO,
        "bios",
        "virtio_blk",
        "virtio_net",
    ),
    "virtualbox-ahci-kept": Case(
        Machine(
            name="ovfconv-boot-vbox-keep",
            os=GuestOS(family=OsFamily.LINUX, distribution="debian"),
            memory=Memory(256 << 20),
            controllers=(Controller(Bus.SATA, ControllerModel.AHCI),),
            disks=(Disk(controller=0),),
            nics=(Nic(mac=MAC, model=NicModel.VIRTIO),),
        ),
        DevicePolicy.KEEP,
        "bios",
        "ahci",
        "virtio_net",
    ),
    "vmware-efi-pvscsi-vmxnet3": Case(
        Machine(
            name="ovfconv-boot-efi",
            os=GuestOS(family=OsFamily.LINUX, vmware_os_type="otherLinux64Guest"),
            memory=Memory(384 << 20),
            controllers=(Controller(Bus.SCSI, ControllerModel.PVSCSI),),
            disks=(Disk(controller=0),),
            nics=(Nic(mac=MAC, model=NicModel.VMXNET3),),
            vmware=VMwareSettings(extra_config=(("firmware", "efi"),)),
        ),
        DevicePolicy.AUTO,
        "efi",
        "ata_piix",
        "vmxnet3",
    ),
}


@pytest.fixture(scope="module")
def qemu_uri() -> Iterator[str]:
    yield from libvirtd()


@pytest.fixture(scope="module")
def host_bridge() -> Iterator[str]:
    yield from bridge(BRIDGE)


@pytest.fixture(scope="module")
def boot_disks(shared: Path) -> Iterator[dict[str, Path]]:
    folder = world_readable_dir("ovfconv-bootdisk-")
    try:
        yield {
            "bios": make_boot_disk(shared, folder / "bios.raw", efi=False),
            "efi": make_boot_disk(shared, folder / "efi.raw", efi=True),
        }
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def shared() -> Path:
    if not (SHARED / "tools").is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED


@pytest.mark.parametrize("name", list(CASES))
def test_boots_under_libvirt(
    name: str, qemu_uri: str, host_bridge: str, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    folder = world_readable_dir("ovfconv-boot-")
    try:
        disk = folder / "disk0.qcow2"
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(boot_disks[case.firmware]), str(disk)], check=True
        )
        result = machine_to_domain(
            case.machine,
            LibvirtSettings(
                disk_paths=(str(disk),),
                domain_type=DomainType.QEMU,
                policy=case.policy,
                attachments={0: Attachment(InterfaceType.BRIDGE, host_bridge)},
            ),
        )
        xml = folder / "domain.xml"
        xml.write_bytes(write_domain(result.domain))
        virt_xml_validate(xml)
        report = boot_domain(qemu_uri, xml, folder / "console.log")
        with capsys.disabled():
            print(f"\nboot {name}: {report.seconds:.0f} s")
        assert report.firmware == case.firmware
        assert report.boot_disk()["driver"] == case.disk_driver
        assert report.nic(MAC)["driver"] == case.nic_driver
    finally:
        shutil.rmtree(folder)
