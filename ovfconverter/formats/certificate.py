"""OVF certificate files (``.cert``): a signature of the manifest and the
X.509 certificate of the key that made it (DSP0243 section 5.2).

Layout: one line ``ALG(manifest name)= hex signature`` followed by the
certificate(s) in PEM, signer first (what VMware's ovftool writes for
``--privateKey``).  The signature is RSA (PKCS #1 v1.5) or ECDSA over the
manifest's bytes with the named digest, as ``openssl dgst -sign`` makes it.

Reading (:func:`parse_certificate`, :func:`signature_valid`), signing
(:func:`load_signing_key`, :func:`signature_file`) and checking a signer's
chain against a trust store (:func:`load_trust_store`,
:func:`verify_chain`) all use the ``cryptography`` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ovfconverter.errors import ManifestError, OptionError
from ovfconverter.formats.manifest import ALGORITHMS, split_digest_line
from ovfconverter.parameters import Parameter

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


@dataclass(frozen=True)
class SigningKey:
    """A private key and the certificates that go with its signatures.

    :ivar key: the RSA or EC private key.
    :ivar certificates: the signer certificate (whose public key is the
        key's) first, then any other certificates given (intermediates), in
        the order given.
    """

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificates: tuple[x509.Certificate, ...]

    @property
    def subject(self) -> str:
        """The signer's distinguished name (RFC 4514)."""
        return self.certificates[0].subject.rfc4514_string()

    def current(self, now: datetime | None = None) -> bool:
        """True when the signer certificate is within its validity period."""
        signer = self.certificates[0]
        moment = now or datetime.now(timezone.utc)
        return signer.not_valid_before_utc <= moment <= signer.not_valid_after_utc


def _public_der(key: object) -> bytes:
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return b""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_signing_key(
    key_pem: bytes, key_name: str = "key", cert_pem: bytes | None = None, cert_name: str | None = None
) -> SigningKey:
    """Read a PEM private key and its certificate(s): from ``cert_pem`` when
    given, else from the key file itself (ovftool's ``--privateKey`` file
    holds both).  The certificate whose public key is the key's becomes the
    signer; the others follow it in the ``.cert`` file.

    :raises OptionError: the key cannot be read, is encrypted, is neither
        RSA nor EC, there is no PEM certificate, or no certificate carries
        the key's public key.
    """
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise OptionError(
            "the private key is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN)", key_name
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise OptionError(f"not a PEM private key ({exc})", key_name) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise OptionError("the private key is neither RSA nor EC", key_name)
    source, source_name = (cert_pem, cert_name or "certificate") if cert_pem is not None else (key_pem, key_name)
    try:
        certificates = list(x509.load_pem_x509_certificates(source)) if b"-----BEGIN CERTIFICATE" in source else []
    except _CERTIFICATE_ERRORS as exc:
        raise OptionError(f"no readable PEM certificate ({exc})", source_name) from None
    if not certificates:
        raise OptionError(
            ("holds no PEM certificate: give the signer's certificate with ", Parameter("certificate")), source_name
        )
    mine = _public_der(key.public_key())
    signers = [c for c in certificates if _public_der(c.public_key()) == mine]
    if not signers:
        raise OptionError("no certificate in it carries the private key's public key", source_name)
    signer = signers[0]
    return SigningKey(key, (signer, *(c for c in certificates if c is not signer)))


def signature_file(manifest_name: str, manifest: bytes, signing: SigningKey, algorithm: str = "sha256") -> bytes:
    """The ``.cert`` file ovftool writes: ``ALG(manifest name)= hex`` of the
    signature of the manifest's bytes (RSA PKCS #1 v1.5 or ECDSA, as
    ``openssl dgst -ALG -sign`` makes it), a newline, then the certificates
    in PEM, signer first."""
    digest = _hash(algorithm)
    if isinstance(signing.key, rsa.RSAPrivateKey):
        signature = signing.key.sign(manifest, padding.PKCS1v15(), digest)
    else:
        signature = signing.key.sign(manifest, ec.ECDSA(digest))
    label = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[algorithm]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in signing.certificates)
    return f"{label}({manifest_name})= {signature.hex()}\n".encode("ascii") + pem


def signature_file_room(manifest_name: str, signing: SigningKey, algorithm: str = "sha256") -> int:
    """The largest :func:`signature_file` ``signing`` can make for
    ``manifest_name``, in bytes: an RSA signature is as long as the
    modulus; an ECDSA one is DER whose two integers may each need one more
    byte."""
    if isinstance(signing.key, rsa.RSAPrivateKey):
        length = (signing.key.key_size + 7) // 8
    else:
        content = 2 * (2 + (signing.key.curve.key_size + 7) // 8 + 1)
        length = content + (2 if content < 128 else 3)
    label = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[algorithm]
    pem = sum(len(c.public_bytes(serialization.Encoding.PEM)) for c in signing.certificates)
    return len(f"{label}({manifest_name})= \n".encode()) + 2 * length + pem


def sign_manifest(
    manifest_name: str, manifest: bytes, key_pem: bytes, cert_pem: bytes, algorithm: str = "sha256"
) -> bytes:
    """Make a ``.cert`` file: sign ``manifest`` with the PEM private key and
    append the PEM certificate (:func:`load_signing_key`,
    :func:`signature_file`).

    :raises ManifestError: the key or certificate cannot be used.
    """
    try:
        signing = load_signing_key(key_pem, "key", cert_pem, "certificate")
    except OptionError as exc:
        raise ManifestError(exc.message, exc.subject) from None
    return signature_file(manifest_name, manifest, signing, algorithm)


def load_trust_store(data: bytes, name: str) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM bundle (``verify --ca FILE``).

    :raises OptionError: no readable PEM certificate in it.
    """
    try:
        found = tuple(x509.load_pem_x509_certificates(data)) if b"-----BEGIN CERTIFICATE" in data else ()
    except _CERTIFICATE_ERRORS as exc:
        raise OptionError(f"not a bundle of PEM certificates ({exc})", name) from None
    if not found:
        raise OptionError("holds no PEM certificate", name)
    return found


@dataclass(frozen=True)
class ChainVerdict:
    """Whether a ``.cert``'s signer chains to a trusted certificate.

    :ivar trusted: True when a chain was built and validated.
    :ivar chain: the chain's subjects (RFC 4514), signer first, trust
        anchor last; empty when none was found.
    :ivar problem: why not, one line, ``None`` when trusted.
    """

    trusted: bool
    chain: tuple[str, ...] = ()
    problem: str | None = None


def verify_chain(cert: Certificate, trusted: tuple[x509.Certificate, ...], now: datetime | None = None) -> ChainVerdict:
    """Check that ``cert``'s signer certificate chains, through the other
    certificates of the ``.cert`` file, to one of ``trusted`` (RFC 5280 path
    validation by cryptography's verifier, with the Web PKI rules for
    issuing certificates: basic constraints, key usage ``keyCertSign``,
    validity periods, signature algorithms).  The signer certificate's own
    extensions are not held to TLS rules: a code-signing certificate is
    fine.  A self-signed signer is trusted only when it is in ``trusted``.
    """
    from cryptography.x509 import verification

    if not hasattr(verification.PolicyBuilder, "extension_policies"):  # cryptography < 45
        return ChainVerdict(False, problem="checking a chain needs cryptography 45 or later")
    moment = now or datetime.now(timezone.utc)
    builder = (
        verification.PolicyBuilder()
        .store(verification.Store(list(trusted)))
        .time(moment)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
    )
    try:
        verified = builder.build_client_verifier().verify(cert.certificates[0], list(cert.certificates[1:]))
    except verification.VerificationError as exc:
        detail = str(exc).replace("validation failed: ", "")
        if "candidates exhausted" in detail:
            detail = "no chain leads to a trusted certificate"
        return ChainVerdict(False, problem=f"the signer {cert.subject} is not trusted: {detail}")
    except _CERTIFICATE_ERRORS as exc:
        return ChainVerdict(False, problem=f"the certificate chain cannot be checked ({exc})")
    return ChainVerdict(True, chain=tuple(c.subject.rfc4514_string() for c in verified.chain))
