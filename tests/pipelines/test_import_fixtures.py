"""Every import-side file of ../shared/fixtures is imported or refused exactly as
../shared/fixtures/README.md says.  (The config.ini fixtures are export
inputs: tests/test_export_fixtures.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builders import allocated, images_identical, read_ini, run_cli

from ovfconverter import ImportOptions, import_package
from ovfconverter.disks.to_raw import SourceImage, convert_to_raw
from ovfconverter.errors import DescriptorError, ManifestError, OptionError, PackageError
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.envelope import ResourceType
from ovfconverter.model.hardware import describe_hardware

MIB = 1 << 20


def _import(package: Path, out: Path, **options: object):  # type: ignore[no-untyped-def]
    return import_package(str(package), ImportOptions(output_dir=str(out), **options))  # type: ignore[arg-type]


def _refused(package: Path, out: Path, *args: str) -> str:
    """Run the CLI, check it refuses with exit 1 and one error line and
    writes nothing; return the error line."""
    proc = run_cli("import", str(package), "--output-dir", str(out), *args)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ovfconverter: error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == [], "a refused import must leave nothing behind"
    return errors[0]


# -- ganeti/ ---------------------------------------------------------------


def test_ganeti_ovf_imports_with_its_ganeti_section(ganeti_dir: Path, out_dir: Path) -> None:
    result = _import(ganeti_dir / "ganeti.ovf", out_dir)
    assert result.path == str(out_dir / "ganeti-test-xen")
    ini = read_ini(out_dir / "ganeti-test-xen" / "config.ini")
    assert ini["export"] == {"version": "0", "os": "lenny-image"}
    inst = ini["instance"]
    assert inst["name"] == "ganeti-test-xen"
    assert inst["hypervisor"] == "xen-pvm"
    assert inst["disk_template"] == "plain"
    assert (inst["nic0_mode"], inst["nic0_mac"], inst["nic0_link"]) == ("bridged", "aa:00:00:d8:2c:1e", "xen-br0")
    assert inst["nic_count"] == "1" and "nic0_network" not in inst
    assert inst["disk_count"] == "1"
    assert inst["disk0_size"] == "1", "51 200 bytes is 1 MiB rounded up (Ganeti writes 0)"
    assert ini["hypervisor"] == {"root-path": "/dev/sda", "kernel_args": "ro"}
    assert ini["backend"]["vcpus"] == "1"
    assert ini["backend"]["maxmem"] == ini["backend"]["minmem"] == ini["backend"]["memory"] == "2048"
    assert ini["backend"]["auto_balance"] == "False"
    dump = out_dir / "ganeti-test-xen" / inst["disk0_dump"]
    assert dump.stat().st_size == 51200
    assert images_identical(ganeti_dir / "new_disk.vmdk", "vmdk", dump, "raw")


def test_gzip_disk_imports_the_real_content(ganeti_dir: Path, out_dir: Path) -> None:
    result = _import(ganeti_dir / "gzip_disk.ovf", out_dir)
    dump = Path(result.disks[0].path)
    assert dump.stat().st_size == 51200
    assert images_identical(ganeti_dir / "new_disk.vmdk", "vmdk", dump, "raw")


def test_virtualbox_ovf_needs_os_and_imports_the_attached_disk(ganeti_dir: Path, out_dir: Path) -> None:
    """Both disk Items name vmdisk1 at IDE 0:0 (one device written twice);
    vmdisk2 is attached by no Item, so it is not the VM's (doc/decisions.rst,
    "Which disks"), and the import says so."""
    error = _refused(ganeti_dir / "virtualbox.ovf", out_dir)
    assert "-o/--os-type" in error
    result = _import(ganeti_dir / "virtualbox.ovf", out_dir, name="vbox1", os_type="debian-image")
    ini = read_ini(Path(result.path) / "config.ini")
    assert ini["instance"]["disk_count"] == "1"
    assert ini["instance"]["nic_count"] == "1"
    assert ini["instance"]["nic0_mode"] == "bridged"
    assert ini["instance"]["nic0_mac"] == "auto", "no MAC in the package: Ganeti generates one"
    dump = Path(result.path) / ini["instance"]["disk0_dump"]
    assert images_identical(ganeti_dir / "new_disk.vmdk", "vmdk", dump, "raw")
    assert sorted(p.name for p in Path(result.path).iterdir()) == ["config.ini", "disk0.raw"]
    assert (
        "virtualbox.ovf: Disk 'vmdisk2' (file 'second_disk.vmdk') is attached by no Item of any profile; not imported"
        in (result.warnings)
    )
    assert any("'vmdisk1' is attached again, at the same controller address" in w for w in result.warnings)


def test_virtualbox_name_falls_back_to_the_system_id(ganeti_dir: Path, out_dir: Path) -> None:
    result = _import(ganeti_dir / "virtualbox.ovf", out_dir, os_type="debian-image")
    assert result.config.name == "Ubuntu-freshly-created"


def test_gzip_compressed_ova_imports_with_a_warning_and_stays_sparse(ganeti_dir: Path, out_dir: Path) -> None:
    proc = run_cli("import", str(ganeti_dir / "ova.ova"), "--output-dir", str(out_dir))
    assert proc.returncode == 0, proc.stderr
    assert "gzip-compressed" in proc.stderr and "warning" in proc.stderr
    dump = out_dir / "ganeti-test-xen" / "disk0.raw"
    assert dump.stat().st_size == 8 << 30
    assert allocated(dump) < 16 * MIB, "the 8 GiB raw dump must stay sparse"
    ini = read_ini(out_dir / "ganeti-test-xen" / "config.ini")
    assert ini["instance"]["disk0_size"] == "8192"
    assert ini["export"]["os"] == "lenny-image"
    assert [p.name for p in out_dir.iterdir()] == ["ganeti-test-xen"], "no temporary copy may stay behind"


def test_empty_ovf_takes_everything_from_the_command_line(ganeti_dir: Path, out_dir: Path) -> None:
    error = _refused(ganeti_dir / "empty.ovf", out_dir, "-o", "debian")
    assert "--name" in error
    error = _refused(ganeti_dir / "empty.ovf", out_dir, "-o", "debian", "-n", "empty1")
    assert "no disk and no NIC" in error
    proc = run_cli(
        "import",
        str(ganeti_dir / "empty.ovf"),
        "--output-dir",
        str(out_dir),
        "-n",
        "empty1",
        "-o",
        "debian",
        "--disk",
        "0:size=10",
        "--net",
        "0:mode=bridged,link=br0",
        "-B",
        "vcpus=2,memory=1G",
        "-t",
        "plain",
    )
    assert proc.returncode == 0, proc.stderr
    ini = read_ini(out_dir / "empty1" / "config.ini")
    assert ini["instance"]["disk0_size"] == "10"
    assert ini["instance"]["disk0_dump"] == "disk0.raw"
    assert (out_dir / "empty1" / "disk0.raw").stat().st_size == 10 * MIB
    assert allocated(out_dir / "empty1" / "disk0.raw") == 0
    assert ini["instance"]["nic0_mode"] == "bridged" and ini["instance"]["nic0_link"] == "br0"
    assert ini["backend"]["vcpus"] == "2" and ini["backend"]["maxmem"] == "1024"


def test_wrong_extension_is_refused_by_extension(ganeti_dir: Path, out_dir: Path) -> None:
    error = _refused(ganeti_dir / "wrong_extension.ovd", out_dir, "-o", "debian")
    assert "'.ovd'" in error


def test_wrong_ova_is_refused_as_not_a_tar(ganeti_dir: Path, out_dir: Path) -> None:
    error = _refused(ganeti_dir / "wrong_ova.ova", out_dir, "-o", "debian")
    assert "not a tar archive" in error


def test_suse_studio_descriptor_parses(ganeti_dir: Path) -> None:
    envelope = read_envelope((ganeti_dir / "wrong_extension.ovd").read_bytes(), "wrong_extension.ovd")
    system = envelope.virtual_systems[0]
    assert system.name == "AyertiennaSUSE.x86_64-0.0.2"
    assert system.hardware[0].system_types == ("vmx-04",)
    assert envelope.disks[0].capacity == 16514 * MIB
    assert envelope.disks[0].format.endswith("#streamOptimized")  # type: ignore[union-attr]
    hw = describe_hardware(envelope, system, None)
    assert (hw.cpus, hw.memory) == (1, 512 * MIB)
    assert [nic.model for nic in hw.nics] == ["E1000"]
    assert sorted(item.resource_type for item in hw.removable) == [ResourceType.FLOPPY_DRIVE, ResourceType.CD_DRIVE]
    assert not hw.problems
    optional = [item for item in system.items if not item.required]
    assert len(optional) == 3


@pytest.mark.parametrize(
    ("fixture", "expected", "error_type"),
    [
        ("corrupted_resources.ovf", "other_disk.vmdk", PackageError),
        ("no_disk_in_ref.ovf", "names no File in References", PackageError),
        ("wrong_manifest.ovf", "digest mismatch", ManifestError),
        ("wrong_xml.ovf", "not well-formed XML at line 71", DescriptorError),
        ("no_ovf.ova", "no .ovf descriptor", PackageError),
    ],
)
def test_broken_ganeti_fixtures_are_refused(
    ganeti_dir: Path, out_dir: Path, fixture: str, expected: str, error_type: type
) -> None:
    with pytest.raises(error_type, match=expected):
        _import(ganeti_dir / fixture, out_dir, os_type="debian", name="x1")
    assert list(out_dir.iterdir()) == []
    assert expected in _refused(ganeti_dir / fixture, out_dir, "-o", "debian", "-n", "x1")


# -- cot/ ------------------------------------------------------------------


def test_cot_input_imports_the_default_profile(cot_dir: Path, out_dir: Path) -> None:
    result = _import(cot_dir / "input.ovf", out_dir, os_type="cisco-image")
    ini = read_ini(Path(result.path) / "config.ini")
    assert ini["backend"]["vcpus"] == "4"
    assert ini["backend"]["maxmem"] == "4096"
    assert ini["instance"]["nic_count"] == "3"
    assert not any(f"nic{i}_network" in ini["instance"] for i in range(3)), "not on a Ganeti node: no network"
    assert any("NICs 0, 1, 2 on network 'VM Network'" in w for w in result.warnings)
    assert ini["instance"]["disk_count"] == "1"
    assert ini["instance"]["disk0_size"] == "1024"
    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == 1 << 30
    assert images_identical(cot_dir / "input.vmdk", "vmdk", dump, "raw")
    warnings = " ".join(result.warnings)
    assert "CD-ROM 1" in warnings and "file2" in warnings, "the ISO is reported, not imported"
    assert "sample_cfg.txt" in warnings, "the plain file is reported, not imported"


def test_cot_input_other_profile(cot_dir: Path, out_dir: Path) -> None:
    result = _import(cot_dir / "input.ovf", out_dir, os_type="cisco-image", deployment_option="1CPU-1GB-1NIC")
    assert result.config.backend["vcpus"] == "1"
    assert result.config.backend["maxmem"] == "1024"
    assert len(result.config.nics) == 1
    with pytest.raises(OptionError, match="4CPU-4GB-3NIC"):
        _import(cot_dir / "input.ovf", out_dir, os_type="x", name="y", deployment_option="8CPU")


def test_cot_blank_vmdk_converts_to_an_all_zero_sparse_raw(cot_dir: Path, tmp_path: Path) -> None:
    blank = cot_dir / "blank.vmdk"
    part = ByteRange(str(blank), 0, blank.stat().st_size, "blank.vmdk")
    dest = tmp_path / "blank.raw"
    converted = convert_to_raw(
        SourceImage(
            "blank.vmdk",
            (part,),
            declared_format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
        ),
        str(dest),
        str(tmp_path),
    )
    assert converted.virtual_size == 512 * MIB
    assert dest.stat().st_size == 512 * MIB
    assert allocated(dest) <= 4096, "qemu-img allocates at most the first block of a raw target"
    with open(dest, "rb") as stream:
        assert not any(stream.read(1 << 20))


def test_cot_minimal_needs_os_and_a_disk_or_nic(cot_dir: Path, out_dir: Path) -> None:
    envelope = read_envelope((cot_dir / "minimal.ovf").read_bytes(), "minimal.ovf")
    assert [s.id for s in envelope.virtual_systems] == ["x"]
    assert "-o/--os-type" in _refused(cot_dir / "minimal.ovf", out_dir)
    assert "--disk or --net" in _refused(cot_dir / "minimal.ovf", out_dir, "-o", "debian")
    proc = run_cli(
        "import",
        str(cot_dir / "minimal.ovf"),
        "--output-dir",
        str(out_dir),
        "-o",
        "debian",
        "--net",
        "0:mode=routed,ip=192.0.2.10",
    )
    assert proc.returncode == 0, proc.stderr
    ini = read_ini(out_dir / "x" / "config.ini")
    assert ini["instance"]["nic0_ip"] == "192.0.2.10"
    assert ini["instance"]["disk_count"] == "0"


def test_cot_invalid_is_refused_with_every_problem(cot_dir: Path, out_dir: Path) -> None:
    error = _refused(cot_dir / "invalid.ovf", out_dir, "-o", "debian")
    assert "3 problems" in error
    assert "nonexistent.vmdk" in error
    assert "flash2" in error
    assert "this_is_a_really_long_filename_for_a_disk.vmdk" in error


def test_cot_iosv_blank_disk_is_created(cot_dir: Path, out_dir: Path) -> None:
    envelope = read_envelope((cot_dir / "iosv.ovf").read_bytes(), "iosv.ovf")
    flash = envelope.disk("flash2")
    assert flash is not None and flash.file_ref is None and flash.capacity == 128 * MIB
    assert "-n/--name" in _refused(cot_dir / "iosv.ovf", out_dir, "-o", "ios")
    result = _import(cot_dir / "iosv.ovf", out_dir, os_type="ios", name="iosv1")
    sizes = [(disk.source, disk.size) for disk in result.disks]
    assert (None, 128 * MIB) in sizes, "the file-less Disk becomes an empty disk of its capacity"
    assert ("input.vmdk", 1 << 30) in sizes


def test_cot_csr1000v_parses_with_its_profiles(cot_dir: Path) -> None:
    envelope = read_envelope((cot_dir / "csr1000v.ovf").read_bytes(), "csr1000v.ovf")
    assert [o.id for o in envelope.deployment_options] == ["1CPU-4GB", "2CPU-4GB", "4CPU-4GB", "4CPU-8GB"]
    assert envelope.default_configuration().id == "1CPU-4GB"  # type: ignore[union-attr]
    system = envelope.virtual_systems[0]
    assert len(system.properties) == 27
    for profile, cpus, memory_gib in (("1CPU-4GB", 1, 4), ("2CPU-4GB", 2, 4), ("4CPU-8GB", 4, 8)):
        hw = describe_hardware(envelope, system, profile)
        assert (hw.cpus, hw.memory) == (cpus, memory_gib << 30), profile


def test_fixture_folders_are_read_in_place(ganeti_dir: Path, out_dir: Path, tmp_path: Path) -> None:
    """A symlink from a package folder to a fixture file is refused: hrefs
    may not leave the folder, even through links."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    shutil.copy(ganeti_dir / "virtualbox.ovf", folder / "vm.ovf")
    (folder / "new_disk.vmdk").symlink_to(ganeti_dir / "new_disk.vmdk")
    (folder / "second_disk.vmdk").symlink_to(ganeti_dir / "second_disk.vmdk")
    error = _refused(folder / "vm.ovf", out_dir, "-o", "debian")
    assert "outside the package folder" in error
