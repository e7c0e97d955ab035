"""cloud-init NoCloud seeds (ovfconverter.formats.nocloud and
.cloud_config_schema): the checks on user data, meta-data and
network-config, and the ``cidata`` volume read back by pycdlib, by
genisoimage's ``isoinfo`` and by the kernel's view of it (``blkid``)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pycdlib
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ovfconverter.errors import OptionError, PackageError
from ovfconverter.formats.cloud_config_schema import check_cloud_config
from ovfconverter.formats.nocloud import (
    MAX_SEED_FILE,
    check_meta_data,
    check_network_config,
    check_user_data,
    make_seed,
    read_seed,
    write_seed,
)
from ovfconverter.model.nocloud import hostname_from_name

USER_DATA = b"#cloud-config\nhostname: trainee\nusers:\n  - name: student\n    groups: [sudo]\npackages: [git]\n"
NETWORK = b"version: 2\nethernets:\n  nic0:\n    match: {name: 'e*'}\n    dhcp4: true\n"


def seed_bytes(**kwargs: object) -> bytes:
    seed = make_seed(("user.yaml", USER_DATA), "Training VM (2026)", **kwargs)  # type: ignore[arg-type]
    out = io.BytesIO()
    size = write_seed(seed, out)
    assert size == len(out.getvalue()) and size % 2048 == 0
    return out.getvalue()


# --------------------------------------------------------------------------
# the checks


def test_user_data_is_a_cloud_config_mapping() -> None:
    assert check_user_data(USER_DATA, "u")["packages"] == ["git"]
    assert check_user_data(b"#cloud-config\n", "u") == {}
    assert check_user_data(b"#cloud-config  \r\nruncmd: [ls]\r\n", "u") == {"runcmd": ["ls"]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"#!/bin/sh\necho hi\n", "must start with a '#cloud-config' line"),
        (b"Content-Type: multipart/mixed\n", "must start with a '#cloud-config' line"),
        (b"#include\nhttp://example.org/x\n", "must start with a '#cloud-config' line"),
        (b"hostname: x\n#cloud-config\n", "must start with a '#cloud-config' line"),
        (b"#cloud-config\n- a\n- b\n", "must be a YAML mapping of names to values, not list"),
        (b"#cloud-config\nplain text\n", "must be a YAML mapping of names to values, not str"),
        (b"#cloud-config\n1: a\n", "must be a YAML mapping"),
        (b"#cloud-config\nusers: [\n", "line 3, column 1: not valid YAML"),
        (b"#cloud-config\nkey: \xff\n", "is not UTF-8 text (byte 19)"),
    ],
)
def test_user_data_refusals(data: bytes, expected: str) -> None:
    with pytest.raises(OptionError, match="^user.yaml: .*" + expected.replace("(", r"\(").replace(")", r"\)")):
        check_user_data(data, "user.yaml")


def test_user_data_size_is_bounded() -> None:
    big = b"#cloud-config\n" + b"# padding\n" * (MAX_SEED_FILE // 10)
    with pytest.raises(OptionError, match=f"more than the {MAX_SEED_FILE} accepted"):
        check_user_data(big, "big.yaml")


def test_meta_data_needs_an_instance_id() -> None:
    assert check_meta_data(b"instance-id: i-1\nlocal-hostname: web1\n", "m") == ("i-1", "web1")
    assert check_meta_data(b"instance-id: i-1\n", "m") == ("i-1", None)
    for bad in (b"local-hostname: x\n", b"instance-id: 5\n", b"instance-id: ''\n", b"[1]\n"):
        with pytest.raises(OptionError, match="^m: "):
            check_meta_data(bad, "m")
    with pytest.raises(OptionError, match="local-hostname must be a string"):
        check_meta_data(b"instance-id: a\nlocal-hostname: [x]\n", "m")


def test_network_config_versions() -> None:
    assert check_network_config(NETWORK, "n") == 2
    assert check_network_config(b"network:\n  version: 1\n  config: []\n", "n") == 1
    for bad in (b"ethernets: {}\n", b"version: 3\n", b"version: true\n", b"- version: 2\n"):
        with pytest.raises(OptionError, match="^n: "):
            check_network_config(bad, "n")


def test_default_meta_data_comes_from_the_machine_name() -> None:
    seed = make_seed(("u", USER_DATA), "Training VM (2026)")
    assert yaml.safe_load(seed.meta_data) == {"instance-id": "Training VM (2026)", "local-hostname": "training-vm-2026"}
    assert (seed.instance_id, seed.hostname) == ("Training VM (2026)", "training-vm-2026")
    # a name written into YAML stays data, whatever it holds
    hostile = "x\ninstance-id: evil\nlocal-hostname: 'y"
    seed = make_seed(("u", USER_DATA), hostile)
    assert yaml.safe_load(seed.meta_data)["instance-id"] == hostile


def test_given_meta_data_is_kept_as_written() -> None:
    meta = b"instance-id: lab-01\nlocal-hostname: lab01.example.org\npublic-keys: []\n"
    seed = make_seed(("u", USER_DATA), "ignored", meta_data=("m", meta))
    assert seed.meta_data == meta and seed.instance_id == "lab-01" and seed.hostname == "lab01.example.org"


@pytest.mark.parametrize(
    ("name", "hostname"),
    [
        ("web1.example.com", "web1.example.com"),
        ("My VM (v2)", "my-vm-v2"),
        ("--a__b--", "a-b"),
        ("ünïcode", "n-code"),
        ("...", "localhost"),
        ("a" * 80, "a" * 63),
    ],
)
def test_hostname_from_name(name: str, hostname: str) -> None:
    assert hostname_from_name(name) == hostname


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_hostname_from_any_name_is_a_valid_hostname(name: str) -> None:
    host = hostname_from_name(name)
    assert 0 < len(host) <= 253
    for label in host.split("."):
        assert 0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
        assert set(label) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


# --------------------------------------------------------------------------
# the volume, read back by independent readers


def test_volume_read_back_with_pycdlib() -> None:
    data = seed_bytes(network_config=("n", NETWORK))
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        assert iso.pvd.volume_identifier.rstrip() == b"cidata"
        names = {}
        for path in ("/user-data", "/meta-data", "/network-config"):
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path=path)
            names[path] = out.getvalue()
            joliet = io.BytesIO()
            iso.get_file_from_iso_fp(joliet, joliet_path=path)
            assert joliet.getvalue() == out.getvalue()
    finally:
        iso.close()
    assert names["/user-data"] == USER_DATA and names["/network-config"] == NETWORK
    assert yaml.safe_load(names["/meta-data"])["local-hostname"] == "training-vm-2026"
    seed = read_seed(io.BytesIO(data), "seed.iso")
    assert (seed.user_data, seed.network_config, seed.hostname) == (USER_DATA, NETWORK, "training-vm-2026")


def test_volume_read_back_with_isoinfo(tmp_path: Path) -> None:
    if not shutil.which("isoinfo"):
        pytest.skip("isoinfo is not installed (Debian package genisoimage; tools/setup-env installs it as root)")
    iso = tmp_path / "seed.iso"
    iso.write_bytes(seed_bytes())
    header = subprocess.run(["isoinfo", "-d", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    assert "Volume id: cidata" in header and "Rock Ridge" in header and "Joliet" in header
    listing = subprocess.run(["isoinfo", "-R", "-l", "-i", str(iso)], capture_output=True, text=True, check=True)
    names = {line.split()[-1] for line in listing.stdout.splitlines() if line.startswith("-")}
    assert names == {"user-data", "meta-data"}
    content = subprocess.run(
        ["isoinfo", "-R", "-i", str(iso), "-x", "/user-data"], capture_output=True, check=True
    ).stdout
    assert content == USER_DATA


def test_volume_label_as_blkid_sees_it(tmp_path: Path) -> None:
    """cloud-init finds the seed by ``blkid -t LABEL=cidata``."""
    if not shutil.which("blkid"):
        pytest.skip("blkid is not installed (util-linux)")
    iso = tmp_path / "seed.iso"
    iso.write_bytes(seed_bytes())
    proc = subprocess.run(["blkid", "-p", "-o", "export", str(iso)], capture_output=True, text=True, check=True)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert (values["LABEL"], values["TYPE"]) == ("cidata", "iso9660")


def test_read_seed_refusals(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="not an ISO 9660 volume"):
        read_seed(io.BytesIO(b"\0" * 70000), "zeros.iso")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, rock_ridge="1.09", vol_ident="CIDATA2")
    iso.add_fp(io.BytesIO(b"x"), 1, "/USER_DAT.;1", rr_name="user-data")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    with pytest.raises(PackageError, match="volume label is 'CIDATA2', not 'cidata'"):
        read_seed(io.BytesIO(out.getvalue()), "other.iso")


# --------------------------------------------------------------------------
# cloud-init's own schema


def test_cloud_init_schema_check() -> None:
    """cloud-init itself judges what only it knows (types of its modules'
    keys); skipped where cloud-init is not installed (Debian package
    cloud-init; tools/setup-env installs it as root)."""
    good = check_cloud_config(USER_DATA)
    if not good.checked:
        pytest.skip("cloud-init is not installed here: " + "; ".join(good.problems or ("no cloud-init command",)))
    assert good.problems == ()
    bad = check_cloud_config(b"#cloud-config\npackages: git\nruncmd: 5\n")
    assert bad.checked
    text = " ".join(bad.problems)
    assert "packages" in text and "runcmd" in text and "array" in text


def test_cloud_init_absent_means_not_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVFCONVERTER_CLOUD_INIT", str(tmp_path / "no-such-cloud-init"))
    verdict = check_cloud_config(USER_DATA)
    assert (verdict.checked, verdict.problems) == (False, ())
