"""``convert SOURCE --to TARGET``: the conversion seam end to end.

``import`` and ``export`` are ``convert`` with a fixed source and target, so
``convert`` must write exactly what they write; pairs they do not cover (an
OVA to a qcow2 folder package, a folder package back to Ganeti) must keep
every disk byte and the machine's values.  Disks are judged by
``qemu-img compare``, packages by ``verify``.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
from builders import (
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    convert,
    images_identical,
    make_raw_disk,
    ova_package,
    read_ini,
    run_cli,
    write_ganeti_export,
)

from ovfconverter import (
    ExportOptions,
    ImportOptions,
    OptionError,
    PackageError,
    export_instance,
    import_package,
    verify_package,
)
from ovfconverter import convert as convert_machine
from ovfconverter.model.envelope import ResourceType
from ovfconverter.sources import detect_source
from ovfconverter.targets import TARGETS, target_class

MIB = 1 << 20


@pytest.fixture
def appliance(tmp_path: Path) -> tuple[Path, Path]:
    """An OVA with a 3 MiB qcow2 disk, 2 CPUs, 256 MiB, two NICs: (OVA, raw source)."""
    raw = make_raw_disk(tmp_path / "src.raw", 3 * MIB)
    qcow2 = convert(raw, tmp_path / "disk.qcow2", "qcow2")
    vm = VmSpec(
        name="appliance",
        cpus=2,
        memory=256,
        disks=[DiskSpec("disk.qcow2", capacity=3 * MIB, format_uri=FORMAT_URIS["qcow2"])],
        nics=[("bridged", "00:50:56:aa:bb:01"), ("bridged", None)],
    )
    return ova_package(tmp_path / "appliance.ova", vm, {"disk.qcow2": qcow2}), raw


def test_convert_to_ganeti_writes_what_import_writes(appliance: tuple[Path, Path], tmp_path: Path) -> None:
    ova, _ = appliance
    imported = import_package(str(ova), ImportOptions(os_type="debian", output_dir=str(tmp_path / "a")))
    converted = convert_machine(str(ova), "ganeti", ImportOptions(os_type="debian", output_dir=str(tmp_path / "b")))
    assert read_ini(Path(imported.path) / "config.ini") == read_ini(Path(converted.path) / "config.ini")
    assert filecmp.cmp(Path(imported.path) / "disk0.raw", Path(converted.path) / "disk0.raw", shallow=False)
    assert converted.warnings == imported.warnings


def test_convert_to_ova_writes_what_export_writes(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "web1.example.com", 4 * MIB)
    exported = export_instance(str(config), ExportOptions(ova=True, output_dir=str(tmp_path / "a")))
    converted = convert_machine(str(config.parent), "ova", ExportOptions(output_dir=str(tmp_path / "b")))
    assert Path(converted.path).name == "web1.example.com.ova"
    assert converted.envelope == exported.envelope
    assert [(f.name, f.size, f.digest) for f in converted.files] == [(f.name, f.size, f.digest) for f in exported.files]


def test_ova_to_qcow2_folder_package_keeps_disk_and_hardware(appliance: tuple[Path, Path], tmp_path: Path) -> None:
    ova, raw = appliance
    result = convert_machine(str(ova), "ovf", ExportOptions(format="qcow2", output_dir=str(tmp_path / "out")))
    folder = Path(result.path)
    assert sorted(p.name for p in folder.iterdir()) == ["appliance-disk0.qcow2", "appliance.mf", "appliance.ovf"]
    assert images_identical(raw, "raw", folder / "appliance-disk0.qcow2", "qcow2")
    assert verify_package(str(folder / "appliance.ovf")).ok
    (system,) = result.envelope.virtual_systems
    items = system.items
    assert [i.virtual_quantity for i in items if i.resource_type == ResourceType.PROCESSOR] == [2]
    assert [i.virtual_quantity for i in items if i.resource_type == ResourceType.MEMORY] == [256]
    nics = [i for i in items if i.resource_type == ResourceType.ETHERNET_ADAPTER]
    assert [(n.address, n.resource_subtype, n.connections) for n in nics] == [
        ("00:50:56:aa:bb:01", "E1000", ("bridged",)),
        (None, "E1000", ("bridged",)),
    ]
    assert result.envelope.ganeti is None  # the appliance had no Ganeti section to carry


def test_folder_package_back_to_ganeti(appliance: tuple[Path, Path], tmp_path: Path) -> None:
    ova, raw = appliance
    package = convert_machine(str(ova), "ovf", ExportOptions(format="vmdk", output_dir=str(tmp_path / "pkg")))
    back = convert_machine(
        package.path, "ganeti", ImportOptions(name="again", os_type="debian", output_dir=str(tmp_path / "gnt"))
    )
    ini = read_ini(Path(back.path) / "config.ini")
    assert ini["instance"]["nic0_mac"] == "00:50:56:aa:bb:01"
    assert ini["backend"]["vcpus"] == "2" and ini["backend"]["maxmem"] == "256"
    assert images_identical(raw, "raw", Path(back.path) / "disk0.raw", "raw")


def test_source_kinds_are_detected(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1", MIB)
    assert detect_source(str(config)) == ("ganeti", str(config))
    assert detect_source(str(config.parent)) == ("ganeti", str(config))
    assert detect_source("x.ova") == ("ovf", "x.ova")
    assert detect_source("x.OVF") == ("ovf", "x.OVF")
    with pytest.raises(PackageError, match="not a known source"):
        detect_source(str(tmp_path / "disk.img"))


def test_registry_names_every_target_and_refuses_others() -> None:
    assert sorted(TARGETS) == ["ganeti", "libvirt", "openstack", "ova", "ovf", "xen"]
    for name in TARGETS:
        assert target_class(name).name == name
    with pytest.raises(OptionError, match="unknown target 'vmx'"):
        target_class("vmx")


def test_cli_convert_refuses_options_of_another_target(appliance: tuple[Path, Path], tmp_path: Path) -> None:
    ova, _ = appliance
    before = sorted(tmp_path.rglob("*"))
    proc = run_cli(
        "convert", str(ova), "--to", "ganeti", "-o", "debian", "--format", "raw", "--output-dir", str(tmp_path)
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["ovfconverter: error: --format: not an option of --to ganeti"]
    proc = run_cli("convert", str(ova), "--to", "ova", "-o", "debian", "--output-dir", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["ovfconverter: error: --os-type: not an option of --to ova"]
    assert sorted(tmp_path.rglob("*")) == before


def test_cli_convert_to_ova_prints_where(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm2", 2 * MIB)
    proc = run_cli("convert", str(config), "--to", "ova", "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{tmp_path / 'out' / 'vm2.ova'}: OVA of 'vm2', 1 disk(s), OVF 1.0\n"
    assert images_identical(tmp_path / "gnt" / "disk0.dump", "raw", _only_disk(tmp_path / "out" / "vm2.ova"), "vmdk")


def _only_disk(ova: Path) -> Path:
    import tarfile

    with tarfile.open(ova) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith(".vmdk")]
        tar.extract(member, ova.parent, filter="data")
    return ova.parent / member.name


def test_warnings_are_typed_diagnostics(tmp_path: Path) -> None:
    import copy
    import json

    from ovfconverter.diagnostics import Code, Diagnostic

    raw = make_raw_disk(tmp_path / "src.raw", MIB)
    vm = VmSpec(
        name="typed",
        disks=[DiskSpec("disk.raw", capacity=MIB, format_uri=FORMAT_URIS["raw"])],
        nics=[("VM Network", None)],
        networks=["VM Network"],
    )
    ova = ova_package(tmp_path / "typed.ova", vm, {"disk.raw": raw})
    result = import_package(str(ova), ImportOptions(os_type="debian", output_dir=str(tmp_path / "out")))
    (warning,) = result.warnings
    assert isinstance(warning, Diagnostic)
    assert (warning.code, warning.subject) == (Code.PLAN, "package.ovf")
    assert warning == f"package.ovf: {warning.message}" and "not taken as a Ganeti network" in warning.message
    # still a plain string wherever a string goes
    assert json.loads(json.dumps(result.warnings)) == [str(warning)]
    again = copy.deepcopy(warning)
    assert (again, again.code, again.subject, again.message) == (
        warning,
        warning.code,
        warning.subject,
        warning.message,
    )


def test_info_of_a_ganeti_export_through_the_machine(tmp_path: Path) -> None:
    import json

    config = write_ganeti_export(tmp_path / "gnt", "vm3", 3 * MIB)
    proc = run_cli("info", str(config.parent))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:5] == [
        f"{config.parent}: ganeti source, config.ini",
        "machine 'vm3'",
        "  OS: Debian 64-bit (Ganeti OS debootstrap+default) (CIM 96)",
        "  hardware: 1 CPU(s), 512.0 MiB",
        "  disk 0: disk0.dump, capacity 3.0 MiB",
    ]
    proc = run_cli("info", str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["kind"], data["format_version"], data["machine"]["name"]) == ("ganeti", 1, "vm3")
    assert data["machine"]["memory"] == {"size": 512 * MIB, "minimum": None}
    assert data["machine"]["os"]["family"] == "linux"
    assert [n["ganeti"]["link"] for n in data["machine"]["nics"]] == ["br0"]
    assert run_cli("info", str(config), "--deployment-option", "x").returncode == 1
