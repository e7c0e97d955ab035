"""Writing an :class:`~ovfconverter.model.envelope.Envelope` as an OVF 1.x or
2.x descriptor (DSP0243), the inverse of :mod:`ovfconverter.formats.ovf_reader`:
``read_envelope(write_envelope(e)) == e`` for every envelope this writer
accepts.

Element order follows the DMTF schemas (DSP8023 and the CIM RASD/VSSD
schemas, whose elements are alphabetical), so that a complete envelope
validates.  The writer is faithful: it writes what the model holds and
invents nothing beyond the ``Info`` texts the schema requires; making an
envelope complete (capacities, descriptions, ElementNames) is the
exporter's job.  Output is pretty-printed UTF-8 with an XML declaration.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from ovfconverter.enums import Words
from ovfconverter.errors import DescriptorError
from ovfconverter.formats.ganeti_section import write_ganeti_section
from ovfconverter.formats.names import (
    CIM_NS,
    EPASD_NS,
    GANETI_NS,
    OVF_NS_1,
    OVF_NS_2,
    RASD_NS,
    SASD_NS,
    VMW_NS,
    VSSD_NS,
    XSI_NS,
)
from ovfconverter.model.envelope import (
    Envelope,
    ProductSection,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)

_GIB = 1 << 30
_MIB = 1 << 20

# CIM settings-data elements, in schema (alphabetical) order: (element, model field).
_ITEM_FIELDS = (
    ("Address", "address"),
    ("AddressOnParent", "address_on_parent"),
    ("AllocationUnits", "allocation_units"),
    ("AutomaticAllocation", "automatic_allocation"),
    ("Connection", "connections"),
    ("Description", "description"),
    ("ElementName", "element_name"),
    ("HostResource", "host_resources"),
    ("InstanceID", "instance_id"),
    ("Parent", "parent"),
    ("ResourceSubType", "resource_subtype"),
    ("ResourceType", "resource_type"),
    ("VirtualQuantity", "virtual_quantity"),
)
_ITEM_NAMESPACES = {"Item": RASD_NS, "StorageItem": SASD_NS, "EthernetPortItem": EPASD_NS}


class OvfVersion(Words):
    """The OVF versions offered for writing (the writer takes any 1.x or
    2.x)."""

    V1_0 = "1.0"
    V2_0 = "2.0"


def capacity_attributes(size: int) -> tuple[str, str | None]:
    """Express ``size`` bytes as (``ovf:capacity``, ``ovf:capacityAllocationUnits``):
    whole GiB or MiB when exact, else bytes (units left out: ``byte`` is the
    default)."""
    if size and size % _GIB == 0:
        return str(size // _GIB), "byte * 2^30"
    if size and size % _MIB == 0:
        return str(size // _MIB), "byte * 2^20"
    return str(size), None


class _Writer:
    def __init__(self, envelope: Envelope) -> None:
        major = envelope.version.split(".")[0]
        if major not in ("1", "2"):
            raise DescriptorError(f"cannot write OVF version {envelope.version!r} (only 1.x and 2.x)")
        self.envelope = envelope
        self.ns = OVF_NS_2 if major == "2" else OVF_NS_1
        self.v2 = major == "2"

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def sub(self, parent: etree._Element, tag: str, text: str | None = None, /, **attrs: str | None) -> etree._Element:
        element = etree.SubElement(parent, self.q(tag))
        for key, value in attrs.items():
            if value is not None:
                element.set(self.q(key), value)
        if text is not None:
            element.text = text
        return element

    def info(self, parent: etree._Element, text: str) -> None:
        self.sub(parent, "Info", text)

    def build(self) -> etree._Element:
        env = self.envelope
        nsmap = {None: self.ns, "ovf": self.ns, "rasd": RASD_NS, "vssd": VSSD_NS, "xsi": XSI_NS, "cim": CIM_NS}
        if self.v2:
            nsmap.update({"sasd": SASD_NS, "epasd": EPASD_NS})
        if env.ganeti is not None:
            nsmap["gnt"] = GANETI_NS
        if any(s.operating_system and s.operating_system.vmware_os_type for s in env.virtual_systems) or any(
            h.vmware_config or h.vmware_extra_config for s in env.virtual_systems for h in s.hardware
        ):
            nsmap["vmw"] = VMW_NS
        root = etree.Element(self.q("Envelope"), nsmap=nsmap)  # type: ignore[arg-type]
        root.set(self.q("version"), env.version)
        refs = self.sub(root, "References")
        for ref in env.files:
            self.sub(
                refs,
                "File",
                href=ref.href,
                id=ref.id,
                size=None if ref.size is None else str(ref.size),
                compression=ref.compression,
                chunkSize=None if ref.chunk_size is None else str(ref.chunk_size),
            )
        if env.disks:
            section = self.sub(root, "DiskSection")
            self.info(section, "Virtual disk information")
            for disk in env.disks:
                self.disk(section, disk)
        if env.networks:
            section = self.sub(root, "NetworkSection")
            self.info(section, "The list of logical networks")
            for network in env.networks:
                node = self.sub(section, "Network", name=network.name)
                if network.description is not None:
                    self.sub(node, "Description", network.description)
        if env.deployment_options:
            section = self.sub(root, "DeploymentOptionSection")
            self.info(section, "Configuration profiles")
            for option in env.deployment_options:
                node = self.sub(section, "Configuration", id=option.id, default="true" if option.default else None)
                if option.label is not None:
                    self.sub(node, "Label", option.label)
                if option.description is not None:
                    self.sub(node, "Description", option.description)
        if env.ganeti is not None:
            nics = [
                item.connections[0] if item.connections else None
                for system in env.virtual_systems[:1]
                for item in system.items
                if item.resource_type == ResourceType.ETHERNET_ADAPTER
            ]
            root.append(write_ganeti_section(env.ganeti, self.ns, nics))
        self.content(root)
        return root

    def disk(self, parent: etree._Element, disk: VirtualDisk) -> None:
        capacity, units = capacity_attributes(disk.capacity) if disk.capacity is not None else (None, None)
        if disk.capacity_property is not None:  # DSP0243 9.1: the capacity a property gives
            capacity, units = f"${{{disk.capacity_property}}}", disk.capacity_units
        self.sub(
            parent,
            "Disk",
            capacity=capacity,
            capacityAllocationUnits=units,
            diskId=disk.disk_id,
            fileRef=disk.file_ref,
            format=disk.format,
            populatedSize=None if disk.populated_size is None else str(disk.populated_size),
            parentRef=disk.parent_ref,
        )

    def content(self, root: etree._Element) -> None:
        env = self.envelope
        if env.collection_id is None:
            if len(env.virtual_systems) > 1:
                raise DescriptorError("several VirtualSystems need a VirtualSystemCollection (collection_id)")
            for system in env.virtual_systems:
                self.virtual_system(root, system)
            return
        collections: dict[tuple[str, ...], etree._Element] = {}

        def collection(path: tuple[str, ...]) -> etree._Element:
            if path not in collections:
                parent = collection(path[:-1]) if len(path) > 1 else root
                node = self.sub(parent, "VirtualSystemCollection", id=path[-1])
                self.info(node, "A collection of virtual systems")
                collections[path] = node
            return collections[path]

        collection((env.collection_id,))
        closed: set[tuple[str, ...]] = set()
        previous: tuple[str, ...] = (env.collection_id,)
        for system in env.virtual_systems:
            path = system.collection_path or (env.collection_id,)
            if path[0] != env.collection_id:
                raise DescriptorError(f"VirtualSystem {system.id!r} is not inside collection {env.collection_id!r}")
            closed.update(previous[:n] for n in range(1, len(previous) + 1) if previous[:n] != path[:n])
            if any(path[:n] in closed for n in range(1, len(path) + 1)):
                raise DescriptorError(
                    f"VirtualSystem {system.id!r}: the systems of a collection must be listed together"
                )
            previous = path
            self.virtual_system(collection(path), system)

    def virtual_system(self, parent: etree._Element, system: VirtualSystem) -> None:
        node = self.sub(parent, "VirtualSystem", id=system.id)
        self.info(node, system.info or "A virtual machine")
        if system.name is not None:
            self.sub(node, "Name", system.name)
        for product in system.products:
            self.product_section(node, product)
        for text in system.eulas:
            eula = self.sub(node, "EulaSection")
            self.info(eula, "License agreement")
            self.sub(eula, "License", text)
        osys = system.operating_system
        if osys is not None:
            os_node = self.sub(
                node, "OperatingSystemSection", id=str(osys.id if osys.id is not None else 0), version=osys.version
            )
            if osys.vmware_os_type:
                os_node.set(f"{{{VMW_NS}}}osType", osys.vmware_os_type)
            self.info(os_node, "The kind of installed guest operating system")
            if osys.description is not None:
                self.sub(os_node, "Description", osys.description)
        for hardware in system.hardware:
            self.hardware(node, system, hardware)

    def product_section(self, parent: etree._Element, product: ProductSection) -> None:
        """A ProductSection (DSP0243 section 9.5): its elements in the
        schema's order, each property under its ``ovf:key``."""
        node = self.sub(parent, "ProductSection", **{"class": product.class_id, "instance": product.instance_id})
        self.info(node, product.info or "Product information")
        for name, text in (
            ("Product", product.product),
            ("Vendor", product.vendor),
            ("Version", product.version),
            ("FullVersion", product.full_version),
            ("ProductUrl", product.product_url),
            ("VendorUrl", product.vendor_url),
            ("AppUrl", product.app_url),
        ):
            if text is not None:
                self.sub(node, name, text)
        category = None
        for prop in product.properties:
            if prop.category is not None and prop.category != category:
                self.sub(node, "Category", prop.category)
            category = prop.category
            prop_node = self.sub(
                node,
                "Property",
                key=prop.bare_key or prop.key,
                type=prop.type or "string",
                qualifiers=prop.qualifiers,
                value=prop.value,
                userConfigurable="true" if prop.user_configurable else None,
                password="true" if prop.password else None,
            )
            if prop.label is not None:
                self.sub(prop_node, "Label", prop.label)
            if prop.description is not None:
                self.sub(prop_node, "Description", prop.description)
            for configuration, value in prop.profile_values:
                self.sub(prop_node, "Value", value=value, configuration=configuration)

    def hardware(self, parent: etree._Element, system: VirtualSystem, hardware: VirtualHardware) -> None:
        node = self.sub(
            parent, "VirtualHardwareSection", id=hardware.id, transport=" ".join(hardware.transport) or None
        )
        self.info(node, "Virtual hardware requirements")
        if hardware.system_types:
            sys_node = self.sub(node, "System")
            for name, text in (
                ("ElementName", "Virtual Hardware Family"),
                ("InstanceID", "0"),
                ("VirtualSystemIdentifier", system.id),
                ("VirtualSystemType", " ".join(hardware.system_types)),
            ):
                etree.SubElement(sys_node, f"{{{VSSD_NS}}}{name}").text = text
        for item in hardware.items:
            self.item(node, item)
        for element, pairs in (("Config", hardware.vmware_config), ("ExtraConfig", hardware.vmware_extra_config)):
            for key, value in pairs:
                extra = etree.SubElement(node, f"{{{VMW_NS}}}{element}")
                extra.set(self.q("required"), "false")
                extra.set(f"{{{VMW_NS}}}key", key)
                extra.set(f"{{{VMW_NS}}}value", value)

    def item(self, parent: etree._Element, item: ResourceItem) -> None:
        element = item.element if self.v2 else "Item"
        cim_ns = _ITEM_NAMESPACES.get(element, RASD_NS)
        node = self.sub(
            parent,
            element,
            configuration=" ".join(item.configurations) or None,
            bound=item.bound,
            required=None if item.required else "false",
        )
        for name, attr in _ITEM_FIELDS:
            value = getattr(item, attr)
            values: Iterable[object] = value if isinstance(value, tuple) else (value,)
            for one in values:
                if one is None:
                    continue
                text = ("true" if one else "false") if isinstance(one, bool) else str(one)
                etree.SubElement(node, f"{{{cim_ns}}}{name}").text = text


def write_envelope(envelope: Envelope) -> bytes:
    """Serialise ``envelope`` as an OVF descriptor.

    :returns: UTF-8 bytes with an XML declaration, indented.
    :raises DescriptorError: ``envelope.version`` is not 1.x or 2.x, it
        holds several VirtualSystems without a ``collection_id``, or their
        ``collection_path`` values do not form a tree in document order.
    """
    root = _Writer(envelope).build()
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
