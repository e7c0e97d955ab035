"""What a VirtualSystem's hardware amounts to, for one deployment profile.

Pure functions over the envelope model: profile filtering (DSP0243 section
9.8: an Item with ``ovf:configuration`` applies only to those profiles and
replaces the generic Item of the same InstanceID), CPU count, memory with its
allocation units (default MiB), disks, NICs, removable drives, and every
reference that does not resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ovfconverter.model.envelope import Envelope, ResourceItem, ResourceType, VirtualDisk, VirtualSystem
from ovfconverter.model.units import UnitError, quantity_to_bytes

DISK_TYPES = frozenset({ResourceType.DISK_DRIVE, ResourceType.LOGICAL_DISK, ResourceType.STORAGE_VOLUME})
NIC_TYPES = frozenset({ResourceType.ETHERNET_ADAPTER, ResourceType.OTHER_NETWORK_ADAPTER})
REMOVABLE_TYPES = frozenset({ResourceType.CD_DRIVE, ResourceType.DVD_DRIVE, ResourceType.FLOPPY_DRIVE})
CONTROLLER_TYPES = frozenset(
    {
        ResourceType.IDE_CONTROLLER,
        ResourceType.PARALLEL_SCSI_HBA,
        ResourceType.FC_HBA,
        ResourceType.ISCSI_HBA,
        ResourceType.IB_HCA,
        ResourceType.OTHER_STORAGE_DEVICE,
        ResourceType.USB_CONTROLLER,
    }
)
_HOST_RESOURCE_RE = re.compile(r"^(?:ovf:)?/(disk|file)/(.+)$")


@dataclass(frozen=True)
class DiskAttachment:
    """A disk of the virtual system, in boot order (document order).

    :ivar disk: the DiskSection Disk, or ``None`` when the Item names a File
        directly (``ovf:/file/ID``).
    :ivar file_id: the File holding the image (``None`` for a blank disk).
    :ivar item: the disk Item, or ``None`` for a Disk no Item attaches.
    """

    disk: VirtualDisk | None
    file_id: str | None
    item: ResourceItem | None

    @property
    def label(self) -> str:
        """``Disk vmdisk1`` / ``File file1``, for messages."""
        return f"Disk {self.disk.disk_id!r}" if self.disk else f"File {self.file_id!r}"


@dataclass(frozen=True)
class NicAttachment:
    """An Ethernet Item: ``mac`` from ``rasd:Address``, ``connection`` the
    OVF network name from ``rasd:Connection`` (first one)."""

    item: ResourceItem
    mac: str | None
    connection: str | None
    model: str | None


@dataclass
class Hardware:
    """The hardware of one VirtualSystem under one profile.

    :ivar memory: bytes, or ``None`` when no memory Item says.
    :ivar removable: CD/DVD and floppy drives (reported, never imported).
    :ivar other: Items that are neither CPU, memory, disk, NIC, removable
        drive nor controller (sound, USB, serial...), not imported.
    :ivar problems: references that do not resolve and values that cannot be
        read; an import refuses when this is not empty.
    :ivar notes: oddities worked around (warnings).
    """

    profile: str | None = None
    cpus: int | None = None
    memory: int | None = None
    disks: list[DiskAttachment] = field(default_factory=list)
    nics: list[NicAttachment] = field(default_factory=list)
    removable: list[ResourceItem] = field(default_factory=list)
    controllers: list[ResourceItem] = field(default_factory=list)
    other: list[ResourceItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def select_items(system: VirtualSystem, profile: str | None) -> list[ResourceItem]:
    """Return the Items of ``system`` that apply to deployment ``profile``.

    Items limited to other profiles and ``ovf:bound`` min/max Items are
    dropped; a profile-specific Item replaces generic Items with the same
    InstanceID (as VMware and COT read such descriptors).
    """
    kept = [
        item
        for item in system.items
        if item.bound not in ("min", "max")
        and (not item.configurations or (profile is not None and profile in item.configurations))
    ]
    specific_ids = {item.instance_id for item in kept if item.configurations and item.instance_id}
    result: list[ResourceItem] = []
    seen_specific: set[str] = set()
    for item in kept:
        if item.instance_id in specific_ids:
            if not item.configurations or item.instance_id in seen_specific:
                continue
            seen_specific.add(item.instance_id or "")
        result.append(item)
    return result


def parse_host_resource(text: str) -> tuple[str, str] | None:
    """Split ``ovf:/disk/ID`` or ``/file/ID`` into ``("disk", "ID")``;
    ``None`` for anything else."""
    match = _HOST_RESOURCE_RE.match(text.strip())
    return (match.group(1), match.group(2)) if match else None


def describe_hardware(envelope: Envelope, system: VirtualSystem, profile: str | None) -> Hardware:
    """Interpret ``system``'s hardware under ``profile`` (``None``: no
    DeploymentOptionSection, or use only generic Items).

    :returns: a :class:`Hardware`; problems are collected, never raised.
    """
    hw = Hardware(profile=profile)
    items = select_items(system, profile)
    by_id = {item.instance_id: item for item in items if item.instance_id}
    attached: list[str] = []
    single_system = len(envelope.virtual_systems) == 1
    for item in items:
        rtype = item.resource_type
        if item.parent:
            parent = by_id.get(item.parent)
            if parent is None:
                hw.notes.append(f"Item {item.label!r}: its Parent {item.parent!r} is not an Item of this system")
            elif parent.resource_type not in CONTROLLER_TYPES:
                hw.notes.append(f"Item {item.label!r}: its Parent {item.parent!r} is not a controller")
        if rtype == ResourceType.PROCESSOR:
            if item.virtual_quantity is None or item.virtual_quantity < 1:
                hw.problems.append(f"Item {item.label!r}: CPU Item without a positive VirtualQuantity")
            elif hw.cpus is not None:
                hw.notes.append(f"Item {item.label!r}: second CPU Item ignored")
            else:
                hw.cpus = item.virtual_quantity
        elif rtype == ResourceType.MEMORY:
            if item.virtual_quantity is None:
                hw.problems.append(f"Item {item.label!r}: memory Item without VirtualQuantity")
                continue
            try:
                memory = quantity_to_bytes(item.virtual_quantity, item.allocation_units, default="byte * 2^20")
            except UnitError as exc:
                hw.problems.append(f"Item {item.label!r}: memory AllocationUnits: {exc}")
                continue
            if hw.memory is not None:
                hw.notes.append(f"Item {item.label!r}: second memory Item ignored")
            else:
                hw.memory = memory
        elif rtype in DISK_TYPES:
            _attach_disk(envelope, hw, item, attached)
        elif rtype in NIC_TYPES:
            hw.nics.append(
                NicAttachment(
                    item=item,
                    mac=item.address,
                    connection=item.connections[0] if item.connections else None,
                    model=item.resource_subtype,
                )
            )
        elif rtype in REMOVABLE_TYPES:
            hw.removable.append(item)
            for resource in item.host_resources:
                parsed = parse_host_resource(resource)
                if parsed and parsed[0] == "file" and envelope.file(parsed[1]) is None:
                    hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} names no File in References")
        elif rtype in CONTROLLER_TYPES:
            hw.controllers.append(item)
        else:
            hw.other.append(item)

    if single_system:
        for disk in envelope.disks:
            if disk.disk_id not in attached:
                hw.notes.append(
                    f"Disk {disk.disk_id!r} is in the DiskSection but no disk Item attaches it; "
                    f"importing it as disk {len(hw.disks)}"
                )
                attached.append(disk.disk_id)
                hw.disks.append(DiskAttachment(disk=disk, file_id=disk.file_ref, item=None))
    for attachment in hw.disks:
        if attachment.disk is not None and attachment.disk.parent_ref is not None:
            hw.problems.append(f"{attachment.label}: delta disks (ovf:parentRef) are not supported")
    return hw


def _attach_disk(envelope: Envelope, hw: Hardware, item: ResourceItem, attached: list[str]) -> None:
    if not item.host_resources:
        hw.notes.append(f"Item {item.label!r}: disk drive without HostResource ignored")
        return
    resource = item.host_resources[0]
    parsed = parse_host_resource(resource)
    if parsed is None:
        hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} is not ovf:/disk/ID or ovf:/file/ID")
        return
    kind, ref = parsed
    if kind == "disk":
        disk = envelope.disk(ref)
        if disk is None:
            hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} names no Disk in the DiskSection")
            return
        if ref in attached:
            hw.notes.append(f"Item {item.label!r}: Disk {ref!r} is attached twice; importing it once")
            return
        attached.append(ref)
        hw.disks.append(DiskAttachment(disk=disk, file_id=disk.file_ref, item=item))
    else:
        if envelope.file(ref) is None:
            hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} names no File in References")
            return
        hw.disks.append(DiskAttachment(disk=None, file_id=ref, item=item))


def envelope_problems(envelope: Envelope) -> list[str]:
    """Problems of the envelope as a whole: Disks whose ``ovf:fileRef``
    names no File (independent of any virtual system)."""
    problems = []
    for disk in envelope.disks:
        if disk.file_ref is not None and envelope.file(disk.file_ref) is None:
            problems.append(f"Disk {disk.disk_id!r}: ovf:fileRef {disk.file_ref!r} names no File in References")
    return problems
