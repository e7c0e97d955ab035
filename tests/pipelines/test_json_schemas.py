"""The JSON that ``info``, ``verify``, ``import``, ``export`` and ``convert``
print with ``--json`` conforms to the JSON Schemas shipped in the package
(``ovfconverter/schemas/*.schema.json``, every field required, no other
field allowed), for every package of the shared fixtures and of tests/data,
and for OVAs; so a field added to the output without its schema fails here.
The import and export documents are checked against what is on disk."""

from __future__ import annotations

import configparser
import hashlib
import json
import tarfile
from pathlib import Path

import jsonschema
import pytest
from builders import (
    COT,
    DATA,
    GANETI,
    MIB,
    boot_ova,
    json_schema,
    make_ova,
    make_raw_disk,
    run_cli,
    write_ganeti_export,
)

PACKAGES = [
    *(GANETI / name for name in ("ganeti.ovf", "virtualbox.ovf", "wrong_manifest.ovf", "gzip_disk.ovf", "empty.ovf")),
    *(GANETI / name for name in ("no_disk_in_ref.ovf", "ova.ova", "corrupted_resources.ovf")),
    *(COT / name for name in ("input.ovf", "iosv.ovf", "csr1000v.ovf", "minimal.ovf")),
    *sorted(DATA.glob("*.ovf")),
]


def printed(command: str, path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    proc = run_cli(command, str(path), "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    if not proc.stdout:
        pytest.skip(f"{path.name}: {command} refuses it ({proc.stderr.strip()}): no JSON to check")
    data: dict = json.loads(proc.stdout)  # type: ignore[type-arg]
    return data


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("command", ["info", "verify"])
def test_json_conforms_to_the_shipped_schema(command: str, package: Path, shared: Path) -> None:
    jsonschema.validate(printed(command, package), json_schema(command), cls=jsonschema.Draft202012Validator)


def test_an_ova_with_a_certificate_conforms(tmp_path: Path, shared: Path) -> None:
    names = ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"]
    ova = make_ova(tmp_path / "appliance.ova", [(name, COT / name) for name in names])
    for command in ("info", "verify"):
        jsonschema.validate(printed(command, ova), json_schema(command), cls=jsonschema.Draft202012Validator)


def test_the_schema_refuses_what_it_does_not_describe(shared: Path) -> None:
    """The check above can fail: an unknown field, a wrong type, a status
    outside the enumeration."""
    data = printed("verify", COT / "input.ovf")
    verify = json_schema("verify")
    jsonschema.validate(data, verify)
    for broken in (
        {**data, "extra": 1},
        {**data, "ok": "yes"},
        {**data, "files": [{**data["files"][0], "status": "fine"}]},
        {key: value for key, value in data.items() if key != "problems"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, verify)


# -- import, export (and convert) --json -------------------------------------


def test_import_json_says_what_was_written(tmp_path: Path, shared: Path) -> None:
    ova = make_ova(tmp_path / "appliance.ova", [(n, COT / n) for n in ("input.ovf", "input.mf", "input.vmdk")])
    proc = run_cli("import", str(ova), "-o", "raw-image", "-n", "vm1", "--output-dir", str(tmp_path / "out"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("result"), cls=jsonschema.Draft202012Validator)
    folder = tmp_path / "out" / "vm1"
    assert (data["command"], data["target"], data["path"], data["source"]) == (
        "import",
        "ganeti",
        str(folder),
        str(ova),
    )
    (disk,) = data["disks"]
    assert disk["path"] == str(folder / "disk0.raw") and disk["size"] == (folder / "disk0.raw").stat().st_size
    assert (disk["source"], disk["source_format"]) == ("input.vmdk", "vmdk")
    written = configparser.ConfigParser(interpolation=None)
    written.read(folder / "config.ini")
    private = {"os_private"}  # shown as <private>, never printed
    assert data["config_ini"] == {
        s: {k: "<private>" if s in private else v for k, v in written.items(s, raw=True)} for s in written.sections()
    }
    assert data["config_ini"]["instance"]["disk0_size"] == "1024"  # MiB, as Ganeti states it
    assert data["next_step"]["argv"][:2] == ["gnt-backup", "import"] and data["next_step"]["ready"] is False
    assert data["warnings"] and all(w["code"] and w["message"] for w in data["warnings"])
    assert any("CD-ROM 1" in w["message"] for w in data["warnings"])
    assert data["files"] == [] and data["images"] == []


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_export_json_gives_every_file_with_its_digest(tmp_path: Path, ova: bool) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1", 4 * MIB)
    args = ["--output-dir", str(tmp_path / "out"), "--digest", "sha512", "--json", *(["--ova"] if ova else [])]
    proc = run_cli("export", str(config), *args)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("result"), cls=jsonschema.Draft202012Validator)
    assert (data["command"], data["target"]) == ("export", "ova" if ova else "ovf")
    assert [f["name"] for f in data["files"]] == ["vm1.ovf", "vm1.mf", "vm1-disk0.vmdk"]
    if ova:
        members = {m.name: m for m in tarfile.open(data["path"]).getmembers()}
        stored = {name: tarfile.open(data["path"]).extractfile(members[name]).read() for name in members}  # type: ignore[union-attr]
    else:
        stored = {p.name: p.read_bytes() for p in Path(data["path"]).iterdir()}
    for file in data["files"]:
        assert file["size"] == len(stored[file["name"]])
        assert file["digest"] == {"algorithm": "sha512", "value": hashlib.sha512(stored[file["name"]]).hexdigest()}
    assert data["config_ini"] is None and data["disks"] == [] and data["next_step"] is None


def test_quiet_json_has_the_warnings_and_stderr_none(tmp_path: Path, shared: Path) -> None:
    """-q: warnings go nowhere but the JSON."""
    ova = make_ova(tmp_path / "appliance.ova", [(n, COT / n) for n in ("input.ovf", "input.mf", "input.vmdk")])
    out = str(tmp_path / "out")
    proc = run_cli("import", str(ova), "-o", "raw-image", "-n", "vm1", "--output-dir", out, "--json", "-q")
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["warnings"]


def test_convert_to_openstack_json_conforms(tmp_path: Path, shared: Path) -> None:
    ova = make_ova(tmp_path / "appliance.ova", [(n, COT / n) for n in ("input.ovf", "input.mf", "input.vmdk")])
    proc = run_cli("convert", str(ova), "--to", "openstack", "--output-dir", str(tmp_path / "images"), "--json", "-q")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("result"), cls=jsonschema.Draft202012Validator)
    (image,) = data["images"]
    assert (data["command"], data["target"], image["id"]) == ("convert", "openstack", None)
    assert image["size"] == Path(image["file"]).stat().st_size


def test_convert_to_libvirt_json_conforms(tmp_path: Path) -> None:
    ova = boot_ova(tmp_path / "vm.ova", make_raw_disk(tmp_path / "d.raw", MIB), "vmware", "json-vm")
    proc = run_cli("convert", str(ova), "--to", "libvirt", "--output-dir", str(tmp_path / "out"), "--json", "-q")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("result"), cls=jsonschema.Draft202012Validator)
    assert (data["target"], Path(data["domain"]["description"]).name) == ("libvirt", "json-vm.xml")
    assert all(Path(disk).exists() for disk in data["domain"]["disks"])


def test_a_ganeti_net_key_is_refused_for_libvirt_with_its_keys(tmp_path: Path) -> None:
    ova = boot_ova(tmp_path / "vm.ova", make_raw_disk(tmp_path / "d.raw", MIB), "vmware", "net-vm")
    proc = run_cli("convert", str(ova), "--to", "libvirt", "--output-dir", str(tmp_path), "--net", "0:link=br0")
    assert proc.returncode == 2
    assert "the libvirt and Xen targets take N:bridge=NAME or N:network=NAME (keys: bridge, network)" in proc.stderr


def test_info_of_a_ganeti_export_conforms(shared: Path) -> None:
    data = printed("info", GANETI / "config.ini")
    jsonschema.validate(data, json_schema("info"), cls=jsonschema.Draft202012Validator)
    assert data["kind"] == "ganeti"


def test_warnings_carry_their_codes(tmp_path: Path, shared: Path) -> None:
    ova = make_ova(tmp_path / "appliance.ova", [(n, COT / n) for n in ("input.ovf", "input.mf", "input.vmdk")])
    proc = run_cli("import", str(ova), "-o", "raw-image", "--output-dir", str(tmp_path / "out"), "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    codes = {w["code"] for w in json.loads(proc.stdout)["warnings"]}
    assert codes and None not in codes and codes <= {"source", "plan", "manifest", "package", "file-size"}, codes
