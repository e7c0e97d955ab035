"""OVA packages built at test time: read in place, verified, converted."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from builders import (
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    allocated,
    convert,
    images_identical,
    make_ova,
    make_raw_disk,
    ova_package,
    read_ini,
    run_cli,
    write_manifest,
)

from ovfconverter import ImportOptions, ManifestError, import_package

MIB = 1 << 20
SIZE = 24 * MIB + 12288  # sector-aligned (VMDK sizes are whole sectors), not MiB-aligned


@pytest.fixture
def disk(tmp_path: Path) -> tuple[Path, Path]:
    """A 24 MiB raw disk (with data) and its streamOptimized VMDK."""
    raw = make_raw_disk(tmp_path / "disk.raw", SIZE)
    vmdk = convert(raw, tmp_path / "disk.vmdk", "vmdk", "subformat=streamOptimized")
    return raw, vmdk


def _vm(**kwargs: object) -> VmSpec:
    return VmSpec(disks=[DiskSpec("disk.vmdk", capacity=SIZE)], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A qemu-img wrapper that logs each call and the files present in the
    output folder at that moment, then runs the real qemu-img."""
    log = tmp_path / "qemu-calls.jsonl"
    script = tmp_path / "qemu-img-shim"
    script.write_text(
        f"""#!/usr/bin/env python3
import json, os, shutil, sys
out = os.environ["SHIM_OUT"]
files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
with open({str(log)!r}, "a") as stream:
    stream.write(json.dumps({{"argv": sys.argv[1:], "files": files}}) + "\\n")
real = [p for p in os.environ["PATH"].split(os.pathsep) if os.path.exists(os.path.join(p, "qemu-img"))][0]
os.execv(os.path.join(real, "qemu-img"), ["qemu-img"] + sys.argv[1:])
"""
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("OVFCONVERTER_QEMU_IMG", str(script))
    return log


def test_ova_with_sha256_manifest_imports(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    raw, vmdk = disk
    ova = ova_package(tmp_path / "vm.ova", _vm(nics=[("bridged", "00:50:56:AA:BB:CC")]), {"disk.vmdk": vmdk})
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debootstrap+default"))
    ini = read_ini(Path(result.path) / "config.ini")
    assert ini["instance"]["disk0_size"] == "25", "24 MiB + 12 KiB is 25 MiB rounded up"
    assert ini["instance"]["nic0_mac"] == "00:50:56:aa:bb:cc"
    assert ini["instance"]["nic0_mode"] == "bridged"
    dump = Path(result.path) / "disk0.raw"
    assert dump.stat().st_size == SIZE
    assert images_identical(raw, "raw", dump, "raw")
    assert allocated(dump) < 8 * MIB, "the holes of the source stay holes"
    assert not result.warnings


def test_ova_import_writes_no_copy_besides_the_raw_dump(
    tmp_path: Path, out_dir: Path, disk: tuple[Path, Path], shim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """qemu-img (here for a qcow2 member) reads the member in place through
    a raw node with offset/size over the OVA; nothing else is written."""
    raw, _ = disk
    qcow2 = convert(raw, tmp_path / "disk.qcow2", "qcow2")
    spec = VmSpec(disks=[DiskSpec("disk.qcow2", capacity=SIZE, format_uri=FORMAT_URIS["qcow2"])])
    ova = ova_package(tmp_path / "vm.ova", spec, {"disk.qcow2": qcow2})
    monkeypatch.setenv("SHIM_OUT", str(out_dir))
    import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    calls = [json.loads(line) for line in shim.read_text().splitlines()]
    converts = [call for call in calls if call["argv"][0] == "convert"]
    assert len(converts) == 1
    source = next(arg for arg in converts[0]["argv"] if arg.startswith("json:"))
    spec_json = json.loads(source[len("json:") :])
    assert spec_json["file"]["driver"] == "raw", "the member is read in place through the raw driver"
    assert spec_json["file"]["file"] == {"driver": "file", "filename": str(ova.resolve())}
    with tarfile.open(ova) as tar:
        member = tar.getmember("disk.qcow2")
    assert (spec_json["file"]["offset"], spec_json["file"]["size"]) == (member.offset_data, member.size)
    for call in calls:
        assert all(not name.endswith((".qcow2", ".img", ".tar")) for name in call["files"]), call["files"]
    final = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    assert final == ["test-vm/config.ini", "test-vm/disk0.raw"]


def test_streamoptimized_member_is_read_in_place(
    tmp_path: Path, out_dir: Path, disk: tuple[Path, Path], shim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamOptimized VMDK member is converted by ovfconverter's own
    reader, straight from the OVA: at every progress event the output folder
    holds nothing but the raw dump being written."""
    from ovfconverter import ProgressEvent

    raw, vmdk = disk
    ova = ova_package(tmp_path / "vm.ova", _vm(), {"disk.vmdk": vmdk})
    monkeypatch.setenv("SHIM_OUT", str(out_dir))
    seen: list[list[str]] = []

    def watch(event: ProgressEvent) -> None:
        seen.append(sorted(p.name for p in out_dir.rglob("*") if p.is_file()))

    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"), progress=watch)
    assert images_identical(raw, "raw", result.disks[0].path, "raw")
    assert seen and all(files in ([], ["disk0.raw"]) for files in seen), seen
    assert not shim.exists() or "convert" not in shim.read_text(), "qemu-img convert was not needed"


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_gnu_and_pax_tars_are_read(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path], fmt: int) -> None:
    raw, vmdk = disk
    parts = tmp_path / "parts"
    ova_package(parts / "x.ova", _vm(), {"disk.vmdk": vmdk})
    staging = parts / "x.parts"
    ova = make_ova(
        tmp_path / "vm.ova",
        [("package.ovf", staging / "package.ovf"), ("package.mf", staging / "package.mf"), ("disk.vmdk", vmdk)],
        fmt=fmt,
    )
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert images_identical(raw, "raw", result.disks[0].path, "raw")


def test_tampered_member_is_refused_before_conversion(
    tmp_path: Path, out_dir: Path, disk: tuple[Path, Path], shim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, vmdk = disk
    ova = ova_package(tmp_path / "vm.ova", _vm(), {"disk.vmdk": vmdk})
    with tarfile.open(ova) as tar:
        offset = tar.getmember("disk.vmdk").offset_data
    with open(ova, "r+b") as stream:
        stream.seek(offset + 70000)
        byte = stream.read(1)
        stream.seek(offset + 70000)
        stream.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv("SHIM_OUT", str(out_dir))
    with pytest.raises(ManifestError, match="disk.vmdk"):
        import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert not shim.exists() or "convert" not in shim.read_text(), "nothing may be converted after a mismatch"
    assert list(out_dir.iterdir()) == []


def test_manifest_spelling_is_read_leniently(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    raw, vmdk = disk
    folder = tmp_path / "pkg"
    ova_package(tmp_path / "unused.ova", _vm(), {"disk.vmdk": vmdk})
    staging = tmp_path / "unused.parts"
    lines = (staging / "package.mf").read_text().splitlines()
    loose = "\r\n".join(
        "sha256 ( {} ) =  {}".format(line[7 : line.index(")=")], line.split("= ")[1].upper()) for line in lines
    )
    ova = make_ova(
        tmp_path / "loose.ova",
        [("package.ovf", staging / "package.ovf"), ("package.mf", loose.encode() + b"\r\n"), ("disk.vmdk", vmdk)],
    )
    del folder
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert not result.warnings


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA512"])
def test_sha1_and_sha512_manifests(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path], algorithm: str) -> None:
    raw, vmdk = disk
    ova = ova_package(tmp_path / "vm.ova", _vm(), {"disk.vmdk": vmdk}, manifest=algorithm)
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert images_identical(raw, "raw", result.disks[0].path, "raw")


def test_missing_and_unlisted_manifest_entries_warn(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    raw, vmdk = disk
    ova_package(tmp_path / "unused.ova", _vm(), {"disk.vmdk": vmdk})
    staging = tmp_path / "unused.parts"
    descriptor = (staging / "package.ovf").read_bytes()
    write_manifest(staging, "package", ["package.ovf"])
    manifest = (staging / "package.mf").read_text() + "SHA256(gone.iso)= " + "0" * 64 + "\n"
    ova = make_ova(
        tmp_path / "vm.ova", [("package.ovf", descriptor), ("package.mf", manifest.encode()), ("disk.vmdk", vmdk)]
    )
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    text = " ".join(result.warnings)
    assert "'gone.iso', which is not in the package" in text
    assert "does not list 'disk.vmdk'" in text


def test_descriptor_not_first_warns(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    raw, vmdk = disk
    ova_package(tmp_path / "unused.ova", _vm(), {"disk.vmdk": vmdk}, manifest=None)
    staging = tmp_path / "unused.parts"
    ova = make_ova(tmp_path / "vm.ova", [("disk.vmdk", vmdk), ("package.ovf", staging / "package.ovf")])
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert any("not the first member" in w for w in result.warnings)


def test_chunked_and_gzip_files(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    """A VMDK stored gzip-compressed and split into chunks (DSP0243 5.4):
    decompressed as a stream after joining the chunks in order."""
    import gzip

    raw, vmdk = disk
    packed = gzip.compress(vmdk.read_bytes())
    chunk = 2048
    pieces = [packed[i : i + chunk] for i in range(0, len(packed), chunk)]
    assert len(pieces) > 2
    spec = VmSpec(
        disks=[DiskSpec("disk.vmdk.gz", capacity=SIZE, compression="gzip", chunk_size=chunk, size=len(packed))]
    )
    from builders import descriptor

    members: list[tuple[str, Path | bytes]] = [("vm.ovf", descriptor(spec).encode())]
    members += [(f"disk.vmdk.gz.{index:09d}", piece) for index, piece in enumerate(pieces)]
    ova = make_ova(tmp_path / "vm.ova", members)
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert images_identical(raw, "raw", result.disks[0].path, "raw")
    assert sorted(os.listdir(out_dir)) == ["test-vm"]


def test_raw_and_qcow2_disks(tmp_path: Path, out_dir: Path) -> None:
    raw = make_raw_disk(tmp_path / "a.raw", 5 * MIB)
    qcow2 = convert(raw, tmp_path / "b.qcow2", "qcow2")
    spec = VmSpec(
        disks=[
            DiskSpec("a.raw", capacity=5 * MIB, format_uri=FORMAT_URIS["raw"]),
            DiskSpec("b.qcow2", capacity=5 * MIB, format_uri=FORMAT_URIS["qcow2"]),
        ]
    )
    ova = ova_package(tmp_path / "vm.ova", spec, {"a.raw": raw, "b.qcow2": qcow2})
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert [d.source_format for d in result.disks] == ["raw", "qcow2"]
    for imported in result.disks:
        assert images_identical(raw, "raw", imported.path, "raw")


def test_capacity_disagreement_warns_and_the_image_wins(tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]) -> None:
    raw, vmdk = disk
    spec = VmSpec(disks=[DiskSpec("disk.vmdk", capacity=8 * MIB)])
    ova = ova_package(tmp_path / "vm.ova", spec, {"disk.vmdk": vmdk})
    result = import_package(str(ova), ImportOptions(output_dir=str(out_dir), os_type="debian"))
    assert result.config.disks[0].size == 25
    assert any("differs from ovf:capacity" in w for w in result.warnings)


def test_existing_output_is_refused_then_replaced_with_force(
    tmp_path: Path, out_dir: Path, disk: tuple[Path, Path]
) -> None:
    raw, vmdk = disk
    ova = ova_package(tmp_path / "vm.ova", _vm(), {"disk.vmdk": vmdk})
    existing = out_dir / "test-vm"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    proc = run_cli("import", str(ova), "--output-dir", str(out_dir), "-o", "debian")
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert (existing / "keep.txt").read_text() == "mine"
    proc = run_cli("import", str(ova), "--output-dir", str(out_dir), "-o", "debian", "--force")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in existing.iterdir()) == ["config.ini", "disk0.raw"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["test-vm"]
