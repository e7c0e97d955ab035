"""What a plan will write, value by value, with where each value comes from
(:mod:`ovfconverter.hub.provenance`): the ``config.ini`` of a Ganeti export,
the elements of an OVF descriptor.  Pure: built from the plan alone, before
anything is read or written; what ``--dry-run`` shows.
"""

from __future__ import annotations

import configparser
import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ovfconverter.formats.config_ini import write_config
from ovfconverter.hub.ganeti_plan import InstancePlan
from ovfconverter.hub.ovf_envelope import DiskFile, envelope_from_machine
from ovfconverter.hub.provenance import (
    Decision,
    GanetiOverrides,
    Origin,
    ganeti_option_keys,
    ganeti_package_keys,
    origins,
)
from ovfconverter.hub.publishing import SEED_KEY
from ovfconverter.model.envelope import ResourceItem, ResourceType
from ovfconverter.model.ganeti import GanetiDisk
from ovfconverter.model.machine import Machine
from ovfconverter.model.units import bytes_to_mib_ceil

if TYPE_CHECKING:
    from ovfconverter.targets.ovf import ExportOptions, PackagePlan


def ganeti_decisions(plan: InstancePlan, machine: Machine, overrides: GanetiOverrides) -> list[Decision]:
    """Every ``config.ini`` key the plan writes, in the file's order.  Disk
    sizes are the disks' declared capacities (the images' own sizes decide
    on import)."""
    config = copy.deepcopy(plan.config)
    config.disks = [
        GanetiDisk(
            size=bytes_to_mib_ceil(disk.disk.capacity if disk.disk is not None and disk.disk.capacity else 0)
            if disk.blank_size is None
            else bytes_to_mib_ceil(disk.blank_size),
            dump=disk.dump,
            ivname=disk.ivname,
            name=disk.name,
        )
        for disk in plan.disks
    ]
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(write_config(config))
    written = [(section, key, value) for section in parser.sections() for key, value in parser.items(section)]
    found = origins(
        {f"{section}.{key}": value for section, key, value in written},
        ganeti_option_keys(overrides) | {f"instance.disk{index}_size" for index in _seed_disks(machine)},
        ganeti_package_keys(machine),
    )
    return [
        Decision(f"[{section}] {key}", PRIVATE if section == "os_private" else value, found[f"{section}.{key}"])
        for section, key, value in written
    ]


PRIVATE = "<private>"
"""What a value of ``[os_private]`` is shown as (Ganeti keeps these out of
its logs; a plan is printed)."""


def _seed_disks(machine: Machine) -> set[int]:
    """The indexes of the disks that hold a ``--cloud-init`` seed (an
    option's, not the package's)."""
    return {index for index, disk in enumerate(machine.disks) if disk.image is not None and disk.image.key == SEED_KEY}


def _chosen(given: object, default: object) -> Origin:
    return Origin.OPTION if given != default else Origin.DEFAULT


def ovf_decisions(plan: PackagePlan, options: ExportOptions) -> list[Decision]:
    """The elements of the descriptor and the files of the package the plan
    writes: names, versions, hardware, disks, NICs, the Ganeti section and
    the manifest."""
    from ovfconverter.targets.ovf import ExportOptions

    defaults = ExportOptions()
    machine = plan.machine
    files = [
        DiskFile(href, 0, disk.capacity or 0)
        for href, disk in zip(plan.hrefs, machine.disks, strict=True)  # sizes are known once written
    ]
    envelope = envelope_from_machine(machine, plan.layout, files)
    system = envelope.virtual_systems[0]
    named = Origin.OPTION if options.name else Origin.PACKAGE
    decisions = [
        Decision("Envelope/@ovf:version", envelope.version, _chosen(options.ovf_version, defaults.ovf_version)),
        Decision("VirtualSystem/@ovf:id", system.id, named),
        Decision("VirtualSystem/Name", system.name or "", named),
        Decision(
            "VirtualSystemType",
            " ".join(plan.layout.system_types),
            _chosen(options.virtual_system_type, defaults.virtual_system_type),
        ),
    ]
    decisions += _hardware(system.items, machine)
    seeds = _seed_disks(machine)
    fmt = _chosen((options.format, options.vmdk_subformat), (defaults.format, defaults.vmdk_subformat))
    for index, (disk, href) in enumerate(zip(machine.disks, plan.hrefs, strict=True)):
        decisions.append(Decision(f"References/File[{index}]/@ovf:href", href, Origin.DEFAULT))
        decisions.append(Decision(f"DiskSection/Disk[{index}]/@ovf:format", plan.layout.format_uri, fmt))
        capacity = "?" if disk.capacity is None else str(disk.capacity)
        given = Origin.OPTION if index in seeds else Origin.PACKAGE
        decisions.append(Decision(f"DiskSection/Disk[{index}]/@ovf:capacity", capacity, given))
        if plan.layout.compressed:
            decisions.append(Decision(f"References/File[{index}]/@ovf:compression", "gzip", Origin.OPTION))
    section = envelope.ganeti is not None
    decisions.append(
        Decision(
            "gnt:GanetiSection",
            "written" if section else "left out",
            Origin.PACKAGE if section else (Origin.OPTION if options.external else Origin.DEFAULT),
        )
    )
    decisions.append(
        Decision(
            "manifest",
            f"{plan.manifest_name} ({options.digest})",
            _chosen(str(options.digest), str(defaults.digest)),
        )
    )
    return decisions


def _hardware(items: Sequence[ResourceItem], machine: Machine) -> list[Decision]:
    """CPU, memory, controllers and NICs as the VirtualHardwareSection
    writes them."""
    decisions = []
    nics = 0
    controllers = (ResourceType.IDE_CONTROLLER, ResourceType.PARALLEL_SCSI_HBA, ResourceType.OTHER_STORAGE_DEVICE)
    for item in items:
        label = item.element_name or str(item.resource_type)
        if item.resource_type == ResourceType.PROCESSOR:
            decisions.append(Decision("Item[Processor]/VirtualQuantity", str(item.virtual_quantity), Origin.PACKAGE))
        elif item.resource_type == ResourceType.MEMORY:
            value = f"{item.virtual_quantity} {item.allocation_units}"
            decisions.append(Decision("Item[Memory]/VirtualQuantity", value, Origin.PACKAGE))
        elif item.resource_type == ResourceType.ETHERNET_ADAPTER:
            model = Origin.PACKAGE if nics < len(machine.nics) and machine.nics[nics].model else Origin.DEFAULT
            decisions.append(Decision(f"Item[{label}]/ResourceSubType", item.resource_subtype or "", model))
            decisions.append(Decision(f"Item[{label}]/Connection", ", ".join(item.connections), Origin.PACKAGE))
            nics += 1
        elif item.resource_type in controllers:
            model = Origin.PACKAGE if any(c.model for c in machine.controllers) else Origin.DEFAULT
            decisions.append(Decision(f"Item[{label}]/ResourceSubType", item.resource_subtype or "", model))
    return decisions
