"""Expansion and resource bounds (issue 12): every decompression, copy and
conversion is bounded, before it starts where the input lets us know, by
what the input declares and by the free space; qemu-img runs are bounded in
time and in what they may write.

Each attack is built at test time; where a naive tool exists (bare
``qemu-img convert``, ``gzip -d``, ``cat``), the test first shows the
attack working against it.  Then the command line must refuse it with exit
status 1 and one clean ``ovfconverter: error:`` line, within
:data:`~conftest.ATTACK_SECONDS` and :data:`~conftest.ATTACK_RSS` of
memory, leaving nothing in the output folder or in ``TMPDIR``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import (
    ATTACK_RSS,
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    descriptor,
    gzip_bytes,
    gzip_zeros,
    make_raw_disk,
    run_cli_bounded,
    shared_block_image,
    tar_header,
    write_ganeti_export,
)

from ovfconverter import (
    ExportOptions,
    FileAccessError,
    ImportOptions,
    OVFConverterError,
    QemuImgError,
    UnsafeInputError,
    export_instance,
    import_package,
)
from ovfconverter.disks import qemu_img
from ovfconverter.disks.from_raw import largest_image

MIB = 1 << 20
OS = "debootstrap+default"


def vm(href: str, capacity: int | None, kind: str = "raw", **disk: object) -> VmSpec:
    return VmSpec(disks=[DiskSpec(href, capacity=capacity, format_uri=FORMAT_URIS[kind], **disk)])  # type: ignore[arg-type]


def refused(proc: subprocess.CompletedProcess[str], rss: int, out: Path, match: str) -> str:
    """Exit 1, one clean error line matching ``match``, bounded memory,
    nothing written."""
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("ovfconverter: error: ")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1 and all(line.startswith("ovfconverter: warning: ") for line in lines if line not in errors)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(match, errors[0]), f"{errors[0]!r} does not match {match!r}"
    assert rss < ATTACK_RSS, f"peak memory {rss} bytes"
    assert not out.exists() or os.listdir(out) == [], f"left behind: {os.listdir(out)}"
    return errors[0]


def import_bounded(package: Path, tmp_path: Path, match: str) -> str:
    out = tmp_path / "out"
    out.mkdir()
    proc, rss = run_cli_bounded("import", str(package), "-n", "vm1", "-o", OS, "--output-dir", str(out), tmp=tmp_path)
    return refused(proc, rss, out, match)


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


# --------------------------------------------------------------------------
# Allocation tables pointing every block at one block of data

SHARED = {
    "qcow2": ("qcow2", "qcow2", r"qemu-img check finds 1 corruption"),
    "vdi": ("vdi", "vdi", r"qemu-img check finds \d+ corruption"),
    "vmdk": ("vmdk", "monolithicSparse", r"the conversion wrote more than .* allocation tables point many blocks"),
    "vhd": ("vpc", "vhd", r"the conversion wrote more than .* allocation tables point many blocks"),
}


@pytest.mark.parametrize("kind", list(SHARED))
def test_shared_block_expansion_is_refused(tmp_path: Path, kind: str) -> None:
    """About 2 MiB of image, 256 MiB of real data once converted: refused
    by ``qemu-img check`` (qcow2 refcounts, VDI block map) or, where
    qemu-img checks nothing (VMDK, VHD), by the bound on what a format
    storing data uncompressed can write."""
    qemu_format, uri, match = SHARED[kind]
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    image = shared_block_image(pkg / f"disk.{kind}", kind, 256 * MIB)
    naive = tmp_path / "naive.raw"
    subprocess.run(["qemu-img", "convert", "-f", qemu_format, "-O", "raw", str(image), str(naive)], check=True)
    assert allocated(naive) >= 100 * image.stat().st_size, "naive qemu-img writes 100 times the image"
    naive.unlink()
    (pkg / "vm.ovf").write_text(descriptor(vm(image.name, 256 * MIB, uri)))
    import_bounded(pkg / "vm.ovf", tmp_path, rf"^ovfconverter: error: disk\.{kind}: {match}")


def test_an_image_sharing_nothing_still_converts(tmp_path: Path) -> None:
    """The control: the same images with their tables intact convert."""
    for kind, (qemu_format, uri, _) in SHARED.items():
        pkg = tmp_path / kind
        pkg.mkdir()
        raw = make_raw_disk(pkg / "src.raw", 64 * MIB)
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", qemu_format, str(raw), str(pkg / f"disk.{kind}")], check=True
        )
        raw.unlink()
        (pkg / "vm.ovf").write_text(descriptor(vm(f"disk.{kind}", 64 * MIB, uri)))
        result = import_package(str(pkg / "vm.ovf"), ImportOptions(os_type=OS, output_dir=str(tmp_path / kind)))
        assert 64 * MIB <= result.disks[0].size < 65 * MIB  # VHD rounds to its geometry


# --------------------------------------------------------------------------
# gzip-compressed OVAs


def member(name: str, data: bytes) -> bytes:
    return tar_header(name, len(data)) + data + bytes(-len(data) % 512)


GARBAGE = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 4096
"""A gzip member header followed by invalid deflate data: decompressing it
fails at once, so a run that refuses with its own message never did."""


def gzip_ova(path: Path, spec: VmSpec, name: str, announced: int, body: bytes) -> Path:
    """A gzip OVA: descriptor, then member ``name`` whose header announces
    ``announced`` bytes, its data given as gzip ``body``."""
    head = member("vm.ovf", descriptor(spec).encode()) + tar_header(name, announced)
    path.write_bytes(gzip_bytes(head) + body + gzip_bytes(bytes(1024)))
    return path


def naive_gunzip(path: Path) -> int:
    """What ``gzip -dc`` produces: its length."""
    proc = subprocess.Popen(["gzip", "-dc", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    total = 0
    while block := proc.stdout.read(1 << 20):
        total += len(block)
    proc.wait()
    return total


GZIP_OVA_CASES = {
    "disk-beyond-capacity": (vm("disk.raw", MIB), "disk.raw", r"member 'disk\.raw' announces 268435456 bytes"),
    "disk-beyond-ovf-size": (vm("disk.raw", None, size=MIB), "disk.raw", r"more than the 1048576 bytes"),
    "unreferenced-member": (vm("disk.raw", MIB, size=MIB), "notes.txt", r"does not reference"),
}


@pytest.mark.parametrize("case", list(GZIP_OVA_CASES))
def test_gzip_ova_announcing_a_huge_member_is_refused_at_its_header(tmp_path: Path, case: str) -> None:
    spec, name, match = GZIP_OVA_CASES[case]
    bomb = gzip_ova(tmp_path / "bomb.ova", spec, name, 256 * MIB, gzip_zeros(256 * MIB))
    assert bomb.stat().st_size < MIB
    assert naive_gunzip(bomb) > 256 * MIB, "a naive reader decompresses all of it"
    import_bounded(bomb, tmp_path, rf"^ovfconverter: error: bomb\.ova: .*{match}.*refusing before decompressing it")
    # the member's data is never decompressed: garbage there goes unnoticed
    garbage = gzip_ova(tmp_path / "garbage.ova", spec, name, 256 * MIB, GARBAGE)
    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(tmp_path / "tmpdir")
    import_bounded(garbage, tmp_path, rf"^ovfconverter: error: garbage\.ova: .*{match}")


def test_gzip_ova_within_its_declared_sizes_still_imports(tmp_path: Path) -> None:
    """The control: the same layout, announcing what it holds."""
    disk = make_raw_disk(tmp_path / "d.raw", MIB).read_bytes()
    ova = tmp_path / "vm.ova"
    spec = vm("disk.raw", MIB, size=MIB)
    tar = member("vm.ovf", descriptor(spec).encode()) + member("disk.raw", disk) + bytes(1024)
    ova.write_bytes(gzip_bytes(tar))
    result = import_package(str(ova), ImportOptions(os_type=OS, output_dir=str(tmp_path / "out")))
    assert result.disks[0].size == MIB


def test_gzip_ova_descriptor_must_fit_its_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.ova"
    bomb.write_bytes(gzip_bytes(tar_header("vm.ovf", 1 << 40)) + GARBAGE)
    import_bounded(
        bomb, tmp_path, r"^ovfconverter: error: bomb\.ova: descriptor 'vm\.ovf' announces 1099511627776 bytes"
    )


# --------------------------------------------------------------------------
# chunks, free space


def test_chunks_larger_than_the_capacity_are_not_joined(tmp_path: Path) -> None:
    """Four sparse 16 MiB chunks of a disk declared 1 MiB: ``cat`` would
    join 64 MiB; ovfconverter refuses before copying a byte."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for index in range(4):
        with open(pkg / f"disk.raw.{index:09d}", "wb") as stream:
            stream.truncate(16 * MIB)
    joined = subprocess.run(f"cat {pkg}/disk.raw.0* | wc -c", shell=True, capture_output=True, text=True, check=True)
    assert int(joined.stdout) == 64 * MIB
    (pkg / "vm.ovf").write_text(descriptor(vm("disk.raw", MIB, chunk_size=16 * MIB, size=64 * MIB)))
    import_bounded(pkg / "vm.ovf", tmp_path, r"disk\.raw: its chunks hold 67108864 bytes, more than ovf:capacity")


def _package(kind: str, pkg: Path, capacity: int) -> Path:
    """A sound package whose one disk is ``capacity`` bytes, stored as
    ``kind``."""
    pkg.mkdir()
    raw = pkg / "src.raw"
    raw.write_bytes(random.Random(12).randbytes(capacity))  # every block holds data
    if kind == "qcow2":
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(pkg / "disk")], check=True)
        spec = vm("disk", capacity, "qcow2")
    elif kind == "streamOptimized":
        subprocess.run(
            [
                "qemu-img",
                "convert",
                "-f",
                "raw",
                "-O",
                "vmdk",
                "-o",
                "subformat=streamOptimized",
                str(raw),
                str(pkg / "disk"),
            ],
            check=True,
        )
        spec = vm("disk", capacity, "streamOptimized")
    elif kind == "gzip":
        (pkg / "disk").write_bytes(gzip_bytes(raw.read_bytes()))
        spec = vm("disk", capacity, compression="gzip")
    elif kind == "chunks":
        data = raw.read_bytes()
        for index in range(2):
            (pkg / f"disk.{index:09d}").write_bytes(data[index * (capacity // 2) : (index + 1) * (capacity // 2)])
        spec = vm("disk", capacity, chunk_size=capacity // 2, size=capacity)
    else:
        raw.rename(pkg / "disk")
        spec = vm("disk", capacity)
    raw.unlink(missing_ok=True)
    (pkg / "vm.ovf").write_text(descriptor(spec))
    return pkg / "vm.ovf"


@pytest.mark.parametrize("kind", ["qcow2", "streamOptimized", "raw", "gzip", "chunks"])
def test_conversions_claim_free_space_before_writing(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sound 32 MiB disk, 16 MiB free beyond the 64 MiB reserve: every
    path refuses before writing (the gzip path stops decompressing at the
    free space), saying the disk is full."""
    ovf = _package(kind, tmp_path / "pkg", 32 * MIB)
    real = shutil.disk_usage

    def small(path: str) -> object:
        usage = real(path)
        return type(usage)(usage.total, usage.total - 80 * MIB, 80 * MIB)

    monkeypatch.setattr(shutil, "disk_usage", small)
    out = tmp_path / "out"
    with pytest.raises(OVFConverterError) as caught:
        import_package(str(ovf), ImportOptions(os_type=OS, output_dir=str(out)))
    if kind == "gzip":
        assert isinstance(caught.value, UnsafeInputError) and "expands to more than 16777216 bytes" in str(caught.value)
    else:
        assert isinstance(caught.value, FileAccessError), caught.value
        assert re.search(
            r"may write 32\.0 MiB .* has 16\.0 MiB free beyond a 64\.0 MiB reserve: No space left on device",
            str(caught.value),
        ), caught.value
    assert not out.exists() or os.listdir(out) == []
    monkeypatch.undo()
    assert import_package(str(ovf), ImportOptions(os_type=OS, output_dir=str(out))).disks[0].size == 32 * MIB


# --------------------------------------------------------------------------
# qemu-img: time, output size


def _slow_wrapper(tmp_path: Path, verb: str) -> Path:
    script = tmp_path / "qemu-img-slow"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = {verb} ]; then echo $$ > {tmp_path}/slow.pid; exec sleep 120; fi\n'
        f'exec {shutil.which("qemu-img")} "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("verb", ["info", "check", "convert"])
def test_qemu_img_runs_have_a_wall_clock_limit(tmp_path: Path, verb: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A qemu-img that never ends (a crafted image, a hung file system) is
    killed at its deadline (60 s plus time in proportion to the size; one
    second here) and the import fails cleanly."""
    ovf = _package("qcow2", tmp_path / "pkg", 8 * MIB)
    monkeypatch.setenv("OVFCONVERTER_QEMU_IMG", str(_slow_wrapper(tmp_path, verb)))
    monkeypatch.setattr(qemu_img, "BASE_TIMEOUT", 1.0)
    out = tmp_path / "out"
    with pytest.raises(QemuImgError, match=rf"qemu-img {verb} did not finish within [1-3] s; stopped"):
        import_package(str(ovf), ImportOptions(os_type=OS, output_dir=str(out)))
    assert not out.exists() or os.listdir(out) == []
    pid = int((tmp_path / "slow.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_timeouts_grow_with_the_size() -> None:
    assert qemu_img.convert_timeout(0) == qemu_img.BASE_TIMEOUT
    assert qemu_img.convert_timeout(100 << 30) == qemu_img.BASE_TIMEOUT + 25600
    assert qemu_img.check_timeout(1 << 40) == qemu_img.BASE_TIMEOUT + 1024


def test_export_runs_qemu_img_under_a_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On export too, qemu-img may write no more than the dump plus room
    for metadata, and runs under a deadline."""
    log = tmp_path / "limits.log"
    script = tmp_path / "qemu-img-record"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = convert ]; then grep "Max file size" /proc/$$/limits > {log}; fi\n'
        f'exec {shutil.which("qemu-img")} "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("OVFCONVERTER_QEMU_IMG", str(script))
    config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", 8 * MIB)
    export_instance(str(config), ExportOptions(format="qcow2", output_dir=str(tmp_path / "out")))
    limit = str(largest_image(8 * MIB))
    assert log.read_text().split()[3:5] == [limit, limit]


def test_export_gzip_dump_expanding_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    """``[export] compression = gzip`` with a dump that is 256 MiB of zeros
    in 256 KiB, for a disk config.ini says is 1 MiB."""
    config = write_ganeti_export(tmp_path / "gnt", "vm1.example.com", MIB)
    config.write_text(config.read_text().replace("compression = none", "compression = gzip"))
    dump = tmp_path / "gnt" / "disk0.dump"
    dump.write_bytes(gzip_zeros(256 * MIB))
    assert naive_gunzip(dump) == 256 * MIB
    out = tmp_path / "out"
    out.mkdir()
    proc, rss = run_cli_bounded("export", str(config), "--output-dir", str(out), tmp=tmp_path)
    refused(proc, rss, out, r"disk0\.dump: expands to more than \d+ bytes")
