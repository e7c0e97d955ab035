"""Where each value of a plan comes from: the source package, the caller's
options, or ovfconverter's own default (pure: values in, values out).

A plan's :class:`Decision` list is what ``--dry-run`` shows: every
``config.ini`` key or OVF element the result will hold, with its value and
its :class:`Origin`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ovfconverter.model.machine import Machine


class Origin(enum.Enum):
    """Where a value comes from."""

    PACKAGE = "package"
    """The source said it: the descriptor and its sections, or the
    ``config.ini`` of a Ganeti export."""
    OPTION = "option"
    """The caller's options (the command line)."""
    DEFAULT = "default"
    """Neither: ovfconverter's default or naming rule."""


@dataclass(frozen=True)
class Decision:
    """One value of the result.

    :ivar where: a ``config.ini`` key as ``[section] key``, or an OVF
        element or attribute as a path (``VirtualSystem/Name``).
    :ivar value: the value, as the result will hold it (text).
    :ivar origin: where it comes from.
    """

    where: str
    value: str
    origin: Origin


class GanetiOverrides(Protocol):
    """The override fields of :class:`ovfconverter.ImportOptions` that name
    ``config.ini`` keys."""

    name: str | None
    os_type: str | None
    os_parameters: dict[str, str | None]
    backend_parameters: dict[str, str | None]
    hypervisor: str | None
    hypervisor_parameters: dict[str, str | None]
    disk_template: str | None
    disks: dict[int, int]
    nics: dict[int, dict[str, str | None]]
    no_nics: bool
    tags: list[str] | None


_MEMORY_KEYS = ("backend.maxmem", "backend.minmem", "backend.memory")
_PROPERTY_KEYS = ("os.ovf_properties", "os_private.ovf_private_properties")


def _prefixed(section: str, keys: Iterable[str]) -> set[str]:
    return {f"{section}.{key}" for key in keys}


def ganeti_option_keys(overrides: GanetiOverrides) -> set[str]:
    """The ``config.ini`` keys (``section.key``) that ``overrides`` set or
    remove: ``-B memory`` names maxmem, minmem and memory, ``--net N:bridge``
    names ``nicN_link``, ``--no-nics`` the NIC count."""
    keys = set()
    if overrides.name:
        keys.add("instance.name")
    if overrides.os_type:
        keys.add("export.os")
    keys |= _prefixed("os", overrides.os_parameters)
    for key in overrides.backend_parameters:
        keys |= set(_MEMORY_KEYS) if key in ("memory", "maxmem", "minmem") else {f"backend.{key}"}
    if overrides.hypervisor:
        keys.add("instance.hypervisor")
    keys |= _prefixed("hypervisor", overrides.hypervisor_parameters)
    if overrides.disk_template:
        keys.add("instance.disk_template")
    if overrides.tags is not None:
        keys.add("instance.tags")
    keys |= {f"instance.disk{index}_size" for index in overrides.disks}
    for index, values in overrides.nics.items():
        keys |= {f"instance.nic{index}_{'link' if key == 'bridge' else key}" for key in values}
    if overrides.no_nics:
        keys.add("instance.nic_count")
    if getattr(overrides, "properties", None):  # --property: the values of ProductSection properties
        keys |= set(_PROPERTY_KEYS)
    return keys


def ganeti_package_keys(machine: Machine) -> set[str]:
    """The ``config.ini`` keys (``section.key``) that ``machine``, as read
    from its source, gives a value for."""
    keys = set()
    if machine.name:
        keys.add("instance.name")
    settings = machine.ganeti
    if settings is not None:
        keys |= {"export.os"} if settings.os_name else set()
        keys |= _prefixed("os", settings.os_parameters)
        keys |= {"instance.hypervisor"} if settings.hypervisor else set()
        keys |= _prefixed("hypervisor", settings.hypervisor_parameters)
        keys |= _prefixed("backend", settings.backend_parameters)
        keys |= {"instance.disk_template"} if settings.disk_template else set()
        keys |= {"instance.tags"} if settings.tags else set()
    if machine.cpus is not None:
        keys.add("backend.vcpus")
    if machine.memory is not None:
        keys |= set(_MEMORY_KEYS)
    for index, nic in enumerate(machine.nics):
        if nic.mac:
            keys.add(f"instance.nic{index}_mac")
        if nic.network:  # a mode named by the network, or a Ganeti network of that name
            keys |= {f"instance.nic{index}_mode", f"instance.nic{index}_network"}
        if nic.ganeti is not None:
            given = {key for key, value in vars(nic.ganeti).items() if value is not None}
            keys |= {f"instance.nic{index}_{key}" for key in given}
    if machine.nics:
        keys.add("instance.nic_count")
    if any(product.properties for product in machine.products):
        keys |= set(_PROPERTY_KEYS)
    if machine.disks:
        keys.add("instance.disk_count")
        keys |= {f"instance.disk{index}_size" for index, disk in enumerate(machine.disks) if disk.capacity}
    return keys


_UNSET = frozenset({"none", "auto", ""})


def origins(values: Mapping[str, str], options: set[str], package: set[str]) -> Mapping[str, Origin]:
    """Each key of ``values``: :attr:`Origin.OPTION` when the options name
    it, else :attr:`Origin.PACKAGE` when the source gives it a value (not
    ``none`` or ``auto``, which leave it to Ganeti's defaults), else
    :attr:`Origin.DEFAULT`."""
    found = {}
    for key, value in values.items():
        if key in options:
            found[key] = Origin.OPTION
        elif key in package and value.lower() not in _UNSET:
            found[key] = Origin.PACKAGE
        else:
            found[key] = Origin.DEFAULT
    return found
