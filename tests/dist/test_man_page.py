"""The version is written once, in pyproject.toml: the man page takes it
from the package's metadata when ``make man`` (tools/make-man) builds it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())


def test_man_page_carries_the_package_version() -> None:
    page = (ROOT / "doc" / "ovfconverter.1").read_text(encoding="utf-8")
    header = re.search(r'^\.TH "ovfconverter" "1" "[^"]*" "([^"]*)"', page, re.MULTILINE)
    assert header is not None, "no .TH line in doc/ovfconverter.1"
    declared = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert declared is not None
    assert header.group(1) == declared.group(1) == importlib.metadata.version("ovfconverter"), "run make man"


def test_man_page_source_leaves_the_version_out() -> None:
    source = (ROOT / "doc" / "ovfconverter.rst").read_text(encoding="utf-8")
    assert not re.search(r"^:Version:", source, re.MULTILINE)
