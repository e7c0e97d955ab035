"""Machine -> xl.cfg, parsed by Xen's own parser (libxlutil through ctypes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from consumer_tools import XlParseError, check_vif, parse_xl_cfg

from ovfconverter.errors import TargetError
from ovfconverter.formats.xl_cfg import disk_spec, write_xl_cfg
from ovfconverter.hub.xen import XenSettings, machine_to_xl
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    DriveKind,
    Firmware,
    GanetiNicSettings,
    GanetiSettings,
    GuestOS,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
    RemovableDrive,
    frozen_map,
)
from ovfconverter.model.xen import XlDisk

HVM = Machine(
    name="web1",
    description='line one with "quotes" and \\ backslash\nline two \x1b[31m',
    os=GuestOS(family=OsFamily.LINUX),
    cpus=Cpus(2),
    memory=Memory(300 << 20),
    controllers=(Controller(Bus.SATA, ControllerModel.AHCI),),
    disks=(Disk(controller=0), Disk(controller=0)),
    removable=(RemovableDrive(DriveKind.CDROM),),
    nics=(
        Nic(mac="00:16:3E:00:00:01", model=NicModel.VMXNET3),
        Nic(model=NicModel.RTL8139, ganeti=GanetiNicSettings(mode="bridged", link="br7")),
    ),
)

PV = Machine(
    name="pv1.example.com",
    memory=Memory(512 << 20),
    disks=(Disk(), Disk()),
    nics=(Nic(mac="aa:00:00:11:22:33"),),
    ganeti=GanetiSettings(
        hypervisor="xen-pvm",
        hypervisor_parameters=frozen_map(
            {
                "kernel_path": "/boot/vmlinuz-xenU",
                "initrd_path": "None",
                "root_path": "/dev/sda1",
                "kernel_args": "ro console=hvc0",
                "blockdev_prefix": "sd",
            }
        ),
    ),
)


def write(machine: Machine, tmp_path: Path, **kw: object) -> Path:
    paths = tuple(str(tmp_path / f"my disk,{n}.qcow2") for n in range(len(machine.disks)))
    result = machine_to_xl(machine, XenSettings(disk_paths=paths, **kw))  # type: ignore[arg-type]
    path = tmp_path / "vm.cfg"
    path.write_text(write_xl_cfg(result.config))
    return path


def test_hvm_parses_with_xens_parser(tmp_path: Path) -> None:
    path = write(HVM, tmp_path, disk_format="qcow2", removable_paths=("/srv/iso/tools.iso",))
    parsed = parse_xl_cfg(path, strings=("name", "type", "hdtype", "boot", "serial"), longs=("memory", "vcpus"))
    assert parsed.strings == {"name": "web1", "type": "hvm", "hdtype": "ahci", "boot": "cd", "serial": "pty"}
    assert parsed.longs == {"memory": 300, "vcpus": 2}
    assert [(d.vdev, d.target, d.format, d.readwrite, d.cdrom) for d in parsed.disks] == [
        ("hda", str(tmp_path / "my disk,0.qcow2"), "qcow2", True, False),
        ("hdb", str(tmp_path / "my disk,1.qcow2"), "qcow2", True, False),
        ("hdc", "/srv/iso/tools.iso", "raw", False, True),
    ]
    assert [check_vif(v) for v in parsed.vifs] == [
        {"mac": "00:16:3e:00:00:01", "bridge": "xenbr0", "model": "e1000"},
        {"bridge": "br7", "model": "rtl8139"},
    ]
    assert "\x1b" not in path.read_text()


def test_efi_hvm_gets_ovmf_and_ide(tmp_path: Path) -> None:
    machine = Machine(name="efi", firmware=Firmware.EFI, disks=(Disk(bus=Bus.IDE),))
    parsed = parse_xl_cfg(write(machine, tmp_path), strings=("bios",))
    assert parsed.strings["bios"] == "ovmf"
    assert parsed.disks[0].vdev == "hda"


def test_pv_carries_kernel_root_and_args(tmp_path: Path) -> None:
    path = write(PV, tmp_path, bridges={0: "xenbr1"})
    parsed = parse_xl_cfg(path, strings=("name", "type", "kernel", "root", "extra"), longs=("memory",))
    assert parsed.strings == {
        "name": "pv1.example.com",
        "type": "pv",
        "kernel": "/boot/vmlinuz-xenU",
        "root": "/dev/sda1",
        "extra": "ro console=hvc0",
    }
    assert "ramdisk" not in path.read_text()
    assert [d.vdev for d in parsed.disks] == ["sda", "sdb"]
    assert [check_vif(v) for v in parsed.vifs] == [{"mac": "aa:00:00:11:22:33", "bridge": "xenbr1"}]


def test_pv_with_bootloader(tmp_path: Path) -> None:
    params = dict(PV.ganeti.hypervisor_parameters) if PV.ganeti else {}
    params.update(use_bootloader="True", bootloader_path="/usr/bin/pygrub", blockdev_prefix="xvd")
    machine = Machine(
        name="pv2",
        disks=(Disk(),),
        ganeti=GanetiSettings(hypervisor="xen-pvm", hypervisor_parameters=frozen_map(params)),
    )
    parsed = parse_xl_cfg(write(machine, tmp_path), strings=("bootloader",))
    assert parsed.strings["bootloader"] == "/usr/bin/pygrub"
    assert parsed.disks[0].vdev == "xvda"
    assert "kernel" not in (tmp_path / "vm.cfg").read_text()


def test_more_than_four_hvm_drives_become_xvd(tmp_path: Path) -> None:
    machine = Machine(name="many", disks=tuple(Disk(bus=Bus.IDE) for _ in range(6)))
    parsed = parse_xl_cfg(write(machine, tmp_path))
    assert [d.vdev for d in parsed.disks] == ["hda", "hdb", "hdc", "hdd", "xvde", "xvdf"]


@pytest.mark.parametrize(
    ("machine", "settings"),
    [
        (Machine(name='a"b', disks=(Disk(),)), {}),
        (Machine(name="ok", disks=(Disk(),), nics=(Nic(),)), {"bridges": {0: "br0,model=x"}}),
        (Machine(name="ok", disks=(Disk(),), nics=(Nic(mac="ff:ff:ff:ff:ff:ff"),)), {}),
        (Machine(name="ok", disks=(Disk(),), nics=(Nic(),)), {"default_bridge": 'x"y'}),
    ],
)
def test_refuses_what_xl_cannot_carry(machine: Machine, settings: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(TargetError):
        write(machine, tmp_path, **settings)


@pytest.mark.parametrize("target", ['/a"b', "/a\\b", "/a\nb", " /lead"])
def test_disk_paths_xl_cannot_carry(target: str) -> None:
    with pytest.raises(TargetError):
        disk_spec(XlDisk(vdev="hda", target=target))


def test_the_parser_harness_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text('name = "x"\ndisk = [ "vdev=hda, bogus=1, target=/x" ]\n')
    with pytest.raises(XlParseError, match="bogus"):
        parse_xl_cfg(bad, strings=("name",))
    bad.write_text('name = "x\n')
    with pytest.raises(XlParseError):
        parse_xl_cfg(bad)
