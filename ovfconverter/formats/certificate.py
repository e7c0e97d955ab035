"""OVF certificate files (``.cert``): a signature of the manifest and the
X.509 certificate of the key that made it (DSP0243 section 5.2).

Layout: one line ``ALG(manifest name)= hex signature`` followed by the
certificate(s) in PEM.  The signature is RSA (PKCS #1 v1.5) or ECDSA over
the manifest's bytes with the named digest, as ``openssl dgst -sign``
makes it.  Parsing and verification use the ``cryptography`` package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ovfconverter.errors import ManifestError
from ovfconverter.formats.manifest import ALGORITHMS

_SIGNATURE_RE = re.compile(r"^\s*([A-Za-z0-9-]+)\s*\(\s*(.+?)\s*\)\s*=\s*([0-9A-Fa-f]+)\s*$", re.MULTILINE)


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    if algorithm == "sha1":
        return hashes.SHA1()
    if algorithm == "sha512":
        return hashes.SHA512()
    return hashes.SHA256()


@dataclass(frozen=True)
class Certificate:
    """A parsed ``.cert`` file.

    :ivar algorithm: hashlib name of the signature's digest.
    :ivar manifest: the manifest name the signature line gives.
    :ivar signature: the signature bytes.
    :ivar certificates: the X.509 certificates, signer first.
    """

    algorithm: str
    manifest: str
    signature: bytes
    certificates: tuple[x509.Certificate, ...]

    @property
    def subject(self) -> str:
        """The signer's distinguished name (RFC 4514)."""
        return self.certificates[0].subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The signer certificate's issuer (RFC 4514)."""
        return self.certificates[0].issuer.rfc4514_string()

    @property
    def self_signed(self) -> bool:
        """True when the signer certificate is its own issuer."""
        return self.certificates[0].subject == self.certificates[0].issuer


def parse_certificate(data: bytes, name: str) -> Certificate:
    """Read a ``.cert`` file.

    :raises ManifestError: no signature line, an unsupported digest, or no
        readable PEM certificate.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ManifestError("certificate file is not ASCII text", name) from None
    match = _SIGNATURE_RE.search(text)
    if not match:
        raise ManifestError("certificate file has no 'ALG(manifest)= signature' line", name)
    algorithm = ALGORITHMS.get(match.group(1).upper())
    if algorithm is None:
        raise ManifestError(f"signature digest {match.group(1)!r} is not supported", name)
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise ManifestError(f"no readable PEM certificate ({exc})", name) from None
    if not certificates:
        raise ManifestError("no PEM certificate", name)
    return Certificate(algorithm, match.group(2), bytes.fromhex(match.group(3)), certificates)


def signature_valid(cert: Certificate, manifest: bytes) -> bool:
    """True when ``cert``'s signature of ``manifest`` verifies with the
    signer certificate's public key (RSA PKCS #1 v1.5 or ECDSA)."""
    key = cert.certificates[0].public_key()
    digest = _hash(cert.algorithm)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, manifest, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, manifest, ec.ECDSA(digest))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def certificate_current(cert: Certificate, now: datetime | None = None) -> bool:
    """True when the signer certificate is within its validity period."""
    moment = now or datetime.now(timezone.utc)
    signer = cert.certificates[0]
    return signer.not_valid_before_utc <= moment <= signer.not_valid_after_utc


def sign_manifest(
    manifest_name: str, manifest: bytes, key_pem: bytes, cert_pem: bytes, algorithm: str = "sha256"
) -> bytes:
    """Make a ``.cert`` file: sign ``manifest`` with the PEM private key and
    append the PEM certificate.

    :raises ManifestError: the key cannot be read or is neither RSA nor EC.
    """
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"cannot read the private key: {exc}") from None
    digest = _hash(algorithm)
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(manifest, padding.PKCS1v15(), digest)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(manifest, ec.ECDSA(digest))
    else:
        raise ManifestError("the private key is neither RSA nor EC")
    label = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[algorithm]
    return f"{label}({manifest_name})= {signature.hex()}\n".encode("ascii") + cert_pem
