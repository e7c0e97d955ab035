"""Building OVF packages at test time, independently of ovfconverter's own
writer: descriptors from plain string templates, disks with qemu-img, OVAs
with Python's tarfile.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

DATA = Path(__file__).parent / "data"
OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"

FORMAT_URIS = {
    "streamOptimized": "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
    "monolithicSparse": "http://www.vmware.com/interfaces/specifications/vmdk.html#monolithicSparse",
    "qcow2": "http://www.gnome.org/~markmc/qcow-image-format.html",
    "raw": "http://en.wikipedia.org/wiki/Byte",
    "vhd": "http://technet.microsoft.com/en-us/virtualserver/bb676673.aspx",
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


def descriptor(vm: VmSpec) -> str:
    """An OVF 1.0 descriptor for ``vm`` (prefix-free, default namespace)."""
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
            f"""      <Item>
        <rasd:ElementName>disk{index}</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/disk{index}</rasd:HostResource>
        <rasd:InstanceID>{instance}</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>"""
        )
        instance += 1
    for connection, mac in vm.nics:
        conn = f"<rasd:Connection>{connection}</rasd:Connection>" if connection else ""
        addr = f"<rasd:Address>{mac}</rasd:Address>" if mac else ""
        items.append(
            f"""      <Item>
        {addr}{conn}
        <rasd:ElementName>nic{instance}</rasd:ElementName>
        <rasd:InstanceID>{instance}</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>"""
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
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="{OVF1}" xmlns:ovf="{OVF1}" xmlns:rasd="{RASD}" xmlns:vssd="{VSSD}" ovf:version="1.0">
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
    args = ["qemu-img", "convert", "-f", "raw", "-O", fmt]
    for option in options:
        args += ["-o", option]
    subprocess.run([*args, str(raw), str(dest)], check=True, capture_output=True)
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


def make_ova(path: Path, members: list[tuple[str, Path | bytes]], fmt: int = tarfile.USTAR_FORMAT) -> Path:
    """A tar of ``members`` (name, file or bytes), in that order."""
    with tarfile.open(path, "w", format=fmt) as tar:
        for name, content in members:
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


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
    from conftest import make_raw_disk

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


def write_ganeti_export(folder: Path, name: str, size: int, random_mib: int = 0) -> Path:
    """A ``gnt-backup export`` folder (Ganeti 2.6+ layout) with one disk of
    ``size`` bytes; ``random_mib`` MiB of it (spread out) incompressible."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = _make_raw_disk(folder / "disk0.dump", size)
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
disk_count = 1
disk0_ivname = disk/0
disk0_dump = disk0.dump
disk0_size = {-(-size // (1 << 20))}

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


def _make_raw_disk(path: Path, size: int) -> Path:
    from conftest import make_raw_disk

    return make_raw_disk(path, size)
