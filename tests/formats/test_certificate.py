"""Signing manifests and checking signers (ovfconverter.formats.certificate):
the ``.cert`` ovftool writes, judged by ``openssl dgst -verify``; keys and
certificates refused with one clear line; chains checked against a trust
store (and by ``openssl verify`` alike)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from builders import Pki, make_pki

from ovfconverter.errors import OptionError
from ovfconverter.formats.certificate import (
    load_signing_key,
    load_trust_store,
    parse_certificate,
    signature_file,
    signature_valid,
    verify_chain,
)

MANIFEST = b"SHA256(vm.ovf)= " + b"ab" * 32 + b"\nSHA256(vm-disk0.vmdk)= " + b"cd" * 32 + b"\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def openssl() -> str:
    found = shutil.which("openssl")
    if not found:
        pytest.skip("openssl is not installed")
    return found


def signed(pki: Pki, algorithm: str = "sha256", with_chain: bool = False) -> bytes:
    certs = pki.signer_cert.read_bytes() + (pki.intermediate_cert.read_bytes() if with_chain else b"")
    signing = load_signing_key(pki.signer_key.read_bytes(), "signer.key", certs, "certs.pem")
    return signature_file("vm.mf", MANIFEST, signing, algorithm)


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "sha512"])
def test_cert_file_is_what_ovftool_writes_and_openssl_agrees(pki: Pki, tmp_path: Path, algorithm: str) -> None:
    """``ALG(vm.mf)= hex`` then the PEM certificate; the hex is a signature
    ``openssl dgst -verify`` accepts for the manifest's bytes (and refuses
    for other bytes)."""
    data = signed(pki, algorithm)
    first, rest = data.split(b"\n", 1)
    label, hexsig = first.decode().split("= ")
    assert label == f"{algorithm.upper()}(vm.mf)"
    assert rest.startswith(b"-----BEGIN CERTIFICATE-----") and rest == pki.signer_cert.read_bytes()
    (tmp_path / "sig.bin").write_bytes(bytes.fromhex(hexsig))
    (tmp_path / "vm.mf").write_bytes(MANIFEST)
    (tmp_path / "other.mf").write_bytes(MANIFEST + b"\n")
    pub = subprocess.run(
        [openssl(), "x509", "-pubkey", "-noout", "-in", str(pki.signer_cert)], capture_output=True, check=True
    ).stdout
    (tmp_path / "pub.pem").write_bytes(pub)

    def dgst(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [openssl(), "dgst", f"-{algorithm}", "-verify", "pub.pem", "-signature", "sig.bin", target],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert dgst("vm.mf").stdout.strip() == "Verified OK"
    assert dgst("other.mf").returncode == 1
    parsed = parse_certificate(data, "vm.cert")
    assert parsed.manifest == "vm.mf" and signature_valid(parsed, MANIFEST)
    assert not signature_valid(parsed, MANIFEST + b"\n")


def test_key_and_certificate_in_one_file(pki: Pki, tmp_path: Path) -> None:
    """ovftool's ``--privateKey`` file holds both; the certificate whose key
    it is becomes the signer, whatever the order in the file."""
    both = tmp_path / "both.pem"
    both.write_bytes(pki.intermediate_cert.read_bytes() + pki.signer_key.read_bytes() + pki.signer_cert.read_bytes())
    signing = load_signing_key(both.read_bytes(), "both.pem")
    assert signing.subject == "CN=Appliance Signing"
    assert [c.subject.rfc4514_string() for c in signing.certificates] == [
        "CN=Appliance Signing",
        "CN=Test Intermediate CA",
    ]
    assert signing.current()


def test_signing_key_refusals(pki: Pki) -> None:
    key = pki.signer_key.read_bytes()
    with pytest.raises(OptionError, match="^signer.key: holds no PEM certificate: give the signer's certificate"):
        load_signing_key(key, "signer.key")
    with pytest.raises(OptionError, match="^self.pem: no certificate in it carries the private key's public key"):
        load_signing_key(key, "signer.key", pki.self_signed_cert.read_bytes(), "self.pem")
    with pytest.raises(OptionError, match="^cert.pem: holds no PEM certificate"):
        load_signing_key(key, "signer.key", b"hello", "cert.pem")
    with pytest.raises(OptionError, match="^x.pem: not a PEM private key"):
        load_signing_key(pki.signer_cert.read_bytes(), "x.pem")


def test_encrypted_key_is_refused_with_the_way_out(pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.signer_key.read_bytes(), password=None)
    locked = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(OptionError, match=r"^locked.key: the private key is encrypted: decrypt it first \(openssl"):
        load_signing_key(locked, "locked.key", pki.signer_cert.read_bytes())


def test_chain_to_the_root_through_the_cert_files_intermediate(pki: Pki) -> None:
    roots = load_trust_store(pki.root_cert.read_bytes(), "root.pem")
    with_chain = parse_certificate(signed(pki, with_chain=True), "vm.cert")
    verdict = verify_chain(with_chain, roots)
    assert verdict.trusted and verdict.problem is None
    assert verdict.chain == ("CN=Appliance Signing", "CN=Test Intermediate CA", "CN=Test Root CA")
    # without the intermediate in the .cert file there is no path
    alone = verify_chain(parse_certificate(signed(pki), "vm.cert"), roots)
    assert not alone.trusted and alone.chain == ()
    assert alone.problem == "the signer CN=Appliance Signing is not trusted: no chain leads to a trusted certificate"
    # trusting the intermediate itself is enough
    assert verify_chain(
        parse_certificate(signed(pki), "vm.cert"), load_trust_store(pki.intermediate_cert.read_bytes(), "i")
    ).trusted


def test_self_signed_signer_trusted_only_when_in_the_store(pki: Pki) -> None:
    signing = load_signing_key(pki.self_signed_key.read_bytes(), "self.key", pki.self_signed_cert.read_bytes())
    cert = parse_certificate(signature_file("vm.mf", MANIFEST, signing), "vm.cert")
    assert verify_chain(cert, load_trust_store(pki.self_signed_cert.read_bytes(), "s")).trusted
    assert not verify_chain(cert, load_trust_store(pki.root_cert.read_bytes(), "r")).trusted


def test_expired_chain_is_not_trusted(tmp_path: Path) -> None:
    old = make_pki(tmp_path / "old", days=-10)
    signing = load_signing_key(
        old.signer_key.read_bytes(), "k", old.signer_cert.read_bytes() + old.intermediate_cert.read_bytes()
    )
    assert not signing.current()
    cert = parse_certificate(signature_file("vm.mf", MANIFEST, signing), "vm.cert")
    verdict = verify_chain(cert, load_trust_store(old.root_cert.read_bytes(), "root.pem"))
    assert not verdict.trusted and verdict.problem is not None


def test_openssl_verify_agrees_on_the_chain(pki: Pki) -> None:
    """The same chain, judged by ``openssl verify`` (purpose any)."""
    proc = subprocess.run(
        [
            openssl(),
            "verify",
            "-CAfile",
            str(pki.root_cert),
            "-untrusted",
            str(pki.intermediate_cert),
            str(pki.signer_cert),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [openssl(), "verify", "-CAfile", str(pki.root_cert), str(pki.signer_cert)], capture_output=True, text=True
    )
    assert proc.returncode != 0


def test_trust_store_refusals() -> None:
    with pytest.raises(OptionError, match="^ca.pem: holds no PEM certificate"):
        load_trust_store(b"# nothing here\n", "ca.pem")
    with pytest.raises(OptionError, match="^ca.pem: not a bundle of PEM certificates"):
        load_trust_store(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "ca.pem")
