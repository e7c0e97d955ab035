"""What ``info`` and ``verify`` report, as plain data with a stable JSON form.

The JSON shape (``to_json``) is documented in ``doc/info-json.rst``; fields
are only ever added, never renamed or removed, within a major version.
Sizes are bytes, memory is MiB (``memory_mib``), as the field names say.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from ovfconverter.model.ganeti import GanetiSection
from ovfconverter.model.machine import Machine

JSON_FORMAT_VERSION = 1
"""Bumped only when a field changes meaning or disappears."""


@dataclass
class DiskInfo:
    """A DiskSection Disk.

    :ivar file: the href of its image, ``None`` for a blank disk.
    :ivar image_format: what the image's bytes are (``vmdk``, ``qcow2``,
        ``raw``...), ``None`` when not read (blank, missing).
    :ivar image_subformat: VMDK createType, VHD/VDI type...
    :ivar capacity: ``ovf:capacity`` in bytes.
    :ivar image_virtual_size: the size the image header claims, in bytes.
    :ivar file_size: the stored file's size in bytes (all chunks).
    :ivar problems: what an import would refuse about the image.
    """

    disk_id: str
    file: str | None
    format_uri: str | None
    capacity: int | None
    populated_size: int | None
    compression: str | None = None
    file_size: int | None = None
    image_format: str | None = None
    image_subformat: str | None = None
    image_virtual_size: int | None = None
    blank: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class FileInfo:
    """A References/File (or a file only the manifest lists).

    :ivar present: the package holds it.
    :ivar size: its stored size in bytes, ``None`` when absent.
    :ivar declared_size: ``ovf:size`` in bytes.
    :ivar manifest: ``"listed"``, ``"unlisted"`` or ``"no manifest"``; for
        a file only the manifest names, ``"listed"`` with ``id`` ``None``.
    :ivar role: ``disk``, ``removable`` (CD/DVD/floppy image), ``other``.
    """

    href: str
    id: str | None
    present: bool
    size: int | None
    declared_size: int | None
    manifest: str
    algorithm: str | None = None
    role: str = "other"


@dataclass
class DeviceInfo:
    """A removable drive or another device that is not imported.

    :ivar type: the CIM ``ResourceType`` name (``CD_DRIVE``, ``SOUND_CARD``).
    """

    label: str
    type: str
    file: str | None = None


@dataclass
class NicInfo:
    """An Ethernet adapter: MAC (``None`` when the package has none, or
    none that is a MAC), network (``rasd:Connection``), model
    (``ResourceSubType`` as written), and where the MAC comes from
    (``Item``, ``vbox:Machine``; ``None`` without).

    ``mac_source`` is a package fact, not the machine's: which part of
    the descriptor stated the MAC says nothing about the machine itself.
    """

    mac: str | None
    network: str | None
    model: str | None
    mac_source: str | None = None


@dataclass
class VirtualBoxInfo:
    """VirtualBox's ``vbox:Machine`` section, in VirtualBox's words."""

    uuid: str | None
    name: str | None
    os_type: str | None
    firmware: str | None
    boot_order: list[str]
    storage_controllers: list[dict[str, str | None]]


@dataclass
class ProfileHardwareInfo:
    """What an import of one VirtualSystem creates under one deployment
    profile.

    :ivar memory_mib: memory in MiB (rounded up), ``None`` when unstated.
    :ivar disks: DiskSection ids (``file:ID`` for a File used directly), in
        import order; a blank Disk attached by several Items appears once
        per Item.
    :ivar disk_bytes: the sum of the disks' capacities in bytes, ``None``
        when one is unknown.
    :ivar nics: each NIC's network (``rasd:Connection``), ``None`` when
        unconnected.
    """

    profile: str
    cpus: int | None
    memory_mib: int | None
    disks: list[str]
    disk_bytes: int | None
    nics: list[str | None]


@dataclass
class PropertyInfo:
    """A ProductSection Property.

    :ivar key: the full key (``class.key.instance``): what an OVF
        environment, ``--property`` and the OS parameters use.
    :ivar ovf_key: ``ovf:key`` as written.
    :ivar default: ``ovf:value``, ``None`` when absent.
    :ivar profile_defaults: profile -> the default under it (``Value``
        elements).
    :ivar os_parameter: the Ganeti OS parameter an import puts it in.

    ``ovf_key``, ``default`` and ``profile_defaults`` are package facts:
    the key as written and the values under every profile, where the
    machine holds the selected profile's value only.
    """

    key: str
    ovf_key: str
    type: str | None
    default: str | None
    qualifiers: str | None
    user_configurable: bool
    password: bool
    label: str | None
    description: str | None
    category: str | None
    profile_defaults: dict[str, str]
    os_parameter: str


@dataclass
class ProductInfo:
    """A ProductSection: what the software is and its properties."""

    class_id: str | None
    instance_id: str | None
    product: str | None
    vendor: str | None
    version: str | None
    full_version: str | None
    product_url: str | None
    vendor_url: str | None
    app_url: str | None
    properties: list[PropertyInfo]


@dataclass
class SystemInfo:
    """A VirtualSystem under one deployment profile.

    The machine's part comes from :attr:`machine`, the
    :class:`~ovfconverter.model.machine.Machine` the OVF reader gives (as
    for every source); ``id``, ``name`` (as written, ``None`` without a
    Name), ``collection``, ``system_types`` (``vssd:VirtualSystemType``:
    OVF's own names of a hardware family, the VMware ones kept in the
    machine's VMware settings) and ``other_devices`` (Items no conversion
    creates, so no machine holds them) are package facts, read from the
    descriptor.

    :ivar memory_mib: memory in MiB (rounded up), ``None`` when unstated.
    :ivar disks: DiskSection ids (or ``file:ID`` for a File used directly),
        in import order.
    :ivar profiles: for each deployment profile, what an import would
        create (empty without a DeploymentOptionSection).
    :ivar products: its ProductSections (with those of the collections
        containing it first).
    :ivar eulas: the license texts an import asks to accept.
    :ivar machine: the machine the system describes under ``profile``
        (sizes in bytes).
    """

    id: str
    name: str | None
    collection: list[str]
    profile: str | None
    os_id: int | None
    os_description: str | None
    os_vmware_type: str | None
    system_types: list[str]
    cpus: int | None
    memory_mib: int | None
    disks: list[str]
    nics: list[NicInfo]
    removable: list[DeviceInfo]
    other_devices: list[DeviceInfo]
    profiles: list[ProfileHardwareInfo] = field(default_factory=list)
    products: list[ProductInfo] = field(default_factory=list)
    eulas: list[str] = field(default_factory=list)
    virtualbox: VirtualBoxInfo | None = None
    machine: Machine = field(default_factory=Machine)


@dataclass
class ProfileInfo:
    """A DeploymentOptionSection Configuration."""

    id: str
    label: str | None
    description: str | None
    default: bool


@dataclass
class CertificateInfo:
    """The ``.cert`` file: signer, whether its signature of the manifest
    verifies (``None``: not checked, as by ``info``) and, with a trust store
    (``verify --ca``), whether its chain leads to a trusted certificate.

    :ivar trusted: ``None`` when no trust store was given.
    :ivar chain: the validated chain's subjects, signer first, trust anchor
        last; empty unless ``trusted``.
    """

    file: str
    subject: str | None = None
    issuer: str | None = None
    self_signed: bool | None = None
    signature_valid: bool | None = None
    current: bool | None = None
    problem: str | None = None
    trusted: bool | None = None
    chain: list[str] = field(default_factory=list)


@dataclass
class PackageInfo:
    """Everything ``info`` shows about a package.

    :ivar kind: ``"ova"`` or ``"folder"``.
    :ivar warnings: blank disks, missing files, unknown required sections,
        broken references, non-conformities.
    """

    path: str
    kind: str
    descriptor: str
    manifest: str | None
    manifest_algorithms: list[str]
    certificate: CertificateInfo | None
    ovf_version: str
    profiles: list[ProfileInfo]
    networks: list[dict[str, str | None]]
    systems: list[SystemInfo]
    disks: list[DiskInfo]
    files: list[FileInfo]
    ganeti: GanetiSection | None
    ignored_sections: list[str]
    warnings: list[str] = field(default_factory=list)
    producer: str | None = None


@dataclass
class FileVerdict:
    """``verify``'s verdict on one file: ``status`` is ``ok``,
    ``mismatch``, ``missing`` (listed, absent) or ``unlisted``."""

    name: str
    status: str
    algorithm: str | None = None
    expected: str | None = None
    actual: str | None = None


@dataclass
class VerifyReport:
    """What ``verify`` found.  ``ok`` is true only when there is a
    manifest, every file it lists is present and matches, every file the
    descriptor references is listed, any certificate's signature verifies,
    and, when a schema check was asked for, the descriptor conforms.

    :ivar schema: what the descriptor was checked against (``None``: not
        asked).
    :ivar schema_violations: each violation, ``line N: message``.
    :ivar warnings: non-conformities of the package (a gzip-compressed OVA,
        the descriptor not first); they do not make ``ok`` false.
    """

    path: str
    manifest: str | None
    files: list[FileVerdict]
    certificate: CertificateInfo | None
    ok: bool
    problems: list[str] = field(default_factory=list)
    schema: str | None = None
    schema_violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plain(value: Any) -> Any:
    """``value`` as JSON data: dataclasses as objects (fields in order),
    enums as their value, mappings as objects, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def to_json(report: PackageInfo | VerifyReport) -> dict[str, Any]:
    """The report as JSON data (lists, dicts, strings, numbers, booleans,
    ``None``: what ``json.loads`` gives back), with a ``format_version``
    field; each system's ``machine`` in the shape of
    :func:`~ovfconverter.info.machine.machine_json`."""
    data = plain(report)
    data["format_version"] = JSON_FORMAT_VERSION
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result
