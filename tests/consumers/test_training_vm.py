"""The training-VM case end to end (issue 17): a Ganeti export whose second
disk is blank, published with ``export --ova --for virtualbox
--cloud-init ...``, then

* imported back by ovfconverter itself (the same disks, byte for byte);
* read by virt-v2v (``-i ova --print-source``, Debian's virt-v2v: an
  independent reader) and by COT (``cot info``), with the same hardware;
* booted under QEMU (TCG) with ``../shared/tools/make-boot-disk``'s disk as
  its first disk and the package's seed in its CD-ROM drive: the boot
  report shows the CD-ROM on the IDE controller, and the volume in it is
  the ``cidata`` seed.

virt-v2v and COT skip with their reason when they cannot run here
(``tools/setup-env`` installs virt-v2v as root; COT installs itself into a
scratch venv).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pycdlib
import pytest
from builders import MIB, SHARED, images_identical, read_ini, run_cli, run_cot, write_ganeti_export
from consumer_tools import make_boot_disk, parse_boot_report

NAME = "training.example.com"
USER_DATA = b"#cloud-config\nhostname: training\nusers:\n  - name: student\n    groups: [sudo]\n"
NETWORK = b"version: 2\nethernets:\n  nic0:\n    match: {name: 'e*'}\n    dhcp4: true\n"
MAC = "aa:00:00:11:22:33"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The boot disk, the Ganeti export built on it (plus a blank 64 MiB
    disk), and the OVA published for VirtualBox users."""
    if not (SHARED / "tools").is_dir():
        pytest.skip(f"{SHARED} is absent: no boot disk tool here")
    work = tmp_path_factory.mktemp("training")
    boot = make_boot_disk(SHARED, work / "boot.raw", efi=False)
    config = write_ganeti_export(work / "gnt", NAME, boot.stat().st_size, blank_mib=64)
    shutil.copyfile(boot, work / "gnt" / "disk0.dump")
    (work / "user.yaml").write_bytes(USER_DATA)
    (work / "net.yaml").write_bytes(NETWORK)
    proc = run_cli(
        "export",
        str(config),
        "--ova",
        "--for",
        "virtualbox",
        "--digest",
        "sha1",  # COT checks OVF 1.x manifests as SHA1 only (its limitation); VirtualBox reads both
        "--cloud-init",
        f"{work / 'user.yaml'},,{work / 'net.yaml'}",
        "--output-dir",
        str(work / "out"),
    )
    assert proc.returncode == 0, proc.stderr
    return {"work": work, "boot": boot, "config": config, "ova": work / "out" / f"{NAME}.ova"}


def test_our_import_gets_the_same_disks(published: dict[str, Path]) -> None:
    work = published["work"]
    proc = run_cli("import", str(published["ova"]), "-o", "raw-image+default", "--output-dir", str(work / "imported"))
    assert proc.returncode == 0, proc.stderr
    folder = work / "imported" / NAME
    ini = read_ini(folder / "config.ini")
    assert ini["instance"]["disk_count"] == "2"  # the CD-ROM is not a Ganeti disk
    boot_mib = -(-published["boot"].stat().st_size // MIB)
    assert (ini["instance"]["disk0_size"], ini["instance"]["disk1_size"]) == (str(boot_mib), "64")
    assert ini["instance"]["nic0_mac"] == MAC
    assert images_identical(folder / ini["instance"]["disk0_dump"], "raw", published["boot"], "raw")
    blank = folder / ini["instance"]["disk1_dump"]
    assert blank.stat().st_size == 64 * MIB
    with open(blank, "rb") as stream:
        assert not stream.read().strip(b"\0")


def test_virt_v2v_reads_the_same_hardware(published: dict[str, Path]) -> None:
    tool = shutil.which("virt-v2v")
    if tool is None:
        pytest.skip("virt-v2v is not installed (Debian package virt-v2v; tools/setup-env installs it as root)")
    proc = subprocess.run(
        [tool, "-i", "ova", str(published["ova"]), "--print-source"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert re.search(rf"^\s*source name: {re.escape(NAME)}$", text, re.M), text
    assert re.search(r"^\s*memory: 536870912 \(bytes\)$", text, re.M), text
    assert re.search(r"^\s*nr vCPUs: 1$", text, re.M), text
    assert re.search(r"^\s*firmware: bios$", text, re.M), text
    disks = text.split("disks:", 1)[1].split("removable media:", 1)[0]
    assert re.findall(r"^\s*(\d+) \[(\w+)\]$", disks, re.M) == [("0", "ide"), ("1", "ide")], text
    removable = text.split("removable media:", 1)[1].split("NICs:", 1)[0]
    assert re.findall(r"CD-ROM \[ide\]", removable) == ["CD-ROM [ide]"], text
    nics = text.split("NICs:", 1)[1]
    assert f"mac: {MAC} [virtio-net]" in nics, text


def test_cot_reads_the_same_hardware(published: dict[str, Path], cot: Path) -> None:
    proc = run_cot(cot, "info", "-v", str(published["ova"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    text = proc.stdout
    assert re.search(rf"^\s*{re.escape(NAME)}-disk0\.vmdk\s+.*harddisk @ IDE 0:0\s*$", text, re.M), text
    assert re.search(rf"^\s*{re.escape(NAME)}-disk1\.vmdk\s+.*64 MiB harddisk @ IDE 0:1\s*$", text, re.M), text
    assert re.search(rf"^\s*{re.escape(NAME)}-cidata\.iso\s+.*cdrom @ IDE 1:0\s*$", text, re.M), text
    assert "virtualbox-2.2" in text and "virtio-net" in text


def _member(ova: Path, suffix: str, out: Path) -> Path:
    with tarfile.open(ova) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith(suffix)]
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    out.write_bytes(data)
    return out


@pytest.mark.slow
def test_boots_with_the_seed_in_its_cdrom(published: dict[str, Path]) -> None:
    """The package's disk and seed as the descriptor places them (disk on
    the primary IDE master, CD-ROM on the secondary master), booted under
    QEMU: the boot report names the CD-ROM, and it holds the cidata seed."""
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        pytest.skip("qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
    work = published["work"]
    iso = _member(published["ova"], "-cidata.iso", work / "seed.iso")
    iso_reader = pycdlib.PyCdlib()
    iso_reader.open_fp(io.BytesIO(iso.read_bytes()))
    try:
        assert iso_reader.pvd.volume_identifier.rstrip() == b"cidata"
        user = io.BytesIO()
        iso_reader.get_file_from_iso_fp(user, rr_path="/user-data")
        assert user.getvalue() == USER_DATA
    finally:
        iso_reader.close()
    disk = work / "imported-boot.raw"
    subprocess.run(
        [
            "qemu-img",
            "convert",
            "-f",
            "vmdk",
            "-O",
            "raw",
            str(_member(published["ova"], "-disk0.vmdk", work / "d0.vmdk")),
            str(disk),
        ],
        check=True,
        capture_output=True,
    )
    log = work / "serial.log"
    start = time.monotonic()
    with open(log, "wb") as serial:
        proc = subprocess.run(
            [
                qemu,
                "-accel",
                "tcg",
                "-m",
                "256",
                "-nographic",
                "-no-reboot",
                "-serial",
                "stdio",
                "-monitor",
                "none",
                "-drive",
                f"file={disk},format=raw,if=ide,index=0,media=disk",
                "-drive",
                f"file={iso},format=raw,if=ide,index=2,media=cdrom,readonly=on",
                "-nic",
                f"user,model=virtio-net-pci,mac={MAC}",
            ],
            stdout=serial,
            stderr=subprocess.PIPE,
            timeout=300,
            check=False,
        )
    report = parse_boot_report(log.read_text(errors="replace"), time.monotonic() - start)
    assert report is not None, (proc.stderr.decode(errors="replace"), log.read_text(errors="replace")[-2000:])
    assert report.boot_disk()["driver"] == "ata_piix"
    cdroms = [d for d in report.disks if d.get("media") == "cdrom"]
    assert len(cdroms) == 1, report.disks
    assert cdroms[0]["driver"] == "ata_piix"
    assert report.nic(MAC)["driver"] == "virtio_net"
