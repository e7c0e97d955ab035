"""Reading OVF descriptors (DSP0243 0.9, 1.x and 2.x) into an
:class:`~ovfconverter.model.envelope.Envelope`.

What is read here: the Envelope's own sections (References/File,
DiskSection/Disk with ``${name}`` capacities resolved against the product
properties, NetworkSection, DeploymentOptionSection, an Envelope-level
EulaSection and the Ganeti section); its content (VirtualSystem and
VirtualSystemCollection, nested, with their OperatingSystemSection,
VirtualHardwareSection Items, ProductSection properties) is read by
:mod:`ovfconverter.formats.ovf_content`.

DSP0243 (section 5.5 in 1.x, 6.4 in 2.x) lets a consumer skip a section it
does not understand only when the section says ``ovf:required="false"``; any
other unknown section is refused.  Sections that are understood but carry
nothing to convert (AnnotationSection, EulaSection, StartupSection...) are
listed in ``Envelope.ignored_sections``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lxml import etree

from ovfconverter.errors import DescriptorError
from ovfconverter.formats.ganeti_section import is_ganeti_section, read_ganeti_section
from ovfconverter.formats.names import (
    OVF_NAMESPACES,
    OVF_NS_1_OVIRT,
    child_text,
    children,
    localname,
    namespace,
    ovf_attr,
    section_kind,
)
from ovfconverter.formats.ovf_content import MAX_ITEMS, ContentReader
from ovfconverter.formats.safexml import parse_xml
from ovfconverter.model.envelope import (
    DeploymentConfiguration,
    Envelope,
    FileReference,
    Network,
    ProductProperty,
    VirtualDisk,
)
from ovfconverter.model.units import UnitError, quantity_to_bytes

# oVirt's ovf:volume-format (VDSM volume formats) as ovf:format URIs.
OVIRT_VOLUME_FORMATS = {
    "COW": "http://www.gnome.org/~markmc/qcow-image-format.html",
    "RAW": "http://en.wikipedia.org/wiki/Byte",
}
_RawDisk = tuple[VirtualDisk, etree._Element, str | None, str | None]
"""A Disk as the DiskSection gives it: the disk without its capacity, its
element, ``ovf:capacity`` and ``ovf:capacityAllocationUnits``."""


class _Reader(ContentReader):
    """Adds the Envelope's own sections to :class:`ContentReader`."""

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

    def disk_section(self, element: etree._Element) -> list[_RawDisk]:
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
    ovf_ns, version, producer = _identify(root, name)
    reader = _Reader(name, ovf_ns, strict)
    sections = _EnvelopeSections()
    for node in children(root):
        _read_envelope_section(reader, sections, node)
    if reader.envelope_eulas:
        reader.systems = [replace(s, eulas=reader.envelope_eulas + s.eulas) for s in reader.systems]
    return Envelope(
        version=version,
        files=tuple(sections.files),
        disks=_resolve_disks(reader, sections.raw_disks),
        networks=tuple(sections.networks),
        deployment_options=tuple(sections.options),
        virtual_systems=tuple(reader.systems),
        collection_id=sections.collection_id,
        ganeti=reader.ganeti,
        ignored_sections=tuple(dict.fromkeys(reader.ignored)),
        notes=tuple(reader.notes),
        producer=producer,
    )


def _identify(root: etree._Element, name: str) -> tuple[str, str, str | None]:
    """The OVF namespace, version and producer of an Envelope.

    :returns: ``(namespace, version, producer)``; the version from
        ``ovf:version``, else the namespace's; the producer is known only for
        oVirt, whose ``ovf:version`` is the engine's (then the namespace's
        OVF version is used).
    :raises DescriptorError: the root is not an OVF Envelope.
    """
    ovf_ns = namespace(root) or ""
    if localname(root) != "Envelope" or ovf_ns not in OVF_NAMESPACES:
        raise DescriptorError(
            f"not an OVF descriptor: the root element is {root.tag!r}, not an OVF 0.9, 1.x or 2.x Envelope",
            name,
        )
    version = (ovf_attr(root, "version", ovf_ns) or "").strip() or OVF_NAMESPACES[ovf_ns]
    if ovf_ns == OVF_NS_1_OVIRT:
        return ovf_ns, OVF_NAMESPACES[ovf_ns], f"oVirt {version}".strip()
    return ovf_ns, version, None


@dataclass
class _EnvelopeSections:
    """What the Envelope's own sections hold (disks before their capacity
    is resolved against the properties)."""

    files: list[FileReference] = field(default_factory=list)
    raw_disks: list[_RawDisk] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    options: list[DeploymentConfiguration] = field(default_factory=list)
    collection_id: str | None = None
    contents: int = 0


def _read_envelope_section(reader: _Reader, sections: _EnvelopeSections, node: etree._Element) -> None:
    """Read one child of the Envelope into ``sections`` (or ``reader``,
    for the content and the Ganeti section).

    :raises DescriptorError: a malformed section, more than one content, or
        an unknown required section (strict reading).
    """
    kind = section_kind(node)
    if kind == "References":
        sections.files.extend(reader.references(node))
    elif kind == "DiskSection":
        sections.raw_disks.extend(reader.disk_section(node))
    elif kind == "NetworkSection":
        sections.networks.extend(reader.network_section(node))
    elif kind == "DeploymentOptionSection":
        sections.options.extend(reader.deployment_options(node))
    elif kind in ("VirtualSystem", "VirtualSystemCollection"):
        sections.contents += 1
        if sections.contents > 1:
            raise reader.fail(node, "an Envelope holds one VirtualSystem or VirtualSystemCollection, not several")
        if kind == "VirtualSystemCollection":
            sections.collection_id = reader.attr(node, "id")
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


def _resolve_disks(reader: _Reader, raw_disks: list[_RawDisk]) -> tuple[VirtualDisk, ...]:
    """The DiskSection's Disks with their capacities in bytes, ``${name}``
    capacities filled from the systems' property defaults.

    :raises DescriptorError: a malformed capacity, or a Disk id used twice.
    """
    properties = _property_defaults([p for system in reader.systems for p in system.properties])
    disks = [_resolve_capacity(reader, disk, node, cap, units, properties) for disk, node, cap, units in raw_disks]
    seen: set[str] = set()
    for disk in disks:
        if disk.disk_id in seen:
            raise DescriptorError(f"Disk id {disk.disk_id!r} is used twice", reader.name)
        seen.add(disk.disk_id)
    return tuple(disks)
