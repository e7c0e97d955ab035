"""Failures, signals and exhausted resources, for import and export.

The promise checked here: whatever goes wrong (a signal, qemu-img failing,
crashing or missing, a full disk, unreadable inputs, an unwritable or
occupied output), the command prints one line ``ovfconverter: error: ...``
and exits 1 (128 + the signal after one: 130, 143), the library raises an
:class:`ovfconverter.OVFConverterError` subclass, no qemu-img is left
running, and the output folder holds exactly what it held before: no
result, no ``.ovfconverter-*`` temporary folder, pre-existing files
untouched (content and mtime).

Faults in qemu-img are injected with a wrapper (``OVFCONVERTER_QEMU_IMG``)
that, on ``convert``, writes a marker holding its pid and then sleeps, fails
or crashes (optionally after writing part of its output).  Signals while
ovfconverter itself works (hashing for a manifest, packing an OVA) are sent
once ``/proc/PID/fdinfo`` shows it part-way through the file concerned: the
process is observed, never instrumented.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import builders
import pytest
from builders import (
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    convert,
    descriptor,
    folder_package,
    make_raw_disk,
    ova_package,
    tar_header,
)

from ovfconverter import (
    ExportOptions,
    ImportOptions,
    Interrupted,
    MissingToolError,
    OutputExistsError,
    OVFConverterError,
    PackageError,
    QemuImgError,
    export_instance,
    import_package,
)

MIB = 1 << 20
REAL_QEMU_IMG = shutil.which("qemu-img") or "/usr/bin/qemu-img"
IS_ROOT = os.geteuid() == 0
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
IMPORT_NAME = "vm1"  # the VirtualSystem name of the import packages
EXPORT_NAME = "inst1"  # the instance name of the Ganeti exports
STAGING_PREFIX = ".ovfconverter-"
BIG = 96  # MiB: the dump hashed or packed while a signal comes
SMALL_FILE = 1 << 20  # files up to this size are compared by content too


# --------------------------------------------------------------------------
# Inputs


def _export_folder(folder: Path, dump: Callable[[Path], object], size_mib: int) -> Path:
    """A ``gnt-backup export`` folder with one disk; returns config.ini."""
    folder.mkdir(parents=True, exist_ok=True)
    dump(folder / "disk0")
    config = folder / "config.ini"
    config.write_text(
        f"""[export]
version = 0
timestamp = 1714480000
source = node1.example.com
os = debootstrap+default
compression = none

[instance]
name = {EXPORT_NAME}
maxmem = 512
minmem = 512
memory = 512
vcpus = 1
disk_template = plain
hypervisor = kvm
tags =
nic0_mac = aa:00:00:11:22:33
nic0_ip = None
nic0_mode = bridged
nic0_link = br0
nic_count = 1
disk0_ivname = disk/0
disk0_dump = disk0
disk0_size = {size_mib}
disk_count = 1

[hypervisor]

[backend]
vcpus = 1
maxmem = 512
minmem = 512

[os]
"""
    )
    return config


def _dense_raw(path: Path, size: int, seed: int = 7) -> Path:
    """A raw disk full of incompressible data (no holes)."""
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def _qcow2_vm(size: int) -> VmSpec:
    return VmSpec(name=IMPORT_NAME, disks=[DiskSpec("d.qcow2", capacity=size, format_uri=FORMAT_URIS["qcow2"])])


def _sparse_ova(path: Path, size: int) -> Path:
    """An OVA whose raw disk member is ``size`` bytes, almost all holes (the
    archive itself is sparse).  The manifest's digest for the disk is never
    compared: runs using it are stopped while they hash the disk."""
    vm = VmSpec(
        name=IMPORT_NAME,
        disks=[DiskSpec("disk.raw", capacity=size, format_uri=FORMAT_URIS["raw"], size=size)],
    )
    ovf = descriptor(vm).encode()
    manifest = f"SHA256(package.ovf)= {hashlib.sha256(ovf).hexdigest()}\nSHA256(disk.raw)= {'0' * 64}\n".encode()

    def header(name: str, length: int) -> bytes:
        return tar_header(name, length, tarfile.USTAR_FORMAT)

    with open(path, "wb") as out:
        for name, data in (("package.ovf", ovf), ("package.mf", manifest)):
            out.write(header(name, len(data)) + data + bytes(-len(data) % 512))
        out.write(header("disk.raw", size))
        start = out.tell()
        out.write(b"ovfconverter sparse test disk " * 100)
        end = start + size + (-size % 512) + 1024
        out.truncate(end + (-end % 10240))
    return path


@dataclass(frozen=True)
class Inputs:
    """Packages and exports shared by the tests (never written to)."""

    ova: Path  # 8 MiB qcow2 disk
    export: Path  # config.ini, 8 MiB raw dump
    dense_ova: Path  # 16 MiB of incompressible data in a qcow2
    dense_raw_ovf: Path  # folder package, 16 MiB raw disk of incompressible data
    dense_export: Path  # config.ini, 16 MiB incompressible dump
    sparse_export: Path  # config.ini, 16 MiB dump, almost all holes
    hash_ova: Path  # 256 MiB sparse raw disk member
    big_export: Path  # config.ini, BIG MiB sparse dump
    dense_big_export: Path  # config.ini, BIG MiB incompressible dump


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    base = tmp_path_factory.mktemp("inputs")
    raw = make_raw_disk(base / "d.raw", 8 * MIB)
    qcow2 = convert(raw, base / "d.qcow2", "qcow2")
    ova = ova_package(base / "vm.ova", _qcow2_vm(8 * MIB), {"d.qcow2": qcow2})
    dense = _dense_raw(base / "dense.raw", 16 * MIB)
    (base / "dense").mkdir()
    dense_qcow2 = convert(dense, base / "dense" / "d.qcow2", "qcow2")
    dense_ova = ova_package(base / "dense.ova", _qcow2_vm(16 * MIB), {"d.qcow2": dense_qcow2})
    raw_vm = VmSpec(name=IMPORT_NAME, disks=[DiskSpec("disk.raw", capacity=16 * MIB, format_uri=FORMAT_URIS["raw"])])
    dense_raw_ovf = folder_package(base / "dense-raw-pkg", raw_vm, {"disk.raw": dense})
    return Inputs(
        ova=ova,
        export=_export_folder(base / "export", lambda p: make_raw_disk(p, 8 * MIB), 8),
        dense_ova=dense_ova,
        dense_raw_ovf=dense_raw_ovf,
        dense_export=_export_folder(base / "dense-export", lambda p: _dense_raw(p, 16 * MIB), 16),
        sparse_export=_export_folder(base / "sparse-export", lambda p: make_raw_disk(p, 16 * MIB), 16),
        hash_ova=_sparse_ova(base / "hash.ova", 256 * MIB),
        big_export=_export_folder(base / "big-export", lambda p: make_raw_disk(p, BIG * MIB), BIG),
        dense_big_export=_export_folder(base / "dense-big-export", lambda p: _dense_raw(p, BIG * MIB), BIG),
    )


def _args(direction: str, inputs: Inputs, out: Path, *extra: str) -> list[str]:
    if direction == "import":
        return ["import", str(inputs.ova), "--output-dir", str(out), "-o", "debian", *extra]
    # qcow2: written by qemu-img (VMDK and raw are written by ovfconverter itself)
    return ["export", str(inputs.export), "--output-dir", str(out), "--format", "qcow2", *extra]


def _library(direction: str, inputs: Inputs, out: Path, force: bool = False) -> object:
    if direction == "import":
        return import_package(str(inputs.ova), ImportOptions(output_dir=str(out), os_type="debian", force=force))
    return export_instance(str(inputs.export), ExportOptions(output_dir=str(out), format="qcow2", force=force))


def _pre_existing(direction: str, out: Path, ova: bool = False) -> Path:
    """An earlier result where this run's result would go, with old mtimes."""
    if direction == "export" and ova:
        final = out / f"{EXPORT_NAME}.ova"
        final.write_bytes(b"an earlier OVA\n")
        os.utime(final, (1_000_000_000, 1_000_000_000))
        return final
    final = out / (IMPORT_NAME if direction == "import" else EXPORT_NAME)
    final.mkdir()
    (final / "config.ini").write_text("[export]\n# an earlier result\n")
    (final / "disk0.raw").write_bytes(b"old disk" * 512)
    for child in (final / "config.ini", final / "disk0.raw", final):
        os.utime(child, (1_000_000_000, 1_000_000_000))
    return final


# --------------------------------------------------------------------------
# Observing the results


def snapshot(folder: Path) -> dict[str, tuple[int, int, int, str | None]]:
    """Every entry below ``folder``: type, size, mtime and (small files)
    content digest."""
    entries: dict[str, tuple[int, int, int, str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode) and info.st_size <= SMALL_FILE:
                with open(path, "rb") as stream:
                    digest = hashlib.sha256(stream.read()).hexdigest()
            entries[os.path.relpath(path, folder)] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, digest)
    return entries


def assert_unchanged(folder: Path, before: dict[str, tuple[int, int, int, str | None]]) -> None:
    after = snapshot(folder)
    leftovers = sorted(name for name in after if os.path.basename(name).startswith(STAGING_PREFIX))
    assert not leftovers, f"temporary files left in {folder}: {leftovers}"
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(after) & set(before) if after[name] != before[name])
    assert (added, removed, changed) == ([], [], []), (
        f"{folder} changed: added {added}, removed {removed}, changed {changed}"
    )


def assert_one_error_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ovfconverter: error: "), f"expected one error line, got: {stderr!r}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def _state(pid: int) -> str | None:
    """The state letter of ``pid``, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()[0]


def assert_gone(pid: int) -> None:
    """qemu-img (the wrapper's pid) no longer runs: gone, or dead awaiting
    its reaping."""
    deadline = time.monotonic() + 3
    while (state := _state(pid)) not in (None, "Z", "X"):
        if time.monotonic() > deadline:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmdline = "?"
            pytest.fail(f"qemu-img (pid {pid}, state {state}, {cmdline.strip()}) still runs after ovfconverter ended")
        time.sleep(0.02)


def open_files(pid: int) -> list[tuple[str, int, int]]:
    """(path, position, flags) of every file ``pid`` has open."""
    found = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        pos = re.search(r"pos:\s*(\d+)", info)
        flags = re.search(r"flags:\s*([0-7]+)", info)
        if pos and flags:
            found.append((target, int(pos.group(1)), int(flags.group(1), 8)))
    return found


# --------------------------------------------------------------------------
# The fault-injecting qemu-img

WRAPPER = """#!{python} -IS
import json, os, resource, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)  # as the real qemu-img
args = sys.argv[1:]
mode = os.environ.get("FAULT_MODE", "")
if mode and args and args[0] == "convert":
    dest = args[-1]
    in_place = "--target-image-opts" in args  # an image written inside the package's file (an OVA member)
    if in_place:
        dest = dest.split("file.file.filename=", 1)[1].replace(",,", ",")
    if mode != "sleep":
        with open(dest, "ab" if in_place else "wb") as out:
            out.write(b"part of qemu-img's output " * 40000)
    marker = os.environ["FAULT_MARKER"]
    with open(marker + ".tmp", "w") as out:
        json.dump({{"pid": os.getpid(), "dest": dest}}, out)
    os.rename(marker + ".tmp", marker)
    if mode == "fail":
        sys.stderr.write("qemu-img: simulated failure: Input/output error\\n")
        sys.exit(1)
    if mode in ("segv", "abrt"):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        sig = signal.SIGSEGV if mode == "segv" else signal.SIGABRT
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    if mode == "sigint-parent":
        os.kill(os.getppid(), signal.SIGINT)
    if mode == "sigterm-parent":
        os.kill(os.getppid(), signal.SIGTERM)
    time.sleep(60)
os.execv(os.environ["FAULT_REAL_QEMU_IMG"], ["qemu-img", *args])
"""


class Fault:
    """The wrapper and its marker; ``env(mode)`` is what makes ovfconverter
    run it."""

    def __init__(self, folder: Path) -> None:
        self.script = folder / "qemu-img-fault"
        self.script.write_text(WRAPPER.format(python=sys.executable))
        self.script.chmod(0o755)
        self.marker = folder / "qemu-img-fault.json"

    def env(self, mode: str) -> dict[str, str]:
        return {
            "OVFCONVERTER_QEMU_IMG": str(self.script),
            "FAULT_MODE": mode,
            "FAULT_MARKER": str(self.marker),
            "FAULT_REAL_QEMU_IMG": REAL_QEMU_IMG,
        }

    def info(self) -> dict[str, object]:
        return json.loads(self.marker.read_text())

    @property
    def pid(self) -> int:
        return int(self.info()["pid"])  # type: ignore[call-overload]

    def kill_leftover(self) -> None:
        """Stop the wrapper if ovfconverter left it running (that is a bug
        the test reports; this only keeps the machine clean)."""
        if not self.marker.exists():
            return
        pid = self.pid
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if str(self.script).encode() in cmdline and _state(pid) not in (None, "Z", "X"):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def fault(tmp_path: Path) -> Iterator[Fault]:
    wrapper = Fault(tmp_path)
    yield wrapper
    wrapper.kill_leftover()


@pytest.fixture
def lib_fault(fault: Fault, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Fault]:
    """For library calls in this process: ``lib_fault(mode)`` sets the
    environment."""

    def arm(mode: str) -> Fault:
        for key, value in fault.env(mode).items():
            monkeypatch.setenv(key, value)
        return fault

    return arm


# --------------------------------------------------------------------------
# Running the command and interrupting it


def _child_setup() -> None:
    # As from an interactive shell: SIGINT raises KeyboardInterrupt even when
    # the test runner was started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "ovfconverter", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_child_setup,
    )


def run_cli(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, user: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return builders.run_cli(*args, env=env, cwd=cwd, prefix=user, timeout=60)


def wait_until(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ovfconverter ended (status {proc.returncode}) before {what}: {err!r}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.002)


def interrupt(proc: subprocess.Popen[str], signum: int, group: bool = False) -> tuple[int, str]:
    """Send ``signum`` to ovfconverter (to its whole process group, as
    Ctrl-C in a terminal does, when ``group``); returns (status, stderr)."""
    if group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"ovfconverter did not end within 30 s of {signal.Signals(signum).name}: {err!r}")
    return proc.returncode, err


def assert_interrupted(status: int, stderr: str, signum: int) -> None:
    expected = 128 + signum  # 130 after SIGINT, 143 after SIGTERM
    assert status == expected, f"{signal.Signals(signum).name}: exit status {status}, expected {expected}: {stderr!r}"
    assert_one_error_line(stderr, "interrupted")


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]
DIRECTIONS = ["import", "export"]


# --------------------------------------------------------------------------
# Signals while qemu-img converts


CONVERT_STAGE = [
    # signal, qemu-img's state, an earlier result (--force), whole process group (Ctrl-C in a terminal)
    pytest.param(signal.SIGINT, "sleep", False, False, id="SIGINT-before-writing"),
    pytest.param(signal.SIGTERM, "partial", True, False, id="SIGTERM-part-written-force"),
    pytest.param(signal.SIGINT, "partial", True, True, id="ctrl-c-group-part-written-force"),
]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(("signum", "mode", "force", "group"), CONVERT_STAGE)
def test_signal_while_qemu_img_converts(
    tmp_path: Path, inputs: Inputs, fault: Fault, direction: str, signum: int, mode: str, force: bool, group: bool
) -> None:
    """``sleep``: qemu-img has not started writing.  ``partial``: it has
    written part of its output.  With an earlier result and --force, that
    result must still be intact while qemu-img runs and after the
    interruption.  Ctrl-C signals the whole foreground process group, so
    qemu-img dies of SIGINT at the same moment: still an interruption (130),
    not a qemu-img failure."""
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing(direction, out) if force else None
    before = snapshot(out)
    proc = start_cli(_args(direction, inputs, out, *(["--force"] if force else [])), fault.env(mode))
    wait_until(proc, fault.marker.exists, "qemu-img convert started")
    dest = Path(str(fault.info()["dest"]))
    assert dest.parent.parent.name.startswith(STAGING_PREFIX), f"qemu-img writes {dest} outside the staging folder"
    if existing:
        assert dest.exists()
        assert snapshot(out)[existing.name] == before[existing.name], "the earlier result was touched before success"
    status, err = interrupt(proc, signum, group)
    assert_interrupted(status, err, signum)
    assert_gone(fault.pid)
    assert_unchanged(out, before)


# --------------------------------------------------------------------------
# Signals while ovfconverter hashes or packs


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_hashing_for_the_manifest_on_import(tmp_path: Path, inputs: Inputs, signum: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing("import", out) if signum == signal.SIGINT else None
    before = snapshot(out)
    archive = os.path.realpath(inputs.hash_ova)
    proc = start_cli(
        ["import", str(inputs.hash_ova), "--output-dir", str(out), "-o", "debian", *(["--force"] if existing else [])]
    )

    def hashing() -> bool:
        return any(path == archive and 8 * MIB <= pos < 200 * MIB for path, pos, _ in open_files(proc.pid))

    wait_until(proc, hashing, "the disk member is being hashed")
    status, err = interrupt(proc, signum)
    assert_interrupted(status, err, signum)
    assert_unchanged(out, before)


@pytest.mark.parametrize("fmt", ["raw", "vmdk"])
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_writing_and_hashing_a_disk_on_export(
    tmp_path: Path, inputs: Inputs, signum: int, fmt: str
) -> None:
    """Export writes each disk (raw, or streamOptimized VMDK with its
    compression threads) and hashes it in the same pass; a signal half-way
    stops it all and leaves nothing."""
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing("export", out) if signum == signal.SIGINT else None
    before = snapshot(out)
    dump = os.path.realpath(inputs.dense_big_export.parent / "disk0")
    proc = start_cli(
        [
            "export",
            str(inputs.dense_big_export),
            "--output-dir",
            str(out),
            "--format",
            fmt,
            "--threads",
            "1",
            *(["--force"] if existing else []),
        ]
    )

    staging = os.path.join(os.path.realpath(out), STAGING_PREFIX)

    def writing() -> bool:
        # raw: the dump's read position moves; VMDK: read with pread, so watch
        # the image being written (random data is stored, about the dump's size)
        return any(
            (path == dump or (path.startswith(staging) and flags & os.O_ACCMODE == os.O_WRONLY))
            and 8 * MIB <= pos < (BIG - 8) * MIB
            for path, pos, flags in open_files(proc.pid)
        )

    wait_until(proc, writing, "the disk is being written and hashed")
    status, err = interrupt(proc, signum)
    assert_interrupted(status, err, signum)
    assert_unchanged(out, before)


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_packing_an_ova(tmp_path: Path, inputs: Inputs, signum: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing("export", out, ova=True) if signum == signal.SIGTERM else None
    before = snapshot(out)
    staging = os.path.join(os.path.realpath(out), STAGING_PREFIX)
    proc = start_cli(
        [
            "export",
            str(inputs.big_export),
            "--output-dir",
            str(out),
            "--format",
            "raw",
            "--ova",
            "--digest",
            "sha1",
            *(["--force"] if existing else []),
        ]
    )

    def packing() -> bool:
        return any(
            path.startswith(staging)
            and path.endswith("/result")
            and flags & os.O_ACCMODE == os.O_WRONLY
            and 8 * MIB <= pos < (BIG - 8) * MIB
            for path, pos, flags in open_files(proc.pid)
        )

    wait_until(proc, packing, "the OVA is being packed")
    status, err = interrupt(proc, signum)
    assert_interrupted(status, err, signum)
    assert_unchanged(out, before)


# --------------------------------------------------------------------------
# qemu-img failing, crashing, hanging, missing

QEMU_FAILURES = {
    "fail": "qemu-img convert failed: simulated failure: Input/output error",
    "segv": "qemu-img convert was killed by SIGSEGV",
    "hang": "qemu-img convert was killed by SIGKILL",
    "missing": "qemu-img not found: install the Debian package qemu-utils",
}


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("mode", ["fail", "segv", "hang", "missing"])  # SIGABRT: library test
def test_qemu_img_failure_cli(tmp_path: Path, inputs: Inputs, fault: Fault, direction: str, mode: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    if mode == "missing":
        empty = tmp_path / "bin"
        empty.mkdir()
        proc = run_cli(_args(direction, inputs, out), {"PATH": str(empty), "OVFCONVERTER_QEMU_IMG": ""})
        status, err = proc.returncode, proc.stderr
    elif mode == "hang":
        proc_ = start_cli(_args(direction, inputs, out), fault.env("hang"))
        wait_until(proc_, fault.marker.exists, "qemu-img convert started")
        os.kill(fault.pid, signal.SIGKILL)  # as the OOM killer or an admin would
        _, err = proc_.communicate(timeout=30)
        status = proc_.returncode
    else:
        proc = run_cli(_args(direction, inputs, out), fault.env(mode))
        status, err = proc.returncode, proc.stderr
    assert status == 1, err
    assert_one_error_line(err, QEMU_FAILURES[mode])
    if fault.marker.exists():
        assert_gone(fault.pid)
    assert_unchanged(out, before)


LIB_FAILURES = {
    "fail": (QemuImgError, "simulated failure"),
    "segv": (QemuImgError, "SIGSEGV"),
    "abrt": (QemuImgError, "SIGABRT"),
    "missing": (MissingToolError, "qemu-img not found"),
}


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("mode", list(LIB_FAILURES))
def test_qemu_img_failure_library(
    tmp_path: Path,
    inputs: Inputs,
    lib_fault: Callable[[str], Fault],
    monkeypatch: pytest.MonkeyPatch,
    direction: str,
    mode: str,
) -> None:
    """The same failures through the API; the output folder does not exist
    beforehand, so it must not exist afterwards either."""
    out = tmp_path / "out" / "new"
    if mode == "missing":
        empty = tmp_path / "bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.setenv("OVFCONVERTER_QEMU_IMG", "")
    else:
        lib_fault(mode)
    kind, text = LIB_FAILURES[mode]
    with pytest.raises(kind, match=text):
        _library(direction, inputs, out)
    assert not out.exists(), f"{out} was created and left: {snapshot(out) if out.is_dir() else 'a file'}"
    if mode != "missing":
        assert_gone(lib_fault(mode).pid)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_qemu_img_converts_library(
    tmp_path: Path, inputs: Inputs, lib_fault: Callable[[str], Fault], direction: str, signum: int
) -> None:
    """A library caller's process interrupted while qemu-img runs: SIGINT
    arrives as KeyboardInterrupt, SIGTERM (with the CLI's handler installed)
    as Interrupted; qemu-img is killed and nothing is left."""
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing(direction, out)
    before = snapshot(out)
    wrapper = lib_fault("sigint-parent" if signum == signal.SIGINT else "sigterm-parent")

    def on_sigterm(signo: int, frame: object) -> None:
        raise Interrupted(signo)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    # As in an interactive Python: SIGINT raises KeyboardInterrupt even when
    # the test runner was started with SIGINT ignored (a background job).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt if signum == signal.SIGINT else Interrupted):
            _library(direction, inputs, out, force=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    assert existing.exists()
    assert_gone(wrapper.pid)
    assert_unchanged(out, before)


INTERRUPTER = """#!/bin/sh
# qemu-img that interrupts its caller the moment it is exec'd: the caller
# is still inside Popen, or setting up what watches the child
if [ "$1" = convert ]; then
    echo $$ > "$FAULT_MARKER"
    kill -INT $PPID
    exec sleep 60
fi
exec "$FAULT_REAL_QEMU_IMG" "$@"
"""


def test_sigint_the_moment_qemu_img_starts_library(
    tmp_path: Path, inputs: Inputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT that lands while the library is still starting qemu-img (no
    Python start-up in the child to give it time) kills the child all the
    same; ten tries, as the moment it lands varies.  (Before the fix, 32
    of 40 such tries left qemu-img running.)"""
    script = tmp_path / "qemu-img-interrupter"
    script.write_text(INTERRUPTER)
    script.chmod(0o755)
    marker = tmp_path / "pid"
    for key, value in {
        "OVFCONVERTER_QEMU_IMG": str(script),
        "FAULT_MARKER": str(marker),
        "FAULT_REAL_QEMU_IMG": REAL_QEMU_IMG,
    }.items():
        monkeypatch.setenv(key, value)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for attempt in range(10):
            out = tmp_path / f"out{attempt}"
            out.mkdir()
            with pytest.raises(KeyboardInterrupt):
                _library("export", inputs, out)
            assert_gone(int(marker.read_text()))
            assert snapshot(out) == {}
    finally:
        signal.signal(signal.SIGINT, previous_int)


# --------------------------------------------------------------------------
# A full disk


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted afterwards."""
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "full"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _used_blocks(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_blocks - info.f_bfree


DISK_FULL_CLI = {
    # written by qemu-img
    "import-qcow2": lambda i: ["import", str(i.dense_ova), "-o", "debian"],
    "export-qcow2": lambda i: ["export", str(i.dense_export), "--format", "qcow2"],
    "export-vmdk": lambda i: ["export", str(i.dense_export)],
    # written by ovfconverter: a raw copy, an OVA member
    "import-raw": lambda i: ["import", str(i.dense_raw_ovf), "-o", "debian"],
    "export-raw-ova": lambda i: ["export", str(i.dense_export), "--format", "raw", "--ova"],
}


@pytest.mark.parametrize("case", list(DISK_FULL_CLI))
def test_disk_full_cli(small_tmpfs: Path, inputs: Inputs, case: str) -> None:
    """16 MiB of incompressible data into an 8 MiB file system (raw members
    of an OVA keep the dump's holes, so a sparse dump would fit).
    qemu-img 7.2's streamOptimized VMDK writer reports the full disk as
    "Invalid argument"; the user must still be told the disk is full."""
    used, before = _used_blocks(small_tmpfs), snapshot(small_tmpfs)
    proc = run_cli([*DISK_FULL_CLI[case](inputs), "--output-dir", str(small_tmpfs)])
    assert proc.returncode == 1, proc.stderr
    assert_unchanged(small_tmpfs, before)
    assert _used_blocks(small_tmpfs) == used, "the file system is not empty again"
    assert_one_error_line(proc.stderr, "No space left on device")


DISK_FULL_LIBRARY = {
    "import-qcow2": lambda i, out: import_package(
        str(i.dense_ova), ImportOptions(output_dir=str(out), os_type="debian")
    ),
    "import-raw": lambda i, out: import_package(
        str(i.dense_raw_ovf), ImportOptions(output_dir=str(out), os_type="debian")
    ),
    "export-vmdk": lambda i, out: export_instance(str(i.dense_export), ExportOptions(output_dir=str(out))),
    "export-raw": lambda i, out: export_instance(str(i.dense_export), ExportOptions(output_dir=str(out), format="raw")),
    "export-raw-ova": lambda i, out: export_instance(
        str(i.dense_export), ExportOptions(output_dir=str(out), format="raw", ova=True)
    ),
}


@pytest.mark.parametrize("case", list(DISK_FULL_LIBRARY))
def test_disk_full_library(small_tmpfs: Path, inputs: Inputs, case: str) -> None:
    """Through the API the same failure must be an OVFConverterError (raw
    images are written by ovfconverter itself, not by qemu-img)."""
    used, before = _used_blocks(small_tmpfs), snapshot(small_tmpfs)
    try:
        DISK_FULL_LIBRARY[case](inputs, small_tmpfs)
        outcome = None
    except Exception as exc:
        outcome = (type(exc).__name__, isinstance(exc, OVFConverterError), str(exc))
    # the exception and its traceback are gone: nothing may remain open
    assert_unchanged(small_tmpfs, before)
    assert _used_blocks(small_tmpfs) == used, (
        f"the file system is not empty again: {_deleted_open_files(small_tmpfs)} still open in this process"
    )
    assert outcome is not None, f"{case}: 16 MiB were written into an 8 MiB file system without error"
    kind, ours, message = outcome
    assert ours, f"{case}: {kind} escaped the library instead of an OVFConverterError: {message}"
    assert "No space left on device" in message


def _deleted_open_files(folder: Path) -> list[str]:
    """Files below ``folder`` that this process holds open though removed."""
    prefix = os.path.realpath(folder) + "/"
    return [path for path, _, _ in open_files(os.getpid()) if path.startswith(prefix)]


# --------------------------------------------------------------------------
# Unreadable inputs and unwritable outputs (as an unprivileged user)


@dataclass(frozen=True)
class Unprivileged:
    base: Path
    cases: dict[str, tuple[str, Path, Path]]  # name -> (direction, input, output folder)


UNPRIVILEGED_CASES = [
    "import-unreadable-ova",
    "import-unreadable-disk",
    "export-unreadable-config",
    "export-unreadable-dump",
    "import-unwritable-output",
    "export-unwritable-output",
]


@pytest.fixture(scope="module")
def unprivileged(inputs: Inputs) -> Iterator[Unprivileged]:
    """A world-readable tree (pytest's tmp folders are private to root)
    holding each case's input and output folder, owned by root; the output
    folders are world-writable except the ``unwritable`` ones."""
    if not IS_ROOT:
        pytest.skip("needs root to run ovfconverter as another user and make files it cannot read")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    base = Path(tempfile.mkdtemp(prefix="ovfconverter-failures-", dir="/tmp"))
    try:
        base.chmod(0o755)
        probe = subprocess.run(
            [*NOBODY, sys.executable, "-c", "import ovfconverter"], capture_output=True, text=True, cwd=base
        )
        if probe.returncode != 0:
            pytest.skip(f"ovfconverter cannot run as uid 65534 here: {probe.stderr.strip()[-200:]}")
        cases: dict[str, tuple[str, Path, Path]] = {}
        for name in UNPRIVILEGED_CASES:
            folder = base / name
            folder.mkdir()
            folder.chmod(0o755)
            out = folder / "out"
            out.mkdir()
            out.chmod(0o755 if "unwritable" in name else 0o777)
            if name == "import-unreadable-disk":
                qcow2 = inputs.ova.parent / "d.qcow2"
                source = folder_package(folder / "pkg", _qcow2_vm(8 * MIB), {"d.qcow2": qcow2})
                source.parent.chmod(0o755)
                for child in source.parent.iterdir():
                    child.chmod(0o600 if child.name == "d.qcow2" else 0o644)
            elif name.startswith("import"):
                source = folder / "vm.ova"
                shutil.copyfile(inputs.ova, source)
                source.chmod(0o600 if "unreadable" in name else 0o644)
            else:
                shutil.copytree(inputs.export.parent, folder / "export")
                (folder / "export").chmod(0o755)
                source = folder / "export" / "config.ini"
                source.chmod(0o600 if name == "export-unreadable-config" else 0o644)
                (folder / "export" / "disk0").chmod(0o600 if name == "export-unreadable-dump" else 0o644)
            cases[name] = (name.split("-")[0], source, out)
        yield Unprivileged(base, cases)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _file_stats(folder: Path) -> dict[str, tuple[int, int, int, int]]:
    """Mode, owner, size and mtime of the files of ``folder``."""
    return {
        p.name: (s.st_mode, s.st_uid, s.st_size, s.st_mtime_ns)
        for p in folder.iterdir()
        if p.is_file() and (s := p.stat())
    }


@pytest.mark.parametrize("case", UNPRIVILEGED_CASES)
def test_permission_errors_cli(unprivileged: Unprivileged, case: str) -> None:
    direction, source, out = unprivileged.cases[case]
    before = snapshot(out)
    inputs_before = _file_stats(source.parent)
    if direction == "import":
        args = ["import", str(source), "--output-dir", str(out), "-o", "debian"]
    else:
        args = ["export", str(source), "--output-dir", str(out)]
    proc = run_cli(args, cwd=unprivileged.base, user=NOBODY)
    assert proc.returncode == 1, proc.stderr
    assert_one_error_line(proc.stderr, "Permission denied")
    assert_unchanged(out, before)
    assert _file_stats(source.parent) == inputs_before, "an input file changed"


LIBRARY_SCRIPT = """
import json, sys, traceback
from ovfconverter import ExportOptions, ImportOptions, OVFConverterError, export_instance, import_package
results = {}
for name, (direction, source, out) in json.loads(sys.argv[1]).items():
    try:
        if direction == "import":
            import_package(source, ImportOptions(output_dir=out, os_type="debian"))
        else:
            export_instance(source, ExportOptions(output_dir=out))
        results[name] = {"type": None}
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = " <- ".join(f"{f.filename.split('/ovfconverter/')[-1]}:{f.lineno}" for f in reversed(frames[-3:]))
        results[name] = {
            "type": type(exc).__name__, "ours": isinstance(exc, OVFConverterError), "message": str(exc), "where": where,
        }
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def unprivileged_library(unprivileged: Unprivileged) -> tuple[dict[str, dict], dict[str, bool]]:
    """Every unprivileged case through the API, in one run as uid 65534;
    returns each case's outcome and whether its output folder was left
    unchanged."""
    plans = {name: (d, str(s), str(o / "lib")) for name, (d, s, o) in unprivileged.cases.items()}
    befores = {}
    for name, (_, _, out) in unprivileged.cases.items():
        lib = out / "lib"
        lib.mkdir()
        lib.chmod(0o755 if "unwritable" in name else 0o777)
        befores[name] = snapshot(lib)
    proc = subprocess.run(
        [*NOBODY, sys.executable, "-c", LIBRARY_SCRIPT, json.dumps(plans)],
        capture_output=True,
        text=True,
        cwd=unprivileged.base,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    unchanged = {name: snapshot(Path(plans[name][2])) == befores[name] for name in plans}
    return json.loads(proc.stdout), unchanged


@pytest.mark.parametrize("case", UNPRIVILEGED_CASES)
def test_permission_errors_library(unprivileged_library: tuple[dict[str, dict], dict[str, bool]], case: str) -> None:
    outcomes, unchanged = unprivileged_library
    outcome = outcomes[case]
    assert outcome["type"] is not None, f"{case}: succeeded"
    assert outcome["ours"], (
        f"{case}: {outcome['type']} escaped the library instead of an OVFConverterError: {outcome['message']} "
        f"(raised at {outcome['where']})"
    )
    assert "Permission denied" in outcome["message"]
    assert unchanged[case], f"{case}: the output folder was changed"


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_output_dir_that_is_a_file(tmp_path: Path, inputs: Inputs, direction: str) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("a file\n")
    before = snapshot(tmp_path)
    proc = run_cli(_args(direction, inputs, target))
    assert proc.returncode == 1, proc.stderr
    assert_one_error_line(proc.stderr, str(target))
    assert_unchanged(tmp_path, before)
    with pytest.raises(PackageError):
        _library(direction, inputs, target)
    assert_unchanged(tmp_path, before)


# --------------------------------------------------------------------------
# An earlier result


@pytest.mark.parametrize(("direction", "ova"), [("import", False), ("export", False), ("export", True)])
def test_existing_result_is_untouched_without_force(tmp_path: Path, inputs: Inputs, direction: str, ova: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _pre_existing(direction, out, ova)
    before = snapshot(out)
    proc = run_cli(_args(direction, inputs, out, *(["--ova"] if ova else [])))
    assert proc.returncode == 1, proc.stderr
    assert_one_error_line(proc.stderr, "already exists; use --force to replace it")
    assert_unchanged(out, before)
    with pytest.raises(OutputExistsError):
        if direction == "import":
            import_package(str(inputs.ova), ImportOptions(output_dir=str(out), os_type="debian"))
        else:
            export_instance(str(inputs.export), ExportOptions(output_dir=str(out), ova=ova))
    assert_unchanged(out, before)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_force_replaces_only_after_success(tmp_path: Path, inputs: Inputs, fault: Fault, direction: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    existing = _pre_existing(direction, out)
    before = snapshot(out)
    failed = run_cli(_args(direction, inputs, out, "--force"), fault.env("fail"))
    assert failed.returncode == 1, failed.stderr
    assert_one_error_line(failed.stderr, "simulated failure")
    assert_unchanged(out, before)

    done = run_cli(_args(direction, inputs, out, "--force"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [existing.name], "temporary files left after success"
    names = sorted(p.name for p in existing.iterdir())
    if direction == "import":
        assert names == ["config.ini", "disk0.raw"]
        assert "# an earlier result" not in (existing / "config.ini").read_text()
        assert (existing / "disk0.raw").stat().st_size == 8 * MIB
    else:
        assert "config.ini" not in names and "disk0.raw" not in names, names
        assert any(name.endswith(".ovf") for name in names) and any(name.endswith(".mf") for name in names)
