"""What ``info`` shows of each VirtualSystem of an OVF package, through the
neutral model: the :class:`~ovfconverter.model.machine.Machine` that
:func:`~ovfconverter.hub.ovf.machine_from_envelope` reads from the system
under the selected deployment profile gives the guest OS, CPUs, memory,
disks, NICs, removable drives, products, license texts and VirtualBox's
settings; one Machine per profile gives the per-profile summary.

Kept as package facts, read from the descriptor (each for the reason in
:class:`~ovfconverter.info.model.SystemInfo`'s docstring): the system's
id, name as written and collection; ``vssd:VirtualSystemType``; where a
NIC's MAC was found; the Items no conversion creates; a property's key as
written, its ``ovf:value`` and its default under each profile;
VirtualBox's name, OS type, firmware and controllers in its own words.
"""

from __future__ import annotations

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.hub.ovf import machine_from_envelope
from ovfconverter.info.model import (
    DeviceInfo,
    NicInfo,
    ProductInfo,
    ProfileHardwareInfo,
    PropertyInfo,
    SystemInfo,
    VirtualBoxInfo,
)
from ovfconverter.model.envelope import Envelope, ProductSection, ResourceType, VirtualSystem, resource_type_name
from ovfconverter.model.hardware import Hardware, describe_hardware, unused_disk_notes
from ovfconverter.model.machine import Disk, DriveKind, Machine, Product, RemovableDrive
from ovfconverter.model.properties import OS_PARAMETER, OS_PRIVATE_PARAMETER, resolve_properties
from ovfconverter.model.units import bytes_to_mib_ceil

_DRIVE_TYPES = {
    DriveKind.CDROM: ResourceType.CD_DRIVE,
    DriveKind.DVD: ResourceType.DVD_DRIVE,
    DriveKind.FLOPPY: ResourceType.FLOPPY_DRIVE,
}


def disk_id(disk: Disk) -> str:
    """How ``info`` names a machine's disk: its DiskSection id, or
    ``file:ID`` for an Item that names a File directly."""
    if disk.source_id is not None:
        return disk.source_id
    return f"file:{disk.image.key if disk.image else ''}"


def _memory_mib(machine: Machine) -> int | None:
    return bytes_to_mib_ceil(machine.memory.size) if machine.memory is not None else None


def _drive(envelope: Envelope, drive: RemovableDrive) -> DeviceInfo:
    """A removable drive; ``file`` only when the References hold its image."""
    ref = envelope.file(drive.image.key) if drive.image is not None else None
    return DeviceInfo(drive.label or "", resource_type_name(_DRIVE_TYPES[drive.kind]), ref.href if ref else None)


def _nics(machine: Machine, hw: Hardware) -> list[NicInfo]:
    """Each NIC of the machine; where its MAC was found is a package fact
    (the Item's ``rasd:Address`` or VirtualBox's section), read from ``hw``."""
    sources = [attachment.mac_source for attachment in hw.nics]
    return [
        NicInfo(nic.mac, nic.network, nic.source_subtype, sources[index] if nic.mac and index < len(sources) else None)
        for index, nic in enumerate(machine.nics)
    ]


def _profiles(envelope: Envelope, system: VirtualSystem) -> list[ProfileHardwareInfo]:
    """What each deployment profile of ``system`` amounts to: the machine
    each one gives."""
    result = []
    for option in envelope.deployment_options:
        machine, _ = machine_from_envelope(envelope, system, describe_hardware(envelope, system, option.id))
        sizes = [disk.capacity for disk in machine.disks]
        result.append(
            ProfileHardwareInfo(
                profile=option.id,
                cpus=machine.cpus.count if machine.cpus is not None else None,
                memory_mib=_memory_mib(machine),
                disks=[disk_id(disk) for disk in machine.disks],
                disk_bytes=None if None in sizes else sum(s for s in sizes if s is not None),
                nics=[nic.network for nic in machine.nics],
            )
        )
    return result


def _products(machine: Machine, sections: tuple[ProductSection, ...]) -> list[ProductInfo]:
    """The machine's products; a property's key as written, ``ovf:value``
    and per-profile defaults come from its ProductSection (the machine
    holds the selected profile's value only)."""
    return [_product(product, section) for product, section in zip(machine.products, sections, strict=True)]


def _product(product: Product, section: ProductSection) -> ProductInfo:
    return ProductInfo(
        class_id=product.class_id,
        instance_id=product.instance_id,
        product=product.product,
        vendor=product.vendor,
        version=product.version,
        full_version=product.full_version,
        product_url=product.product_url,
        vendor_url=product.vendor_url,
        app_url=product.app_url,
        properties=[
            PropertyInfo(
                key=prop.key,
                ovf_key=written.bare_key,
                type=prop.type,
                default=written.value,
                qualifiers=prop.qualifiers,
                user_configurable=prop.user_configurable,
                password=prop.password,
                label=prop.label,
                description=prop.description,
                category=prop.category,
                profile_defaults={
                    profile: value for profiles, value in written.profile_values for profile in profiles.split()
                },
                os_parameter=OS_PRIVATE_PARAMETER if prop.password else OS_PARAMETER,
            )
            for prop, written in zip(product.properties, section.properties, strict=True)
        ],
    )


def _virtualbox(machine: Machine, system: VirtualSystem) -> VirtualBoxInfo | None:
    """VirtualBox's settings: UUID and boot order from the machine; its
    name, OS type, firmware and controllers in VirtualBox's words, as
    written (the machine holds them neutrally: name, guest OS, firmware,
    controllers)."""
    vbox, written = machine.virtualbox, system.virtualbox
    if vbox is None or written is None:
        return None
    return VirtualBoxInfo(
        uuid=vbox.uuid,
        name=written.name,
        os_type=written.os_type,
        firmware=written.firmware,
        boot_order=list(vbox.boot_order),
        storage_controllers=[{"name": name, "type": kind} for name, kind in written.controllers],
    )


def system_info(envelope: Envelope, system: VirtualSystem, profile: str | None, warnings: list[str]) -> SystemInfo:
    """``system`` under ``profile``, as ``info`` shows it; what reading it
    noticed is appended to ``warnings``."""
    where = f"VirtualSystem {system.id!r}"
    hw = describe_hardware(envelope, system, profile)
    warnings.extend(f"{where}: {text}" for text in hw.problems + hw.notes)
    values = resolve_properties(system.properties, profile, {})
    warnings.extend(Diagnostic(text, where) for text in values.warnings)
    if hw.unused_disks:
        warnings.extend(f"{where}: {text}" for text in unused_disk_notes(envelope, hw)[:1])
    machine, notes = machine_from_envelope(envelope, system, hw)
    warnings.extend(f"{where}: {text}" for text in notes)
    return SystemInfo(
        id=system.id,
        name=system.name,
        collection=list(system.collection_path),
        profile=profile,
        os_id=machine.os.cim_id,
        os_description=machine.os.description,
        os_vmware_type=machine.os.vmware_os_type,
        system_types=[word for section in system.hardware for word in section.system_types],
        cpus=machine.cpus.count if machine.cpus is not None else None,
        memory_mib=_memory_mib(machine),
        disks=[disk_id(disk) for disk in machine.disks],
        nics=_nics(machine, hw),
        removable=[_drive(envelope, drive) for drive in machine.removable],
        other_devices=[DeviceInfo(item.label, resource_type_name(item.resource_type)) for item in hw.other],
        profiles=_profiles(envelope, system),
        products=_products(machine, system.products),
        eulas=list(machine.eulas),
        virtualbox=_virtualbox(machine, system),
        machine=machine,
    )
