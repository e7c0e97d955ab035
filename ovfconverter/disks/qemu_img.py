"""Running ``qemu-img`` on untrusted images, hardened.

* The format is always given (``-f``); qemu-img never probes.
* Images are named by a ``json:`` spec whose leaf is ``"driver": "file"``
  with an absolute path, so no file name is ever read as a protocol
  (``nbd:``, ``json:``...); OVA members are read in place through the raw
  driver's ``offset``/``size``.
* Output is requested as JSON (``--output=json``), never parsed from text.
* qemu-img runs with ``LC_ALL=C``, under resource limits (address space, and
  CPU time for ``info``), as OpenStack runs it against CVE-2015-5162.
* On any error, signal or exception the child is killed and reaped.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, cast

from ovfconverter.errors import MissingToolError, QemuImgError
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


def image_spec(part: ByteRange) -> str:
    """A ``json:`` filename for ``part``, to be opened with an explicit
    ``-f FORMAT``."""
    return "json:" + json.dumps({"file": file_spec(part)}, sort_keys=True)


def _limits(address_space: int, cpu_seconds: int | None) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
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
        if -returncode in (signal.SIGXCPU, signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT):
            reason += " (a crafted image, or too little memory or CPU time)"
        return QemuImgError(f"{reason}: {detail}" if lines else reason, subject)
    return QemuImgError(f"qemu-img {args[0]} failed: {detail}", subject)


def run(
    args: Sequence[str],
    subject: str,
    address_space: int = INFO_LIMITS[0],
    cpu_seconds: int | None = INFO_LIMITS[1],
    on_output: Callable[[bytes], None] | None = None,
) -> bytes:
    """Run ``qemu-img ARGS`` and return its standard output.

    :param subject: the image concerned, for messages.
    :param address_space: RLIMIT_AS for the child, in bytes.
    :param cpu_seconds: RLIMIT_CPU for the child, or ``None``.
    :param on_output: called with each block of standard output as it comes
        (progress parsing); the output is then not returned.
    :raises MissingToolError: qemu-img is not installed.
    :raises QemuImgError: it exited non-zero or was killed.
    """
    command = [qemu_img_path(), *args]
    with tempfile.TemporaryFile() as errfile:
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errfile,
                env=_environment(),
                preexec_fn=_limits(address_space, cpu_seconds),
            )
        except FileNotFoundError:
            if os.environ.get("OVFCONVERTER_QEMU_IMG"):
                raise MissingToolError(f"OVFCONVERTER_QEMU_IMG names {command[0]!r}, which does not exist") from None
            raise MissingToolError(f"qemu-img not found: install the Debian package {QEMU_IMG_PACKAGE}") from None
        except OSError as exc:
            raise QemuImgError(f"cannot run qemu-img: {exc.strerror}", subject) from None
        try:
            assert proc.stdout is not None
            if on_output is None:
                out = proc.stdout.read(MAX_OUTPUT + 1)
                if len(out) > MAX_OUTPUT:
                    raise QemuImgError(f"qemu-img {args[0]} wrote more than {MAX_OUTPUT} bytes", subject)
            else:
                out = b""
                stdout = cast(io.BufferedReader, proc.stdout)
                while True:
                    block = stdout.read1(4096)
                    if not block:
                        break
                    on_output(block)
            proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
        errfile.seek(0, os.SEEK_END)
        errfile.seek(max(0, errfile.tell() - 65536))
        err = errfile.read()
    if proc.returncode != 0:
        raise _failure(args, proc.returncode, err, subject)
    return out


def _json_object(args: list[str], subject: str) -> dict[str, Any]:
    """Run ``qemu-img ARGS`` (a ``--output=json`` command) and return its
    answer as a JSON object."""
    out = run(args, subject)
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
    return _json_object(["check", "-f", fmt, "--output=json", image_spec(image)], image.name)


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
) -> None:
    """``qemu-img convert -f SRCFMT -O DESTFMT [-o OPTIONS] -p SOURCE DEST``.

    :param source: a ``json:`` spec (see :func:`image_spec`).
    :param dest: an absolute path; created (qemu-img replaces it).
    :param options: ``-o`` creation options (``subformat=streamOptimized``).
    :param extra: further arguments before the file names.
    :param total: virtual size in bytes, for progress events.
    :raises QemuImgError: the conversion failed.
    """
    args = ["convert", "-f", source_format, "-O", dest_format]
    for option in options:
        args += ["-o", option]
    args += [*extra, "-p", source, os.path.abspath(dest)]
    meter = Meter(progress, "convert", subject, total)

    def parse(block: bytes) -> None:
        found = _PROGRESS_RE.findall(block)
        if found and total:
            meter.update_to(int(float(found[-1]) / 100 * total))

    try:
        run(args, subject, address_space=CONVERT_ADDRESS_SPACE, cpu_seconds=None, on_output=parse)
    except QemuImgError as exc:
        # qemu-img 7.2 reports a full file system as "Invalid argument" for
        # some formats (streamOptimized VMDK): say what really happened.
        folder = os.path.dirname(os.path.abspath(dest))
        if shutil.disk_usage(folder).free < (1 << 20):
            raise QemuImgError(f"No space left on device in {folder} (qemu-img said: {exc.message})", subject) from None
        raise
    meter.finish()
