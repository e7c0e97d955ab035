"""examples/ganeti-os/raw-image, script by script, against Ganeti's OS API 20
(ganeti-os-interface(7)): each script run by /bin/sh with the environment
Ganeti gives it, on a regular file as the ``file`` disk template uses.
(test_ganeti_cluster.py runs the same OS through a real cluster.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from builders import ROOT

OS_DIR = ROOT / "examples" / "ganeti-os" / "raw-image"
MIB = 1 << 20
SCRIPTS = ("create", "import", "export", "rename", "verify")


def run(script: str, env: dict[str, str], *args: str, stdin: bytes = b"", **kwargs) -> subprocess.CompletedProcess:
    """Run ``script`` as Ganeti does: from the OS folder, with a clean
    environment plus the API's variables."""
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OS_API_VERSION": "20", "INSTANCE_NAME": "web1.example.com"}
    return subprocess.run(
        [str(OS_DIR / script), *args], input=stdin, capture_output=True, cwd=OS_DIR, env={**base, **env}, **kwargs
    )


def disk_env(path: Path, index: int = 0, size_mib: int | None = None) -> dict[str, str]:
    env = {"DISK_COUNT": str(index + 1), f"DISK_{index}_PATH": str(path)}
    if size_mib is not None:
        env[f"DISK_{index}_SIZE"] = str(size_mib)
    return env


def test_definition_files() -> None:
    assert (OS_DIR / "ganeti_api_version").read_text() == "20\n"
    assert (OS_DIR / "variants.list").read_text() == "default\n"
    # the OS parameters import writes an appliance's OVF properties into
    declared = [line.split()[0] for line in (OS_DIR / "parameters.list").read_text().splitlines()]
    assert declared == ["ovf_properties", "ovf_private_properties"]
    for script in SCRIPTS:
        assert os.access(OS_DIR / script, os.X_OK), f"{script} is not executable"


@pytest.mark.parametrize("declared_size", [True, False], ids=["DISK_0_SIZE", "before-ganeti-3.0"])
def test_import_of_a_short_image_keeps_the_file_disk_size(tmp_path: Path, declared_size: bool) -> None:
    """An image shorter than the disk (a dump of 5 MiB + 4 KiB for a 6 MiB
    disk) is written over its start; the file disk keeps its 6 MiB and
    the rest of the disk stays as it was."""
    disk = tmp_path / "disk0"
    disk.write_bytes(b"\xee" * (6 * MIB))
    image = os.urandom(5 * MIB + 4096)
    env = {**disk_env(disk, 0, 6 if declared_size else None), "IMPORT_DEVICE": str(disk), "IMPORT_INDEX": "0"}
    proc = run("import", env, stdin=image)
    assert proc.returncode == 0, proc.stderr
    data = disk.read_bytes()
    assert len(data) == 6 * MIB
    assert data[: len(image)] == image and data[len(image) :] == b"\xee" * (6 * MIB - len(image))


def test_import_writes_disk_n_of_several(tmp_path: Path) -> None:
    disks = [tmp_path / "disk0", tmp_path / "disk1"]
    for disk in disks:
        disk.write_bytes(bytes(2 * MIB))
    env = {
        "DISK_COUNT": "2",
        "DISK_0_PATH": str(disks[0]),
        "DISK_0_SIZE": "2",
        "DISK_1_PATH": str(disks[1]),
        "DISK_1_SIZE": "2",
        "IMPORT_DISK_PATH": str(disks[1]),
        "IMPORT_DEVICE": str(disks[1]),
        "IMPORT_INDEX": "1",
    }
    proc = run("import", env, stdin=b"second disk")
    assert proc.returncode == 0, proc.stderr
    assert disks[0].read_bytes() == bytes(2 * MIB)
    assert disks[1].read_bytes().startswith(b"second disk") and disks[1].stat().st_size == 2 * MIB


def test_import_refuses_an_image_larger_than_the_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk0"
    disk.write_bytes(bytes(MIB))
    env = {**disk_env(disk, 0, 1), "IMPORT_DEVICE": str(disk), "IMPORT_INDEX": "0"}
    proc = run("import", env, stdin=os.urandom(MIB + 1))
    assert proc.returncode == 1
    assert b"larger than the disk (1 MiB)" in proc.stderr
    assert disk.stat().st_size == MIB, "a file disk never grows past the size Ganeti gave it"


def test_import_without_a_local_path_fails_clearly(tmp_path: Path) -> None:
    proc = run("import", {"DISK_COUNT": "1", "DISK_0_URI": "rbd:pool/disk", "IMPORT_INDEX": "0"}, stdin=b"x")
    assert proc.returncode == 1
    assert b"no local path" in proc.stderr


def test_export_writes_the_whole_disk_and_its_size(tmp_path: Path) -> None:
    disk = tmp_path / "disk0"
    content = os.urandom(3 * MIB + 512)
    disk.write_bytes(content)
    read_end, write_end = os.pipe()
    env = {
        **disk_env(disk),
        "EXPORT_DEVICE": str(disk),
        "EXPORT_DISK_PATH": str(disk),
        "EXPORT_INDEX": "0",
        "EXP_SIZE_FD": str(write_end),
    }
    proc = run("export", env, pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as size_pipe:
        announced = size_pipe.read()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == content
    assert announced == f"{len(content)}\n".encode()


def test_verify_accepts_parameters_and_refuses_other_checks() -> None:
    assert run("verify", {}, "parameters").returncode == 0
    refused = run("verify", {}, "everything")
    assert refused.returncode == 1 and b"usage" in refused.stderr


def test_create_refuses_and_says_how_to_get_blank_disks() -> None:
    proc = run("create", {"DISK_COUNT": "0"})
    assert proc.returncode == 1
    assert b"--no-install" in proc.stderr


def test_rename_does_nothing_and_succeeds() -> None:
    assert run("rename", {"OLD_INSTANCE_NAME": "old.example.com"}).returncode == 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_a_usage_message(script: str) -> None:
    """ganeti-os-interface(7), "Common behaviour": a usage message for -h."""
    proc = run(script, {}, "--help")
    assert proc.returncode == 0 and b"usage" in proc.stdout
