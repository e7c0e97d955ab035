"""The command line of ``convert --to openstack``: the device policy's
switches, and the library's parameter spelled as the flag the user typed."""

from __future__ import annotations

import json
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


def test_virtio_puts_disk_and_nic_on_virtio(ova: Path, tmp_path: Path) -> None:
    result = cli(str(ova), "--to", "openstack", "--virtio", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    boot = json.loads((tmp_path / "cli-vm" / "cli-vm.json").read_text())
    assert (boot["hw_disk_bus"], boot["hw_vif_model"]) == ("virtio", "virtio") and "hw_scsi_model" not in boot
    assert "ovfconverter: warning: cli-vm.ovf: disk 0: --virtio: using virtio" in result.stderr.splitlines()


def test_keep_devices_keeps_the_sources_controller(ova: Path, tmp_path: Path) -> None:
    result = cli(str(ova), "--to", "openstack", "--keep-devices", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    boot = json.loads((tmp_path / "cli-vm" / "cli-vm.json").read_text())
    assert (boot["hw_disk_bus"], boot["hw_scsi_model"], boot["hw_vif_model"]) == ("scsi", "lsilogic", "e1000")


def test_virtio_and_keep_devices_exclude_each_other(ova: Path, tmp_path: Path) -> None:
    result = cli(str(ova), "--to", "openstack", "--virtio", "--keep-devices", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
    assert list(tmp_path.iterdir()) == []
