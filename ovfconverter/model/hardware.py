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

from ovfconverter.model.envelope import (
    Envelope,
    ResourceItem,
    ResourceType,
    VirtualBoxMachine,
    VirtualDisk,
    VirtualSystem,
)
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
    OVF network name from ``rasd:Connection`` (first one), ``model`` from
    ``rasd:ResourceSubType``; where the Item lacks the MAC or the model,
    VirtualBox's ``vbox:Machine`` adapter in the same place may supply them
    (``mac_source`` then says ``vbox:Machine``)."""

    item: ResourceItem
    mac: str | None
    connection: str | None
    model: str | None
    mac_source: str | None = None


# VirtualBox adapter types (its settings' Adapter/@type) as OVF's
# ResourceSubType words VirtualBox itself writes for them.
VIRTUALBOX_NIC_MODELS = {
    "Am79C970A": "PCNet32",
    "Am79C973": "PCNet32",
    "Am79C960": "PCNet32",
    "82540EM": "E1000",
    "82543GC": "E1000",
    "82545EM": "E1000",
    "virtio": "virtio",
}


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
    :ivar unused_disks: ids of the Disks that Items of other profiles of
        this system attach and this profile does not (not imported).
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
    unused_disks: list[str] = field(default_factory=list)


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
    attached: dict[str, list[ResourceItem]] = {}
    for item in items:
        _check_parent(hw, item, by_id)
        _take_item(envelope, hw, item, attached)
    if system.virtualbox is not None:
        _virtualbox_nics(hw, system.virtualbox)
    _settle_disks(envelope, system, hw, attached)
    return hw


def _check_parent(hw: Hardware, item: ResourceItem, by_id: dict[str, ResourceItem]) -> None:
    """Note an Item whose ``rasd:Parent`` is not a controller Item of the
    same system (a note, not a problem: the disk order still holds)."""
    if not item.parent:
        return
    parent = by_id.get(item.parent)
    if parent is None:
        hw.notes.append(f"Item {item.label!r}: its Parent {item.parent!r} is not an Item of this system")
    elif parent.resource_type not in CONTROLLER_TYPES:
        hw.notes.append(f"Item {item.label!r}: its Parent {item.parent!r} is not a controller")


def _take_item(envelope: Envelope, hw: Hardware, item: ResourceItem, attached: dict[str, list[ResourceItem]]) -> None:
    """File one Item into ``hw`` by its ``rasd:ResourceType``."""
    rtype = item.resource_type
    if rtype == ResourceType.PROCESSOR:
        _take_cpus(hw, item)
    elif rtype == ResourceType.MEMORY:
        _take_memory(hw, item)
    elif rtype in DISK_TYPES:
        _attach_disk(envelope, hw, item, attached)
    elif rtype in NIC_TYPES:
        hw.nics.append(
            NicAttachment(
                item=item,
                mac=item.mac_address or item.address,
                connection=item.connections[0] if item.connections else None,
                model=item.resource_subtype,
                mac_source="Item" if item.mac_address or item.address else None,
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


def _take_cpus(hw: Hardware, item: ResourceItem) -> None:
    """The CPU count from a Processor Item's ``rasd:VirtualQuantity``; the
    first such Item counts."""
    if item.virtual_quantity is None or item.virtual_quantity < 1:
        hw.problems.append(f"Item {item.label!r}: CPU Item without a positive VirtualQuantity")
    elif hw.cpus is not None:
        hw.notes.append(f"Item {item.label!r}: second CPU Item ignored")
    else:
        hw.cpus = item.virtual_quantity


def _take_memory(hw: Hardware, item: ResourceItem) -> None:
    """The memory in bytes from a Memory Item's ``rasd:VirtualQuantity``
    and ``rasd:AllocationUnits`` (MiB when absent); the first such Item
    counts."""
    if item.virtual_quantity is None:
        hw.problems.append(f"Item {item.label!r}: memory Item without VirtualQuantity")
        return
    try:
        memory = quantity_to_bytes(item.virtual_quantity, item.allocation_units, default="byte * 2^20")
    except UnitError as exc:
        hw.problems.append(f"Item {item.label!r}: memory AllocationUnits: {exc}")
        return
    if hw.memory is not None:
        hw.notes.append(f"Item {item.label!r}: second memory Item ignored")
    else:
        hw.memory = memory


def _settle_disks(
    envelope: Envelope, system: VirtualSystem, hw: Hardware, attached: dict[str, list[ResourceItem]]
) -> None:
    """After the Items: take every Disk when no Item attaches any (the only
    system of the package), or list the Disks only other profiles attach;
    then refuse delta disks."""
    if len(envelope.virtual_systems) == 1 and not attaches_disks(system):
        # VirtualBox 2.2 and some hand-written packages list their disks in
        # the DiskSection and attach none of them: all of them are the VM's.
        for disk in envelope.disks:
            hw.notes.append(
                f"Disk {disk.disk_id!r}: no Item of the package attaches a disk; "
                f"importing every Disk of the DiskSection, this one as disk {len(hw.disks)}"
            )
            hw.disks.append(DiskAttachment(disk=disk, file_id=disk.file_ref, item=None))
    else:
        named = disks_named(system)
        hw.unused_disks = [d.disk_id for d in envelope.disks if d.disk_id in named and d.disk_id not in attached]
    for attachment in hw.disks:
        if attachment.disk is not None and attachment.disk.parent_ref is not None:
            hw.problems.append(f"{attachment.label}: delta disks (ovf:parentRef) are not supported")


def _virtualbox_nics(hw: Hardware, machine: VirtualBoxMachine) -> None:
    """Fill what the Ethernet Items lack from ``vbox:Machine``: VirtualBox
    writes one Item per enabled adapter, in slot order, without MAC."""
    adapters = [adapter for adapter in machine.adapters if adapter.enabled]
    if len(adapters) != len(hw.nics):
        if any(nic.mac is None for nic in hw.nics) and adapters:
            hw.notes.append(
                f"vbox:Machine has {len(adapters)} enabled adapter(s) for {len(hw.nics)} Ethernet Item(s); "
                "its MAC addresses are not used"
            )
        return
    for index, (nic, adapter) in enumerate(zip(hw.nics, adapters, strict=True)):
        mac, source = nic.mac, nic.mac_source
        text = (adapter.mac or "").strip()
        if mac is None and len(text) == 12 and all(c in "0123456789abcdefABCDEF" for c in text):
            mac = ":".join(text[i : i + 2] for i in range(0, 12, 2)).lower()
            source = "vbox:Machine"
            hw.notes.append(f"NIC {index}: MAC {mac} from VirtualBox's vbox:Machine section (the Item has none)")
        model = nic.model or VIRTUALBOX_NIC_MODELS.get(adapter.type or "", adapter.type)
        hw.nics[index] = NicAttachment(nic.item, mac, nic.connection, model, source)


def _address(item: ResourceItem) -> tuple[str, str] | None:
    """Where an Item sits: (Parent, AddressOnParent), ``None`` when the
    descriptor does not say."""
    if item.parent is None or item.address_on_parent is None:
        return None
    return (item.parent.strip(), item.address_on_parent.strip())


def _attach_disk(envelope: Envelope, hw: Hardware, item: ResourceItem, attached: dict[str, list[ResourceItem]]) -> None:
    if not item.host_resources:
        hw.notes.append(f"Item {item.label!r}: disk drive without HostResource ignored")
        return
    resource = item.host_resources[0]
    parsed = parse_host_resource(resource) or _vdsm_path(envelope, hw, item, resource)
    if parsed is None:
        hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} is not ovf:/disk/ID or ovf:/file/ID")
        return
    kind, ref = parsed
    if kind == "disk":
        disk = envelope.disk(ref)
        if disk is None:
            hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} names no Disk in the DiskSection")
            return
        earlier = attached.setdefault(ref, [])
        if earlier:
            address = _address(item)
            same_place = address is not None and any(_address(other) == address for other in earlier)
            if disk.file_ref is not None or same_place:
                why = (
                    "at the same controller address as before"
                    if same_place
                    else "and it has a file (one image cannot be two disks of one VM)"
                )
                hw.notes.append(f"Item {item.label!r}: Disk {ref!r} is attached again, {why}; importing it once")
                return
            hw.notes.append(
                f"Item {item.label!r}: blank Disk {ref!r} is attached by {len(earlier) + 1} Items; "
                "each gets an empty disk of its own"
            )
        earlier.append(item)
        hw.disks.append(DiskAttachment(disk=disk, file_id=disk.file_ref, item=item))
    else:
        if envelope.file(ref) is None:
            hw.problems.append(f"Item {item.label!r}: HostResource {resource!r} names no File in References")
            return
        hw.disks.append(DiskAttachment(disk=None, file_id=ref, item=item))


def _vdsm_path(envelope: Envelope, hw: Hardware, item: ResourceItem, resource: str) -> tuple[str, str] | None:
    """oVirt's export domains name a disk by its VDSM volume path,
    ``IMAGE_GROUP/VOLUME`` (also a Disk's ``ovf:fileRef``), not
    ``ovf:/disk/ID``: find the Disk that path or its last part names."""
    text = resource.strip()
    if "/" not in text or text.startswith("/") or ":" in text:
        return None
    for disk in envelope.disks:
        if disk.file_ref == text or disk.disk_id == text.rsplit("/", 1)[1]:
            hw.notes.append(f"Item {item.label!r}: HostResource {text!r} read as oVirt's path of Disk {disk.disk_id!r}")
            return ("disk", disk.disk_id)
    return None


def attaches_disks(system: VirtualSystem) -> bool:
    """Whether any disk Item of ``system``, in any profile, names a Disk or
    a File (``False`` for packages that list disks only in the
    DiskSection, as VirtualBox 2.2 wrote them)."""
    return any(
        item.resource_type in DISK_TYPES and any(parse_host_resource(text) for text in item.host_resources)
        for item in system.items
    )


def disks_named(system: VirtualSystem, types: frozenset[int] | None = None) -> set[str]:
    """The ids of the Disks any disk Item of ``system`` names, in any
    profile (``types``: Items of these ResourceTypes instead)."""
    named: set[str] = set()
    for item in system.items:
        if item.resource_type in (DISK_TYPES if types is None else types):
            for text in item.host_resources[:1]:
                parsed = parse_host_resource(text)
                if parsed and parsed[0] == "disk":
                    named.add(parsed[1])
    return named


def unattached_disks(envelope: Envelope) -> list[str]:
    """Disks of the DiskSection that no Item of any virtual system names in
    any profile, when the package's Items attach disks at all (otherwise
    :func:`describe_hardware` imports every Disk)."""
    if not any(attaches_disks(system) for system in envelope.virtual_systems):
        return []
    # an ISO image a CD-ROM Item names as a Disk (VirtualBox's form) is attached too
    named = set().union(
        *(disks_named(system) | disks_named(system, REMOVABLE_TYPES) for system in envelope.virtual_systems)
    )
    return [disk.disk_id for disk in envelope.disks if disk.disk_id not in named]


def unused_disk_notes(envelope: Envelope, hw: Hardware) -> list[str]:
    """What an import of ``hw`` leaves out of the DiskSection: the Disks
    only other profiles attach, then :func:`unattached_disk_notes`
    (doc/decisions.rst, "Which disks")."""
    notes = []
    if hw.unused_disks:
        notes.append(
            f"profile {hw.profile!r} does not attach Disk(s) {', '.join(map(repr, hw.unused_disks))} "
            "(other profiles do); not imported"
        )
    return notes + unattached_disk_notes(envelope)


def unattached_disk_notes(envelope: Envelope) -> list[str]:
    """One line per Disk with a file that no Item attaches in any profile
    (its content is left out), one line for all such blank Disks (size
    templates nothing uses)."""
    notes = []
    blank = []
    for disk_id in unattached_disks(envelope):
        disk = envelope.disk(disk_id)
        ref = envelope.file(disk.file_ref) if disk and disk.file_ref else None
        if ref is None:
            blank.append(disk_id)
        else:
            notes.append(f"Disk {disk_id!r} (file {ref.href!r}) is attached by no Item of any profile; not imported")
    if blank:
        notes.append(f"blank Disk(s) {', '.join(map(repr, blank))} are attached by no Item of any profile; not created")
    return notes


def envelope_problems(envelope: Envelope) -> list[str]:
    """Problems of the envelope as a whole: Disks whose ``ovf:fileRef``
    names no File (independent of any virtual system)."""
    problems = []
    for disk in envelope.disks:
        if disk.file_ref is not None and envelope.file(disk.file_ref) is None:
            problems.append(f"Disk {disk.disk_id!r}: ovf:fileRef {disk.file_ref!r} names no File in References")
    return problems
