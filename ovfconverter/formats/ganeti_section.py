"""The Ganeti extension section of an OVF envelope (namespace ``http://ganeti``).

Ganeti's converter writes ``gnt:GanetiSection`` with ``gnt:Version``,
``gnt:AutoBalance``, ``gnt:Tags``, ``gnt:DiskTemplate``,
``gnt:OperatingSystem`` and ``gnt:Hypervisor`` (each a ``gnt:Name`` and
``gnt:Parameters``) and ``gnt:Network`` with one ``gnt:Nic`` per NIC
(``gnt:Mode``, ``gnt:MACAddress``, ``gnt:IPAddress``, ``gnt:Link``,
``gnt:Net``).  Older drafts, still found in Ganeti's own test data, use
``gnt:VersionId``, ``gnt:OS`` and a flat ``gnt:Network`` holding one NIC's
elements directly; both are read.  ovfconverter adds ``gnt:BackendParameters``
and ``gnt:Disks``, plus ``gnt:Name`` and ``gnt:VLAN`` per NIC, so that a
Ganeti -> OVF -> Ganeti round trip loses nothing.

Values are returned as found; checking them is the importer's business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from ovfconverter.formats.names import GANETI_NS, child, child_text, children, localname, namespace, text_of
from ovfconverter.model.ganeti import GanetiDisk, GanetiNic, GanetiSection

_NIC_FIELDS = {
    "Mode": "mode",
    "MACAddress": "mac",
    "IPAddress": "ip",
    "Link": "link",
    "Net": "network",
    "Name": "name",
    "VLAN": "vlan",
}


def is_ganeti_section(element: etree._Element) -> bool:
    """True for a ``gnt:GanetiSection`` element."""
    return namespace(element) == GANETI_NS and localname(element) == "GanetiSection"


def _parameters(element: etree._Element | None) -> dict[str, str]:
    """Read ``<gnt:Parameters>``: each child is a parameter named by its local
    name, or by its ``name`` attribute for ``<gnt:Parameter name="...">``."""
    result: dict[str, str] = {}
    if element is None:
        return result
    for node in children(element):
        key = localname(node)
        if key == "Parameter":
            key = node.get("name") or key
        result[key] = (node.text or "").strip()
    return result


def _nic(element: etree._Element) -> GanetiNic:
    nic = GanetiNic()
    for node in children(element):
        attr = _NIC_FIELDS.get(localname(node))
        if attr:
            setattr(nic, attr, text_of(node))
    return nic


def read_ganeti_section(element: etree._Element) -> GanetiSection:
    """Read a ``gnt:GanetiSection`` element into a :class:`GanetiSection`.

    Never raises for odd content: unknown children are ignored and the
    caller validates the values.
    """
    section = GanetiSection()
    section.version = child_text(element, "Version") or child_text(element, "VersionId")
    section.disk_template = child_text(element, "DiskTemplate")
    tags = child_text(element, "Tags")
    section.tags = tuple(tag for tag in re.split(r"[\s,]+", tags or "") if tag)
    auto_balance = child_text(element, "AutoBalance")

    os_node = child(element, "OperatingSystem")
    if os_node is None:
        os_node = child(element, "OS")
    if os_node is not None:
        section.os_name = child_text(os_node, "Name")
        section.os_parameters = _parameters(child(os_node, "Parameters"))

    hv_node = child(element, "Hypervisor")
    if hv_node is not None:
        section.hypervisor_name = child_text(hv_node, "Name")
        section.hypervisor_parameters = _parameters(child(hv_node, "Parameters"))

    section.backend_parameters = _parameters(child(element, "BackendParameters"))
    if auto_balance is not None and "auto_balance" not in section.backend_parameters:
        section.backend_parameters["auto_balance"] = auto_balance

    network = child(element, "Network")
    if network is not None:
        nic_nodes = [node for node in children(network) if localname(node) == "Nic"]
        if nic_nodes:
            section.nics = tuple(_nic(node) for node in nic_nodes)
        elif any(localname(node) in _NIC_FIELDS for node in children(network)):
            section.nics = (_nic(network),)  # the older flat form: one NIC

    disks = child(element, "Disks")
    if disks is not None:
        section.disks = tuple(
            GanetiDisk(ivname=child_text(node, "IVName"), name=child_text(node, "Name"))
            for node in children(disks)
            if localname(node) == "Disk"
        )
    return section


_NCNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _gnt(name: str) -> str:
    return f"{{{GANETI_NS}}}{name}"


def _text(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, _gnt(name)).text = value


def _write_parameters(parent: etree._Element, params: dict[str, str]) -> None:
    _fill_parameters(etree.SubElement(parent, _gnt("Parameters")), params)


def _fill_parameters(node: etree._Element, params: dict[str, str]) -> None:
    for key, value in params.items():
        if _NCNAME_RE.match(key):
            etree.SubElement(node, _gnt(key)).text = value
        else:  # not a valid XML element name: spell it as an attribute
            element = etree.SubElement(node, _gnt("Parameter"))
            element.set("name", key)
            element.text = value


def write_ganeti_section(
    section: GanetiSection, ovf_ns: str, nic_networks: Sequence[str | None] = ()
) -> etree._Element:
    """Build a ``gnt:GanetiSection`` element for ``section``.

    The section carries ``ovf:required="false"`` and an ``Info``, so that
    consumers that do not know it may skip it (DSP0243), and keeps the
    element names Ganeti's own converter reads (``gnt:Version``,
    ``gnt:AutoBalance``, ``gnt:OperatingSystem``, ``gnt:Hypervisor``,
    ``gnt:Network/gnt:Nic``) next to ovfconverter's additions
    (``gnt:BackendParameters``, ``gnt:Disks``, per-NIC ``gnt:Name`` and
    ``gnt:VLAN``).  :func:`read_ganeti_section` reads it back unchanged.

    :param ovf_ns: the envelope's OVF namespace (for ``ovf:required``,
        ``ovf:Info`` and ``ovf:name``).
    :param nic_networks: the OVF Network each NIC is connected to, in NIC
        order; written as the ``gnt:Nic``'s ``ovf:name``, which is how
        Ganeti's own converter finds a NIC's section.
    """
    root = etree.Element(_gnt("GanetiSection"), nsmap={"gnt": GANETI_NS})
    root.set(f"{{{ovf_ns}}}required", "false")
    etree.SubElement(root, f"{{{ovf_ns}}}Info").text = "Ganeti instance parameters (ganeti.org)"
    _text(root, "Version", section.version)
    _text(root, "AutoBalance", section.backend_parameters.get("auto_balance"))
    if section.tags:
        _text(root, "Tags", " ".join(section.tags))
    _text(root, "DiskTemplate", section.disk_template)
    if section.os_name is not None or section.os_parameters:
        node = etree.SubElement(root, _gnt("OperatingSystem"))
        _text(node, "Name", section.os_name)
        _write_parameters(node, section.os_parameters)
    if section.hypervisor_name is not None or section.hypervisor_parameters:
        node = etree.SubElement(root, _gnt("Hypervisor"))
        _text(node, "Name", section.hypervisor_name)
        _write_parameters(node, section.hypervisor_parameters)
    if section.backend_parameters:
        _fill_parameters(etree.SubElement(root, _gnt("BackendParameters")), section.backend_parameters)
    if section.nics:
        network = etree.SubElement(root, _gnt("Network"))
        for index, nic in enumerate(section.nics):
            node = etree.SubElement(network, _gnt("Nic"))
            if index < len(nic_networks) and nic_networks[index]:
                node.set(f"{{{ovf_ns}}}name", nic_networks[index] or "")
            for element_name, attr in _NIC_FIELDS.items():
                _text(node, element_name, getattr(nic, attr))
    if section.disks:
        disks = etree.SubElement(root, _gnt("Disks"))
        for disk in section.disks:
            node = etree.SubElement(disks, _gnt("Disk"))
            _text(node, "IVName", disk.ivname)
            _text(node, "Name", disk.name)
    return root
