"""Machine -> OVF envelope: the pure mapping that writes a
:class:`~ovfconverter.model.machine.Machine` as one VirtualSystem: CPU and
memory Items in ``byte * 2^20``, the disks on the machine's controllers (an
LSI Logic SCSI controller per 15 disks when the machine names none), NICs
with their model and MAC, one Network per connection, the ProductSections,
and, when asked, the Ganeti section.  The ResourceSubType spellings are
:mod:`ovfconverter.hub.ovf`'s tables.  Source: DSP0243 (sections 7-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ovfconverter.errors import OptionError
from ovfconverter.hub.ovf import CONTROLLER_SPELLING, NIC_SPELLING
from ovfconverter.model.envelope import (
    Envelope,
    FileReference,
    Network,
    OperatingSystem,
    ProductProperty,
    ProductSection,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import GanetiDisk, GanetiNic, GanetiSection
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    GanetiNicSettings,
    Machine,
    Nic,
    NicModel,
    Product,
)
from ovfconverter.model.units import bytes_to_mib_ceil

SCSI_TARGETS = 15
"""Disks per parallel SCSI controller: IDs 0-15 less the controller's own 7."""


@dataclass(frozen=True)
class DiskFile:
    """A disk image written for the package, as the envelope describes it.

    :ivar href: its name in the package.
    :ivar size: its stored size in bytes (compressed when compressed).
    :ivar capacity: the disk's virtual size in bytes.
    :ivar populated: bytes of data it holds, or ``None``.
    """

    href: str
    size: int
    capacity: int
    populated: int | None = None


@dataclass(frozen=True)
class EnvelopeLayout:
    """How :func:`envelope_from_machine` writes a machine.

    :ivar version: the OVF version (``1.0``, ``2.0``).
    :ivar system_types: ``vssd:VirtualSystemType`` words.
    :ivar format_uri: the disk files' ``ovf:format``.
    :ivar compressed: the disk files are gzip-compressed.
    :ivar ganeti_section: write the machine's Ganeti settings as a Ganeti
        section (when it has them).
    :ivar name: the VirtualSystem's id and Name, instead of the machine's.
    :ivar iso_as_disk: a CD-ROM's image is a DiskSection Disk (ECMA-119
        format) referenced as ``ovf:/disk/ID``, as VirtualBox reads it;
        otherwise a File referenced as ``ovf:/file/ID``, as VMware writes it.
    :ivar vmware_config: ``vmw:Config`` key/value pairs (``firmware``).
    :ivar environment: write the machine's OVF environment transports
        (``ovf:transport``); false for a product that hands the guest none.
    """

    version: str
    system_types: tuple[str, ...]
    format_uri: str
    compressed: bool = False
    ganeti_section: bool = True
    name: str | None = None
    iso_as_disk: bool = True
    vmware_config: tuple[tuple[str, str], ...] = ()
    environment: bool = True


ISO_FORMAT_URI = "http://www.ecma-international.org/publications/standards/Ecma-119.htm"
"""``ovf:format`` of an ISO 9660 image (what VirtualBox writes and reads)."""


def network_name(nic: Nic) -> str:
    """The OVF Network a NIC connects to: its Ganeti network, link or mode
    when it has a Ganeti attachment, else its network; ``default`` when
    nothing says."""
    if nic.ganeti is not None:
        g = nic.ganeti
        return g.network or g.link or g.mode or "default"
    return nic.network or "default"


def _network_description(nic: Nic) -> str:
    g = nic.ganeti
    if g is None:
        return f"Logical network {network_name(nic)}"
    if g.network:
        return f"Ganeti network {g.network}"
    if g.link:
        return f"{(g.mode or 'bridged').capitalize()} link {g.link}"
    return f"{(g.mode or 'Default').capitalize()} network of the Ganeti cluster"


def ganeti_section(machine: Machine) -> GanetiSection | None:
    """The Ganeti section that carries what plain OVF cannot say of a
    Ganeti instance (``None`` without Ganeti settings)."""
    settings = machine.ganeti
    if settings is None:
        return None
    return GanetiSection(
        version=settings.version or "0",
        tags=tuple(settings.tags),
        disk_template=settings.disk_template,
        os_name=settings.os_name,
        os_parameters=dict(settings.os_parameters),
        hypervisor_name=settings.hypervisor,
        hypervisor_parameters=dict(settings.hypervisor_parameters),
        backend_parameters=dict(settings.backend_parameters),
        nics=tuple(
            GanetiNic(mac=g.mac, ip=g.ip, mode=g.mode, link=g.link, network=g.network, name=g.name, vlan=g.vlan)
            for g in (nic.ganeti or GanetiNicSettings() for nic in machine.nics)
        ),
        disks=tuple(GanetiDisk(ivname=disk.ivname, name=disk.name) for disk in settings.disks),
    )


class _Items:
    """Numbers the Items of a VirtualHardwareSection (InstanceID 1, 2...)."""

    def __init__(self, element: str | None) -> None:
        self.items: list[ResourceItem] = []
        self.element = element

    def add(self, item: ResourceItem, element: str = "Item") -> str:
        instance = str(len(self.items) + 1)
        self.items.append(replace(item, instance_id=instance, element=self.element or element))
        return instance


def _controller_item(found: Controller, count: int) -> ResourceItem:
    rtype = {
        Bus.IDE: ResourceType.IDE_CONTROLLER,
        Bus.SCSI: ResourceType.PARALLEL_SCSI_HBA,
        Bus.USB: ResourceType.USB_CONTROLLER,
    }.get(found.bus, ResourceType.OTHER_STORAGE_DEVICE)
    subtype = CONTROLLER_SPELLING.get(found.model) if found.model else None
    if subtype is None and found.bus is Bus.SATA:
        subtype = CONTROLLER_SPELLING[ControllerModel.AHCI]
    elif subtype is None and found.bus is Bus.NVME:
        subtype = "vmware.nvme.controller"
    name = {Bus.IDE: "IDE", Bus.SCSI: "SCSI", Bus.SATA: "SATA", Bus.NVME: "NVMe", Bus.USB: "USB"}.get(found.bus, "")
    return ResourceItem(
        resource_type=rtype,
        element_name=f"{name} controller {count}",
        description=f"{name} controller",
        resource_subtype=subtype,
        address=str(found.index),
    )


def _disk_items(machine: Machine, items: _Items, element: str, drives: Sequence[str | None] = ()) -> dict[int, str]:
    """Controllers and the disks on them; disks the machine places on no
    controller go on LSI Logic SCSI controllers, 15 to each (VMware's and
    VirtualBox's importers expect one).  ``drives``: per removable drive,
    whether it is written (its HostResource) or not (``None``).

    :returns: InstanceID of each controller written, by its index."""
    written = [d for d, res in zip(machine.removable, drives, strict=False) if res is not None]
    placed: dict[int, str] = {}
    for index, found in enumerate(machine.controllers):
        if any(disk.controller == index for disk in machine.disks) or any(d.controller == index for d in written):
            placed[index] = items.add(_controller_item(found, found.index))
    extra: list[str] = []
    loose = 0
    for index, disk in enumerate(machine.disks):
        if disk.controller in placed:
            parent, unit = placed[disk.controller], disk.unit if disk.unit is not None else 0
        else:
            slot = loose % SCSI_TARGETS
            if slot == 0:
                lsi = Controller(Bus.SCSI, ControllerModel.LSILOGIC, len(extra))
                extra.append(items.add(_controller_item(lsi, len(extra))))
            parent, unit = extra[-1], slot if slot < 7 else slot + 1
            loose += 1
        items.add(
            ResourceItem(
                resource_type=ResourceType.DISK_DRIVE,
                element_name=f"disk{index}",
                description=f"Ganeti disk {index}" if machine.ganeti is not None else f"Disk {index}",
                host_resources=(f"ovf:/disk/disk{index}",),
                parent=parent,
                address_on_parent=str(unit),
            ),
            element,
        )
    return placed


def _drive_items(machine: Machine, items: _Items, placed: dict[int, str], drives: Sequence[str | None]) -> None:
    """A CD-ROM (or floppy) Item for each drive written, on its controller."""
    for index, (drive, resource) in enumerate(zip(machine.removable, drives, strict=True)):
        if resource is None:
            continue
        cdrom = drive.kind.optical  # a DVD drive too: CD drive is what every consumer reads
        items.add(
            ResourceItem(
                resource_type=ResourceType.CD_DRIVE if cdrom else ResourceType.FLOPPY_DRIVE,
                element_name=f"{'cdrom' if cdrom else 'floppy'}{index}",
                description=drive.label or ("CD-ROM drive" if cdrom else "Floppy drive"),
                host_resources=(resource,),
                parent=placed.get(drive.controller) if drive.controller is not None else None,
                address_on_parent=str(drive.unit) if drive.unit is not None else None,
                automatic_allocation=True,
            )
        )


def _nic_items(machine: Machine, items: _Items, element: str) -> None:
    for index, nic in enumerate(machine.nics):
        network = network_name(nic)
        spelling = NIC_SPELLING[nic.model or NicModel.E1000]
        items.add(
            ResourceItem(
                resource_type=ResourceType.ETHERNET_ADAPTER,
                element_name=f"ethernet{index}",
                description=f"{spelling} ethernet adapter on {network}",
                resource_subtype=spelling,
                automatic_allocation=True,
                connections=(network,),
                address=nic.mac,
            ),
            element,
        )


def _bare_key(key: str, product: Product) -> str:
    """A property's ``ovf:key``: its full name without the ProductSection's
    class prefix and instance suffix."""
    if product.class_id and key.startswith(product.class_id + "."):
        key = key[len(product.class_id) + 1 :]
    if product.instance_id and key.endswith("." + product.instance_id):
        key = key[: -len(product.instance_id) - 1]
    return key


def _product_section(product: Product) -> ProductSection:
    return ProductSection(
        class_id=product.class_id,
        instance_id=product.instance_id,
        product=product.product,
        vendor=product.vendor,
        version=product.version,
        full_version=product.full_version,
        product_url=product.product_url,
        vendor_url=product.vendor_url,
        app_url=product.app_url,
        properties=tuple(
            ProductProperty(
                key=prop.key,
                bare_key=_bare_key(prop.key, product),
                value=prop.value,
                type=prop.type,
                label=prop.label,
                qualifiers=prop.qualifiers,
                user_configurable=prop.user_configurable,
                password=prop.password,
                description=prop.description,
                category=prop.category,
            )
            for prop in product.properties
        ),
    )


def envelope_from_machine(
    machine: Machine, layout: EnvelopeLayout, files: Sequence[DiskFile], drive_files: Sequence[DiskFile | None] = ()
) -> Envelope:
    """Describe ``machine`` as an OVF envelope of one VirtualSystem.

    :param files: the disk images written, one per disk, in disk order.
    :param drive_files: per removable drive, the image written for it
        (``None``, or missing at the end: the drive is left out); its File
        follows the disks' (see :attr:`EnvelopeLayout.iso_as_disk`).
    :raises OptionError: the machine has no name, no CPU count or no
        memory size (an OVF VirtualSystem states all three).
    """
    name = layout.name or machine.name
    if not name or machine.cpus is None or machine.memory is None:
        raise OptionError("an OVF virtual system needs a name, a CPU count and a memory size")
    items = _Items("Item" if not layout.version.startswith("2") else None)
    _cpu_memory_items(machine.cpus.count, machine.memory.size, items)
    images, refs = _drive_images(machine, layout, len(files), drive_files)
    placed = _disk_items(machine, items, "StorageItem", refs)
    _drive_items(machine, items, placed, refs)
    _nic_items(machine, items, "EthernetPortItem")
    networks: dict[str, Network] = {}
    for nic in machine.nics:
        networks.setdefault(network_name(nic), Network(network_name(nic), _network_description(nic)))
    guest = machine.os
    system = VirtualSystem(
        id=name,
        name=name,
        info="A virtual machine exported from Ganeti" if machine.ganeti is not None else "A virtual machine",
        operating_system=OperatingSystem(
            id=guest.cim_id, description=guest.description, version=guest.version, vmware_os_type=guest.vmware_os_type
        ),
        hardware=(
            VirtualHardware(
                system_types=layout.system_types,
                items=tuple(items.items),
                transport=machine.environment_transports if layout.environment else (),
                vmware_config=layout.vmware_config,
            ),
        ),
        products=tuple(_product_section(product) for product in machine.products),
        eulas=machine.eulas,
    )
    references, disks = _files_and_disks(layout, files, [f for _, f in images])
    return Envelope(
        version=layout.version,
        files=references,
        disks=disks,
        networks=tuple(networks.values()),
        virtual_systems=(system,),
        ganeti=ganeti_section(machine) if layout.ganeti_section else None,
    )


def _cpu_memory_items(cpus: int, memory: int, items: _Items) -> None:
    """The Processor and Memory Items (``memory`` in bytes, written in MiB,
    rounded up)."""
    mib = bytes_to_mib_ceil(memory)
    items.add(
        ResourceItem(
            resource_type=ResourceType.PROCESSOR,
            element_name=f"{cpus} virtual CPU(s)",
            description="Number of virtual CPUs",
            allocation_units="hertz * 10^6",
            virtual_quantity=cpus,
        )
    )
    items.add(
        ResourceItem(
            resource_type=ResourceType.MEMORY,
            element_name=f"{mib} MB of memory",
            description="Memory size",
            allocation_units="byte * 2^20",
            virtual_quantity=mib,
        )
    )


def _drive_images(
    machine: Machine, layout: EnvelopeLayout, disk_count: int, drive_files: Sequence[DiskFile | None]
) -> tuple[list[tuple[int, DiskFile]], list[str | None]]:
    """The removable drives that get an image: ``(drive index, file)`` in
    order, and per drive the ``rasd:HostResource`` naming its image
    (``ovf:/disk/cdromN`` or ``ovf:/file/fileN`` after the disks' Files;
    ``None`` for an empty drive)."""
    images = [(i, f) for i, f in enumerate(drive_files) if f is not None and i < len(machine.removable)]
    refs: list[str | None] = [None] * len(machine.removable)
    for number, (index, _) in enumerate(images):
        ident = f"cdrom{number}" if layout.iso_as_disk else f"file{disk_count + number}"
        refs[index] = f"ovf:/{'disk' if layout.iso_as_disk else 'file'}/{ident}"
    return images, refs


def _files_and_disks(
    layout: EnvelopeLayout, files: Sequence[DiskFile], images: Sequence[DiskFile]
) -> tuple[tuple[FileReference, ...], tuple[VirtualDisk, ...]]:
    """References/File (the disks' images, then the drives') and the
    DiskSection's Disks (the disks, then, when ISOs are disks, the drives')."""
    count = len(files)
    references = (
        *(
            FileReference(id=f"file{i}", href=f.href, size=f.size, compression="gzip" if layout.compressed else None)
            for i, f in enumerate(files)
        ),
        *(FileReference(id=f"file{count + n}", href=f.href, size=f.size) for n, f in enumerate(images)),
    )
    disks = (
        *(
            VirtualDisk(
                disk_id=f"disk{i}",
                file_ref=f"file{i}",
                capacity=f.capacity,
                format=layout.format_uri,
                populated_size=f.populated,
            )
            for i, f in enumerate(files)
        ),
        *(
            VirtualDisk(disk_id=f"cdrom{n}", file_ref=f"file{count + n}", capacity=f.capacity, format=ISO_FORMAT_URI)
            for n, f in enumerate(images)
            if layout.iso_as_disk
        ),
    )
    return references, disks
