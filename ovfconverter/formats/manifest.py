"""OVF manifests (``.mf``): one digest per file of the package.

DSP0243 (section 5.1) gives the line format ``ALG(file name)= hexdigest``;
producers differ in details, so reading is lenient: spaces around the
parentheses and ``=``, CRLF line ends, upper- or lower-case hex, a UTF-8 BOM,
blank lines, and OpenSSL 3's ``SHA2-256`` spelling are accepted.  Writing
uses the exact form VMware expects: ``SHA256(disk.vmdk)= 0123...``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ovfconverter.enums import Words
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


class Digest(Words):
    """The digests ovfconverter writes manifests with (hashlib names)."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


DIGEST_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128}
"""hashlib name -> length of its hex digest."""

_HEX = frozenset("0123456789abcdefABCDEF")
_LABEL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def split_digest_line(line: str) -> tuple[str, str, str] | None:
    """Split ``ALG(name)= hex`` into ``(ALG, name, hex)``, leniently about
    white space; ``None`` when the line is not of that form.

    The name may itself hold parentheses and ``=``: the digest is what
    follows the last ``=``, the name what lies between the first ``(`` and
    the last ``)`` before it.  Linear time whatever the line (a regular
    expression with backtracking was cubic on hostile lines).
    """
    equals = line.rfind("=")
    if equals < 0:
        return None
    digest = line[equals + 1 :].strip()
    head = line[:equals].rstrip()
    if not digest or not head.endswith(")") or any(ch not in _HEX for ch in digest):
        return None
    opening = head.find("(")
    if opening <= 0:
        return None
    label = head[:opening].strip()
    name = head[opening + 1 : -1].strip()
    if not label or not name or any(ch not in _LABEL for ch in label):
        return None
    return label, name, digest


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
        parts = split_digest_line(line)
        if parts is None:
            raise ManifestError(f"line {number} is not of the form ALG(file)= hexdigest", name)
        label, filename, digest = parts
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
