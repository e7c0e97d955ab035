"""Everything tests share, in one place (fixtures alone live in
``conftest.py``; tests never import from it):

* where things are: :data:`ROOT`, :data:`DATA` (``tests/data``) and the
  read-only reference material of ``../shared`` (:data:`SHARED`...);
* running things: the command line (:func:`run_cli`), Ganeti's own
  converter (:func:`run_peer`), qemu-img (:func:`qemu_img`,
  :func:`convert`, :func:`images_identical`, :func:`image_info`);
* building inputs independently of ovfconverter's own writers: raw disks
  (:func:`make_raw_disk`), descriptors from plain string templates
  (:func:`descriptor`), tar archives and OVAs with Python's tarfile
  (:func:`make_ova`, :func:`tar_header`), manifests, Ganeti exports, the
  machines and OVAs the boot tests convert (:func:`boot_machines`,
  :func:`boot_ova`);
* reading results: :func:`read_ini`, :func:`allocated`.

The one other shared module, ``consumer_tools.py``, is not a builder: it
drives the third-party consumers of the libvirt and xen targets (virsh,
a libvirtd it may start and stop, Xen's libxlutil through ctypes, the boot
harness) and skips the calling test when they cannot run.  Kept apart
because only the hub and consumer tests of those targets use it, it holds
process and ctypes state no input builder needs, and together the two would
be one module of some 1,300 lines.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

ROOT = Path(__file__).resolve().parents[1]
"""The repository."""
DATA = ROOT / "tests" / "data"
"""ovfconverter's own sample descriptors."""
SHARED = Path(os.environ.get("OVFCONVERTER_SHARED", ROOT.parent / "shared")).resolve()
"""``../shared`` (``OVFCONVERTER_SHARED`` points elsewhere): read in place, never copied."""
GANETI = SHARED / "fixtures" / "ganeti"
COT = SHARED / "fixtures" / "cot"
PEER = SHARED / "tools" / "ganeti-peer"
GLANCE_TOOL = SHARED / "tools" / "glance-local"
GLANCE_LOCK = "/tmp/ovfconverter-glance.lock"
MIB = 1 << 20


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``ovfconverter/schemas/NAME.schema.json`` as
    installed with the package, itself checked as a draft 2020-12 schema."""
    from importlib import resources

    import jsonschema

    text = resources.files("ovfconverter").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def run_peer(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Ganeti's converter (exits 0 even after most errors: read stderr)."""
    return subprocess.run([str(PEER), *args], capture_output=True, text=True, cwd=cwd)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    **run: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ovfconverter ARGS`` as a user would, output captured
    as text.

    :param env: variables added to the environment.
    :param prefix: a command to run it under (``setpriv ...``).
    :param run: more :func:`subprocess.run` keywords (``timeout``,
        ``preexec_fn``).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "ovfconverter", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        **run,
    )


def qemu_img(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``qemu-img ARGS`` (the real one on ``PATH``)."""
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=check, cwd=cwd)


def images_identical(a: Path | str, fmt_a: str, b: Path | str, fmt_b: str) -> bool:
    """``qemu-img compare``: True when both images have the same content."""
    proc = qemu_img("compare", "-f", fmt_a, "-F", fmt_b, str(a), str(b), check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def image_info(path: Path | str, fmt: str) -> dict:  # type: ignore[type-arg]
    return json.loads(qemu_img("info", "-f", fmt, "--output=json", str(path)).stdout)  # type: ignore[no-any-return]


def allocated(path: Path | str) -> int:
    """Bytes really allocated on disk for ``path``."""
    return os.stat(path).st_blocks * 512


def read_ini(path: Path | str) -> dict[str, dict[str, str]]:
    """A config.ini as nested dicts (keys as written)."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return {section: dict(parser.items(section)) for section in parser.sections()}


def make_raw_disk(path: Path, size: int, pattern: bytes = b"ovfconverter test data ", seed: int = 1) -> Path:
    """A sparse raw disk with recognisable data at its start, middle and end."""
    rng = random.Random(seed)
    with open(path, "wb") as stream:
        stream.truncate(size)
        for offset in (0, size // 2, max(size - 8192, 0)):
            stream.seek(offset)
            stream.write((pattern * 200)[:4096] + rng.randbytes(4096))
    return path


OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"
OVF2 = "http://schemas.dmtf.org/ovf/envelope/2"
SASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_StorageAllocationSettingData"
EPASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"

FORMAT_URIS = {
    "streamOptimized": "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
    "monolithicSparse": "http://www.vmware.com/interfaces/specifications/vmdk.html#monolithicSparse",
    "qcow2": "http://www.gnome.org/~markmc/qcow-image-format.html",
    "raw": "http://en.wikipedia.org/wiki/Byte",
    "vhd": "http://technet.microsoft.com/en-us/virtualserver/bb676673.aspx",
    "vdi": "http://www.virtualbox.org/manual/ch05.html#vdidetails",
}


@dataclass
class DiskSpec:
    """A disk of a test package: ``href`` names the stored file."""

    href: str
    capacity: int | None = None  # bytes
    format_uri: str | None = FORMAT_URIS["streamOptimized"]
    compression: str | None = None
    chunk_size: int | None = None
    size: int | None = None


@dataclass
class VmSpec:
    name: str | None = "test-vm"
    system_id: str = "test-vm"
    cpus: int | None = 1
    memory: int | None = 512
    memory_units: str | None = "byte * 2^20"
    disks: list[DiskSpec] = field(default_factory=list)
    nics: list[tuple[str | None, str | None]] = field(default_factory=lambda: [("bridged", None)])
    networks: list[str] = field(default_factory=lambda: ["bridged"])
    extra_envelope: str = ""
    extra_system: str = ""
    version: str = "1.0"  # "2.0": OVF 2 namespace, disks in StorageItems, NICs in EthernetPortItems


def descriptor(vm: VmSpec) -> str:
    """An OVF 1.0 (or, with ``vm.version`` 2.0, 2.0) descriptor for ``vm``
    (prefix-free, default namespace)."""
    v2 = vm.version.startswith("2")
    disk_item, disk_ns = ("StorageItem", "sasd") if v2 else ("Item", "rasd")
    nic_item, nic_ns = ("EthernetPortItem", "epasd") if v2 else ("Item", "rasd")
    files, disks, items = [], [], []
    instance = 10
    for index, disk in enumerate(vm.disks):
        attrs = f'ovf:id="file{index}" ovf:href={quoteattr(disk.href)}'
        if disk.size is not None:
            attrs += f' ovf:size="{disk.size}"'
        if disk.compression:
            attrs += f' ovf:compression="{disk.compression}"'
        if disk.chunk_size:
            attrs += f' ovf:chunkSize="{disk.chunk_size}"'
        files.append(f"    <File {attrs}/>")
        dattrs = f'ovf:diskId="disk{index}" ovf:fileRef="file{index}"'
        if disk.capacity is not None:
            dattrs += f' ovf:capacity="{disk.capacity}"'
        if disk.format_uri:
            dattrs += f" ovf:format={quoteattr(disk.format_uri)}"
        disks.append(f"    <Disk {dattrs}/>")
        items.append(
            f"""      <{disk_item}>
        <{disk_ns}:ElementName>disk{index}</{disk_ns}:ElementName>
        <{disk_ns}:HostResource>ovf:/disk/disk{index}</{disk_ns}:HostResource>
        <{disk_ns}:InstanceID>{instance}</{disk_ns}:InstanceID>
        <{disk_ns}:Parent>3</{disk_ns}:Parent>
        <{disk_ns}:ResourceType>17</{disk_ns}:ResourceType>
      </{disk_item}>"""
        )
        instance += 1
    for connection, mac in vm.nics:
        conn = f"<{nic_ns}:Connection>{connection}</{nic_ns}:Connection>" if connection else ""
        addr = f"<{nic_ns}:Address>{mac}</{nic_ns}:Address>" if mac else ""
        items.append(
            f"""      <{nic_item}>
        {addr}{conn}
        <{nic_ns}:ElementName>nic{instance}</{nic_ns}:ElementName>
        <{nic_ns}:InstanceID>{instance}</{nic_ns}:InstanceID>
        <{nic_ns}:ResourceSubType>E1000</{nic_ns}:ResourceSubType>
        <{nic_ns}:ResourceType>10</{nic_ns}:ResourceType>
      </{nic_item}>"""
        )
        instance += 1
    cpu = (
        f"""      <Item>
        <rasd:ElementName>cpu</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>{vm.cpus}</rasd:VirtualQuantity>
      </Item>"""
        if vm.cpus is not None
        else ""
    )
    units = f"<rasd:AllocationUnits>{vm.memory_units}</rasd:AllocationUnits>" if vm.memory_units else ""
    memory = (
        f"""      <Item>
        {units}
        <rasd:ElementName>memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{vm.memory}</rasd:VirtualQuantity>
      </Item>"""
        if vm.memory is not None
        else ""
    )
    networks = "\n".join(
        f"    <Network ovf:name={quoteattr(n)}><Description>{n}</Description></Network>" for n in vm.networks
    )
    name = f"    <Name>{vm.name}</Name>\n" if vm.name else ""
    nl = "\n"
    ovf = OVF2 if v2 else OVF1
    extra_ns = f' xmlns:sasd="{SASD}" xmlns:epasd="{EPASD}"' if v2 else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="{ovf}" xmlns:ovf="{ovf}" xmlns:rasd="{RASD}" xmlns:vssd="{VSSD}"{extra_ns} ovf:version="{vm.version}">
  <References>
{nl.join(files)}
  </References>
  <DiskSection>
    <Info>disks</Info>
{nl.join(disks)}
  </DiskSection>
  <NetworkSection>
    <Info>networks</Info>
{networks}
  </NetworkSection>
{vm.extra_envelope}
  <VirtualSystem ovf:id="{vm.system_id}">
    <Info>a virtual machine</Info>
{name}    <OperatingSystemSection ovf:id="96"><Info>os</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <System><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-10</vssd:VirtualSystemType></System>
{cpu}
{memory}
      <Item>
        <rasd:ElementName>scsi</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
{nl.join(items)}
    </VirtualHardwareSection>
{vm.extra_system}
  </VirtualSystem>
</Envelope>
"""


def convert(raw: Path, dest: Path, fmt: str, *options: str) -> Path:
    """qemu-img convert a raw disk into ``fmt`` (``-o`` options given as
    ``subformat=streamOptimized``...)."""
    args = ["convert", "-f", "raw", "-O", fmt]
    for option in options:
        args += ["-o", option]
    qemu_img(*args, str(raw), str(dest))
    return dest


def digest(path: Path, algorithm: str = "sha256") -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def write_manifest(folder: Path, stem: str, names: list[str], algorithm: str = "SHA256") -> Path:
    """``stem.mf`` listing ``names`` (files in ``folder``)."""
    lines = [f"{algorithm}({name})= {digest(folder / name, algorithm.lower().replace('-', ''))}\n" for name in names]
    path = folder / f"{stem}.mf"
    path.write_text("".join(lines))
    return path


def make_ova(
    path: Path,
    members: list[tuple[str, Path | bytes] | tarfile.TarInfo],
    fmt: int = tarfile.USTAR_FORMAT,
) -> Path:
    """A tar archive (an OVA, or anything else) of ``members`` in that order:
    ``(name, file or bytes)`` regular files of mode 0644, or ready-made
    :class:`tarfile.TarInfo` entries without data (links, devices...)."""
    with tarfile.open(path, "w", format=fmt) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, content = member
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def tar_bytes(members: list[tuple[str, bytes]], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """The bytes of a tar archive of ``(name, bytes)`` members (see
    :func:`make_ova`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_header(name: str, size: int, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """The header block(s) of a regular member of ``size`` bytes, for
    archives written piece by piece (sparse OVAs of huge members: GNU
    format gives base-256 sizes above 8 GiB)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info.tobuf(format=fmt)


def gzip_bytes(data: bytes) -> bytes:
    """``data`` as one gzip member."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def gzip_zeros(size: int) -> bytes:
    """``size`` zero bytes (a multiple of 16 MiB) as concatenated gzip
    members: valid gzip, about 1/1000 of the size, cheap to build."""
    block = gzip_bytes(bytes(16 << 20))
    assert size % (16 << 20) == 0
    return block * (size // (16 << 20))


def folder_package(folder: Path, vm: VmSpec, files: dict[str, Path], manifest: str | None = "SHA256") -> Path:
    """Write ``vm``'s descriptor into ``folder`` next to ``files`` (href ->
    source file, copied), with a manifest; returns the ``.ovf`` path."""
    folder.mkdir(parents=True, exist_ok=True)
    for href, source in files.items():
        target = folder / href
        if target != source:
            target.write_bytes(source.read_bytes())
    for disk in vm.disks:
        if disk.size is None and (folder / disk.href).exists():
            disk.size = (folder / disk.href).stat().st_size
    ovf = folder / "package.ovf"
    ovf.write_text(descriptor(vm))
    if manifest:
        write_manifest(folder, "package", ["package.ovf", *files], manifest)
    return ovf


def ova_package(path: Path, vm: VmSpec, files: dict[str, Path], manifest: str | None = "SHA256") -> Path:
    """An OVA of ``vm`` and ``files``: descriptor first, then manifest."""
    staging = path.parent / (path.stem + ".parts")
    ovf = folder_package(staging, vm, files, manifest)
    members: list[tuple[str, Path | bytes]] = [("package.ovf", ovf)]
    if manifest:
        members.append(("package.mf", staging / "package.mf"))
    members += [(href, staging / href) for href in files]
    make_ova(path, members)
    return path


def streamoptimized(tmp_path: Path, stem: str, size: int, seed: int) -> tuple[Path, Path]:
    """A raw source disk of ``size`` bytes and its streamOptimized VMDK."""
    work = tmp_path / "sources"
    work.mkdir(exist_ok=True)
    raw = make_raw_disk(work / f"{stem}.raw", size, seed=seed)
    vmdk = convert(raw, work / f"{stem}.vmdk", "vmdk", "subformat=streamOptimized")
    return raw, vmdk


def build_package(
    tmp_path: Path, kind: str, sample: str, files: dict[str, Path], algorithm: str | None = "SHA256"
) -> Path:
    """Our ``sample`` descriptor with ``files`` (href -> file) and a manifest,
    as a folder package (returns the .ovf) or an OVA (descriptor first,
    then the manifest, then the files)."""
    folder = tmp_path / "package"
    folder.mkdir()
    ovf = folder / sample
    shutil.copyfile(DATA / sample, ovf)
    for href, source in files.items():
        shutil.copyfile(source, folder / href)
    stem = ovf.stem
    names = [sample, *files]
    if algorithm:
        write_manifest(folder, stem, names, algorithm)
    if kind == "folder":
        return ovf
    members: list[tuple[str, Path | bytes]] = [(sample, ovf)]
    if algorithm:
        members.append((f"{stem}.mf", folder / f"{stem}.mf"))
    members += [(href, folder / href) for href in files]
    return make_ova(tmp_path / f"{stem}.ova", members)


def sparse_size(path: Path) -> int:
    return os.stat(path).st_blocks * 512


# A config.ini as Ganeti 2.6 and later (2.16, 3.0) write it: maxmem/minmem in
# [backend], a memory copy in [instance], UUID dump names, [os_private]
# (the example of ../shared/docs/ANCHORS.md; facts about Ganeti's format).
GANETI_30_DUMP = "0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21"
GANETI_30_CONFIG = """\
[export]
version = 0
timestamp = 1714480000
source = node1.example.com
os = debootstrap+default
compression = none

[instance]
name = web1.example.com
maxmem = 1024
minmem = 512
memory = 1024
vcpus = 2
disk_template = drbd
hypervisor = kvm
tags = prod web
nic0_mac = aa:00:00:35:d1:9e
nic0_ip = None
nic0_network = None
nic0_name = None
nic0_mode = bridged
nic0_link = br0
nic0_vlan =
nic_count = 1
disk0_ivname = disk/0
disk0_dump = 0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21
disk0_size = 10240
disk0_name = None
disk_count = 1

[hypervisor]
boot_order = disk
root_path = /dev/vda1
serial_console = True

[backend]
always_failover = False
auto_balance = True
maxmem = 1024
minmem = 512
spindle_use = 1
vcpus = 2

[os]
variant = bookworm

[os_private]
"""


def ganeti_30_config(disk0_size_mib: int = 10240) -> str:
    """:data:`GANETI_30_CONFIG` with another ``disk0_size`` (MiB)."""
    return GANETI_30_CONFIG.replace("disk0_size = 10240", f"disk0_size = {disk0_size_mib}")


def write_ganeti_export(folder: Path, name: str, size: int, random_mib: int = 0, blank_mib: int = 0) -> Path:
    """A ``gnt-backup export`` folder (Ganeti 2.6+ layout) with one disk of
    ``size`` bytes; ``random_mib`` MiB of it (spread out) incompressible;
    with ``blank_mib``, a second disk of that many MiB, all zeros (a hole)."""
    folder.mkdir(parents=True, exist_ok=True)
    blank = ""
    if blank_mib:
        with open(folder / "disk1.dump", "wb") as stream:
            stream.truncate(blank_mib << 20)
        blank = f"disk1_ivname = disk/1\ndisk1_dump = disk1.dump\ndisk1_size = {blank_mib}\n"
    dump = make_raw_disk(folder / "disk0.dump", size)
    if random_mib:
        rng = random.Random(7)
        step = size // random_mib
        with open(dump, "r+b") as stream:
            for index in range(random_mib):
                stream.seek(index * step)
                stream.write(rng.randbytes(1 << 20))
    config = folder / "config.ini"
    config.write_text(
        f"""[export]
version = 0
os = debootstrap+default
compression = none

[instance]
name = {name}
hypervisor = kvm
disk_template = plain
maxmem = 512
minmem = 512
memory = 512
vcpus = 1
tags =
nic_count = 1
nic0_mac = aa:00:00:11:22:33
nic0_ip = None
nic0_mode = bridged
nic0_link = br0
disk_count = {2 if blank_mib else 1}
disk0_ivname = disk/0
disk0_dump = disk0.dump
disk0_size = {-(-size // (1 << 20))}
{blank}
[hypervisor]
boot_order = disk

[backend]
vcpus = 1
maxmem = 512
minmem = 512
auto_balance = True

[os]
"""
    )
    return config


def write_kvm_export(folder: Path) -> Path:
    """A Ganeti 3.0 ``gnt-backup export`` folder of a kvm instance
    ``web1.example.com`` with two disks (24 and 6 MiB, dumps named by UUID
    as Ganeti does; virtio disks and NIC, ``use_guest_agent``)."""
    folder.mkdir(parents=True)
    make_raw_disk(folder / "0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21", 24 * MIB)
    make_raw_disk(folder / "7d1e6b0a-5f3c-4e8b-a2c4-9b8f0e1d2c3a", 6 * MIB, seed=5)
    (folder / "config.ini").write_text(
        """[export]
version = 0
timestamp = 1714480000
source = 3f1c2b7e-node
os = debootstrap+default
compression = none

[instance]
name = web1.example.com
maxmem = 1024
minmem = 512
memory = 1024
vcpus = 2
disk_template = plain
hypervisor = kvm
tags = prod web
nic0_mac = aa:00:00:35:d1:9e
nic0_ip = None
nic0_network = None
nic0_name = None
nic0_mode = bridged
nic0_link = br0
nic0_vlan =
nic_count = 1
disk0_ivname = disk/0
disk0_dump = 0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21
disk0_size = 24
disk0_name = None
disk1_ivname = disk/1
disk1_dump = 7d1e6b0a-5f3c-4e8b-a2c4-9b8f0e1d2c3a
disk1_size = 6
disk1_name = None
disk_count = 2

[hypervisor]
boot_order = disk
disk_type = paravirtual
nic_type = paravirtual
use_guest_agent = True
kernel_path =

[backend]
always_failover = False
auto_balance = True
maxmem = 1024
minmem = 512
spindle_use = 1
vcpus = 2

[os]
variant = bookworm

[os_private]
"""
    )
    return folder


# Raw tar records, for archives tarfile refuses to write (hostile ones):
# every field as given, checksum right.


def checksummed(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def ustar(
    name: str, size: int = 0, typeflag: bytes = b"0", linkname: str = "", size_field: bytes | None = None
) -> bytes:
    """One 512-byte ustar header (fields as given, checksum right)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = typeflag
    info.linkname = linkname
    info.mode = 0o644
    if typeflag in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 5
    header = bytearray(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")[:512])
    header[0:100] = name.encode()[:100].ljust(100, b"\0")  # exactly as given, even absolute
    if size_field is not None:
        header[124:136] = size_field.ljust(12, b"\0")
    return checksummed(header)


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def entry(name: str, data: bytes = b"", typeflag: bytes = b"0", linkname: str = "") -> bytes:
    """A member: header and padded data."""
    return ustar(name, len(data), typeflag, linkname) + padded(data)


def pax(records: dict[str, str], typeflag: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        line = f" {key}={value}\n".encode()
        length = len(line) + 1
        while len(str(length)) + len(line) != length:
            length = len(str(length)) + len(line)
        body += str(length).encode() + line
    return entry("././@PaxHeader", body, typeflag)


def gnu_longname(name: str) -> bytes:
    return entry("././@LongLink", name.encode() + b"\0", b"L")


EOA = b"\0" * 1024


class LocalGlance:
    """A running ``../shared/tools/glance-local`` (Glance 33, no Keystone),
    as the ``glance`` fixture gives it.

    :ivar url: the Image API endpoint.
    :ivar env: ``OS_*`` variables that point openstacksdk (and so
        ``ovfconverter --upload``) at it, as a user's environment would.
    :ivar home: the tool's folder (its venv holds Glance's metadefs).
    """

    def __init__(self, values: dict[str, str]) -> None:
        self.url = values["OS_IMAGE_URL"]
        self.env = {"OS_AUTH_TYPE": "none", "OS_ENDPOINT": self.url, "OS_IMAGE_ENDPOINT_OVERRIDE": self.url}
        self.home = Path(values["GLANCE_LOCAL_LOG"]).parents[2]

    def connection(self):  # type: ignore[no-untyped-def]
        """A fresh openstacksdk connection to it."""
        import openstack

        return openstack.connect(
            auth_type="none",
            auth={"endpoint": self.url},
            image_endpoint_override=self.url,
            load_yaml_config=False,
            load_envvars=False,
        )

    def image_ids(self) -> set[str]:
        """Every image's id."""
        return {image.id for image in self.connection().image.images()}


# --------------------------------------------------------------------------
# Images whose allocation tables point every block at one block of data
# (issue 12): a few hundred KiB that convert into their whole virtual size
# of real data.  Built from a real image qemu-img makes, whose first block
# holds data, by rewriting its tables.


def _first_block_image(path: Path, fmt: str, virtual: int, *options: str) -> bytearray:
    raw = path.with_suffix(".src.raw")
    with open(raw, "wb") as stream:
        stream.truncate(virtual)
        stream.write((b"SHARED DATA BLOCK " * 116509)[: 2 << 20])  # 2 MiB: a block of every format
    convert(raw, path, fmt, *options)
    raw.unlink()
    return bytearray(path.read_bytes())


def _shared_qcow2(data: bytearray, virtual: int) -> None:
    import struct

    cluster = 1 << struct.unpack_from(">I", data, 20)[0]
    l1 = struct.unpack_from(">Q", data, 40)[0]
    entries = virtual // cluster
    assert entries <= cluster // 8, "one L2 table only"
    l2 = struct.unpack_from(">Q", data, l1)[0] & 0x00FFFFFFFFFFFE00
    first = struct.unpack_from(">Q", data, l2)[0]
    for index in range(entries):
        struct.pack_into(">Q", data, l2 + 8 * index, first)


def _shared_vdi(data: bytearray, virtual: int) -> None:
    import struct

    bmap = struct.unpack_from("<I", data, 0x154)[0]
    blocks = struct.unpack_from("<I", data, 0x180)[0]
    for index in range(blocks):
        struct.pack_into("<I", data, bmap + 4 * index, 0)


def _shared_vmdk(data: bytearray, virtual: int) -> None:
    import struct

    grains_per_table = struct.unpack_from("<I", data, 44)[0]
    tables = -(-(struct.unpack_from("<Q", data, 12)[0] // struct.unpack_from("<Q", data, 20)[0]) // grains_per_table)
    gd, rgd = struct.unpack_from("<Q", data, 56)[0] * 512, struct.unpack_from("<Q", data, 48)[0] * 512
    first = struct.unpack_from("<I", data, struct.unpack_from("<I", data, gd)[0] * 512)[0]
    for directory in (gd, rgd):
        for table in range(tables):
            start = struct.unpack_from("<I", data, directory + 4 * table)[0] * 512
            for index in range(grains_per_table):
                struct.pack_into("<I", data, start + 4 * index, first)


def _shared_vhd(data: bytearray, virtual: int) -> None:
    import struct

    dynamic = struct.unpack_from(">Q", data, 16)[0]
    bat = struct.unpack_from(">Q", data, dynamic + 16)[0]
    entries = struct.unpack_from(">I", data, dynamic + 28)[0]
    first = struct.unpack_from(">I", data, bat)[0]
    for index in range(entries):
        struct.pack_into(">I", data, bat + 4 * index, first)


SHARED_BLOCK_FORMATS = {
    "qcow2": ("qcow2", _shared_qcow2, ()),
    "vdi": ("vdi", _shared_vdi, ()),
    "vmdk": ("vmdk", _shared_vmdk, ("subformat=monolithicSparse",)),
    "vhd": ("vpc", _shared_vhd, ("subformat=dynamic",)),
}


def shared_block_image(path: Path, kind: str, virtual: int) -> Path:
    """An image (``qcow2``, ``vdi``, ``vmdk`` monolithicSparse, ``vhd``
    dynamic) of ``virtual`` bytes whose every allocation-table entry points
    at its one block of data (``SHARED DATA BLOCK ...``)."""
    fmt, rewrite, options = SHARED_BLOCK_FORMATS[kind]
    data = _first_block_image(path, fmt, virtual, *options)
    rewrite(data, virtual)
    path.write_bytes(bytes(data))
    return path


ATTACK_SECONDS = 60
"""An attack must be refused within this many seconds (a guard: a run
taking longer is killed and fails the test; not a speed measurement)."""
ATTACK_RSS = 1 << 30
"""...using at most this much memory (ovfconverter and qemu-img alike)."""

_MEASURED = """\
import os, resource, sys
from ovfconverter.cli.main import main
try:
    status = main(sys.argv[1:])
finally:
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    with open(os.environ["OVFCONVERTER_TEST_RSS"], "w") as report:
        report.write(str(peak * 1024))
sys.exit(status)
"""


def run_cli_bounded(
    *args: str, tmp: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the command line as :func:`run_cli` does, with ``TMPDIR`` a fresh
    folder under ``tmp`` (that must stay empty), killed after
    :data:`ATTACK_SECONDS`; returns the result and the peak resident memory
    of ovfconverter and of its qemu-img children, in bytes."""
    report = tmp / "rss"
    scratch = tmp / "tmpdir"
    scratch.mkdir()
    full_env = dict(os.environ, OVFCONVERTER_TEST_RSS=str(report), TMPDIR=str(scratch))
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=ATTACK_SECONDS,
        cwd=ROOT,
    )
    assert not os.listdir(scratch), f"left in TMPDIR: {os.listdir(scratch)}"
    return proc, int(report.read_text())


# --- OVAs shaped like VMware's and VirtualBox's, for the boot tests ----------

BOOT_MAC = "52:54:00:0f:c0:01"
"""The MAC address the boot machines' NIC has (the boot report names it)."""


def boot_machines() -> dict[str, tuple[object, str]]:
    """Machines shaped as the issue's packages describe them, with the
    make-boot-disk firmware (``bios``/``efi``) their disk needs: a VMware OVA
    (LSI Logic + E1000, other 64-bit Linux), a VirtualBox OVA (AHCI +
    virtio-net, Debian_64) and a VMware EFI appliance (pvscsi + VmxNet3)."""
    from ovfconverter.model.machine import (
        Bus,
        Controller,
        ControllerModel,
        Cpus,
        Disk,
        GuestOS,
        Machine,
        Memory,
        Nic,
        NicModel,
        OsFamily,
        VMwareSettings,
    )

    linux = GuestOS(
        family=OsFamily.LINUX, description="Other 3.x or later Linux (64-bit)", vmware_os_type="otherLinux64Guest"
    )
    debian = GuestOS(family=OsFamily.LINUX, distribution="debian", virtualbox_os_type="Debian_64")
    return {
        "vmware": (
            Machine(
                name="ovfconv-boot-vmware",
                os=linux,
                cpus=Cpus(1),
                memory=Memory(256 << 20),
                controllers=(Controller(Bus.SCSI, ControllerModel.LSILOGIC, source_subtype="lsilogic"),),
                disks=(Disk(controller=0),),
                nics=(Nic(mac=BOOT_MAC, model=NicModel.E1000),),
            ),
            "bios",
        ),
        "virtualbox": (
            Machine(
                name="ovfconv-boot-vbox",
                os=debian,
                cpus=Cpus(1),
                memory=Memory(256 << 20),
                controllers=(Controller(Bus.SATA, ControllerModel.AHCI, source_subtype="AHCI"),),
                disks=(Disk(controller=0),),
                nics=(Nic(mac=BOOT_MAC, model=NicModel.VIRTIO),),
            ),
            "bios",
        ),
        "efi": (
            Machine(
                name="ovfconv-boot-efi",
                os=linux,
                cpus=Cpus(1),
                memory=Memory(384 << 20),
                controllers=(Controller(Bus.SCSI, ControllerModel.PVSCSI, source_subtype="VirtualSCSI"),),
                disks=(Disk(controller=0),),
                nics=(Nic(mac=BOOT_MAC, model=NicModel.VMXNET3),),
                vmware=VMwareSettings(extra_config=(("firmware", "efi"),)),
            ),
            "efi",
        ),
    }


_OTHER_LINUX_64 = (
    '<OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest"><Info>os</Info>'
    "<Description>Other Linux (64-bit)</Description></OperatingSystemSection>"
)
BOOT_OVA_STYLES = {
    # controller Item, NIC ResourceSubType, OperatingSystemSection, memory (MiB), VMware settings
    "vmware": (
        "<rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType>",
        "E1000",
        _OTHER_LINUX_64,
        256,
        "",
    ),
    "virtualbox": (
        "<rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType>",
        "virtio",
        '<OperatingSystemSection ovf:id="96"><Info>os</Info><Description>Debian_64</Description>'
        "</OperatingSystemSection>",
        256,
        "",
    ),
    # a vSphere EFI appliance: firmware as vSphere exports write it; OVMF needs more than 256 MiB
    "vmware-efi": (
        "<rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType>",
        "VmxNet3",
        _OTHER_LINUX_64,
        384,
        '<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>',
    ),
}


def boot_ova(path: Path, raw: Path, style: str, name: str) -> Path:
    """An OVA of ``raw`` (as streamOptimized VMDK) whose one disk hangs on
    the controller ``style`` says (``vmware``: LSI Logic SCSI + E1000, other
    64-bit Linux; ``virtualbox``: SATA AHCI + virtio-net, Debian 64-bit;
    ``vmware-efi``: VMware paravirtual SCSI + VmxNet3, EFI in ``vmw:Config``)."""
    controller, nic, os_section, memory_mib, vmware_settings = BOOT_OVA_STYLES[style]
    vmdk = convert(raw, path.with_suffix(".vmdk"), "vmdk", "subformat=streamOptimized")
    capacity = raw.stat().st_size
    ovf = f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="{RASD}" xmlns:vssd="{VSSD}" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:id="file0" ovf:href="disk0.vmdk" ovf:size="{vmdk.stat().st_size}"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:diskId="disk0" ovf:fileRef="file0" ovf:capacity="{capacity}" ovf:format="{FORMAT_URIS["streamOptimized"]}"/>
  </DiskSection>
  <NetworkSection><Info>nets</Info><Network ovf:name="bridged"><Description>n</Description></Network></NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>vm</Info><Name>{name}</Name>
    {os_section}
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>cpu</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>mem</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>{memory_mib}</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>ctl</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        {controller}</Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk0</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/disk0</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>bridged</rasd:Connection>
        <rasd:ElementName>eth0</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>{nic}</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      {vmware_settings}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""
    make_ova(path, [(f"{name}.ovf", ovf.encode()), ("disk0.vmdk", vmdk)])
    vmdk.unlink()
    return path


@dataclass
class Pki:
    """A small public key infrastructure built with cryptography, as PEM
    files in one folder: a root CA, an intermediate CA it issued, a
    code-signing certificate the intermediate issued (``signer``), and a
    self-signed certificate (``self_signed``) unrelated to them.  Each
    ``*_key`` / ``*_cert`` attribute is a path."""

    folder: Path
    root_cert: Path
    intermediate_cert: Path
    signer_key: Path
    signer_cert: Path
    self_signed_key: Path
    self_signed_cert: Path


def make_pki(
    folder: Path,
    days: int = 30,
    names: tuple[str, str, str] = ("Test Root CA", "Test Intermediate CA", "Appliance Signing"),
) -> Pki:
    """Build a :class:`Pki` in ``folder`` (certificates valid from a day
    ago for ``days`` days; negative ``days`` make them expired; ``names``:
    the root's, the intermediate's and the signer's common names)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=days))
    if days < 0:
        start, end = now - datetime.timedelta(days=-days * 2), now + datetime.timedelta(days=days)

    def cert(cn: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        )
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    def write(name: str, obj: Any) -> Path:
        path = folder / name
        if hasattr(obj, "private_bytes"):
            data = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        else:
            data = obj.public_bytes(serialization.Encoding.PEM)
        path.write_bytes(data)
        return path

    folder.mkdir(parents=True, exist_ok=True)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    self_key = ec.generate_private_key(ec.SECP256R1())
    root_cn, inter_cn, signer_cn = names
    root = cert(root_cn, root_key, root_cn, root_key, True)
    inter = cert(inter_cn, inter_key, root_cn, root_key, True)
    signer = cert(signer_cn, signer_key, inter_cn, inter_key, False)
    self_signed = cert("Self Signed Publisher", self_key, "Self Signed Publisher", self_key, False)
    return Pki(
        folder=folder,
        root_cert=write("root.pem", root),
        intermediate_cert=write("intermediate.pem", inter),
        signer_key=write("signer.key", signer_key),
        signer_cert=write("signer.pem", signer),
        self_signed_key=write("self.key", self_key),
        self_signed_cert=write("self.pem", self_signed),
    )


# COT, the Common OVF Tool: an independent OVF reader (pip ``cot``, in a
# scratch venv; the ``cot`` fixture of conftest.py installs it).

COT_VERSION = "2.2.1"
COT_VENV = Path(os.environ.get("OVFCONVERTER_COT_VENV", Path.home() / ".cache" / f"ovfconverter-cot-{COT_VERSION}"))
COT_INSTALL_SECONDS = 120


def run_cot(cot: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    qemu = shutil.which("qemu-img")
    assert qemu
    env["PATH"] = f"{os.path.dirname(qemu)}:{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return subprocess.run([str(cot), *args], capture_output=True, text=True, env=env, timeout=300)
