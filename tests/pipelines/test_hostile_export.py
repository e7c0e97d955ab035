"""Hostile input on the export side, and hard links (issue 12).

* ``config.ini`` values that the OVF cannot carry, or that our own import
  would not read back unchanged: control characters (XML cannot hold most;
  lxml raised, which was an "internal error"), ``%(...)s`` (Ganeti
  interpolates), continuation lines (a newline inside a value).  Export
  refuses them with one line naming the section and key; a Hypothesis
  property checks that every value that is exported comes back the same
  through our import.
* Hard links: a disk dump, a config.ini or a file of a folder package with
  several links may be a link to a secret elsewhere on the same file system
  (only ``fs.protected_hardlinks`` stops an unprivileged user from making
  one).  Refused unless ``--allow-hardlinks``; with it, the secret is read,
  which shows what the refusal prevents.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
from pathlib import Path

import pytest
from builders import (
    ATTACK_RSS,
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    descriptor,
    make_raw_disk,
    run_cli,
    run_cli_bounded,
    write_ganeti_export,
    write_manifest,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from ovfconverter import (
    ConfigError,
    ExportOptions,
    ImportOptions,
    OVFConverterError,
    export_instance,
    import_package,
)
from ovfconverter.formats.config_ini import read_config
from ovfconverter.hub import ganeti as export_plan

MIB = 1 << 20
CANARY = b"CANARY:ovfconverter-hardlink-5d2a:" * 1024


def export_folder(folder: Path, extra: dict[str, str] | None = None) -> Path:
    """A Ganeti export of a 1 MiB disk; ``extra`` adds ``key = value``
    lines (``"[os] note"`` -> ``"value"``) written as given."""
    config = write_ganeti_export(folder, "vm1.example.com", MIB)
    text = config.read_text()
    for where, value in (extra or {}).items():
        section, key = where.split()
        text = text.replace(f"{section}\n", f"{section}\n{key} = {value}\n", 1)
    config.write_text(text)
    return config


def one_error(proc_stderr: str) -> str:
    lines = proc_stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ovfconverter: error: "), proc_stderr
    assert "internal error" not in lines[0]
    return lines[0]


# --------------------------------------------------------------------------
# config.ini values

UNCARRIABLE = {
    "ESC": ("[os] note", "a\x1b[2Jb", r"\[os\] note .* contains a control character"),
    "BEL": ("[hypervisor] kernel_args", "a\x07b", r"\[hypervisor\] kernel_args .* contains a control character"),
    "NUL-like DEL": ("[os] note", "a\x7fb", r"\[os\] note .* contains a control character"),
    "VT": ("[backend] note", "a\x0bb", r"\[backend\] note .* contains a control character"),
    "interpolation": ("[os] note", "%(name)s", r"\[os\] note '%\(name\)s' contains '%'"),
    "continuation": ("[hypervisor] kernel_args", "ro\n  init=/bin/sh", r"\[hypervisor\] kernel_args 'ro\\ninit"),
    "nic link": ("[instance] nic0_link", "br0\x1b]0;x", r"\[instance\] nic0_link .* contains a control character"),
}


@pytest.mark.parametrize("case", list(UNCARRIABLE))
def test_config_values_the_ovf_cannot_carry_are_refused(tmp_path: Path, case: str) -> None:
    where, value, match = UNCARRIABLE[case]
    if where == "[instance] nic0_link":
        config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", MIB)
        config.write_text(config.read_text().replace("nic0_link = br0", f"nic0_link = {value}"))
    else:
        config = export_folder(tmp_path / "gnt", {where: value})
    out = tmp_path / "out"
    out.mkdir()
    proc, rss = run_cli_bounded("export", str(config), "--output-dir", str(out), tmp=tmp_path)
    assert proc.returncode == 1, proc.stderr
    line = one_error(proc.stderr)
    assert re.search(r"config\.ini: cannot export: " + match, line), line
    assert rss < ATTACK_RSS and os.listdir(out) == []


def test_control_characters_break_a_naive_xml_writer() -> None:
    """What happened before: lxml refuses them, with a ValueError."""
    with pytest.raises(ValueError, match="XML compatible"):
        etree.Element("Value").text = "a\x1bb"


@pytest.mark.parametrize("case", ["interpolation", "continuation"])
def test_a_naive_export_writes_what_our_import_then_refuses(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the export's check, the package is written, and our own
    import refuses it: the value cannot make the round trip."""
    where, value, _ = UNCARRIABLE[case]
    config = export_folder(tmp_path / "gnt", {where: value})
    monkeypatch.setattr(export_plan, "value_problems", lambda config, external: [])
    result = export_instance(str(config), ExportOptions(output_dir=str(tmp_path / "out"), format="raw"))
    with pytest.raises(OVFConverterError, match=r"contains (a control character|'%')"):
        import_package(result.path, ImportOptions(output_dir=str(tmp_path / "in")))
    monkeypatch.undo()
    shutil.rmtree(tmp_path / "out")
    with pytest.raises(ConfigError):
        export_instance(str(config), ExportOptions(output_dir=str(tmp_path / "out"), format="raw"))


# The property: whatever config.ini says, export either refuses it with our
# own error, or every value it carries comes back the same through import.

SPECIAL = [
    "%(name)s",
    "%%",
    "a\n  b",
    "\x1b[2J",
    "x\x85",
    "\u2028y",
    " lead",
    "trail\u00a0",
    "[os]",
    "k = v",
    "a;b#c",
    "",
    "None",
    "\u202eevil",
    "é",
]
PLAIN = st.from_regex(r"[A-Za-z0-9_./:=,+@-]{1,12}", fullmatch=True)
"""What configurations hold: most slots get one, so that many exports succeed."""
HOSTILE = st.one_of(st.sampled_from(SPECIAL), st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
VALUES = st.one_of(PLAIN, PLAIN, PLAIN, PLAIN, PLAIN, PLAIN, HOSTILE)
KEYS = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_.-]{0,10}", fullmatch=True), st.sampled_from(["Mixed_Case", "a b", "x:y"])
)


def _line(key: str, value: str) -> str:
    return f"{key} = {value}"


@st.composite
def configs(draw: st.DrawFn) -> dict[str, list[tuple[str, str]]]:
    return {
        section: draw(st.lists(st.tuples(KEYS, VALUES), max_size=3, unique_by=lambda item: item[0].lower()))
        for section in ("hypervisor", "os")
    } | {
        "tags": [("", draw(st.lists(VALUES, max_size=3).map(" ".join)))],
        "nic0_link": [("", draw(VALUES))],
        "nic0_name": [("", draw(VALUES))],
        "disk0_name": [("", draw(VALUES))],
    }


def write_config_text(folder: Path, drawn: dict[str, list[tuple[str, str]]]) -> Path:
    config = write_ganeti_export(folder, "vm1.example.com", MIB)
    text = config.read_text().replace("tags =\n", f"tags = {drawn['tags'][0][1]}\n")
    text = text.replace("nic0_link = br0", f"nic0_link = {drawn['nic0_link'][0][1]}")
    text = text.replace("nic0_mode = bridged", f"nic0_mode = bridged\nnic0_name = {drawn['nic0_name'][0][1]}")
    text = text.replace("disk0_dump =", f"disk0_name = {drawn['disk0_name'][0][1]}\ndisk0_dump =")
    for section in ("hypervisor", "os"):
        lines = "".join(_line(key, value) + "\n" for key, value in drawn[section])
        text = text.replace(f"[{section}]\n", f"[{section}]\n{lines}", 1)
    config.write_text(text)
    return config


@settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(configs())
@example({"hypervisor": [("kernel_args", "%(name)s")], "os": [], "tags": [("", "")], "nic0_link": [("", "br0")],
          "nic0_name": [("", "None")], "disk0_name": [("", "None")]})  # fmt: skip
@example({"hypervisor": [], "os": [("note", "x\x85y")], "tags": [("", "a b")], "nic0_link": [("", "br\u202e0")],
          "nic0_name": [("", "eth\u00e90")], "disk0_name": [("", "root disk")]})  # fmt: skip
def test_every_exported_value_comes_back_the_same(
    tmp_path_factory: pytest.TempPathFactory, drawn: dict[str, list[tuple[str, str]]]
) -> None:
    work = tmp_path_factory.mktemp("roundtrip")
    config_path = write_config_text(work / "gnt", drawn)
    try:
        exported = read_config(config_path.read_bytes(), "config.ini")
    except ConfigError:
        event("not a config.ini")
        return  # export refuses it too (read_config's own tests show that)
    try:
        result = export_instance(str(config_path), ExportOptions(output_dir=str(work / "out"), format="raw"))
    except OVFConverterError:
        event("refused by export")
        return  # refused, with our own error: allowed
    event("exported: round trip")
    back = import_package(result.path, ImportOptions(output_dir=str(work / "in")))
    imported = back.config
    assert imported.hypervisor_params == exported.hypervisor_params
    assert imported.os_params == exported.os_params
    assert imported.tags == exported.tags
    assert (imported.nics[0].link, imported.nics[0].name) == (exported.nics[0].link, exported.nics[0].name)
    assert imported.disks[0].name == exported.disks[0].name
    # and Ganeti's own reader (an interpolating ConfigParser) reads the same
    parser = configparser.ConfigParser(strict=True)
    parser.read(Path(back.path) / "config.ini", encoding="utf-8")
    for section, values in (("hypervisor", exported.hypervisor_params), ("os", exported.os_params)):
        assert {key: parser.get(section, key) for key in values} == values


# --------------------------------------------------------------------------
# hard links


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A file elsewhere on the same file system: what a link points at."""
    path = tmp_path / "elsewhere" / "secret"
    path.parent.mkdir()
    path.write_bytes(CANARY * (MIB // len(CANARY)) + bytes(MIB - len(CANARY) * (MIB // len(CANARY))))
    return path


def contains_canary(folder: Path) -> bool:
    return any(CANARY[:40] in path.read_bytes() for path in folder.rglob("*") if path.is_file())


def test_export_dump_that_is_a_hard_link_is_refused(tmp_path: Path, canary: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", MIB)
    dump = tmp_path / "gnt" / "disk0.dump"
    dump.unlink()
    os.link(canary, dump)
    out = tmp_path / "out"
    out.mkdir()
    proc, rss = run_cli_bounded("export", str(config), "--output-dir", str(out), "-f", "raw", tmp=tmp_path)
    line = one_error(proc.stderr)
    assert proc.returncode == 1 and rss < ATTACK_RSS
    assert re.search(r"disk0_dump 'disk0\.dump' has 2 hard links: .*refusing \(--allow-hardlinks", line), line
    assert os.listdir(out) == []
    proc = run_cli("export", str(config), "--output-dir", str(out), "-f", "raw", "--allow-hardlinks")
    assert proc.returncode == 0, proc.stderr
    assert contains_canary(out), "with --allow-hardlinks the linked file is read: what the refusal prevents"


def test_export_config_ini_that_is_a_hard_link_is_refused(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", MIB)
    os.link(config, tmp_path / "config-elsewhere.ini")
    proc = run_cli("export", str(config), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert re.search(r"config\.ini: config\.ini has 2 hard links", one_error(proc.stderr))


def hardlinked_package(tmp_path: Path, canary: Path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    os.link(canary, pkg / "disk.raw")
    spec = VmSpec(disks=[DiskSpec("disk.raw", capacity=MIB, format_uri=FORMAT_URIS["raw"])])
    (pkg / "vm.ovf").write_text(descriptor(spec))
    write_manifest(pkg, "vm", ["vm.ovf", "disk.raw"])
    return pkg / "vm.ovf"


def test_import_file_that_is_a_hard_link_is_refused(tmp_path: Path, canary: Path) -> None:
    ovf = hardlinked_package(tmp_path, canary)
    out = tmp_path / "out"
    out.mkdir()
    args = ["import", str(ovf), "-n", "vm1", "-o", "x+default", "--output-dir", str(out)]
    proc, rss = run_cli_bounded(*args, tmp=tmp_path)
    line = one_error(proc.stderr)
    assert proc.returncode == 1 and rss < ATTACK_RSS
    assert re.search(r"vm\.ovf: href 'disk\.raw' has 2 hard links", line), line
    assert os.listdir(out) == []
    proc = run_cli(*args, "--allow-hardlinks")
    assert proc.returncode == 0, proc.stderr
    assert contains_canary(out), "with --allow-hardlinks the linked file is read: what the refusal prevents"


def test_verify_gives_no_digest_of_a_hard_linked_file(tmp_path: Path, canary: Path) -> None:
    """A digest of a file elsewhere is an oracle on its content: verify does
    not hash it (it counts as missing), info says why."""
    ovf = hardlinked_package(tmp_path, canary)
    proc = run_cli("verify", str(ovf))
    assert proc.returncode == 1
    assert "MISSING   disk.raw" in proc.stdout and "OK        disk.raw" not in proc.stdout
    proc = run_cli("verify", str(ovf), "--allow-hardlinks")
    assert proc.returncode == 0 and "OK        disk.raw" in proc.stdout
    info = run_cli("info", str(ovf))
    assert "is refused: href 'disk.raw' has 2 hard links" in info.stdout


def test_descriptor_that_is_a_hard_link_is_refused(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    make_raw_disk(pkg / "disk.raw", MIB)
    ovf = pkg / "vm.ovf"
    ovf.write_text(descriptor(VmSpec(disks=[DiskSpec("disk.raw", capacity=MIB, format_uri=FORMAT_URIS["raw"])])))
    os.link(ovf, tmp_path / "elsewhere.ovf")
    proc = run_cli("info", str(ovf))
    assert proc.returncode == 1
    assert re.search(r"vm\.ovf: the descriptor has 2 hard links", one_error(proc.stderr))
