"""Deciding what an import produces, before any disk is touched.

From the envelope and the caller's options this builds the Ganeti export's
``config.ini`` values and the list of disks to write.  Every value that
reaches ``config.ini`` is validated here as Ganeti would (names, MACs, NIC
modes, numbers, no control characters), whichever side it came from.

Precedence, per key: the command line, then the Ganeti section, then the
standard OVF sections (VirtualHardwareSection for CPUs, memory, disks and
NICs).  Memory and CPU count come from the hardware when it states them; the
Ganeti section supplies what plain OVF cannot say (``minmem``, ``auto_balance``...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from ovfconverter.errors import DescriptorError, OptionError, PackageError
from ovfconverter.importer.options import ImportOptions
from ovfconverter.model.envelope import Envelope, FileReference, VirtualDisk, VirtualSystem
from ovfconverter.model.ganeti import (
    BACKEND_PARAMETERS,
    DISK_TEMPLATES,
    HYPERVISORS,
    MAX_DISKS,
    MAX_NICS,
    NIC_MODES,
    GanetiNic,
    GanetiSection,
    InstanceExport,
    normalize_bool,
    normalize_mac,
    validate_instance_name,
    validate_network_name,
    validate_os_name,
    validate_param_key,
    validate_tag,
    validate_value,
)
from ovfconverter.model.hardware import (
    Hardware,
    NicAttachment,
    describe_hardware,
    envelope_problems,
    parse_host_resource,
    unattached_disks,
    unused_disk_notes,
)
from ovfconverter.model.units import MIB, bytes_to_mib_ceil, parse_size

_SIZE_PARAMS = ("maxmem", "minmem", "memory")
_INT_PARAMS = ("vcpus", "spindle_use")
_BOOL_PARAMS = ("auto_balance", "always_failover")
_NIC_OPTION_KEYS = ("mode", "link", "mac", "ip", "network", "name", "vlan")


@dataclass
class DiskPlan:
    """One disk of the Ganeti export to be.

    :ivar file: the References/File holding its image, or ``None`` for a
        new empty disk.
    :ivar disk: the DiskSection Disk it comes from, if any.
    :ivar blank_size: size in bytes of a new empty disk (``file`` is
        ``None``).
    :ivar dump: the raw dump's file name in the export folder.
    """

    index: int
    label: str
    file: FileReference | None = None
    disk: VirtualDisk | None = None
    blank_size: int | None = None
    dump: str = ""
    ivname: str = ""
    name: str | None = None


@dataclass
class ImportPlan:
    """Everything an import will write, minus the disk sizes, which are
    known once the images are read.

    :ivar config: the ``config.ini`` values (``disks`` still empty).
    :ivar warnings: what was worked around or ignored.
    """

    system: VirtualSystem
    profile: str | None
    hardware: Hardware
    config: InstanceExport
    disks: list[DiskPlan]
    warnings: list[str] = field(default_factory=list)


def select_system(envelope: Envelope, wanted: str | None, where: str) -> VirtualSystem:
    """Pick the VirtualSystem to import.

    :raises PackageError: none, or several (a VirtualSystemCollection) and
        ``wanted`` does not name one of them.
    """
    systems = envelope.virtual_systems
    if not systems:
        raise PackageError("the descriptor has no VirtualSystem to import", where)
    ids = ", ".join(repr(s.id) for s in systems)
    if wanted is not None:
        for system in systems:
            if system.id == wanted:
                return system
        raise OptionError(f"--virtual-system {wanted!r} is not in the package, which holds {ids}")
    if len(systems) > 1 or envelope.collection_id is not None:
        raise PackageError(
            f"the package is a VirtualSystemCollection of {len(systems)} virtual systems ({ids}); "
            "choose one with --virtual-system ID",
            where,
        )
    return systems[0]


def select_profile(envelope: Envelope, wanted: str | None) -> str | None:
    """Pick the deployment profile: ``wanted``, else the default.

    :raises OptionError: ``wanted`` is not a Configuration of the package.
    """
    if wanted is not None:
        ids = [option.id for option in envelope.deployment_options]
        if wanted not in ids:
            known = ", ".join(repr(i) for i in ids) or "none"
            raise OptionError(f"--deployment-option {wanted!r} is not a profile of the package (profiles: {known})")
        return wanted
    default = envelope.default_configuration()
    return default.id if default else None


def _merge(base: dict[str, str], override: dict[str, str | None]) -> dict[str, str]:
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _checked_params(params: dict[str, str], what: str) -> dict[str, str]:
    for key, value in params.items():
        validate_param_key(key, what)
        validate_value(value, f"{what} {key}")
    return params


def _backend_value(key: str, value: str, source: str) -> str:
    if key in _SIZE_PARAMS:
        return str(parse_size(value) // MIB)
    if key in _INT_PARAMS:
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9) or (key == "vcpus" and int(text) < 1):
            raise OptionError(f"{source} {key} {value!r} is not a positive whole number")
        return str(int(text))
    if key in _BOOL_PARAMS:
        return normalize_bool(value, f"{source} {key}")
    raise OptionError(f"{source} {key!r} is not a Ganeti backend parameter ({', '.join(sorted(BACKEND_PARAMETERS))})")


def _backend(
    hw: Hardware, section: GanetiSection | None, options: ImportOptions, warnings: list[str]
) -> dict[str, str]:
    backend: dict[str, str] = {}
    if section is not None:
        for key, value in section.backend_parameters.items():
            if not value or value.lower() == "auto":
                continue
            try:
                backend[key] = _backend_value(key, value, "Ganeti section backend parameter")
            except OptionError as exc:
                warnings.append(f"{exc.message}; ignored")
    if hw.cpus is not None:
        backend["vcpus"] = str(hw.cpus)
    if hw.memory is not None:
        memory = str(bytes_to_mib_ceil(hw.memory))
        backend["maxmem"] = memory
        if "minmem" not in backend or int(backend["minmem"]) > int(memory):
            backend["minmem"] = memory
    if "memory" in backend:
        memory = backend.pop("memory")
        backend.setdefault("maxmem", memory)
        backend.setdefault("minmem", memory)

    user: dict[str, str | None] = {}
    for key, given in options.backend_parameters.items():
        user[key] = None if given is None else _backend_value(key, given, "-B")
    user_memory = user.get("memory")
    if user_memory is not None:
        del user["memory"]
        user.setdefault("maxmem", user_memory)
        user.setdefault("minmem", user_memory)
    else:
        user.pop("memory", None)
    backend = _merge(backend, user)
    if "maxmem" in backend and "minmem" in backend and int(backend["minmem"]) > int(backend["maxmem"]):
        raise OptionError(f"minmem ({backend['minmem']} MiB) is larger than maxmem ({backend['maxmem']} MiB)")
    if backend.get("maxmem") is not None and backend.get("maxmem") == backend.get("minmem"):
        backend["memory"] = backend["maxmem"]  # for Ganeti before 2.6, which reads [backend] memory
    order = ["vcpus", "maxmem", "minmem", "memory", "auto_balance", "always_failover", "spindle_use"]
    return {key: backend[key] for key in sorted(backend, key=lambda k: (order.index(k) if k in order else 99, k))}


def _nic_from_hardware(attachment: NicAttachment, warnings: list[str]) -> tuple[GanetiNic, str | None]:
    """The NIC an Ethernet Item describes, and the name of the OVF network
    it is connected to when that name is not a NIC mode (a candidate Ganeti
    network, decided by :func:`_nics`)."""
    nic = GanetiNic()
    if attachment.mac:
        try:
            nic.mac = normalize_mac(attachment.mac)
        except OptionError as exc:
            warnings.append(f"Item {attachment.item.label!r}: {exc.message}; a MAC will be generated")
    connection = attachment.connection
    if connection:
        lowered = connection.lower()
        mode = next((m for m in ("bridged", "routed", "openvswitch") if m in lowered), None)
        if mode:
            nic.mode = mode
        else:
            try:
                return nic, validate_network_name(connection)
            except OptionError:
                warnings.append(
                    f"Item {attachment.item.label!r}: network {connection!r} is not a valid Ganeti network name; ignored"
                )
    return nic, None


def _apply_nic_values(nic: GanetiNic, values: dict[str, str | None], source: str) -> None:
    for key, value in values.items():
        if key == "bridge":
            key = "link"
        if key not in _NIC_OPTION_KEYS:
            raise OptionError(f"{source}: unknown NIC parameter {key!r} ({', '.join(_NIC_OPTION_KEYS)})")
        if value is not None and value.strip().lower() in ("", "none"):
            value = None
        setattr(nic, key, value)


def _checked_nic(nic: GanetiNic, index: int) -> GanetiNic:
    what = f"NIC {index}"
    if nic.mac is not None and nic.mac.lower() not in ("auto", "generate"):
        nic.mac = normalize_mac(nic.mac)
    if nic.mode is not None and nic.mode.lower() != "auto" and nic.mode not in NIC_MODES:
        raise OptionError(f"{what}: mode {nic.mode!r} is not a Ganeti NIC mode ({', '.join(sorted(NIC_MODES))})")
    if nic.ip is not None and nic.ip.lower() not in ("auto", "pool"):
        try:
            ipaddress.ip_address(nic.ip)
        except ValueError:
            raise OptionError(f"{what}: IP address {nic.ip!r} is not valid") from None
    if nic.network is not None:
        validate_network_name(nic.network)
    for key in ("link", "name", "vlan"):
        value = getattr(nic, key)
        if value is not None:
            validate_value(value, f"{what} {key}")
    return nic


def _unknown_networks_note(unknown: dict[str, list[int]], cluster_networks: frozenset[str] | None) -> str:
    """One line for the NICs whose network is not a Ganeti network of the
    cluster (or of no known cluster)."""
    parts = []
    for network, indices in unknown.items():
        nics = ", ".join(str(i) for i in indices)
        parts.append(f"NIC{'s' if len(indices) > 1 else ''} {nics} on network {network!r}")
    why = (
        "this cluster has no Ganeti network of that name"
        if cluster_networks is not None
        else "not run on a Ganeti node, so not taken as a Ganeti network"
    )
    return (
        "; ".join(parts) + f": {why}; the cluster's default NIC mode and link apply unless the package gives them "
        "(--net N:network=NAME picks a Ganeti network, --net N:link=BRIDGE a bridge)"
    )


def _nics(
    hw: Hardware,
    section: GanetiSection | None,
    options: ImportOptions,
    warnings: list[str],
    cluster_networks: frozenset[str] | None,
) -> list[GanetiNic]:
    """The NICs: hardware, then Ganeti section, then ``--net``, per key.

    ``gnt-backup import`` refuses a network the cluster lacks, so an OVF
    network (an Item's Connection that is not a NIC mode) becomes the NIC's
    Ganeti network only when ``cluster_networks`` holds it; the Ganeti
    section's network (a fact about the source instance) is kept unless
    ``cluster_networks`` is known and lacks it.  ``--net N:network=`` is
    taken as given.
    """
    if options.no_nics:
        return []
    section_nics = list(section.nics) if section is not None else []
    count = max(len(hw.nics), len(section_nics))
    nics: list[GanetiNic] = []
    wanted: dict[int, str] = {}  # index -> an OVF network name
    from_section: dict[int, str] = {}  # index -> the Ganeti section's network
    for index in range(count):
        nic = GanetiNic()
        if index < len(hw.nics):
            nic, network = _nic_from_hardware(hw.nics[index], warnings)
            if network is not None:
                wanted[index] = network
        if index < len(section_nics):
            values = {k: v for k, v in vars(section_nics[index]).items() if v is not None}
            wanted.pop(index, None)  # the Ganeti section alone says which Ganeti network, if any
            network = values.pop("network", None)
            if network is not None and network.strip().lower() not in ("", "none"):
                from_section[index] = network
            _apply_nic_values(nic, values, "Ganeti section")
        nics.append(nic)
    unknown: dict[str, list[int]] = {}
    for index, network in sorted({**wanted, **from_section}.items()):
        on_cluster = cluster_networks is not None and network in cluster_networks
        unverified_section = cluster_networks is None and index in from_section
        if on_cluster or unverified_section:
            nics[index].network = network
        elif not ({"network", "mode", "link"} & set(options.nics.get(index, {}))):
            unknown.setdefault(network, []).append(index)
    for index in sorted(options.nics):
        if index > len(nics):
            raise OptionError(f"--net {index}: NIC {len(nics)} must be given first (NIC indices are contiguous)")
        if index == len(nics):
            nics.append(GanetiNic())
        _apply_nic_values(nics[index], options.nics[index], f"--net {index}")
    if len(nics) > MAX_NICS:
        raise OptionError(f"the instance would have {len(nics)} NICs; Ganeti allows {MAX_NICS}")
    checked = [_checked_nic(nic, index) for index, nic in enumerate(nics)]
    for index, values in options.nics.items():
        nic = checked[index]
        if nic.network and ({"mode", "link"} & set(values)) and "network" not in values:
            warnings.append(
                f"--net {index}: NIC {index} is on network {nic.network!r}, so Ganeti takes its mode and link "
                "from the network and ignores the ones given (add network=none to use them)"
            )
    if unknown:
        warnings.append(_unknown_networks_note(unknown, cluster_networks))
    return checked


def _disks(
    envelope: Envelope,
    hw: Hardware,
    section: GanetiSection | None,
    options: ImportOptions,
    where: str,
    warnings: list[str],
) -> list[DiskPlan]:
    plans: list[DiskPlan] = []
    for attachment in hw.disks:
        plan = DiskPlan(index=len(plans), label=attachment.label, disk=attachment.disk)
        if attachment.file_id is not None:
            plan.file = envelope.file(attachment.file_id)
        else:
            if attachment.disk is None or attachment.disk.capacity is None:
                raise DescriptorError(f"{attachment.label} has neither a file nor a capacity", where)
            plan.blank_size = attachment.disk.capacity
        plans.append(plan)
    for index in sorted(options.disks):
        if index > len(plans):
            raise OptionError(f"--disk {index}: disk {len(plans)} must be given first (disk indices are contiguous)")
        blank = DiskPlan(index=index, label=f"--disk {index}", blank_size=options.disks[index])
        if index == len(plans):
            plans.append(blank)
        else:
            replaced = plans[index]
            holding = f" (File {replaced.file.href!r})" if replaced.file is not None else ""
            warnings.append(
                f"--disk {index} replaces disk {index}, {replaced.label}{holding}, with a new empty disk of "
                f"{options.disks[index]} bytes: the package's disk is not imported"
            )
            plans[index] = blank
    if len(plans) > MAX_DISKS:
        raise OptionError(f"the instance would have {len(plans)} disks; Ganeti allows {MAX_DISKS}")
    section_disks = list(section.disks) if section is not None else []
    for plan in plans:
        plan.dump = f"disk{plan.index}.raw"
        plan.ivname = f"disk/{plan.index}"
        if plan.index < len(section_disks):
            extra = section_disks[plan.index]
            if extra.name and extra.name.lower() != "none":
                plan.name = validate_value(extra.name, f"disk {plan.index} name")
    return plans


def build_plan(
    envelope: Envelope,
    options: ImportOptions,
    where: str,
    missing_files: Mapping[str, str] | None = None,
    cluster_networks: frozenset[str] | None = None,
) -> ImportPlan:
    """Decide the Ganeti export for ``envelope`` under ``options``.

    :param where: the descriptor's name, for messages.
    :param missing_files: References/File id -> why the package cannot
        provide it (missing, unsafe, chunks that do not add up); a disk that
        needs one is a problem, any other file a warning.
    :param cluster_networks: names of the target cluster's Ganeti networks
        (read from the node by the pipeline), ``None`` when unknown; a
        network named by the package is used only when it is one of them.
    :raises PackageError: no VirtualSystem, a collection without
        ``virtual_system``, or broken references (all of them listed).
    :raises OptionError: an invalid or missing value (no name, no OS, no disk
        and no NIC, a bad MAC or mode...), from the package or the options.
    """
    warnings: list[str] = list(envelope.notes)
    system = select_system(envelope, options.virtual_system, where)
    profile = select_profile(envelope, options.deployment_option)
    hw = describe_hardware(envelope, system, profile)
    problems = envelope_problems(envelope) + hw.problems
    needed = {attachment.file_id for attachment in hw.disks if attachment.file_id is not None}
    missing_files = missing_files or {}
    for ref in envelope.files:
        reason = missing_files.get(ref.id)
        if reason is not None:
            if ref.id in needed:
                problems.append(f"file {ref.href!r} (File {ref.id!r}) {reason}")
            else:
                warnings.append(f"file {ref.href!r} (File {ref.id!r}) {reason}; it is not needed")
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        raise PackageError(f"the package has {count}: " + "; ".join(problems), where)
    warnings.extend(hw.notes)
    removable_files: set[str] = set()
    for item in hw.removable:
        files = [ref[1] for ref in map(parse_host_resource, item.host_resources) if ref and ref[0] == "file"]
        removable_files.update(files)
        holding = f" holding File {files[0]!r}" if files else ""
        warnings.append(f"{item.label} (removable drive{holding}) is not imported")
    warnings.extend(unused_disk_notes(envelope, hw))
    reported = {
        disk.file_ref
        for disk in envelope.disks
        if disk.file_ref and (disk.disk_id in hw.unused_disks or disk.disk_id in unattached_disks(envelope))
    }
    for ref in envelope.files:
        if ref.id in needed or ref.id in removable_files or ref.id in missing_files or ref.id in reported:
            continue
        warnings.append(f"File {ref.id!r} ({ref.href}) is not a disk of this virtual system; not imported")
    section = envelope.ganeti

    name = options.name or system.name or system.id or None
    if not name:
        raise OptionError("the package names no virtual system: give an instance name with -n/--name")
    if options.name:
        validate_instance_name(name, "--name")
    else:
        try:
            validate_instance_name(name, "the virtual system's name")
        except OptionError as exc:
            raise OptionError(f"{exc.message}; give one with -n/--name") from None

    os_name = options.os_type or (section.os_name if section else None)
    if not os_name:
        raise OptionError("the package names no Ganeti OS: give one with -o/--os-type (Ganeti needs it)")
    validate_os_name(os_name)

    hypervisor = options.hypervisor or (section.hypervisor_name if section else None)
    if hypervisor is not None and hypervisor.lower() == "auto":
        hypervisor = None
    if hypervisor is not None and hypervisor not in HYPERVISORS:
        raise OptionError(f"hypervisor {hypervisor!r} is not one Ganeti knows ({', '.join(sorted(HYPERVISORS))})")
    hv_params = dict(section.hypervisor_parameters) if section else {}
    if options.hypervisor and section and options.hypervisor != section.hypervisor_name:
        hv_params = {}  # the package's parameters belong to another hypervisor
    hv_params = _checked_params(_merge(hv_params, options.hypervisor_parameters), "hypervisor parameter")

    template = options.disk_template or (section.disk_template if section else None)
    if template is not None and template not in DISK_TEMPLATES:
        raise OptionError(f"disk template {template!r} is not one Ganeti knows ({', '.join(sorted(DISK_TEMPLATES))})")

    tags = options.tags if options.tags is not None else (list(section.tags) if section else [])
    for tag in tags:
        validate_tag(tag)

    os_params = dict(section.os_parameters) if section else {}
    if options.os_type and section and options.os_type != section.os_name:
        os_params = {}
    os_params = _checked_params(_merge(os_params, options.os_parameters), "OS parameter")

    config = InstanceExport(
        name=name,
        os=os_name,
        hypervisor=hypervisor,
        disk_template=template,
        tags=tags,
        backend=_backend(hw, section, options, warnings),
        hypervisor_params=hv_params,
        os_params=os_params,
        nics=_nics(hw, section, options, warnings, cluster_networks),
    )
    disks = _disks(envelope, hw, section, options, where, warnings)
    if not disks and not config.nics:
        raise OptionError(
            "the instance would have no disk and no NIC: add one with --disk or --net (Ganeti requires it)"
        )
    return ImportPlan(system=system, profile=profile, hardware=hw, config=config, disks=disks, warnings=warnings)
