"""The command line of ``convert --to libvirt|xen``: refusals are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import boot_ova, make_raw_disk

OVFCONVERTER = Path(sys.executable).parent / "ovfconverter"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(OVFCONVERTER), "convert", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ova(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ova")
    return boot_ova(folder / "vm.ova", make_raw_disk(folder / "d.raw", 1 << 20), "vmware", "cli-vm")


@pytest.mark.parametrize(
    ("args", "status"),
    [
        # a --net these targets cannot read is a usage error, the keys they take said (exit 2)
        (["--to", "libvirt", "--net", "0:bridge"], 2),
        (["--to", "libvirt", "--net", "x:bridge=br0"], 2),
        (["--to", "libvirt", "--net", "0:vlan=3"], 2),
        (["--to", "xen", "--net", "0:network=default"], 1),
        (["--to", "openstack", "--net", "0:bridge=br0"], 1),
        (["--to", "libvirt", "-n", "bad/name"], 1),
    ],
)
def test_refusals_are_one_line(ova: Path, tmp_path: Path, args: list[str], status: int) -> None:
    result = cli(str(ova), "--output-dir", str(tmp_path), *args)
    assert result.returncode == status, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("ovfconverter: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.startswith("ovfconverter: ") for line in lines)  # no traceback
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]


def test_virtio_and_keep_devices_exclude_each_other(ova: Path, tmp_path: Path) -> None:
    result = cli(str(ova), "--to", "libvirt", "--virtio", "--keep-devices")
    assert result.returncode == 2


def test_existing_folder_needs_force(ova: Path, tmp_path: Path) -> None:
    assert cli(str(ova), "--to", "libvirt", "--output-dir", str(tmp_path)).returncode == 0
    again = cli(str(ova), "--to", "libvirt", "--output-dir", str(tmp_path))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = cli(
        str(ova), "--to", "libvirt", "--output-dir", str(tmp_path), "--force", "--virtio", "--disk-format", "raw"
    )
    assert forced.returncode == 0
    xml = (tmp_path / "cli-vm" / "cli-vm.xml").read_text()
    assert 'bus="virtio"' in xml and "cli-vm-disk0.raw" in xml
