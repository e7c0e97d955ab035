"""Values every target checks alike: names, MAC addresses, memory and CPU
counts taken from a :class:`~ovfconverter.model.machine.Machine` (untrusted:
they come from the source package or export).

:raises ovfconverter.errors.TargetError: from every function, with one line
    naming the value (escaped with ``repr``) and the rule it breaks.
"""

from __future__ import annotations

import re

from ovfconverter.errors import TargetError
from ovfconverter.model.machine import Machine
from ovfconverter.parameters import Parameter

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")

#: Memory given when the source does not say: 1 GiB, in bytes.
DEFAULT_MEMORY = 1 << 30


def vm_name(machine: Machine, target: str) -> str:
    """The machine's name as a domain/``xl`` name: letters, digits and
    ``._+-``, starting with a letter or digit, at most 64 characters (libvirt
    refuses ``/``; ``xl`` names become xenstore paths).  ``vm`` when the
    source has none."""
    name = machine.name if machine.name else "vm"
    if not _NAME.fullmatch(name):
        raise TargetError(
            (
                f"VM name {name!r} is not usable for {target}: use letters, digits and ._+- (at most 64), "
                "or choose one with ",
                Parameter("name"),
            )
        )
    return name


def mac_address(mac: str | None, number: int) -> str | None:
    """NIC ``number``'s MAC, lower case, or ``None``; refuses anything but six
    colon-separated octets and multicast addresses (which no hypervisor
    accepts for a NIC)."""
    if mac is None:
        return None
    value = mac.lower()
    if not _MAC.fullmatch(value):
        raise TargetError(f"nic {number}: MAC address {mac!r} is not six colon-separated hex octets")
    if int(value[:2], 16) & 1:
        raise TargetError(f"nic {number}: MAC address {mac!r} is a multicast address")
    return value


def memory_bytes(machine: Machine) -> int:
    """The machine's memory in bytes: :attr:`Machine.memory` or
    :data:`DEFAULT_MEMORY`; refuses zero and more than 16 TiB."""
    size = machine.memory.size if machine.memory is not None else DEFAULT_MEMORY
    if not 0 < size <= 1 << 44:
        raise TargetError(f"memory of {size} bytes is out of range (1 byte to 16 TiB)")
    return size


def vcpu_count(machine: Machine) -> int:
    """The machine's vCPU count (1 when unknown); refuses 0 and more than 4096."""
    count = machine.cpus.count if machine.cpus is not None else 1
    if not 0 < count <= 4096:
        raise TargetError(f"{count} vCPUs is out of range (1 to 4096)")
    return count


def free_text(text: str | None) -> str | None:
    """``text`` for a description or comment: control characters other than
    newline and tab (which XML 1.0 cannot carry) become spaces."""
    if text is None:
        return None
    return "".join(" " if _unprintable(ch) else ch for ch in text)


def _unprintable(ch: str) -> bool:
    if ch in "\n\t":
        return False
    return ch < " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff" or ch in "\ufffe\uffff"
