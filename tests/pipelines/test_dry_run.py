"""``--dry-run``: the plan of an import, an export or a conversion, every
value with where it comes from (package, option, default), and nothing
written; the plan says what the real run then writes."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import jsonschema
import pytest
from builders import COT, GANETI, MIB, json_schema, make_ova, run_cli, write_ganeti_export

from ovfconverter import ExportOptions, ImportOptions
from ovfconverter.hub.provenance import Origin
from ovfconverter.pipelines.convert import plan_conversion


@pytest.fixture
def appliance(tmp_path: Path, shared: Path) -> Path:
    names = ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"]
    return make_ova(tmp_path / "appliance.ova", [(name, COT / name) for name in names])


def decided(data: dict) -> dict[str, tuple[str, str]]:  # type: ignore[type-arg]
    return {d["where"]: (d["value"], d["from"]) for d in data["decisions"]}


def test_import_plan_says_where_each_key_comes_from_and_writes_nothing(appliance: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["-o", "raw-image", "-n", "vm1", "-B", "vcpus=2", "--net", "0:link=br0", "--output-dir", str(out)]
    proc = run_cli("import", str(appliance), *args, "--deployment-option", "2CPU-2GB-1NIC", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("plan"), cls=jsonschema.Draft202012Validator)
    assert not out.exists(), "--dry-run wrote something"
    assert data["path"] == str(out / "vm1") and data["target"] == "ganeti"
    keys = decided(data)
    assert keys["[export] os"] == ("raw-image", "option")
    assert keys["[instance] name"] == ("vm1", "option")
    assert keys["[backend] vcpus"] == ("2", "option")
    assert keys["[backend] maxmem"] == ("2048", "package")  # the profile's memory
    assert keys["[instance] nic0_link"] == ("br0", "option")
    assert keys["[instance] nic0_mac"] == ("auto", "default")
    assert keys["[instance] disk0_size"] == ("1024", "package")
    assert keys["[export] version"] == ("0", "default")
    assert any("CD-ROM 1" in w["message"] for w in data["warnings"])

    real = run_cli("import", str(appliance), *args, "--deployment-option", "2CPU-2GB-1NIC", "-q")
    assert real.returncode == 0, real.stderr
    written = configparser.RawConfigParser(interpolation=None)
    written.optionxform = str  # type: ignore[assignment,method-assign]
    written.read(out / "vm1" / "config.ini")
    wrote = {
        f"[{s}] {k}": "<private>" if s == "os_private" else v for s in written.sections() for k, v in written.items(s)
    }
    assert {k: v for k, (v, _) in keys.items()} == wrote, "the plan is what the import writes"


def test_text_plan(appliance: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(appliance), "-o", "raw-image", "--output-dir", str(tmp_path / "o"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        lines[0]
        == f"{tmp_path / 'o' / 'test'}: would be written (--dry-run: nothing written); values and where they come from:"
    )
    assert any(line.startswith("  [export] os = raw-image") and line.endswith("(option)") for line in lines)
    assert any(line.startswith("  [backend] vcpus = 4") and line.endswith("(package)") for line in lines)
    assert not (tmp_path / "o").exists()


def test_export_plan_matches_the_package_written(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1", 4 * MIB)
    out = tmp_path / "out"
    args = [str(config), "--ova", "--output-dir", str(out), "--digest", "sha1", "--virtual-system-type", "vmx-10"]
    proc = run_cli("export", *args, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("plan"), cls=jsonschema.Draft202012Validator)
    assert not out.exists()
    elements = decided(data)
    assert elements["VirtualSystem/Name"] == ("vm1", "package")
    assert elements["VirtualSystemType"] == ("vmx-10", "option")
    assert elements["Envelope/@ovf:version"] == ("1.0", "default")
    assert elements["manifest"] == ("vm1.mf (sha1)", "option")
    assert elements["Item[Memory]/VirtualQuantity"] == ("512 byte * 2^20", "package")
    assert elements["DiskSection/Disk[0]/@ovf:capacity"] == (str(4 * MIB), "package")
    assert elements["gnt:GanetiSection"] == ("written", "package")
    real = run_cli("export", *args, "--json", "-q")
    assert real.returncode == 0, real.stderr
    result = json.loads(real.stdout)
    assert result["path"] == data["path"]
    assert [f["name"] for f in result["files"]][2:] == [elements["References/File[0]/@ovf:href"][0]]


def test_library_plan_is_pure(tmp_path: Path, shared: Path) -> None:
    plan = plan_conversion(str(GANETI / "config.ini"), "ovf", ExportOptions(output_dir=str(tmp_path / "x")))
    assert plan.path == str(tmp_path / "x" / "ganeti-test-xen") and not (tmp_path / "x").exists()
    assert {d.origin for d in plan.decisions} >= {Origin.PACKAGE, Origin.DEFAULT}
    ganeti = plan_conversion(str(COT / "input.ovf"), "ganeti", ImportOptions(os_type="x", output_dir=str(tmp_path)))
    assert [d.where for d in ganeti.decisions][:3] == ["[export] version", "[export] os", "[instance] name"]


def test_dry_run_refuses_as_the_run_would(appliance: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(appliance), "--dry-run", "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 1 and "names no Ganeti OS" in proc.stderr
    proc = run_cli("convert", str(appliance), "--to", "openstack", "--dry-run")
    assert proc.returncode == 2 and "--dry-run: not available for --to openstack" in proc.stderr


def test_private_values_are_never_printed(tmp_path: Path) -> None:
    """A password property reaches [os_private]; neither the plan nor the
    result document prints it."""
    import subprocess
    import sys

    from builders import ROOT

    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make-example"), str(tmp_path)], check=True, capture_output=True
    )
    secret = "correct horse battery"
    args = ["-o", "raw-image", "--accept-eula", "--property", f"admin_password={secret}", "-q"]
    args += ["--property", "hostname=mon1.example.com", "--output-dir", str(tmp_path / "out"), "--json"]
    for extra in (["--dry-run"], []):
        proc = run_cli("import", str(tmp_path / "monitor.ova"), *args, *extra)
        assert proc.returncode == 0, proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert "<private>" in proc.stdout
    assert secret in (tmp_path / "out" / "monitor-appliance" / "config.ini").read_text()  # written, not printed


@pytest.mark.parametrize(
    ("command", "where"), [("export", "DiskSection/Disk[1]/@ovf:capacity"), ("convert", "[instance] disk1_size")]
)
def test_a_cloud_init_seed_disk_comes_from_the_option(command: str, where: str, tmp_path: Path) -> None:
    """--cloud-init adds a disk: its size is the option's doing, the
    package's disk stays the package's; nothing is written."""
    config = write_ganeti_export(tmp_path / "gnt", "vm1", 4 * MIB)
    (tmp_path / "user-data.yaml").write_text("#cloud-config\nhostname: vm1\n")
    out = tmp_path / "out"
    to = ["--to", "ganeti", "-o", "raw-image"] if command == "convert" else []
    args = [str(config), *to, "--cloud-init", str(tmp_path / "user-data.yaml"), "--output-dir", str(out)]
    proc = run_cli(command, *args, "--dry-run", "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    elements = decided(json.loads(proc.stdout))
    assert elements[where][1] == "option"
    assert elements[where.replace("1", "0")][1] == "package"
    assert not out.exists()
