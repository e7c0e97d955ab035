"""cloud-init's own check of a ``#cloud-config``: ``cloud-init schema
--config-file FILE`` (cloud-init 22.1 and later), run when cloud-init is
installed (Debian package ``cloud-init``).

cloud-init knows its modules' keys and their types (``packages`` is a list,
``users`` a list of mappings or strings...); :mod:`ovfconverter.formats.nocloud`
only knows that user data is a YAML mapping.  The command runs under a time
limit, an address-space limit and ``LC_ALL=C``, on a private copy of the
file; its verdict is read from its exit status (0: valid, 1: errors, which
it prints on one line).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

SCHEMA_TIMEOUT = 60.0
"""Seconds ``cloud-init schema`` may take."""

_ADDRESS_SPACE = 2 << 30


@dataclass(frozen=True)
class SchemaVerdict:
    """What cloud-init said of a cloud-config.

    :ivar checked: ``False`` when cloud-init is not installed (nothing was
        checked beyond YAML).
    :ivar problems: cloud-init's schema errors, one line each (empty: valid).
    :ivar version: ``cloud-init --version``'s answer, for messages.
    """

    checked: bool
    problems: tuple[str, ...] = ()
    version: str | None = None


def cloud_init_path() -> str | None:
    """The ``cloud-init`` command, ``None`` when not installed
    (``$OVFCONVERTER_CLOUD_INIT`` names another one)."""
    configured = os.environ.get("OVFCONVERTER_CLOUD_INIT")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("cloud-init")


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE, _ADDRESS_SPACE))


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": tempfile.gettempdir()}
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=SCHEMA_TIMEOUT,
        env=env,
        preexec_fn=_limit,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _problems(output: str) -> list[str]:
    """cloud-init's error lines: the text after ``Cloud config schema
    errors:``, else every line but empty headers (``Error:``, ``Cloud config
    schema deprecations:``)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    marked = [line.split("schema errors:", 1)[1].strip() for line in lines if "schema errors:" in line]
    if marked:
        return [text for text in marked if text]
    return [line for line in lines if not line.endswith(":")]


def check_cloud_config(user_data: bytes) -> SchemaVerdict:
    """Check ``user_data`` (a ``#cloud-config`` document already known to be
    YAML) with cloud-init's own schema.

    :returns: the verdict; ``checked`` is ``False`` when cloud-init is not
        installed or cannot run here (its problems then say why).
    """
    tool = cloud_init_path()
    if tool is None:
        return SchemaVerdict(checked=False)
    with tempfile.TemporaryDirectory(prefix="ovfconverter-cloud-config-") as work:
        path = os.path.join(work, "user-data")
        with open(path, "wb") as out:
            out.write(user_data)
        try:
            version = _run([tool, "--version"]).stdout.strip() or None
            proc = _run([tool, "schema", "--config-file", path])
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SchemaVerdict(checked=False, problems=(f"cloud-init could not check it: {exc}",))
    if proc.returncode == 0:
        return SchemaVerdict(checked=True, version=version)
    text = "\n".join(part for part in (proc.stdout, proc.stderr) if part).replace(path, "user-data")
    if "schema" not in text.lower():
        tail = text.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return SchemaVerdict(checked=False, problems=(f"cloud-init could not check it: {tail[0]}",), version=version)
    return SchemaVerdict(checked=True, problems=tuple(_problems(text)) or (text.strip(),), version=version)
