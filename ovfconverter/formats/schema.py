"""Checking descriptors against the DMTF's OVF schema, offline.

OVF 1.x descriptors are validated with lxml against DSP8023 (the DMTF OVF
envelope schema, ``dsp8023_1.1.1.xsd``, and the CIM schemas it imports),
read from a folder the user provides (the DMTF publishes them; they are not
ours to ship), plus ovfconverter's own schema for the Ganeti section
(``ovfconverter/schemas/ganeti.xsd``, package data).  Schema locations are
resolved inside that folder only; nothing is fetched from the network.

No DMTF schema for OVF 2.x is at hand, so 2.x descriptors are checked
against the structure DSP0243 2.x requires (:func:`check_ovf2_structure`):
required elements and attributes, element order, Info first in every
section, and the SASD/EPASD/RASD namespaces of each kind of Item.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from lxml import etree

from ovfconverter.errors import OptionError
from ovfconverter.formats.names import (
    EPASD_NS,
    GANETI_NS,
    OVF_NS_2,
    RASD_NS,
    SASD_NS,
    VSSD_NS,
    children,
    localname,
    namespace,
)
from ovfconverter.formats.safexml import parse_xml

_ELEMENT_RE = re.compile(r"Element '([^']+)'")
_ITEM_NAMESPACES = {"Item": RASD_NS, "StorageItem": SASD_NS, "EthernetPortItem": EPASD_NS}
_schemas: dict[str, etree.XMLSchema] = {}


@dataclass(frozen=True)
class Violation:
    """One way a descriptor breaks its schema or structure.

    :ivar line: the descriptor line (1-based), or ``None``.
    :ivar element: the element as ``prefix:Name`` (``ovf:Disk``), or ``None``.
    """

    line: int | None
    element: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "descriptor"
        return f"{where}: {self.message}"


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def ganeti_schema_path() -> str:
    """Path of ovfconverter's XSD for the Ganeti section."""
    return str(resources.files("ovfconverter").joinpath("schemas", "ganeti.xsd"))


def find_ovf_schema(directory: str) -> str:
    """Find DSP8023 (``dsp8023*.xsd``) in ``directory``.

    :raises OptionError: not found.
    """
    found = sorted(glob.glob(os.path.join(glob.escape(directory), "dsp8023*.xsd")))
    if not found:
        raise OptionError(
            f"{directory} holds no dsp8023*.xsd: download the DMTF OVF 1.x envelope schema (DSP8023) and the "
            "CIM schemas it imports (see doc/standards.rst)"
        )
    return os.path.abspath(found[-1])


_PREFIXES = {
    "http://schemas.dmtf.org/ovf/envelope/1": "ovf",
    RASD_NS: "rasd",
    VSSD_NS: "vssd",
    GANETI_NS: "gnt",
    "http://www.vmware.com/schema/ovf": "vmw",
}


def _short(message: str) -> str:
    """Write ``{namespace}Name`` as ``prefix:Name`` for the usual
    namespaces."""
    for uri, prefix in _PREFIXES.items():
        message = message.replace(f"{{{uri}}}", f"{prefix}:")
    return message


class _FolderResolver(etree.Resolver):
    """Resolves every schema location to a file of the same name in one
    folder (so http://schemas.dmtf.org/... imports work offline)."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = os.path.realpath(directory)

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        name = os.path.basename(system_url.split("?", 1)[0])
        if name == "ganeti.xsd":
            return cast(Any, self).resolve_filename(ganeti_schema_path(), context)
        candidate = os.path.join(self.directory, name)
        if name and os.path.isfile(candidate):
            return cast(Any, self).resolve_filename(candidate, context)
        return None


def load_schema(directory: str) -> etree.XMLSchema:
    """DSP8023 from ``directory`` plus the Ganeti section schema, compiled
    (cached per folder).

    :raises OptionError: DSP8023 or a schema it imports is missing or
        unreadable.
    """
    key = os.path.realpath(directory)
    if key in _schemas:
        return _schemas[key]
    ovf_xsd = find_ovf_schema(directory)
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_FolderResolver(directory))
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:ovfconverter:validation">'
        f'<xs:import namespace="http://schemas.dmtf.org/ovf/envelope/1" schemaLocation="{os.path.basename(ovf_xsd)}"/>'
        f'<xs:import namespace="{GANETI_NS}" schemaLocation="ganeti.xsd"/>'
        "</xs:schema>"
    )
    try:
        document = etree.fromstring(driver.encode(), parser, base_url=os.path.join(key, "driver.xsd"))
        schema = etree.XMLSchema(document)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise OptionError(f"the schemas in {directory} cannot be loaded: {exc}") from None
    _schemas[key] = schema
    return schema


def validate_descriptor(data: bytes, directory: str, name: str) -> list[Violation]:
    """Validate an OVF 1.x descriptor against DSP8023 (from ``directory``)
    and the Ganeti section schema.

    :returns: every violation, in document order (empty: valid).
    :raises OptionError: the schemas cannot be loaded.
    :raises DescriptorError: the descriptor is not XML.
    """
    schema = load_schema(directory)
    root = parse_xml(data, name)
    if schema.validate(root.getroottree()):
        return []
    violations = []
    for entry in cast(Any, schema.error_log):
        message = _short(entry.message)
        match = _ELEMENT_RE.search(message)
        violations.append(Violation(entry.line or None, match.group(1) if match else None, message))
    return violations


def _check_info_first(element: etree._Element, ns: str, problems: list[Violation]) -> None:
    first = next(iter(children(element)), None)
    if first is None or first.tag != f"{{{ns}}}Info":
        problems.append(Violation(_line(element), localname(element), f"{localname(element)} must start with Info"))


def _check_item(item: etree._Element, problems: list[Violation]) -> None:
    kind = localname(item)
    expected_ns = _ITEM_NAMESPACES[kind]
    names = []
    for node in children(item):
        if namespace(node) != expected_ns:
            problems.append(
                Violation(
                    _line(node), localname(node), f"{kind} holds {node.tag}, expected the {expected_ns} namespace"
                )
            )
        names.append(localname(node))
    for required in ("ElementName", "InstanceID", "ResourceType"):
        if required not in names:
            problems.append(Violation(_line(item), kind, f"{kind} lacks {required}"))
    if names != sorted(names, key=str.lower) and names != sorted(names):
        problems.append(
            Violation(_line(item), kind, f"{kind} elements are not in the CIM schema's (alphabetical) order")
        )


def check_ovf2_structure(data: bytes, name: str) -> list[Violation]:
    """Check an OVF 2.x descriptor against the structure DSP0243 2.x
    requires, as far as it can be checked without a schema.

    :returns: every problem found (empty: conforms).
    :raises DescriptorError: the descriptor is not XML.
    """
    root = parse_xml(data, name)
    ns = OVF_NS_2
    problems: list[Violation] = []
    if root.tag != f"{{{ns}}}Envelope":
        return [Violation(_line(root), localname(root), f"the root is {root.tag}, not an OVF 2.x Envelope")]
    if not (root.get(f"{{{ns}}}version") or "").startswith("2"):
        problems.append(Violation(_line(root), "Envelope", "ovf:version must be 2.x"))
    nodes = children(root)
    if not nodes or nodes[0].tag != f"{{{ns}}}References":
        problems.append(Violation(_line(root), "Envelope", "References must be the Envelope's first element"))
    contents = [n for n in nodes if n.tag in (f"{{{ns}}}VirtualSystem", f"{{{ns}}}VirtualSystemCollection")]
    if len(contents) != 1:
        problems.append(Violation(_line(root), "Envelope", "an Envelope holds exactly one VirtualSystem or collection"))
    file_ids = set()
    for node in nodes:
        if node.tag == f"{{{ns}}}References":
            for ref in children(node):
                if ref.tag == f"{{{ns}}}File":
                    if not ref.get(f"{{{ns}}}id") or not ref.get(f"{{{ns}}}href"):
                        problems.append(Violation(_line(ref), "File", "File needs ovf:id and ovf:href"))
                    file_ids.add(ref.get(f"{{{ns}}}id"))
        elif contents and nodes.index(node) > nodes.index(contents[0]) and localname(node) != "Strings":
            problems.append(Violation(_line(node), localname(node), "sections must come before the content"))
    for section in root.iter(f"{{{ns}}}DiskSection", f"{{{ns}}}NetworkSection", f"{{{GANETI_NS}}}GanetiSection"):
        _check_info_first(section, ns, problems)
    for disk in root.iter(f"{{{ns}}}Disk"):
        if not disk.get(f"{{{ns}}}diskId") or not disk.get(f"{{{ns}}}capacity"):
            problems.append(Violation(_line(disk), "Disk", "Disk needs ovf:diskId and ovf:capacity"))
        file_ref = disk.get(f"{{{ns}}}fileRef")
        if file_ref and file_ref not in file_ids:
            problems.append(Violation(_line(disk), "Disk", f"ovf:fileRef {file_ref!r} names no File"))
    for network in root.iter(f"{{{ns}}}Network"):
        if not network.get(f"{{{ns}}}name") or network.find(f"{{{ns}}}Description") is None:
            problems.append(Violation(_line(network), "Network", "Network needs ovf:name and a Description"))
    for system in root.iter(f"{{{ns}}}VirtualSystem", f"{{{ns}}}VirtualSystemCollection"):
        if not system.get(f"{{{ns}}}id"):
            problems.append(Violation(_line(system), localname(system), f"{localname(system)} needs ovf:id"))
        _check_info_first(system, ns, problems)
    for hardware in root.iter(f"{{{ns}}}VirtualHardwareSection"):
        _check_info_first(hardware, ns, problems)
        for node in children(hardware):
            if localname(node) in _ITEM_NAMESPACES and namespace(node) == ns:
                _check_item(node, problems)
            elif localname(node) == "System":
                for sub in children(node):
                    if namespace(sub) != VSSD_NS:
                        problems.append(Violation(_line(sub), localname(sub), "System holds only VSSD elements"))
    for section in root.iter(f"{{{GANETI_NS}}}GanetiSection"):
        if section.get(f"{{{ns}}}required") != "false":
            problems.append(
                Violation(_line(section), "GanetiSection", 'an extension section needs ovf:required="false"')
            )
    return problems
