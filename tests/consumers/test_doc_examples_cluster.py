"""The examples of README.md and doc/*.rst that run on a Ganeti node, run on
the node of the real Ganeti test cluster (../shared/tools/ganeti-cluster),
and print what the pages say (the harness: tests/docexamples.py; the other
examples: tests/docs/test_doc_examples.py).

The module holds /tmp/ovfconverter-ganeti-cluster.lock while it uses the
cluster, brings it up (with ovfconverter's raw-image OS) and down itself, and
skips with the tool's reason where the cluster cannot run (exit 3).  After
each session, the instances and export folders it made are removed, so
that sessions do not see each other's results.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import ROOT, SHARED
from docexamples import EXPORT_DIR, SESSIONS, Where, run_session

TOOL = SHARED / "tools" / "ganeti-cluster"
LOCK = "/tmp/ovfconverter-ganeti-cluster.lock"
RAW_IMAGE_OS = ROOT / "examples" / "ganeti-os" / "raw-image"
CLUSTER = sorted(name for name, session in SESSIONS.items() if session.where is Where.CLUSTER)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the Ganeti test cluster needs root")


def node_shell(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``command`` through bash on the cluster's node, as its operator
    would: in ``cwd``, the project's virtualenv first on ``PATH``, the
    node's /var/lib/ganeti read."""
    script = f"cd {shlex.quote(str(cwd))} && export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH\n"
    full = dict(os.environ, OVFCONVERTER_GANETI_DIR="/var/lib/ganeti", **env)
    proc = subprocess.run(
        [str(TOOL), "run", "bash", "-c", script + command], capture_output=True, text=True, env=full, timeout=600
    )
    return proc.returncode, proc.stdout, proc.stderr


def _instances() -> set[str]:
    status, out, err = node_shell("gnt-instance list --no-headers -o name", Path("/"), {})
    assert status == 0, err
    return set(out.split())


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    if not TOOL.exists():
        pytest.skip(f"{TOOL} is absent: no Ganeti test cluster here")
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        up = subprocess.run([str(TOOL), "up", "--os", str(RAW_IMAGE_OS)], capture_output=True, text=True)
        if up.returncode == 3:
            pytest.skip(f"the Ganeti test cluster cannot run here: {up.stderr.strip()}")
        assert up.returncode == 0, up.stdout + up.stderr
        try:
            yield
        finally:
            down = subprocess.run([str(TOOL), "down"], capture_output=True, text=True)
            assert down.returncode == 0, down.stderr


@pytest.mark.parametrize("name", CLUSTER)
def test_session_runs_as_written_on_a_node(name: str, cluster: None, tmp_path: Path, shared: Path) -> None:
    instances, exports = _instances(), set(os.listdir(EXPORT_DIR))
    try:
        assert run_session(SESSIONS[name], tmp_path, node_shell, {}) > 0
    finally:
        for instance in _instances() - instances:
            node_shell(f"gnt-instance remove -f {shlex.quote(instance)}", Path("/"), {})
        for entry in set(os.listdir(EXPORT_DIR)) - exports:
            path = EXPORT_DIR / entry
            shutil.rmtree(path) if path.is_dir() else path.unlink()
