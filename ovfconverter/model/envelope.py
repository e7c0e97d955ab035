"""The OVF envelope as plain data (DSP0243, versions 0.9, 1.x and 2.0).

These classes hold what a descriptor says, in the descriptor's own terms,
already normalised: sizes in bytes, references as ids, one representation
for every OVF version.  They do no I/O; :mod:`ovfconverter.formats.ovf_reader`
fills them from XML.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ovfconverter.model.ganeti import GanetiSection


class ResourceType(enum.IntEnum):
    """``rasd:ResourceType`` values (CIM_ResourceAllocationSettingData,
    DSP1041 / CIM schema 2.x) that matter for conversion."""

    OTHER = 1
    COMPUTER_SYSTEM = 2
    PROCESSOR = 3
    MEMORY = 4
    IDE_CONTROLLER = 5
    PARALLEL_SCSI_HBA = 6
    FC_HBA = 7
    ISCSI_HBA = 8
    IB_HCA = 9
    ETHERNET_ADAPTER = 10
    OTHER_NETWORK_ADAPTER = 11
    IO_SLOT = 12
    IO_DEVICE = 13
    FLOPPY_DRIVE = 14
    CD_DRIVE = 15
    DVD_DRIVE = 16
    DISK_DRIVE = 17
    TAPE_DRIVE = 18
    STORAGE_EXTENT = 19
    OTHER_STORAGE_DEVICE = 20
    SERIAL_PORT = 21
    PARALLEL_PORT = 22
    USB_CONTROLLER = 23
    GRAPHICS_CONTROLLER = 24
    IEEE_1394_CONTROLLER = 25
    PARTITIONABLE_UNIT = 26
    BASE_PARTITIONABLE_UNIT = 27
    POWER = 28
    COOLING_CAPACITY = 29
    ETHERNET_SWITCH_PORT = 30
    LOGICAL_DISK = 31
    STORAGE_VOLUME = 32
    ETHERNET_CONNECTION = 33
    SOUND_CARD = 35


def resource_type_name(value: int | None) -> str:
    """Return a readable name for a ResourceType number (``"DISK_DRIVE"``,
    ``"type 99"`` for unknown ones)."""
    if value is None:
        return "no type"
    try:
        return ResourceType(value).name
    except ValueError:
        return f"type {value}"


# ovf:format URIs (DSP0243 9.1 leaves them to producers): the words that
# name each format in the URIs VMware, VirtualBox, Ganeti and others write.
_URI_FORMATS: tuple[tuple[str, frozenset[str]], ...] = (
    ("vmdk", frozenset({"vmdk"})),
    ("qcow", frozenset({"qcow2", "qcow"})),
    ("vhdx", frozenset({"vhdx"})),
    ("vhd", frozenset({"vhd"})),
    ("bb676673", frozenset({"vhd"})),
    ("virtualserver", frozenset({"vhd"})),
    ("vdi", frozenset({"vdi"})),
    ("virtualbox", frozenset({"vdi"})),
    ("ecma-119", frozenset({"iso", "raw"})),
    ("iso", frozenset({"iso", "raw"})),
    ("wiki/byte", frozenset({"raw", "iso"})),
    ("raw", frozenset({"raw", "iso"})),
)


def formats_for_uri(uri: str | None) -> frozenset[str] | None:
    """The formats an ``ovf:format`` URI allows, or ``None`` when the URI is
    missing or unknown (then only the bytes decide).

    >>> sorted(formats_for_uri("http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"))
    ['vmdk']
    """
    if not uri:
        return None
    lowered = uri.lower()
    for needle, formats in _URI_FORMATS:
        if needle in lowered:
            return formats
    return None


def vmdk_subformat_for_uri(uri: str | None) -> str | None:
    """The VMDK createType an ``ovf:format`` URI names (``#streamOptimized``
    and OVF 0.9's ``#compressed`` give ``streamOptimized``, ``#sparse`` and
    ``#monolithicSparse`` give ``monolithicSparse``), or ``None``."""
    if not uri or "#" not in uri:
        return None
    fragment = uri.rsplit("#", 1)[1].lower()
    if fragment in ("streamoptimized", "compressed"):
        return "streamOptimized"
    if fragment in ("sparse", "monolithicsparse"):
        return "monolithicSparse"
    return None


def format_for_uri(uri: str | None) -> str | None:
    """The image format an ``ovf:format`` URI names, in ovfconverter's words
    (``vmdk``, ``qcow2``, ``vhd``, ``vhdx``, ``vdi``, ``raw``, ``iso``), or
    ``None`` when the URI is missing or unknown."""
    formats = formats_for_uri(uri)
    if not formats:
        return None
    preferred = ("vmdk", "qcow2", "vhdx", "vhd", "vdi", "raw", "iso")
    return next(name for name in preferred if name in formats)


@dataclass(frozen=True)
class FileReference:
    """One ``References/File`` element (DSP0243 section 7.1).

    :ivar id: ``ovf:id``, unique within the envelope.
    :ivar href: ``ovf:href``, a name relative to the package.
    :ivar size: ``ovf:size`` in bytes (of the stored, possibly compressed,
        file; the sum of all chunks when chunked), or ``None``.
    :ivar compression: ``ovf:compression`` (``"gzip"``), ``None`` for none.
    :ivar chunk_size: ``ovf:chunkSize`` in bytes when the file is stored as
        ``href.000000000``, ``href.000000001``...; ``None`` otherwise.
    """

    id: str
    href: str
    size: int | None = None
    compression: str | None = None
    chunk_size: int | None = None


@dataclass(frozen=True)
class VirtualDisk:
    """One ``DiskSection/Disk`` element (DSP0243 section 9.1).

    :ivar disk_id: ``ovf:diskId``.
    :ivar file_ref: ``ovf:fileRef`` (a :class:`FileReference` id), or
        ``None`` for a blank disk to be created empty.
    :ivar capacity: virtual size in bytes (``ovf:capacity`` times
        ``ovf:capacityAllocationUnits``, default ``byte``), or ``None`` when
        absent or not resolvable.
    :ivar format: ``ovf:format``, a URI naming the image format, or ``None``.
    :ivar populated_size: ``ovf:populatedSize`` in bytes, or ``None``.
    :ivar parent_ref: ``ovf:parentRef`` (delta disks), or ``None``.
    :ivar capacity_property: for an ``ovf:capacity`` of ``${key}``, the
        property ``key`` whose value is the capacity (``capacity`` then
        holds what its default gives); ``capacity_units`` is
        ``ovf:capacityAllocationUnits`` to apply to that value.
    """

    disk_id: str
    file_ref: str | None = None
    capacity: int | None = None
    format: str | None = None
    populated_size: int | None = None
    parent_ref: str | None = None
    capacity_property: str | None = None
    capacity_units: str | None = None


@dataclass(frozen=True)
class Network:
    """One ``NetworkSection/Network`` element (DSP0243 section 9.4)."""

    name: str
    description: str | None = None


@dataclass(frozen=True)
class DeploymentConfiguration:
    """One ``DeploymentOptionSection/Configuration`` (DSP0243 section 9.8):
    a named hardware profile."""

    id: str
    label: str | None = None
    description: str | None = None
    default: bool = False


@dataclass(frozen=True)
class ResourceItem:
    """One ``Item`` (or OVF 2.0 ``StorageItem`` / ``EthernetPortItem``) of a
    VirtualHardwareSection: a RASD, SASD or EPASD (DSP0243 section 9.5).

    :ivar element: the element's local name (``Item``, ``StorageItem``,
        ``EthernetPortItem``).
    :ivar resource_type: ``ResourceType`` number (see :class:`ResourceType`).
    :ivar virtual_quantity: ``VirtualQuantity`` as an integer, or ``None``.
    :ivar allocation_units: ``AllocationUnits`` as written, or ``None``.
    :ivar host_resources: every ``HostResource`` (``ovf:/disk/ID``...).
    :ivar connections: every ``Connection`` (network names).
    :ivar configurations: the ``ovf:configuration`` profile ids this item is
        limited to; empty means every profile.
    :ivar bound: ``ovf:bound`` (``"min"``, ``"max"``, ``"normal"``) or
        ``None``.
    :ivar required: ``ovf:required`` (default true).
    :ivar mac_address: ``rasd:MACAddress``, where oVirt writes a NIC's MAC
        (its ``rasd:Address`` is a libvirt device address).
    """

    element: str = "Item"
    resource_type: int | None = None
    instance_id: str | None = None
    element_name: str | None = None
    description: str | None = None
    resource_subtype: str | None = None
    virtual_quantity: int | None = None
    allocation_units: str | None = None
    host_resources: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()
    address: str | None = None
    parent: str | None = None
    address_on_parent: str | None = None
    automatic_allocation: bool | None = None
    configurations: tuple[str, ...] = ()
    bound: str | None = None
    required: bool = True
    mac_address: str | None = None

    @property
    def label(self) -> str:
        """A short description for messages: ``ElementName`` or InstanceID."""
        return self.element_name or self.description or f"InstanceID {self.instance_id}"


@dataclass(frozen=True)
class OperatingSystem:
    """``OperatingSystemSection`` (DSP0243 section 9.6): ``ovf:id`` is a CIM
    ``CIM_OperatingSystem.OsType`` number; ``vmware_os_type`` is
    ``vmw:osType`` when present."""

    id: int | None = None
    description: str | None = None
    version: str | None = None
    vmware_os_type: str | None = None


@dataclass(frozen=True)
class VirtualHardware:
    """One ``VirtualHardwareSection``.

    :ivar system_types: the ``vssd:VirtualSystemType`` words (``vmx-07``,
        ``virtualbox-2.2``...).
    :ivar items: every Item in document order, before profile filtering.
    :ivar transport: ``ovf:transport`` words (``iso``, ``com.vmware.guestInfo``).
    :ivar vmware_config: VMware's ``vmw:Config`` key/value pairs in order
        (``firmware``/``efi``...), virtual machine settings of VMware's OVF
        extension; written with ``ovf:required="false"``.
    :ivar vmware_extra_config: ``vmw:ExtraConfig`` key/value pairs (raw
        ``.vmx`` keys), likewise.
    """

    id: str | None = None
    system_types: tuple[str, ...] = ()
    items: tuple[ResourceItem, ...] = ()
    transport: tuple[str, ...] = ()
    vmware_config: tuple[tuple[str, str], ...] = ()
    vmware_extra_config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProductProperty:
    """One ``ProductSection/Property`` (DSP0243 section 9.5).

    :ivar key: the full name an OVF environment uses:
        ``class.key.instance`` with the ProductSection's ``ovf:class`` and
        ``ovf:instance`` when it has them, else ``ovf:key``.
    :ivar bare_key: ``ovf:key`` as written.
    :ivar value: the default, ``ovf:value``; ``None`` when absent.
    :ivar type: ``ovf:type``, a CIM type name (``string``, ``boolean``,
        ``uint8``... ``real64``), ``None`` when absent.
    :ivar qualifiers: ``ovf:qualifiers`` as written (``MinLen(1)
        MaxLen(63)``, ``ValueMap{"a","b"}``), ``None`` when absent.
    :ivar user_configurable: ``ovf:userConfigurable`` (default false).
    :ivar password: ``ovf:password`` (default false): the value is a
        secret.
    :ivar category: the ``Category`` element last seen before it.
    :ivar profile_values: ``Value`` children: (``ovf:configuration``,
        ``ovf:value``) pairs, the default under those profiles.
    """

    key: str
    value: str | None = None
    type: str | None = None
    label: str | None = None
    bare_key: str = ""
    qualifiers: str | None = None
    user_configurable: bool = False
    password: bool = False
    description: str | None = None
    category: str | None = None
    profile_values: tuple[tuple[str, str], ...] = ()

    def default_for(self, profile: str | None) -> str | None:
        """The default under deployment ``profile``: a ``Value`` for that
        profile, else ``ovf:value``."""
        for configuration, value in self.profile_values:
            if profile is not None and profile in configuration.split():
                return value
        return self.value


@dataclass(frozen=True)
class ProductSection:
    """One ``ProductSection`` (DSP0243 section 9.5): what the software is,
    and the properties it takes at deployment.

    :ivar class_id: ``ovf:class``; ``instance_id``: ``ovf:instance``.
    :ivar app_url: ``AppUrl``; ``icons``: every ``Icon``'s ``ovf:fileRef``.
    """

    class_id: str | None = None
    instance_id: str | None = None
    info: str | None = None
    product: str | None = None
    vendor: str | None = None
    version: str | None = None
    full_version: str | None = None
    product_url: str | None = None
    vendor_url: str | None = None
    app_url: str | None = None
    properties: tuple[ProductProperty, ...] = ()


@dataclass(frozen=True)
class VirtualBoxAdapter:
    """A ``vbox:Machine`` network ``Adapter``.

    :ivar mac: twelve hex digits as VirtualBox writes them
        (``080027AABBCC``), ``None`` when absent.
    :ivar type: VirtualBox's adapter type (``82540EM``, ``Am79C973``,
        ``virtio``...).
    :ivar attachment: how it is attached (``NAT``, ``BridgedInterface``,
        ``HostOnlyInterface``, ``InternalNetwork``...), ``None`` for none.
    """

    slot: int
    enabled: bool
    mac: str | None = None
    type: str | None = None
    attachment: str | None = None


@dataclass(frozen=True)
class VirtualBoxAttachment:
    """A medium attached to a ``vbox:Machine`` storage controller."""

    controller: str
    controller_type: str | None
    device_type: str  # HardDisk, DVD, Floppy
    port: int
    device: int
    image_uuid: str | None = None


@dataclass(frozen=True)
class VirtualBoxMachine:
    """VirtualBox's own description of the VM (``vbox:Machine``, namespace
    ``http://www.virtualbox.org/ovf/machine``), the settings format of a
    ``.vbox`` file that VirtualBox adds to its exports.

    :ivar firmware: ``Firmware/@type`` (``BIOS``, ``EFI``, ``EFI32``,
        ``EFI64``, ``EFIDUAL``), ``None`` when absent (BIOS).
    :ivar boot_order: ``Boot/Order`` devices by position, ``None`` entries
        left out (``HardDisk``, ``DVD``, ``Network``, ``Floppy``).
    :ivar adapters: every network ``Adapter``, in slot order.
    :ivar controllers: (name, type) of each ``StorageController``.
    """

    uuid: str | None = None
    name: str | None = None
    os_type: str | None = None
    firmware: str | None = None
    boot_order: tuple[str, ...] = ()
    adapters: tuple[VirtualBoxAdapter, ...] = ()
    controllers: tuple[tuple[str, str | None], ...] = ()
    attachments: tuple[VirtualBoxAttachment, ...] = ()


@dataclass(frozen=True)
class VirtualSystem:
    """One ``VirtualSystem`` (DSP0243 section 8).

    :ivar id: ``ovf:id``.
    :ivar name: ``Name``, or ``None`` when the descriptor has none.
    :ivar hardware: its VirtualHardwareSections (usually exactly one).
    :ivar products: its ProductSections, in document order, after those of
        the VirtualSystemCollections containing it (outermost first), whose
        properties apply to it too.
    :ivar eulas: the ``License`` texts of its EulaSections, after those of
        the collections containing it.
    :ivar collection_path: ids of the VirtualSystemCollections containing it,
        outermost first; empty for a top-level VirtualSystem.
    :ivar virtualbox: VirtualBox's ``vbox:Machine`` section, if any.
    :ivar ovirt: oVirt's VM data, written as plain elements of the
        VirtualSystem (``BiosType``, ``MaxMemorySizeMb``...): name -> text.
    """

    id: str
    name: str | None = None
    info: str | None = None
    operating_system: OperatingSystem | None = None
    hardware: tuple[VirtualHardware, ...] = ()
    products: tuple[ProductSection, ...] = ()
    eulas: tuple[str, ...] = ()
    collection_path: tuple[str, ...] = ()
    virtualbox: VirtualBoxMachine | None = None
    ovirt: tuple[tuple[str, str], ...] = ()

    def ovirt_value(self, name: str) -> str | None:
        """oVirt's VM data element ``name``, ``None`` when absent."""
        return next((value for key, value in self.ovirt if key == name), None)

    @property
    def properties(self) -> tuple[ProductProperty, ...]:
        """Every property of every ProductSection, in order."""
        return tuple(prop for product in self.products for prop in product.properties)

    @property
    def items(self) -> tuple[ResourceItem, ...]:
        """Every Item of every VirtualHardwareSection, in document order."""
        return tuple(item for hw in self.hardware for item in hw.items)


@dataclass(frozen=True)
class Envelope:
    """A whole OVF descriptor.

    :ivar version: ``"0.9"``, ``"1.0"``, ``"1.1"``, ``"2.0"``... (from the
        namespace and ``ovf:version``).
    :ivar virtual_systems: every VirtualSystem, flattened out of any
        VirtualSystemCollection, in document order.
    :ivar collection_id: the ``ovf:id`` of the top VirtualSystemCollection,
        or ``None`` when the content is a single VirtualSystem.
    :ivar ganeti: the Ganeti extension section (``http://ganeti``), if any.
    :ivar ignored_sections: names of sections that were skipped because they
        are optional (``ovf:required="false"``) or carry nothing to convert.
    :ivar notes: problems found while reading that do not prevent reading
        (dangling references are kept and reported here).
    :ivar producer: the dialect's producer when it is not plain OVF:
        ``"oVirt 4.4.0.0"`` (oVirt / RHV "Export as OVA"), else ``None``.
    """

    version: str
    files: tuple[FileReference, ...] = ()
    disks: tuple[VirtualDisk, ...] = ()
    networks: tuple[Network, ...] = ()
    deployment_options: tuple[DeploymentConfiguration, ...] = ()
    virtual_systems: tuple[VirtualSystem, ...] = ()
    collection_id: str | None = None
    ganeti: GanetiSection | None = None
    ignored_sections: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)
    producer: str | None = None

    def file(self, file_id: str) -> FileReference | None:
        """Return the File with ``ovf:id`` ``file_id``, or ``None``."""
        return next((f for f in self.files if f.id == file_id), None)

    def disk(self, disk_id: str) -> VirtualDisk | None:
        """Return the Disk with ``ovf:diskId`` ``disk_id``, or ``None``."""
        return next((d for d in self.disks if d.disk_id == disk_id), None)

    def default_configuration(self) -> DeploymentConfiguration | None:
        """Return the default deployment profile: the one marked
        ``ovf:default="true"``, else the first; ``None`` without a
        DeploymentOptionSection (DSP0243 section 9.8)."""
        for option in self.deployment_options:
            if option.default:
                return option
        return self.deployment_options[0] if self.deployment_options else None
