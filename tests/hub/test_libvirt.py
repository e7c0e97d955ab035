"""Machine -> libvirt domain XML, judged by libvirt itself: the domain schema
(virt-xml-validate), the test driver and a real libvirtd's qemu driver."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from consumer_tools import libvirtd, run, virsh_test_define, virt_xml_validate, world_readable_dir
from lxml import etree

from ovfconverter.errors import TargetError
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
    DriveKind,
    Firmware,
    GanetiNicSettings,
    GuestOS,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
    RemovableDrive,
)

LINUX = GuestOS(family=OsFamily.LINUX)


def vmware_like(**kw: object) -> Machine:
    values: dict[str, object] = dict(
        name="web1",
        description='an <appliance> & "quotes" \x07 bell',
        os=LINUX,
        cpus=Cpus(4, sockets=2, cores=2, threads=1),
        memory=Memory(768 << 20),
        controllers=(
            Controller(Bus.SCSI, ControllerModel.LSILOGIC),
            Controller(Bus.IDE),
            Controller(Bus.SCSI, ControllerModel.VIRTIO_SCSI),
            Controller(Bus.SATA, ControllerModel.AHCI),
        ),
        disks=(Disk(controller=0), Disk(controller=2), Disk(controller=1), Disk(controller=3)),
        removable=(RemovableDrive(DriveKind.CDROM, controller=1),),
        nics=(
            Nic(mac="00:50:56:AA:BB:CC", model=NicModel.E1000),
            Nic(model=NicModel.VMXNET3),
            Nic(model=NicModel.PCNET32, ganeti=GanetiNicSettings(mode="bridged", link="br9")),
        ),
    )
    values.update(kw)
    return Machine(**values)  # type: ignore[arg-type]


def settings(paths: tuple[str, ...], **kw: object) -> LibvirtSettings:
    return LibvirtSettings(disk_paths=paths, **kw)  # type: ignore[arg-type]


def domain_xml(machine: Machine, folder: Path, **kw: object) -> tuple[Path, etree._Element]:
    paths = tuple(str(folder / f"disk{n}.qcow2") for n in range(len(machine.disks)))
    result = machine_to_domain(machine, settings(paths, **kw))
    path = folder / "domain.xml"
    path.write_bytes(write_domain(result.domain))
    return path, etree.fromstring(path.read_bytes())


def test_domain_carries_the_machine(tmp_path: Path) -> None:
    path, root = domain_xml(
        vmware_like(),
        tmp_path,
        attachments={1: Attachment(InterfaceType.BRIDGE, "br0")},
        domain_type=DomainType.QEMU,
    )
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "web1"
    assert root.findtext("description") == 'an <appliance> & "quotes"   bell'
    assert root.findtext("memory") == str(768 * 1024)
    topology = root.find("cpu/topology")
    assert topology is not None and (topology.get("sockets"), topology.get("cores")) == ("2", "2")
    disks = root.findall("devices/disk")
    assert [(d.get("device"), d.find("target").get("bus"), d.find("target").get("dev")) for d in disks] == [
        ("disk", "scsi", "sda"),
        ("disk", "scsi", "sdb"),
        ("disk", "ide", "hda"),
        ("disk", "sata", "sdc"),
        ("cdrom", "ide", "hdb"),
    ]
    assert disks[0].find("boot").get("order") == "1"
    assert [d.find("address").get("controller") for d in disks] == ["0", "1", "0", "0", "0"]
    controllers = [(c.get("type"), c.get("index"), c.get("model")) for c in root.findall("devices/controller")]
    assert controllers == [
        ("scsi", "0", "lsilogic"),
        ("scsi", "1", "virtio-scsi"),
        ("ide", "0", None),
        ("sata", "0", None),
    ]
    nics = root.findall("devices/interface")
    assert [n.find("model").get("type") for n in nics] == ["e1000", "vmxnet3", "pcnet"]
    assert nics[0].find("mac").get("address") == "00:50:56:aa:bb:cc"
    assert nics[1].get("type") == "bridge" and nics[1].find("source").get("bridge") == "br0"
    assert nics[2].get("type") == "bridge" and nics[2].find("source").get("bridge") == "br9"
    assert nics[0].get("type") == "network" and nics[0].find("source").get("network") == "default"
    assert root.find("devices/serial") is not None and root.find("devices/console") is not None
    virt_xml_validate(path)
    virsh_test_define(path)


def test_efi_secure_boot_off_unless_the_source_says(tmp_path: Path) -> None:
    _, root = domain_xml(vmware_like(firmware=Firmware.EFI), tmp_path)
    os = root.find("os")
    assert os.get("firmware") == "efi"
    assert {f.get("name"): f.get("enabled") for f in os.findall("firmware/feature")} == {
        "secure-boot": "no",
        "enrolled-keys": "no",
    }
    assert os.find("type").get("machine") == "pc"
    # OVMF boots neither lsi nor pvscsi: the boot disk moved
    assert root.find("devices/disk/target").get("bus") == "ide"
    (tmp_path / "sb").mkdir()
    path, root = domain_xml(vmware_like(firmware=Firmware.EFI, secure_boot=True), tmp_path / "sb")
    assert root.find("os/type").get("machine") == "q35"
    assert root.find("features/smm").get("state") == "on"
    assert "ide" not in {t.get("bus") for t in root.iterfind("devices/disk/target")}
    virt_xml_validate(path)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "../etc/passwd"},
        {"name": "a\x1b[31m"},
        {"nics": (Nic(mac="01:00:5e:00:00:01"),)},
        {"nics": (Nic(mac="00:50:56:zz:00:01"),)},
        {"memory": Memory(0)},
        {"cpus": Cpus(0)},
    ],
)
def test_refuses_what_libvirt_refuses(bad: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(TargetError):
        domain_xml(vmware_like(**bad), tmp_path)


def test_disks_past_the_ide_room_go_to_sata(tmp_path: Path) -> None:
    m = vmware_like(
        controllers=(Controller(Bus.IDE),),
        disks=tuple(Disk(controller=0) for _ in range(4)),
        removable=(RemovableDrive(DriveKind.CDROM, controller=0),),
    )
    path, root = domain_xml(m, tmp_path, policy=DevicePolicy.KEEP)
    buses = [(d.get("device"), d.find("target").get("bus")) for d in root.findall("devices/disk")]
    assert buses == [("disk", "ide"), ("disk", "ide"), ("disk", "ide"), ("disk", "sata"), ("cdrom", "ide")]
    virt_xml_validate(path)


def test_many_scsi_disks_spill_to_a_second_controller(tmp_path: Path) -> None:
    m = vmware_like(disks=tuple(Disk(controller=0) for _ in range(9)))
    path, root = domain_xml(m, tmp_path, policy=DevicePolicy.KEEP)
    assert [c.get("index") for c in root.findall("devices/controller[@type='scsi']")] == ["0", "1"]
    virt_xml_validate(path)


@pytest.fixture(scope="module")
def qemu_uri() -> Iterator[str]:
    yield from libvirtd()


@pytest.mark.parametrize("firmware", [Firmware.BIOS, Firmware.EFI])
@pytest.mark.parametrize("policy", list(DevicePolicy))
def test_real_libvirtd_defines_it(qemu_uri: str, firmware: Firmware, policy: DevicePolicy) -> None:
    folder = world_readable_dir("ovfconv-libvirt-")
    try:
        machine = vmware_like(name=f"ovfconv-define-{firmware.value}-{policy.value}", firmware=firmware)
        for n in range(len(machine.disks)):
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(folder / f"disk{n}.qcow2"), "16M"], check=True
            )
        path, _ = domain_xml(machine, folder, domain_type=DomainType.QEMU, policy=policy)
        result = run("virsh", "-c", qemu_uri, "define", str(path))
        assert result.returncode == 0, result.stderr
        try:
            dumped = run("virsh", "-c", qemu_uri, "dumpxml", "--inactive", machine.name or "")
            assert dumped.returncode == 0
            root = etree.fromstring(dumped.stdout.encode())
            assert root.findtext("name") == machine.name
        finally:
            run("virsh", "-c", qemu_uri, "undefine", "--nvram", machine.name or "")
    finally:
        shutil.rmtree(folder)
