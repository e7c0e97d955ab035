"""Reading what an OVF Envelope's content holds (DSP0243 0.9, 1.x, 2.x):
VirtualSystem and VirtualSystemCollection (nested), their Name,
OperatingSystemSection, VirtualHardwareSection (Item, and OVF 2.0's
StorageItem and EthernetPortItem with their SASD/EPASD elements),
ProductSection properties and EulaSection licences, the Ganeti section and
VirtualBox's ``vbox:Machine``.

:class:`ContentReader` also holds what every section reader shares: the
descriptor's OVF namespace, notes, the sections ignored, and the rule for
sections it does not understand (DSP0243 section 5.5 in 1.x, 6.4 in 2.x:
skipped only with ``ovf:required="false"``).  :mod:`.ovf_reader` adds the
Envelope's own sections and is the public entry point.
"""

from __future__ import annotations

from lxml import etree

from ovfconverter.errors import DescriptorError
from ovfconverter.formats.ganeti_section import is_ganeti_section, read_ganeti_section
from ovfconverter.formats.names import (
    OVF_NS_1_OVIRT,
    VMW_NS,
    child_text,
    children,
    localname,
    ovf_attr,
    section_kind,
    text_of,
)
from ovfconverter.formats.virtualbox_section import is_virtualbox_machine, read_virtualbox_machine
from ovfconverter.model.envelope import (
    OperatingSystem,
    ProductProperty,
    ProductSection,
    ResourceItem,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import GanetiSection

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


class ContentReader:
    """Reads one descriptor's content sections; holds its notes (warnings),
    ignored section names, systems read, EULAs and Ganeti section.

    :param name: the descriptor's file name, for messages.
    :param ovf_ns: the OVF namespace of its Envelope.
    :param strict: refuse unknown required sections (else note them).
    """

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
