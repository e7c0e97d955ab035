"""XML namespaces of OVF and its companions, and small element helpers shared
by the OVF reader and writer.

OVF 0.9 (VMware's draft) lives in ``http://www.vmware.com/schema/ovf/1/envelope``
and names sections by ``xsi:type`` (``<Section xsi:type="ovf:DiskSection_Type">``);
OVF 1.x (DSP0243 1.0/1.1) in ``http://schemas.dmtf.org/ovf/envelope/1``;
OVF 2.x (DSP0243 2.0/2.1) in ``http://schemas.dmtf.org/ovf/envelope/2``.  The
CIM settings data (RASD, VSSD, SASD, EPASD) namespaces are shared by all.
"""

from __future__ import annotations

from lxml import etree

OVF_NS_0_9 = "http://www.vmware.com/schema/ovf/1/envelope"
OVF_NS_1 = "http://schemas.dmtf.org/ovf/envelope/1"
OVF_NS_2 = "http://schemas.dmtf.org/ovf/envelope/2"
OVF_NS_1_OVIRT = OVF_NS_1 + "/"
"""oVirt / RHV write the 1.x namespace with a trailing slash (their
``OvfProperties.OVF_URI``); no one else does."""
OVIRT_NS = "http://www.ovirt.org/ovf"
OVF_NAMESPACES = {OVF_NS_0_9: "0.9", OVF_NS_1: "1.0", OVF_NS_1_OVIRT: "1.0", OVF_NS_2: "2.0"}
"""Envelope namespace -> the OVF version it implies when ``ovf:version`` is absent."""

CIM_BASE = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
RASD_NS = CIM_BASE + "CIM_ResourceAllocationSettingData"
VSSD_NS = CIM_BASE + "CIM_VirtualSystemSettingData"
SASD_NS = CIM_BASE + "CIM_StorageAllocationSettingData"
EPASD_NS = CIM_BASE + "CIM_EthernetPortAllocationSettingData"
CIM_NS = "http://schemas.dmtf.org/wbem/wscim/1/common"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
VMW_NS = "http://www.vmware.com/schema/ovf"
GANETI_NS = "http://ganeti"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def localname(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    """The element's namespace URI, or ``None``."""
    return etree.QName(element).namespace


def ovf_attr(element: etree._Element, name: str, ovf_ns: str) -> str | None:
    """Return the OVF attribute ``name`` of ``element``: ``ovf:name`` in the
    envelope's namespace, else the unqualified ``name`` some producers write.
    """
    value = element.get(f"{{{ovf_ns}}}{name}")
    if value is None:
        value = element.get(name)
    return value


def section_kind(element: etree._Element) -> str:
    """Return what kind of section or content ``element`` is: its local name
    (``DiskSection``, ``VirtualSystem``), or for OVF 0.9's generic
    ``<Section>``/``<Content>`` elements the name in their ``xsi:type``
    (``ovf:DiskSection_Type`` gives ``DiskSection``)."""
    name = localname(element)
    if name in ("Section", "Content"):
        xsi_type = element.get(f"{{{XSI_NS}}}type")
        if xsi_type:
            type_name = xsi_type.rpartition(":")[2]
            return type_name[: -len("_Type")] if type_name.endswith("_Type") else type_name
    return name


def text_of(element: etree._Element | None) -> str | None:
    """The element's text, stripped; ``None`` for a missing element, and
    ``None`` for an empty one too."""
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def children(element: etree._Element) -> list[etree._Element]:
    """The element's child elements (comments and processing instructions,
    which the safe parser drops anyway, and entity nodes are skipped)."""
    return [child for child in element if isinstance(child.tag, str)]


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child element whose local name is ``name``, in any
    namespace."""
    for node in children(element):
        if localname(node) == name:
            return node
    return None


def child_text(element: etree._Element, name: str) -> str | None:
    """:func:`text_of` the first child named ``name`` (any namespace)."""
    return text_of(child(element, name))
