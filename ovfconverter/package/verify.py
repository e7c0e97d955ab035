"""Checking a package against its manifest.

Every file the manifest lists and the package holds is hashed (the bytes
exactly as stored: for an OVA, the member's bytes read in place) and
compared.  A listed file that is missing is reported, as is a referenced
file the manifest does not list; deciding what is fatal is the caller's
business (the importer refuses mismatches and warns about the rest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ovfconverter.enums import Words
from ovfconverter.errors import PackageError, UnsafeInputError
from ovfconverter.formats.manifest import ManifestEntry
from ovfconverter.io.hashing import hash_ranges
from ovfconverter.package.access import Package
from ovfconverter.progress import ProgressCallback


class FileStatus(Words):
    """The manifest verdict on one file."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"  # listed, not in the package
    UNLISTED = "unlisted"  # referenced, not in the manifest


@dataclass(frozen=True)
class FileCheck:
    """The manifest verdict on one file.

    :ivar status: a :class:`FileStatus`.
    :ivar algorithm: hashlib name, ``None`` for unlisted files.
    """

    name: str
    status: FileStatus
    algorithm: str | None = None
    expected: str | None = None
    actual: str | None = None


def verify_manifest(
    package: Package,
    entries: Iterable[ManifestEntry],
    referenced: Iterable[str] = (),
    progress: ProgressCallback | None = None,
) -> list[FileCheck]:
    """Hash and compare every file ``entries`` lists.

    :param referenced: names the descriptor refers to (hrefs, chunk names);
        those the manifest omits are reported as ``"unlisted"``.
    :returns: one :class:`FileCheck` per entry, then one per unlisted name.
    :raises PackageError: a listed file is truncated or unreadable.
    """
    checks: list[FileCheck] = []
    listed: set[str] = set()
    for entry in entries:
        listed.add(entry.filename)
        if entry.filename == package.descriptor_name:
            actual: str | None = hashlib.new(entry.algorithm, package.descriptor).hexdigest()
        else:
            try:
                ranges = [package.locate(entry.filename)]
            except (PackageError, UnsafeInputError):
                checks.append(FileCheck(entry.filename, FileStatus.MISSING, entry.algorithm, entry.digest))
                continue
            actual = hash_ranges(ranges, entry.algorithm, progress, entry.filename)
        status = FileStatus.OK if actual == entry.digest else FileStatus.MISMATCH
        checks.append(FileCheck(entry.filename, status, entry.algorithm, entry.digest, actual))
    for name in referenced:
        if name not in listed:
            listed.add(name)
            checks.append(FileCheck(name, FileStatus.UNLISTED))
    return checks
