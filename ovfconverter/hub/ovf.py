"""OVF envelope -> :class:`~ovfconverter.model.machine.Machine`: the pure
mapping of one VirtualSystem under one deployment profile into the neutral
machine model, and the tables of OVF's spellings.

Reading (:func:`machine_from_envelope`): the hardware of
:func:`~ovfconverter.model.hardware.describe_hardware` becomes CPUs, memory,
controllers, disks in boot order, removable drives and NICs; the
OperatingSystemSection becomes the guest OS (CIM ``OsType`` numbers mapped to
a family and distribution); the Ganeti section, when present, becomes the
machine's :class:`~ovfconverter.model.machine.GanetiSettings` and each NIC's
Ganeti attachment.

Writing, Machine -> Envelope, is :mod:`ovfconverter.hub.ovf_envelope`.

The tables between OVF's ``rasd:ResourceSubType`` spellings and the neutral
:class:`~ovfconverter.model.machine.ControllerModel` and
:class:`~ovfconverter.model.machine.NicModel` are here, once.  Sources:
DSP0243 (sections 9.5, 9.6), CIM_OperatingSystem ``OSType`` (CIM schema
2.x), the spellings VMware and VirtualBox write.
"""

from __future__ import annotations

from dataclasses import replace

from ovfconverter.errors import OptionError
from ovfconverter.hub.devices import vmware_firmware
from ovfconverter.hub.guest_names import guest_from_names, refine_guest
from ovfconverter.model.envelope import (
    Envelope,
    OperatingSystem,
    ProductSection,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualSystem,
    format_for_uri,
)
from ovfconverter.model.ganeti import GanetiNic, GanetiSection, normalize_mac
from ovfconverter.model.hardware import DiskAttachment, Hardware, NicAttachment, parse_host_resource
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Chipset,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    DriveKind,
    Firmware,
    GanetiDiskSettings,
    GanetiNicSettings,
    GanetiSettings,
    GuestOS,
    ImageRef,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
    Product,
    Property,
    RemovableDrive,
    VirtualBoxSettings,
    VMwareSettings,
    frozen_map,
)

# -- tables ------------------------------------------------------------------

CONTROLLER_SUBTYPES: dict[str, ControllerModel] = {
    "piix3": ControllerModel.PIIX3,
    "piix4": ControllerModel.PIIX4,
    "ahci": ControllerModel.AHCI,
    "vmware.sata.ahci": ControllerModel.AHCI,
    "lsilogic": ControllerModel.LSILOGIC,
    "lsilogicsas": ControllerModel.LSISAS1068,
    "lsilogic-sas": ControllerModel.LSISAS1068,
    "buslogic": ControllerModel.BUSLOGIC,
    "virtualscsi": ControllerModel.PVSCSI,
    "pvscsi": ControllerModel.PVSCSI,
    "virtio-scsi": ControllerModel.VIRTIO_SCSI,
    "megasas": ControllerModel.MEGASAS,
}
"""``rasd:ResourceSubType`` of a storage controller (lower case) -> model."""

CONTROLLER_SPELLING: dict[ControllerModel, str] = {
    ControllerModel.PIIX3: "PIIX3",
    ControllerModel.PIIX4: "PIIX4",
    # VMware supports ResourceType 20 only as "vmware.sata.ahci" ("No support
    # for the virtual hardware device type '20'" otherwise); VirtualBox
    # reads it too (ovfreader.cpp).  doc/publishing.rst.
    ControllerModel.AHCI: "vmware.sata.ahci",
    ControllerModel.LSILOGIC: "lsilogic",
    ControllerModel.LSISAS1068: "lsilogicsas",
    ControllerModel.BUSLOGIC: "buslogic",
    ControllerModel.PVSCSI: "VirtualSCSI",
    ControllerModel.VIRTIO_SCSI: "virtio-scsi",
    ControllerModel.MEGASAS: "megasas",
}
"""Model -> the ``rasd:ResourceSubType`` written (VMware's and VirtualBox's
spellings)."""

NIC_SUBTYPES: dict[str, NicModel] = {
    "e1000": NicModel.E1000,
    "e1000e": NicModel.E1000E,
    "vmxnet3": NicModel.VMXNET3,
    "vmxnet2": NicModel.VMXNET2,
    "vmxnet": NicModel.VMXNET2,
    "pcnet32": NicModel.PCNET32,
    "pcnet": NicModel.PCNET32,
    "pcnetfast": NicModel.PCNET32,
    "pcnetfastiii": NicModel.PCNET32,
    "am79c973": NicModel.PCNET32,
    "am79c970a": NicModel.PCNET32,
    "rtl8139": NicModel.RTL8139,
    "ne2k_pci": NicModel.NE2K_PCI,
    "virtio": NicModel.VIRTIO,
    "virtio-net": NicModel.VIRTIO,
}
"""``rasd:ResourceSubType`` of an Ethernet adapter (lower case) -> model."""

NIC_SPELLING: dict[NicModel, str] = {
    NicModel.E1000: "E1000",
    NicModel.E1000E: "E1000e",
    NicModel.VMXNET3: "VmxNet3",
    NicModel.VMXNET2: "VmxNet2",
    NicModel.PCNET32: "PCNet32",
    NicModel.RTL8139: "rtl8139",
    NicModel.NE2K_PCI: "ne2k_pci",
    # VirtualBox reads "VirtioNet", "virtio-net" or "3" as virtio and gives
    # any other spelling the guest type's default NIC (ApplianceImplImport.cpp).
    NicModel.VIRTIO: "virtio-net",
}
"""Model -> the ``rasd:ResourceSubType`` written."""

_WINDOWS = frozenset(
    {15, 16, 17, 18, 19, 58, 63, 67, 69, 70, 71, 72, 73, 74, 75, 76, 77, 103, 105, 111, 112, 113, 114, 115}
)
_LINUX = frozenset(
    {36, 79, 80, 82, 83, 84, 85, 87, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 106, 107, 108, 109}
)
_BSD = frozenset({41, 42, 43, 65, 78})
_SOLARIS = frozenset({29, 30, 81})
_64_BIT = frozenset(
    {70, 71, 74, 77, 78, 80, 81, 83, 85, 90, 92, 94, 96, 98, 100, 101, 102, 103, 107, 109, 111, 112, 114, 115}
)
_DISTRIBUTIONS = {
    42: "freebsd",
    43: "netbsd",
    65: "openbsd",
    78: "freebsd",
    79: "rhel",
    80: "rhel",
    82: "opensuse",
    83: "opensuse",
    84: "sles",
    85: "sles",
    89: "mandriva",
    90: "mandriva",
    93: "ubuntu",
    94: "ubuntu",
    95: "debian",
    96: "debian",
    106: "centos",
    107: "centos",
    108: "ol",
    109: "ol",
}


def guest_os(osys: OperatingSystem | None) -> GuestOS:
    """The guest OS an OperatingSystemSection describes: its CIM
    ``OSType`` number (DSP0243 9.6) gives the family, distribution and,
    for the numbers that say so, a 64-bit architecture; VMware's guest id
    and the description add what the number does not say, such as the
    version (:mod:`ovfconverter.hub.guest_names`)."""
    if osys is None:
        return GuestOS()
    number = osys.id
    family = None
    if number is not None:
        family = (
            OsFamily.WINDOWS
            if number in _WINDOWS
            else OsFamily.LINUX
            if number in _LINUX
            else OsFamily.BSD
            if number in _BSD
            else OsFamily.SOLARIS
            if number in _SOLARIS
            else OsFamily.OTHER
            if number > 0
            else None
        )
    distribution = _DISTRIBUTIONS.get(number or 0) or ("windows" if family is OsFamily.WINDOWS else None)
    stated = GuestOS(
        cim_id=number,
        description=osys.description,
        family=family,
        distribution=distribution,
        version=osys.version,
        architecture=Architecture.X86_64 if number in _64_BIT else None,
        vmware_os_type=osys.vmware_os_type,
    )
    return refine_guest(stated, guest_from_names(osys.vmware_os_type, osys.description))


# -- envelope -> machine ------------------------------------------------------

_CONTROLLER_BUSES = {
    ResourceType.IDE_CONTROLLER: Bus.IDE,
    ResourceType.PARALLEL_SCSI_HBA: Bus.SCSI,
    ResourceType.FC_HBA: Bus.SCSI,
    ResourceType.ISCSI_HBA: Bus.SCSI,
    ResourceType.USB_CONTROLLER: Bus.USB,
}


def controller(item: ResourceItem, index: int) -> Controller:
    """The storage controller an Item describes.

    :param index: how many controllers of its bus come before it.
    An ``Other storage device`` (ResourceType 20) is NVMe when its
    ResourceSubType says so, else SATA: VirtualBox (``AHCI``) and VMware
    (``vmware.sata.ahci``) describe their SATA controllers so.
    """
    subtype = (item.resource_subtype or "").strip()
    bus = next((bus for rtype, bus in _CONTROLLER_BUSES.items() if rtype == item.resource_type), None)
    if bus is None:
        bus = Bus.NVME if "nvme" in subtype.lower() else Bus.SATA
    return Controller(bus, CONTROLLER_SUBTYPES.get(subtype.lower()), index, subtype or None)


def _unit(item: ResourceItem | None) -> int | None:
    text = (item.address_on_parent or "").strip() if item else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _controllers(hw: Hardware) -> tuple[tuple[Controller, ...], dict[str, int]]:
    """The machine's controllers, and each one's index by InstanceID."""
    found: list[Controller] = []
    by_instance: dict[str, int] = {}
    for item in hw.controllers:
        made = controller(item, 0)
        made = Controller(made.bus, made.model, sum(c.bus is made.bus for c in found), made.source_subtype)
        if item.instance_id:
            by_instance.setdefault(item.instance_id, len(found))
        found.append(made)
    return tuple(found), by_instance


def _image(envelope: Envelope, file_id: str | None, disk: VirtualDisk | None) -> ImageRef | None:
    ref = envelope.file(file_id) if file_id else None
    if ref is None:
        return None
    return ImageRef(
        key=ref.id, name=ref.href, format=format_for_uri(disk.format if disk else None), stored_size=ref.size
    )


def _disk(envelope: Envelope, attachment: DiskAttachment, by_instance: dict[str, int]) -> Disk:
    item, disk = attachment.item, attachment.disk
    return Disk(
        capacity=disk.capacity if disk else None,
        image=_image(envelope, attachment.file_id, disk),
        controller=by_instance.get(item.parent) if item and item.parent else None,
        unit=_unit(item),
        source_id=disk.disk_id if disk else None,
        label=attachment.label,
    )


def _drive(envelope: Envelope, item: ResourceItem, by_instance: dict[str, int]) -> RemovableDrive:
    files = [ref[1] for ref in map(parse_host_resource, item.host_resources) if ref and ref[0] == "file"]
    ref = envelope.file(files[0]) if files else None
    return RemovableDrive(
        kind=DriveKind.FLOPPY
        if item.resource_type == ResourceType.FLOPPY_DRIVE
        else DriveKind.DVD
        if item.resource_type == ResourceType.DVD_DRIVE
        else DriveKind.CDROM,
        image=ImageRef(key=files[0], name=ref.href if ref else files[0]) if files else None,
        controller=by_instance.get(item.parent) if item.parent else None,
        unit=_unit(item),
        label=item.label,
    )


def _ganeti_nic(nic: GanetiNic) -> GanetiNicSettings:
    return GanetiNicSettings(
        mac=nic.mac, mode=nic.mode, link=nic.link, ip=nic.ip, network=nic.network, name=nic.name, vlan=nic.vlan
    )


def _nic(attachment: NicAttachment, warnings: list[str]) -> Nic:
    mac = None
    if attachment.mac:
        try:
            mac = normalize_mac(attachment.mac)
        except OptionError as exc:
            warnings.append(f"Item {attachment.item.label!r}: {exc.message}; a MAC will be generated")
    subtype = (attachment.model or "").strip()
    return Nic(
        mac=mac,
        model=NIC_SUBTYPES.get(subtype.lower()),
        network=attachment.connection,
        source_subtype=subtype or None,
        label=attachment.item.label,
    )


def _nics(hw: Hardware, section: GanetiSection | None, warnings: list[str]) -> tuple[Nic, ...]:
    """One NIC per Ethernet Item, and one per further NIC of the Ganeti
    section (which says how each NIC attaches, in order)."""
    section_nics = list(section.nics) if section is not None else []
    nics: list[Nic] = []
    for index in range(max(len(hw.nics), len(section_nics))):
        nic = _nic(hw.nics[index], warnings) if index < len(hw.nics) else Nic()
        if index < len(section_nics):
            nic = replace(nic, ganeti=_ganeti_nic(section_nics[index]))
        nics.append(nic)
    return tuple(nics)


def ganeti_settings(section: GanetiSection | None) -> GanetiSettings | None:
    """The Ganeti section's values, as given (a Ganeti target checks them)."""
    if section is None:
        return None
    return GanetiSettings(
        os_name=section.os_name,
        os_parameters=frozen_map(section.os_parameters),
        hypervisor=section.hypervisor_name,
        hypervisor_parameters=frozen_map(section.hypervisor_parameters),
        backend_parameters=frozen_map(section.backend_parameters),
        disk_template=section.disk_template,
        tags=tuple(section.tags),
        version=section.version,
        disks=tuple(GanetiDiskSettings(ivname=disk.ivname, name=disk.name) for disk in section.disks),
    )


def _product(section: ProductSection, profile: str | None) -> Product:
    return Product(
        product=section.product,
        vendor=section.vendor,
        version=section.version,
        full_version=section.full_version,
        product_url=section.product_url,
        vendor_url=section.vendor_url,
        app_url=section.app_url,
        class_id=section.class_id,
        instance_id=section.instance_id,
        properties=tuple(
            Property(
                key=prop.key,
                type=prop.type,
                value=prop.default_for(profile),
                qualifiers=prop.qualifiers,
                user_configurable=prop.user_configurable,
                password=prop.password,
                label=prop.label,
                description=prop.description,
                category=prop.category,
            )
            for prop in section.properties
        ),
    )


def _vmware(system: VirtualSystem) -> VMwareSettings | None:
    """VMware's own settings, when the system type or a ``vmw:Config`` /
    ``vmw:ExtraConfig`` says VMware wrote it."""
    types = tuple(word for hardware in system.hardware for word in hardware.system_types)
    config = tuple(
        pair for hardware in system.hardware for pair in (*hardware.vmware_config, *hardware.vmware_extra_config)
    )
    if not config and not any(t.startswith("vmx") for t in types):
        return None
    return VMwareSettings(virtual_system_types=types, extra_config=config)


#: oVirt's ``BiosType`` (its VM data): chipset, firmware and secure boot
#: (oVirt's BiosType enum: 1 I440FX_SEA_BIOS, 2 Q35_SEA_BIOS, 3 Q35_OVMF,
#: 4 Q35_SECURE_BOOT; 0, the cluster's default, says nothing).
OVIRT_BIOS_TYPES: dict[str, tuple[Chipset, Firmware, bool]] = {
    "1": (Chipset.I440FX, Firmware.BIOS, False),
    "2": (Chipset.Q35, Firmware.BIOS, False),
    "3": (Chipset.Q35, Firmware.EFI, False),
    "4": (Chipset.Q35, Firmware.EFI, True),
}


def firmware_of(system: VirtualSystem, vmware: VMwareSettings | None) -> tuple[Firmware | None, bool, Chipset | None]:
    """Firmware, secure boot and chipset, as the producer's own sections say:
    VMware's ``vmw:Config``/``vmw:ExtraConfig`` ``firmware`` (and its secure
    boot keys, :func:`~ovfconverter.hub.devices.vmware_firmware`), VirtualBox's
    ``vbox:Machine`` ``Firmware/@type`` (``EFI``, ``EFI64``...), oVirt's
    ``BiosType``; ``(None, False, None)`` when none says (plain OVF has no
    element for them)."""
    if vmware is not None:
        firmware, secure = vmware_firmware(vmware)
        if firmware is not None:
            return firmware, secure and firmware is Firmware.EFI, None
    kind = (system.virtualbox.firmware or "").strip().upper() if system.virtualbox else ""
    if kind:
        return (Firmware.EFI if kind.startswith("EFI") else Firmware.BIOS), False, None
    bios = OVIRT_BIOS_TYPES.get((system.ovirt_value("BiosType") or "").strip())
    if bios is not None:
        chipset, firmware, secure = bios
        return firmware, secure, chipset
    return None, False, None


def _virtualbox(system: VirtualSystem) -> VirtualBoxSettings | None:
    machine = system.virtualbox
    if machine is None:
        return None
    return VirtualBoxSettings(uuid=machine.uuid, boot_order=machine.boot_order)


def machine_from_envelope(envelope: Envelope, system: VirtualSystem, hw: Hardware) -> tuple[Machine, list[str]]:
    """The machine ``system`` describes under the profile ``hw`` was
    worked out for (see :func:`~ovfconverter.model.hardware.describe_hardware`).

    :returns: the machine, and warnings (MAC addresses that are not MACs).
        Disks are in ``hw``'s order (boot order); an image's
        :attr:`~ovfconverter.model.machine.ImageRef.key` is its
        References/File ``ovf:id``.  Memory is in bytes.
    """
    warnings: list[str] = []
    controllers, by_instance = _controllers(hw)
    vmware = _vmware(system)
    firmware, secure_boot, chipset = firmware_of(system, vmware)
    machine = Machine(
        name=system.name or system.id or None,
        os=guest_os(system.operating_system),
        cpus=Cpus(hw.cpus) if hw.cpus is not None else None,
        memory=Memory(hw.memory) if hw.memory is not None else None,
        controllers=controllers,
        disks=tuple(_disk(envelope, attachment, by_instance) for attachment in hw.disks),
        removable=tuple(_drive(envelope, item, by_instance) for item in hw.removable),
        nics=_nics(hw, envelope.ganeti, warnings),
        products=tuple(_product(section, hw.profile) for section in system.products),
        environment_transports=tuple(
            dict.fromkeys(word for hardware in system.hardware for word in hardware.transport)
        ),
        eulas=tuple(system.eulas),
        ganeti=ganeti_settings(envelope.ganeti),
        firmware=firmware,
        secure_boot=secure_boot,
        chipset=chipset,
        vmware=vmware,
        virtualbox=_virtualbox(system),
    )
    return machine, warnings
