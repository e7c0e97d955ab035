"""Deciding what an export writes: checking a Ganeti ``config.ini`` and
describing the instance as an OVF envelope.

Checks follow what Ganeti's own suite expects of its converter (a name, a
CPU count, memory, an OS unless ``--external``, NIC modes Ganeti knows,
every disk dump present as a plain file beside config.ini), with every
problem listed in one refusal.  A missing hypervisor is allowed (the
pipeline warns): Ganeti's importer takes the cluster's default for it, and
the folders ``import`` writes from packages without a Ganeti section have
none.

The envelope carries what VMware and VirtualBox need (VirtualSystemType,
CPU and memory in ``byte * 2^20``, an LSI Logic SCSI controller with the
disks on it, E1000 NICs with Connection and MAC, one Network per Ganeti
network or link), and, unless ``--external``, a Ganeti section with
everything a Ganeti -> OVF -> Ganeti round trip needs.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass

from ovfconverter.errors import ConfigError, OptionError, UnsafeInputError
from ovfconverter.exporter.options import DIGESTS, OVF_VERSIONS, ExportOptions
from ovfconverter.model.envelope import (
    Envelope,
    FileReference,
    Network,
    OperatingSystem,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import (
    HYPERVISORS,
    NIC_MODES,
    GanetiDisk,
    GanetiNic,
    GanetiSection,
    InstanceExport,
    normalize_mac,
    validate_instance_name,
    validate_network_name,
    validate_os_name,
    validate_param_key,
    validate_tag,
    validate_value,
)
from ovfconverter.package.paths import check_links

MAX_MEMBER_NAME = 100

# Ganeti OS names -> CIM_OperatingSystem.OsType (DSP0243 OperatingSystemSection ovf:id).
_OS_IDS = (
    ("ubuntu", 94, "Ubuntu 64-bit"),
    ("debian", 96, "Debian 64-bit"),
    ("debootstrap", 96, "Debian 64-bit"),
    ("centos", 107, "CentOS 64-bit"),
    ("rhel", 80, "Red Hat Enterprise Linux 64-bit"),
    ("redhat", 80, "Red Hat Enterprise Linux 64-bit"),
    ("fedora", 101, "Linux 64-bit"),
    ("sles", 85, "SUSE Linux Enterprise Server 64-bit"),
    ("suse", 83, "SUSE 64-bit"),
    ("freebsd", 78, "FreeBSD 64-bit"),
    ("linux", 101, "Linux 64-bit"),
)


@dataclass(frozen=True)
class DiskSource:
    """A disk of the instance to export.

    :ivar dump: the real path of its raw dump.
    :ivar size_mib: ``diskN_size`` (MiB).
    """

    index: int
    dump: str
    size_mib: int


@dataclass(frozen=True)
class ProducedFile:
    """A disk image written for the package.

    :ivar href: its name in the package.
    :ivar size: its stored size in bytes (compressed when compressed).
    :ivar capacity: the disk's virtual size in bytes.
    :ivar populated: bytes of data it holds (allocated in the dump), or
        ``None``.
    """

    href: str
    size: int
    capacity: int
    populated: int | None = None


def os_type(os_name: str | None) -> tuple[int, str]:
    """The CIM OsType number and a description for a Ganeti OS name: a
    known distribution in the name gives its number, anything else 1
    (Other)."""
    lowered = (os_name or "").lower()
    for needle, number, label in _OS_IDS:
        if needle in lowered:
            return number, f"{label} (Ganeti OS {os_name})"
    return 1, f"Ganeti OS {os_name}" if os_name else "Unknown operating system"


def _dump_path(folder: str, dump: str, index: int, allow_hardlinks: bool) -> str:
    """Resolve ``diskN_dump``: a plain file name in config.ini's folder, a
    regular file with one hard link (unless ``allow_hardlinks``)."""
    label = f"disk{index}_dump {dump!r}"
    if "/" in dump or "\\" in dump or dump in (".", "..") or any(ord(ch) < 32 for ch in dump):
        raise ConfigError(f"{label} is not a plain file name in config.ini's folder; refusing")
    base = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(base, dump))
    if os.path.dirname(real) != base:
        raise UnsafeInputError(f"{label} resolves to {real!r}, outside config.ini's folder; refusing")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise ConfigError(f"{label} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError(f"{label} is not a regular file; refusing")
    check_links(info, label, dump, allow_hardlinks)
    return real


def _check(problems: list[str], validate: Callable[[str, str], object], value: str, what: str) -> None:
    try:
        validate(value, what)
    except OptionError as exc:
        problems.append(exc.message)


def _named(validate: Callable[[str], object]) -> Callable[[str, str], object]:
    return lambda value, what: validate(value)


def value_problems(config: InstanceExport, external: bool) -> list[str]:
    """Every ``config.ini`` value the OVF would carry that ovfconverter's
    own import would not read back unchanged, as one message each naming
    the section and key: control characters (which XML cannot hold, or
    which would break a config.ini line; a continuation line is a newline),
    ``%`` (Ganeti interpolates it), surrounding white space (XML readers
    strip it), malformed names, tags, network names and parameter names.
    Values the Ganeti section carries are checked unless ``external``."""
    problems: list[str] = []
    for index, nic in enumerate(config.nics):
        if nic.network is not None:
            _check(problems, _named(validate_network_name), nic.network, "")
        for key in ("ip", "link", "name", "vlan"):
            value = getattr(nic, key)
            if value is not None:
                _check(problems, validate_value, value, f"[instance] nic{index}_{key}")
    if external:
        return problems
    if config.os:
        _check(problems, _named(validate_os_name), config.os, "")
    for what, value in (
        ("[export] version", config.export_version),
        ("[instance] hypervisor", config.hypervisor),
        ("[instance] disk_template", config.disk_template),
    ):
        if value:
            _check(problems, validate_value, value, what)
    for tag in config.tags:
        _check(problems, _named(validate_tag), tag, "")
    for index, disk in enumerate(config.disks):
        for key in ("ivname", "name"):
            value = getattr(disk, key)
            if value is not None:
                _check(problems, validate_value, value, f"[instance] disk{index}_{key}")
    sections = (("hypervisor", config.hypervisor_params), ("backend", config.backend), ("os", config.os_params))
    for section, params in sections:
        for key, value in params.items():
            _check(problems, validate_param_key, key, f"[{section}] parameter")
            _check(problems, validate_value, value, f"[{section}] {key}")
    return problems


def check_config(config: InstanceExport, folder: str, options: ExportOptions, where: str) -> list[DiskSource]:
    """Check that ``config`` can be exported and locate its disk dumps.

    :param folder: config.ini's folder.
    :param where: config.ini's name, for messages.
    :returns: the disks, in order.
    :raises ConfigError: listing every problem found.
    """
    problems: list[str] = []
    name = options.name or config.name
    if not name:
        problems.append("no instance name ([instance] name)")
    else:
        try:
            validate_instance_name(name, "instance name")
        except OptionError as exc:
            problems.append(exc.message)
    if config.vcpus is None or config.vcpus < 1:
        problems.append("no CPU count ([backend] vcpus)")
    if config.maxmem is None or config.maxmem < 1:
        problems.append("no memory size ([backend] maxmem or memory)")
    if not options.external:
        if config.hypervisor and config.hypervisor not in HYPERVISORS:
            problems.append(f"hypervisor {config.hypervisor!r} is not one Ganeti knows")
        if not config.os:
            problems.append("no OS ([export] os; --external exports without it)")
    compression = (config.export_extra.get("compression") or "none").strip().lower()
    if compression not in ("none", "gzip"):
        problems.append(f"[export] compression {compression!r} is not supported (none or gzip)")
    problems += value_problems(config, options.external)
    for index, nic in enumerate(config.nics):
        if nic.mode is not None and nic.mode not in NIC_MODES:
            problems.append(f"nic{index}_mode {nic.mode!r} is not a Ganeti NIC mode ({', '.join(sorted(NIC_MODES))})")
        if nic.mac is not None and nic.mac.lower() not in ("auto", "generate"):
            try:
                normalize_mac(nic.mac)
            except OptionError as exc:
                problems.append(f"nic{index}_mac: {exc.message}")
    disks: list[DiskSource] = []
    for index, disk in enumerate(config.disks):
        if disk.dump is None:
            problems.append(f"disk{index} has no dump (disk{index}_dump)")
            continue
        try:
            disks.append(DiskSource(index, _dump_path(folder, disk.dump, index, options.allow_hardlinks), disk.size))
        except (ConfigError, UnsafeInputError) as exc:
            problems.append(exc.message)
    if len(problems) == 1:
        raise ConfigError(f"cannot export: {problems[0]}", where)
    if problems:
        raise ConfigError(f"cannot export, {len(problems)} problems: " + "; ".join(problems), where)
    return disks


def member_names(name: str, count: int, extension: str, compressed: bool) -> tuple[str, str, list[str]]:
    """File names of the package: descriptor, manifest and disks, each at
    most 100 bytes (a tar header's limit): ``NAME.ovf``, ``NAME.mf``,
    ``NAME-diskN.EXT[.gz]``, shortened when the name is too long."""
    suffix = ".gz" if compressed else ""
    stem = (
        name
        if len(name.encode()) <= MAX_MEMBER_NAME - 4
        else name.encode()[: MAX_MEMBER_NAME - 4].decode(errors="ignore")
    )
    disks = [f"{name}-disk{i}.{extension}{suffix}" for i in range(count)]
    if any(len(d.encode()) > MAX_MEMBER_NAME for d in disks):
        disks = [f"disk{i}.{extension}{suffix}" for i in range(count)]
    return f"{stem}.ovf", f"{stem}.mf", disks


def _network_name(nic: GanetiNic) -> str:
    return nic.network or nic.link or nic.mode or "default"


def _network_description(nic: GanetiNic) -> str:
    if nic.network:
        return f"Ganeti network {nic.network}"
    if nic.link:
        return f"{(nic.mode or 'bridged').capitalize()} link {nic.link}"
    return f"{(nic.mode or 'Default').capitalize()} network of the Ganeti cluster"


def _ganeti_section(config: InstanceExport) -> GanetiSection:
    backend = {key: value for key, value in config.backend.items() if value is not None}
    for key in ("vcpus", "maxmem", "minmem", "memory"):
        if key not in backend and key in config.instance_extra:
            backend[key] = config.instance_extra[key]
    return GanetiSection(
        version=config.export_version or "0",
        tags=tuple(config.tags),
        disk_template=config.disk_template,
        os_name=config.os,
        os_parameters=dict(config.os_params),
        hypervisor_name=config.hypervisor,
        hypervisor_parameters=dict(config.hypervisor_params),
        backend_parameters=backend,
        nics=tuple(
            GanetiNic(
                mac=nic.mac, ip=nic.ip, mode=nic.mode, link=nic.link, network=nic.network, name=nic.name, vlan=nic.vlan
            )
            for nic in config.nics
        ),
        disks=tuple(GanetiDisk(ivname=disk.ivname, name=disk.name) for disk in config.disks),
    )


def build_envelope(
    config: InstanceExport, options: ExportOptions, files: list[ProducedFile], format_uri: str
) -> Envelope:
    """Describe the instance as an OVF envelope.

    :param files: the disk images written, in disk order.
    :param format_uri: their ``ovf:format``.
    """
    name = options.name or config.name
    assert name is not None and config.vcpus is not None and config.maxmem is not None
    refs = tuple(
        FileReference(id=f"file{i}", href=f.href, size=f.size, compression="gzip" if options.compress else None)
        for i, f in enumerate(files)
    )
    disks = tuple(
        VirtualDisk(
            disk_id=f"disk{i}", file_ref=f"file{i}", capacity=f.capacity, format=format_uri, populated_size=f.populated
        )
        for i, f in enumerate(files)
    )
    networks: dict[str, Network] = {}
    for nic in config.nics:
        networks.setdefault(_network_name(nic), Network(_network_name(nic), _network_description(nic)))

    items = [
        ResourceItem(
            resource_type=ResourceType.PROCESSOR,
            instance_id="1",
            element_name=f"{config.vcpus} virtual CPU(s)",
            description="Number of virtual CPUs",
            allocation_units="hertz * 10^6",
            virtual_quantity=config.vcpus,
        ),
        ResourceItem(
            resource_type=ResourceType.MEMORY,
            instance_id="2",
            element_name=f"{config.maxmem} MB of memory",
            description="Memory size",
            allocation_units="byte * 2^20",
            virtual_quantity=config.maxmem,
        ),
    ]
    next_id = 3
    controllers: list[str] = []
    for index in range(len(files)):
        slot = index % 15  # SCSI IDs 0-15 without the controller's own 7
        if slot == 0:
            controller = str(next_id)
            next_id += 1
            controllers.append(controller)
            items.append(
                ResourceItem(
                    resource_type=ResourceType.PARALLEL_SCSI_HBA,
                    instance_id=controller,
                    element_name=f"SCSI controller {len(controllers) - 1}",
                    description="SCSI controller",
                    resource_subtype="lsilogic",
                    address=str(len(controllers) - 1),
                )
            )
        items.append(
            ResourceItem(
                element="StorageItem" if options.ovf_version.startswith("2") else "Item",
                resource_type=ResourceType.DISK_DRIVE,
                instance_id=str(next_id),
                element_name=f"disk{index}",
                description=f"Ganeti disk {index}",
                host_resources=(f"ovf:/disk/disk{index}",),
                parent=controllers[-1],
                address_on_parent=str(slot if slot < 7 else slot + 1),
            )
        )
        next_id += 1
    for index, nic in enumerate(config.nics):
        mac = nic.mac if nic.mac and nic.mac.lower() not in ("auto", "generate") else None
        network = _network_name(nic)
        items.append(
            ResourceItem(
                element="EthernetPortItem" if options.ovf_version.startswith("2") else "Item",
                resource_type=ResourceType.ETHERNET_ADAPTER,
                instance_id=str(next_id),
                element_name=f"ethernet{index}",
                description=f"E1000 ethernet adapter on {network}",
                resource_subtype="E1000",
                automatic_allocation=True,
                connections=(network,),
                address=normalize_mac(mac) if mac else None,
            )
        )
        next_id += 1

    os_id, os_description = os_type(config.os)
    system = VirtualSystem(
        id=name,
        name=name,
        info="A virtual machine exported from Ganeti",
        operating_system=OperatingSystem(id=os_id, description=os_description),
        hardware=(VirtualHardware(system_types=tuple(options.virtual_system_type.split()), items=tuple(items)),),
    )
    return Envelope(
        version=options.ovf_version,
        files=refs,
        disks=disks,
        networks=tuple(networks.values()),
        virtual_systems=(system,),
        ganeti=None if options.external else _ganeti_section(config),
    )


_SAFE_SYSTEM_TYPE = re.compile(r"^[A-Za-z0-9_.+-]+( [A-Za-z0-9_.+-]+)*$")


def check_options(options: ExportOptions) -> None:
    """Refuse option values that cannot be honoured.

    :raises OptionError: an unknown digest or OVF version, a bad
        VirtualSystemType or compression level.
    """
    if options.digest not in DIGESTS:
        raise OptionError(f"digest {options.digest!r} is not one of {', '.join(DIGESTS)}")
    if options.ovf_version not in OVF_VERSIONS:
        raise OptionError(f"OVF version {options.ovf_version!r} is not one of {', '.join(OVF_VERSIONS)}")
    if not _SAFE_SYSTEM_TYPE.match(options.virtual_system_type):
        raise OptionError(f"VirtualSystemType {options.virtual_system_type!r} is not a list of words (vmx-07)")
    if options.compression_level is not None and not 1 <= options.compression_level <= 9:
        raise OptionError(f"compression level {options.compression_level} is not between 1 and 9")
    if options.threads is not None and not 1 <= options.threads <= 64:
        raise OptionError(f"thread count {options.threads} is not between 1 and 64")
    if options.name is not None:
        validate_instance_name(options.name, "--name")
