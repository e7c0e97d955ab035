"""OVF certificate files (``.cert``): a signature of the manifest and the
X.509 certificate of the key that made it (DSP0243 section 5.2).

Layout: one line ``ALG(manifest name)= hex signature`` followed by the
certificate(s) in PEM.  The signature is RSA (PKCS #1 v1.5) or ECDSA over
the manifest's bytes with the named digest, as ``openssl dgst -sign``
makes it.  Parsing and verification use the ``cryptography`` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ovfconverter.errors import ManifestError
from ovfconverter.formats.manifest import ALGORITHMS, split_digest_line

# What cryptography raises on certificates it cannot read: ValueError for
# bad DER, TypeError for a name attribute of the wrong ASN.1 type,
# InvalidVersion for an unknown version field, UnsupportedAlgorithm for an
# unknown key type.  Its names are parsed lazily, so all of them can come
# from an attribute read after loading succeeded.
_CERTIFICATE_ERRORS = (ValueError, TypeError, x509.InvalidVersion, UnsupportedAlgorithm)


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    if algorithm == "sha1":
        return hashes.SHA1()
    if algorithm == "sha512":
        return hashes.SHA512()
    return hashes.SHA256()


@dataclass(frozen=True)
class Certificate:
    """A parsed ``.cert`` file.

    Everything read from the signer certificate is read when the file is
    parsed, so a certificate that cryptography loads but cannot fully
    decode is refused there (ManifestError), not later.

    :ivar algorithm: hashlib name of the signature's digest.
    :ivar manifest: the manifest name the signature line gives.
    :ivar signature: the signature bytes.
    :ivar certificates: the X.509 certificates, signer first.
    :ivar subject: the signer's distinguished name (RFC 4514).
    :ivar issuer: the signer certificate's issuer (RFC 4514).
    :ivar self_signed: True when the signer certificate is its own issuer.
    :ivar not_before: start of the signer's validity period (UTC).
    :ivar not_after: end of the signer's validity period (UTC).
    """

    algorithm: str
    manifest: str
    signature: bytes
    certificates: tuple[x509.Certificate, ...]
    subject: str
    issuer: str
    self_signed: bool
    not_before: datetime
    not_after: datetime


def _signature_line(text: str) -> tuple[str, str, str] | None:
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            break
        parts = split_digest_line(line)
        if parts is not None:
            return parts
    return None


def parse_certificate(data: bytes, name: str) -> Certificate:
    """Read a ``.cert`` file: the first ``ALG(manifest)= hex`` line before
    the PEM blocks, then the certificates.

    :raises ManifestError: no signature line, an unsupported digest, a
        signature of an odd number of hex digits, no PEM certificate, or a
        signer certificate cryptography cannot read in full.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ManifestError("certificate file is not ASCII text", name) from None
    parts = _signature_line(text)
    if parts is None:
        raise ManifestError("certificate file has no 'ALG(manifest)= signature' line", name)
    label, manifest, hex_signature = parts
    algorithm = ALGORITHMS.get(label.upper())
    if algorithm is None:
        raise ManifestError(f"signature digest {label!r} is not supported", name)
    if len(hex_signature) % 2:
        raise ManifestError("the signature has an odd number of hex digits", name)
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
        if not certificates:
            raise ManifestError("no PEM certificate", name)
        signer = certificates[0]
        return Certificate(
            algorithm=algorithm,
            manifest=manifest,
            signature=bytes.fromhex(hex_signature),
            certificates=certificates,
            subject=signer.subject.rfc4514_string(),
            issuer=signer.issuer.rfc4514_string(),
            self_signed=signer.subject == signer.issuer,
            not_before=signer.not_valid_before_utc,
            not_after=signer.not_valid_after_utc,
        )
    except _CERTIFICATE_ERRORS as exc:
        raise ManifestError(f"no readable PEM certificate ({exc})", name) from None


def signature_valid(cert: Certificate, manifest: bytes) -> bool:
    """True when ``cert``'s signature of ``manifest`` verifies with the
    signer certificate's public key (RSA PKCS #1 v1.5 or ECDSA).  False
    too when that key cannot be loaded or is of another type."""
    digest = _hash(cert.algorithm)
    try:
        key = cert.certificates[0].public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, manifest, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, manifest, ec.ECDSA(digest))
        else:
            return False
    except (InvalidSignature, *_CERTIFICATE_ERRORS):
        return False
    return True


def certificate_current(cert: Certificate, now: datetime | None = None) -> bool:
    """True when the signer certificate is within its validity period."""
    moment = now or datetime.now(timezone.utc)
    return cert.not_before <= moment <= cert.not_after


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
