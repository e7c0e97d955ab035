"""Image inspection and conversion to raw, every format judged by qemu-img."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from builders import FORMAT_URIS, allocated, convert, images_identical, make_raw_disk, qemu_img

from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.to_raw import SourceImage, convert_to_raw
from ovfconverter.errors import DiskImageError, UnsafeInputError
from ovfconverter.io.ranges import ByteRange, range_reader
from ovfconverter.model.envelope import formats_for_uri, vmdk_subformat_for_uri

MIB = 1 << 20


def _inspect(path: Path):  # type: ignore[no-untyped-def]
    part = ByteRange(str(path), 0, path.stat().st_size, path.name)
    return inspect_image(range_reader(part), part.size)


def _convert(path: Path, dest: Path, declared: str | None = None, capacity: int | None = None):  # type: ignore[no-untyped-def]
    part = ByteRange(str(path), 0, path.stat().st_size, path.name)
    return convert_to_raw(SourceImage(path.name, (part,), None, declared, capacity), str(dest), str(dest.parent))


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return make_raw_disk(tmp_path / "src.raw", 6 * MIB)


@pytest.mark.parametrize(
    ("qemu_format", "options", "ours", "uri"),
    [
        ("qcow2", (), "qcow2", FORMAT_URIS["qcow2"]),
        ("qcow2", ("compat=0.10",), "qcow2", FORMAT_URIS["qcow2"]),
        ("qcow", (), "qcow", FORMAT_URIS["qcow2"]),
        ("vmdk", ("subformat=streamOptimized",), "vmdk", FORMAT_URIS["streamOptimized"]),
        ("vmdk", ("subformat=monolithicSparse",), "vmdk", FORMAT_URIS["monolithicSparse"]),
        ("vdi", (), "vdi", "http://www.virtualbox.org/vdi"),
        ("vdi", ("static=on",), "vdi", None),
        ("vpc", (), "vhd", FORMAT_URIS["vhd"]),
        ("vpc", ("subformat=fixed",), "vhd", None),
        ("vhdx", (), "vhdx", "http://schemas.microsoft.com/vhdx"),
    ],
)
def test_formats_convert_to_identical_raw(
    tmp_path: Path, raw: Path, qemu_format: str, options: tuple[str, ...], ours: str, uri: str | None
) -> None:
    image = convert(raw, tmp_path / f"img.{qemu_format}", qemu_format, *options)
    inspection = _inspect(image)
    assert inspection.format == ours
    assert not inspection.problems
    dest = tmp_path / "out.raw"
    converted = _convert(image, dest, uri)
    assert converted.source_format == ours
    assert images_identical(raw, "raw", dest, "raw")
    assert allocated(dest) < 4 * MIB, "holes stay holes"


def test_raw_is_copied_sparse_without_qemu(tmp_path: Path, raw: Path) -> None:
    dest = tmp_path / "out.raw"
    converted = _convert(raw, dest, FORMAT_URIS["raw"])
    assert converted.virtual_size == 6 * MIB
    assert dest.read_bytes() == raw.read_bytes()
    assert allocated(dest) <= 3 * 64 * 1024, "three 8 KiB data regions: at most three 64 KiB blocks allocated"


def test_iso_is_recognised(tmp_path: Path) -> None:
    iso = tmp_path / "cd.iso"
    with open(iso, "wb") as stream:
        stream.truncate(1 * MIB)
        stream.seek(0x8001)
        stream.write(b"CD001")
    assert _inspect(iso).format == "iso"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized", {"vmdk"}),
        ("http://www.vmware.com/specifications/vmdk.html#sparse", {"vmdk"}),
        ("http://www.gnome.org/~markmc/qcow-image-format.html", {"qcow2", "qcow"}),
        ("http://en.wikipedia.org/wiki/Byte", {"raw", "iso"}),
        ("urn:example:unknown", None),
        (None, None),
    ],
)
def test_format_uris(uri: str | None, expected: set[str] | None) -> None:
    found = formats_for_uri(uri)
    assert (set(found) if found is not None else None) == expected


def test_vmdk_subformat_uris() -> None:
    assert vmdk_subformat_for_uri("http://www.vmware.com/specifications/vmdk.html#compressed") == "streamOptimized"
    assert vmdk_subformat_for_uri("http://www.vmware.com/specifications/vmdk.html#sparse") == "monolithicSparse"
    assert vmdk_subformat_for_uri("http://x/vmdk.html") is None


def test_declared_vmdk_but_qcow2_is_refused(tmp_path: Path, raw: Path) -> None:
    qcow2 = convert(raw, tmp_path / "disk.vmdk", "qcow2")
    with pytest.raises(UnsafeInputError, match="bytes are a qcow2 image"):
        _convert(qcow2, tmp_path / "out.raw", FORMAT_URIS["streamOptimized"])
    assert not (tmp_path / "out.raw").exists()


def test_qcow2_backing_file_is_refused(tmp_path: Path, raw: Path) -> None:
    overlay = tmp_path / "overlay.qcow2"
    qemu_img("create", "-f", "qcow2", "-F", "raw", "-b", str(raw), str(overlay))
    with pytest.raises(UnsafeInputError, match="backing file"):
        _convert(overlay, tmp_path / "out.raw", FORMAT_URIS["qcow2"])


def test_vmdk_flat_descriptor_is_refused(tmp_path: Path) -> None:
    descriptor = tmp_path / "disk.vmdk"
    descriptor.write_text(
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'
        'RW 8 FLAT "/etc/hostname" 0\n'
    )
    with pytest.raises(UnsafeInputError, match="/etc/hostname"):
        _convert(descriptor, tmp_path / "out.raw", FORMAT_URIS["streamOptimized"])
    assert not (tmp_path / "out.raw").exists()


def test_vmdk_sparse_header_with_capacity_zero_is_refused(tmp_path: Path, raw: Path) -> None:
    vmdk = convert(raw, tmp_path / "disk.vmdk", "vmdk", "subformat=monolithicSparse")
    data = bytearray(vmdk.read_bytes())
    data[12:20] = struct.pack("<Q", 0)
    vmdk.write_bytes(bytes(data))
    with pytest.raises(UnsafeInputError, match="capacity 0"):
        _convert(vmdk, tmp_path / "out.raw", FORMAT_URIS["monolithicSparse"])


def test_qed_is_refused(tmp_path: Path, raw: Path) -> None:
    qed = convert(raw, tmp_path / "disk.qed", "qed")
    with pytest.raises(UnsafeInputError, match="QED"):
        _convert(qed, tmp_path / "out.raw")


def test_gzip_stream_declared_raw_is_refused(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "disk.raw"
    path.write_bytes(gzip.compress(b"x" * 100000))
    with pytest.raises(DiskImageError, match="gzip stream"):
        _convert(path, tmp_path / "out.raw", FORMAT_URIS["raw"])


def test_ambiguous_image_is_refused(tmp_path: Path, raw: Path) -> None:
    """A qcow2 header whose file also ends with a VHD footer matches two
    formats."""
    qcow2 = convert(raw, tmp_path / "disk.img", "qcow2")
    with open(qcow2, "ab") as stream:
        stream.write(b"conectix".ljust(512, b"\0"))
    with pytest.raises(UnsafeInputError, match="more than one format"):
        _convert(qcow2, tmp_path / "out.raw")


@pytest.mark.parametrize("name", ["cot/input.vmdk", "cot/blank.vmdk"])
def test_native_reader_takes_real_streamoptimized_files(shared: Path, tmp_path: Path, name: str) -> None:
    """VMware's tools write one grain table more than the directory names;
    the native reader must take such files as qemu does."""
    from ovfconverter.vmdk.reader import read_stream_optimized

    source = shared / "fixtures" / name
    dest = tmp_path / "out.raw"
    size = read_stream_optimized(ByteRange(str(source), 0, source.stat().st_size, name), str(dest), name)
    assert size == dest.stat().st_size
    assert images_identical(source, "vmdk", dest, "raw")


def test_import_uses_the_native_reader_and_hashes_in_the_same_pass(tmp_path: Path, raw: Path) -> None:
    """A streamOptimized VMDK is converted without qemu-img convert, and
    the bytes given to on_data are exactly the stored file."""
    import hashlib

    vmdk = convert(raw, tmp_path / "d.vmdk", "vmdk", "subformat=streamOptimized")
    digest = hashlib.sha256()
    part = ByteRange(str(vmdk), 0, vmdk.stat().st_size, vmdk.name)
    dest = tmp_path / "out.raw"
    converted = convert_to_raw(
        SourceImage(vmdk.name, (part,), None, FORMAT_URIS["streamOptimized"]),
        str(dest),
        str(tmp_path),
        on_data=digest.update,
    )
    assert converted.subformat == "streamOptimized"
    assert digest.hexdigest() == hashlib.sha256(vmdk.read_bytes()).hexdigest()
    assert images_identical(raw, "raw", dest, "raw")
