"""Ganeti's side: an instance export (``config.ini``) and the OVF Ganeti
section, as plain data, plus the validation Ganeti applies to their values.

Key names follow Ganeti 2.16/3.0 (``lib/backend.py`` ``FinalizeExport`` writes
them, ``cmdlib/instance_create.py`` ``_ReadExportParams`` reads them back).
Sizes are MiB, as in ``config.ini``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ovfconverter.errors import OptionError
from ovfconverter.parameters import Part

NIC_MODES = frozenset({"bridged", "routed", "openvswitch", "pool"})
"""NIC modes Ganeti 3.0 accepts (``constants.NIC_VALID_MODES``)."""

DISK_TEMPLATES = frozenset({"diskless", "file", "sharedfile", "plain", "blockdev", "drbd", "rbd", "ext", "gluster"})
"""Disk templates Ganeti 3.0 knows (``constants.DISK_TEMPLATES``)."""

HYPERVISORS = frozenset({"xen-pvm", "xen-hvm", "kvm", "lxc", "fake", "chroot"})
"""Hypervisors Ganeti 3.0 knows (``constants.HYPER_TYPES``)."""

BACKEND_PARAMETERS = frozenset(
    {"always_failover", "auto_balance", "maxmem", "minmem", "memory", "spindle_use", "vcpus"}
)
"""Backend parameters Ganeti accepts, including the pre-2.6 ``memory``."""

EXPORT_VERSION = "0"
"""``[export] version`` that ``gnt-backup import`` requires."""

MAX_DISKS = 16
MAX_NICS = 8
MAX_TAG_LENGTH = 128
MAX_TAGS = 4096

_HOSTNAME_RE = re.compile(r"^[a-z0-9._-]{1,255}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_TAG_RE = re.compile(r"^[\w.+*/:@-]+$")
_PARAM_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_OS_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,128}$")
_NETWORK_NAME_RE = re.compile(r"^[A-Za-z0-9_.:+ -]{1,128}$")
_BOOL_WORDS = {"true": "True", "false": "False", "yes": "True", "no": "False", "1": "True", "0": "False"}


def validate_instance_name(name: str, what: Part = "instance name") -> str:
    """Check ``name`` as Ganeti checks host names
    (``netutils.Hostname.GetNormalizedName``: ``[a-z0-9._-]``, case-folded,
    no empty label) and return it unchanged.

    :raises OptionError: not a valid name.
    """
    folded = name.lower()
    if not _HOSTNAME_RE.match(folded) or ".." in folded or folded.startswith("."):
        raise OptionError(
            (what, f" {name!r} is not a valid Ganeti instance name (letters, digits, '.', '_' and '-' only)")
        )
    return name


def normalize_mac(mac: str) -> str:
    """Return ``mac`` as Ganeti stores it (six colon-separated octets, lower
    case); ``-`` separators (Hyper-V, VirtualBox) and bare 12-digit forms are
    accepted.

    :raises OptionError: not a MAC address.
    """
    text = mac.strip().lower().replace("-", ":")
    if re.fullmatch(r"[0-9a-f]{12}", text):
        text = ":".join(text[i : i + 2] for i in range(0, 12, 2))
    if not _MAC_RE.match(text):
        raise OptionError(f"MAC address {mac!r} is not six colon-separated octets")
    return text


def validate_value(value: str, what: str, limit: int = 4096) -> str:
    """Check that ``value`` can be written as one ``config.ini`` value that
    Ganeti reads back unchanged: no control characters (a newline would
    inject keys or sections), no ``%`` (Ganeti's ConfigParser interpolates
    it), no surrounding white space, at most ``limit`` characters.

    :raises OptionError: the value breaks one of those rules.
    """
    if len(value) > limit:
        raise OptionError(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise OptionError(f"{what} {value!r} contains a control character (newline, tab...)")
    if "%" in value:
        raise OptionError(f"{what} {value!r} contains '%', which Ganeti's config.ini reader interpolates")
    if value != value.strip():
        raise OptionError(f"{what} {value!r} has leading or trailing white space")
    return value


def validate_param_key(key: str, what: str) -> str:
    """Check a parameter name (hypervisor, backend or OS parameter): letters,
    digits, ``_ . -``, at most 128 characters, so it cannot break the
    ``key = value`` line it is written on (``:`` and ``=`` separate keys
    from values in config.ini).

    :raises OptionError: not a valid parameter name.
    """
    if not _PARAM_KEY_RE.match(key):
        raise OptionError(f"{what} name {key!r} is not a valid parameter name")
    return key


def validate_os_name(name: str) -> str:
    """Check an OS name (``debootstrap+default``, ``lenny-image``).

    :raises OptionError: not a valid Ganeti OS name.
    """
    if not _OS_NAME_RE.match(name):
        raise OptionError(f"OS name {name!r} is not a valid Ganeti OS name")
    return name


def validate_tag(tag: str) -> str:
    """Check a tag as Ganeti does (``TaggableObject.ValidateTag``).

    :raises OptionError: empty, too long, or invalid characters.
    """
    if not tag or len(tag) > MAX_TAG_LENGTH or not _TAG_RE.match(tag):
        raise OptionError(f"tag {tag!r} is not a valid Ganeti tag")
    return tag


def validate_network_name(name: str) -> str:
    """Check a Ganeti network name (letters, digits, spaces, ``_ . : + -``).

    :raises OptionError: not a usable network name.
    """
    if not _NETWORK_NAME_RE.match(name) or name != name.strip():
        raise OptionError(f"network name {name!r} is not a valid Ganeti network name")
    return name


def normalize_bool(value: str, what: Part) -> str:
    """Return a boolean parameter as Ganeti writes it (``True``/``False``).

    :raises OptionError: not a boolean word.
    """
    word = _BOOL_WORDS.get(value.strip().lower())
    if word is None:
        raise OptionError((what, f" {value!r} is not a boolean (true or false)"))
    return word


@dataclass
class GanetiNic:
    """One NIC as Ganeti describes it.  Every field is a string as written in
    ``config.ini``, or ``None`` when unknown.

    :ivar mac: ``aa:00:00:35:d1:9e``, or ``auto`` / ``generate``.
    :ivar mode: ``bridged``, ``routed`` or ``openvswitch``.
    :ivar link: bridge or routing table (``br0``, ``xen-br0``).
    :ivar network: a Ganeti network name.
    """

    mac: str | None = None
    ip: str | None = None
    mode: str | None = None
    link: str | None = None
    network: str | None = None
    name: str | None = None
    vlan: str | None = None


@dataclass
class GanetiDisk:
    """One disk of an instance export.

    :ivar size: size in MiB (``diskN_size``); 0 where unknown (the Ganeti
        section does not carry sizes).
    :ivar dump: file name of the raw dump in the export folder
        (``diskN_dump``), ``None`` for a disk without data.
    :ivar ivname: ``disk/N``.
    """

    size: int = 0
    dump: str | None = None
    ivname: str | None = None
    name: str | None = None


@dataclass
class GanetiSection:
    """The ``gnt:GanetiSection`` of an OVF envelope (namespace
    ``http://ganeti``; Ganeti's ``doc/design-ovf-support.rst``), which carries
    what plain OVF cannot say about a Ganeti instance.

    :ivar backend_parameters: ``gnt:BackendParameters`` plus, for older
        sections, ``gnt:AutoBalance`` as ``auto_balance``.
    """

    version: str | None = None
    tags: tuple[str, ...] = ()
    disk_template: str | None = None
    os_name: str | None = None
    os_parameters: dict[str, str] = field(default_factory=dict)
    hypervisor_name: str | None = None
    hypervisor_parameters: dict[str, str] = field(default_factory=dict)
    backend_parameters: dict[str, str] = field(default_factory=dict)
    nics: tuple[GanetiNic, ...] = ()
    disks: tuple[GanetiDisk, ...] = ()


@dataclass
class InstanceExport:
    """A Ganeti instance export: the contents of ``config.ini`` (the disk
    dumps live beside it).

    :ivar backend: ``[backend]`` values (``vcpus``, ``maxmem``, ``minmem`` in
        MiB, ``auto_balance``...), as strings.
    :ivar export_extra: ``[export]`` keys other than ``version`` and ``os``
        (``timestamp``, ``source``, ``compression``).
    :ivar instance_extra: ``[instance]`` keys this model does not name
        (``memory``, ``vcpus`` of pre-2.6 exports...), kept for fidelity.
    """

    name: str | None = None
    os: str | None = None
    hypervisor: str | None = None
    disk_template: str | None = None
    tags: list[str] = field(default_factory=list)
    disks: list[GanetiDisk] = field(default_factory=list)
    nics: list[GanetiNic] = field(default_factory=list)
    backend: dict[str, str] = field(default_factory=dict)
    hypervisor_params: dict[str, str] = field(default_factory=dict)
    os_params: dict[str, str] = field(default_factory=dict)
    os_private: dict[str, str] = field(default_factory=dict)
    export_version: str = EXPORT_VERSION
    export_extra: dict[str, str] = field(default_factory=dict)
    instance_extra: dict[str, str] = field(default_factory=dict)

    @property
    def vcpus(self) -> int | None:
        """Virtual CPUs, from ``[backend] vcpus`` (or the pre-2.6
        ``[instance]`` copy); ``None`` when unknown."""
        return _int_or_none(self.backend.get("vcpus") or self.instance_extra.get("vcpus"))

    @property
    def maxmem(self) -> int | None:
        """Maximum memory in MiB: ``[backend] maxmem``, else ``memory``
        (pre-2.6 layout), else ``[instance] memory``; ``None`` when unknown."""
        for value in (
            self.backend.get("maxmem"),
            self.backend.get("memory"),
            self.instance_extra.get("maxmem"),
            self.instance_extra.get("memory"),
        ):
            number = _int_or_none(value)
            if number is not None:
                return number
        return None

    @property
    def minmem(self) -> int | None:
        """Minimum memory in MiB (``[backend] minmem``), else :attr:`maxmem`."""
        number = _int_or_none(self.backend.get("minmem") or self.instance_extra.get("minmem"))
        return number if number is not None else self.maxmem


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
