"""Usage errors exit 2 and say what would have been valid: option values out
of range (argparse), and options naming something the package or the target
does not have (:class:`ovfconverter.UsageError`, raised by the library)."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import FORMAT_URIS, MIB, DiskSpec, VmSpec, folder_package, make_raw_disk, run_cli, write_ganeti_export

import ovfconverter
from ovfconverter import ImportOptions, UsageError, import_package


def error_line(proc: object) -> str:
    stderr: str = proc.stderr  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A folder package: one 2 MiB raw disk, one NIC, 1024 MiB of memory."""
    (tmp_path / "src").mkdir()
    disk = make_raw_disk(tmp_path / "src" / "disk.raw", 2 * MIB)
    spec = VmSpec(
        name="vm1", memory=1024, disks=[DiskSpec("disk.raw", capacity=2 * MIB, format_uri=FORMAT_URIS["raw"])]
    )
    return folder_package(tmp_path / "src", spec, {"disk.raw": disk})


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--compression-level", "0"], "--compression-level '0': the deflate level (1: fastest, 9: smallest) is a"),
        (["--compression-level", "10"], "from 1 to 9"),
        (["--compression-level", "fast"], "from 1 to 9"),
        (["--threads", "0"], "--threads '0': the number of compression threads is a whole number from 1 to 64"),
        (["--digest", "md5"], "invalid choice: 'md5' (choose from 'sha1', 'sha256', 'sha512')"),
    ],
)
def test_export_values_out_of_range(args: list[str], said: str, tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1", 2 * MIB)
    proc = run_cli("export", str(config), "--output-dir", str(tmp_path / "out"), *args)
    assert proc.returncode == 2, proc.stderr
    assert said in error_line(proc)
    assert not (tmp_path / "out").exists()


def test_unknown_profile_lists_the_profiles(cot_dir: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(cot_dir / "input.ovf"), "-o", "raw-image", "--deployment-option", "X")
    assert proc.returncode == 2
    assert error_line(proc) == (
        "ovfconverter: error: --deployment-option 'X' is not a profile of the package "
        "(profiles: '1CPU-1GB-1NIC', '2CPU-2GB-1NIC', '4CPU-4GB-3NIC')"
    )
    with pytest.raises(UsageError) as caught:
        import_package(str(cot_dir / "input.ovf"), ImportOptions(os_type="x", deployment_option="X"))
    assert caught.value.choices == ("1CPU-1GB-1NIC", "2CPU-2GB-1NIC", "4CPU-4GB-3NIC")


def test_unknown_nic_key_is_said_with_the_valid_ones(package: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "--net", "0:brige=br0")
    assert proc.returncode == 2
    assert error_line(proc) == (
        "ovfconverter: error: --net 0: 'brige' is not a NIC parameter of a Ganeti import "
        "(mode, link, mac, ip, network, name, vlan; bridge is taken for link)"
    )
    bridged = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "--net", "0:bridge=br0")
    assert bridged.returncode == 0, bridged.stderr
    assert "nic0_link = br0" in (tmp_path / "vm1" / "config.ini").read_text()


def test_unknown_backend_parameter(package: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "-B", "cpus=2")
    assert proc.returncode == 2
    assert (
        "-B/--backend-parameters 'cpus' is not a Ganeti backend parameter (always_failover, auto_balance"
        in error_line(proc)
    )


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("maxmem=512", "minmem 1024 MiB (the package's) is above maxmem 512 MiB (-B/--backend-parameters 'maxmem')"),
        ("minmem=2G", "minmem 2048 MiB (-B/--backend-parameters 'minmem') is above maxmem 1024 MiB (the package's)"),
        (
            "maxmem=512,minmem=1G",
            "minmem 1024 MiB (-B/--backend-parameters 'minmem') is above maxmem 512 MiB (-B/--backend-parameters 'maxmem')",
        ),
    ],
)
def test_maxmem_below_minmem_says_memory_sets_both(package: Path, tmp_path: Path, option: str, said: str) -> None:
    proc = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "-B", option)
    assert proc.returncode == 2
    line = error_line(proc)
    assert said in line and "--backend-parameters=memory=SIZE sets both" in line, line
    both = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "-B", "memory=512")
    assert both.returncode == 0, both.stderr
    assert "maxmem = 512\nminmem = 512\n" in (tmp_path / "vm1" / "config.ini").read_text()


def test_unknown_hypervisor_option_is_a_usage_error(package: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(package), "-o", "raw-image", "--output-dir", str(tmp_path), "-H", "vmware")
    assert proc.returncode == 2
    assert "hypervisor 'vmware' is not one Ganeti knows (chroot, fake, kvm, lxc, xen-hvm, xen-pvm)" in error_line(proc)


def test_usage_error_is_exported_and_an_option_error() -> None:
    assert issubclass(ovfconverter.UsageError, ovfconverter.OptionError)
