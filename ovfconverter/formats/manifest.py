"""OVF manifests (``.mf``): one digest per file of the package.

DSP0243 (section 5.1) gives the line format ``ALG(file name)= hexdigest``;
producers differ in details, so reading is lenient: spaces around the
parentheses and ``=``, CRLF line ends, upper- or lower-case hex, a UTF-8 BOM,
blank lines, and OpenSSL 3's ``SHA2-256`` spelling are accepted.  Writing
uses the exact form VMware expects: ``SHA256(disk.vmdk)= 0123...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ovfconverter.errors import ManifestError, UnsafeInputError

MAX_MANIFEST_SIZE = 4 << 20
"""Largest manifest accepted, in bytes (4 MiB: tens of thousands of lines)."""

ALGORITHMS = {
    "SHA1": "sha1",
    "SHA256": "sha256",
    "SHA512": "sha512",
    "SHA2-256": "sha256",
    "SHA2-512": "sha512",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-512": "sha512",
}
"""Manifest algorithm names -> hashlib names."""

DIGEST_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128}
"""hashlib name -> length of its hex digest."""

_LINE_RE = re.compile(r"^\s*([A-Za-z0-9-]+)\s*\(\s*(.+?)\s*\)\s*=\s*([0-9A-Fa-f]+)\s*$")


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest line.

    :ivar algorithm: hashlib name (``sha1``, ``sha256``, ``sha512``).
    :ivar filename: the file it covers, as written (a package-relative name).
    :ivar digest: lower-case hex.
    :ivar line: 1-based line number, for messages.
    """

    algorithm: str
    filename: str
    digest: str
    line: int = 0

    def format(self) -> str:
        """The line as ovfconverter writes it (no line end)."""
        label = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[self.algorithm]
        return f"{label}({self.filename})= {self.digest}"


def parse_manifest(data: bytes, name: str) -> list[ManifestEntry]:
    """Read a manifest.

    :param data: the manifest's bytes.
    :param name: its file name, for messages.
    :returns: the entries in file order.
    :raises UnsafeInputError: larger than :data:`MAX_MANIFEST_SIZE`.
    :raises ManifestError: a line that is not ``ALG(name)= hex`` with a
        supported algorithm and a digest of the right length, or a file
        listed twice with different digests.
    """
    if len(data) > MAX_MANIFEST_SIZE:
        raise UnsafeInputError(f"manifest is {len(data)} bytes, more than {MAX_MANIFEST_SIZE} allowed; refusing", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError("manifest is not UTF-8 text", name) from None
    entries: list[ManifestEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if not line.strip():
            continue
        match = _LINE_RE.match(line)
        if not match:
            raise ManifestError(f"line {number} is not of the form ALG(file)= hexdigest", name)
        label, filename, digest = match.groups()
        algorithm = ALGORITHMS.get(label.upper())
        if algorithm is None:
            raise ManifestError(
                f"line {number}: digest algorithm {label!r} is not supported (SHA1, SHA256 or SHA512)", name
            )
        if len(digest) != DIGEST_LENGTHS[algorithm]:
            raise ManifestError(f"line {number}: {label} digest of {filename!r} has the wrong length", name)
        digest = digest.lower()
        key = (algorithm, filename)
        if key in seen and seen[key] != digest:
            raise ManifestError(f"line {number}: {filename!r} is listed twice with different digests", name)
        seen[key] = digest
        entries.append(ManifestEntry(algorithm=algorithm, filename=filename, digest=digest, line=number))
    return entries


def format_manifest(entries: list[ManifestEntry]) -> bytes:
    """Write entries as a manifest: one ``SHA256(name)= hex`` line each,
    ``\\n`` line ends, UTF-8."""
    return "".join(entry.format() + "\n" for entry in entries).encode("utf-8")
