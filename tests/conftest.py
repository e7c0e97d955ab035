"""Fixtures shared by every test module.  Helpers and paths are in
``builders.py`` (tests import them from there, never from here).

``../shared`` (reference fixtures, Ganeti's converter) is read in place and
never copied; tests that need it skip with a reason when it is absent
(``OVFCONVERTER_SHARED`` points elsewhere).  qemu-img is a hard requirement
(``make test`` installs it), so its absence fails loudly instead of skipping.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import COT_INSTALL_SECONDS, COT_VENV, COT_VERSION, GLANCE_LOCK, GLANCE_TOOL, PEER, SHARED, LocalGlance


def pytest_configure(config: pytest.Config) -> None:
    if not shutil.which("qemu-img"):
        raise pytest.UsageError("qemu-img is required by the tests: install the Debian package qemu-utils")


@pytest.fixture(scope="session", autouse=True)
def off_ganeti_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test runs as if this machine were not a Ganeti node (an empty
    ``OVFCONVERTER_GANETI_DIR``), so a test cluster that happens to be up on
    this machine changes no result; the tests against the real cluster
    (tests/consumers/test_ganeti_cluster.py) point it back at /var/lib/ganeti."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVFCONVERTER_GANETI_DIR", str(tmp_path_factory.mktemp("not-a-ganeti-node")))
        yield


@pytest.fixture
def shared() -> Path:
    """The ``../shared`` folder; skips when it is absent."""
    if not (SHARED / "fixtures").is_dir():
        pytest.skip(f"{SHARED} is absent: the reference fixtures are not available here")
    return SHARED


@pytest.fixture
def ganeti_dir(shared: Path) -> Path:
    return shared / "fixtures" / "ganeti"


@pytest.fixture
def cot_dir(shared: Path) -> Path:
    return shared / "fixtures" / "cot"


@pytest.fixture(scope="session")
def peer_ready() -> Path:
    """Ganeti 3.0.2's ovfconverter (installed on first use); skips when it
    cannot be installed here."""
    if not PEER.exists():
        pytest.skip(f"{PEER} is absent: Ganeti's converter is not available here")
    proc = subprocess.run([str(PEER), "--setup-only"], capture_output=True, text=True)
    if proc.returncode == 3:
        pytest.skip(f"ganeti-peer cannot be installed here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    return PEER


@pytest.fixture
def out_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "out"
    path.mkdir()
    yield path


@pytest.fixture(scope="module")
def glance() -> Iterator[LocalGlance]:
    """A real Glance for this test module, brought up and down by it, under
    the machine-wide lock (``/tmp/ovfconverter-glance.lock``, held for as
    long as the module uses it).  Skips only when the tool says Glance
    cannot run here (exit 3)."""
    import fcntl

    if not GLANCE_TOOL.exists():
        pytest.skip(f"{GLANCE_TOOL} is absent: no local Glance here")
    import openstack  # noqa: F401  (a test requirement: fail loudly when missing)

    with open(GLANCE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([str(GLANCE_TOOL), "up"], capture_output=True, text=True)
        if proc.returncode not in (0, 3):
            # A Glance left behind by a killed run: start over once.
            subprocess.run([str(GLANCE_TOOL), "down"], capture_output=True, check=False)
            proc = subprocess.run([str(GLANCE_TOOL), "up"], capture_output=True, text=True)
        if proc.returncode == 3:
            pytest.skip(proc.stderr.strip())
        assert proc.returncode == 0, proc.stderr
        values = dict(line.split("=", 1) for line in proc.stdout.split() if "=" in line)
        try:
            yield LocalGlance(values)
        finally:
            subprocess.run([str(GLANCE_TOOL), "down"], capture_output=True, check=False)


@pytest.fixture(scope="session")
def cot() -> Path:
    """``cot`` from a scratch venv (installed on first use); skips when it
    cannot be installed within two minutes."""
    exe = COT_VENV / "bin" / "cot"

    def version() -> str:
        proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
        return proc.stdout + proc.stderr

    if exe.exists() and f"version {COT_VERSION}" in version():
        return exe
    shutil.rmtree(COT_VENV, ignore_errors=True)
    deadline = time.monotonic() + COT_INSTALL_SECONDS
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(COT_VENV)], check=True, capture_output=True, text=True, timeout=60
        )
        subprocess.run(
            [str(COT_VENV / "bin" / "pip"), "install", "-q", f"cot=={COT_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 1),
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(COT_VENV, ignore_errors=True)
        pytest.skip(f"installing cot=={COT_VERSION} took more than {COT_INSTALL_SECONDS} s")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(COT_VENV, ignore_errors=True)
        tail = " ".join((exc.stderr or "").strip().splitlines()[-2:])
        pytest.skip(f"cannot install cot=={COT_VERSION} into a scratch venv: {tail}")
    if f"version {COT_VERSION}" not in version():
        pytest.skip(f"cot=={COT_VERSION} installed but does not run: {version()!r}")
    return exe
