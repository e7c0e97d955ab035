"""Signed packages end to end: ``verify --ca FILE`` checks that the signer
chains to a certificate the user trusts, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import MIB, Pki, make_pki, run_cli, write_ganeti_export

from ovfconverter.formats.certificate import load_signing_key, signature_file


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder package written by ``ovfconverter export``: its descriptor."""
    work = tmp_path_factory.mktemp("export")
    config = write_ganeti_export(work / "gnt", "signed.example.com", 4 * MIB)
    proc = run_cli("export", str(config), "--output-dir", str(work / "out"))
    assert proc.returncode == 0, proc.stderr
    return work / "out" / "signed.example.com" / "signed.example.com.ovf"


def sign_folder(ovf: Path, key: Path, certs: bytes) -> None:
    manifest = ovf.with_suffix(".mf")
    signing = load_signing_key(key.read_bytes(), key.name, certs, "certs")
    ovf.with_suffix(".cert").write_bytes(signature_file(manifest.name, manifest.read_bytes(), signing))


def test_verify_ca_trusts_a_chain_to_the_given_root(exported: Path, pki: Pki) -> None:
    sign_folder(exported, pki.signer_key, pki.signer_cert.read_bytes() + pki.intermediate_cert.read_bytes())
    proc = run_cli("verify", "--ca", str(pki.root_cert), str(exported))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "by CN=Appliance Signing, trusted through CN=Test Root CA" in proc.stdout
    data = json.loads(run_cli("verify", "--ca", str(pki.root_cert), "--json", str(exported)).stdout)
    assert data["ok"] is True
    assert data["certificate"]["trusted"] is True
    assert data["certificate"]["chain"] == ["CN=Appliance Signing", "CN=Test Intermediate CA", "CN=Test Root CA"]
    # without --ca nothing is said about trust, and the package verifies
    plain = json.loads(run_cli("verify", "--json", str(exported)).stdout)
    assert plain["ok"] is True and plain["certificate"]["trusted"] is None


def test_verify_ca_refuses_a_signer_it_does_not_trust(exported: Path, pki: Pki) -> None:
    sign_folder(exported, pki.self_signed_key, pki.self_signed_cert.read_bytes())
    proc = run_cli("verify", "--ca", str(pki.root_cert), str(exported))
    assert proc.returncode == 1
    assert "NOT TRUSTED" in proc.stdout
    assert "is not trusted: no chain leads to a trusted certificate" in proc.stdout
    assert proc.stdout.rstrip().endswith(": NOT verified")
    # the same signer, trusted explicitly
    assert run_cli("verify", "--ca", str(pki.self_signed_cert), str(exported)).returncode == 0


def test_verify_ca_on_an_unsigned_package(exported: Path, pki: Pki) -> None:
    exported.with_suffix(".cert").unlink(missing_ok=True)
    proc = run_cli("verify", "--ca", str(pki.root_cert), str(exported))
    assert proc.returncode == 1
    assert "problem: the package is not signed (no .cert file), so it cannot be trusted" in proc.stdout


def test_verify_ca_with_a_bad_trust_store(exported: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificates\n")
    proc = run_cli("verify", "--ca", str(empty), str(exported))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ovfconverter: error: {empty}: holds no PEM certificate"
    proc = run_cli("verify", "--ca", str(tmp_path / "missing.pem"), str(exported))
    assert proc.returncode == 1 and "cannot read the trust store" in proc.stderr
