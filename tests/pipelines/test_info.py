"""``info`` and ``verify``, from the library and the command line.

The JSON shape is checked against ``doc/info-json.rst`` itself: its
key/type tables are parsed at test time, so a field renamed in the code or
in the doc fails here.  Packages come from the reference fixtures (read in
place; skipped when ``../shared`` is absent) and from packages built here:
signed ones (key and self-signed certificate made at test time), broken
ones, and 50 GB OVAs whose disk members are holes, to show that ``info``
reads headers only.
"""

from __future__ import annotations

import datetime
import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from builders import (
    FORMAT_URIS,
    OVF1,
    ROOT,
    SHARED,
    DiskSpec,
    VmSpec,
    convert,
    descriptor,
    folder_package,
    make_raw_disk,
    ova_package,
    qemu_img,
    run_cli,
    tar_header,
    write_ganeti_export,
    write_manifest,
)

from ovfconverter import ImportOptions, OVFConverterError, import_package
from ovfconverter.formats.certificate import sign_manifest
from ovfconverter.info import read_package, to_json, verify_package

MIB = 1 << 20
GB = 10**9
DOC = ROOT / "doc" / "info-json.rst"
SCHEMA_DIR = SHARED / "schemas" / "ovf-1.1"
SIGNER = "CN=ovfconverter tests"


# --------------------------------------------------------------------------
# The documented JSON shape, read from doc/info-json.rst

TABLES: tuple[str, ...] = ("info", "certificate", "profiles", "networks", "systems", "nics", "devices")
TABLES += ("profile_hardware", "products", "properties", "virtualbox", "disks")
TABLES += ("files", "ganeti", "verify", "verdicts")
_BORDER = re.compile(r"^=+(?:\s+=+)+\s*$")


def doc_tables() -> dict[str, dict[str, str]]:
    """Every ``key / type / meaning`` table of the doc's info and verify
    sections, in document order, as {key: type} (the results of import,
    export and convert come after them: tests/pipelines/test_json_schemas.py)."""
    text = DOC.read_text(encoding="utf-8")
    lines = text.split("\n``import``, ``export`` and ``convert --json``\n", 1)[0].splitlines()
    tables: list[dict[str, str]] = []
    i = 0
    while i < len(lines) - 1:
        if _BORDER.match(lines[i]) and lines[i + 1].split()[:2] == ["key", "type"]:
            starts = [m.start() for m in re.finditer(r"=+", lines[i])]
            rows: dict[str, str] = {}
            key = ""
            j = i + 3
            while not _BORDER.match(lines[j]):
                name = lines[j][starts[0] : starts[1]].strip()
                kind = lines[j][starts[1] : starts[2]].strip()
                if name:
                    key = name.strip("`")
                    rows[key] = kind
                elif kind:
                    rows[key] += " " + kind
                j += 1
            tables.append(rows)
            i = j
        i += 1
    assert len(tables) == len(TABLES), f"doc/info-json.rst has {len(tables)} key/type tables, expected {len(TABLES)}"
    return dict(zip(TABLES, tables, strict=True))


def type_ok(value: Any, documented: str) -> bool:
    nullable = documented.endswith(" or null")
    base = documented.removesuffix(" or null")
    if value is None:
        return nullable
    if base == "string":
        return isinstance(value, str)
    if base == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "boolean":
        return isinstance(value, bool)
    if base == "list of strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if base == "list":  # mixed: the table's meaning says of what
        return isinstance(value, list)
    if base == "list of objects":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if base == "object":
        return isinstance(value, dict)
    if base == "object (string values)":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    raise AssertionError(f"doc/info-json.rst uses a type this test does not know: {documented!r}")


def check_object(obj: Any, table: dict[str, str], where: str) -> None:
    assert isinstance(obj, dict), where
    assert set(obj) == set(table), f"{where}: keys {sorted(obj)} are not the documented {sorted(table)}"
    for key, documented in table.items():
        assert type_ok(obj[key], documented), f"{where}.{key} = {obj[key]!r} is not {documented}"


def check_certificate(cert: Any, tables: dict[str, dict[str, str]], where: str) -> None:
    if cert is not None:
        check_object(cert, tables["certificate"], where)


def as_json(data: Any) -> Any:
    """What a consumer of ``json.dumps(data)`` sees (tuples become lists)."""
    return json.loads(json.dumps(data))


def check_info_json(data: dict[str, Any]) -> None:
    """``data`` has exactly the documented keys, with the documented types,
    at every level."""
    data = as_json(data)
    tables = doc_tables()
    check_object(data, tables["info"], "info")
    assert data["format_version"] == 1
    assert data["kind"] in ("ova", "folder")
    assert data["manifest_algorithms"] == sorted(data["manifest_algorithms"])
    assert set(data["manifest_algorithms"]) <= {"sha1", "sha256", "sha512"}
    check_certificate(data["certificate"], tables, "info.certificate")
    for n, profile in enumerate(data["profiles"]):
        check_object(profile, tables["profiles"], f"profiles[{n}]")
    for n, network in enumerate(data["networks"]):
        check_object(network, tables["networks"], f"networks[{n}]")
    for n, system in enumerate(data["systems"]):
        check_object(system, tables["systems"], f"systems[{n}]")
        for m, nic in enumerate(system["nics"]):
            check_object(nic, tables["nics"], f"systems[{n}].nics[{m}]")
        for field in ("removable", "other_devices"):
            for m, device in enumerate(system[field]):
                check_object(device, tables["devices"], f"systems[{n}].{field}[{m}]")
        assert all(d["file"] is None for d in system["other_devices"]), "file is always null in other_devices"
        assert [p["profile"] for p in system["profiles"]] == [p["id"] for p in data["profiles"]]
        for m, hardware in enumerate(system["profiles"]):
            check_object(hardware, tables["profile_hardware"], f"systems[{n}].profiles[{m}]")
            assert all(nic is None or isinstance(nic, str) for nic in hardware["nics"])
        if system["virtualbox"] is not None:
            check_object(system["virtualbox"], tables["virtualbox"], f"systems[{n}].virtualbox")
        for m, product in enumerate(system["products"]):
            check_object(product, tables["products"], f"systems[{n}].products[{m}]")
            for k, prop in enumerate(product["properties"]):
                check_object(prop, tables["properties"], f"systems[{n}].products[{m}].properties[{k}]")
                assert prop["os_parameter"] == ("ovf_private_properties" if prop["password"] else "ovf_properties")
    for n, disk in enumerate(data["disks"]):
        check_object(disk, tables["disks"], f"disks[{n}]")
    for n, entry in enumerate(data["files"]):
        check_object(entry, tables["files"], f"files[{n}]")
        assert entry["manifest"] in ("listed", "unlisted", "no manifest")
        assert entry["role"] in ("disk", "removable", "other")
        assert entry["algorithm"] in (None, "sha1", "sha256", "sha512")
    if data["ganeti"] is not None:
        ganeti = data["ganeti"]
        check_object(ganeti, tables["ganeti"], "ganeti")
        for n, nic in enumerate(ganeti["nics"]):
            assert set(nic) == {"mac", "ip", "mode", "link", "network", "name", "vlan"}, f"ganeti.nics[{n}]"
            assert all(v is None or isinstance(v, str) for v in nic.values()), f"ganeti.nics[{n}]"
        for n, disk in enumerate(ganeti["disks"]):
            assert set(disk) == {"ivname", "name", "size", "dump"}, f"ganeti.disks[{n}]"
            assert disk["size"] == 0 and disk["dump"] is None, f"ganeti.disks[{n}]"
            assert all(disk[k] is None or isinstance(disk[k], str) for k in ("ivname", "name")), f"ganeti.disks[{n}]"


def check_verify_json(data: dict[str, Any]) -> None:
    data = as_json(data)
    tables = doc_tables()
    check_object(data, tables["verify"], "verify")
    assert data["format_version"] == 1
    check_certificate(data["certificate"], tables, "verify.certificate")
    for n, verdict in enumerate(data["files"]):
        check_object(verdict, tables["verdicts"], f"files[{n}]")
        assert verdict["status"] in ("ok", "mismatch", "missing", "unlisted")
        for key in ("expected", "actual"):
            assert verdict[key] is None or re.fullmatch(r"[0-9a-f]+", verdict[key]), f"files[{n}].{key}"
    if data["manifest"] is None:
        assert data["files"] == [] and data["ok"] is False


def doc_example(marker: str) -> Any:
    """The JSON printed after the doc's ``$ ovfconverter ...`` line ``marker``."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"$ {marker}\n") + len(marker) + 3
    lines = []
    for line in text[start:].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return json.loads("\n".join(lines))


def cli_json(*args: str, cwd: Path | None = None, status: int = 0) -> Any:
    proc = run_cli(*args, "--json", cwd=cwd)
    assert proc.returncode == status, proc.stderr
    assert proc.stdout.startswith('{\n  "'), "JSON indented by two spaces"
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------
# Packages built here


def small_vm(name: str, *, work: Path, **kwargs: Any) -> tuple[VmSpec, dict[str, Path]]:
    """(spec, files) of a one-disk VM (a 4 MiB qcow2 made in ``work``);
    ``kwargs`` go to :class:`VmSpec`."""
    raw = make_raw_disk(work / f"{name}.raw", 4 * MIB)
    qcow2 = convert(raw, work / f"{name}.qcow2", "qcow2")
    spec = VmSpec(
        name=name,
        disks=[DiskSpec(f"{name}.qcow2", capacity=4 * MIB, format_uri=FORMAT_URIS["qcow2"])],
        **kwargs,
    )
    return spec, {f"{name}.qcow2": qcow2}


@pytest.fixture(scope="module")
def exported_ova(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OVA written by ``ovfconverter export`` (the command line)."""
    work = tmp_path_factory.mktemp("export")
    config = write_ganeti_export(work / "gnt", "exported.example.com", 8 * MIB)
    proc = run_cli("export", str(config), "--ova", "--output-dir", str(work / "out"))
    assert proc.returncode == 0, proc.stderr
    ova = work / "out" / "exported.example.com.ova"
    assert ova.is_file(), proc.stdout
    return ova


@pytest.fixture(scope="module")
def signing_identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An RSA key and a self-signed certificate for it, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ovfconverter tests")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("pki")
    key_path = folder / "key.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path = folder / "cert.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture
def signed_package(tmp_path: Path, signing_identity: tuple[Path, Path]) -> Path:
    """A folder package with a SHA256 manifest and a ``.cert`` signing it."""
    spec, files = small_vm("signed-vm", work=tmp_path)
    files["notes.txt"] = tmp_path / "notes.txt"
    files["notes.txt"].write_text("release notes\n")
    ovf = folder_package(tmp_path / "pkg", spec, files)
    key_path, cert_path = signing_identity
    manifest = ovf.with_suffix(".mf")
    cert = sign_manifest(manifest.name, manifest.read_bytes(), key_path.read_bytes(), cert_path.read_bytes())
    ovf.with_suffix(".cert").write_bytes(cert)
    return ovf


# --------------------------------------------------------------------------
# info: the JSON shape


def test_doc_tables_are_what_the_model_serialises() -> None:
    """Every documented table is found, with the keys the doc's own
    examples use (a guard on the parser these tests rely on)."""
    tables = doc_tables()
    example = doc_example("ovfconverter info ganeti.ovf --json")
    assert set(tables["info"]) == set(example)
    assert set(tables["disks"]) == set(example["disks"][0])
    assert set(tables["files"]) == set(example["files"][0])
    assert set(tables["systems"]) == set(example["systems"][0])
    assert set(tables["verify"]) == set(doc_example("ovfconverter verify virtualbox.ovf --json"))


@pytest.mark.parametrize(
    "fixture",
    [
        "cot/input.ovf",
        "cot/iosv.ovf",
        "cot/invalid.ovf",
        "cot/csr1000v.ovf",
        "cot/minimal.ovf",
        "ganeti/ganeti.ovf",
        "ganeti/ova.ova",
        "ganeti/virtualbox.ovf",
        "ganeti/gzip_disk.ovf",
    ],
)
def test_info_json_has_the_documented_shape_on_fixtures(shared: Path, fixture: str) -> None:
    check_info_json(to_json(read_package(str(shared / "fixtures" / fixture))))


def test_info_json_shape_from_the_cli_with_a_certificate(signed_package: Path) -> None:
    data = cli_json("info", str(signed_package))
    check_info_json(data)
    assert data["certificate"] == {
        "file": "package.cert",
        "subject": SIGNER,
        "issuer": SIGNER,
        "self_signed": True,
        "signature_valid": None,  # info does not check it
        "current": True,
        "problem": None,
        "trusted": None,  # nor the chain
        "chain": [],
    }
    assert data == as_json(to_json(read_package(str(signed_package))))


def test_info_json_matches_the_doc_example(ganeti_dir: Path) -> None:
    """The example in doc/info-json.rst is exactly what ``info --json``
    prints for ganeti.ovf (Ganeti section included)."""
    assert cli_json("info", "ganeti.ovf", cwd=ganeti_dir) == doc_example("ovfconverter info ganeti.ovf --json")


# --------------------------------------------------------------------------
# info on the reference fixtures


def test_info_cot_input_profiles_hardware_cdrom_and_files(cot_dir: Path) -> None:
    path = str(cot_dir / "input.ovf")
    info = read_package(path)
    assert [(p.id, p.default) for p in info.profiles] == [
        ("1CPU-1GB-1NIC", False),
        ("2CPU-2GB-1NIC", False),
        ("4CPU-4GB-3NIC", True),
    ]
    (system,) = info.systems
    assert system.profile == "4CPU-4GB-3NIC"
    assert (system.cpus, system.memory_mib) == (4, 4096)
    assert [(n.network, n.model) for n in system.nics] == [("VM Network", "VMXNET3")] * 3
    assert [(d.type, d.file) for d in system.removable] == [("CD_DRIVE", "input.iso"), ("CD_DRIVE", None)]
    assert system.disks == ["vmdisk1"]
    (disk,) = info.disks
    assert (disk.capacity, disk.image_format, disk.image_subformat) == (1 << 30, "vmdk", "streamOptimized")
    assert disk.file_size == (cot_dir / "input.vmdk").stat().st_size
    assert info.manifest == "input.mf" and info.manifest_algorithms == ["sha1"]
    assert [(f.href, f.present, f.manifest, f.algorithm, f.role) for f in info.files] == [
        ("input.vmdk", True, "listed", "sha1", "disk"),
        ("input.iso", True, "listed", "sha1", "removable"),
        ("sample_cfg.txt", True, "listed", "sha1", "other"),
    ]
    assert [f.size for f in info.files] == [(cot_dir / f.href).stat().st_size for f in info.files]
    assert info.warnings == []

    proc = run_cli("info", path)
    assert proc.returncode == 0 and proc.stderr == ""
    out = proc.stdout
    assert "deployment options: 1CPU-1GB-1NIC, 2CPU-2GB-1NIC, 4CPU-4GB-3NIC (default)" in out
    assert "profile 4CPU-4GB-3NIC" in out
    assert "hardware: 4 CPU(s), 4096 MiB" in out
    assert sum(line.strip().startswith("NIC ") for line in out.splitlines()) == 3
    assert "CD-ROM 1 holding input.iso" in out
    for line in (
        "input.vmdk: 149.0 KiB, disk, manifest: listed SHA1",
        "input.iso: 352.0 KiB, removable, manifest: listed SHA1",
        "sample_cfg.txt: 78 B, other, manifest: listed SHA1",
    ):
        assert f"  {line}\n" in out
    assert "warnings:" not in out


def test_info_deployment_option(cot_dir: Path) -> None:
    path = str(cot_dir / "input.ovf")
    (system,) = read_package(path, "1CPU-1GB-1NIC").systems
    assert (system.profile, system.cpus, system.memory_mib, len(system.nics)) == ("1CPU-1GB-1NIC", 1, 1024, 1)
    data = cli_json("info", path, "--deployment-option", "1CPU-1GB-1NIC")
    (system_json,) = data["systems"]
    assert (system_json["profile"], system_json["cpus"], system_json["memory_mib"]) == ("1CPU-1GB-1NIC", 1, 1024)
    assert len(system_json["nics"]) == 1
    text = run_cli("info", path, "--deployment-option", "2CPU-2GB-1NIC").stdout
    assert "hardware: 2 CPU(s), 2048 MiB" in text

    proc = run_cli("info", path, "--deployment-option", "8CPU-64GB", "--json")
    assert proc.returncode == 2 and proc.stdout == "", "a usage error: the profiles are listed"
    assert proc.stderr.splitlines() == [
        f"ovfconverter: error: {path}: --deployment-option '8CPU-64GB' is not a profile of the package "
        "(profiles: '1CPU-1GB-1NIC', '2CPU-2GB-1NIC', '4CPU-4GB-3NIC')"
    ]


def test_info_iosv_blank_disk_is_a_warning(cot_dir: Path) -> None:
    info = read_package(str(cot_dir / "iosv.ovf"))
    blank = {d.disk_id: d for d in info.disks}["flash2"]
    assert blank.blank and blank.file is None and blank.capacity == 128 * MIB
    assert blank.image_format is None and blank.file_size is None
    assert any("'flash2'" in w and "no file" in w for w in info.warnings), info.warnings
    assert {f.manifest for f in info.files} == {"no manifest"}
    proc = run_cli("info", str(cot_dir / "iosv.ovf"))
    assert proc.returncode == 0
    assert "disk flash2: blank (created empty on import), capacity 128.0 MiB" in proc.stdout
    assert "  - Disk 'flash2' has no file: an import creates it empty" in proc.stdout


def test_info_invalid_ovf_lists_every_broken_reference(cot_dir: Path, tmp_path: Path) -> None:
    path = str(cot_dir / "invalid.ovf")
    data = cli_json("info", path)  # exit 0: the descriptor could be read
    warnings = "\n".join(data["warnings"])
    for needle in (
        "'nonexistent.vmdk'",  # a disk Item pointing at no disk
        "Parent '27'",  # a CD-ROM whose parent is no controller
        "ovf:fileRef 'flash2' names no File",  # a Disk naming no File
        "'this_is_a_really_long_filename_for_a_disk.vmdk' (File 'input.vmdk') is missing",
        "Network 'name-but-no-description' has no Description",
    ):
        assert needle in warnings, f"{needle!r} not in {data['warnings']}"
    assert not any("This is a rather verbose" in w for w in data["warnings"]), "that network has a Description"
    missing = data["files"][0]
    assert (missing["present"], missing["size"], missing["declared_size"]) == (False, None, 152576)
    assert data["networks"][1] == {"name": "name-but-no-description", "description": None}

    proc = run_cli("import", path, "-o", "debian", "-n", "x", "--output-dir", str(tmp_path))
    assert proc.returncode == 1
    for needle in ("'flash2'", "'nonexistent.vmdk'", "is missing from the package"):
        assert needle in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_info_gzip_ova_warns(ganeti_dir: Path) -> None:
    info = read_package(str(ganeti_dir / "ova.ova"))
    assert info.kind == "ova" and info.descriptor == "ganeti.ovf"
    assert any("ova.ova" in w and "gzip-compressed" in w for w in info.warnings), info.warnings
    assert info.disks[0].image_subformat == "streamOptimized"
    proc = run_cli("info", str(ganeti_dir / "ova.ova"))
    assert proc.returncode == 0
    assert "  - ova.ova: the OVA is gzip-compressed, which DSP0243 does not allow" in proc.stdout


def test_info_ganeti_section(ganeti_dir: Path, cot_dir: Path) -> None:
    info = read_package(str(ganeti_dir / "ganeti.ovf"))
    assert info.ganeti is not None
    assert (info.ganeti.os_name, info.ganeti.hypervisor_name, info.ganeti.disk_template) == (
        "lenny-image",
        "xen-pvm",
        "plain",
    )
    text = run_cli("info", str(ganeti_dir / "ganeti.ovf")).stdout
    assert "Ganeti section: OS lenny-image, hypervisor xen-pvm, disk template plain, 1 NIC(s)" in text
    assert cli_json("info", str(cot_dir / "input.ovf"))["ganeti"] is None


# --------------------------------------------------------------------------
# info on packages built here

REQUIRED = (
    '<acme:FirewallSection xmlns:acme="urn:example:acme" ovf:required="true">'
    "<Info>rules the appliance needs</Info></acme:FirewallSection>"
)


@pytest.fixture
def required_section_ova(tmp_path: Path) -> Path:
    spec, files = small_vm("guarded", work=tmp_path, extra_system=REQUIRED)
    return ova_package(tmp_path / "guarded.ova", spec, files)


def test_info_shows_an_unknown_required_section_that_import_refuses(required_section_ova: Path, tmp_path: Path) -> None:
    info = read_package(str(required_section_ova))
    (warning,) = [w for w in info.warnings if "FirewallSection" in w]
    assert "{urn:example:acme}FirewallSection" in warning and "required" in warning
    assert "import refuses" in warning
    proc = run_cli("info", str(required_section_ova))
    assert proc.returncode == 0
    assert warning in proc.stdout

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OVFConverterError, match=r"FirewallSection.*required"):
        import_package(str(required_section_ova), ImportOptions(os_type="debian", output_dir=str(out)))
    proc = run_cli("import", str(required_section_ova), "-o", "debian", "--output-dir", str(out))
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("ovfconverter: error: ") and "FirewallSection" in line
    assert list(out.iterdir()) == []


def test_ignored_sections_do_not_list_an_unknown_required_section(required_section_ova: Path) -> None:
    """doc/info-json.rst: ``ignored_sections`` holds informational sections
    and unknown ones *marked optional* (Envelope's docstring: "skipped
    because they are optional or carry nothing to convert").  A required
    one is not skipped: an import refuses the package because of it."""
    info = read_package(str(required_section_ova))
    assert "{urn:example:acme}FirewallSection" not in info.ignored_sections


def test_info_optional_unknown_section_is_ignored_without_warning(tmp_path: Path) -> None:
    optional = REQUIRED.replace('ovf:required="true"', 'ovf:required="false"')
    spec, files = small_vm("relaxed", work=tmp_path, extra_system=optional)
    info = read_package(str(ova_package(tmp_path / "relaxed.ova", spec, files)))
    assert "{urn:example:acme}FirewallSection" in info.ignored_sections
    assert not any("FirewallSection" in w for w in info.warnings)


def test_info_missing_file_and_manifest_entry_for_an_absent_file(tmp_path: Path) -> None:
    spec, files = small_vm("first", work=tmp_path)
    spec2, files2 = small_vm("second", work=tmp_path)
    spec.disks += spec2.disks
    files.update(files2)
    files["notes.txt"] = tmp_path / "notes.txt"
    files["notes.txt"].write_text("notes\n")
    ovf = folder_package(tmp_path / "pkg", spec, files)
    # the descriptor references second.qcow2, the manifest lists it and
    # notes.txt (which nothing references): both are gone
    (ovf.parent / "second.qcow2").unlink()
    (ovf.parent / "notes.txt").unlink()

    info = read_package(str(ovf))
    by_href = {f.href: f for f in info.files}
    assert [f.href for f in info.files] == ["first.qcow2", "second.qcow2", "notes.txt"]
    assert (by_href["first.qcow2"].present, by_href["first.qcow2"].manifest) == (True, "listed")
    gone = by_href["second.qcow2"]
    assert (gone.present, gone.size, gone.manifest, gone.algorithm, gone.role) == (
        False,
        None,
        "listed",
        "sha256",
        "disk",
    )
    only_listed = by_href["notes.txt"]
    assert (only_listed.id, only_listed.present, only_listed.size, only_listed.manifest) == (
        None,
        False,
        None,
        "listed",
    )
    assert "file 'second.qcow2' (File 'file1') is missing from the package" in info.warnings
    assert "the manifest lists 'notes.txt', which is not in the package" in info.warnings
    disk = info.disks[1]
    assert (disk.file, disk.file_size, disk.image_format) == ("second.qcow2", None, None)
    check_info_json(to_json(info))

    proc = run_cli("info", str(ovf))
    assert proc.returncode == 0
    assert "  second.qcow2: MISSING, disk, manifest: listed SHA256\n" in proc.stdout
    assert "  notes.txt: MISSING, other, manifest: listed SHA256\n" in proc.stdout


# --------------------------------------------------------------------------
# info reads headers only


def _rchar() -> int:
    with open("/proc/self/io") as stream:
        for line in stream:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def sparse_ova(path: Path, member: str, size: int, head: bytes, format_uri: str) -> Path:
    """An OVA (descriptor, then one disk member of ``size`` bytes starting
    with ``head``, the rest a hole), itself sparse: written header by header."""
    spec = VmSpec(name="huge", disks=[DiskSpec(member, capacity=size, format_uri=format_uri, size=size)])
    ovf = descriptor(spec).encode()
    with open(path, "wb") as stream:
        stream.write(tar_header("package.ovf", len(ovf)) + ovf + bytes(-len(ovf) % 512))
        stream.write(tar_header(member, size))
        stream.write(head)
        stream.seek(size - len(head) + (-size % 512), 1)
        stream.write(bytes(1024))  # end of archive
    return path


@pytest.fixture(scope="module")
def vmdk_head(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The first 64 KiB of a 50 GiB streamOptimized VMDK (header and
    embedded descriptor)."""
    path = tmp_path_factory.mktemp("vmdk") / "head.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=streamOptimized", str(path), "50G")
    return path.read_bytes()[: 64 * 1024]


@pytest.mark.parametrize("kind", ["raw", "vmdk"])
def test_info_on_a_50_gb_ova_reads_only_headers(tmp_path: Path, kind: str, vmdk_head: bytes) -> None:
    if not Path("/proc/self/io").exists():
        pytest.skip("/proc/self/io is not available")
    head = vmdk_head if kind == "vmdk" else b"\x00" * 512
    uri = FORMAT_URIS["raw" if kind == "raw" else "streamOptimized"]
    size = 50 * GB
    ova = sparse_ova(tmp_path / "huge.ova", f"huge.{kind}", size, head, uri)
    assert ova.stat().st_size > size
    assert ova.stat().st_blocks * 512 < 16 * MIB, "the test OVA itself must be sparse"
    # the same structure, small: loads whatever read_package imports lazily
    read_package(str(sparse_ova(tmp_path / "warm.ova", f"warm.{kind}", 4 * MIB, head, uri)))

    before = _rchar()
    info = read_package(str(ova))
    read = _rchar() - before
    assert read < 4 * MIB, f"info read {read} bytes of a {size}-byte OVA"

    (disk,) = info.disks
    assert disk.file_size == size and disk.capacity == size
    if kind == "vmdk":
        assert (disk.image_format, disk.image_subformat, disk.image_virtual_size) == (
            "vmdk",
            "streamOptimized",
            50 << 30,
        )
    else:
        assert (disk.image_format, disk.image_virtual_size) == ("raw", None)
    assert info.files[0].size == size and info.files[0].present
    ova.unlink()  # 50 GB apparent size: do not leave it lying in the basetemp


# --------------------------------------------------------------------------
# verify


def test_verify_cot_input_all_ok(cot_dir: Path) -> None:
    path = str(cot_dir / "input.ovf")
    report = verify_package(path)
    assert report.ok and report.problems == []
    assert [(v.name, v.status, v.algorithm) for v in report.files] == [
        ("input.ovf", "ok", "sha1"),
        ("input.vmdk", "ok", "sha1"),
        ("input.iso", "ok", "sha1"),
        ("sample_cfg.txt", "ok", "sha1"),
    ]
    assert all(v.expected == v.actual for v in report.files)
    proc = run_cli("verify", path)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines() == [
        "OK        input.ovf (SHA1)",
        "OK        input.vmdk (SHA1)",
        "OK        input.iso (SHA1)",
        "OK        sample_cfg.txt (SHA1)",
        f"{path}: verified",
    ]
    data = cli_json("verify", path)
    check_verify_json(data)
    assert data["ok"] is True and data == as_json(to_json(report))


def test_verify_an_ova_written_by_export(exported_ova: Path) -> None:
    proc = run_cli("verify", str(exported_ova))
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert lines == [
        "OK        exported.example.com.ovf (SHA256)",
        "OK        exported.example.com-disk0.vmdk (SHA256)",
        f"{exported_ova}: verified",
    ]
    data = cli_json("verify", str(exported_ova))
    check_verify_json(data)
    assert data["ok"] and data["manifest"] == "exported.example.com.mf"
    info = read_package(str(exported_ova))
    check_info_json(to_json(info))
    assert info.kind == "ova" and info.warnings == [] and info.manifest_algorithms == ["sha256"]


def test_verify_wrong_manifest_one_line_per_file(ganeti_dir: Path) -> None:
    path = str(ganeti_dir / "wrong_manifest.ovf")
    listed: dict[str, str] = {}
    for line in (ganeti_dir / "wrong_manifest.mf").read_text().splitlines():
        match = re.fullmatch(r"SHA1\((.+)\)= ([0-9a-f]+)", line)
        assert match, line
        listed[match[1]] = match[2]
    proc = run_cli("verify", path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"{path}: NOT verified"
    mismatches = [line for line in lines if line.startswith("MISMATCH  ")]
    assert len(mismatches) == len(listed) == 2
    for name, expected in listed.items():
        (line,) = [m for m in mismatches if m.startswith(f"MISMATCH  {name}: SHA1 is ")]
        assert line.endswith(f", the manifest says {expected}")
    data = cli_json("verify", path, status=1)
    check_verify_json(data)
    assert data["ok"] is False
    assert {v["name"]: (v["status"], v["expected"]) for v in data["files"]} == {
        name: ("mismatch", digest) for name, digest in listed.items()
    }
    assert all(len(v["actual"]) == 40 and v["actual"] != v["expected"] for v in data["files"])


def test_verify_without_manifest(ganeti_dir: Path, tmp_path: Path) -> None:
    assert cli_json("verify", "virtualbox.ovf", cwd=ganeti_dir, status=1) == doc_example(
        "ovfconverter verify virtualbox.ovf --json"
    )
    spec, files = small_vm("bare", work=tmp_path)
    ovf = folder_package(tmp_path / "pkg", spec, files, manifest=None)
    report = verify_package(str(ovf))
    assert (report.ok, report.manifest, report.files, report.problems) == (
        False,
        None,
        [],
        ["the package has no manifest"],
    )
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["problem: the package has no manifest", f"{ovf}: NOT verified"]


def test_verify_reports_an_unreadable_descriptor_as_a_problem(tmp_path: Path) -> None:
    ovf = tmp_path / "p.ovf"
    ovf.write_text(f'<?xml version="1.0"?>\n<Envelope xmlns="{OVF1}"><References>\n<broken')
    write_manifest(tmp_path, "p", ["p.ovf"])
    report = verify_package(str(ovf))
    assert [(v.name, v.status) for v in report.files] == [("p.ovf", "ok")]
    assert not report.ok
    (problem,) = report.problems
    assert problem.startswith("the descriptor cannot be read: p.ovf: not well-formed XML at line 3")
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1
    assert f"problem: {problem}" in proc.stdout.splitlines()


def test_verify_missing_and_unlisted_files_as_in_the_doc(cot_dir: Path, tmp_path: Path) -> None:
    """The doc's example: the manifest lists sample_cfg.txt, which is
    missing, and does not list input.iso, which the descriptor uses."""
    for name in ("input.ovf", "input.vmdk", "input.iso"):
        shutil.copyfile(cot_dir / name, tmp_path / name)
    kept = [line for line in (cot_dir / "input.mf").read_text().splitlines(True) if "input.iso" not in line]
    (tmp_path / "input.mf").write_text("".join(kept))
    assert cli_json("verify", "input.ovf", cwd=tmp_path, status=1) == doc_example(
        "ovfconverter verify input.ovf --json"
    )
    proc = run_cli("verify", "input.ovf", cwd=tmp_path)
    assert proc.returncode == 1
    assert "MISSING   sample_cfg.txt: listed in the manifest, not in the package" in proc.stdout.splitlines()
    assert "UNLISTED  input.iso: referenced by the descriptor, not in the manifest" in proc.stdout.splitlines()


def test_verify_missing_listed_file_and_unlisted_referenced_file(tmp_path: Path) -> None:
    spec, files = small_vm("first", work=tmp_path)
    spec2, files2 = small_vm("second", work=tmp_path)
    spec.disks += spec2.disks
    files.update(files2)
    ovf = folder_package(tmp_path / "pkg", spec, files)
    (ovf.parent / "first.qcow2").unlink()  # listed, gone
    write_manifest(ovf.parent, "package", ["package.ovf"])  # second.qcow2 no longer listed
    (ovf.parent / "package.mf").write_text(
        (ovf.parent / "package.mf").read_text() + f"SHA256(first.qcow2)= {'ab' * 32}\n"
    )
    report = verify_package(str(ovf))
    assert [(v.name, v.status) for v in report.files] == [
        ("package.ovf", "ok"),
        ("first.qcow2", "missing"),
        ("second.qcow2", "unlisted"),
    ]
    assert not report.ok
    missing, unlisted = report.files[1], report.files[2]
    assert (missing.expected, missing.actual) == ("ab" * 32, None)
    assert (unlisted.algorithm, unlisted.expected, unlisted.actual) == (None, None, None)
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "OK        package.ovf (SHA256)",
        "MISSING   first.qcow2: listed in the manifest, not in the package",
        "UNLISTED  second.qcow2: referenced by the descriptor, not in the manifest",
        f"{ovf}: NOT verified",
    ]
    check_verify_json(cli_json("verify", str(ovf), status=1))


def test_verify_signed_package_then_tampered(signed_package: Path) -> None:
    report = verify_package(str(signed_package))
    assert report.ok, report
    cert = report.certificate
    assert cert is not None
    assert (cert.subject, cert.issuer, cert.self_signed, cert.signature_valid, cert.current, cert.problem) == (
        SIGNER,
        SIGNER,
        True,
        True,
        True,
        None,
    )
    proc = run_cli("verify", str(signed_package))
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert f"SIGNED    package.mf by {SIGNER}, self-signed" in lines
    assert lines[-1] == f"{signed_package}: verified"
    data = cli_json("verify", str(signed_package))
    check_verify_json(data)
    assert data["certificate"]["signature_valid"] is True

    # someone changes a file and updates the manifest to match: every digest
    # verifies, the signature no longer does
    folder = signed_package.parent
    (folder / "notes.txt").write_text("release notes, edited\n")
    write_manifest(folder, "package", ["package.ovf", "signed-vm.qcow2", "notes.txt"])
    report = verify_package(str(signed_package))
    assert all(v.status == "ok" for v in report.files)
    assert not report.ok and report.certificate is not None and report.certificate.signature_valid is False
    assert report.problems == ["package.cert: the signature of the manifest does not verify"]
    proc = run_cli("verify", str(signed_package))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "BAD SIG   package.cert: the signature of the manifest does not verify" in lines
    assert not any(line.startswith("SIGNED") for line in lines)
    assert lines[-1] == f"{signed_package}: NOT verified"
    data = cli_json("verify", str(signed_package), status=1)
    check_verify_json(data)
    assert (data["ok"], data["certificate"]["signature_valid"]) == (False, False)


def test_verify_signature_made_by_openssl(tmp_path: Path, signing_identity: tuple[Path, Path]) -> None:
    """A ``.cert`` made the way DSP0243 shows (``openssl dgst -sign``)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    key_path, cert_path = signing_identity
    spec, files = small_vm("ossl", work=tmp_path)
    ovf = folder_package(tmp_path / "pkg", spec, files)
    manifest = ovf.with_suffix(".mf")
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key_path), str(manifest)], check=True, capture_output=True
    ).stdout
    ovf.with_suffix(".cert").write_bytes(
        f"SHA256({manifest.name})= {signature.hex()}\n".encode() + cert_path.read_bytes()
    )
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 0, proc.stdout
    assert f"SIGNED    package.mf by {SIGNER}, self-signed" in proc.stdout.splitlines()


def test_verify_certificate_of_another_manifest(tmp_path: Path, signing_identity: tuple[Path, Path]) -> None:
    key_path, cert_path = signing_identity
    spec, files = small_vm("other", work=tmp_path)
    ovf = folder_package(tmp_path / "pkg", spec, files)
    manifest = ovf.with_suffix(".mf").read_bytes()
    ovf.with_suffix(".cert").write_bytes(
        sign_manifest("other.mf", manifest, key_path.read_bytes(), cert_path.read_bytes())
    )
    report = verify_package(str(ovf))
    assert not report.ok
    assert report.certificate is not None and report.certificate.signature_valid is False
    assert report.certificate.problem == "the certificate signs 'other.mf', not the package's manifest"
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1
    assert "BAD SIG   package.cert: the certificate signs 'other.mf', not the package's manifest" in proc.stdout


def test_verify_schema_of_an_export_is_valid(exported_ova: Path) -> None:
    if not (SCHEMA_DIR / "dsp8023_1.1.1.xsd").exists():
        pytest.skip(f"{SCHEMA_DIR} is absent: the DMTF schemas are not available here")
    proc = run_cli("verify", "--schema", str(SCHEMA_DIR), str(exported_ova))
    assert proc.returncode == 0, proc.stdout
    assert "VALID     the descriptor conforms to dsp8023_1.1.1.xsd and ganeti.xsd" in proc.stdout.splitlines()
    data = cli_json("verify", "--schema", str(SCHEMA_DIR), str(exported_ova))
    check_verify_json(data)
    assert (data["ok"], data["schema"], data["schema_violations"]) == (
        True,
        "dsp8023_1.1.1.xsd and ganeti.xsd",
        [],
    )


def test_verify_schema_reports_violations(ganeti_dir: Path) -> None:
    """The doc's --schema example: ganeti.ovf lacks ovf:capacity."""
    if not (SCHEMA_DIR / "dsp8023_1.1.1.xsd").exists():
        pytest.skip(f"{SCHEMA_DIR} is absent: the DMTF schemas are not available here")
    data = cli_json("verify", "--schema", str(SCHEMA_DIR), "ganeti.ovf", cwd=ganeti_dir, status=1)
    check_verify_json(data)
    assert data["ok"] is False and data["problems"] == []
    assert data["schema_violations"][:2] == [
        "line 8: Element 'ovf:Disk': The attribute 'ovf:capacity' is required but missing.",
        "line 11: Element 'gnt:Version': This element is not expected. Expected is ( ovf:Info ).",
    ]


def test_verify_gzip_compressed_disk_file(tmp_path: Path) -> None:
    """A manifest over a gzip-compressed disk file: the stored bytes are
    hashed (not the decompressed image)."""
    spec, files = small_vm("gz", work=tmp_path)
    qcow2 = files.pop("gz.qcow2")
    packed = tmp_path / "gz.qcow2.gz"
    packed.write_bytes(gzip.compress(qcow2.read_bytes()))
    spec.disks[0].href, spec.disks[0].compression = "gz.qcow2.gz", "gzip"
    files["gz.qcow2.gz"] = packed
    ovf = folder_package(tmp_path / "pkg", spec, files)
    report = verify_package(str(ovf))
    assert report.ok and [v.name for v in report.files] == ["package.ovf", "gz.qcow2.gz"]
    info = read_package(str(ovf))
    assert (info.disks[0].compression, info.disks[0].image_format) == ("gzip", "qcow2")
    assert info.disks[0].file_size == packed.stat().st_size
