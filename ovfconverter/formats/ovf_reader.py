"""Reading OVF descriptors (DSP0243 0.9, 1.x and 2.x) into an
:class:`~ovfconverter.model.envelope.Envelope`.

What is read: References/File, DiskSection/Disk, NetworkSection,
DeploymentOptionSection, VirtualSystem and VirtualSystemCollection (nested),
their Name, OperatingSystemSection, VirtualHardwareSection (Item, and OVF
2.0's StorageItem and EthernetPortItem with their SASD/EPASD elements) and
ProductSection properties, and the Ganeti section.

DSP0243 (section 5.5 in 1.x, 6.4 in 2.x) lets a consumer skip a section it
does not understand only when the section says ``ovf:required="false"``; any
other unknown section is refused.  Sections that are understood but carry
nothing to convert (AnnotationSection, EulaSection, StartupSection...) are
listed in ``Envelope.ignored_sections``.
"""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ovfconverter.errors import DescriptorError
from ovfconverter.formats.ganeti_section import is_ganeti_section, read_ganeti_section
from ovfconverter.formats.names import (
    OVF_NAMESPACES,
    OVF_NS_1_OVIRT,
    VMW_NS,
    child_text,
    children,
    localname,
    namespace,
    ovf_attr,
    section_kind,
    text_of,
)
from ovfconverter.formats.safexml import parse_xml
from ovfconverter.formats.virtualbox_section import is_virtualbox_machine, read_virtualbox_machine
from ovfconverter.model.envelope import (
    DeploymentConfiguration,
    Envelope,
    FileReference,
    Network,
    OperatingSystem,
    ProductProperty,
    ProductSection,
    ResourceItem,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import GanetiSection
from ovfconverter.model.units import UnitError, quantity_to_bytes

# Sections this reader understands, though they carry nothing to convert.
_UNDERSTOOD_SECTIONS = frozenset(
    {
        "AnnotationSection",
        "StartupSection",
        "InstallSection",
        "ResourceAllocationSection",
        "BootDeviceSection",
        "EnvironmentFilesSection",
        "PropertySection",  # OVF 0.9's name for product properties
        "Strings",
    }
)
_NOT_SECTIONS = frozenset({"Info", "Name", "Description"})
# oVirt's ovf:volume-format (VDSM volume formats) as ovf:format URIs.
OVIRT_VOLUME_FORMATS = {
    "COW": "http://www.gnome.org/~markmc/qcow-image-format.html",
    "RAW": "http://en.wikipedia.org/wiki/Byte",
}
# oVirt's VmInterfaceType numbers (rasd:ResourceSubType of its NICs).
OVIRT_NIC_TYPES = {
    "0": "rtl8139_pv",
    "1": "rtl8139",
    "2": "e1000",
    "3": "virtio",
    "4": "spapr-vlan",
    "5": "pci-passthrough",
}
_ITEM_ELEMENTS = frozenset({"Item", "StorageItem", "EthernetPortItem"})
MAX_ITEMS = 10000
"""Most References/File, Disk or Item elements accepted (hostile descriptors
are otherwise cheap to make huge)."""


class _Reader:
    def __init__(self, name: str, ovf_ns: str, strict: bool = True) -> None:
        self.name = name
        self.ns = ovf_ns
        self.strict = strict
        self.ovirt = ovf_ns == OVF_NS_1_OVIRT
        self.notes: list[str] = []
        self.ignored: list[str] = []
        self.systems: list[VirtualSystem] = []
        self.envelope_eulas: tuple[str, ...] = ()
        self.ganeti: GanetiSection | None = None

    # -- helpers -----------------------------------------------------------
    def attr(self, element: etree._Element, name: str) -> str | None:
        return ovf_attr(element, name, self.ns)

    def required(self, element: etree._Element) -> bool:
        return (self.attr(element, "required") or "true").strip().lower() not in ("false", "0")

    def subtype(self, resource_type: int | None, text: str | None) -> str | None:
        """``rasd:ResourceSubType``; oVirt writes a NIC's as the number of
        its VmInterfaceType, which becomes the model's name."""
        if self.ovirt and resource_type == 10 and text is not None:
            return OVIRT_NIC_TYPES.get(text.strip(), text)
        return text

    def parent(self, resource_type: int | None, text: str | None) -> str | None:
        """``rasd:Parent``; oVirt writes a disk's parent *image* there (the
        nil UUID for none), not a controller."""
        if self.ovirt and resource_type == 17:
            if text and text.strip().strip("0-"):
                self.notes.append(
                    f"oVirt package: a disk Item names parent image {text.strip()!r}: the VM has snapshots; "
                    "its image must be the whole disk (an image with a backing file is refused)"
                )
            return None
        return text

    def flag(self, element: etree._Element, name: str) -> bool:
        """An ``xs:boolean`` OVF attribute, false when absent."""
        return (self.attr(element, name) or "").strip().lower() in ("true", "1")

    def fail(self, element: etree._Element, message: str) -> DescriptorError:
        return DescriptorError(f"line {element.sourceline}: {message}", self.name)

    def integer(self, element: etree._Element, text: str | None, what: str) -> int | None:
        if text is None or not text.strip():
            return None
        try:
            value = int(text.strip())
        except ValueError:
            raise self.fail(element, f"{what} {text!r} is not an integer") from None
        if value < 0:
            raise self.fail(element, f"{what} {text!r} is negative")
        return value

    def unknown_section(self, element: etree._Element, kind: str, where: str) -> None:
        qname = etree.QName(element)
        label = f"{{{qname.namespace}}}{kind}" if qname.namespace and qname.namespace != self.ns else kind
        if kind in _UNDERSTOOD_SECTIONS:
            self.ignored.append(kind)
        elif not self.required(element):
            self.ignored.append(label)
        elif not self.strict:
            self.notes.append(
                f"line {element.sourceline}: {label} in {where} is not understood and is required; an import refuses it"
            )
        else:
            raise self.fail(
                element,
                f"{label} in {where} is not understood and is required "
                '(no ovf:required="false"); DSP0243 requires refusing the package',
            )

    # -- envelope-level sections ------------------------------------------
    def references(self, element: etree._Element) -> list[FileReference]:
        files: list[FileReference] = []
        seen: set[str] = set()
        for node in children(element):
            if localname(node) != "File":
                continue
            file_id = self.attr(node, "id")
            href = self.attr(node, "href")
            if not file_id or not href:
                raise self.fail(node, "File lacks ovf:id or ovf:href")
            if file_id in seen:
                raise self.fail(node, f"File id {file_id!r} is used twice")
            seen.add(file_id)
            compression = (self.attr(node, "compression") or "").strip().lower() or None
            if compression == "identity":
                compression = None
            if compression not in (None, "gzip"):
                raise self.fail(node, f"File {href!r}: unsupported ovf:compression {compression!r}")
            chunk_size = self.integer(node, self.attr(node, "chunkSize"), "ovf:chunkSize")
            if chunk_size == 0:
                raise self.fail(node, f"File {href!r}: ovf:chunkSize is zero")
            files.append(
                FileReference(
                    id=file_id,
                    href=href,
                    size=self.integer(node, self.attr(node, "size"), "ovf:size"),
                    compression=compression,
                    chunk_size=chunk_size,
                )
            )
            if len(files) > MAX_ITEMS:
                raise self.fail(node, f"more than {MAX_ITEMS} File elements")
        return files

    def disk_section(self, element: etree._Element) -> list[tuple[VirtualDisk, etree._Element, str | None, str | None]]:
        disks = []
        for node in children(element):
            if localname(node) != "Disk":
                continue
            disk_id = self.attr(node, "diskId")
            if not disk_id:
                raise self.fail(node, "Disk lacks ovf:diskId")
            disk = VirtualDisk(
                disk_id=disk_id,
                file_ref=self.attr(node, "fileRef") or None,
                format=self.disk_format(node),
                populated_size=self.integer(node, self.attr(node, "populatedSize"), "ovf:populatedSize"),
                parent_ref=self.attr(node, "parentRef") or None,
            )
            disks.append((disk, node, self.attr(node, "capacity"), self.attr(node, "capacityAllocationUnits")))
            if len(disks) > MAX_ITEMS:
                raise self.fail(node, f"more than {MAX_ITEMS} Disk elements")
        return disks

    def disk_format(self, node: etree._Element) -> str | None:
        """``ovf:format``; for oVirt, what ``ovf:volume-format`` says
        instead (oVirt labels its RAW volumes with the VMDK URI)."""
        declared = (self.attr(node, "format") or "").strip() or None
        if self.ovirt:
            volume = (self.attr(node, "volume-format") or "").strip().upper()
            if volume in OVIRT_VOLUME_FORMATS:
                return OVIRT_VOLUME_FORMATS[volume]
            if volume:
                raise self.fail(node, f"oVirt package: Disk volume format {volume!r} is neither COW nor RAW")
        return declared

    def network_section(self, element: etree._Element) -> list[Network]:
        networks = []
        for node in children(element):
            if localname(node) == "Network":
                name = self.attr(node, "name")
                if not name:
                    raise self.fail(node, "Network lacks ovf:name")
                networks.append(Network(name=name, description=child_text(node, "Description")))
        return networks

    def deployment_options(self, element: etree._Element) -> list[DeploymentConfiguration]:
        options = []
        for node in children(element):
            if localname(node) == "Configuration":
                option_id = self.attr(node, "id")
                if not option_id:
                    raise self.fail(node, "Configuration lacks ovf:id")
                options.append(
                    DeploymentConfiguration(
                        id=option_id,
                        label=child_text(node, "Label"),
                        description=child_text(node, "Description"),
                        default=(self.attr(node, "default") or "").strip().lower() in ("true", "1"),
                    )
                )
        return options

    # -- virtual systems ----------------------------------------------------
    def content(
        self,
        element: etree._Element,
        path: tuple[str, ...],
        products: tuple[ProductSection, ...] = (),
        eulas: tuple[str, ...] = (),
    ) -> None:
        """Read a VirtualSystem, or a VirtualSystemCollection and what it
        holds; ``products`` and ``eulas`` are those of the enclosing
        collections, which apply to every system inside."""
        kind = section_kind(element)
        content_id = self.attr(element, "id") or ""
        if not content_id:
            self.notes.append(f"line {element.sourceline}: {kind} lacks ovf:id")
        if kind != "VirtualSystemCollection":
            self.systems.append(self.virtual_system(element, content_id, path, products, eulas))
            return
        if len(path) > 16:
            raise self.fail(element, "VirtualSystemCollections nested too deep")
        inner: list[etree._Element] = []
        for node in children(element):
            node_kind = section_kind(node)
            if node_kind in ("VirtualSystem", "VirtualSystemCollection"):
                inner.append(node)
            elif node_kind == "ProductSection":
                products += (self.product_section(node),)
            elif node_kind == "EulaSection":
                eulas += self.licenses(node)
            elif (
                node_kind in _NOT_SECTIONS
                or is_ganeti_section(node)
                or node_kind in ("OperatingSystemSection", "VirtualHardwareSection")
            ):
                continue
            else:
                self.unknown_section(node, node_kind, f"VirtualSystemCollection {content_id!r}")
        for node in inner:
            self.content(node, path + (content_id,), products, eulas)

    def virtual_system(
        self,
        element: etree._Element,
        system_id: str,
        path: tuple[str, ...],
        products: tuple[ProductSection, ...],
        eulas: tuple[str, ...],
    ) -> VirtualSystem:
        name = child_text(element, "Name")
        info = child_text(element, "Info")
        operating_system = None
        virtualbox = None
        ovirt: list[tuple[str, str]] = []
        hardware: list[VirtualHardware] = []
        for node in children(element):
            kind = section_kind(node)
            if kind in _NOT_SECTIONS:
                continue
            if self.ovirt and not kind.endswith("Section") and localname(node) not in ("Section", "Content"):
                ovirt.append((kind, text_of(node) or ""))  # oVirt's VM data (BiosType, CreationDate...)
                continue
            if kind == "OperatingSystemSection":
                operating_system = OperatingSystem(
                    id=self.integer(node, self.attr(node, "id"), "OperatingSystemSection ovf:id"),
                    description=child_text(node, "Description"),
                    version=self.attr(node, "version"),
                    vmware_os_type=node.get(f"{{{VMW_NS}}}osType"),
                )
            elif kind == "VirtualHardwareSection":
                hardware.append(self.hardware(node))
            elif kind == "ProductSection":
                products += (self.product_section(node),)
            elif kind == "EulaSection":
                eulas += self.licenses(node)
            elif is_ganeti_section(node):
                self.ganeti = read_ganeti_section(node)
            elif is_virtualbox_machine(node):
                virtualbox = read_virtualbox_machine(node)
            else:
                self.unknown_section(node, kind, f"VirtualSystem {system_id!r}")
        return VirtualSystem(
            id=system_id,
            name=name,
            info=info,
            operating_system=operating_system,
            hardware=tuple(hardware),
            products=products,
            eulas=eulas,
            collection_path=path,
            virtualbox=virtualbox,
            ovirt=tuple(ovirt[:MAX_ITEMS]),
        )

    def licenses(self, element: etree._Element) -> tuple[str, ...]:
        """The ``License`` texts of an EulaSection (DSP0243 section 9.6),
        outer white space removed; an empty one still counts (a EULA that
        says nothing is still a EULA to accept)."""
        texts = tuple((node.text or "").strip() for node in children(element) if localname(node) == "License")
        return texts or ("",)

    def product_section(self, element: etree._Element) -> ProductSection:
        """A ProductSection; its properties keyed by their full name,
        ``class.key.instance`` where the section has ``ovf:class`` /
        ``ovf:instance`` (DSP0243 section 9.5)."""
        class_id = (self.attr(element, "class") or "").strip() or None
        instance_id = (self.attr(element, "instance") or "").strip() or None
        props: list[ProductProperty] = []
        category: str | None = None
        for node in children(element):
            name = localname(node)
            if name == "Category":
                category = text_of(node)
            elif name == "Property":
                key = (self.attr(node, "key") or "").strip()
                if not key:
                    self.notes.append(f"line {node.sourceline}: a Property without ovf:key is ignored")
                    continue
                props.append(self.product_property(node, key, class_id, instance_id, category))
                if len(props) > MAX_ITEMS:
                    raise self.fail(node, f"more than {MAX_ITEMS} Properties")
        return ProductSection(
            class_id=class_id,
            instance_id=instance_id,
            info=child_text(element, "Info"),
            product=child_text(element, "Product"),
            vendor=child_text(element, "Vendor"),
            version=child_text(element, "Version"),
            full_version=child_text(element, "FullVersion"),
            product_url=child_text(element, "ProductUrl"),
            vendor_url=child_text(element, "VendorUrl"),
            app_url=child_text(element, "AppUrl"),
            properties=tuple(props),
        )

    def product_property(
        self, node: etree._Element, key: str, class_id: str | None, instance_id: str | None, category: str | None
    ) -> ProductProperty:
        profile_values = tuple(
            (self.attr(value, "configuration") or "", self.attr(value, "value") or "")
            for value in children(node)
            if localname(value) == "Value" and self.attr(value, "configuration")
        )
        return ProductProperty(
            key=".".join(part for part in (class_id, key, instance_id) if part),
            bare_key=key,
            value=self.attr(node, "value"),
            type=(self.attr(node, "type") or "").strip() or None,
            label=child_text(node, "Label"),
            qualifiers=(self.attr(node, "qualifiers") or "").strip() or None,
            user_configurable=self.flag(node, "userConfigurable"),
            password=self.flag(node, "password"),
            description=child_text(node, "Description"),
            category=category,
            profile_values=profile_values,
        )

    def hardware(self, element: etree._Element) -> VirtualHardware:
        system_types: list[str] = []
        items: list[ResourceItem] = []
        config: dict[str, list[tuple[str, str]]] = {"Config": [], "ExtraConfig": []}
        for node in children(element):
            name = localname(node)
            if name in config and etree.QName(node).namespace == VMW_NS:
                key, value = node.get(f"{{{VMW_NS}}}key"), node.get(f"{{{VMW_NS}}}value")
                if key is not None and value is not None and len(config[name]) < MAX_ITEMS:
                    config[name].append((key, value))
            elif name == "System":
                for sub in children(node):
                    if localname(sub) == "VirtualSystemType" and text_of(sub):
                        system_types.extend((text_of(sub) or "").split())
            elif name in _ITEM_ELEMENTS:
                items.append(self.item(node))
                if len(items) > MAX_ITEMS:
                    raise self.fail(node, f"more than {MAX_ITEMS} Items")
        return VirtualHardware(
            id=self.attr(element, "id"),
            system_types=tuple(system_types),
            items=tuple(items),
            transport=tuple((self.attr(element, "transport") or "").split()),
            vmware_config=tuple(config["Config"]),
            vmware_extra_config=tuple(config["ExtraConfig"]),
        )

    def item(self, element: etree._Element) -> ResourceItem:
        values: dict[str, str | None] = {}
        host_resources: list[str] = []
        connections: list[str] = []
        for node in children(element):
            name = localname(node)
            text = text_of(node)
            if name == "HostResource":
                if text:
                    host_resources.append(text)
            elif name == "Connection":
                if text:
                    connections.append(text)
            elif name not in values:
                values[name] = text
        instance_id = values.get("InstanceID") or values.get("InstanceId")
        label = values.get("ElementName") or values.get("Caption") or f"InstanceID {instance_id}"
        resource_type = self.integer(element, values.get("ResourceType"), f"Item {label!r}: ResourceType")
        automatic = values.get("AutomaticAllocation")
        return ResourceItem(
            element=localname(element),
            resource_type=resource_type,
            instance_id=instance_id,
            element_name=values.get("ElementName") or values.get("Caption"),
            description=values.get("Description"),
            resource_subtype=self.subtype(resource_type, values.get("ResourceSubType")),
            virtual_quantity=self.integer(element, values.get("VirtualQuantity"), f"Item {label!r}: VirtualQuantity"),
            allocation_units=values.get("AllocationUnits") or values.get("VirtualQuantityUnits"),
            host_resources=tuple(host_resources),
            connections=tuple(connections),
            address=values.get("Address"),
            mac_address=values.get("MACAddress"),
            parent=self.parent(resource_type, values.get("Parent")),
            address_on_parent=values.get("AddressOnParent"),
            automatic_allocation=None if automatic is None else automatic.lower() in ("true", "1"),
            configurations=tuple((self.attr(element, "configuration") or "").split()),
            bound=self.attr(element, "bound"),
            required=self.required(element),
        )


def _property_defaults(props: list[ProductProperty]) -> dict[str, str | None]:
    """Property defaults by full key (``class.key.instance``) and, where no
    two properties share it, by bare ``ovf:key``: ``${name}`` in
    ``ovf:capacity`` may use either."""
    values: dict[str, str | None] = {}
    bare: dict[str, list[str | None]] = {}
    for prop in props:
        values.setdefault(prop.key, prop.value)
        bare.setdefault(prop.bare_key, []).append(prop.value)
    for key, found in bare.items():
        if len(found) == 1:
            values.setdefault(key, found[0])
    return values


def _resolve_capacity(
    reader: _Reader,
    disk: VirtualDisk,
    node: etree._Element,
    capacity: str | None,
    units: str | None,
    properties: dict[str, str | None],
) -> VirtualDisk:
    if capacity is None or not capacity.strip():
        return disk
    text = capacity.strip()
    if text.startswith("${") and text.endswith("}"):
        key = text[2:-1].strip()
        disk = replace(disk, capacity_property=key, capacity_units=units)
        value = properties.get(key)
        if value is None or not value.strip():
            reader.notes.append(f"Disk {disk.disk_id!r}: capacity refers to property {key!r}, which has no value")
            return disk
        text = value.strip()
    number = reader.integer(node, text, f"Disk {disk.disk_id!r}: ovf:capacity")
    assert number is not None
    try:
        size = quantity_to_bytes(number, units, default="byte")
    except UnitError as exc:
        raise reader.fail(node, f"Disk {disk.disk_id!r}: ovf:capacityAllocationUnits: {exc}") from None
    return replace(disk, capacity=size)


def read_envelope(data: bytes, name: str = "descriptor.ovf", strict: bool = True) -> Envelope:
    """Read an OVF descriptor.

    :param data: the descriptor's bytes (at most
        :data:`~ovfconverter.formats.safexml.MAX_DESCRIPTOR_SIZE`).
    :param name: the descriptor's file name, for messages.
    :param strict: refuse required sections this reader does not
        understand (DSP0243); ``False`` notes them instead (for ``info``).
    :returns: the envelope, sizes in bytes.  Dangling references are not
        errors here (``info`` shows them); see
        :func:`ovfconverter.model.consistency.envelope_problems`.
    :raises DescriptorError: not XML, not an OVF envelope, a malformed value,
        or a required section this reader does not understand.
    :raises UnsafeInputError: a DOCTYPE, entity declarations, or an oversized
        document.
    """
    root = parse_xml(data, name)
    ovf_ns = namespace(root) or ""
    if localname(root) != "Envelope" or ovf_ns not in OVF_NAMESPACES:
        raise DescriptorError(
            f"not an OVF descriptor: the root element is {root.tag!r}, not an OVF 0.9, 1.x or 2.x Envelope",
            name,
        )
    version = (ovf_attr(root, "version", ovf_ns) or "").strip() or OVF_NAMESPACES[ovf_ns]
    producer = None
    if ovf_ns == OVF_NS_1_OVIRT:  # its ovf:version is the engine's version
        producer, version = f"oVirt {version}".strip(), OVF_NAMESPACES[ovf_ns]
    reader = _Reader(name, ovf_ns, strict)
    files: list[FileReference] = []
    raw_disks: list[tuple[VirtualDisk, etree._Element, str | None, str | None]] = []
    networks: list[Network] = []
    options: list[DeploymentConfiguration] = []
    collection_id = None
    contents = 0
    for node in children(root):
        kind = section_kind(node)
        if kind == "References":
            files.extend(reader.references(node))
        elif kind == "DiskSection":
            raw_disks.extend(reader.disk_section(node))
        elif kind == "NetworkSection":
            networks.extend(reader.network_section(node))
        elif kind == "DeploymentOptionSection":
            options.extend(reader.deployment_options(node))
        elif kind in ("VirtualSystem", "VirtualSystemCollection"):
            contents += 1
            if contents > 1:
                raise reader.fail(node, "an Envelope holds one VirtualSystem or VirtualSystemCollection, not several")
            if kind == "VirtualSystemCollection":
                collection_id = reader.attr(node, "id")
            reader.content(node, ())
        elif is_ganeti_section(node):
            reader.ganeti = read_ganeti_section(node)
        elif kind == "EulaSection":
            # DSP0243 puts EulaSections in VirtualSystems and collections;
            # one at envelope level still binds whoever deploys anything.
            reader.envelope_eulas += reader.licenses(node)
        elif kind in ("OperatingSystemSection", "ProductSection"):
            reader.ignored.append(kind)
        else:
            reader.unknown_section(node, kind, "the Envelope")

    if reader.envelope_eulas:
        reader.systems = [replace(s, eulas=reader.envelope_eulas + s.eulas) for s in reader.systems]
    properties = _property_defaults([p for system in reader.systems for p in system.properties])
    disks = [_resolve_capacity(reader, disk, node, cap, units, properties) for disk, node, cap, units in raw_disks]
    seen: set[str] = set()
    for disk in disks:
        if disk.disk_id in seen:
            raise DescriptorError(f"Disk id {disk.disk_id!r} is used twice", name)
        seen.add(disk.disk_id)

    return Envelope(
        version=version,
        files=tuple(files),
        disks=tuple(disks),
        networks=tuple(networks),
        deployment_options=tuple(options),
        virtual_systems=tuple(reader.systems),
        collection_id=collection_id,
        ganeti=reader.ganeti,
        ignored_sections=tuple(dict.fromkeys(reader.ignored)),
        notes=tuple(reader.notes),
        producer=producer,
    )
