"""End-to-end imports of our own OVF 0.9, 1.x and 2.0 samples (tests/data),
as folder packages and as OVAs, with disks made by qemu-img at test time."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import build_package, images_identical, read_ini, streamoptimized

from ovfconverter import ImportOptions, import_package
from ovfconverter.errors import DescriptorError, OptionError, PackageError

MIB = 1 << 20
GIB = 1 << 30
OS = "debootstrap+default"


def do_import(package: Path, out: Path, **options) -> tuple:
    result = import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out), **options))
    return result, read_ini(Path(result.path) / "config.ini")


def assert_not_a_ganeti_network(instance: dict[str, str], index: int, network: str, warnings: list[str]) -> None:
    """Off a Ganeti node, an OVF network is not taken for a Ganeti network:
    the NIC keeps the cluster's default mode and link, and one warning
    names the network."""
    assert f"nic{index}_network" not in instance
    assert (instance[f"nic{index}_mode"], instance[f"nic{index}_link"]) == ("none", "none")
    assert any(f"on network {network!r}" in w and "not taken as a Ganeti network" in w for w in warnings), warnings


def assert_nothing_written(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == []


# -- OVF 0.9 ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "ova"])
def test_import_ovf09(tmp_path: Path, out_dir: Path, kind: str) -> None:
    size = 5 * MIB + 512  # not a whole MiB: diskN_size rounds up
    raw, vmdk = streamoptimized(tmp_path, "legacy", size, seed=9)
    package = build_package(tmp_path, kind, "ovf09_vmware.ovf", {"legacy-disk1.vmdk": vmdk}, "SHA1")
    result, ini = do_import(package, out_dir)

    assert Path(result.path) == out_dir / "legacy-appliance"
    assert ini["export"] == {"version": "0", "os": OS}
    instance = ini["instance"]
    assert instance["name"] == "legacy-appliance"
    assert instance["disk_count"] == "1"
    assert instance["disk0_dump"] == "disk0.raw"
    assert instance["disk0_ivname"] == "disk/0"
    assert instance["disk0_size"] == "6"
    assert instance["nic_count"] == "2"
    assert instance["nic0_mac"] == "00:50:56:ab:cd:01"  # normalised to lower case
    assert_not_a_ganeti_network(instance, 0, "VM Network", result.warnings)
    assert instance["nic1_mac"] == "auto"
    assert_not_a_ganeti_network(instance, 1, "Backup Net", result.warnings)
    assert ini["backend"] == {"vcpus": "2", "maxmem": "384", "minmem": "384", "memory": "384"}

    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == size
    assert images_identical(raw, "raw", dump, "raw")
    assert [(d.source, d.source_format, d.size) for d in result.disks] == [("legacy-disk1.vmdk", "vmdk", size)]
    # the manifest covered everything and the image is what ovf:format says;
    # the one warning is that the OVF networks are not Ganeti networks
    assert [w.split(": ", 1)[1] for w in result.warnings] == [
        "NIC 0 on network 'VM Network'; NIC 1 on network 'Backup Net': not run on a Ganeti node, so not taken as "
        "a Ganeti network; the cluster's default NIC mode and link apply unless the package gives them "
        "(nics N:network=NAME picks a Ganeti network, nics N:link=BRIDGE a bridge)"
    ]


# -- OVF 2.0 ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "ova"])
def test_import_ovf20(tmp_path: Path, out_dir: Path, kind: str) -> None:
    raw, vmdk = streamoptimized(tmp_path, "root", GIB, seed=20)  # ovf:capacity 1 * 2^30
    package = build_package(tmp_path, kind, "ovf20_sasd.ovf", {"root.vmdk": vmdk})
    result, ini = do_import(package, out_dir)

    assert Path(result.path) == out_dir / "web-two"
    assert ini["export"]["os"] == OS
    instance = ini["instance"]
    assert instance["name"] == "web-two"
    assert instance["disk_count"] == "1"
    assert instance["disk0_size"] == "1024"
    assert instance["disk0_dump"] == "disk0.raw"
    assert instance["nic_count"] == "2"
    assert instance["nic0_mac"] == "52:54:00:12:34:56"
    assert_not_a_ganeti_network(instance, 0, "frontend", result.warnings)
    assert instance["nic1_mac"] == "auto"
    assert_not_a_ganeti_network(instance, 1, "backend", result.warnings)
    assert ini["backend"] == {"vcpus": "3", "maxmem": "1536", "minmem": "1536", "memory": "1536"}

    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == GIB
    assert images_identical(raw, "raw", dump, "raw")
    assert len(result.warnings) == 1


def test_import_ovf20_memory_in_gib_without_disks(tmp_path: Path, out_dir: Path) -> None:
    package = build_package(tmp_path, "folder", "ovf20_gib_memory.ovf", {})
    result, ini = do_import(package, out_dir)
    instance = ini["instance"]
    assert instance["name"] == "netboot"
    assert instance["disk_count"] == "0"
    assert instance["nic_count"] == "1"
    assert instance["nic0_mac"] == "52:54:00:aa:00:07"
    assert instance["nic0_mode"] == "bridged"  # a connection named after a Ganeti NIC mode
    assert instance["nic0_link"] == "none"
    assert ini["backend"] == {"vcpus": "1", "maxmem": "2048", "minmem": "2048", "memory": "2048"}
    assert sorted(p.name for p in Path(result.path).iterdir()) == ["config.ini"]


# -- OVF 1.x namespace styles ----------------------------------------------


@pytest.mark.parametrize("sample", ["ovf10_prefixed.ovf", "ovf11_default_ns.ovf"])
def test_import_ovf1x_namespace_styles(tmp_path: Path, out_dir: Path, sample: str) -> None:
    raw, vmdk = streamoptimized(tmp_path, "data", 3 * MIB, seed=10)
    package = build_package(tmp_path, "ova", sample, {"data.vmdk": vmdk})
    result, ini = do_import(package, out_dir)
    instance = ini["instance"]
    assert instance["name"] == "prefixed-vm"
    assert instance["disk_count"] == "1"
    assert instance["disk0_size"] == "3"
    assert instance["nic_count"] == "1"
    assert instance["nic0_mac"] == "02:00:00:00:01:01"
    assert_not_a_ganeti_network(instance, 0, "lab", result.warnings)
    assert ini["backend"]["vcpus"] == "1"
    assert ini["backend"]["maxmem"] == "640"
    assert images_identical(raw, "raw", Path(result.path) / "disk0.raw", "raw")


# -- VirtualSystemCollection -----------------------------------------------


def collection_package(tmp_path: Path, kind: str) -> tuple[Path, Path, Path]:
    web_raw, web_vmdk = streamoptimized(tmp_path, "web", MIB, seed=31)
    db_raw, db_vmdk = streamoptimized(tmp_path, "db", 2 * MIB, seed=32)
    package = build_package(tmp_path, kind, "ovf10_collection.ovf", {"web.vmdk": web_vmdk, "db.vmdk": db_vmdk})
    return package, web_raw, db_raw


def test_collection_import_needs_a_virtual_system(tmp_path: Path, out_dir: Path) -> None:
    package, _, _ = collection_package(tmp_path, "folder")
    with pytest.raises(PackageError) as info:
        import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir)))
    message = str(info.value)
    assert "VirtualSystemCollection of 2 virtual systems" in message
    assert "'web'" in message and "'db'" in message
    assert_nothing_written(out_dir)


def test_collection_import_unknown_virtual_system(tmp_path: Path, out_dir: Path) -> None:
    package, _, _ = collection_package(tmp_path, "folder")
    with pytest.raises(OptionError) as info:
        import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir), virtual_system="cache"))
    message = str(info.value)
    assert "'cache'" in message
    assert "'web'" in message and "'db'" in message
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("kind", ["folder", "ova"])
def test_collection_import_one_virtual_system(tmp_path: Path, out_dir: Path, kind: str) -> None:
    package, web_raw, db_raw = collection_package(tmp_path, kind)
    result, ini = do_import(package, out_dir, virtual_system="db")
    assert Path(result.path) == out_dir / "shop-db"
    instance = ini["instance"]
    assert instance["name"] == "shop-db"
    assert instance["disk_count"] == "1"  # the web system's disk is not imported
    assert instance["disk0_size"] == "2"
    assert instance["nic_count"] == "1"
    assert instance["nic0_mac"] == "02:00:00:00:0d:01"
    assert_not_a_ganeti_network(instance, 0, "service", result.warnings)
    assert ini["backend"]["vcpus"] == "2"
    assert ini["backend"]["maxmem"] == "768"
    dump = Path(result.path) / "disk0.raw"
    assert images_identical(db_raw, "raw", dump, "raw")
    assert not images_identical(web_raw, "raw", dump, "raw")
    assert sorted(p.name for p in Path(result.path).iterdir()) == ["config.ini", "disk0.raw"]
    assert [d.source for d in result.disks] == ["db.vmdk"]
    assert any("'web-file'" in w and "not imported" in w for w in result.warnings)


# -- DeploymentOptionSection -----------------------------------------------


@pytest.mark.parametrize(
    ("option", "vcpus", "memory", "macs"),
    [
        (None, "1", "512", ["02:00:00:00:00:10"]),  # the default profile is "small"
        ("small", "1", "512", ["02:00:00:00:00:10"]),
        ("large", "4", "4096", ["02:00:00:00:00:10", "02:00:00:00:00:11"]),
    ],
)
def test_import_deployment_profiles(
    tmp_path: Path, out_dir: Path, option: str | None, vcpus: str, memory: str, macs: list[str]
) -> None:
    package = build_package(tmp_path, "folder", "ovf10_profiles.ovf", {})
    result, ini = do_import(package, out_dir, deployment_option=option)
    instance = ini["instance"]
    assert instance["name"] == "sized-appliance"
    assert ini["backend"]["vcpus"] == vcpus
    assert ini["backend"]["maxmem"] == memory
    assert instance["nic_count"] == str(len(macs))
    assert [instance[f"nic{i}_mac"] for i in range(len(macs))] == macs
    # the scratch disk has no file: an empty disk of its capacity
    assert instance["disk_count"] == "1"
    assert instance["disk0_size"] == "64"
    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == 64 * MIB
    assert dump.read_bytes() == bytes(64 * MIB)  # all zero


def test_import_unknown_deployment_option_is_refused(tmp_path: Path, out_dir: Path) -> None:
    package = build_package(tmp_path, "folder", "ovf10_profiles.ovf", {})
    with pytest.raises(OptionError) as info:
        import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir), deployment_option="huge"))
    message = str(info.value)
    assert "'huge'" in message
    assert "'large'" in message and "'small'" in message
    assert_nothing_written(out_dir)


# -- unknown sections ------------------------------------------------------


def test_import_with_optional_sections(tmp_path: Path, out_dir: Path) -> None:
    # tools.iso is left out of the package: only a CD drive would use it
    package = build_package(tmp_path, "ova", "ovf10_optional_sections.ovf", {})
    result, ini = do_import(package, out_dir)
    instance = ini["instance"]
    assert instance["name"] == "extras"
    assert instance["disk_count"] == "1"
    assert instance["disk0_size"] == "24"  # ${disk_size} = 24, in byte * 2^20
    assert (Path(result.path) / "disk0.raw").stat().st_size == 24 * MIB
    assert instance["nic_count"] == "1"
    assert_not_a_ganeti_network(instance, 0, "office", result.warnings)
    assert ini["backend"]["vcpus"] == "2"
    assert ini["backend"]["maxmem"] == "128"
    assert any("tools.iso" in w and "missing" in w for w in result.warnings)
    assert any("cdrom" in w and "not imported" in w for w in result.warnings)


def test_import_with_required_unknown_section_is_refused(tmp_path: Path, out_dir: Path) -> None:
    package = build_package(tmp_path, "folder", "ovf10_required_section.ovf", {})
    with pytest.raises(DescriptorError) as info:
        import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir)))
    assert "{urn:example:acme-appliances}FirewallSection" in str(info.value)
    assert_nothing_written(out_dir)


# -- --disk N:size= over a disk of the package -------------------------------------------


def test_disk_option_replacing_a_package_disk_warns(tmp_path: Path, out_dir: Path) -> None:
    """--disk 0:size= drops the package's disk 0 for a blank one: never silently."""
    raw, vmdk = streamoptimized(tmp_path, "root", GIB, seed=21)
    package = build_package(tmp_path, "ova", "ovf20_sasd.ovf", {"root.vmdk": vmdk})
    result, ini = do_import(package, out_dir, disks={0: 2 * MIB})
    assert ini["instance"]["disk0_size"] == "2"
    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == 2 * MIB and dump.read_bytes() == bytes(2 * MIB)
    replaced = [w for w in result.warnings if "disks[0]" in w]
    assert replaced == [
        "ovf20_sasd.ovf: disks[0] replaces disk 0, Disk 'root' (File 'root.vmdk'), with a new empty disk of "
        "2097152 bytes: the package's disk is not imported"
    ]
