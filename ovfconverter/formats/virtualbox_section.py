"""Reading VirtualBox's ``vbox:Machine`` section of an OVF VirtualSystem.

VirtualBox's exports carry, beside the standard Items, the machine in its
own settings format (the ``.vbox`` file's ``Machine`` element, namespace
``http://www.virtualbox.org/ovf/machine``, marked ``ovf:required="false"``).
It has what the Items leave out: the adapters' MAC addresses (VirtualBox
writes no ``rasd:Address``; Vagrant boxes depend on the first one), adapter
types, firmware, boot order and where each medium is attached.  Settings
files put ``StorageControllers`` under ``Machine`` (older versions) or under
``Hardware``: both are read.  Values are kept as VirtualBox spells them.
"""

from __future__ import annotations

from lxml import etree

from ovfconverter.formats.names import children, localname
from ovfconverter.model.envelope import VirtualBoxAdapter, VirtualBoxAttachment, VirtualBoxMachine

VBOX_NS = "http://www.virtualbox.org/ovf/machine"
MAX_ENTRIES = 256
"""Most adapters, controllers or attached devices read (VirtualBox has at
most 36 adapters and a few dozen ports)."""


def is_virtualbox_machine(element: etree._Element) -> bool:
    """Whether ``element`` is a ``vbox:Machine`` section."""
    return etree.QName(element).namespace == VBOX_NS and localname(element) == "Machine"


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next((node for node in children(element) if localname(node) == name), None)


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _uuid(text: str | None) -> str | None:
    return (text or "").strip().strip("{}").lower() or None


def read_virtualbox_machine(element: etree._Element) -> VirtualBoxMachine:
    """The ``vbox:Machine`` ``element`` as a :class:`VirtualBoxMachine`;
    entries that make no sense (a slot that is not a number) are skipped,
    never fatal: the section is optional by definition."""
    hardware = _child(element, "Hardware")
    firmware = boot = network = None
    controllers_node = _child(element, "StorageControllers")
    if hardware is not None:
        firmware = _child(hardware, "Firmware")
        boot = _child(hardware, "Boot")
        network = _child(hardware, "Network")
        inner = _child(hardware, "StorageControllers")
        controllers_node = inner if inner is not None else controllers_node
    order = []
    if boot is not None:
        for node in children(boot)[:MAX_ENTRIES]:
            position, device = _number(node.get("position")), (node.get("device") or "").strip()
            if localname(node) == "Order" and position is not None and device and device != "None":
                order.append((position, device))
    adapters = []
    if network is not None:
        for node in children(network)[:MAX_ENTRIES]:
            slot = _number(node.get("slot"))
            if localname(node) != "Adapter" or slot is None:
                continue
            attached = next((localname(sub) for sub in children(node) if localname(sub) != "DisabledModes"), None)
            adapters.append(
                VirtualBoxAdapter(
                    slot=slot,
                    enabled=(node.get("enabled") or "").strip().lower() == "true",
                    mac=(node.get("MACAddress") or "").strip() or None,
                    type=(node.get("type") or "").strip() or None,
                    attachment=attached,
                )
            )
    controllers, attachments = _storage(controllers_node)
    return VirtualBoxMachine(
        uuid=_uuid(element.get("uuid")),
        name=element.get("name"),
        os_type=element.get("OSType"),
        firmware=(firmware.get("type") or "").strip() or None if firmware is not None else None,
        boot_order=tuple(device for _, device in sorted(order)),
        adapters=tuple(sorted(adapters, key=lambda a: a.slot)),
        controllers=tuple(controllers),
        attachments=tuple(attachments),
    )


def _storage(
    node: etree._Element | None,
) -> tuple[list[tuple[str, str | None]], list[VirtualBoxAttachment]]:
    controllers: list[tuple[str, str | None]] = []
    attachments: list[VirtualBoxAttachment] = []
    if node is None:
        return controllers, attachments
    for controller in children(node)[:MAX_ENTRIES]:
        if localname(controller) != "StorageController":
            continue
        name, kind = controller.get("name") or "", controller.get("type")
        controllers.append((name, kind))
        for device in children(controller)[:MAX_ENTRIES]:
            port, number = _number(device.get("port")), _number(device.get("device"))
            if localname(device) != "AttachedDevice" or port is None or number is None:
                continue
            image = _child(device, "Image")
            attachments.append(
                VirtualBoxAttachment(
                    controller=name,
                    controller_type=kind,
                    device_type=device.get("type") or "",
                    port=port,
                    device=number,
                    image_uuid=_uuid(image.get("uuid")) if image is not None else None,
                )
            )
    return controllers, attachments
