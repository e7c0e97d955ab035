"""Shared test helpers.

``../shared`` (reference fixtures, Ganeti's converter) is read in place and
never copied; tests that need it skip with a reason when it is absent
(``OVFCONVERTER_SHARED`` points elsewhere).  qemu-img is a hard requirement
(``make test`` installs it), so its absence fails loudly instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OVFCONVERTER_SHARED", ROOT.parent / "shared")).resolve()
GANETI = SHARED / "fixtures" / "ganeti"
COT = SHARED / "fixtures" / "cot"
PEER = SHARED / "tools" / "ganeti-peer"


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


def run_peer(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Ganeti's converter (exits 0 even after most errors: read stderr)."""
    return subprocess.run([str(PEER), *args], capture_output=True, text=True, cwd=cwd)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ovfconverter ARGS`` as a user would."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "ovfconverter", *args], capture_output=True, text=True, cwd=cwd, env=full_env
    )


def qemu_img(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True)


def images_identical(a: Path | str, fmt_a: str, b: Path | str, fmt_b: str) -> bool:
    """``qemu-img compare``: True when both images have the same content."""
    proc = subprocess.run(
        ["qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, str(a), str(b)], capture_output=True, text=True
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def image_info(path: Path | str, fmt: str) -> dict:
    return json.loads(qemu_img("info", "-f", fmt, "--output=json", str(path)).stdout)


def allocated(path: Path | str) -> int:
    """Bytes really allocated on disk for ``path``."""
    return os.stat(path).st_blocks * 512


def read_ini(path: Path | str) -> dict[str, dict[str, str]]:
    """A config.ini as nested dicts (keys as written)."""
    import configparser

    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return {section: dict(parser.items(section)) for section in parser.sections()}


@pytest.fixture
def out_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "out"
    path.mkdir()
    yield path


def make_raw_disk(path: Path, size: int, pattern: bytes = b"ovfconverter test data ", seed: int = 1) -> Path:
    """A sparse raw disk with recognisable data at its start, middle and end."""
    import random

    rng = random.Random(seed)
    with open(path, "wb") as stream:
        stream.truncate(size)
        for offset in (0, size // 2, max(size - 8192, 0)):
            stream.seek(offset)
            stream.write((pattern * 200)[:4096] + rng.randbytes(4096))
    return path
