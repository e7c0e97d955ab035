"""The command line as a new user meets it: help, version, usage errors,
missing qemu-img, exit codes and the one-line error format."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from builders import FORMAT_URIS, DiskSpec, VmSpec, convert, make_raw_disk, ova_package, read_ini, run_cli

MIB = 1 << 20


@pytest.fixture
def qcow2_ova(tmp_path: Path) -> Path:
    raw = make_raw_disk(tmp_path / "d.raw", 4 * MIB)
    qcow2 = convert(raw, tmp_path / "d.qcow2", "qcow2")
    spec = VmSpec(
        name="cli-vm",
        disks=[DiskSpec("d.qcow2", capacity=4 * MIB, format_uri=FORMAT_URIS["qcow2"])],
        nics=[("VM Network", None)],
        networks=["VM Network"],
    )
    return ova_package(tmp_path / "vm.ova", spec, {"d.qcow2": qcow2})


def test_help_lists_commands_and_import_help_has_examples() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "import" in top.stdout
    imp = run_cli("import", "--help")
    assert imp.returncode == 0
    for text in ("examples:", "--deployment-option", "--net N:K=V", "gnt-backup import"):
        assert text in imp.stdout


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("ovfconverter 0.")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["import"],
        ["import", "x.ova", "--bogus"],
        ["frobnicate"],
        ["import", "x.ova", "--disk", "zero:size=1"],
        ["import", "x.ova", "--disk", "0:sise=1"],
        ["import", "x.ova", "--net", "9:mode=bridged"],
        ["import", "x.ova", "-B", "vcpus=1,vcpus=2"],
    ],
)
def test_usage_errors_exit_2_with_usage(args: list[str]) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("usage: ovfconverter")
    assert "Traceback" not in proc.stderr


def test_success_prints_where_the_export_is(qcow2_ova: Path, out_dir: Path) -> None:
    proc = run_cli("import", str(qcow2_ova), "--output-dir", str(out_dir), "-o", "debian")
    assert proc.returncode == 0, proc.stderr
    assert str(out_dir / "cli-vm") in proc.stdout
    assert "gnt-backup import" in proc.stdout
    assert proc.stderr.splitlines() == [
        "ovfconverter: warning: package.ovf: NIC 0 on network 'VM Network': not run on a Ganeti node, so not "
        "taken as a Ganeti network; the cluster's default NIC mode and link apply unless the package gives them "
        "(--net N:network=NAME picks a Ganeti network, --net N:link=BRIDGE a bridge)"
    ]


def test_options_override_per_key(qcow2_ova: Path, out_dir: Path) -> None:
    proc = run_cli(
        "import",
        str(qcow2_ova),
        "--output-dir",
        str(out_dir),
        "-o",
        "debian",
        "-B",
        "vcpus=3",
        "-H",
        "kvm:nic_type=e1000,kernel_path=/boot/vmlinuz",
        "--tags",
        "web,prod",
        "--net",
        "0:link=br1",
        "--disk",
        "1:size=2G",
        "-O",
        "variant=bookworm",
    )
    assert proc.returncode == 0, proc.stderr
    ini = read_ini(out_dir / "cli-vm" / "config.ini")
    assert ini["backend"]["vcpus"] == "3"
    assert ini["backend"]["maxmem"] == "512", "-B vcpus must not drop the package's memory"
    assert ini["instance"]["hypervisor"] == "kvm"
    assert ini["hypervisor"] == {
        "boot_order": "disk",
        "disk_type": "paravirtual",
        "initrd_path": "",
        "kernel_path": "/boot/vmlinuz",
        "machine_version": "pc",
        "nic_type": "e1000",
    }, "the device policy's kvm parameters, -H winning per key"
    assert ini["instance"]["tags"] == "web prod", "Ganeti splits tags on white space"
    assert "nic0_network" not in ini["instance"] and ini["instance"]["nic0_link"] == "br1"
    assert "network" not in proc.stderr, "--net 0:link= decided NIC 0's connection: nothing to warn about"
    assert ini["instance"]["disk1_size"] == "2048" and ini["instance"]["disk_count"] == "2"
    assert ini["os"] == {"variant": "bookworm"}
    assert (out_dir / "cli-vm" / "disk1.raw").stat().st_size == 2 << 30


def test_net_network_none_leaves_the_ovf_network_out(qcow2_ova: Path, out_dir: Path) -> None:
    proc = run_cli(
        "import",
        str(qcow2_ova),
        "--output-dir",
        str(out_dir),
        "-o",
        "debian",
        "--net",
        "0:network=none,mode=bridged,link=br0",
    )
    assert proc.returncode == 0, proc.stderr
    inst = read_ini(out_dir / "cli-vm" / "config.ini")["instance"]
    assert "nic0_network" not in inst
    assert (inst["nic0_mode"], inst["nic0_link"]) == ("bridged", "br0")


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["-n", "bad name"], "not a valid Ganeti instance name", 1),
        (["--net", "0:mode=nic"], "not a Ganeti NIC mode", 1),
        (["--net", "0:mac=zz:00:00:00:00:00"], "not six colon-separated octets", 1),
        (["-t", "lvm"], "disk template 'lvm'", 2),  # names no template: a usage error, the valid ones listed
        (["-H", "vmware"], "hypervisor 'vmware'", 2),
        (["-B", "vcpus=two"], "not a positive whole number", 1),
        (["-B", "cpus=2"], "not a Ganeti backend parameter", 2),
        (["--tags", "a b"], "not a valid Ganeti tag", 1),
        (["-O", "x=a%b"], "interpolates", 1),
        (["--net", "2:mode=bridged"], "must be given first", 1),
    ],
)
def test_refused_options_give_one_line(
    qcow2_ova: Path, out_dir: Path, args: list[str], message: str, status: int
) -> None:
    proc = run_cli("import", str(qcow2_ova), "--output-dir", str(out_dir), "-o", "debian", *args)
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ovfconverter: error: "), proc.stderr
    assert message in lines[0]
    assert list(out_dir.iterdir()) == []


def test_missing_package_and_debug_traceback(tmp_path: Path) -> None:
    proc = run_cli("import", str(tmp_path / "nope.ova"), "--output-dir", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ovfconverter: error: {tmp_path / 'nope.ova'}: no such file"
    proc = run_cli("import", str(tmp_path / "nope.ova"), "--output-dir", str(tmp_path), "--debug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("ovfconverter: error:")


def test_missing_qemu_img_names_the_debian_package(qcow2_ova: Path, out_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = run_cli(
        "import",
        str(qcow2_ova),
        "--output-dir",
        str(out_dir),
        "-o",
        "debian",
        env={"PATH": str(empty), "OVFCONVERTER_QEMU_IMG": ""},
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "ovfconverter: error: qemu-img not found: install the Debian package qemu-utils (apt-get install qemu-utils)"
    )
    assert sum("error" in line for line in proc.stderr.splitlines()) == 1
    assert list(out_dir.iterdir()) == []


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ovfconverter"
    assert script.exists() or shutil.which("ovfconverter")


@pytest.mark.parametrize(
    ("args", "unknown"),
    [
        (["export", "config.ini", "--forc"], "--forc"),  # once read as --force
        (["export", "config.ini", "--form", "raw"], "--form raw"),  # once read as --format
        (["export", "config.ini", "--ov"], "--ov"),
        (["info", "x.ova", "--js"], "--js"),
        (["verify", "x.ova", "--sch", "d"], "--sch d"),
        (["--verb", "info", "x.ova"], "--verb"),
    ],
)
def test_options_are_never_abbreviated(args: list[str], unknown: str) -> None:
    """No prefix matching on any parser: a shortened or new option (such as
    ``--for``) is never silently taken for a longer one."""
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == f"ovfconverter: error: unrecognized arguments: {unknown}"
