"""Running ``qemu-img`` on untrusted images, hardened.

* The format is always given (``-f``); qemu-img never probes.
* Images are named by a ``json:`` spec whose leaf is ``"driver": "file"``
  with an absolute path, so no file name is ever read as a protocol
  (``nbd:``, ``json:``...); OVA members are read in place through the raw
  driver's ``offset``/``size``.
* Output is requested as JSON (``--output=json``), never parsed from text.
* qemu-img runs with ``LC_ALL=C``, under resource limits (address space, and
  CPU time for ``info``), as OpenStack runs it against CVE-2015-5162, and
  for ``convert`` a file-size limit (``RLIMIT_FSIZE``) when the caller knows
  how large the output may grow.
* Every run has a wall-clock limit (:func:`convert_timeout`: proportional to
  the bytes involved); a watcher may also stop a run early (a conversion
  writing more than its image can hold).
* On any error, signal or exception the child is killed and reaped.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, cast

from ovfconverter.errors import MissingToolError, QemuImgError, UnsafeInputError
from ovfconverter.io.ranges import ByteRange
from ovfconverter.progress import Meter, ProgressCallback

QEMU_IMG_PACKAGE = "qemu-utils"
"""The Debian package that provides qemu-img."""

INFO_LIMITS = (1 << 30, 30)
"""(address space in bytes, CPU seconds) for ``qemu-img info`` and ``check``."""
CONVERT_ADDRESS_SPACE = 4 << 30
"""Address-space limit for ``qemu-img convert``, in bytes."""

MAX_OUTPUT = 16 << 20
"""Most bytes of standard output read from ``info``/``check``."""

BASE_TIMEOUT = 60.0
"""Wall-clock seconds every qemu-img run may take, whatever its size."""
CHECK_RATE = 1 << 30
"""``check`` is given one more second per this many bytes of virtual size."""
CONVERT_RATE = 4 << 20
"""``convert`` is given one more second per this many bytes (4 MiB/s: a
slow disk; a 100 GiB image may take 7 hours before it is stopped)."""
WATCH_INTERVAL = 0.25
"""Seconds between two looks at a running qemu-img (deadline, watcher)."""

_PROGRESS_RE = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def qemu_img_path() -> str:
    """Return the qemu-img to run: ``$OVFCONVERTER_QEMU_IMG`` if set (a
    wrapper, e.g. for tests), else ``qemu-img`` from ``PATH``.

    :raises MissingToolError: not installed.
    """
    override = os.environ.get("OVFCONVERTER_QEMU_IMG")
    if override:
        return override
    found = shutil.which("qemu-img")
    if not found:
        raise MissingToolError(
            f"qemu-img not found: install the Debian package {QEMU_IMG_PACKAGE} (apt-get install {QEMU_IMG_PACKAGE})"
        )
    return found


def file_spec(part: ByteRange) -> dict[str, Any]:
    """The block-node dict reading exactly ``part``: a ``file`` node, under a
    ``raw`` node with ``offset``/``size`` when ``part`` is a slice."""
    leaf: dict[str, Any] = {"driver": "file", "filename": os.path.abspath(part.path)}
    if part.offset == 0 and part.size == os.path.getsize(part.path):
        return leaf
    return {"driver": "raw", "offset": part.offset, "size": part.size, "file": leaf}


def sector_aligned(part: ByteRange) -> ByteRange:
    """``part`` with its size rounded up to whole 512-byte sectors when it is
    a slice of a larger file: qemu's ``raw`` driver refuses a ``size`` that
    is not (oVirt's qcow2 images often end mid-sector).  An OVA member's
    data is followed by tar padding up to the next 512 bytes, so the
    rounded slice stays within the member's own blocks; only for image
    formats that address their data through headers (qcow2, VMDK, VHD,
    VDI...), never for raw images, whose size the slice is.
    """
    if part.size % 512 == 0 or (part.offset == 0 and part.size == os.path.getsize(part.path)):
        return part
    rounded = part.size + 512 - part.size % 512
    if part.offset + rounded > os.path.getsize(part.path):
        return part
    return dataclasses.replace(part, size=rounded)


def image_spec(part: ByteRange) -> str:
    """A ``json:`` filename for ``part``, to be opened with an explicit
    ``-f FORMAT``."""
    return "json:" + json.dumps({"file": file_spec(part)}, sort_keys=True)


def check_timeout(virtual_size: int) -> float:
    """Wall-clock seconds allowed to ``qemu-img check`` on an image of
    ``virtual_size`` bytes."""
    return BASE_TIMEOUT + virtual_size / CHECK_RATE


def convert_timeout(size: int) -> float:
    """Wall-clock seconds allowed to ``qemu-img convert`` of ``size`` bytes
    (the larger of the input's and the output's virtual size)."""
    return BASE_TIMEOUT + size / CONVERT_RATE


def _limits(address_space: int, cpu_seconds: int | None, file_size: int | None) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return apply


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LC_")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _failure(args: Sequence[str], returncode: int, stderr: bytes, subject: str) -> QemuImgError:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    detail = lines[-1] if lines else "no message"
    detail = re.sub(r"^qemu-img: ", "", detail)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"qemu-img {args[0]} was killed by {name}"
        if -returncode == signal.SIGXFSZ:
            reason += " (it wrote more than the image's size allows)"
        elif -returncode in (signal.SIGXCPU, signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT):
            reason += " (a crafted image, or too little memory or CPU time)"
        return QemuImgError(f"{reason}: {detail}" if lines else reason, subject)
    return QemuImgError(f"qemu-img {args[0]} failed: {detail}", subject)


Watcher = Callable[[int], "str | None"]
"""Called with qemu-img's pid every :data:`WATCH_INTERVAL` seconds while it
runs; a message stops it (the run then raises :class:`UnsafeInputError`
with that message)."""


class _Guard:
    """Kills a running qemu-img past its deadline, or when the watcher says
    so, from a thread of its own; ``reason`` then says why."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float, watcher: Watcher | None) -> None:
        self.proc = proc
        self.timeout = timeout
        self.watcher = watcher
        self.reason: tuple[str, str] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="qemu-img guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._done.wait(WATCH_INTERVAL):
            if time.monotonic() > deadline:
                self.reason = ("timeout", f"did not finish within {self.timeout:.0f} s; stopped")
            elif self.watcher is not None:
                message = self.watcher(self.proc.pid)
                if message:
                    self.reason = ("watcher", message)
            if self.reason:
                self.proc.kill()
                return

    def stop(self) -> None:
        self._done.set()
        try:
            self._thread.join()
        except RuntimeError:  # interrupted before the thread had started: it ends at once
            pass


def run(
    args: Sequence[str],
    subject: str,
    address_space: int = INFO_LIMITS[0],
    cpu_seconds: int | None = INFO_LIMITS[1],
    on_output: Callable[[bytes], None] | None = None,
    timeout: float | None = None,
    file_size: int | None = None,
    allowed: Sequence[int] = (0,),
    watcher: Watcher | None = None,
) -> bytes:
    """Run ``qemu-img ARGS`` and return its standard output.

    :param subject: the image concerned, for messages.
    :param address_space: RLIMIT_AS for the child, in bytes.
    :param cpu_seconds: RLIMIT_CPU for the child, or ``None``.
    :param on_output: called with each block of standard output as it comes
        (progress parsing); the output is then not returned.
    :param timeout: wall-clock seconds before the child is killed
        (default: :data:`BASE_TIMEOUT`).
    :param file_size: RLIMIT_FSIZE for the child (the largest file it may
        write), in bytes, or ``None``.
    :param allowed: exit statuses that are not failures.
    :param watcher: see :data:`Watcher`.
    :raises MissingToolError: qemu-img is not installed.
    :raises QemuImgError: it exited with a status not in ``allowed``, was
        killed, or ran past ``timeout``.
    :raises UnsafeInputError: the watcher stopped it.
    """
    started: list[_Child] = []
    guard: _Guard | None = None
    with tempfile.TemporaryFile() as errfile:
        try:
            proc = _start(
                [qemu_img_path(), *args], errfile, subject, _limits(address_space, cpu_seconds, file_size), started
            )
            guard = _Guard(proc, BASE_TIMEOUT if timeout is None else timeout, watcher)
            guard.start()
            out = _read_output(proc, args[0], subject, on_output)
            proc.wait()
        except BaseException:
            for child in started:
                child.stop()
            raise
        finally:
            if guard is not None:
                guard.stop()
            for child in started:
                if getattr(child, "stdout", None) is not None:
                    child.stdout.close()  # type: ignore[union-attr]
        errfile.seek(0, os.SEEK_END)
        errfile.seek(max(0, errfile.tell() - 65536))
        err = errfile.read()
    assert guard is not None
    if guard.reason is not None:
        kind, message = guard.reason
        if kind == "watcher":
            raise UnsafeInputError(message, subject)
        raise QemuImgError(f"qemu-img {args[0]} {message}", subject)
    if proc.returncode not in allowed:
        raise _failure(args, proc.returncode, err, subject)
    return out


class _Child(subprocess.Popen[bytes]):
    """A qemu-img child that is on the caller's ``started`` list before it
    is forked.  SIGINT raises KeyboardInterrupt (and the CLI's SIGTERM
    handler :class:`~ovfconverter.errors.Interrupted`) at whatever bytecode
    runs, also inside ``Popen`` once the child exists, before the caller
    holds it: the list still finds the child to kill."""

    def __init__(self, started: list[_Child], *args: Any, **kwargs: Any) -> None:
        started.append(self)
        super().__init__(*args, **kwargs)

    def stop(self) -> None:
        """Kill and reap the child if it was forked and still runs."""
        if getattr(self, "pid", None) is not None and getattr(self, "returncode", 0) is None:
            self.kill()
            self.wait()


def _start(
    command: list[str], errfile: IO[bytes], subject: str, preexec: Callable[[], None], started: list[_Child]
) -> _Child:
    """Start ``command`` (qemu-img first) with no stdin, stdout piped,
    stderr to ``errfile`` and ``preexec`` (the rlimits) applied in the child;
    the child is put on ``started`` before it is forked.

    :raises MissingToolError: the qemu-img it names does not exist.
    :raises QemuImgError: it cannot be started for another reason.
    """
    try:
        return _Child(
            started,
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errfile,
            env=_environment(),
            preexec_fn=preexec,
        )
    except FileNotFoundError:
        if os.environ.get("OVFCONVERTER_QEMU_IMG"):
            raise MissingToolError(f"OVFCONVERTER_QEMU_IMG names {command[0]!r}, which does not exist") from None
        raise MissingToolError(f"qemu-img not found: install the Debian package {QEMU_IMG_PACKAGE}") from None
    except OSError as exc:
        raise QemuImgError(f"cannot run qemu-img: {exc.strerror}", subject) from None


def _read_output(
    proc: subprocess.Popen[bytes], command: str, subject: str, on_output: Callable[[bytes], None] | None
) -> bytes:
    """The child's standard output until it closes it: returned whole (at
    most :data:`MAX_OUTPUT` bytes) or, with ``on_output``, handed over block
    by block and not kept (``b""`` is returned).

    :raises QemuImgError: more than :data:`MAX_OUTPUT` bytes to return.
    """
    assert proc.stdout is not None
    if on_output is None:
        out = proc.stdout.read(MAX_OUTPUT + 1)
        if len(out) > MAX_OUTPUT:
            raise QemuImgError(f"qemu-img {command} wrote more than {MAX_OUTPUT} bytes", subject)
        return out
    stdout = cast(io.BufferedReader, proc.stdout)
    while block := stdout.read1(4096):
        on_output(block)
    return b""


def _json_object(args: list[str], subject: str, **options: Any) -> dict[str, Any]:
    """Run ``qemu-img ARGS`` (a ``--output=json`` command; ``options`` go to
    :func:`run`) and return its answer as a JSON object."""
    out = run(args, subject, **options)
    try:
        data = json.loads(out)
    except ValueError:
        raise QemuImgError(f"qemu-img {args[0]} did not answer JSON", subject) from None
    if not isinstance(data, dict):
        raise QemuImgError(f"qemu-img {args[0]} answered something other than a JSON object", subject)
    return data


def info(spec: str, fmt: str, subject: str) -> dict[str, Any]:
    """``qemu-img info -f FMT --output=json SPEC``.

    :returns: the parsed JSON object.
    :raises QemuImgError: failure, or output that is not a JSON object.
    """
    return _json_object(["info", "-f", fmt, "--output=json", spec], subject)


def check(image: ByteRange, fmt: str) -> dict[str, Any]:
    """``qemu-img check -f FMT --output=json`` on an image we wrote (a file,
    or a member of an OVA being written).

    :returns: the parsed JSON report.
    :raises QemuImgError: qemu-img failed (exit 2 or 3 from check means
        errors or leaks: the report tells).
    """
    return _json_object(
        ["check", "-f", fmt, "--output=json", image_spec(image)], image.name, timeout=check_timeout(image.size)
    )


CHECKED_FORMATS = ("qcow2", "vdi", "vhdx")
"""Formats whose ``qemu-img check`` verifies the allocation tables (qcow2
refcounts, VDI block map, VHDX BAT): clusters shared by several guest
offsets, or pointing outside the file, are found there."""


def check_source(spec: str, fmt: str, subject: str, virtual_size: int) -> dict[str, Any]:
    """``qemu-img check -f FMT --output=json SPEC`` on an image from a
    package, under the same limits as ``info``.

    :param virtual_size: what ``info`` said, in bytes (sets the time limit).
    :returns: the report; ``corruptions`` and ``check-errors`` count what is
        wrong (qemu-img exits 2 then, 3 for leaked clusters only: both are
        reports, not failures).
    :raises QemuImgError: the check could not run or complete.
    """
    return _json_object(
        ["check", "-f", fmt, "--output=json", spec], subject, timeout=check_timeout(virtual_size), allowed=(0, 2, 3)
    )


def convert(
    source: str,
    source_format: str,
    dest: str,
    dest_format: str,
    subject: str,
    options: Sequence[str] = (),
    extra: Sequence[str] = (),
    total: int | None = None,
    progress: ProgressCallback | None = None,
    max_file_size: int | None = None,
    watcher: Watcher | None = None,
) -> None:
    """``qemu-img convert -f SRCFMT -O DESTFMT [-o OPTIONS] -p SOURCE DEST``.

    :param source: a ``json:`` spec (see :func:`image_spec`).
    :param dest: an absolute path; created (qemu-img replaces it).
    :param options: ``-o`` creation options (``subformat=streamOptimized``).
    :param extra: further arguments before the file names.
    :param total: virtual size in bytes, for progress events and the time
        limit (:func:`convert_timeout`).
    :param max_file_size: the largest ``dest`` may grow, in bytes
        (``RLIMIT_FSIZE``: qemu-img is killed by SIGXFSZ beyond it).
    :param watcher: see :data:`Watcher`.
    :raises QemuImgError: the conversion failed, or ran out of time.
    :raises UnsafeInputError: the watcher stopped it.
    """
    args = ["convert", "-f", source_format, "-O", dest_format]
    for option in options:
        args += ["-o", option]
    args += [*extra, "-p", source, os.path.abspath(dest)]
    _run_convert(args, subject, os.path.dirname(os.path.abspath(dest)), total, progress, max_file_size, watcher)


def create(dest: str, fmt: str, size: int, subject: str, options: Sequence[str] = ()) -> None:
    """``qemu-img create -f FMT [-o OPTIONS] DEST SIZE``: a new empty image
    of ``size`` bytes (virtual) at the absolute path ``dest``.

    :raises QemuImgError: qemu-img failed.
    """
    args = ["create", "-q", "-f", fmt]
    for option in options:
        args += ["-o", option]
    run([*args, os.path.abspath(dest), str(size)], subject)


def _opts_value(text: str) -> str:
    """``text`` as a QemuOpts value: commas doubled (qemu's escape)."""
    return text.replace(",", ",,")


def convert_into(
    source: str,
    source_format: str,
    dest: ByteRange,
    dest_format: str,
    subject: str,
    total: int,
    progress: ProgressCallback | None = None,
    max_file_size: int | None = None,
) -> None:
    """``qemu-img convert -n --target-is-zero -f SRCFMT -p SOURCE
    --target-image-opts driver=DESTFMT,file.driver=raw,file.offset=...``:
    write into an empty image of ``dest_format`` that already starts at
    ``dest.offset`` of the file ``dest.path`` (made by :func:`create` and
    placed there), growing the file from there; the image must end the
    file.  The bytes qemu-img writes are those a plain ``convert`` would
    write into a file of their own (the image is created the same way), so
    an image lands inside an OVA member or a package's file without a
    copy.

    :param total: the source's virtual size in bytes (progress, time limit).
    :param max_file_size: the largest the whole file may grow, in bytes.
    :raises QemuImgError: the conversion failed, or ran out of time.
    """
    target = ",".join(
        [
            f"driver={dest_format}",
            "file.driver=raw",
            f"file.offset={dest.offset}",
            "file.file.driver=file",
            f"file.file.filename={_opts_value(os.path.abspath(dest.path))}",
        ]
    )
    args = ["convert", "-n", "--target-is-zero", "-f", source_format, "-p", source, "--target-image-opts", target]
    _run_convert(args, subject, os.path.dirname(os.path.abspath(dest.path)), total, progress, max_file_size, None)


def _run_convert(
    args: list[str],
    subject: str,
    folder: str,
    total: int | None,
    progress: ProgressCallback | None,
    max_file_size: int | None,
    watcher: Watcher | None,
) -> None:
    meter = Meter(progress, "convert", subject, total)

    def parse(block: bytes) -> None:
        found = _PROGRESS_RE.findall(block)
        if found and total:
            meter.update_to(int(float(found[-1]) / 100 * total))

    try:
        run(
            args,
            subject,
            address_space=CONVERT_ADDRESS_SPACE,
            cpu_seconds=None,
            on_output=parse,
            timeout=convert_timeout(total or 0),
            file_size=max_file_size,
            watcher=watcher,
        )
    except QemuImgError as exc:
        # qemu-img 7.2 reports a full file system as "Invalid argument" for
        # some formats (streamOptimized VMDK): say what really happened.
        if shutil.disk_usage(folder).free < (1 << 20):
            raise QemuImgError(f"No space left on device in {folder} (qemu-img said: {exc.message})", subject) from None
        raise
    meter.finish()
