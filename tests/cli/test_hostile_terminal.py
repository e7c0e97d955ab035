"""Terminal and log injection: text from a package must never reach the
operator's terminal raw (issue 12; ``../shared/docs/SECURITY.md``, "Found
later").

Each payload is a character, or a short sequence, that a terminal or a log
viewer acts on: ESC sequences (clear the screen, retitle the window), BEL,
CR, NEL (U+0085), LS/PS (U+2028/9), the 8-bit CSI U+009B and the bidi
overrides and isolates (U+202A-E, U+2066-9).  XML carries all but ESC and
BEL as character references; manifests, certificates, image headers, file
and member names carry the rest.  Each test puts the payload into every
field a command prints, runs the command line, and checks that:

* no character the terminal would act on is in the output (only printable
  characters, U+0020 and the newlines between the command's own lines);
* each field really was printed, escaped (``\\x85``, ``\\u202e``...), so a
  test cannot pass by printing nothing;
* ``--json`` still gives the exact values.

``verify`` is also shown unable to print a line that looks like its own
verdict, where printing the same report unescaped does.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import FORMAT_URIS, DiskSpec, VmSpec, descriptor, make_raw_disk, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovfconverter.cli import report as report_module
from ovfconverter.cli.main import _Formatter
from ovfconverter.cli.progress import ProgressBars
from ovfconverter.cli.report import format_verify
from ovfconverter.cli.terminal import escape_line, escape_lines, escape_text
from ovfconverter.formats.certificate import sign_manifest
from ovfconverter.info import verify_package
from ovfconverter.progress import ProgressEvent

MIB = 1 << 20

XML_PAYLOADS = {
    "CR": "\r",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
    "C1-CSI": "\x9b2J",
    "bidi-embedding": "\u202a\u202b\u202c",
    "bidi-override": "\u202d\u202e",
    "bidi-isolate": "\u2066\u2067\u2068\u2069",
}
"""What XML can carry (as character references): XML 1.0 forbids C0
controls other than tab, LF and CR, even as references."""

PAYLOADS = {**XML_PAYLOADS, "ESC": "\x1b[2J\x1b]0;owned", "BEL": "\x07"}
"""Everything, for manifests, certificates, image headers and file names."""


def printable(text: str) -> bool:
    """Only printable characters and the newlines between lines."""
    return all(char.isprintable() or char == "\n" for char in text)


def assert_safe(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if not (c.isprintable() or c == "\n")})
    assert not bad, f"raw {', '.join(bad)} reached the terminal:\n{text}"
    if text:
        assert text.splitlines() == text.removesuffix("\n").split("\n"), "a line break other than the command's own"


def field(tag: str, payload: str) -> str:
    """The value of one field: a tag to find it by, the payload, an end."""
    return f"{tag}_{payload}_end"


def xml_ref(text: str) -> str:
    """``text`` for XML, every non-ASCII or control character as a
    character reference."""
    return "".join(c if 32 <= ord(c) < 127 and c not in "<>&\"'" else f"&#x{ord(c):x};" for c in text)


# --------------------------------------------------------------------------
# the helper itself


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_escape_line_leaves_nothing_a_terminal_acts_on(payload: str) -> None:
    text = f"before{payload}after"
    escaped = escape_line(text)
    assert escaped.isprintable()
    assert escaped.startswith("before") and escaped.endswith("after")
    assert escaped == repr(text)[1:-1], "escapes as repr does"


def test_escape_line_keeps_printable_text_and_backslashes() -> None:
    for text in ["plain", "Grüße, 日本語 and emoji \U0001f600", r"C:\path\x1b", "a b"]:
        assert escape_line(text) == text


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\x00", "\\x00"),
        ("\x7f", "\\x7f"),
        ("\x9b", "\\x9b"),
        ("\xa0", "\\xa0"),
        ("\u200b", "\\u200b"),
        ("\u200e", "\\u200e"),
        ("\u061c", "\\u061c"),
        ("\ufeff", "\\ufeff"),
        ("\udcff", "\\udcff"),
        ("\U000e0041", "\\U000e0041"),
        ("\U0010fffd", "\\U0010fffd"),
    ],
    ids=["tab", "LF", "NUL", "DEL", "CSI", "NBSP", "ZWSP", "LRM", "ALM", "BOM", "surrogate", "tag", "private-use"],
)
def test_escape_line_escapes_every_non_printable_class(char: str, shown: str) -> None:
    assert escape_line(f"a{char}b") == f"a{shown}b"


def test_escape_lines_and_text_keep_only_their_own_newlines() -> None:
    assert escape_lines(["one\rtwo", "three\u2028"]) == "one\\rtwo\nthree\\u2028"
    assert escape_text("Traceback\n  line \x1b[2J\nError: x\x85y") == "Traceback\n  line \\x1b[2J\nError: x\\x85y"


def test_log_records_are_escaped() -> None:
    record = logging.LogRecord("ovfconverter", logging.WARNING, __file__, 1, "%s", ("x\r\x1b[2Jy",), None)
    assert _Formatter().format(record) == "ovfconverter: warning: x\\r\\x1b[2Jy"


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_progress_labels_are_escaped(payload: str, capsys: pytest.CaptureFixture[str]) -> None:
    """tqdm draws with CR and ESC sequences of its own; the label between
    them must hold neither."""
    bars = ProgressBars()
    subject = field("disk", payload)
    bars(ProgressEvent("convert", subject, 0, 100))
    bars(ProgressEvent("convert", subject, 50, 100))
    bars.close()
    err = capsys.readouterr().err
    assert escape_line(subject) in err
    assert subject not in err
    own = err.replace("\r", "").replace("\x1b[A", "")
    assert printable(own), repr(err)


# --------------------------------------------------------------------------
# packages with a payload in every printed field


DESCRIPTOR = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:gnt="http://ganeti" ovf:version="1.0">
  <References>
    <File ovf:id="file0" ovf:href="disk.raw"/>
    <File ovf:id="file1" ovf:href="{href}"/>
    <File ovf:id="file2" ovf:href="text.vmdk"/>
  </References>
  <DiskSection>
    <Info>disks</Info>
    <Disk ovf:diskId="{disk_id}" ovf:fileRef="file0" ovf:capacity="1048576" ovf:format="{raw_uri}"/>
    <Disk ovf:diskId="vmdk" ovf:fileRef="file2" ovf:capacity="1048576" ovf:format="{vmdk_uri}"/>
  </DiskSection>
  <NetworkSection>
    <Info>networks</Info>
    <Network ovf:name="{network}"><Description>{network_description}</Description></Network>
  </NetworkSection>
  <DeploymentOptionSection>
    <Info>profiles</Info>
    <Configuration ovf:id="{profile}" ovf:default="true"><Label>{profile_label}</Label>
      <Description>d</Description></Configuration>
  </DeploymentOptionSection>
  <VirtualSystem ovf:id="{system_id}">
    <Info>a virtual machine</Info>
    <Name>{name}</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="{os_type}"><Info>os</Info>
      <Description>{os_description}</Description></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <System><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>{system_type}</vssd:VirtualSystemType></System>
      <Item><rasd:ElementName>cpu</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
      <Item><rasd:ElementName>scsi</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:ElementName>disk</rasd:ElementName><rasd:HostResource>ovf:/disk/{disk_id}</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:Address>{mac}</rasd:Address><rasd:Connection>{connection}</rasd:Connection>
        <rasd:ElementName>nic</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>{nic_model}</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item><rasd:ElementName>{cdrom_label}</rasd:ElementName><rasd:HostResource>ovf:/file/file1</rasd:HostResource>
        <rasd:InstanceID>6</rasd:InstanceID><rasd:ResourceType>15</rasd:ResourceType></Item>
      <Item><rasd:ElementName>{sound_label}</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID>
        <rasd:ResourceType>35</rasd:ResourceType></Item>
    </VirtualHardwareSection>
    <gnt:GanetiSection>
      <gnt:Version>0</gnt:Version>
      <gnt:OperatingSystem><gnt:Name>{gnt_os}</gnt:Name><gnt:Parameters/></gnt:OperatingSystem>
      <gnt:Hypervisor><gnt:Name>{gnt_hypervisor}</gnt:Name><gnt:Parameters/></gnt:Hypervisor>
      <gnt:DiskTemplate>{gnt_template}</gnt:DiskTemplate>
      <gnt:Tags>{gnt_tags}</gnt:Tags>
    </gnt:GanetiSection>
  </VirtualSystem>
</Envelope>
"""

XML_FIELDS = [
    "href",
    "disk_id",
    "network",
    "network_description",
    "profile",
    "profile_label",
    "system_id",
    "name",
    "os_type",
    "os_description",
    "system_type",
    "mac",
    "connection",
    "nic_model",
    "cdrom_label",
    "sound_label",
    "gnt_os",
    "gnt_hypervisor",
    "gnt_template",
    "gnt_tags",
]

SPLIT_AT_SPACE = {"system_type", "gnt_tags"}
"""Space-separated lists (``str.split``: CR, NEL, LS and PS separate)."""

PRINTED_BY_INFO = set(XML_FIELDS) - {"network_description", "profile_label"}
"""What ``info`` shows as text (the network's description and the profile's
label are in ``--json`` only)."""


def as_vmdk_reads(text: str) -> str:
    """``text`` as the inspector reads it from a VMDK descriptor (Latin-1)."""
    return text.encode().decode("latin-1")


def text_vmdk(extent: str) -> bytes:
    """A VMDK descriptor file whose extent names ``extent`` (refused on
    import, shown by ``info`` as the reason)."""
    return (
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'
        f'RW 2048 FLAT "{extent}" 0\n'
    ).encode()


def hostile_descriptor(payload: str) -> tuple[bytes, dict[str, str]]:
    """The descriptor with ``payload`` in every field, and each field's
    value (tag + payload + end)."""
    values = {name: field(name, payload) for name in XML_FIELDS}
    xml = DESCRIPTOR.format(
        raw_uri=FORMAT_URIS["raw"],
        vmdk_uri=FORMAT_URIS["monolithicSparse"],
        **{k: xml_ref(v) for k, v in values.items()},
    )
    return xml.encode(), values


@pytest.fixture(scope="module")
def signing_key() -> object:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem(key: object, subject: str) -> tuple[bytes, bytes]:
    """(key PEM, self-signed certificate PEM) with ``subject`` as its CN."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def hostile_package(folder: Path, payload: str, key: object) -> tuple[Path, dict[str, str]]:
    """A folder package with ``payload`` in every descriptor field, in the
    name of a file the manifest lists, in a VMDK extent name and in the
    signer's name; the manifest has one wrong digest."""
    folder.mkdir()
    xml, values = hostile_descriptor(payload if payload in XML_PAYLOADS.values() else "plain")
    (folder / "vm.ovf").write_bytes(xml)
    make_raw_disk(folder / "disk.raw", MIB)
    values["extent"] = field("extent", payload)
    (folder / "text.vmdk").write_bytes(text_vmdk(values["extent"]))
    values["listed"] = field("listed", payload)
    values["mismatch"] = field("mismatch", payload)
    lines = [f"SHA256({name})= {hashlib.sha256((folder / name).read_bytes()).hexdigest()}\n" for name in ("vm.ovf",)]
    lines.append(f"SHA256(disk.raw)= {'0' * 64}\n")
    lines.append(f"SHA256({values['listed']})= {'1' * 64}\n")
    manifest = "".join(lines).encode()
    (folder / "vm.mf").write_bytes(manifest)
    signer = field("signer", payload)
    values["signer"] = signer.replace(";", "\\;")  # as RFC 4514 writes it
    key_pem, cert_pem = certificate_pem(key, signer)
    (folder / "vm.cert").write_bytes(sign_manifest("vm.mf", manifest, key_pem, cert_pem))
    return folder / "vm.ovf", values


@pytest.fixture(scope="module")
def packages(
    tmp_path_factory: pytest.TempPathFactory, signing_key: object
) -> Iterator[dict[str, tuple[Path, dict[str, str]]]]:
    root = tmp_path_factory.mktemp("terminal")
    yield {ident: hostile_package(root / ident, payload, signing_key) for ident, payload in PAYLOADS.items()}


def assert_fields_shown(text: str, values: dict[str, str], names: set[str] | list[str]) -> None:
    """Each field was printed, escaped (or quoted with repr, which escapes
    the same way)."""
    missing = [name for name in names if escape_line(values[name]) not in text]
    assert not missing, f"fields not shown: {missing}\n{text}"


# --------------------------------------------------------------------------
# every command


@pytest.mark.parametrize("ident", list(PAYLOADS))
def test_info_prints_every_field_escaped(packages: dict[str, tuple[Path, dict[str, str]]], ident: str) -> None:
    ovf, values = packages[ident]
    proc = run_cli("info", str(ovf))
    assert proc.returncode == 0, proc.stderr
    assert_safe(proc.stdout)
    assert_safe(proc.stderr)
    shown = {"listed", "signer"} | (PRINTED_BY_INFO if ident in XML_PAYLOADS else set())
    if PAYLOADS[ident].isspace():  # lists split at white space: the payload is a separator there
        shown -= SPLIT_AT_SPACE
    assert_fields_shown(proc.stdout, values, shown)
    assert escape_line(as_vmdk_reads(values["extent"])) in proc.stdout


@pytest.mark.parametrize("ident", list(XML_PAYLOADS))
def test_info_json_keeps_the_exact_values(packages: dict[str, tuple[Path, dict[str, str]]], ident: str) -> None:
    ovf, values = packages[ident]
    proc = run_cli("info", str(ovf), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.isascii(), "JSON escapes every non-ASCII character"
    data = json.loads(proc.stdout)
    system = data["systems"][0]
    assert system["name"] == values["name"]
    assert system["os_description"] == values["os_description"]
    assert data["networks"][0] == {"name": values["network"], "description": values["network_description"]}
    assert data["certificate"]["subject"] == "CN=" + values["signer"]
    assert data["disks"][0]["disk_id"] == values["disk_id"]


@pytest.mark.parametrize("ident", list(PAYLOADS))
def test_verify_prints_every_field_escaped(packages: dict[str, tuple[Path, dict[str, str]]], ident: str) -> None:
    ovf, values = packages[ident]
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1, proc.stderr
    assert_safe(proc.stdout)
    assert_safe(proc.stderr)
    assert_fields_shown(proc.stdout, values, {"listed", "signer"} | ({"href"} if ident in XML_PAYLOADS else set()))
    assert proc.stdout.splitlines()[-1] == f"{ovf}: NOT verified"
    data = json.loads(run_cli("verify", str(ovf), "--json").stdout)
    assert values["listed"] in [entry["name"] for entry in data["files"]]


def text_vmdk_package(folder: Path, extent: str) -> Path:
    """A package whose one disk is a VMDK descriptor file naming ``extent``."""
    folder.mkdir()
    (folder / "text.vmdk").write_bytes(text_vmdk(extent))
    vm = VmSpec(disks=[DiskSpec("text.vmdk", capacity=MIB, format_uri=FORMAT_URIS["monolithicSparse"])])
    (folder / "vm.ovf").write_text(descriptor(vm))
    return folder / "vm.ovf"


@pytest.mark.parametrize("ident", list(PAYLOADS))
def test_import_error_line_is_escaped(tmp_path: Path, ident: str) -> None:
    """The VMDK extent name reaches the one error line, escaped."""
    extent = field("extent", PAYLOADS[ident])
    ovf = text_vmdk_package(tmp_path / "pkg", extent)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("import", str(ovf), "-n", "vm1", "-o", "x+default", "--output-dir", str(out))
    assert proc.returncode == 1, proc.stderr
    assert_safe(proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ovfconverter: error: ")]
    assert len(errors) == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert escape_line(as_vmdk_reads(extent)) in errors[0]
    assert os.listdir(out) == []


@pytest.mark.parametrize("ident", list(XML_PAYLOADS))
def test_import_warnings_progress_and_summary_are_escaped(
    packages: dict[str, tuple[Path, dict[str, str]]], ident: str, tmp_path: Path
) -> None:
    """An import that succeeds: the disk's href (in progress labels and
    -v records) and the network names (in warnings) carry the payload.  The
    hostile Ganeti section is left out: its OS and hypervisor names are
    refused, as they must be."""
    _, values = packages[ident]
    folder = tmp_path / "pkg"
    folder.mkdir()
    xml, _ = hostile_descriptor(XML_PAYLOADS[ident])
    xml = re.sub(rb"<gnt:GanetiSection>.*</gnt:GanetiSection>", b"", xml, flags=re.S)
    xml = re.sub(rb"<Disk ovf:diskId=\"vmdk\".*?/>", b"", xml)
    href = values["href"]
    xml = xml.replace(b'ovf:fileRef="file0"', b'ovf:fileRef="file1"')
    (folder / "vm.ovf").write_bytes(xml)
    if "\r" not in href:  # hrefs with C0 controls are refused
        make_raw_disk(folder / href, MIB)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(
        "import", str(folder / "vm.ovf"), "-n", "vm1", "-o", "x+default", "--output-dir", str(out), "-v", "--progress"
    )
    assert proc.returncode == (1 if "\r" in href else 0), proc.stderr
    assert_safe(proc.stdout)
    stderr = proc.stderr.replace("\r", "").replace("\x1b[A", "")  # tqdm's own
    assert href not in proc.stderr
    assert_safe(stderr)
    assert escape_line(href) in stderr
    if proc.returncode == 0:
        assert "vm1" in proc.stdout


@pytest.mark.parametrize(
    "payloads", [{k: v for k, v in XML_PAYLOADS.items() if k != "CR"}, PAYLOADS], ids=["exported", "refused"]
)
def test_export_summary_and_errors_are_escaped(tmp_path: Path, payloads: dict[str, str]) -> None:
    """Characters XML can carry, but CR, are exported (and the summary is
    escaped); with CR, ESC and BEL too, export refuses, naming the section
    and key, in an escaped line."""
    from builders import write_ganeti_export

    value = field("os", "".join(payloads.values()))
    config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", MIB)
    config.write_text(config.read_text().replace("[os]\n", f"[os]\nnote = {value}\n"))
    proc = run_cli("export", str(config), "--output-dir", str(tmp_path / "out"), "-v")
    assert_safe(proc.stdout)
    assert_safe(proc.stderr)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    if payloads is PAYLOADS:
        assert proc.returncode == 1
        assert "[os] note " in proc.stderr and escape_line(repr(value)) in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


def test_debug_traceback_is_escaped(tmp_path: Path) -> None:
    extent = field("extent", "".join(PAYLOADS.values()))
    ovf = text_vmdk_package(tmp_path / "pkg", extent)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("import", str(ovf), "-n", "vm1", "-o", "x+default", "--output-dir", str(out), "--debug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert_safe(proc.stderr)
    assert escape_line(as_vmdk_reads(extent)) in proc.stderr


def test_usage_errors_are_escaped() -> None:
    proc = run_cli("import", "x.ova", "--disk", "0:size=\x1b[2J\u202e")
    assert proc.returncode == 2
    assert_safe(proc.stderr)


def test_narrow_terminal_encoding_is_no_internal_error(
    packages: dict[str, tuple[Path, dict[str, str]]],
) -> None:
    """Printable non-ASCII text (a VirtualSystem called Grüße) on an ASCII
    terminal: written as backslash escapes, not a UnicodeEncodeError."""
    ovf, _ = packages["NEL"]
    proc = run_cli("info", str(ovf), env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


# --------------------------------------------------------------------------
# verify's verdict cannot be forged

FORGERS = {
    "NEL": ("x\x85", "\x85."),
    "LS": ("x\u2028", "\u2028."),
    "PS": ("x\u2029", "\u2029."),
    "VT": ("x\x0b", "\x0b."),
    "FF": ("x\x0c", "\x0c."),
    "LF": ("x\n", "\n."),
    "CR-ESC-erase-conceal": ("x\r\x1b[2K", "\x1b[8m"),
    "CR-C1-erase-conceal": ("x\r\x9b2K", "\x9b8m"),
}
"""(before, after) the forged verdict: start a new line (or return to the
start of this one and erase it), then push the rest of the real line onto
another one (or hide it)."""


def forging_package(folder: Path, before: str, after: str) -> tuple[Path, str]:
    """A package that names a file ``<before><package path>: verified<after>``
    in its manifest and, where XML can carry it, in a File href; the
    manifest does not verify (that file is missing).  Returns the
    descriptor and the forged verdict."""
    folder.mkdir()
    ovf = folder / "vm.ovf"
    forged = f"{ovf}: verified"
    name = f"{before}{forged}{after}"
    make_raw_disk(folder / "disk.raw", MIB)
    xml_ok = not any(ord(c) < 32 and c not in "\n\r" for c in name)
    vm = VmSpec(disks=[DiskSpec("disk.raw", capacity=MIB, format_uri=FORMAT_URIS["raw"])])
    text = descriptor(vm)
    if xml_ok:
        text = text.replace("</References>", f'<File ovf:id="forged" ovf:href="{xml_ref(name)}"/></References>')
    ovf.write_text(text)
    lines = [f"SHA256(vm.ovf)= {hashlib.sha256(ovf.read_bytes()).hexdigest()}"]
    if "\n" not in name:  # a manifest line ends at LF
        lines.append(f"SHA256({name})= {'0' * 64}")
    (folder / "vm.mf").write_text("\n".join(lines) + "\n")
    return ovf, forged


def terminal_view(text: str) -> list[str]:
    """What a terminal (or a log viewer) shows for ``text``: LF, VT, FF,
    NEL, LS and PS start a new line; CR returns to its start, where later
    characters overwrite; ESC[2K / CSI 2K erase the line; ESC[8m / CSI 8m
    conceal what follows on it."""
    screen: list[str] = []
    line: list[str] = []
    column = 0
    concealed = False
    index = 0
    while index < len(text):
        char = text[index]
        sequence = next((s for s in ("\x1b[2K", "\x9b2K", "\x1b[8m", "\x9b8m") if text.startswith(s, index)), None)
        if sequence:
            if sequence.endswith("2K"):
                line = [" "] * len(line)
            else:
                concealed = True
            index += len(sequence)
            continue
        if char in "\n\x0b\x0c\x85\u2028\u2029":
            screen.append("".join(line).rstrip())
            line, column, concealed = [], 0, False
        elif char == "\r":
            column = 0
        else:
            if column == len(line):
                line.append(" ")
            if not concealed:
                line[column] = char
            column += 1
        index += 1
    screen.append("".join(line).rstrip())
    return [row.strip() for row in screen]


@pytest.mark.parametrize(("before", "after"), list(FORGERS.values()), ids=list(FORGERS))
def test_verify_cannot_be_made_to_print_a_false_verdict(tmp_path: Path, before: str, after: str) -> None:
    ovf, forged = forging_package(tmp_path / "pkg", before, after)
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1, proc.stderr
    assert_safe(proc.stdout)
    assert_safe(proc.stderr)
    lines = proc.stdout.splitlines()
    verdicts = [line for line in lines if line.startswith(f"{ovf}:")]
    assert verdicts == [f"{ovf}: NOT verified"] and lines[-1] == verdicts[0], proc.stdout
    assert forged not in terminal_view(proc.stdout)
    assert escape_line(before + forged + after) in proc.stdout, "the name is shown, escaped"


@pytest.mark.parametrize(("before", "after"), list(FORGERS.values()), ids=list(FORGERS))
def test_the_forged_verdict_works_against_unescaped_output(
    tmp_path: Path, before: str, after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same report printed without escaping: the terminal shows the
    forged verdict on a line of its own."""
    ovf, forged = forging_package(tmp_path / "pkg", before, after)
    report = verify_package(str(ovf))
    assert not report.ok
    monkeypatch.setattr(report_module, "escape_lines", "\n".join)
    assert forged in terminal_view(format_verify(report)), terminal_view(format_verify(report))
    monkeypatch.undo()
    assert forged not in terminal_view(format_verify(report))


def test_formatters_escape_whatever_the_report_holds() -> None:
    """The report functions escape line by line, whatever the field: a
    report built by hand with a payload everywhere."""
    from ovfconverter.info.model import FileVerdict, VerifyReport

    payload = "".join(PAYLOADS.values())
    verdicts = [
        FileVerdict(payload, status, "sha256", payload, payload) for status in ("ok", "mismatch", "missing", "unlisted")
    ]
    report = VerifyReport(payload, payload, verdicts, None, False, [payload], payload, [payload], [payload])
    text = format_verify(report)
    assert_safe(text)
    assert len(text.split("\n")) == 4 + 3 + 1


def test_stdout_and_stderr_never_fail_on_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() makes stdout and stderr write what they cannot encode as
    backslash escapes."""
    from ovfconverter.cli import main as main_module

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(main_module, "build_parser", lambda: _Exit())
    with pytest.raises(SystemExit):
        main_module.main([])
    print("Grüße", file=stream)
    stream.flush()
    assert raw.getvalue() == b"Gr\\xfc\\xdfe\n"


class _Exit:
    def parse_args(self, argv: object) -> object:
        raise SystemExit(0)


# --------------------------------------------------------------------------
# any package, through the whole command line (tools/fuzz/fuzz_cli.py runs
# the same checks for longer, coverage-guided)


def run_main(args: list[str]) -> tuple[int, str, str]:
    """``ovfconverter ARGS`` in this process, output captured."""
    import contextlib

    from ovfconverter.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    return status, out.getvalue(), err.getvalue()


@st.composite
def mutated_packages(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    """(descriptor, manifest, disk): the hostile descriptor with some bytes
    replaced, a manifest of odd lines, a few bytes of disk."""
    xml, _ = hostile_descriptor(draw(st.sampled_from(list(XML_PAYLOADS.values()))))
    data = bytearray(xml)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + draw(st.integers(0, 8))] = draw(st.binary(max_size=8))
    names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10)
    lines = draw(
        st.lists(
            st.one_of(
                st.builds(lambda n: f"SHA256({n})= {'0' * 64}", names),
                st.builds(lambda n: f"SHA1({n})={'1' * 40}", st.sampled_from(["vm.ovf", "disk.raw", "text.vmdk"])),
                names,
            ),
            max_size=4,
        )
    )
    manifest = "\n".join(lines).encode("utf-8", "surrogatepass")
    disk = draw(st.sampled_from([b"", bytes(4096), b"QFI\xfb" + bytes(508), b"KDMV" + bytes(508)]))
    return bytes(data), manifest, disk


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(mutated_packages())
def test_any_package_prints_only_escaped_lines_and_never_an_internal_error(
    tmp_path_factory: pytest.TempPathFactory, package: tuple[bytes, bytes, bytes]
) -> None:
    folder = tmp_path_factory.mktemp("any")
    descriptor_bytes, manifest, disk = package
    (folder / "vm.ovf").write_bytes(descriptor_bytes)
    (folder / "vm.mf").write_bytes(manifest)
    for name in ("disk.raw", "text.vmdk"):
        (folder / name).write_bytes(disk)
    ovf = str(folder / "vm.ovf")
    for args in (
        ["info", ovf],
        ["verify", ovf],
        ["import", ovf, "-n", "vm1", "-o", "x+default", "--output-dir", str(folder / "out")],
    ):
        status, out, err = run_main(args)
        assert status in (0, 1), err
        assert all(line.startswith("ovfconverter: ") and "internal error" not in line for line in err.splitlines()), err
        assert printable(out) and printable(err), (out, err)
