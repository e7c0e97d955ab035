"""The user guide's walkthroughs "VMware OVA to OpenStack" and "Ganeti
instance to OpenStack", run command for command against a real Glance,
plus the ``convert --to openstack`` command line around them: sources from
the shared fixtures, the refusals, ``--json``."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from builders import ROOT, LocalGlance, make_ova, run_cli, write_kvm_export

GUIDE = ROOT / "doc" / "user-guide.rst"
MIB = 1 << 20


def guide_commands(title: str) -> list[tuple[list[str], list[str]]]:
    """The ``$ ovfconverter ...`` commands of the guide's section ``title``,
    in order, as argument lists (without the program name), each with the
    output the guide shows under it (the indented lines up to the next
    command or blank line)."""
    lines = GUIDE.read_text().splitlines()
    start = lines.index(title) + 2
    underline = re.compile(r"[=~-]{4,}\Z")
    end = next((i - 1 for i in range(start, len(lines)) if underline.match(lines[i])), len(lines))
    commands: list[tuple[list[str], list[str]]] = []
    output: list[str] | None = None  # the lines of the last command's output so far
    for line in lines[start:end]:
        if re.match(r"\s+\$ ovfconverter ", line):
            output = []
            commands.append((shlex.split(line)[2:], output))
        elif output is not None and line.startswith("    "):
            output.append(line[4:])
        else:
            output = None
    assert commands, f"no commands in the guide's section {title!r}"
    return commands


_IMAGE_ID = re.compile(r"\bid (?:[0-9a-f]{8}-[0-9a-f.-]+|\.\.\.)")


def shown(output: str, tmp_path: Path) -> list[str]:
    """``output`` as the guide shows it: the user's home for the test's
    folder; image ids (the guide's ``5c8d2e3a-...``, a real one) as ``id
    ID`` (compare with :func:`without_ids` of the guide's lines)."""
    return without_ids(output.replace(str(tmp_path), "/home/admin").splitlines())


def without_ids(lines: list[str]) -> list[str]:
    return [_IMAGE_ID.sub("id ID", line) for line in lines]


def vmware_ova(folder: Path, cot: Path) -> Path:
    """COT's VMware-style package (vmw: extensions, LSI Logic, VMXNET3,
    streamOptimized disk, SHA1 manifest) as ``appliance.ova``."""
    names = ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"]
    return make_ova(folder / "appliance.ova", [(name, cot / name) for name in names])


def _env(glance: LocalGlance) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(glance.env)
    return env


def _cli(args: list[str], cwd: Path, glance: LocalGlance):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "ovfconverter", *args], capture_output=True, text=True, cwd=cwd, env=_env(glance)
    )


def _active_with_fields(glance: LocalGlance, image_id: str, fields: dict[str, object]) -> None:
    raw = glance.connection().image.get(f"/images/{image_id}").json()
    assert raw["status"] == "active"
    for key in ("name", "disk_format", "min_disk", "min_ram", "checksum", "os_hash_value", "size"):
        assert str(raw[key]) == str(fields[key]), key
    for key, value in fields.items():
        if key.startswith(("hw_", "os_")) and key not in ("os_hash_algo", "os_hash_value"):
            assert raw[key] == value, key


def test_walkthrough_vmware_ova_to_openstack(glance: LocalGlance, tmp_path: Path, cot_dir: Path) -> None:
    vmware_ova(tmp_path, cot_dir)
    before = glance.image_ids()
    outputs = []
    for args, output in guide_commands("VMware OVA to OpenStack"):
        proc = _cli(args, tmp_path, glance)
        assert proc.returncode == 0, (args, proc.stderr)
        if args[0] == "convert" and output and "--json" not in args:  # JSON: its wildcards are the doc harness's
            assert shown(proc.stderr + proc.stdout, tmp_path) == without_ids(output)
        outputs.append(proc)
    # The convert step wrote the image and its fields.
    fields = json.loads((tmp_path / "images" / "test" / "test.json").read_text())
    assert fields["hw_disk_bus"] == "scsi" and fields["hw_scsi_model"] == "lsilogic"
    assert fields["hw_vif_model"] == "vmxnet3" and fields["min_ram"] == 4096 and fields["min_disk"] == 1
    # The upload step (--json) printed the ids of images now active in Glance.
    result = json.loads(outputs[-1].stdout)
    (image,) = result["images"]
    assert image["id"] in glance.image_ids() - before
    _active_with_fields(glance, image["id"], image)


def test_walkthrough_ganeti_instance_to_openstack(glance: LocalGlance, tmp_path: Path) -> None:
    write_kvm_export(tmp_path / "web1.example.com")
    before = glance.image_ids()
    for args, output in guide_commands("Ganeti instance to OpenStack"):
        proc = _cli(args, tmp_path, glance)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "uploaded: id " in proc.stdout
        assert shown(proc.stderr + proc.stdout, tmp_path) == without_ids(output)
    folder = tmp_path / "images" / "web1.example.com"
    boot = json.loads((folder / "web1.example.com.json").read_text())
    data = json.loads((folder / "web1.example.com-disk1.json").read_text())
    assert (boot["min_ram"], boot["min_disk"]) == (512, 1)  # minmem; 24 MiB rounds up to 1 GiB
    assert boot["hw_disk_bus"] == "virtio" and boot["hw_vif_model"] == "virtio"
    assert boot["hw_qemu_guest_agent"] == "yes"
    assert data["name"] == "web1.example.com-disk1" and data["hw_disk_bus"] == "virtio"
    created = {image.name: image.id for image in glance.connection().image.images() if image.id not in before}
    assert set(created) == {"web1.example.com", "web1.example.com-disk1"}
    _active_with_fields(glance, created["web1.example.com"], boot)
    _active_with_fields(glance, created["web1.example.com-disk1"], data)


def test_the_shared_ganeti_export_fixture_uploads(glance: LocalGlance, tmp_path: Path, ganeti_dir: Path) -> None:
    """Ganeti's own suite's export (pre-2.6 layout, xen-pvm): no kvm devices
    to keep, so the universal IDE and e1000, said in a warning."""
    proc = _cli(
        ["convert", str(ganeti_dir / "config.ini"), "--to", "openstack", "--output-dir", "out", "--upload", "--json"],
        tmp_path,
        glance,
    )
    assert proc.returncode == 0, proc.stderr
    (image,) = json.loads(proc.stdout)["images"]
    assert (image["hw_disk_bus"], image["hw_vif_model"]) == ("ide", "e1000")
    assert "using ide" in proc.stderr
    _active_with_fields(glance, image["id"], image)


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_glance_inspection_accepts_every_format_we_write(glance: LocalGlance, tmp_path: Path, fmt: str) -> None:
    """With PUT, Glance 33 inspects the data against disk_format (415 on a
    mismatch): our qcow2 and raw images pass, boot and volume image."""
    write_kvm_export(tmp_path / "web1.example.com")
    args = ["convert", "web1.example.com", "--to", "openstack", "--disk-format", fmt, "--output-dir", "out", "--upload"]
    proc = _cli([*args, "--upload-method", "put", "--json"], tmp_path, glance)
    assert proc.returncode == 0, proc.stderr
    images = json.loads(proc.stdout)["images"]
    assert [image["disk_format"] for image in images] == [fmt, fmt]
    for image, size in zip(images, (24 * MIB, 6 * MIB), strict=True):
        assert image["upload_method"] == "put"
        stored = glance.connection().image.get_image(image["id"])
        assert stored.status == "active"
        # Glance's own reading of the data (for raw it may leave it unset).
        assert stored.virtual_size == size or (fmt == "raw" and stored.virtual_size is None)


def test_refusals_are_one_line(tmp_path: Path, ganeti_dir: Path) -> None:
    env = {key: "" for key in os.environ if key.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(tmp_path / "absent.yaml")
    cases = [
        (["convert", str(ganeti_dir / "no_disk.ini"), "--to", "openstack"], "disk"),
        (["convert", str(ganeti_dir / "wrong_manifest.ovf"), "--to", "openstack"], "digest mismatch"),
        (["convert", str(ganeti_dir / "config.ini"), "--to", "openstack", "--upload"], "--os-cloud"),
    ]
    for args, word in cases:
        proc = run_cli(*args, "--output-dir", str(tmp_path / "out"), cwd=tmp_path, env=env)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("ovfconverter: error: ") and word in lines[-1], lines
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    export = write_kvm_export(tmp_path / "web1.example.com")
    for extra in ([], ["--force"]):  # never the source folder itself, even with --force
        proc = run_cli("convert", "web1.example.com", "--to", "openstack", *extra, cwd=tmp_path, env=env)
        assert proc.returncode == 1 and "would replace the source" in proc.stderr, proc.stderr
        assert (export / "config.ini").exists()
    usage = run_cli("convert", str(ganeti_dir / "config.ini"), "--to", "vmware", cwd=tmp_path)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
