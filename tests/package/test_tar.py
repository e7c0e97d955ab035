"""The OVA member table: what it accepts, and every tar trick it refuses.
Archives are built at test time."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from builders import make_ova
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovfconverter.errors import PackageError, UnsafeInputError
from ovfconverter.package.access import open_package
from ovfconverter.package.tar import read_member_table

DESCRIPTOR = b'<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'


def _table(path: Path) -> list:  # type: ignore[type-arg]
    with open(path, "rb") as stream:
        return read_member_table(stream, path.stat().st_size, path.name)


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], fmt: int = tarfile.GNU_FORMAT) -> Path:
    return make_ova(path, list(members), fmt)


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_offsets_match_tarfile(tmp_path: Path, fmt: int) -> None:
    long_name = "d/" + "x" * (90 if fmt == tarfile.USTAR_FORMAT else 150) + "/disk.vmdk"
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), (long_name, b"y" * 1000), ("ünï.txt", b"z")], fmt)
    ours = [(m.name, m.offset, m.size) for m in _table(path)]
    with tarfile.open(path) as tar:
        theirs = [(m.name, m.offset_data, m.size) for m in tar.getmembers()]
    assert ours == theirs


def test_directories_are_skipped_and_dot_slash_is_dropped(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.ova", [_special("./", tarfile.DIRTYPE), ("./vm.ovf", DESCRIPTOR)])
    assert [m.name for m in _table(path)] == ["vm.ovf"]


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (_special("disk.vmdk", tarfile.SYMTYPE, "/etc/shadow"), "symbolic link"),
        (_special("disk.vmdk", tarfile.LNKTYPE, "vm.ovf"), "hard link"),
        (_special("disk.vmdk", tarfile.CHRTYPE), "character device"),
        (_special("disk.vmdk", tarfile.BLKTYPE), "block device"),
        (_special("disk.vmdk", tarfile.FIFOTYPE), "FIFO"),
        (_special("disk.vmdk", tarfile.GNUTYPE_SPARSE), "sparse"),
        (_special("disk.vmdk", b"Z"), "unknown tar type"),
    ],
)
def test_non_regular_members_are_refused(tmp_path: Path, member: tarfile.TarInfo, words: str) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), member])
    with pytest.raises(UnsafeInputError, match=words):
        _table(path)


@pytest.mark.parametrize(
    ("name", "fmt", "words"),
    [
        ("../escape.vmdk", tarfile.USTAR_FORMAT, "climbs out"),
        ("a/../../escape.vmdk", tarfile.USTAR_FORMAT, "climbs out"),
        ("/etc/passwd", tarfile.USTAR_FORMAT, "absolute"),
        ("../" + "x" * 200, tarfile.GNU_FORMAT, "climbs out"),
        ("../" + "y" * 200, tarfile.PAX_FORMAT, "climbs out"),
        ("bad\nname", tarfile.GNU_FORMAT, "control characters"),
        ("back\\slash", tarfile.GNU_FORMAT, "backslash"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str, fmt: int, words: str) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), (name, b"data")], fmt)
    with pytest.raises(UnsafeInputError, match=words):
        _table(path)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), ("disk.vmdk", b"one"), ("./disk.vmdk", b"two")])
    with pytest.raises(UnsafeInputError, match="appears twice"):
        _table(path)


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), ("disk.vmdk", b"x" * 100000)])
    data = path.read_bytes()
    path.write_bytes(data[:50000])
    with pytest.raises(PackageError, match="truncated"):
        _table(path)


def test_absurd_size_is_refused(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR)])
    data = bytearray(path.read_bytes())
    header = bytearray(data[:512])
    header[124:136] = b"77777777777\0"  # 8 GiB member in a tiny file
    header[148:156] = b"        "
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    data[:512] = header
    path.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="runs past the end"):
        _table(path)


def test_bad_checksum_is_refused(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.ova", [("vm.ovf", DESCRIPTOR), ("disk.vmdk", b"data")])
    data = bytearray(path.read_bytes())
    data[512 + 512 + 10] ^= 0x20  # a byte of the second header's name
    path.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="bad checksum"):
        _table(path)


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "a.ova"
    path.write_bytes(DESCRIPTOR * 20)
    with pytest.raises(PackageError, match="not an OVA: not a tar archive"):
        open_package(str(path))


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "a.ova"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for index in range(10002):
            tar.addfile(tarfile.TarInfo(f"f{index}"))
    with pytest.raises(UnsafeInputError, match="more than 10000 members"):
        _table(path)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.binary(min_size=0, max_size=4096), cut=st.integers(min_value=0, max_value=3000))
def test_any_bytes_give_members_or_our_error(tmp_path: Path, data: bytes, cut: int) -> None:
    """Fuzzing the member table: random bytes, and valid archives with
    random damage, give a member list or our own error, nothing else."""
    base = _tar(tmp_path / "base.ova", [("vm.ovf", DESCRIPTOR), ("disk.vmdk", b"d" * 700)])
    blob = bytearray(base.read_bytes())
    for index, byte in enumerate(data[:64]):
        blob[(cut + index * 37) % len(blob)] = byte
    for content in (bytes(blob), data, bytes(blob[:cut])):
        path = tmp_path / "fuzz.ova"
        path.write_bytes(content)
        try:
            members = _table(path)
        except (PackageError, UnsafeInputError):
            continue
        for member in members:
            assert member.offset >= 0 and member.offset + member.size <= len(content)
            assert not member.name.startswith("/") and ".." not in member.name.split("/")
    os.unlink(base)
