"""Boot on arrival on Ganeti: the boot machines' Ganeti kvm parameters (from
hub/devices) go into a ``gnt-backup export`` folder with
``../shared/tools/make-boot-disk``'s disk; the real test cluster
(``ganeti-cluster up --with-kvm``, kvm under TCG) imports and starts it, and
the serial report must show the disk and NIC drivers those parameters mean.
An EFI OVA (vSphere's ``vmw:Config firmware=efi``) goes through
``ovfconverter import -H kvm`` itself, whose parameters must boot it.
The cluster is shared: the module holds /tmp/ovfconverter-ganeti-cluster.lock
while it uses it and brings it down at the end.  Slow."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import BOOT_MAC, ROOT, SHARED, boot_machines, boot_ova, read_ini, run_cli
from consumer_tools import BootReport, ganeti_cluster, make_boot_disk, parse_boot_report, world_readable_dir

from ovfconverter.hub.devices import DevicePolicy, TargetKind, choose_devices
from ovfconverter.hub.ganeti_devices import ganeti_kvm_parameters
from ovfconverter.model.machine import Machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the Ganeti test cluster needs root"),
]

TOOL = SHARED / "tools" / "ganeti-cluster"
RAW_IMAGE_OS = ROOT / "examples" / "ganeti-os" / "raw-image"
EXPORT_DIR = Path("/var/lib/ganeti/export")
NODE = "node1.ganeti.test"
TIMEOUT = 240

#: machine, device policy -> (firmware, boot disk driver, NIC driver) expected
EXPECTED = {
    ("vmware", DevicePolicy.AUTO): ("bios", "sym53c8xx", "e1000"),
    ("virtualbox", DevicePolicy.AUTO): ("bios", "virtio_blk", "virtio_net"),
    ("virtualbox", DevicePolicy.KEEP): ("bios", "ata_piix", "virtio_net"),
    ("efi", DevicePolicy.AUTO): ("efi", "ata_piix", "e1000"),
}


def cluster(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOL), *argv], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def ganeti() -> Iterator[None]:
    with ganeti_cluster(TOOL, RAW_IMAGE_OS):
        yield


@pytest.fixture(scope="module")
def boot_disks() -> Iterator[dict[str, Path]]:
    folder = world_readable_dir("ovfconv-bootdisk-")
    try:
        yield {
            "bios": make_boot_disk(SHARED, folder / "bios.raw", efi=False),
            "efi": make_boot_disk(SHARED, folder / "efi.raw", efi=True),
        }
    finally:
        shutil.rmtree(folder)


def export_folder(machine: Machine, policy: DevicePolicy, disk: Path, folder: Path) -> dict[str, str]:
    """A Ganeti 3.0 export of ``machine`` with the kvm parameters hub/devices
    gives it; returns those parameters."""
    plan = choose_devices(machine, TargetKind.GANETI_KVM, policy)
    params = ganeti_kvm_parameters(plan)
    memory_mib = (machine.memory.size if machine.memory else 256 << 20) >> 20
    folder.mkdir(parents=True)
    shutil.copyfile(disk, folder / "disk0.dump")
    hypervisor = "\n".join(f"{key} = {value}" for key, value in params.items())
    (folder / "config.ini").write_text(
        f"""[export]
version = 0
os = raw-image+default
compression = none

[instance]
name = {machine.name}
hypervisor = kvm
disk_template = file
maxmem = {memory_mib}
minmem = {memory_mib}
vcpus = 1
nic_count = 1
nic0_mac = {BOOT_MAC}
nic0_mode = bridged
nic0_link = gnt0
disk_count = 1
disk0_ivname = disk/0
disk0_dump = disk0.dump
disk0_size = {-(-disk.stat().st_size // (1 << 20))}

[hypervisor]
{hypervisor}

[backend]
maxmem = {memory_mib}
minmem = {memory_mib}
vcpus = 1

[os]
"""
    )
    return params


def boot_on_cluster(name: str, folder: Path) -> BootReport:
    imported = cluster(
        "run", "gnt-backup", "import", "-n", NODE, f"--src-node={NODE}", f"--src-dir={folder}",
        "--no-name-check", "--no-ip-check", name,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    try:
        console = subprocess.Popen(
            [str(TOOL), "console", name, str(TIMEOUT), "OVFCONV-BOOT-OK"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        start = time.monotonic()
        started = cluster("run", "gnt-instance", "startup", name)
        assert started.returncode == 0, started.stdout + started.stderr
        out, err = console.communicate(timeout=TIMEOUT + 60)
        report = parse_boot_report(out, time.monotonic() - start)
        assert report is not None, f"no boot report within {TIMEOUT} s: {out[-2000:]!r} {err!r}"
        return report
    finally:
        cluster("run", "gnt-instance", "remove", "-f", name)


@pytest.mark.parametrize(("name", "policy"), list(EXPECTED), ids=[f"{n}-{p.value}" for n, p in EXPECTED])
def test_boots_on_ganeti_kvm(
    name: str, policy: DevicePolicy, ganeti: None, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    machine, disk_firmware = boot_machines()[name]
    assert isinstance(machine, Machine)
    firmware, disk_driver, nic_driver = EXPECTED[(name, policy)]
    folder = EXPORT_DIR / f"ovfconv-boot-{name}-{policy.value}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        export_folder(machine, policy, boot_disks[disk_firmware], folder)
        report = boot_on_cluster(machine.name or "", folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    with capsys.disabled():
        print(f"\nganeti boot {name}-{policy.value}: {report.seconds:.0f} s")
    assert report.firmware == firmware
    assert report.boot_disk()["driver"] == disk_driver
    assert report.nic(BOOT_MAC)["driver"] == nic_driver


def test_efi_ova_imported_by_the_cli_boots_on_ganeti_kvm(
    ganeti: None, boot_disks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "ovfconv-boot-ova-efi"
    folder = world_readable_dir("ovfconv-ova-")
    export = EXPORT_DIR / name
    shutil.rmtree(export, ignore_errors=True)
    try:
        ova = boot_ova(folder / "efi.ova", boot_disks["efi"], "vmware-efi", name)
        imported = run_cli(
            "import", str(ova), "-o", "raw-image+default", "-H", "kvm", "--net", "0:link=gnt0",
            "--output-dir", str(EXPORT_DIR), "--quiet",
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        hypervisor = read_ini(export / "config.ini")["hypervisor"]
        assert hypervisor["kvm_extra"] == "-bios /usr/share/ovmf/OVMF.fd", "vmw:Config firmware=efi was read"
        assert (hypervisor["disk_type"], hypervisor["nic_type"]) == ("ide", "e1000")
        report = boot_on_cluster(name, export)
    finally:
        shutil.rmtree(export, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    with capsys.disabled():
        print(f"\nganeti boot of the EFI OVA through the CLI: {report.seconds:.0f} s")
    assert report.firmware == "efi"
    assert report.boot_disk()["driver"] == "ata_piix"
    (nic,) = report.nics
    assert nic["driver"] == "e1000"
