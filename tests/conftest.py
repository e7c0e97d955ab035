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
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import PEER, SHARED


def pytest_configure(config: pytest.Config) -> None:
    if not shutil.which("qemu-img"):
        raise pytest.UsageError("qemu-img is required by the tests: install the Debian package qemu-utils")


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
