"""``ovfconverter export`` on Ganeti's own config.ini fixtures, through the CLI.

``../shared/fixtures/ganeti`` (read in place, never copied) holds a pre-2.6
``gnt-backup export`` (``config.ini`` + ``rawdisk.raw``) that must export, and
five broken ones that must each be refused with their own message
(``fixtures/README.md``).  The fixture folder is read-only, so every result
goes to ``--output-dir`` under ``tmp_path``.

Then, with exports built at test time: the modern (2.6+) layout of
``docs/ANCHORS.md``, gzip-compressed dumps, dumps that are not disk images
(tar, gzip, dump(8): Ganeti issue 904), a dump symlinked out of its folder,
an existing result, and a failing qemu-img (nothing may be left behind).
"""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import ganeti_30_config, image_info, images_identical, make_raw_disk, run_cli, tar_bytes

from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.model.envelope import Envelope, ResourceItem, ResourceType

MIB = 1 << 20
NAME = "ganeti-test-xen"
FIXTURE_MAC = "aa:00:00:d8:2c:1e"

# --format value -> (file extension, qemu-img driver, ovf:format URI tail)
FORMATS = {
    "vmdk": ("vmdk", "vmdk", "vmdk.html#streamOptimized"),
    "raw": ("raw", "raw", "wiki/Byte"),
    "qcow2": ("qcow2", "qcow2", "qcow-image-format.html"),
    "cow": ("qcow2", "qcow2", "qcow-image-format.html"),  # Ganeti's name for qcow2
    "vdi": ("vdi", "vdi", "ch05.html#vdidetails"),
    "vhd": ("vhd", "vpc", "bb676673.aspx"),
    "vhdx": ("vhdx", "vhdx", "vhdx"),
}


# --- helpers ---------------------------------------------------------------------------


def export(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("export", "-q", *args, env=env)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``ovfconverter: error:`` line of a refusal (asserting it is
    the only thing on stderr)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ovfconverter: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def everything_in(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden ones (staging folders) included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


class Package:
    """An exported package, folder or OVA, opened for checking."""

    def __init__(self, path: Path, scratch: Path) -> None:
        self.path = path
        if path.suffix == ".ova":
            with tarfile.open(path) as tar:
                self.members = tar.getnames()
                scratch.mkdir(parents=True, exist_ok=True)
                for member in tar.getmembers():
                    assert member.isfile(), member.name
                    assert "/" not in member.name
                    target = scratch / member.name
                    target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
            self.folder = scratch
            self.descriptor_name = self.members[0]
        else:
            self.folder = path
            self.members = sorted(p.name for p in path.iterdir())
            ovfs = [m for m in self.members if m.endswith(".ovf")]
            assert len(ovfs) == 1, self.members
            self.descriptor_name = ovfs[0]
        assert self.descriptor_name.endswith(".ovf")
        self.descriptor = (self.folder / self.descriptor_name).read_bytes()
        self.envelope: Envelope = read_envelope(self.descriptor, self.descriptor_name)

    def file(self, href: str) -> Path:
        return self.folder / href

    def disk_file(self, index: int) -> Path:
        disk = self.envelope.disks[index]
        ref = self.envelope.file(disk.file_ref or "")
        assert ref is not None, disk
        return self.file(ref.href)


def items_of(envelope: Envelope, kind: ResourceType) -> list[ResourceItem]:
    return [item for item in envelope.virtual_systems[0].items if item.resource_type == kind]


def check_fixture_descriptor(package: Package, dump: Path, fmt: str, ganeti: bool = True) -> None:
    """What ``config.ini`` says must be in the descriptor, and the disk must
    hold the dump."""
    env = package.envelope
    extension, driver, uri_tail = FORMATS[fmt]
    assert len(env.virtual_systems) == 1
    system = env.virtual_systems[0]
    assert system.name == NAME and system.id == NAME

    (cpu,) = items_of(env, ResourceType.PROCESSOR)
    assert cpu.virtual_quantity == 1
    (memory,) = items_of(env, ResourceType.MEMORY)
    assert (memory.virtual_quantity, memory.allocation_units) == (512, "byte * 2^20")

    (nic,) = items_of(env, ResourceType.ETHERNET_ADAPTER)
    assert nic.address == FIXTURE_MAC
    assert nic.connections == ("test",)
    assert [n.name for n in env.networks] == ["test"]

    (disk,) = env.disks
    assert disk.capacity == dump.stat().st_size == 5120
    assert disk.format is not None and disk.format.endswith(uri_tail), disk.format
    (ref,) = env.files
    assert ref.id == disk.file_ref and ref.href.endswith(f".{extension}")
    image = package.file(ref.href)
    assert ref.size == image.stat().st_size
    assert image_info(image, driver)["format"] == driver
    assert images_identical(image, driver, dump, "raw")
    (drive,) = items_of(env, ResourceType.DISK_DRIVE)
    assert drive.host_resources == (f"ovf:/disk/{disk.disk_id}",)

    if ganeti:
        section = env.ganeti
        assert section is not None
        assert section.os_name == "lenny-image"
        assert section.hypervisor_name == "xen-pvm"
        assert section.hypervisor_parameters == {"root-path": "/dev/sda", "kernel_args": "ro"}
        (gnic,) = section.nics
        assert (gnic.mode, gnic.link, gnic.network, gnic.mac) == ("routed", "br0", "test", FIXTURE_MAC)
        assert gnic.ip is None
    else:
        assert env.ganeti is None


def check_manifest(package: Package, algorithm: str = "SHA256") -> None:
    """The manifest lists every other file with its right digest."""
    import hashlib

    mfs = [m for m in package.members if m.endswith(".mf")]
    assert len(mfs) == 1
    lines = (package.folder / mfs[0]).read_text().splitlines()
    listed = {}
    for line in lines:
        match = re.fullmatch(rf"{algorithm}\(([^)]+)\)= ([0-9a-f]+)", line)
        assert match, line
        listed[match.group(1)] = match.group(2)
    others = [m for m in package.members if not m.endswith(".mf")]
    assert sorted(listed) == sorted(others)
    for name, value in listed.items():
        assert hashlib.new(algorithm.lower(), (package.folder / name).read_bytes()).hexdigest() == value, name


# --- config.ini + rawdisk.raw exports --------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fixture_config_exports_as_folder(ganeti_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    proc = export(str(ganeti_dir / "config.ini"), "-f", fmt, "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert everything_in(out)[0] == NAME and (out / NAME).is_dir()
    package = Package(out / NAME, tmp_path / "unused")
    assert package.descriptor_name == f"{NAME}.ovf"
    assert sorted(package.members) == sorted([f"{NAME}.ovf", f"{NAME}.mf", package.envelope.files[0].href])
    check_fixture_descriptor(package, ganeti_dir / "rawdisk.raw", fmt)
    check_manifest(package)
    assert everything_in(out) == sorted([NAME, *(f"{NAME}/{m}" for m in package.members)])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fixture_config_exports_as_ova(ganeti_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    proc = export(str(ganeti_dir / "config.ini"), "-f", fmt, "--ova", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert everything_in(out) == [f"{NAME}.ova"]
    package = Package(out / f"{NAME}.ova", tmp_path / "ova")
    assert package.members[:2] == [f"{NAME}.ovf", f"{NAME}.mf"]
    assert len(package.members) == 3
    check_fixture_descriptor(package, ganeti_dir / "rawdisk.raw", fmt)
    check_manifest(package)


def test_fixture_config_exports_compressed(ganeti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = export(str(ganeti_dir / "config.ini"), "--compress", "--ova", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    package = Package(out / f"{NAME}.ova", tmp_path / "ova")
    (ref,) = package.envelope.files
    assert ref.compression == "gzip" and ref.href.endswith(".vmdk.gz")
    assert ref.size == package.file(ref.href).stat().st_size
    plain = tmp_path / "plain.vmdk"
    plain.write_bytes(gzip.decompress(package.file(ref.href).read_bytes()))
    assert images_identical(plain, "vmdk", ganeti_dir / "rawdisk.raw", "raw")
    assert package.envelope.disks[0].capacity == 5120


# --- broken fixtures: each refused with its own message ---------------------------------

REFUSALS = {
    # fixture: (texts the message must contain, texts it must not contain)
    "no_disk.ini": (
        ["no_disk.ini", "disk0_dump 'iamnothere.raw' does not exist", "nic0_mode 'nic' is not a Ganeti NIC mode"],
        [],
    ),
    "no_os.ini": (["no_os.ini", "no OS"], ["hypervisor", "CPU", "memory", "disk0", "nic0"]),
    # (no hypervisor is no refusal: Ganeti's importer takes the cluster's default; import writes none)
    "empty.ini": (
        ["empty.ini", "no instance name", "no OS", "no CPU count", "no memory size"],
        ["disk0", "nic0", "hypervisor"],
    ),
    "wrong_config.ini": (["wrong_config.ini", "not a valid config.ini"], []),
    "unsafe_path.ini": (["unsafe_path.ini", "disk0_dump 'other/rawdisk.raw'", "not a plain file name"], ["OS", "CPU"]),
}


@pytest.mark.parametrize("fixture", sorted(REFUSALS))
@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_broken_fixture_is_refused_with_its_own_message(
    ganeti_dir: Path, tmp_path: Path, fixture: str, ova: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = export(str(ganeti_dir / fixture), "--output-dir", str(out), *(["--ova"] if ova else []))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = error_line(proc)
    wanted, unwanted = REFUSALS[fixture]
    for text in wanted:
        assert text in line, (text, line)
    for text in unwanted:
        assert text not in line, (text, line)
    assert everything_in(out) == []


def test_refusal_does_not_create_the_output_folder(ganeti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    proc = export(str(ganeti_dir / "no_os.ini"), "--output-dir", str(out))
    assert proc.returncode == 1
    assert not out.exists() and not out.parent.exists()


def test_external_waives_hypervisor_and_os(ganeti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = export(str(ganeti_dir / "no_os.ini"), "--external", "--ova", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    package = Package(out / f"{NAME}.ova", tmp_path / "ova")
    env = package.envelope
    assert env.ganeti is None
    assert b"http://ganeti" not in package.descriptor
    assert env.virtual_systems[0].name == NAME
    (memory,) = items_of(env, ResourceType.MEMORY)
    assert memory.virtual_quantity == 2048
    (nic,) = items_of(env, ResourceType.ETHERNET_ADAPTER)
    assert nic.address == FIXTURE_MAC and nic.connections == ("xen-br0",)
    assert images_identical(package.disk_file(0), "vmdk", ganeti_dir / "rawdisk.raw", "raw")


def test_external_still_needs_cpu_memory_and_name(ganeti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = export(str(ganeti_dir / "empty.ini"), "--external", "--output-dir", str(out))
    assert proc.returncode == 1
    line = error_line(proc)
    for text in ("no instance name", "no CPU count", "no memory size"):
        assert text in line
    assert "hypervisor" not in line and "no OS" not in line
    assert everything_in(out) == []

    proc = export(str(ganeti_dir / "no_disk.ini"), "--external", "--output-dir", str(out))
    assert proc.returncode == 1
    line = error_line(proc)
    assert "iamnothere.raw" in line and "'nic'" in line and "hypervisor" not in line
    assert everything_in(out) == []


def test_external_does_not_waive_unsafe_dump_path(ganeti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = export(str(ganeti_dir / "unsafe_path.ini"), "--external", "--output-dir", str(out))
    assert proc.returncode == 1
    assert "other/rawdisk.raw" in error_line(proc)
    assert everything_in(out) == []


# --- exports built at test time --------------------------------------------------------

# The modern layout, as Ganeti 3.0 writes it (../shared/docs/ANCHORS.md), copied
# verbatim except disk0_size (10240 MiB there; the dump written here is 8 MiB).
MODERN_CONFIG = ganeti_30_config(8)

MODERN_DUMP = "0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21"


def simple_config(folder: Path, dumps: list[str], compression: str | None = None, name: str = "simple-vm") -> Path:
    """A pre-2.6 style config.ini naming ``dumps`` (files in ``folder``)."""
    disks = "".join(
        f"disk{i}_dump = {dump}\ndisk{i}_ivname = disk/{i}\ndisk{i}_size = 4\n" for i, dump in enumerate(dumps)
    )
    export_extra = f"compression = {compression}\n" if compression else ""
    text = f"""[export]
version = 0
os = debootstrap+default
{export_extra}
[instance]
name = {name}
hypervisor = kvm
nic0_mode = bridged
nic0_link = br0
nic0_mac = aa:00:00:11:22:33
nic_count = 1
{disks}disk_count = {len(dumps)}

[hypervisor]

[backend]
vcpus = 1
memory = 256

[os]
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.ini"
    path.write_text(text)
    return path


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_modern_ganeti_3_layout_exports(tmp_path: Path, ova: bool) -> None:
    src = tmp_path / "export"
    src.mkdir()
    (src / "config.ini").write_text(MODERN_CONFIG)
    dump = make_raw_disk(src / MODERN_DUMP, 8 * MIB)
    out = tmp_path / "out"
    proc = export(str(src / "config.ini"), "--output-dir", str(out), *(["--ova"] if ova else []))
    assert proc.returncode == 0, proc.stderr
    name = "web1.example.com"
    package = Package(out / (f"{name}.ova" if ova else name), tmp_path / "ova")
    env = package.envelope
    assert env.virtual_systems[0].name == name
    (cpu,) = items_of(env, ResourceType.PROCESSOR)
    assert cpu.virtual_quantity == 2
    (memory,) = items_of(env, ResourceType.MEMORY)
    assert (memory.virtual_quantity, memory.allocation_units) == (1024, "byte * 2^20")
    (nic,) = items_of(env, ResourceType.ETHERNET_ADAPTER)
    assert nic.address == "aa:00:00:35:d1:9e" and nic.connections == ("br0",)
    assert env.virtual_systems[0].operating_system is not None
    assert env.virtual_systems[0].operating_system.id == 96  # Debian 64-bit for debootstrap
    (disk,) = env.disks
    assert disk.capacity == 8 * MIB
    assert images_identical(package.disk_file(0), "vmdk", dump, "raw")
    section = env.ganeti
    assert section is not None
    assert section.os_name == "debootstrap+default" and section.hypervisor_name == "kvm"
    assert section.os_parameters == {"variant": "bookworm"}
    assert section.disk_template == "drbd" and set(section.tags) == {"prod", "web"}
    assert section.backend_parameters["maxmem"] == "1024" and section.backend_parameters["minmem"] == "512"
    (gnic,) = section.nics
    assert (gnic.mode, gnic.link, gnic.mac) == ("bridged", "br0", "aa:00:00:35:d1:9e")
    assert gnic.network is None and gnic.ip is None  # written as "None" in config.ini
    check_manifest(package)


@pytest.mark.parametrize("fmt", ["vmdk", "raw"])
def test_gzip_compressed_dumps_are_decompressed(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "export"
    src.mkdir()
    raws = [make_raw_disk(tmp_path / f"d{i}.raw", (4 + i) * MIB, seed=i + 3) for i in range(2)]
    for i, raw in enumerate(raws):
        (src / f"disk{i}.gz").write_bytes(gzip.compress(raw.read_bytes(), 1))
    config = simple_config(src, ["disk0.gz", "disk1.gz"], compression="gzip")
    out = tmp_path / "out"
    proc = export(str(config), "-f", fmt, "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    package = Package(out / "simple-vm", tmp_path / "unused")
    driver = FORMATS[fmt][1]
    for i, raw in enumerate(raws):
        assert package.envelope.disks[i].capacity == raw.stat().st_size
        assert images_identical(package.disk_file(i), driver, raw, "raw")
    assert not any(".tmp" in p or p.endswith(".gz") for p in everything_in(out))


def tar_dump(path: Path) -> Path:
    """What a file-level OS export script writes: a tarball of a root tree."""
    path.write_bytes(tar_bytes([("etc/hostname", b"web1\n"), ("etc/fstab", b"/dev/sda1 / ext4 defaults 0 1\n" * 50)]))
    return path


def gzip_dump(path: Path) -> Path:
    path.write_bytes(gzip.compress(b"a compressed raw disk that config.ini does not announce" * 1000))
    return path


def dump8_dump(path: Path) -> Path:
    """A dump(8) archive: its first record is a 1 KiB header with NFS_MAGIC
    (60012) little-endian at byte offset 24."""
    record = bytearray(1024)
    struct.pack_into("<I", record, 0, 1)  # c_type TS_TAPE
    struct.pack_into("<I", record, 24, 60012)
    record[676 : 676 + 8] = b"/dev/sda"
    path.write_bytes(bytes(record) + bytes(63 * 1024))
    return path


@pytest.mark.parametrize(
    ("maker", "kind"),
    [(tar_dump, "a tar archive"), (gzip_dump, "a gzip stream"), (dump8_dump, "a dump(8) archive")],
    ids=["tar", "gzip", "dump8"],
)
@pytest.mark.parametrize("fmt", ["vmdk", "raw"])
def test_dumps_that_are_not_disk_images_are_refused(
    tmp_path: Path, maker: Callable[[Path], Path], kind: str, fmt: str
) -> None:
    src = tmp_path / "export"
    src.mkdir()
    maker(src / "disk0.img")
    config = simple_config(src, ["disk0.img"], compression="none")
    out = tmp_path / "out"
    out.mkdir()
    proc = export(str(config), "-f", fmt, "--output-dir", str(out))
    assert proc.returncode == 1, proc.stdout
    line = error_line(proc)
    assert "not a raw disk image" in line, line
    assert kind in line and "disk0" in line, line
    assert everything_in(out) == []


def test_dump_symlinked_outside_its_folder_is_refused(tmp_path: Path) -> None:
    outside = make_raw_disk(tmp_path / "secret.raw", 1 * MIB)
    src = tmp_path / "export"
    src.mkdir()
    (src / "disk0.raw").symlink_to(outside)
    config = simple_config(src, ["disk0.raw"])
    out = tmp_path / "out"
    out.mkdir()
    for extra in ([], ["--external"], ["--ova"]):
        proc = export(str(config), "--output-dir", str(out), *extra)
        assert proc.returncode == 1, proc.stdout
        line = error_line(proc)
        assert "disk0_dump 'disk0.raw'" in line and "outside config.ini's folder" in line, line
        assert everything_in(out) == []


def test_dump_symlinked_inside_its_folder_is_accepted(tmp_path: Path) -> None:
    """A symlink that stays in the folder is harmless (contrast with the above)."""
    src = tmp_path / "export"
    src.mkdir()
    real = make_raw_disk(src / "real.raw", 1 * MIB)
    (src / "disk0.raw").symlink_to("real.raw")
    config = simple_config(src, ["disk0.raw"])
    proc = export(str(config), "-f", "raw", "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    package = Package(tmp_path / "out" / "simple-vm", tmp_path / "unused")
    assert images_identical(package.disk_file(0), "raw", real, "raw")


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_existing_result_is_refused_without_force_and_replaced_with_it(tmp_path: Path, ova: bool) -> None:
    src = tmp_path / "export"
    src.mkdir()
    raw = make_raw_disk(src / "disk0.raw", 2 * MIB)
    config = simple_config(src, ["disk0.raw"])
    out = tmp_path / "out"
    extra = ["--ova"] if ova else []
    result = out / ("simple-vm.ova" if ova else "simple-vm")

    first = export(str(config), "--digest", "sha1", "--output-dir", str(out), *extra)
    assert first.returncode == 0, first.stderr
    if not ova:
        (result / "left-by-hand").write_text("old\n")
    before = {p: (out / p).read_bytes() for p in everything_in(out) if (out / p).is_file()}

    again = export(str(config), "--output-dir", str(out), *extra)
    assert again.returncode == 1
    line = error_line(again)
    assert "already exists" in line and "--force" in line and str(result) in line
    assert {p: (out / p).read_bytes() for p in everything_in(out) if (out / p).is_file()} == before

    forced = export(str(config), "--force", "--digest", "sha512", "--output-dir", str(out), *extra)
    assert forced.returncode == 0, forced.stderr
    package = Package(result, tmp_path / "ova")
    check_manifest(package, "SHA512")
    assert "left-by-hand" not in package.members
    assert images_identical(package.disk_file(0), "vmdk", raw, "raw")
    assert [p for p in everything_in(out) if p.startswith(".")] == []


def failing_qemu_img(tmp_path: Path) -> Path:
    """A qemu-img that fails ``convert`` (after writing a partial output) and
    ``check`` (which judges the VMDKs ovfconverter writes itself), and runs
    the real one for everything else."""
    import shutil

    real = shutil.which("qemu-img")
    assert real
    shim = tmp_path / "shim" / "qemu-img"
    shim.parent.mkdir()
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = convert ]; then\n'
        "  for last; do :; done\n"
        '  printf partial > "$last" 2>/dev/null\n'
        '  echo "qemu-img: injected failure" >&2\n'
        "  exit 1\n"
        "fi\n"
        'if [ "$1" = check ]; then\n'
        '  echo "qemu-img: injected failure" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    shim.chmod(0o755)
    return shim


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_failed_export_leaves_nothing_behind(tmp_path: Path, ova: bool) -> None:
    src = tmp_path / "export"
    src.mkdir()
    make_raw_disk(src / "disk0.raw", 2 * MIB)
    make_raw_disk(src / "disk1.raw", 2 * MIB, seed=7)
    config = simple_config(src, ["disk0.raw", "disk1.raw"])
    env = {"OVFCONVERTER_QEMU_IMG": str(failing_qemu_img(tmp_path))}
    extra = ["--ova"] if ova else []

    out = tmp_path / "out"
    out.mkdir()
    proc = export(str(config), "-f", "qcow2", "--output-dir", str(out), *extra, env=env)
    assert proc.returncode == 1, proc.stdout
    assert "injected failure" in error_line(proc)
    assert everything_in(out) == []

    fresh = tmp_path / "not-yet"
    proc = export(str(config), "-f", "vmdk", "--output-dir", str(fresh), *extra, env=env)
    assert proc.returncode == 1
    assert not fresh.exists()
    assert sorted(p.name for p in src.iterdir()) == ["config.ini", "disk0.raw", "disk1.raw"]


def test_failed_forced_export_keeps_the_old_result(tmp_path: Path) -> None:
    src = tmp_path / "export"
    src.mkdir()
    raw = make_raw_disk(src / "disk0.raw", 2 * MIB)
    config = simple_config(src, ["disk0.raw"])
    out = tmp_path / "out"
    assert export(str(config), "--ova", "--output-dir", str(out)).returncode == 0
    old = (out / "simple-vm.ova").read_bytes()
    env = {"OVFCONVERTER_QEMU_IMG": str(failing_qemu_img(tmp_path))}
    proc = export(str(config), "--ova", "--force", "--output-dir", str(out), env=env)
    assert proc.returncode == 1
    error_line(proc)
    assert everything_in(out) == ["simple-vm.ova"]
    assert (out / "simple-vm.ova").read_bytes() == old
    package = Package(out / "simple-vm.ova", tmp_path / "ova")
    assert images_identical(package.disk_file(0), "vmdk", raw, "raw")
