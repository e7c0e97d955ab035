"""Ganeti's plan: the ``config.ini`` values of a new export, decided from a
:class:`~ovfconverter.model.machine.Machine` and the caller's overrides
(``-B``, ``--net``, ``--disk``... in :class:`InstanceOverrides`), every
value validated as Ganeti would (names, MACs, NIC modes, numbers, no
control characters), whichever side it came from.

Precedence, per key: the overrides, then the machine's Ganeti settings (an
OVF Ganeti section, a Ganeti export), then its neutral hardware.  CPU count
and memory come from the hardware when it states them; the Ganeti settings
supply what plain hardware cannot say (``minmem``, ``auto_balance``...).
A network becomes a NIC's Ganeti network only when the target cluster has
one of that name (``cluster_networks``).

Sources: Ganeti 2.16/3.0 ``lib/cmdlib/instance_create.py``
(``_ReadExportParams``) and ``lib/constants.py``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OptionError, UsageError
from ovfconverter.hub.devices import DevicePolicy, machine_firmware
from ovfconverter.hub.ganeti_devices import device_parameters
from ovfconverter.hub.provenance import Decision, GanetiOverrides
from ovfconverter.model.ganeti import (
    BACKEND_PARAMETERS,
    DISK_TEMPLATES,
    HYPERVISORS,
    MAX_DISKS,
    MAX_NICS,
    NIC_MODES,
    GanetiNic,
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
from ovfconverter.model.machine import Disk, Firmware, GanetiNicSettings, GanetiSettings, ImageRef, Machine, Nic
from ovfconverter.model.properties import MAX_PARAMETER_SIZE, OS_PARAMETER, OS_PRIVATE_PARAMETER, os_parameters
from ovfconverter.model.units import MIB, bytes_to_mib_ceil, parse_size
from ovfconverter.parameters import Parameter, Part

_SIZE_PARAMS = ("maxmem", "minmem", "memory")
_INT_PARAMS = ("vcpus", "spindle_use")
_BOOL_PARAMS = ("auto_balance", "always_failover")
_NIC_OPTION_KEYS = ("mode", "link", "mac", "ip", "network", "name", "vlan")
_AUTO_MACS = ("auto", "generate")


class InstanceOverrides(GanetiOverrides, Protocol):
    """What the caller of a Ganeti target may override, in Ganeti's terms
    (:class:`ovfconverter.ImportOptions` has these fields): the
    ``config.ini`` keys of :class:`~ovfconverter.hub.provenance.GanetiOverrides`,
    each given value overriding the machine's per key, and the device policy."""

    device_policy: DevicePolicy


@dataclass
class DiskPlan:
    """One disk of the Ganeti export to be.

    :ivar disk: the machine's disk it comes from, ``None`` for a new empty
        disk.
    :ivar blank_size: size in bytes of a disk created empty (no image).
    :ivar dump: the raw dump's file name in the export folder.
    """

    index: int
    label: str
    disk: Disk | None = None
    blank_size: int | None = None
    dump: str = ""
    ivname: str = ""
    name: str | None = None

    @property
    def image(self) -> ImageRef | None:
        """The image the dump is converted from; ``None``: created empty."""
        return self.disk.image if self.disk is not None else None


@dataclass
class InstancePlan:
    """Everything a Ganeti export will hold, minus the disk sizes, which are
    known once the images are read.

    :ivar config: the ``config.ini`` values (``disks`` still empty).
    :ivar warnings: what was worked around or ignored, in order.
    :ivar decisions: every ``config.ini`` key with its value and where it
        comes from (:mod:`ovfconverter.targets.decisions`, for
        ``--dry-run``).
    """

    config: InstanceExport
    disks: list[DiskPlan]
    warnings: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


def _merge(base: Mapping[str, str], override: Mapping[str, str | None]) -> dict[str, str]:
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
        long_value = key in (OS_PARAMETER, OS_PRIVATE_PARAMETER)  # JSON of every property
        validate_value(value, f"{what} {key}", MAX_PARAMETER_SIZE if long_value else 4096)
    return params


def _backend_value(key: str, value: str, source: Part) -> str:
    if key in _SIZE_PARAMS:
        return str(parse_size(value) // MIB)
    if key in _INT_PARAMS:
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9) or (key == "vcpus" and int(text) < 1):
            raise OptionError((source, f" {key} {value!r} is not a positive whole number"))
        return str(int(text))
    if key in _BOOL_PARAMS:
        return normalize_bool(
            value, Parameter("backend_parameters", key) if isinstance(source, Parameter) else f"{source} {key}"
        )
    message = (source, f" {key!r} is not a Ganeti backend parameter ({', '.join(sorted(BACKEND_PARAMETERS))})")
    if isinstance(source, Parameter):  # the caller's option, not the package's Ganeti section
        raise UsageError(message, choices=tuple(sorted(BACKEND_PARAMETERS)))
    raise OptionError(message)


def _backend(machine: Machine, overrides: InstanceOverrides, warnings: list[str]) -> dict[str, str]:
    backend: dict[str, str] = {}
    if machine.ganeti is not None:
        for key, value in machine.ganeti.backend_parameters.items():
            if not value or value.lower() == "auto":
                continue
            try:
                backend[key] = _backend_value(key, value, "Ganeti section backend parameter")
            except OptionError as exc:
                warnings.append(Diagnostic((*exc.parts, "; ignored")))
    if machine.cpus is not None:
        backend["vcpus"] = str(machine.cpus.count)
    if machine.memory is not None:
        memory = str(bytes_to_mib_ceil(machine.memory.size))
        backend["maxmem"] = memory
        if "minmem" not in backend or int(backend["minmem"]) > int(memory):
            backend["minmem"] = memory
    if "memory" in backend:
        memory = backend.pop("memory")
        backend.setdefault("maxmem", memory)
        backend.setdefault("minmem", memory)

    user: dict[str, str | None] = {}
    for key, given in overrides.backend_parameters.items():
        user[key] = None if given is None else _backend_value(key, given, Parameter("backend_parameters"))
    user_memory = user.get("memory")
    if user_memory is not None:
        del user["memory"]
        user.setdefault("maxmem", user_memory)
        user.setdefault("minmem", user_memory)
    else:
        user.pop("memory", None)
    backend = _merge(backend, user)
    if "maxmem" in backend and "minmem" in backend and int(backend["minmem"]) > int(backend["maxmem"]):
        raise UsageError(_memory_conflict(backend, user))
    if backend.get("maxmem") is not None and backend.get("maxmem") == backend.get("minmem"):
        backend["memory"] = backend["maxmem"]  # for Ganeti before 2.6, which reads [backend] memory
    order = ["vcpus", "maxmem", "minmem", "memory", "auto_balance", "always_failover", "spindle_use"]
    return {key: backend[key] for key in sorted(backend, key=lambda k: (order.index(k) if k in order else 99, k))}


def _nic_from_machine(nic: Nic, warnings: list[str]) -> tuple[GanetiNic, str | None]:
    """A NIC's Ganeti attachment from its neutral description, and the name
    of the network it is connected to when that name is not a NIC mode (a
    candidate Ganeti network, decided by :func:`_nics`): a network whose
    name says bridged, routed or openvswitch gives that mode."""
    ganeti = GanetiNic(mac=nic.mac)
    connection = nic.network
    if connection:
        lowered = connection.lower()
        mode = next((m for m in ("bridged", "routed", "openvswitch") if m in lowered), None)
        if mode:
            ganeti.mode = mode
        else:
            try:
                return ganeti, validate_network_name(connection)
            except OptionError:
                warnings.append(
                    f"Item {nic.label!r}: network {connection!r} is not a valid Ganeti network name; ignored"
                )
    return ganeti, None


def _memory_conflict(backend: dict[str, str], user: dict[str, str | None]) -> tuple[Part, ...]:
    """Why minmem above maxmem is refused, naming where each came from and
    the parameter that sets both."""

    def said(key: str) -> tuple[Part, ...]:
        if user.get(key) is not None:
            return (f"{key} {backend[key]} MiB (", Parameter("backend_parameters", key), ")")
        return (f"{key} {backend[key]} MiB (the package's)",)

    return (
        *said("minmem"),
        " is above ",
        *said("maxmem"),
        "; Ganeti needs minmem <= maxmem: ",
        Parameter("backend_parameters", value="memory=SIZE"),
        " sets both, or set maxmem and minmem together",
    )


def _apply_nic_values(nic: GanetiNic, values: Mapping[str, str | None], source: Part) -> None:
    for key, value in values.items():
        if key == "bridge":
            key = "link"
        if key not in _NIC_OPTION_KEYS:
            message = (
                source,
                f": {key!r} is not a NIC parameter of a Ganeti import "
                f"({', '.join(_NIC_OPTION_KEYS)}; bridge is taken for link)",
            )
            if isinstance(source, Parameter):  # the caller's option
                raise UsageError(message, choices=_NIC_OPTION_KEYS)
            raise OptionError(message)
        if value is not None and value.strip().lower() in ("", "none"):
            value = None
        setattr(nic, key, value)


def _checked_nic(nic: GanetiNic, index: int) -> GanetiNic:
    what = f"NIC {index}"
    if nic.mac is not None and nic.mac.lower() not in _AUTO_MACS:
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


def _settings_values(settings: GanetiNicSettings) -> dict[str, str | None]:
    values = {
        "mac": settings.mac,
        "ip": settings.ip,
        "mode": settings.mode,
        "link": settings.link,
        "network": settings.network,
        "name": settings.name,
        "vlan": settings.vlan,
    }
    return {key: value for key, value in values.items() if value is not None}


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
    return Diagnostic(
        (
            "; ".join(parts) + f": {why}; the cluster's default NIC mode and link apply unless the package gives "
            "them (",
            Parameter("nics"),
            " N:network=NAME picks a Ganeti network, ",
            Parameter("nics"),
            " N:link=BRIDGE a bridge)",
        )
    )


def _machine_nics(machine: Machine, warnings: list[str]) -> tuple[list[GanetiNic], dict[int, str], dict[int, str]]:
    """The machine's NICs with their Ganeti settings applied, and, by NIC
    index, the candidate networks: a network the NIC is connected to, and
    the one its Ganeti settings name (a fact about the source instance)."""
    nics: list[GanetiNic] = []
    wanted: dict[int, str] = {}
    from_settings: dict[int, str] = {}
    for index, nic in enumerate(machine.nics):
        ganeti, network = _nic_from_machine(nic, warnings)
        if network is not None:
            wanted[index] = network
        if nic.ganeti is not None:
            values = _settings_values(nic.ganeti)
            wanted.pop(index, None)  # the Ganeti settings alone say which Ganeti network, if any
            named = values.pop("network", None)
            if named is not None and named.strip().lower() not in ("", "none"):
                from_settings[index] = named
            _apply_nic_values(ganeti, values, "Ganeti section")
        nics.append(ganeti)
    return nics, wanted, from_settings


def _nics(
    machine: Machine, overrides: InstanceOverrides, warnings: list[str], cluster_networks: frozenset[str] | None
) -> list[GanetiNic]:
    """The NICs: the machine's, then its Ganeti settings, then the
    overrides (``--net``), per key.

    ``gnt-backup import`` refuses a network the cluster lacks, so a network
    a NIC is connected to (one that is not a NIC mode) becomes its Ganeti
    network only when ``cluster_networks`` holds it; the Ganeti settings'
    network is kept unless ``cluster_networks`` is known and lacks it.  An
    override's network is taken as given.
    """
    if overrides.no_nics:
        return []
    nics, wanted, from_settings = _machine_nics(machine, warnings)
    unknown: dict[str, list[int]] = {}
    for index, network in sorted({**wanted, **from_settings}.items()):
        on_cluster = cluster_networks is not None and network in cluster_networks
        unverified_settings = cluster_networks is None and index in from_settings
        if on_cluster or unverified_settings:
            nics[index].network = network
        elif not ({"network", "mode", "link"} & set(overrides.nics.get(index, {}))):
            unknown.setdefault(network, []).append(index)
    for index in sorted(overrides.nics):
        if index > len(nics):
            raise OptionError(
                (Parameter("nics", index), f": NIC {len(nics)} must be given first (NIC indices are contiguous)")
            )
        if index == len(nics):
            nics.append(GanetiNic())
        _apply_nic_values(nics[index], overrides.nics[index], Parameter("nics", index))
    if len(nics) > MAX_NICS:
        raise OptionError(f"the instance would have {len(nics)} NICs; Ganeti allows {MAX_NICS}")
    checked = [_checked_nic(nic, index) for index, nic in enumerate(nics)]
    for index, values in overrides.nics.items():
        nic = checked[index]
        if nic.network and ({"mode", "link"} & set(values)) and "network" not in values:
            warnings.append(
                Diagnostic(
                    (
                        Parameter("nics", index),
                        f": NIC {index} is on network {nic.network!r}, so Ganeti takes its mode and link "
                        "from the network and ignores the ones given (add network=none to use them)",
                    )
                )
            )
    if unknown:
        warnings.append(_unknown_networks_note(unknown, cluster_networks))
    return checked


def _disks(machine: Machine, overrides: InstanceOverrides, warnings: list[str]) -> list[DiskPlan]:
    plans: list[DiskPlan] = []
    for disk in machine.disks:
        label = disk.label or f"disk {len(plans)}"
        plan = DiskPlan(index=len(plans), label=label, disk=disk)
        if disk.image is None:
            if disk.capacity is None:
                raise OptionError(f"{label} has neither an image nor a capacity")
            plan.blank_size = disk.capacity
        plans.append(plan)
    for index in sorted(overrides.disks):
        if index > len(plans):
            raise OptionError(
                (Parameter("disks", index), f": disk {len(plans)} must be given first (disk indices are contiguous)")
            )
        blank = DiskPlan(index=index, label=f"new disk {index}", blank_size=overrides.disks[index])
        if index == len(plans):
            plans.append(blank)
        else:
            replaced = plans[index]
            holding = f" (File {replaced.image.name!r})" if replaced.image is not None else ""
            warnings.append(
                Diagnostic(
                    (
                        Parameter("disks", index),
                        f" replaces disk {index}, {replaced.label}{holding}, with a new empty disk of "
                        f"{overrides.disks[index]} bytes: the package's disk is not imported",
                    )
                )
            )
            plans[index] = blank
    if len(plans) > MAX_DISKS:
        raise OptionError(f"the instance would have {len(plans)} disks; Ganeti allows {MAX_DISKS}")
    names = machine.ganeti.disks if machine.ganeti is not None else ()
    for plan in plans:
        plan.dump = f"disk{plan.index}.raw"
        plan.ivname = f"disk/{plan.index}"
        if plan.index < len(names):
            name = names[plan.index].name
            if name and name.lower() != "none":
                plan.name = validate_value(name, f"disk {plan.index} name")
    return plans


def _instance_name(machine: Machine, overrides: InstanceOverrides) -> str:
    name = overrides.name or machine.name
    if not name:
        raise OptionError(("the package names no virtual system: give an instance name with ", Parameter("name")))
    if overrides.name:
        return validate_instance_name(name, Parameter("name"))
    try:
        return validate_instance_name(name, "the virtual system's name")
    except OptionError as exc:
        raise OptionError((*exc.parts, "; give one with ", Parameter("name"))) from None


def _os_name(settings: GanetiSettings | None, overrides: InstanceOverrides) -> str:
    os_name = overrides.os_type or (settings.os_name if settings else None)
    if not os_name:
        raise OptionError(
            ("the package names no Ganeti OS: give one with ", Parameter("os_type"), " (Ganeti needs it)")
        )
    return validate_os_name(os_name)


def _hypervisor(
    machine: Machine, overrides: InstanceOverrides, default: str | None, warnings: list[str]
) -> tuple[str | None, dict[str, str]]:
    """``[instance] hypervisor`` and ``[hypervisor]``: ``-H``, else the
    Ganeti settings' hypervisor; its parameters are the device policy's for
    it (:func:`~ovfconverter.hub.ganeti_devices.device_parameters`; for the
    cluster's ``default`` hypervisor when none is named, which is then named
    too), then the Ganeti settings' (same hypervisor only), then ``-H``'s,
    per key."""
    settings = machine.ganeti
    hypervisor = overrides.hypervisor or (settings.hypervisor if settings else None)
    if hypervisor is not None and hypervisor.lower() == "auto":
        hypervisor = None
    if hypervisor is not None and hypervisor not in HYPERVISORS:
        error = UsageError if hypervisor == overrides.hypervisor else OptionError
        raise error(f"hypervisor {hypervisor!r} is not one Ganeti knows ({', '.join(sorted(HYPERVISORS))})")
    params = dict(settings.hypervisor_parameters) if settings else {}
    if overrides.hypervisor and settings and overrides.hypervisor != settings.hypervisor:
        params = {}  # the machine's parameters belong to another hypervisor
    devices, notes = device_parameters(machine, hypervisor or default, overrides.device_policy)
    warnings.extend(notes)
    if devices and hypervisor is None:
        hypervisor = default
    merged = _merge({**devices, **params}, overrides.hypervisor_parameters)
    if machine_firmware(machine)[0] is Firmware.EFI:
        warnings.append(_efi_note(hypervisor, merged))
    return hypervisor, _checked_params(merged, "hypervisor parameter")


def _efi_note(hypervisor: str | None, params: Mapping[str, str]) -> Diagnostic:
    """What an EFI machine needs on Ganeti, which has no UEFI parameter."""
    if hypervisor == "kvm" and "ovmf" in params.get("kvm_extra", "").lower():
        return Diagnostic(
            f"the VM boots with UEFI: kvm_extra={params['kvm_extra']} gives it OVMF; every node needs Debian's ovmf "
            "package, and this replaces a cluster-level kvm_extra"
        )
    return Diagnostic(
        (
            "the VM boots with UEFI, which Ganeti has no parameter for: import with ",
            Parameter("hypervisor_parameters", value="kvm"),
            " (or on a node whose cluster's default hypervisor is kvm) to get OVMF through kvm_extra, "
            "or it will not boot",
        )
    )


def _os_parameters(
    machine: Machine, os_params: dict[str, str], overrides: InstanceOverrides, warnings: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``[os]`` and ``[os_private]``: the machine's (Ganeti section's) OS
    parameters, its ProductSection property values as two JSON parameters
    (:func:`~ovfconverter.model.properties.os_parameters`), then ``-O``,
    which may also remove either of those (``-O -NAME``)."""
    public, private = os_parameters(machine.products)
    checked = _checked_params(_merge({**os_params, **public}, overrides.os_parameters), "OS parameter")
    removed: dict[str, str | None] = {key: None for key, value in overrides.os_parameters.items() if value is None}
    secret = _checked_params(_merge(private, removed), "private OS parameter")
    passed = [name for name in (OS_PARAMETER, OS_PRIVATE_PARAMETER) if name in checked or name in secret]
    if passed:
        warnings.append(
            Diagnostic(
                (
                    f"the package's properties go to the OS parameter(s) {' and '.join(passed)}: the OS definition "
                    "must list them in its parameters.list, or gnt-backup import refuses them (",
                    Parameter("os_parameters", value=f"-{OS_PARAMETER},-{OS_PRIVATE_PARAMETER}"),
                    " leaves them out; doc/mapping.rst, 'Properties')",
                )
            )
        )
    return checked, secret


def plan_instance(
    machine: Machine,
    overrides: InstanceOverrides,
    cluster_networks: frozenset[str] | None = None,
    default_hypervisor: str | None = None,
) -> InstancePlan:
    """Decide the Ganeti export of ``machine`` under ``overrides``.

    :param cluster_networks: names of the target cluster's Ganeti networks
        (read from the node by the target), ``None`` when unknown; a network
        the machine names is used only when it is one of them.
    :param default_hypervisor: the target cluster's default hypervisor (read
        from the node), ``None`` when unknown: the device parameters are
        written for it when neither ``-H`` nor the machine names one.

    :raises OptionError: an invalid or missing value (no name, no OS, no disk
        and no NIC, a bad MAC or mode...), from the machine or the overrides.
    """
    warnings = [
        f"{drive.label} (removable drive"
        + (f" holding File {drive.image.key!r}" if drive.image else "")
        + ") is not imported"
        for drive in machine.removable
    ]
    settings = machine.ganeti
    name = _instance_name(machine, overrides)
    os_name = _os_name(settings, overrides)
    hypervisor, hv_params = _hypervisor(machine, overrides, default_hypervisor, warnings)

    template = overrides.disk_template or (settings.disk_template if settings else None)
    if template is not None and template not in DISK_TEMPLATES:
        error = UsageError if template == overrides.disk_template else OptionError
        raise error(f"disk template {template!r} is not one Ganeti knows ({', '.join(sorted(DISK_TEMPLATES))})")

    tags = overrides.tags if overrides.tags is not None else (list(settings.tags) if settings else [])
    for tag in tags:
        validate_tag(tag)

    os_params = dict(settings.os_parameters) if settings else {}
    if overrides.os_type and settings and overrides.os_type != settings.os_name:
        os_params = {}
    os_params, os_private = _os_parameters(machine, os_params, overrides, warnings)

    config = InstanceExport(
        name=name,
        os=os_name,
        hypervisor=hypervisor,
        disk_template=template,
        tags=tags,
        backend=_backend(machine, overrides, warnings),
        hypervisor_params=hv_params,
        os_params=os_params,
        os_private=os_private,
        nics=_nics(machine, overrides, warnings, cluster_networks),
    )
    disks = _disks(machine, overrides, warnings)
    if not disks and not config.nics:
        raise OptionError(
            (
                "the instance would have no disk and no NIC: add one with ",
                Parameter("disks"),
                " or ",
                Parameter("nics"),
                " (Ganeti requires it)",
            )
        )
    return InstancePlan(config=config, disks=disks, warnings=warnings)
