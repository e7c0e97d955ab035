"""Boot on arrival: machines shaped like a VMware OVA (LSI Logic + E1000,
BIOS), a VirtualBox OVA (SATA AHCI + virtio-net, Debian), and a VMware EFI
appliance (pvscsi + VmxNet3) are written as libvirt domains and booted under a
real libvirtd (TCG) with ``../shared/tools/make-boot-disk``'s disk; the
serial report must show the controllers and NIC models hub/devices chose.
The same three as OVAs (the EFI one saying so in ``vmw:Config``), and a
Ganeti export, go through ``ovfconverter convert --to libvirt`` and boot.
Slow (about 20-60 s a boot under TCG)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import BOOT_MAC, SHARED, boot_machines, boot_ova
from consumer_tools import (
    boot_domain,
    bridge,
    libvirtd,
    make_boot_disk,
    virt_xml_validate,
    world_readable_dir,
)

from ovfconverter.formats.libvirt_xml import write_domain
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.libvirt import Attachment, LibvirtSettings, machine_to_domain
from ovfconverter.model.libvirt import DomainType, InterfaceType
from ovfconverter.model.machine import Machine

pytestmark = pytest.mark.slow

BRIDGE = "ovfconvbr0"

#: machine, device policy -> (firmware, boot disk driver, NIC driver) expected
EXPECTED = {
    ("vmware", DevicePolicy.AUTO): ("bios", "sym53c8xx", "e1000"),
    ("virtualbox", DevicePolicy.AUTO): ("bios", "virtio_blk", "virtio_net"),
    ("virtualbox", DevicePolicy.KEEP): ("bios", "ahci", "virtio_net"),
    ("efi", DevicePolicy.AUTO): ("efi", "ata_piix", "vmxnet3"),
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


@pytest.mark.parametrize(("name", "policy"), list(EXPECTED), ids=[f"{n}-{p.value}" for n, p in EXPECTED])
def test_boots_under_libvirt(
    name: str,
    policy: DevicePolicy,
    qemu_uri: str,
    host_bridge: str,
    boot_disks: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine, disk_firmware = boot_machines()[name]
    assert isinstance(machine, Machine)
    firmware, disk_driver, nic_driver = EXPECTED[(name, policy)]
    folder = world_readable_dir("ovfconv-boot-")
    try:
        disk = folder / "disk0.qcow2"
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(boot_disks[disk_firmware]), str(disk)], check=True
        )
        result = machine_to_domain(
            machine,
            LibvirtSettings(
                disk_paths=(str(disk),),
                domain_type=DomainType.QEMU,
                policy=policy,
                attachments={0: Attachment(InterfaceType.BRIDGE, host_bridge)},
            ),
        )
        xml = folder / "domain.xml"
        xml.write_bytes(write_domain(result.domain))
        virt_xml_validate(xml)
        report = boot_domain(qemu_uri, xml, folder / "console.log")
        with capsys.disabled():
            print(f"\nlibvirt boot {name}-{policy.value}: {report.seconds:.0f} s")
        assert report.firmware == firmware
        assert report.boot_disk()["driver"] == disk_driver
        assert report.nic(BOOT_MAC)["driver"] == nic_driver
    finally:
        shutil.rmtree(folder)


# --- end to end: packages and exports through `ovfconverter convert` -------

OVFCONVERTER = Path(sys.executable).parent / "ovfconverter"

#: OVA style -> (firmware, boot disk driver, NIC driver) expected under libvirt
OVA_EXPECTED = {
    "vmware": ("bios", "sym53c8xx", "e1000"),
    "virtualbox": ("bios", "virtio_blk", "virtio_net"),
    # OVMF cannot boot from pvscsi and other Linux has no virtio: IDE
    "vmware-efi": ("efi", "ata_piix", "vmxnet3"),
}


def convert_cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(OVFCONVERTER), "convert", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("style", list(OVA_EXPECTED))
def test_ova_converted_to_libvirt_boots(
    style: str, qemu_uri: str, host_bridge: str, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    firmware, disk_driver, nic_driver = OVA_EXPECTED[style]
    folder = world_readable_dir("ovfconv-ova-")
    try:
        ova = boot_ova(folder / f"{style}.ova", boot_disks[firmware], style, f"ovfconv-ova-{style}")
        out = convert_cli(
            str(ova), "--to", "libvirt", "--output-dir", str(folder), "--domain-type", "qemu",
            "--net", f"0:bridge={host_bridge}",
        )  # fmt: skip
        assert "virsh define" in out.stdout
        xml = folder / f"ovfconv-ova-{style}" / f"ovfconv-ova-{style}.xml"
        virt_xml_validate(xml)
        report = boot_domain(qemu_uri, xml, folder / "console.log")
        with capsys.disabled():
            print(f"\nlibvirt boot of {style} OVA: {report.seconds:.0f} s")
        assert report.firmware == firmware
        assert report.boot_disk()["driver"] == disk_driver
        (nic,) = report.nics
        assert nic["driver"] == nic_driver
    finally:
        shutil.rmtree(folder)


def test_ganeti_export_converted_to_libvirt_boots(
    qemu_uri: str, host_bridge: str, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = world_readable_dir("ovfconv-gnt-")
    try:
        export = folder / "export"
        export.mkdir()
        shutil.copyfile(boot_disks["bios"], export / "disk0.dump")
        size_mib = -(-(export / "disk0.dump").stat().st_size // (1 << 20))
        (export / "config.ini").write_text(
            f"""[export]
version = 0
os = raw-image+default
compression = none

[instance]
name = ovfconv-gnt-boot
hypervisor = kvm
disk_template = file
maxmem = 256
minmem = 256
vcpus = 1
nic_count = 1
nic0_mac = {BOOT_MAC}
nic0_mode = bridged
nic0_link = {host_bridge}
disk_count = 1
disk0_ivname = disk/0
disk0_dump = disk0.dump
disk0_size = {size_mib}

[hypervisor]
disk_type = scsi-hd
scsi_controller_type = megasas
nic_type = rtl8139

[backend]
maxmem = 256
minmem = 256
vcpus = 1

[os]
"""
        )
        convert_cli(
            str(export), "--to", "libvirt", "--output-dir", str(folder), "--domain-type", "qemu",
            "--net", f"0:bridge={host_bridge}",
        )  # fmt: skip
        xml = folder / "ovfconv-gnt-boot" / "ovfconv-gnt-boot.xml"
        virt_xml_validate(xml)
        report = boot_domain(qemu_uri, xml, folder / "console.log")
        with capsys.disabled():
            print(f"\nlibvirt boot of a Ganeti export: {report.seconds:.0f} s")
        assert report.boot_disk()["driver"] == "megaraid_sas"
        assert report.nic(BOOT_MAC)["driver"] == "8139cp"
    finally:
        shutil.rmtree(folder)


def test_cloud_init_seed_reaches_the_guest_under_libvirt(
    qemu_uri: str, host_bridge: str, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``convert --to libvirt --cloud-init``: the domain boots with its seed
    in a read-only CD-ROM, and the guest's report lists that drive (issue 17)."""
    folder = world_readable_dir("ovfconv-seed-")
    try:
        ova = boot_ova(folder / "vbox.ova", boot_disks["bios"], "virtualbox", "ovfconv-seed")
        (folder / "user.yaml").write_text("#cloud-config\nhostname: seeded\n")
        convert_cli(
            str(ova), "--to", "libvirt", "--output-dir", str(folder), "--domain-type", "qemu",
            "--net", f"0:bridge={host_bridge}", "--cloud-init", str(folder / "user.yaml"),
        )  # fmt: skip
        xml = folder / "ovfconv-seed" / "ovfconv-seed.xml"
        virt_xml_validate(xml)
        report = boot_domain(qemu_uri, xml, folder / "console.log")
        with capsys.disabled():
            print(f"\nlibvirt boot with a cloud-init seed: {report.seconds:.0f} s")
        assert report.boot_disk()["driver"] == "virtio_blk"
        cdroms = [d for d in report.disks if d.get("media") == "cdrom"]
        assert len(cdroms) == 1, report.disks
        assert (cdroms[0]["driver"], cdroms[0]["boot"]) == ("ata_piix", "0")  # on the IDE bus the domain gives it
    finally:
        shutil.rmtree(folder)
