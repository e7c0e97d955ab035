"""Write a libvirt domain XML from :class:`~ovfconverter.model.libvirt.Domain`
(libvirt "Domain XML format", https://libvirt.org/formatdomain.html; checked
by ``virt-xml-validate FILE domain`` and libvirt's qemu driver in the tests).

Built with lxml, so every name, path and description is escaped; text that
XML 1.0 cannot carry (control characters) is refused by the hub before it
gets here.
"""

from __future__ import annotations

from lxml import etree

from ovfconverter.model.libvirt import Domain, DomainDisk, DomainInterface


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _os(root: etree._Element, domain: Domain) -> None:
    attrs = {"firmware": domain.firmware} if domain.firmware else {}
    os = _sub(root, "os", **attrs)
    if domain.firmware == "efi":
        firmware = _sub(os, "firmware")
        enabled = "yes" if domain.secure_boot else "no"
        _sub(firmware, "feature", enabled=enabled, name="enrolled-keys")
        _sub(firmware, "feature", enabled=enabled, name="secure-boot")
    _sub(os, "type", "hvm", arch=domain.arch, machine=domain.machine)
    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if domain.firmware == "efi" and domain.secure_boot:
        _sub(features, "smm", state="on")


def _disk(devices: etree._Element, disk: DomainDisk) -> None:
    element = _sub(devices, "disk", type="file", device=disk.device.value)
    if disk.driver_type is not None:
        _sub(element, "driver", name="qemu", type=disk.driver_type)
    if disk.source is not None:
        _sub(element, "source", file=disk.source)
    _sub(element, "target", dev=disk.dev, bus=disk.bus)
    if disk.readonly:
        _sub(element, "readonly")
    if disk.boot_order is not None:
        _sub(element, "boot", order=str(disk.boot_order))
    if disk.address is not None:
        a = disk.address
        _sub(
            element,
            "address",
            type="drive",
            controller=str(a.controller),
            bus=str(a.bus),
            target=str(a.target),
            unit=str(a.unit),
        )


def _interface(devices: etree._Element, nic: DomainInterface) -> None:
    element = _sub(devices, "interface", type=nic.type.value)
    if nic.mac is not None:
        _sub(element, "mac", address=nic.mac)
    _sub(element, "source", **{nic.type.value: nic.source})
    if nic.model is not None:
        _sub(element, "model", type=nic.model)


def domain_element(domain: Domain) -> etree._Element:
    """The ``<domain>`` element for ``domain`` (children in the order of
    libvirt's own ``virsh dumpxml``)."""
    root = etree.Element("domain", type=domain.type.value)
    _sub(root, "name", domain.name)
    if domain.uuid is not None:
        _sub(root, "uuid", domain.uuid)
    if domain.title is not None:
        _sub(root, "title", domain.title)
    if domain.description is not None:
        _sub(root, "description", domain.description)
    _sub(root, "memory", str(domain.memory_kib), unit="KiB")
    _sub(root, "currentMemory", str(domain.memory_kib), unit="KiB")
    _sub(root, "vcpu", str(domain.vcpus), placement="static")
    _os(root, domain)
    if domain.topology is not None:
        cpu = _sub(root, "cpu")
        t = domain.topology
        _sub(cpu, "topology", sockets=str(t.sockets), dies="1", cores=str(t.cores), threads=str(t.threads))
    _sub(root, "clock", offset="utc")
    devices = _sub(root, "devices")
    for disk in domain.disks:
        _disk(devices, disk)
    for controller in domain.controllers:
        attrs = {"type": controller.type, "index": str(controller.index)}
        if controller.model is not None:
            attrs["model"] = controller.model
        _sub(devices, "controller", **attrs)
    for nic in domain.interfaces:
        _interface(devices, nic)
    if domain.serial_console:
        serial = _sub(devices, "serial", type="pty")
        _sub(serial, "target", port="0")
        console = _sub(devices, "console", type="pty")
        _sub(console, "target", type="serial", port="0")
    return root


def write_domain(domain: Domain) -> bytes:
    """The domain XML document, UTF-8, indented, ending in a newline."""
    root = domain_element(domain)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"
