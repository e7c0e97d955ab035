"""What using the command line feels like: progress bars, logging levels,
``--help`` examples that really parse, ``--version``, the README's library
example, and ``ovfconverter info X | head -1``.

stderr is never a terminal here, so bars only appear with ``--progress``.
``-q`` wins over ``--progress`` (``main``: ``show_bars = not quiet and
(progress or isatty)``): no bars, but warnings and errors still show.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from builders import (
    FORMAT_URIS,
    ROOT,
    DiskSpec,
    VmSpec,
    convert,
    folder_package,
    make_raw_disk,
    ova_package,
    read_ini,
    run_cli,
    write_ganeti_export,
)

import ovfconverter
from ovfconverter import ExportOptions, ImportOptions, ProgressEvent, export_instance, import_package, verify_package
from ovfconverter.cli.main import build_parser

MIB = 1 << 20
STEPS = {"verify", "convert", "copy", "decompress", "pack", "hash", "upload"}  # ovfconverter.progress docs

# the meter, IEC units: "converting x:  29%|██▊       | 73.0 MiB/256.0 MiB [00:00<00:00, 334.2 MiB/s]"
IEC = r"(?:\d+ B|\d+\.\d (?:KiB|MiB|GiB|TiB))"
BAR = re.compile(rf"^(?P<desc>.*?): +\d+%\|[^|]*\| {IEC}/{IEC} \[[\d:]+<[\d:?]+, (?P<rate>{IEC}/s|\?)\]")


def bar_segments(stderr: str) -> list[re.Match[str]]:
    return [m for m in map(BAR.match, re.split(r"[\r\n]", stderr)) if m]


def non_bar_text(stderr: str) -> list[str]:
    """What stderr holds besides tqdm's bars (and the blank line a closed
    bar leaves behind)."""
    return [s for s in re.split(r"[\r\n]", stderr) if s.strip() and not BAR.match(s)]


def small_ova(folder: Path, name: str, network: str = "VM Network") -> Path:
    """A one-disk OVA (4 MiB qcow2); its OVF network ``VM Network`` makes
    an import warn."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = make_raw_disk(folder / f"{name}.raw", 4 * MIB)
    qcow2 = convert(raw, folder / f"{name}.qcow2", "qcow2")
    spec = VmSpec(
        name=name,
        disks=[DiskSpec(f"{name}.qcow2", capacity=4 * MIB, format_uri=FORMAT_URIS["qcow2"])],
        nics=[(network, None)],
        networks=[network],
    )
    return ova_package(folder / f"{name}.ova", spec, {f"{name}.qcow2": qcow2})


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], Path]:
    """A 256 MiB disk exported with ``--progress``: (config.ini, the
    export's CompletedProcess, the OVA)."""
    work = tmp_path_factory.mktemp("big")
    config = write_ganeti_export(work / "gnt", "big-vm", 256 * MIB, random_mib=64)
    proc = run_cli("export", str(config), "--ova", "--output-dir", str(work / "out"), "--progress")
    assert proc.returncode == 0, proc.stderr
    return config, proc, work / "out" / "big-vm.ova"


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ganeti_export(tmp_path_factory.mktemp("small") / "gnt", "small-vm", 4 * MIB)


@pytest.fixture(scope="module")
def warning_ova(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_ova(tmp_path_factory.mktemp("warn"), "warn-vm")


@pytest.fixture(scope="module")
def gzip_ova(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small OVA, gzip-compressed as a whole (accepted with a warning)."""
    work = tmp_path_factory.mktemp("gz")
    plain = small_ova(work / "src", "gz-vm", network="bridged")
    packed = work / "gz-vm.ova"
    packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    return packed


# --------------------------------------------------------------------------
# Progress bars


def test_export_progress_draws_tqdm_bars(big_export: tuple[Path, subprocess.CompletedProcess[str], Path]) -> None:
    _, proc, ova = big_export
    bars = bar_segments(proc.stderr)
    assert bars, f"no tqdm bar on stderr: {proc.stderr[:300]!r}"
    assert all(m["desc"].startswith("converting ") for m in bars), {m["desc"] for m in bars}
    assert any(m["rate"] != "?" for m in bars), "no bar update with a rate: the disk produced no progress"
    assert re.search(r"\b[1-9]\d?%\|", proc.stderr), "no intermediate percentage"
    assert non_bar_text(proc.stderr) == []
    assert proc.stdout == f"{ova}: OVA of 'big-vm', 1 disk(s), OVF 1.0\n"


def test_import_progress_draws_tqdm_bars(
    big_export: tuple[Path, subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, _, ova = big_export
    proc = run_cli("import", str(ova), "--output-dir", str(tmp_path), "--progress")
    assert proc.returncode == 0, proc.stderr
    bars = bar_segments(proc.stderr)
    assert bars, f"no tqdm bar on stderr: {proc.stderr[:300]!r}"
    assert any(m["rate"] != "?" for m in bars)
    assert any(m["desc"] == "converting big-vm-disk0.vmdk" for m in bars), {m["desc"] for m in bars}
    assert non_bar_text(proc.stderr) == []
    assert (tmp_path / "big-vm" / "disk0.raw").stat().st_size == 256 * MIB


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_progress_option_works_on_either_side_of_the_command(small_export: Path, tmp_path: Path, where: str) -> None:
    args = ["export", str(small_export), "--output-dir", str(tmp_path)]
    args = ["--progress", *args] if where == "before the command" else [*args, "--progress"]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert bar_segments(proc.stderr), "a bar is drawn even for a small disk (its 0% state at least)"


def test_no_progress_when_stderr_is_not_a_terminal(small_export: Path, warning_ova: Path, tmp_path: Path) -> None:
    proc = run_cli("export", str(small_export), "--ova", "--output-dir", str(tmp_path))
    assert proc.returncode == 0
    assert proc.stderr == ""
    proc = run_cli("import", str(warning_ova), "-o", "debian", "--output-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith("ovfconverter: warning: ") for line in lines), proc.stderr
    assert "\r" not in proc.stderr


def test_quiet_wins_over_progress(small_export: Path, warning_ova: Path, tmp_path: Path) -> None:
    proc = run_cli("export", str(small_export), "--output-dir", str(tmp_path), "-q", "--progress")
    assert proc.returncode == 0
    assert proc.stderr == ""
    proc = run_cli("-q", "import", str(warning_ova), "-o", "debian", "--output-dir", str(tmp_path), "--progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "-q: only errors, no bar and no warning"
    loud = run_cli("import", str(warning_ova), "-o", "debian", "--output-dir", str(tmp_path / "loud"))
    assert loud.stderr.startswith("ovfconverter: warning: "), "the import above does warn without -q"


def test_quiet_still_says_why_it_failed(warning_ova: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(warning_ova), "-q", "--output-dir", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.startswith("ovfconverter: error: ") and len(proc.stderr.splitlines()) == 1, proc.stderr


def check_events(events: list[ProgressEvent], what: str) -> dict[tuple[str, str], list[ProgressEvent]]:
    """Per (step, subject): starts at 0, ``done`` strictly increases, one
    ``total`` throughout, the last event is done == total and comes once."""
    assert events, f"{what}: no progress event"
    by_key: dict[tuple[str, str], list[ProgressEvent]] = defaultdict(list)
    for event in events:
        assert isinstance(event, ProgressEvent)
        assert event.step in STEPS, f"{what}: undocumented step {event.step!r}"
        assert event.subject, f"{what}: event without subject"
        by_key[(event.step, event.subject)].append(event)
    for key, seq in by_key.items():
        done = [e.done for e in seq]
        assert done[0] == 0, f"{what} {key}: starts at {done[0]}"
        assert all(a < b for a, b in pairwise(done)), f"{what} {key}: done not increasing: {done}"
        assert {e.total for e in seq} == {seq[0].total} and seq[0].total is not None, f"{what} {key}"
        assert done[-1] == seq[0].total, f"{what} {key}: ends at {done[-1]} of {seq[0].total}"
        assert len(set(seq)) == len(seq), f"{what} {key}: an event reported twice"
    return by_key


def test_library_progress_events(
    big_export: tuple[Path, subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    config, _, ova = big_export
    events: list[ProgressEvent] = []
    export_instance(str(config), ExportOptions(output_dir=str(tmp_path / "exp"), format="qcow2"), events.append)
    by_key = check_events(events, "export")
    assert "convert" in {step for step, _ in by_key}
    assert max(len(seq) for seq in by_key.values()) >= 5, "a 256 MiB disk gives intermediate updates"

    events = []
    import_package(str(ova), ImportOptions(output_dir=str(tmp_path / "imp")), events.append)
    by_key = check_events(events, "import")
    (convert_seq,) = [seq for (step, _), seq in by_key.items() if step == "convert"]
    assert len(convert_seq) >= 5 and convert_seq[0].subject == "big-vm-disk0.vmdk"

    events = []
    assert verify_package(str(ova), events.append).ok
    by_key = check_events(events, "verify")
    assert {step for step, _ in by_key} == {"verify"}
    assert ("verify", "big-vm-disk0.vmdk") in by_key


# --------------------------------------------------------------------------
# Logging


def _kinds(stderr: str) -> dict[str, list[str]]:
    """stderr lines by kind: warning, error, debug, step (``ovfconverter: ...``), other."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for line in stderr.splitlines():
        match = re.match(r"ovfconverter: (warning|error|debug): ", line)
        if match:
            kinds[match[1]].append(line)
        elif line.startswith("ovfconverter: "):
            kinds["step"].append(line)
        else:
            kinds["other"].append(line)
    return kinds


GZIP_WARNING = "ovfconverter: warning: gz-vm.ova: the OVA is gzip-compressed, which DSP0243 does not allow"


def test_warnings_show_unless_quiet(gzip_ova: Path, tmp_path: Path) -> None:
    proc = run_cli("import", str(gzip_ova), "-o", "debian", "--output-dir", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr
    kinds = _kinds(proc.stderr)
    assert set(kinds) == {"warning"}, proc.stderr
    assert any(line.startswith(GZIP_WARNING) for line in kinds["warning"]), proc.stderr
    quiet = run_cli("import", str(gzip_ova), "-o", "debian", "--output-dir", str(tmp_path / "b"), "-q")
    assert quiet.returncode == 0 and quiet.stderr == "", "-q: only errors"


def test_verbose_adds_step_lines(gzip_ova: Path, small_export: Path, tmp_path: Path) -> None:
    proc = run_cli("-v", "import", str(gzip_ova), "-o", "debian", "--output-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    kinds = _kinds(proc.stderr)
    assert set(kinds) == {"warning", "step"}, proc.stderr
    assert any(line.startswith(GZIP_WARNING) for line in kinds["warning"])
    steps = kinds["step"]
    assert any(re.match(r"ovfconverter: verifying \d+ files against package\.mf", line) for line in steps), steps
    assert "ovfconverter: disk 0: converting gz-vm.qcow2 to raw" in steps
    assert steps[-1] == f"ovfconverter: wrote {tmp_path / 'gz-vm'}"

    proc = run_cli("export", str(small_export), "--output-dir", str(tmp_path), "--ova", "-v")
    assert proc.returncode == 0, proc.stderr
    # what the default (generic) publishing rules changed, then the result
    assert proc.stderr.splitlines() == [
        "ovfconverter: disk 0: the target has no virtio controller: using ide",
        "ovfconverter: nic 0: the target has no virtio NIC: using e1000",
        f"ovfconverter: wrote {tmp_path / 'small-vm.ova'}",
    ]


def test_debug_adds_debug_lines(warning_ova: Path, tmp_path: Path) -> None:
    args = ["import", str(warning_ova), "-o", "debian", "--disk", "0:size=8M", "--output-dir", str(tmp_path)]
    verbose = _kinds(run_cli(*args, "-v").stderr)
    assert "debug" not in verbose and verbose["step"]
    proc = run_cli(*args, "-d", "--force")
    assert proc.returncode == 0, proc.stderr
    kinds = _kinds(proc.stderr)
    no_node = Path(os.environ["OVFCONVERTER_GANETI_DIR"]) / "ssconf_cluster_name"
    stages = [line for line in kinds["debug"] if line.startswith("ovfconverter: debug: stage ")]
    assert [line for line in kinds["debug"] if line not in stages] == [
        f"ovfconverter: debug: not run on a Ganeti node (no {no_node})"
    ]
    # per-stage timers (doc/performance.rst): start-up, then each step, the command last
    assert re.fullmatch(r"ovfconverter: debug: stage start-up \(.*\): \d+\.\d{3} s wall", stages[0])
    assert re.fullmatch(r"ovfconverter: debug: stage import: \d+\.\d{3} s wall, \d+\.\d{3} s CPU", stages[-1])
    assert any(line.startswith("ovfconverter: debug: stage fsync: ") for line in stages), stages
    assert any(
        line.startswith("ovfconverter: warning: package.ovf: --disk 0 replaces disk 0") for line in kinds["warning"]
    )
    assert kinds["step"] == verbose["step"], "-d includes what -v shows"
    assert "other" not in kinds


@pytest.fixture
def tampered_package(tmp_path: Path) -> Path:
    """A folder package whose disk no longer matches its manifest."""
    raw = make_raw_disk(tmp_path / "t.raw", 4 * MIB)
    qcow2 = convert(raw, tmp_path / "t.qcow2", "qcow2")
    spec = VmSpec(name="tampered", disks=[DiskSpec("t.qcow2", capacity=4 * MIB, format_uri=FORMAT_URIS["qcow2"])])
    ovf = folder_package(tmp_path / "pkg", spec, {"t.qcow2": qcow2})
    with open(ovf.parent / "t.qcow2", "r+b") as stream:
        stream.seek(300 * 1024)
        stream.write(b"tampered")
    return ovf


def test_errors_are_one_line_and_debug_adds_a_traceback(tampered_package: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["import", str(tampered_package), "-o", "debian", "--output-dir", str(out)]
    proc = run_cli(*args)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("ovfconverter: error: package.mf: digest mismatch for t.qcow2")
    proc = run_cli(*args, "-d")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert "ManifestError" in proc.stderr
    assert lines[-1] == line
    assert sum(entry.startswith("ovfconverter: error:") for entry in lines) == 1
    assert list(out.iterdir()) == []

    proc = run_cli("info", str(tmp_path / "absent.ova"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"ovfconverter: error: {tmp_path / 'absent.ova'}: no such file"]


# --------------------------------------------------------------------------
# --help examples and --version


def example_commands(help_text: str) -> list[list[str]]:
    """The ``ovfconverter ...`` lines of the ``examples:`` section, as
    argument lists (``$(...)`` replaced, a trailing ``| ...`` dropped)."""
    assert "\nexamples:\n" in help_text, "no examples: section"
    section = help_text.split("\nexamples:\n", 1)[1]
    commands = []
    for line in section.splitlines():
        line = line.strip()
        if not line.startswith("ovfconverter "):
            continue
        line = re.sub(r"\$\([^)]*\)", "DUMMY", line).split(" | ")[0]
        commands.append(shlex.split(line)[1:])
    return commands


def parses(argv: list[str]) -> tuple[bool, str]:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code == 0, f"exit {exc.code}"
    return True, ""


@pytest.mark.parametrize("command", ["import", "export", "info", "verify"])
def test_help_examples_use_real_options(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_cli(command, "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    examples = example_commands(proc.stdout)
    assert len(examples) >= 2, proc.stdout
    for argv in examples:
        assert argv[0] == command, f"{command} --help shows an example of {argv[0]}"
        ok, why = parses(argv)
        assert ok, f"example 'ovfconverter {shlex.join(argv)}' does not parse ({why}): {capsys.readouterr().err}"


def test_example_parser_check_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above rejects an option that does not exist."""
    assert parses(["info", "x.ova", "--json"])[0]
    assert not parses(["info", "x.ova", "--yaml"])[0]
    assert not parses(["export", "config.ini", "--digest", "md5"])[0]
    capsys.readouterr()


def test_readme_command_lines_parse(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(".venv/bin/ovfconverter ")]
    assert len(lines) >= 2
    for line in lines:
        argv = shlex.split(line)[1:]
        ok, why = parses(argv)
        assert ok, f"README: '{line}' does not parse ({why}): {capsys.readouterr().err}"


def test_version_is_pyproject_version() -> None:
    project = (ROOT / "pyproject.toml").read_text().split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    (version,) = re.findall(r'^version = "([^"]+)"$', project, re.M)
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"ovfconverter {version}\n"
    assert ovfconverter.__version__ == version


# --------------------------------------------------------------------------
# The README's library example


def test_readme_library_example_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert '"appliance.ova"' in code and '"/var/lib/ganeti/export"' in code
    ova = small_ova(tmp_path / "src", "readme-vm")
    out = tmp_path / "export"
    out.mkdir()
    code = code.replace('"appliance.ova"', repr(str(ova))).replace('"/var/lib/ganeti/export"', repr(str(out)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ini = read_ini(out / "readme-vm" / "config.ini")
    assert proc.stdout.splitlines() == [
        str(out / "readme-vm"),
        ini["backend"]["maxmem"],
        f"{out / 'readme-vm' / 'disk0.raw'} {4 * MIB}",
    ]
    assert ini["backend"]["maxmem"] == "512"
    assert (out / "readme-vm" / "disk0.raw").stat().st_size == 4 * MIB
    # warnings go to the logger, which prints nothing unless configured
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------
# ovfconverter info X | head -1


def _env(buffered: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_info_into_a_pipe_whose_reader_has_gone(warning_ova: Path, buffered: bool, json_flag: list[str]) -> None:
    """``ovfconverter info X | head -1`` once head has read its line and
    left: exit 141 (128 + SIGPIPE), nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ovfconverter", "info", str(warning_ova), *json_flag],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(buffered),
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


@pytest.fixture(scope="module")
def wordy_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A descriptor with 20000 networks: ``info`` prints about 300 KB."""
    folder = tmp_path_factory.mktemp("wordy")
    networks = [f"network-{n:05d}" for n in range(20000)]
    spec = VmSpec(name="wordy", networks=networks, nics=[(networks[0], None)])
    return folder_package(folder, spec, {}, manifest=None)


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_info_piped_into_head(wordy_package: Path, warning_ova: Path, tmp_path: Path, buffered: bool) -> None:
    err = tmp_path / "stderr"
    for package, statuses in ((wordy_package, {141}), (warning_ova, {0, 141})):
        script = (
            f"{shlex.quote(sys.executable)} -m ovfconverter info {shlex.quote(str(package))} 2>{shlex.quote(str(err))}"
            ' | head -1; echo "status=${PIPESTATUS[0]}"'
        )
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_env(buffered))
        first, status = proc.stdout.splitlines()
        assert first.startswith(f"{package}: "), first
        assert int(status.removeprefix("status=")) in statuses, (package.name, status)
        assert err.read_text() == "", f"{package.name}: {err.read_text()}"
