"""Ganeti -> :class:`~ovfconverter.model.machine.Machine`: a Ganeti instance
export (``config.ini`` values, :class:`~ovfconverter.model.ganeti.InstanceExport`)
as the neutral machine model, and the Ganeti OS names' table.

Reading (:func:`machine_from_export`, :func:`export_problems`): the export's
CPUs, memory (MiB in config.ini, bytes in the machine), disks, NICs and
everything only Ganeti understands (OS and hypervisor with their
parameters, backend parameters, disk template, tags, disk and NIC names),
and what keeps an export from being converted, in config.ini's words.

Writing is :mod:`ovfconverter.hub.ganeti_plan`: the plan of a new export
from a machine and the caller's overrides.

Sources: Ganeti 2.16/3.0 ``lib/backend.py`` (``FinalizeExport``) and
``lib/cmdlib/instance_create.py`` (``_ReadExportParams``).
"""

from __future__ import annotations

from collections.abc import Callable

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OptionError
from ovfconverter.hub.devices import Storage
from ovfconverter.hub.ganeti_devices import instance_devices
from ovfconverter.model.ganeti import (
    HYPERVISORS,
    NIC_MODES,
    GanetiNic,
    InstanceExport,
    normalize_mac,
    validate_instance_name,
    validate_network_name,
    validate_os_name,
    validate_param_key,
    validate_tag,
    validate_value,
)
from ovfconverter.model.machine import (
    Bus,
    Controller,
    Cpus,
    Disk,
    GanetiDiskSettings,
    GanetiNicSettings,
    GanetiSettings,
    GuestOS,
    ImageRef,
    Machine,
    Memory,
    Needs,
    Nic,
    NicModel,
    OsFamily,
    frozen_map,
)
from ovfconverter.model.units import MIB
from ovfconverter.parameters import Parameter

_SIZE_PARAMS = ("maxmem", "minmem", "memory")
_INT_PARAMS = ("vcpus", "spindle_use")
_BOOL_PARAMS = ("auto_balance", "always_failover")
_NIC_OPTION_KEYS = ("mode", "link", "mac", "ip", "network", "name", "vlan")
_AUTO_MACS = ("auto", "generate")

# Ganeti OS names -> CIM_OperatingSystem.OsType (DSP0243 OperatingSystemSection
# ovf:id), a description, and the distribution's libosinfo name.
_OS_IDS = (
    ("ubuntu", 94, "Ubuntu 64-bit", "ubuntu"),
    ("debian", 96, "Debian 64-bit", "debian"),
    ("debootstrap", 96, "Debian 64-bit", "debian"),
    ("centos", 107, "CentOS 64-bit", "centos"),
    ("rhel", 80, "Red Hat Enterprise Linux 64-bit", "rhel"),
    ("redhat", 80, "Red Hat Enterprise Linux 64-bit", "rhel"),
    ("fedora", 101, "Linux 64-bit", "fedora"),
    ("sles", 85, "SUSE Linux Enterprise Server 64-bit", "sles"),
    ("suse", 83, "SUSE 64-bit", "opensuse"),
    ("freebsd", 78, "FreeBSD 64-bit", "freebsd"),
    ("linux", 101, "Linux 64-bit", None),
)


def os_type(os_name: str | None) -> tuple[int, str]:
    """The CIM OsType number and a description for a Ganeti OS name: a
    known distribution in the name gives its number, anything else 1
    (Other)."""
    lowered = (os_name or "").lower()
    for needle, number, label, _ in _OS_IDS:
        if needle in lowered:
            return number, f"{label} (Ganeti OS {os_name})"
    return 1, f"Ganeti OS {os_name}" if os_name else "Unknown operating system"


def guest_os(os_name: str | None) -> GuestOS:
    """What a Ganeti OS name says of the guest (the OS definition's name is
    all Ganeti knows: ``debootstrap+default``, ``raw-image+ubuntu``)."""
    number, description = os_type(os_name)
    lowered = (os_name or "").lower()
    distribution = next((distro for needle, _, _, distro in _OS_IDS if needle in lowered), None)
    linux = number != 1 and number != 78
    return GuestOS(
        cim_id=number,
        description=description,
        family=OsFamily.LINUX if linux else OsFamily.BSD if number == 78 else None,
        distribution=distribution,
    )


# -- reading an export --------------------------------------------------------


def _backend_parameters(config: InstanceExport) -> dict[str, str]:
    """``[backend]``, completed by the pre-2.6 ``[instance]`` copies of
    ``vcpus``, ``maxmem``, ``minmem`` and ``memory``."""
    backend = {key: value for key, value in config.backend.items() if value is not None}
    for key in ("vcpus", "maxmem", "minmem", "memory"):
        if key not in backend and key in config.instance_extra:
            backend[key] = config.instance_extra[key]
    return backend


def _export_disks(config: InstanceExport, storage: Storage | None) -> tuple[tuple[Controller, ...], tuple[Disk, ...]]:
    """The export's disks, on one controller of ``storage`` (virtio-blk
    disks on none), each image keyed by its position."""
    controllers: tuple[Controller, ...] = ()
    if storage is not None and storage.bus is not Bus.VIRTIO:
        controllers = (Controller(storage.bus, storage.model),)
    disks = tuple(
        Disk(
            capacity=disk.size * MIB,
            image=ImageRef(key=str(index), name=disk.dump, format="raw") if disk.dump else None,
            controller=0 if controllers else None,
            bus=storage.bus if storage is not None else None,
            name=disk.name,
            label=f"disk{index}",
        )
        for index, disk in enumerate(config.disks)
    )
    return controllers, disks


def _nic(nic: GanetiNic, model: NicModel | None = None) -> Nic:
    mac = nic.mac if nic.mac and nic.mac.lower() not in _AUTO_MACS else None
    try:
        neutral_mac = normalize_mac(mac) if mac else None
    except OptionError:
        neutral_mac = None  # export_problems names it
    return Nic(
        mac=neutral_mac,
        model=model,
        network=nic.network or nic.link,
        ganeti=GanetiNicSettings(
            mac=nic.mac, mode=nic.mode, link=nic.link, ip=nic.ip, network=nic.network, name=nic.name, vlan=nic.vlan
        ),
    )


def machine_from_export(config: InstanceExport, name: str | None = None) -> Machine:
    """The machine a Ganeti export describes.

    :param name: the name to give it instead of ``[instance] name``.
    :returns: the machine; each disk's image is
        :class:`~ovfconverter.model.machine.ImageRef` keyed by its
        position (``"0"``, ``"1"``...) and named by ``diskN_dump``; its
        devices and firmware as the hypervisor parameters say (see
        :func:`~ovfconverter.hub.ganeti_devices.instance_devices`).  Values that :func:`export_problems`
        refuses are left out (``None``).
    """
    devices = instance_devices(config.hypervisor, config.hypervisor_params)
    controllers, disks = _export_disks(config, devices.storage)
    maxmem, minmem = config.maxmem, config.minmem
    memory = None
    if maxmem is not None and maxmem >= 1:
        memory = Memory(maxmem * MIB, minmem * MIB if minmem is not None and minmem != maxmem else None)
    vcpus = config.vcpus
    return Machine(
        name=name or config.name,
        os=guest_os(config.os),
        firmware=devices.firmware,
        cpus=Cpus(vcpus) if vcpus is not None and vcpus >= 1 else None,
        memory=memory,
        controllers=controllers,
        disks=disks,
        nics=tuple(_nic(nic, devices.nic_model) for nic in config.nics),
        ganeti=GanetiSettings(
            os_name=config.os,
            os_parameters=frozen_map(config.os_params),
            os_private=frozen_map(config.os_private),
            hypervisor=config.hypervisor,
            hypervisor_parameters=frozen_map(config.hypervisor_params),
            backend_parameters=frozen_map(_backend_parameters(config)),
            disk_template=config.disk_template,
            tags=tuple(config.tags),
            version=config.export_version,
            disks=tuple(GanetiDiskSettings(ivname=disk.ivname, name=disk.name) for disk in config.disks),
        ),
    )


def _check(problems: list[str], validate: Callable[[str, str], object], value: str, what: str) -> None:
    try:
        validate(value, what)
    except OptionError as exc:
        problems.append(exc.message)


def _named(validate: Callable[[str], object]) -> Callable[[str, str], object]:
    return lambda value, what: validate(value)


def value_problems(config: InstanceExport, external: bool) -> list[str]:
    """Every ``config.ini`` value an OVF would carry that ovfconverter's
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


def export_problems(config: InstanceExport, needs: Needs) -> list[str]:
    """What keeps ``config`` from being converted for a target that
    ``needs`` these values, in config.ini's words; the disk dumps are the
    caller's to check (they are files)."""
    problems: list[str] = []
    if needs.name:
        name = config.name
        if not name:
            problems.append("no instance name ([instance] name)")
        else:
            try:
                validate_instance_name(name, "instance name")
            except OptionError as exc:
                problems.append(exc.message)
    if needs.cpus and (config.vcpus is None or config.vcpus < 1):
        problems.append("no CPU count ([backend] vcpus)")
    if needs.memory and (config.maxmem is None or config.maxmem < 1):
        problems.append("no memory size ([backend] maxmem or memory)")
    if needs.ganeti_identity:
        if config.hypervisor and config.hypervisor not in HYPERVISORS:
            problems.append(f"hypervisor {config.hypervisor!r} is not one Ganeti knows")
        if not config.os:
            problems.append(Diagnostic(("no OS ([export] os; ", Parameter("external"), " exports without it)")))
    compression = (config.export_extra.get("compression") or "none").strip().lower()
    if compression not in ("none", "gzip"):
        problems.append(f"[export] compression {compression!r} is not supported (none or gzip)")
    problems += value_problems(config, external=not needs.ganeti_identity)
    for index, nic in enumerate(config.nics):
        if nic.mode is not None and nic.mode not in NIC_MODES:
            problems.append(f"nic{index}_mode {nic.mode!r} is not a Ganeti NIC mode ({', '.join(sorted(NIC_MODES))})")
        if nic.mac is not None and nic.mac.lower() not in _AUTO_MACS:
            try:
                normalize_mac(nic.mac)
            except OptionError as exc:
                problems.append(f"nic{index}_mac: {exc.message}")
    return problems
