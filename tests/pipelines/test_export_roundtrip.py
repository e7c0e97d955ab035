"""Round trips Ganeti export -> ``export_instance`` -> OVF/OVA ->
``import_package`` -> Ganeti export.

The Ganeti export folders (config.ini in the layouts of Ganeti before 2.6
and of 2.6 and later, raw dumps) are written here at test time.  Every
package written is also checked as a consumer would: each disk file passes
``qemu-img check`` and holds its source's data, ``ovf:size`` is the real
size, the manifest lists and verifies every file, and an OVA is a plain
ustar/GNU tar without PAX headers, descriptor first, manifest second.

Disk formats that count in sectors (everything but raw) round a dump whose
length is not a multiple of 512 bytes up to the next sector; the extra bytes
are zeros.  Nothing else may change: not a byte of data, and not
``diskN_size`` (MiB, rounded up).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import random
import re
import shutil
import tarfile
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from builders import image_info, images_identical, make_raw_disk, qemu_img, read_ini
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ovfconverter import ExportOptions, ImportOptions, export_instance, import_package
from ovfconverter.errors import OptionError
from ovfconverter.model.ganeti import DISK_TEMPLATES, HYPERVISORS
from ovfconverter.parameters import Parameter

MIB = 1 << 20
SECTOR = 512
OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"
OVF2 = "http://schemas.dmtf.org/ovf/envelope/2"


# --------------------------------------------------------------------------
# What an instance is made of


@dataclass
class Nic:
    mac: str
    ip: str | None = None
    mode: str = "bridged"
    link: str | None = None
    network: str | None = None
    name: str | None = None
    vlan: str | None = None


@dataclass
class Disk:
    size: int  # bytes of the raw dump
    name: str | None = None


@dataclass
class Instance:
    name: str
    os: str
    hypervisor: str
    disk_template: str
    tags: list[str] = field(default_factory=list)
    hv_params: dict[str, str] = field(default_factory=dict)
    os_params: dict[str, str] = field(default_factory=dict)
    vcpus: int = 1
    maxmem: int = 512
    minmem: int = 512
    auto_balance: bool = True
    always_failover: bool = False
    spindle_use: int = 1
    nics: list[Nic] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)


LAYOUTS = ("ganeti-2.5", "ganeti-2.6+")
"""Pre-2.6: ``memory`` in [backend], copies in [instance], NICs with mac, ip,
mode, link (and network, as Ganeti's own test fixture has).  2.6 and later
(2.16/3.0): maxmem/minmem in [backend], memory in [instance], NIC names and
VLANs, disk names, [export] compression, [os_private], UUID dump names."""

# A disk not sector-aligned, one of whole MiB (what Ganeti's LVs always are),
# one sector-aligned but not MiB-aligned.
DISK_SIZES = (3 * MIB + 4096 + 100, 2 * MIB, MIB + 3 * SECTOR)

MODERN = Instance(
    name="web1.example.com",
    os="debootstrap+default",
    hypervisor="kvm",
    disk_template="drbd",
    tags=["prod", "web", "owner:ops", "tier/1"],
    hv_params={
        "boot_order": "disk",
        "root-path": "/dev/vda1",  # a '-' in the name: not a Python identifier, still an XML name
        "kernel_args": "ro console=ttyS0,115200n8",
        "initrd_path": "",  # Ganeti writes unset parameters as empty values
        "serial_console": "True",
        "9p_mount": "off",  # not an XML name: gnt:Parameter name="..."
        "vnc.bind-address": "0.0.0.0",
    },
    os_params={"variant": "bookworm", "mirror": "http://deb.debian.org/debian", "extra-pkgs": "vim,less"},
    vcpus=2,
    maxmem=1024,
    minmem=512,
    auto_balance=True,
    always_failover=False,
    spindle_use=2,
    nics=[
        Nic("aa:00:00:35:d1:9e", mode="bridged", link="br0"),
        Nic("aa:00:00:35:d1:9f", ip="192.0.2.10", mode="routed", link="rt100", network="net-prod", name="eth1"),
        Nic("aa:00:00:35:d1:a0", mode="openvswitch", link="switch1", name="storage", vlan=".100"),
    ],
    disks=[Disk(DISK_SIZES[0], "root"), Disk(DISK_SIZES[1]), Disk(DISK_SIZES[2], "swap")],
)

LEGACY = Instance(
    name="old1.example.com",
    os="lenny-image",
    hypervisor="xen-pvm",
    disk_template="plain",
    tags=["legacy"],
    hv_params={"root-path": "/dev/sda1", "kernel_path": "/boot/vmlinuz-2.6-xenU", "kernel_args": "ro"},
    os_params={"dhcp": "yes"},
    vcpus=1,
    maxmem=512,
    minmem=512,
    auto_balance=False,
    nics=[
        Nic("aa:00:00:d8:2c:1e", mode="bridged", link="xen-br0"),
        Nic("aa:00:00:d8:2c:1f", ip="10.1.2.3", mode="routed", link="br0", network="test"),
    ],
    disks=[Disk(size) for size in DISK_SIZES],
)

SPECS = {"ganeti-2.5": LEGACY, "ganeti-2.6+": MODERN}


@dataclass(frozen=True)
class Fmt:
    """An export format: ExportOptions values, the qemu-img driver the
    result is read with, and whether qemu-img can check it."""

    format: str
    subformat: str = "streamOptimized"
    qemu: str = ""
    checkable: bool = True
    extension: str = ""


FORMATS = {
    "raw": Fmt("raw", qemu="raw", checkable=False, extension="raw"),
    "vmdk-streamOptimized": Fmt("vmdk", "streamOptimized", qemu="vmdk", extension="vmdk"),
    "vmdk-monolithicSparse": Fmt("vmdk", "monolithicSparse", qemu="vmdk", extension="vmdk"),
    "qcow2": Fmt("qcow2", qemu="qcow2", extension="qcow2"),
    "cow": Fmt("cow", qemu="qcow2", extension="qcow2"),  # Ganeti's name for qcow2
    "vdi": Fmt("vdi", qemu="vdi", extension="vdi"),
    "vhd": Fmt("vhd", qemu="vpc", checkable=False, extension="vhd"),
    "vhdx": Fmt("vhdx", qemu="vhdx", extension="vhdx"),
}


def virtual_size(fmt: Fmt, size: int) -> int:
    """The size a disk of ``size`` bytes has once stored in ``fmt``: raw keeps
    it, the others round up to a whole sector."""
    return size if fmt.qemu == "raw" else -(-size // SECTOR) * SECTOR


# --------------------------------------------------------------------------
# Writing a Ganeti export folder


def _none(value: str | None) -> str:
    return "None" if value is None else value


def write_export(folder: Path, inst: Instance, layout: str, seed: int = 1) -> Path:
    """Write ``inst`` as a ``gnt-backup export`` folder in ``layout``;
    returns config.ini's path."""
    folder.mkdir(parents=True, exist_ok=True)
    modern = layout == "ganeti-2.6+"
    lines = ["[export]", "version = 0", "timestamp = 1714480000", "source = node1.example.com", f"os = {inst.os}"]
    lines += ["compression = none", "", "[instance]", f"name = {inst.name}"]
    if modern:
        lines += [f"maxmem = {inst.maxmem}", f"minmem = {inst.minmem}", f"memory = {inst.maxmem}"]
    else:
        lines += [f"memory = {inst.maxmem}"]
    lines += [
        f"vcpus = {inst.vcpus}",
        f"disk_template = {inst.disk_template}",
        f"hypervisor = {inst.hypervisor}",
        f"tags = {' '.join(inst.tags)}",
    ]
    for index, nic in enumerate(inst.nics):
        lines += [f"nic{index}_mac = {nic.mac}", f"nic{index}_ip = {_none(nic.ip)}"]
        if modern or nic.network is not None:
            lines += [f"nic{index}_network = {_none(nic.network)}"]
        if modern:
            lines += [f"nic{index}_name = {_none(nic.name)}"]
        lines += [f"nic{index}_mode = {nic.mode}", f"nic{index}_link = {_none(nic.link)}"]
        if modern:
            lines += [f"nic{index}_vlan = {nic.vlan or ''}"]
    lines += [f"nic_count = {len(inst.nics)}"]
    for index, disk in enumerate(inst.disks):
        dump = str(uuid.UUID(int=seed * 1000 + index)) if modern else f"{inst.name}.disk{index}_data.snap"
        make_raw_disk(folder / dump, disk.size, seed=seed * 100 + index)
        lines += [f"disk{index}_ivname = disk/{index}", f"disk{index}_dump = {dump}"]
        lines += [f"disk{index}_size = {math.ceil(disk.size / MIB)}"]
        if modern:
            lines += [f"disk{index}_name = {_none(disk.name)}"]
    lines += [f"disk_count = {len(inst.disks)}", "", "[hypervisor]"]
    lines += [f"{key} = {value}" for key, value in inst.hv_params.items()]
    lines += ["", "[backend]"]
    if modern:
        lines += [
            f"always_failover = {inst.always_failover}",
            f"auto_balance = {inst.auto_balance}",
            f"maxmem = {inst.maxmem}",
            f"minmem = {inst.minmem}",
            f"spindle_use = {inst.spindle_use}",
            f"vcpus = {inst.vcpus}",
        ]
    else:
        lines += [f"auto_balance = {inst.auto_balance}", f"memory = {inst.maxmem}", f"vcpus = {inst.vcpus}"]
    lines += ["", "[os]"] + [f"{key} = {value}" for key, value in inst.os_params.items()]
    if modern:
        lines += ["", "[os_private]"]
    config = folder / "config.ini"
    config.write_text("\n".join(lines) + "\n")
    return config


def dumps(config: Path) -> list[Path]:
    """The disk dumps config.ini names, in disk order."""
    instance = read_ini(config)["instance"]
    return [config.parent / instance[f"disk{i}_dump"] for i in range(int(instance["disk_count"]))]


# --------------------------------------------------------------------------
# What must come back


BACKEND_KEYS = ("vcpus", "maxmem", "minmem", "auto_balance", "always_failover", "spindle_use")
NIC_KEYS = ("mac", "ip", "mode", "link", "network", "name", "vlan")


def _value(text: str | None) -> str | None:
    """config.ini's spellings of "no value" as ``None`` (Ganeti writes
    ``None``; ``none`` is the cluster default for a NIC's mode or link)."""
    return None if text is None or text.strip().lower() in ("", "none") else text


def expected_config(inst: Instance, layout: str, external: bool = False, os_type: str | None = None) -> dict:
    """What the re-imported config.ini must say of ``inst``."""
    modern = layout == "ganeti-2.6+"
    minmem = inst.minmem if modern else inst.maxmem
    backend = {
        "vcpus": str(inst.vcpus),
        "maxmem": str(inst.maxmem),
        "minmem": str(minmem),
        "auto_balance": str(inst.auto_balance),
        "always_failover": str(inst.always_failover) if modern else None,
        "spindle_use": str(inst.spindle_use) if modern else None,
    }
    nics = [
        {
            "mac": nic.mac,
            "ip": nic.ip,
            "mode": nic.mode,
            "link": nic.link,
            "network": nic.network,
            "name": nic.name if modern else None,
            "vlan": nic.vlan if modern else None,
        }
        for nic in inst.nics
    ]
    disks = [
        {"ivname": f"disk/{i}", "name": d.name if modern else None, "size": str(math.ceil(d.size / MIB))}
        for i, d in enumerate(inst.disks)
    ]
    if external:  # only what the standard OVF sections carry
        return {
            "os": os_type,
            "name": inst.name,
            "hypervisor": None,
            "disk_template": None,
            "tags": [],
            "hypervisor_params": {},
            "os_params": {},
            "backend": {
                **dict.fromkeys(BACKEND_KEYS),
                "vcpus": str(inst.vcpus),
                "maxmem": str(inst.maxmem),
                "minmem": str(inst.maxmem),
            },
            "nics": [nic.mac for nic in inst.nics],
            "disks": [{"ivname": d["ivname"], "name": None, "size": d["size"]} for d in disks],
        }
    return {
        "os": inst.os,
        "name": inst.name,
        "hypervisor": inst.hypervisor,
        "disk_template": inst.disk_template,
        "tags": list(inst.tags),
        "hypervisor_params": dict(inst.hv_params),
        "os_params": dict(inst.os_params),
        "backend": backend,
        "nics": nics,
        "disks": disks,
    }


def actual_config(ini: dict[str, dict[str, str]], external: bool = False) -> dict:
    """The same summary, read from a re-imported config.ini."""
    instance = ini["instance"]
    nic_count = int(instance["nic_count"])
    nics = [{key: _value(instance.get(f"nic{i}_{key}")) for key in NIC_KEYS} for i in range(nic_count)]
    return {
        "os": ini["export"].get("os"),
        "name": instance.get("name"),
        "hypervisor": instance.get("hypervisor"),
        "disk_template": instance.get("disk_template"),
        "tags": instance.get("tags", "").split(),
        "hypervisor_params": ini.get("hypervisor", {}),
        "os_params": ini.get("os", {}),
        "backend": {key: ini["backend"].get(key) for key in BACKEND_KEYS},
        "nics": [nic["mac"] for nic in nics] if external else nics,
        "disks": [
            {
                "ivname": instance.get(f"disk{i}_ivname"),
                "name": _value(instance.get(f"disk{i}_name")),
                "size": instance.get(f"disk{i}_size"),
            }
            for i in range(int(instance["disk_count"]))
        ],
    }


def differences(actual: object, expected: object, path: str = "") -> list[str]:
    """Every place where ``actual`` differs from ``expected``, as readable
    lines (``nics[0].network: got 'br0', expected None``)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return [
            line
            for key in list(expected) + [k for k in actual if k not in expected]
            for line in differences(
                actual.get(key, "<absent>"), expected.get(key, "<absent>"), f"{path}.{key}" if path else str(key)
            )
        ]
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [
            line
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for line in differences(a, e, f"{path}[{i}]")
        ]
    return [] if actual == expected else [f"{path}: got {actual!r}, expected {expected!r}"]


def disk_report(sources: list[Path], folder: Path, ini: dict, fmt: Fmt) -> list[dict]:
    """Per re-imported disk: is its data the source's, bit for bit, and is it
    as long as the source stored in ``fmt`` (zeros after the source's end)?"""
    instance = ini["instance"]
    report = []
    for index, source in enumerate(sources):
        new = folder / instance[f"disk{index}_dump"]
        data, original = new.read_bytes(), source.read_bytes()
        report.append(
            {
                "qemu-img compare": images_identical(source, "raw", new, "raw"),
                "bytes": data[: len(original)] == original and not data[len(original) :].strip(b"\0"),
                "length": len(data),
            }
        )
    return report


def expected_disk_report(sources: list[Path], fmt: Fmt) -> list[dict]:
    return [{"qemu-img compare": True, "bytes": True, "length": virtual_size(fmt, s.stat().st_size)} for s in sources]


def assert_round_trip(
    ini: dict, folder: Path, sources: list[Path], fmt: Fmt, expected: dict, external: bool = False
) -> None:
    """The re-imported config.ini says ``expected`` and its disks hold the
    sources' data; every discrepancy is listed at once."""
    actual = {"config": actual_config(ini, external), "disks": disk_report(sources, folder, ini, fmt)}
    wanted = {"config": expected, "disks": expected_disk_report(sources, fmt)}
    if not external:  # our own package, re-imported as it is: nothing to work around
        actual["warnings"], wanted["warnings"] = ini["warnings"], []
    problems = differences(actual, wanted)
    assert not problems


# --------------------------------------------------------------------------
# Checking a written package as a consumer would


def _octal(field_bytes: bytes) -> int:
    return int(field_bytes.rstrip(b"\0 ").decode("ascii") or "0", 8)


def raw_tar_headers(path: Path) -> list[dict]:
    """Walk the tar's 512-byte headers without tarfile: name, typeflag,
    mode, uid, gid, size of each."""
    headers = []
    with open(path, "rb") as stream:
        while True:
            block = stream.read(512)
            assert len(block) == 512, "truncated tar"
            if block == b"\0" * 512:
                break
            size = _octal(block[124:136])
            headers.append(
                {
                    "name": block[:100].rstrip(b"\0").decode(),
                    "type": block[156:157],
                    "mode": _octal(block[100:108]),
                    "uid": _octal(block[108:116]),
                    "gid": _octal(block[116:124]),
                    "size": size,
                    "magic": block[257:262],
                }
            )
            stream.seek(-(-size // 512) * 512, 1)
    return headers


def unpack_ova(ova: Path, dest: Path) -> list[str]:
    """Check the OVA's tar structure; extract it into ``dest``; return the
    member names in order."""
    for header in raw_tar_headers(ova):
        assert header["type"] not in (b"x", b"g"), f"PAX header in {ova.name}: {header}"
        assert header["type"] in (b"0", b"\0"), header
        assert header["magic"] == b"ustar", header
        assert (header["uid"], header["gid"], header["mode"]) == (0, 0, 0o644), header
    with tarfile.open(ova) as tar:
        members = tar.getmembers()
        for member in members:
            assert member.isreg(), member.name
            assert member.pax_headers == {}, member.name
            assert (member.uid, member.gid, member.mode) == (0, 0, 0o644), member.name
            assert len(member.name.encode()) <= 100, member.name
            assert "/" not in member.name, member.name
        tar.extractall(dest, filter="data")
    return [member.name for member in members]


MANIFEST_LINE = re.compile(r"^(SHA1|SHA256|SHA512)\(([^()]+)\)= ([0-9a-f]+)$")


def check_package(
    result_path: Path,
    sources: list[Path],
    fmt: Fmt,
    work: Path,
    *,
    compress: bool,
    ova: bool,
    digest: str = "sha256",
    ovf_version: str = "1.0",
) -> ET.Element:
    """Check everything a consumer checks in the written package; returns
    the descriptor's root element."""
    if ova:
        assert result_path.is_file() and result_path.suffix == ".ova"
        folder = work / "unpacked"
        folder.mkdir()
        order = unpack_ova(result_path, folder)
    else:
        assert result_path.is_dir()
        folder = result_path
        order = None
    descriptors = sorted(p.name for p in folder.glob("*.ovf"))
    manifests = sorted(p.name for p in folder.glob("*.mf"))
    assert len(descriptors) == 1 and len(manifests) == 1, sorted(p.name for p in folder.iterdir())
    descriptor, manifest = descriptors[0], manifests[0]
    assert Path(descriptor).stem == Path(manifest).stem

    root = ET.fromstring((folder / descriptor).read_bytes())
    ns = OVF2 if ovf_version.startswith("2") else OVF1
    assert root.tag == f"{{{ns}}}Envelope"
    assert root.get(f"{{{ns}}}version") == ovf_version
    refs = root.findall(f"{{{ns}}}References/{{{ns}}}File")
    hrefs = [ref.get(f"{{{ns}}}href") for ref in refs]
    assert len(hrefs) == len(sources)
    suffix = f".{fmt.extension}" + (".gz" if compress else "")
    for href, ref in zip(hrefs, refs, strict=True):
        assert href is not None and href.endswith(suffix), href
        assert len(href.encode()) <= 100
        declared, real = int(ref.get(f"{{{ns}}}size") or -1), (folder / href).stat().st_size
        assert declared == real, f"{href}: ovf:size is {declared}, the file is {real} bytes"
        assert ref.get(f"{{{ns}}}compression") == ("gzip" if compress else None)
    # Each File is one Disk's, whose ovf:capacity (in bytes) the image must have.
    units = {None: 1, "byte": 1, "byte * 2^20": MIB, "byte * 2^30": 1 << 30}
    capacities = {}
    for disk in root.findall(f"{{{ns}}}DiskSection/{{{ns}}}Disk"):
        unit = disk.get(f"{{{ns}}}capacityAllocationUnits")
        assert unit in units, unit
        capacities[disk.get(f"{{{ns}}}fileRef")] = int(disk.get(f"{{{ns}}}capacity") or -1) * units[unit]
    capacities = [capacities.get(ref.get(f"{{{ns}}}id")) for ref in refs]
    assert sorted(p.name for p in folder.iterdir()) == sorted([descriptor, manifest, *hrefs])
    if order is not None:
        assert order == [descriptor, manifest, *hrefs], "OVA order: descriptor, manifest, then the disks"

    # The manifest: every file but itself, one line each, in the chosen algorithm, verified.
    label = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[digest]
    listed = {}
    for line in (folder / manifest).read_text().splitlines():
        match = MANIFEST_LINE.match(line)
        assert match, f"manifest line {line!r}"
        assert match.group(1) == label
        listed[match.group(2)] = match.group(3)
    assert sorted(listed) == sorted([descriptor, *hrefs])
    for name, value in listed.items():
        with open(folder / name, "rb") as stream:
            assert hashlib.file_digest(stream, digest).hexdigest() == value, f"{name}: manifest digest"

    # Each disk: the declared format, sound, and the source's data.
    for index, (href, source, capacity) in enumerate(zip(hrefs, sources, capacities, strict=True)):
        image = folder / href
        if compress:
            assert image.read_bytes()[:2] == b"\x1f\x8b", f"{href} is not gzip"
            plain = work / f"disk{index}.{fmt.extension}"
            with gzip.open(image, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            image = plain
        info = image_info(image, fmt.qemu)
        assert info["format"] == fmt.qemu
        # qemu-img shows a raw file's size rounded up to a sector; the file is what counts.
        size = image.stat().st_size if fmt.qemu == "raw" else info["virtual-size"]
        assert size == virtual_size(fmt, source.stat().st_size), f"{href}: virtual size"
        assert capacity == size, f"{href}: ovf:capacity is not the image's virtual size"
        assert not info.get("backing-filename")
        if fmt.qemu == "vmdk":
            assert info["format-specific"]["data"]["create-type"] == fmt.subformat
        if fmt.checkable:
            check = qemu_img("check", "-f", fmt.qemu, str(image), check=False)
            assert check.returncode == 0, f"qemu-img check {href}: {check.stdout}{check.stderr}"
        assert images_identical(source, "raw", image, fmt.qemu), f"{href} does not hold {source.name}'s data"
    return root


def reimport(package: Path, out: Path, **options) -> tuple[Path, dict]:
    """Import ``package`` into ``out``: the export folder and its config.ini
    (with the import's warnings under ``"warnings"``)."""
    out.mkdir(exist_ok=True)
    result = import_package(str(package), ImportOptions(output_dir=str(out), **options))
    ini = read_ini(Path(result.path) / "config.ini")
    ini["warnings"] = result.warnings  # type: ignore[assignment]
    return Path(result.path), ini


# --------------------------------------------------------------------------
# The matrix: both layouts x every format x plain/compressed x folder/OVA


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt_id", list(FORMATS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip(tmp_path: Path, layout: str, fmt_id: str, compress: bool, ova: bool) -> None:
    inst, fmt = SPECS[layout], FORMATS[fmt_id]
    config = write_export(tmp_path / "export", inst, layout)
    sources = dumps(config)
    out = tmp_path / "ovf"
    out.mkdir()
    options = ExportOptions(
        format=fmt.format,
        vmdk_subformat=fmt.subformat,
        compress=compress,
        ova=ova,
        output_dir=str(out),
        compression_level=1,  # any level gives the same data back; 1 keeps the matrix fast
    )
    result = export_instance(str(config), options)
    assert Path(result.path) == out / (f"{inst.name}.ova" if ova else inst.name)
    work = tmp_path / "work"
    work.mkdir()
    check_package(Path(result.path), sources, fmt, work, compress=compress, ova=ova)
    package = work / "unpacked" if ova else Path(result.path)
    assert [(f.name, f.size) for f in result.files] == [
        (f.name, (package / f.name).stat().st_size) for f in result.files
    ], "ExportResult.files: the package's files and their sizes, in package order"
    assert [f.name for f in result.files][:2] == [f"{inst.name}.ovf", f"{inst.name}.mf"]

    folder, ini = reimport(Path(result.path), tmp_path / "back")
    assert folder == tmp_path / "back" / inst.name
    assert_round_trip(ini, folder, sources, fmt, expected_config(inst, layout))


@pytest.mark.parametrize("fmt_id", list(FORMATS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_external(tmp_path: Path, layout: str, fmt_id: str) -> None:
    """``external=True`` leaves the Ganeti section out: the re-import needs an
    OS and gets back only what standard OVF carries (name, CPUs, memory,
    NIC MACs, disks)."""
    inst, fmt = SPECS[layout], FORMATS[fmt_id]
    config = write_export(tmp_path / "export", inst, layout)
    sources = dumps(config)
    ova = fmt_id in ("vmdk-streamOptimized", "qcow2")
    result = export_instance(
        str(config),
        ExportOptions(
            format=fmt.format, vmdk_subformat=fmt.subformat, external=True, ova=ova, output_dir=str(tmp_path)
        ),
    )
    work = tmp_path / "work"
    work.mkdir()
    root = check_package(Path(result.path), sources, fmt, work, compress=False, ova=ova)
    assert not [e for e in root.iter() if e.tag.startswith("{http://ganeti}")], "no Ganeti section"
    assert result.envelope.ganeti is None

    with pytest.raises(OptionError, match="give one with os_type") as caught:
        import_package(result.path, ImportOptions(output_dir=str(tmp_path)))
    assert caught.value.parameters == (Parameter("os_type"),)
    folder, ini = reimport(Path(result.path), tmp_path / "back", os_type="debootstrap+default")
    expected = expected_config(inst, layout, external=True, os_type="debootstrap+default")
    assert_round_trip(ini, folder, sources, fmt, expected, external=True)


# --------------------------------------------------------------------------
# Focused checks


def test_nic_without_network_comes_back_without_network(tmp_path: Path) -> None:
    """A NIC on a bridge (mode bridged, link br0, no network), the most
    common Ganeti NIC, must not come back attached to a Ganeti network named
    after its bridge: ``gnt-backup import`` would look for a network "br0"."""
    inst = replace(MODERN, nics=[Nic("aa:00:00:35:d1:9e", mode="bridged", link="br0")], disks=[])
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    result = export_instance(str(config), ExportOptions(output_dir=str(tmp_path)))
    _, ini = reimport(Path(result.path), tmp_path / "back")
    nic = {key: _value(ini["instance"].get(f"nic0_{key}")) for key in NIC_KEYS}
    assert nic == {
        "mac": "aa:00:00:35:d1:9e",
        "ip": None,
        "mode": "bridged",
        "link": "br0",
        "network": None,
        "name": None,
        "vlan": None,
    }


@pytest.mark.parametrize("fmt_id", list(FORMATS))
@pytest.mark.parametrize("mib", [1, 10])
def test_whole_mib_disk_keeps_its_size(tmp_path: Path, fmt_id: str, mib: int) -> None:
    """Ganeti disks are whole MiB: the exported image's virtual size must be
    exactly the dump's, as ``ovf:capacity`` declares, so the disk comes back
    with the same ``diskN_size``."""
    fmt = FORMATS[fmt_id]
    inst = replace(MODERN, nics=[], disks=[Disk(mib * MIB)])
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    result = export_instance(
        str(config), ExportOptions(format=fmt.format, vmdk_subformat=fmt.subformat, output_dir=str(tmp_path))
    )
    image = Path(result.path) / result.envelope.files[0].href
    assert result.envelope.disks[0].capacity == mib * MIB
    assert image_info(image, fmt.qemu)["virtual-size"] == mib * MIB
    _, ini = reimport(Path(result.path), tmp_path / "back")
    assert ini["instance"]["disk0_size"] == str(mib)


@pytest.mark.parametrize("fmt_id", list(FORMATS))
def test_compressed_small_disk_imports(tmp_path: Path, fmt_id: str) -> None:
    """A gzip-compressed image of a small, fully written disk re-imports:
    every format's metadata fits what the importer lets an image expand to
    (qemu-img's VHDX of a 1 MiB disk is a 16 MiB file; of 64 MiB, 72 MiB)."""
    fmt = FORMATS[fmt_id]
    inst = replace(MODERN, nics=[], disks=[Disk(MIB)])
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    (source,) = dumps(config)
    source.write_bytes(random.Random(7).randbytes(MIB))  # every byte written: nothing sparse
    result = export_instance(
        str(config),
        ExportOptions(format=fmt.format, vmdk_subformat=fmt.subformat, compress=True, output_dir=str(tmp_path)),
    )
    folder, ini = reimport(Path(result.path), tmp_path / "back")
    assert ini["instance"]["disk0_size"] == "1"
    assert (folder / "disk0.raw").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("digest,label,length", [("sha1", "SHA1", 40), ("sha512", "SHA512", 128)])
@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_digest_algorithm(tmp_path: Path, digest: str, label: str, length: int, ova: bool) -> None:
    inst = MODERN
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    sources = dumps(config)
    result = export_instance(
        str(config), ExportOptions(format="qcow2", digest=digest, ova=ova, output_dir=str(tmp_path))
    )
    work = tmp_path / "work"
    work.mkdir()
    check_package(Path(result.path), sources, FORMATS["qcow2"], work, compress=False, ova=ova, digest=digest)
    folder = work / "unpacked" if ova else Path(result.path)
    lines = (folder / f"{inst.name}.mf").read_text().splitlines()
    assert len(lines) == 1 + len(inst.disks)
    assert all(line.startswith(f"{label}(") and len(line.rpartition("= ")[2]) == length for line in lines)
    assert [f.digest for f in result.files if not f.name.endswith(".mf")] == [
        line.rpartition("= ")[2] for line in lines
    ]
    back, ini = reimport(Path(result.path), tmp_path / "back")  # the importer verifies the manifest
    assert not differences(actual_config(ini), expected_config(inst, "ganeti-2.6+"))


@pytest.mark.parametrize("fmt_id", ["vmdk-streamOptimized", "raw", "vhdx"])
@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_ovf_version_2(tmp_path: Path, fmt_id: str, ova: bool) -> None:
    inst, fmt = MODERN, FORMATS[fmt_id]
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    sources = dumps(config)
    result = export_instance(
        str(config),
        ExportOptions(
            format=fmt.format,
            vmdk_subformat=fmt.subformat,
            ovf_version="2.0",
            ova=ova,
            compress=ova,
            output_dir=str(tmp_path),
        ),
    )
    work = tmp_path / "work"
    work.mkdir()
    root = check_package(Path(result.path), sources, fmt, work, compress=ova, ova=ova, ovf_version="2.0")
    assert root.get(f"{{{OVF2}}}version") == "2.0"
    assert not [e for e in root.iter() if e.tag.startswith(f"{{{OVF1}}}")]
    hardware = root.find(f"{{{OVF2}}}VirtualSystem/{{{OVF2}}}VirtualHardwareSection")
    assert hardware is not None
    kinds = [e.tag.rpartition("}")[2] for e in hardware]
    assert kinds.count("StorageItem") == len(inst.disks)
    assert kinds.count("EthernetPortItem") == len(inst.nics)
    folder, ini = reimport(Path(result.path), tmp_path / "back")
    assert_round_trip(ini, folder, sources, fmt, expected_config(inst, "ganeti-2.6+"))


@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
def test_long_instance_name_keeps_member_names_short(tmp_path: Path, ova: bool) -> None:
    """Tar headers hold 100 bytes of name: a 120-character instance name
    still gives members of at most 100 bytes, and the instance keeps its
    name."""
    name = ".".join(["a" * 39, "b" * 39, "c" * 40])
    assert len(name) == 120
    inst = replace(MODERN, name=name)
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    sources = dumps(config)
    result = export_instance(
        str(config), ExportOptions(format="qcow2", compress=True, ova=ova, output_dir=str(tmp_path))
    )
    assert all(len(f.name.encode()) <= 100 for f in result.files)
    work = tmp_path / "work"
    work.mkdir()
    check_package(Path(result.path), sources, FORMATS["qcow2"], work, compress=True, ova=ova)
    folder, ini = reimport(Path(result.path), tmp_path / "back")
    assert not differences(actual_config(ini), expected_config(inst, "ganeti-2.6+"))


def test_gzip_compressed_dumps(tmp_path: Path) -> None:
    """``[export] compression = gzip``: Ganeti's dumps are gzip streams; the
    package holds the disks, not the gzip streams."""
    inst = MODERN
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    sources = dumps(config)
    plain = tmp_path / "plain"
    plain.mkdir()
    for source in sources:
        shutil.copyfile(source, plain / source.name)
        with open(plain / source.name, "rb") as src, gzip.open(source, "wb") as dst:
            shutil.copyfileobj(src, dst)
    config.write_text(config.read_text().replace("compression = none", "compression = gzip"))
    sources = [plain / s.name for s in sources]
    result = export_instance(str(config), ExportOptions(format="vmdk", output_dir=str(tmp_path)))
    work = tmp_path / "work"
    work.mkdir()
    check_package(Path(result.path), sources, FORMATS["vmdk-streamOptimized"], work, compress=False, ova=False)
    folder, ini = reimport(Path(result.path), tmp_path / "back")
    assert_round_trip(ini, folder, sources, FORMATS["vmdk-streamOptimized"], expected_config(inst, "ganeti-2.6+"))


# --------------------------------------------------------------------------
# Generated instances

_name = st.from_regex(r"[a-z][a-z0-9-]{0,14}(\.[a-z][a-z0-9-]{0,8}){0,2}", fullmatch=True)
_key = st.from_regex(r"[a-z0-9_][a-z0-9_.-]{0,12}", fullmatch=True)
_value_text = st.from_regex(r"[A-Za-z0-9_./:,=+@ -]{0,16}", fullmatch=True).filter(lambda v: v == v.strip())
_params = st.dictionaries(_key, _value_text, max_size=4)
_tag = st.from_regex(r"[A-Za-z0-9_.+*/:@-]{1,12}", fullmatch=True)
_word = st.from_regex(r"[a-z][a-z0-9_.-]{0,10}", fullmatch=True).filter(lambda w: w != "none")
_mac = st.lists(st.integers(0, 255), min_size=5, max_size=5).map(
    lambda octets: ":".join(f"{o:02x}" for o in [0xAA, *octets])
)
_ip = st.none() | st.tuples(*[st.integers(1, 254)] * 4).map(lambda t: ".".join(map(str, t)))


@st.composite
def _nics(draw: st.DrawFn) -> Nic:
    return Nic(
        mac=draw(_mac),
        ip=draw(_ip),
        mode=draw(st.sampled_from(["bridged", "routed", "openvswitch"])),
        link=draw(st.none() | _word),
        network=draw(st.none() | _word),
        name=draw(st.none() | _word),
        vlan=draw(st.none() | st.integers(1, 4094).map(lambda v: f".{v}")),
    )


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    maxmem = draw(st.integers(64, 1 << 16))
    return Instance(
        name=draw(_name),
        os=draw(st.from_regex(r"[a-z][a-z0-9+._-]{0,15}", fullmatch=True)),
        hypervisor=draw(st.sampled_from(sorted(HYPERVISORS))),
        disk_template=draw(st.sampled_from(sorted(DISK_TEMPLATES))),
        tags=draw(st.lists(_tag, max_size=4, unique=True)),
        hv_params=draw(_params),
        os_params=draw(_params),
        vcpus=draw(st.integers(1, 64)),
        maxmem=maxmem,
        minmem=draw(st.integers(1, maxmem)),
        auto_balance=draw(st.booleans()),
        always_failover=draw(st.booleans()),
        spindle_use=draw(st.integers(0, 8)),
        nics=draw(st.lists(_nics(), max_size=3)),
        disks=draw(st.lists(st.builds(Disk, st.integers(16384, MIB + 4096), st.none() | _word), max_size=3)),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inst=instances(),
    layout=st.sampled_from(LAYOUTS),
    fmt_id=st.sampled_from(["raw", "vmdk-streamOptimized", "qcow2"]),
    ova=st.booleans(),
    compress=st.booleans(),
)
@example(  # the most common Ganeti instance shape: one bridged NIC without a network, one disk
    inst=replace(MODERN, nics=MODERN.nics[:1], disks=[Disk(MIB + 4096)]),
    layout="ganeti-2.6+",
    fmt_id="qcow2",
    ova=False,
    compress=False,
)
def test_generated_instances_round_trip(inst: Instance, layout: str, fmt_id: str, ova: bool, compress: bool) -> None:
    if layout == "ganeti-2.5":  # what that layout cannot say
        inst = replace(
            inst,
            minmem=inst.maxmem,
            nics=[replace(n, name=None, vlan=None) for n in inst.nics],
            disks=[replace(d, name=None) for d in inst.disks],
        )
    fmt = FORMATS[fmt_id]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = write_export(work / "export", inst, layout)
        sources = dumps(config)
        (work / "ovf").mkdir()
        result = export_instance(
            str(config),
            ExportOptions(format=fmt.format, compress=compress, ova=ova, output_dir=str(work / "ovf")),
        )
        (work / "check").mkdir()
        check_package(Path(result.path), sources, fmt, work / "check", compress=compress, ova=ova)
        if not inst.disks and not inst.nics:
            with pytest.raises(OptionError, match="no disk and no NIC"):
                reimport(Path(result.path), work / "back")
            return
        folder, ini = reimport(Path(result.path), work / "back")
        assert_round_trip(ini, folder, sources, fmt, expected_config(inst, layout))


@pytest.mark.parametrize("fmt_id", ["qcow2", "vdi", "vhd", "vhdx", "vmdk-monolithicSparse"])
@pytest.mark.parametrize("ova", [False, True], ids=["folder", "ova"])
@pytest.mark.parametrize("empty", [False, True], ids=["data", "zeros"])
def test_image_written_in_place_is_plain_qemu_img_output(tmp_path: Path, fmt_id: str, ova: bool, empty: bool) -> None:
    """qemu-img writes these formats straight into the package (an OVA
    member at its offset, or the package's own file): the stored image is
    as long as the one a plain ``qemu-img convert`` writes into a file of
    its own, holds the same data, and the member or file holds nothing
    else, even when qemu-img's image does not end on a 512-byte boundary
    (the qcow2 image of a disk of zeros ends 8 bytes into a sector)."""
    fmt = FORMATS[fmt_id]
    inst = replace(MODERN, nics=[], disks=[Disk(3 * MIB)])
    config = write_export(tmp_path / "export", inst, "ganeti-2.6+")
    (source,) = dumps(config)
    if empty:
        source.write_bytes(b"")
        os.truncate(source, 3 * MIB)
    plain = tmp_path / f"plain.{fmt.extension}"
    options = {
        "vhd": ["-o", "subformat=dynamic,force_size=on"],
        "vmdk-monolithicSparse": ["-o", "subformat=monolithicSparse"],
    }
    qemu_img("convert", "-f", "raw", "-O", fmt.qemu, *options.get(fmt_id, []), str(source), str(plain))
    result = export_instance(
        str(config),
        ExportOptions(format=fmt.format, vmdk_subformat=fmt.subformat, ova=ova, output_dir=str(tmp_path / "out")),
    )
    href = result.envelope.files[0].href
    if ova:
        with tarfile.open(result.path) as tar:
            member = tar.getmember(href)
            image = tmp_path / href
            tar.extract(member, tmp_path, filter="data")
    else:
        image = Path(result.path) / href
    stored = next(f for f in result.files if f.name == href)
    assert image.stat().st_size == stored.size == plain.stat().st_size
    assert hashlib.sha256(image.read_bytes()).hexdigest() == stored.digest
    assert images_identical(image, fmt.qemu, source, "raw")
    if fmt.checkable:
        qemu_img("check", "-f", fmt.qemu, str(image))
