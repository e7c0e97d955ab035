"""``convert --to xen`` end to end: an OVA and a Ganeti xen-pvm export become
folders whose xl.cfg Xen's own parser (libxlutil) reads, naming disks that
qemu-img reads back as the source's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import boot_ova, images_identical, make_raw_disk
from consumer_tools import check_vif, parse_xl_cfg

OVFCONVERTER = Path(sys.executable).parent / "ovfconverter"


def convert_cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(OVFCONVERTER), "convert", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def test_vmware_ova_becomes_an_hvm_guest(tmp_path: Path) -> None:
    raw = make_raw_disk(tmp_path / "disk.raw", 8 << 20)
    ova = boot_ova(tmp_path / "vm.ova", raw, "vmware", "xen-hvm1")
    out = convert_cli(str(ova), "--to", "xen", "--output-dir", str(tmp_path / "out"), "--net", "0:bridge=xenbr1")
    assert "xl create" in out.stdout
    folder = tmp_path / "out" / "xen-hvm1"
    parsed = parse_xl_cfg(folder / "xen-hvm1.cfg", strings=("name", "type"), longs=("memory", "vcpus"))
    assert parsed.strings == {"name": "xen-hvm1", "type": "hvm"}
    assert parsed.longs == {"memory": 256, "vcpus": 1}
    (disk,) = parsed.disks
    assert (disk.vdev, disk.format, disk.target) == ("hda", "raw", str(folder / "xen-hvm1-disk0.raw"))
    assert images_identical(raw, "raw", disk.target, "raw")
    assert [check_vif(v) for v in parsed.vifs] == [{"bridge": "xenbr1", "model": "e1000"}]


def test_ganeti_xen_pvm_export_stays_pv(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    raw = make_raw_disk(export / "disk0.dump", 4 << 20)
    (export / "config.ini").write_text(
        """[export]
version = 0
os = debootstrap+default
compression = none

[instance]
name = pv1.example.com
hypervisor = xen-pvm
disk_template = plain
maxmem = 512
minmem = 512
vcpus = 2
nic_count = 1
nic0_mac = aa:00:00:11:22:33
nic0_mode = bridged
nic0_link = xen-br0
disk_count = 1
disk0_ivname = disk/0
disk0_dump = disk0.dump
disk0_size = 4

[hypervisor]
kernel_path = /boot/vmlinuz-3-xenU
initrd_path = /boot/initrd-3-xenU
root_path = /dev/xvda1
kernel_args = ro
blockdev_prefix = xvd

[backend]
maxmem = 512
minmem = 512
vcpus = 2

[os]
"""
    )
    convert_cli(str(export), "--to", "xen", "--output-dir", str(tmp_path / "out"), "--disk-format", "qcow2")
    folder = tmp_path / "out" / "pv1.example.com"
    parsed = parse_xl_cfg(
        folder / "pv1.example.com.cfg", strings=("type", "kernel", "ramdisk", "root", "extra"), longs=("vcpus",)
    )
    assert parsed.strings == {
        "type": "pv",
        "kernel": "/boot/vmlinuz-3-xenU",
        "ramdisk": "/boot/initrd-3-xenU",
        "root": "/dev/xvda1",
        "extra": "ro",
    }
    assert parsed.longs == {"vcpus": 2}
    (disk,) = parsed.disks
    assert (disk.vdev, disk.format) == ("xvda", "qcow2")
    assert images_identical(raw, "raw", disk.target, "qcow2")
    (vif,) = parsed.vifs
    assert check_vif(vif)["mac"] == "aa:00:00:11:22:33"
