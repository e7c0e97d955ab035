"""The package installs the way operators install it.

* with Debian 12's own toolchain (``pip install --no-build-isolation .``
  with Debian's setuptools 66, which predates PEP 639 licence expressions);
* as a new user would, with current pip: a clean virtualenv, ``pip
  install`` of the sdist, ``ovfconverter --version`` and one import;
* the sdist carries what its tests and documentation need.

Each builds from a copy of the work tree, so nothing is left in it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())

DEBIAN_PYTHON = Path("/usr/bin/python3")
TREE_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "demo-output"
)

pytestmark = pytest.mark.packaging


def _run(*args: str | Path, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the work tree without build products or virtualenvs."""
    tree = tmp_path_factory.mktemp("src") / "ovfconverter"
    shutil.copytree(ROOT, tree, ignore=TREE_IGNORE)
    return tree


@pytest.fixture(scope="module")
def sdist(source_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, built with the test environment's setuptools."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", out, source_tree)
    (found,) = out.glob("ovfconverter-*.tar.gz")
    return found


def _debian_setuptools() -> str | None:
    if not DEBIAN_PYTHON.exists():
        return None
    proc = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import setuptools, pip; print(setuptools.__version__)"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_debian_toolchain_builds_and_installs(source_tree: Path, tmp_path: Path) -> None:
    version = _debian_setuptools()
    if version is None:
        pytest.skip("Debian's python3 with python3-setuptools and python3-pip is not installed here")
    venv = tmp_path / "debian-venv"
    _run(DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", venv)
    used = _run(venv / "bin" / "python", "-c", "import setuptools; print(setuptools.__version__)").stdout.strip()
    assert used == version  # Debian's own, not one from PyPI
    _run(venv / "bin" / "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", ".", cwd=source_tree)
    meta = _run(
        venv / "bin" / "python",
        "-c",
        "import importlib.metadata as m; d = m.metadata('ovfconverter'); "
        "print(d['Version']); print(d.get('License') or d.get('License-Expression'))",
    ).stdout.split("\n")
    assert meta[1] == "BSD-2-Clause"
    assert (venv / "bin" / "ovfconverter").exists()


def test_sdist_carries_docs_examples_and_tests(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "Makefile",
        "doc/index.rst",
        "doc/ovfconverter.1",
        "examples/demo.ovf.in",
        "examples/ganeti-os/raw-image/import",
        "tests/conftest.py",
        "tests/builders.py",
        "tools/make-example",
        "tools/setup-env",
    ):
        assert needed in names, f"{needed} missing from {sdist.name}"
    assert any(name.startswith("tests/data/") for name in names)
    assert not any("__pycache__" in name or name.startswith(("examples/build", ".venv")) for name in names)


def test_fresh_venv_installs_the_sdist_and_imports(sdist: Path, tmp_path: Path) -> None:
    """What a new user does: a clean venv, ``pip install`` (dependencies from
    the package index), ``--version``, and one import of the example OVA."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", sdist)
    wheel_meta = _run(venv / "bin" / "ovfconverter", "--version").stdout
    assert wheel_meta.startswith("ovfconverter ")
    completion = _run(venv / "bin" / "ovfconverter", "completion", "bash").stdout  # shtab comes with it
    assert "complete -o bashdefault -F _shtab_ovfconverter ovfconverter" in completion
    example = tmp_path / "example"
    _run(sys.executable, ROOT / "tools" / "make-example", example)
    out = tmp_path / "out"
    out.mkdir()
    _run(venv / "bin" / "ovfconverter", "import", example / "demo.ova", "-o", "raw-image+default", "--output-dir", out)
    _run("qemu-img", "compare", "-f", "raw", "-F", "raw", example / "demo-disk1.raw", out / "demo-vm" / "disk0.raw")


def test_wheel_carries_licence_and_man_page(source_tree: Path, tmp_path: Path) -> None:
    _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path, source_tree)
    (wheel,) = tmp_path.glob("ovfconverter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") or name.endswith(".dist-info/LICENSE") for name in names)
    assert any(name.endswith("share/man/man1/ovfconverter.1") for name in names)
    for schema in ("info", "verify", "result", "plan"):
        assert f"ovfconverter/schemas/{schema}.schema.json" in names, f"{schema}.schema.json missing from the wheel"
    assert not any(name.startswith("tests/") for name in names)
