"""oVirt / RHV "Export as OVA": its own OVF dialect (tests/data/
ovf10_ovirt.ovf, written from what oVirt's OVA writer produces), read and
imported, or refused with a message that names it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from builders import DATA, convert, images_identical, make_ova, make_raw_disk, read_ini, run_cli

from ovfconverter import ImportOptions, import_package
from ovfconverter.errors import DescriptorError, PackageError
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.info import read_package, to_json
from ovfconverter.model.hardware import describe_hardware
from ovfconverter.pipelines.importer import build_plan

SAMPLE = "ovf10_ovirt.ovf"
COW = "6a1f0c52-2c1e-4d0a-9b0e-2f3c4d5e6f70"
RAW = "7b2e1d63-3d2f-4e1b-8c1f-3a4b5c6d7e81"
MIB = 1 << 20
OS = "raw-image+default"
QCOW_URI = "http://www.gnome.org/~markmc/qcow-image-format.html"
RAW_URI = "http://en.wikipedia.org/wiki/Byte"


def envelope(text: str | None = None):
    return read_envelope((text or (DATA / SAMPLE).read_text()).encode(), SAMPLE)


def test_the_ovirt_dialect_is_read() -> None:
    env = envelope()
    assert (env.version, env.producer) == ("1.0", "oVirt 4.4.0.0")
    assert [n.name for n in env.networks] == ["ovirtmgmt", "storage"]
    assert [(d.disk_id[-1], d.format, d.capacity) for d in env.disks] == [
        ("1", QCOW_URI, 1 << 30),
        ("2", RAW_URI, 1 << 30),
    ]
    (system,) = env.virtual_systems
    assert system.name == "web1"
    assert system.operating_system is not None and system.operating_system.description == "rhel_8x64"
    assert system.ovirt_value("BiosType") == "2" and system.ovirt_value("MaxMemorySizeMb") == "4096"
    hw = describe_hardware(env, system, None)
    assert (hw.cpus, hw.memory) == (2, 1 << 30)
    assert [a.file_id for a in hw.disks] == [COW, RAW]
    assert [(n.connection, n.mac, n.model) for n in hw.nics] == [
        ("ovirtmgmt", "56:6f:75:1b:00:01", "virtio"),
        ("storage", "56:6f:75:1b:00:02", "e1000"),
    ]
    assert hw.problems == [] and not any("Parent" in note for note in hw.notes)
    assert [i.label for i in hw.removable] == ["CDROM"]


def ovirt_ova(tmp_path: Path, text: str | None = None) -> tuple[Path, Path, Path]:
    """The sample as an OVA the way oVirt packs it (descriptor first, images
    named by image id, no manifest), with a qcow2 and a raw image."""
    work = tmp_path / "images"
    work.mkdir(parents=True)
    cow_raw = make_raw_disk(work / "cow.raw", 3 * MIB, seed=11)
    cow = convert(cow_raw, work / COW, "qcow2")
    # oVirt's disks are whole GiB; a grown qcow2 ends mid-sector, which qemu's raw driver refuses as a slice
    subprocess.run(["qemu-img", "resize", "-q", "-f", "qcow2", str(cow), "1G"], check=True)
    assert cow.stat().st_size % 512 != 0
    raw = make_raw_disk(work / RAW, 4 * MIB, seed=12)
    descriptor = text or (DATA / SAMPLE).read_text()
    for name, path in ((COW, cow), (RAW, raw)):
        descriptor = re.sub(
            rf'(ovf:href="{name}" ovf:id="{name}" ovf:size=)"\d+"', rf'\1"{path.stat().st_size}"', descriptor
        )
    ova = make_ova(tmp_path / "web1.ova", [("vm.ovf", descriptor.encode()), (COW, cow), (RAW, raw)])
    return ova, cow_raw, raw


def test_an_ovirt_ova_imports(tmp_path: Path, out_dir: Path) -> None:
    ova, cow_raw, raw = ovirt_ova(tmp_path)
    result = import_package(str(ova), ImportOptions(os_type=OS, output_dir=str(out_dir)))
    ini = read_ini(Path(result.path) / "config.ini")
    instance = ini["instance"]
    assert instance["name"] == "web1"
    assert (instance["disk_count"], instance["disk0_size"], instance["disk1_size"]) == ("2", "1024", "4")
    assert (instance["nic0_mac"], instance["nic1_mac"]) == ("56:6f:75:1b:00:01", "56:6f:75:1b:00:02")
    assert (ini["backend"]["vcpus"], ini["backend"]["maxmem"]) == ("2", "1024")
    folder = Path(result.path)
    assert images_identical(cow_raw, "raw", folder / "disk0.raw", "raw")
    assert images_identical(raw, "raw", folder / "disk1.raw", "raw")
    assert not any("UEFI" in w for w in result.warnings)
    text = run_cli("info", str(ova)).stdout
    assert text.startswith(f"{ova}: OVA, OVF 1.0 (oVirt 4.4.0.0 dialect), descriptor vm.ovf\n")
    assert f"  disk d1a2b3c4-0000-4000-8000-000000000001: {COW} (qcow2), capacity 1.0 GiB" in text
    assert to_json(read_package(str(ova)))["producer"] == "oVirt 4.4.0.0"


def test_ovirt_uefi_is_warned_about() -> None:
    env = envelope((DATA / SAMPLE).read_text().replace("<BiosType>2</BiosType>", "<BiosType>3</BiosType>"))
    plan = build_plan(env, ImportOptions(os_type=OS), SAMPLE)
    assert any(w.startswith("the VM boots with UEFI, which Ganeti has no parameter for") for w in plan.warnings)
    on_kvm = build_plan(env, ImportOptions(os_type=OS, hypervisor="kvm"), SAMPLE)
    assert on_kvm.config.hypervisor_params["kvm_extra"] == "-bios /usr/share/ovmf/OVMF.fd"


def test_an_unknown_volume_format_is_refused_as_an_ovirt_package(tmp_path: Path, out_dir: Path) -> None:
    text = (DATA / SAMPLE).read_text().replace('ovf:volume-format="RAW"', 'ovf:volume-format="QED"')
    ova, _, _ = ovirt_ova(tmp_path, text)
    proc = run_cli("import", str(ova), "-o", OS, "--output-dir", str(out_dir))
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert "oVirt package: Disk volume format 'QED' is neither COW nor RAW" in line
    assert list(out_dir.iterdir()) == []


def test_missing_images_are_refused_naming_the_ovirt_package(tmp_path: Path, out_dir: Path) -> None:
    ova = make_ova(tmp_path / "broken.ova", [("vm.ovf", (DATA / SAMPLE).read_bytes())])
    with pytest.raises(PackageError, match="this oVirt package has 2 problems"):
        import_package(str(ova), ImportOptions(os_type=OS, output_dir=str(out_dir)))


def test_the_vdsm_volume_path_of_export_domains_is_understood() -> None:
    text = (DATA / SAMPLE).read_text()
    text = text.replace(
        "<rasd:HostResource>ovf:/disk/d1a2b3c4-0000-4000-8000-000000000002</rasd:HostResource>",
        f"<rasd:HostResource>d1a2b3c4-0000-4000-8000-000000000002/{RAW}</rasd:HostResource>",
    ).replace(f'ovf:fileRef="{RAW}"', f'ovf:fileRef="d1a2b3c4-0000-4000-8000-000000000002/{RAW}"')
    text = text.replace(
        f'ovf:href="{RAW}" ovf:id="{RAW}"', f'ovf:href="{RAW}" ovf:id="d1a2b3c4-0000-4000-8000-000000000002/{RAW}"'
    )
    env = envelope(text)
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert hw.problems == [] and len(hw.disks) == 2
    assert any("read as oVirt's path of Disk" in note for note in hw.notes)


def test_a_snapshot_layer_is_noted() -> None:
    text = (
        (DATA / SAMPLE)
        .read_text()
        .replace(
            "<rasd:Parent>00000000-0000-0000-0000-000000000000</rasd:Parent>",
            "<rasd:Parent>11111111-2222-4333-8444-555555555555</rasd:Parent>",
            1,
        )
    )
    env = envelope(text)
    assert any("the VM has snapshots" in note for note in env.notes)


def test_an_unknown_required_section_is_still_refused() -> None:
    text = (
        (DATA / SAMPLE)
        .read_text()
        .replace("<BiosType>2</BiosType>", "<BiosType>2</BiosType><FooSection><Info>x</Info></FooSection>")
    )
    with pytest.raises(DescriptorError, match="FooSection in VirtualSystem"):
        envelope(text)


ROOT = Path(__file__).resolve().parents[2]


def test_user_guide_ovirt_walkthrough_is_real(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make-example"), str(tmp_path)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    lines = (ROOT / "doc" / "user-guide.rst").read_text(encoding="utf-8").splitlines()
    start = lines.index("    $ ovfconverter info web1.ova") + 1
    shown = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        shown.append(line[4:])
    info = run_cli("info", "web1.ova", cwd=tmp_path)
    assert info.returncode == 0 and info.stdout.splitlines() == shown
    result = run_cli(
        "import",
        "web1.ova",
        "-n",
        "web1.example.com",
        "-o",
        OS,
        "--net",
        "0:network=none,mode=bridged,link=br0",
        "--net",
        "1:network=none,mode=bridged,link=br1",
        "--output-dir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    start = (
        lines.index(
            "          --output-dir /srv/export",
            lines.index("    $ ovfconverter import web1.ova -n web1.example.com -o raw-image+default \\"),
        )
        + 1
    )
    shown_import = lines[start : lines.index("", start)]
    expected = [line[4:].replace("/srv/export", str(tmp_path / "out")) for line in shown_import]
    assert (result.stderr + result.stdout).splitlines() == expected


def test_ovirt_uefi_reaches_the_machine_model(tmp_path: Path) -> None:
    """Sources are read into the Machine whatever the target: an OVMF
    BiosType is its firmware, which --to openstack tells Nova."""
    from ovfconverter.model.openstack import HwFirmwareType
    from ovfconverter.pipelines.convert import convert
    from ovfconverter.targets.openstack import OpenStackOptions

    for bios, firmware in (("2", HwFirmwareType.BIOS), ("4", HwFirmwareType.UEFI)):
        text = (DATA / SAMPLE).read_text().replace("<BiosType>2</BiosType>", f"<BiosType>{bios}</BiosType>")
        ova, _, _ = ovirt_ova(tmp_path / bios, text)
        result = convert(str(ova), "openstack", OpenStackOptions(output_dir=str(tmp_path / bios / "out")))
        assert result.images[0].hw_firmware_type is firmware
