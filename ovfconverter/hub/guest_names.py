"""The guest OS that names say: VMware's guest id and an OS description.

An OVF OperatingSystemSection carries a CIM ``OsType`` number, which
:func:`ovfconverter.hub.ovf.guest_os` maps; most numbers name no version
(CIM 96, "Debian 64-Bit", is every Debian) and many packages use 1
("Other") or 100/101 ("Linux 2.6.x").  VMware adds its guest id
(``vmw:osType``: ``debian11_64Guest``, ``windows9Server64Guest``; VMware's
"Guest OS identifiers" list of the vSphere API reference,
``VirtualMachineGuestOsIdentifier``), and many packages a description
(``"CentOS 7 (64-bit)"``, VirtualBox's ``"Debian_64"``).  Those say the
distribution, its version and the architecture the number does not: Glance's
``os_distro``/``os_version`` and the device policy's virtio rules need them.

Pure: imports only ``model``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from ovfconverter.model.machine import Architecture, GuestOS, OsFamily

#: Names a guest id or a description starts or contains -> the distribution
#: as :class:`GuestOS` spells it (libosinfo's and Glance's ``os_distro``).
DISTRIBUTIONS: Mapping[str, str] = MappingProxyType(
    {
        "debian": "debian",
        "ubuntu": "ubuntu",
        "centos": "centos",
        "rhel": "rhel",
        "sles": "sles",
        "opensuse": "opensuse",
        "fedora": "fedora",
        "freebsd": "freebsd",
        "oracle": "ol",
        "rocky": "rocky",
        "almalinux": "almalinux",
    }
)
#: Distributions of the BSD family; every other one of :data:`DISTRIBUTIONS`
#: is Linux.
_BSD = frozenset({"freebsd"})
_VERSION = re.compile(r"(\d+(?:\.\d+)?)")
_WORDS = re.compile(r"[\s_()/,-]+")
_GUEST_SUFFIX = re.compile(r"_?(64)?guest\Z")
_ARCH_64 = re.compile(r"_64\b|64-bit|\bx86_64\b|\bamd64\b")


def guest_from_names(os_type: str | None, description: str | None) -> GuestOS:
    """The guest as VMware's guest id ``os_type`` or the free-text
    ``description`` say it, as far as they do (every field ``None`` when
    neither names a known system).  The guest id wins over the
    description.

    >>> guest_from_names("debian11_64Guest", None).version
    '11'
    """
    key = (os_type or "").strip().lower()
    text = (description or "").strip().lower()
    arch = Architecture.X86_64 if "64" in key or _ARCH_64.search(text) else None
    if key.startswith("windows") or "windows" in _WORDS.split(text):
        return GuestOS(family=OsFamily.WINDOWS, distribution="windows", architecture=arch)
    words = _WORDS.split(text)
    for name, distribution in DISTRIBUTIONS.items():
        if key.startswith(name):
            rest = _GUEST_SUFFIX.sub("", key[len(name) :])
        elif name in words:
            rest = text[text.index(name) + len(name) :]
        else:
            continue
        match = _VERSION.search(_ARCH_64.sub("", rest))  # "_64" is an architecture, not a version
        family = OsFamily.BSD if distribution in _BSD else OsFamily.LINUX
        return GuestOS(
            family=family, distribution=distribution, version=match.group(1) if match else None, architecture=arch
        )
    unknown = OsFamily.LINUX if "linux" in key or "linux" in words else None
    return GuestOS(family=unknown, architecture=arch)


def refine_guest(guest: GuestOS, named: GuestOS) -> GuestOS:
    """``guest`` (from a CIM number) with what ``named`` (from
    :func:`guest_from_names`) adds: a family where the number said none or
    "Other", the distribution where it named none, a version (when both
    agree on the distribution) and an architecture where it said none.
    What ``guest`` states is never changed."""
    family = guest.family if guest.family not in (None, OsFamily.OTHER) else (named.family or guest.family)
    distribution = guest.distribution or named.distribution
    version = guest.version or (named.version if named.distribution == distribution else None)
    return GuestOS(
        cim_id=guest.cim_id,
        description=guest.description,
        family=family,
        distribution=distribution,
        version=version,
        architecture=guest.architecture or named.architecture,
        vmware_os_type=guest.vmware_os_type,
        virtualbox_os_type=guest.virtualbox_os_type,
    )
