"""OpenStack's native form of a virtual machine: Glance image records.

An OpenStack cloud does not import a virtual machine; it imports disk images
into its Image service (Glance) and boots servers (Nova) from them.  What
makes a converted VM boot there is each image's *fields*: the core
attributes of Glance's image schema and the additional properties Nova's
libvirt driver reads.  This module holds them as typed data, spelled as
Glance and Nova spell them, with the allowed values as enums.

Sources (facts, names and values only):

* core attributes: Glance image API v2 schema (``GET /v2/schemas/image``;
  ``glance/api/v2/images.py`` ``get_base_properties``): ``name`` (at most
  255 characters), ``disk_format`` and ``container_format`` (the defaults of
  ``[image_format] disk_formats`` / ``container_formats``), ``min_disk``
  ("disk space (in GB) required to boot", Nova flavors count GiB),
  ``min_ram`` ("ram (in MB)", MiB as Nova flavors), ``checksum`` (MD5 hex),
  ``os_hash_algo`` / ``os_hash_value`` (Glance's ``hashing_algorithm``,
  SHA-512 by default), ``status``;
* additional properties: Glance's metadata definitions
  ``etc/metadefs/compute-libvirt-image.json`` (namespace
  ``OS::Compute::LibvirtImage``: ``hw_disk_bus``, ``hw_firmware_type``,
  ``hw_machine_type``, ``hw_scsi_model``, ``hw_vif_model``,
  ``hw_qemu_guest_agent``, ``os_type``), ``operating-system.json``
  (``OS::OperatingSystem``: ``os_distro``, ``os_version``),
  ``glance-common-image-props.json`` (``architecture``), and Nova's
  ``nova/objects/fields.py`` enums that check them when a server boots
  (``DiskBus``, ``SCSIModel``, ``VIFModel``, ``FirmwareType``, ``OSType``,
  ``SecureBoot``); the value lists of Glance's admin guide "Useful image
  properties".

Pure data, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Glance's default ``hashing_algorithm``: what ``os_hash_value`` is.
HASH_ALGORITHM = "sha512"
#: ``name`` and every property value: Glance's schema allows 255 characters.
MAX_NAME = 255


class DiskFormat(enum.Enum):
    """``disk_format``: Glance's default ``[image_format] disk_formats``."""

    RAW = "raw"
    QCOW2 = "qcow2"
    VMDK = "vmdk"
    VHD = "vhd"
    VHDX = "vhdx"
    VDI = "vdi"
    ISO = "iso"
    PLOOP = "ploop"
    AMI = "ami"
    ARI = "ari"
    AKI = "aki"


class ContainerFormat(enum.Enum):
    """``container_format``: Glance's default ``container_formats``.

    ``bare`` is the only one Nova boots; Glance inspects uploads only for
    ``bare`` (content must match ``disk_format``); ``ova`` is unpacked
    (single-disk OVAs only) by Glance's task-based import alone.
    """

    BARE = "bare"
    OVF = "ovf"
    OVA = "ova"
    DOCKER = "docker"
    COMPRESSED = "compressed"
    AMI = "ami"
    ARI = "ari"
    AKI = "aki"


class ImageStatus(enum.Enum):
    """``status`` of an image (Glance's schema enum)."""

    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    KILLED = "killed"
    DELETED = "deleted"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    PENDING_DELETE = "pending_delete"
    DEACTIVATED = "deactivated"


class HwDiskBus(enum.Enum):
    """``hw_disk_bus``: Nova ``DiskBus`` (the metadef enum)."""

    SCSI = "scsi"
    VIRTIO = "virtio"
    IDE = "ide"
    SATA = "sata"
    USB = "usb"
    FDC = "fdc"
    XEN = "xen"
    UML = "uml"
    LXC = "lxc"


class HwScsiModel(enum.Enum):
    """``hw_scsi_model``: Nova ``SCSIModel``; the libvirt driver passes it as
    the SCSI controller's libvirt ``model``."""

    VIRTIO_SCSI = "virtio-scsi"
    LSILOGIC = "lsilogic"
    LSISAS1068 = "lsisas1068"
    LSISAS1078 = "lsisas1078"
    BUSLOGIC = "buslogic"
    VMPVSCSI = "vmpvscsi"
    IBMVSCSI = "ibmvscsi"


class HwVifModel(enum.Enum):
    """``hw_vif_model``: the metadef enum (Nova ``VIFModel``); KVM/QEMU take
    all but ``netfront``."""

    VIRTIO = "virtio"
    E1000 = "e1000"
    E1000E = "e1000e"
    NE2K_PCI = "ne2k_pci"
    PCNET = "pcnet"
    RTL8139 = "rtl8139"
    VMXNET3 = "vmxnet3"
    IGB = "igb"
    SPAPR_VLAN = "spapr-vlan"
    NETFRONT = "netfront"


class HwFirmwareType(enum.Enum):
    """``hw_firmware_type``: Nova ``FirmwareType``."""

    BIOS = "bios"
    UEFI = "uefi"


class OsType(enum.Enum):
    """``os_type``: Nova ``OSType`` (the libvirt driver's only two)."""

    LINUX = "linux"
    WINDOWS = "windows"


class OsSecureBoot(enum.Enum):
    """``os_secure_boot``: Nova ``SecureBoot``."""

    REQUIRED = "required"
    DISABLED = "disabled"
    OPTIONAL = "optional"


class ImageRole(enum.Enum):
    """What an image of a converted machine is for: the disk a server boots
    from, or a further disk to create a volume from and attach."""

    BOOT = "boot"
    VOLUME = "volume"


@dataclass(frozen=True)
class ImageData:
    """The bytes of an image file, as Glance will report them once uploaded.

    :ivar file: the file's name, relative to the JSON file describing it.
    :ivar size: file size in **bytes** (Glance's ``size``).
    :ivar virtual_size: disk size in **bytes** (Glance's ``virtual_size``).
    :ivar checksum: MD5 of the file, lower-case hex (Glance's ``checksum``).
    :ivar os_hash_algo: the algorithm of ``os_hash_value`` (``sha512``).
    :ivar os_hash_value: lower-case hex digest of the file.
    """

    file: str
    size: int
    virtual_size: int
    checksum: str
    os_hash_value: str
    os_hash_algo: str = HASH_ALGORITHM


def _frozen(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class GlanceImage:
    """One image record: the fields of Glance's create-image request.

    Sizes in the units Glance uses: ``min_disk`` in **GiB**, ``min_ram`` in
    **MiB**.  ``None`` means "not set" (Nova's default applies).

    :ivar role: :class:`ImageRole` (not a Glance field).
    :ivar disk_index: the disk's position in the machine (0 = boot disk).
    :ivar extra_properties: further additional properties, Glance-spelled.
    :ivar data: the image file, once written.
    """

    name: str
    disk_format: DiskFormat
    container_format: ContainerFormat = ContainerFormat.BARE
    min_disk: int = 0
    min_ram: int = 0
    architecture: str | None = None
    os_type: OsType | None = None
    os_distro: str | None = None
    os_version: str | None = None
    hw_firmware_type: HwFirmwareType | None = None
    os_secure_boot: OsSecureBoot | None = None
    hw_machine_type: str | None = None
    hw_disk_bus: HwDiskBus | None = None
    hw_scsi_model: HwScsiModel | None = None
    hw_vif_model: HwVifModel | None = None
    hw_qemu_guest_agent: bool | None = None
    role: ImageRole = ImageRole.BOOT
    disk_index: int = 0
    extra_properties: Mapping[str, str] = field(default_factory=_frozen)
    data: ImageData | None = None

    def properties(self) -> dict[str, str]:
        """The additional properties set, as Glance stores them (strings;
        ``hw_qemu_guest_agent`` as ``yes``/``no``, the metadef's enum)."""
        values: dict[str, str | None] = {
            "architecture": self.architecture,
            "os_type": self.os_type.value if self.os_type else None,
            "os_distro": self.os_distro,
            "os_version": self.os_version,
            "hw_firmware_type": self.hw_firmware_type.value if self.hw_firmware_type else None,
            "os_secure_boot": self.os_secure_boot.value if self.os_secure_boot else None,
            "hw_machine_type": self.hw_machine_type,
            "hw_disk_bus": self.hw_disk_bus.value if self.hw_disk_bus else None,
            "hw_scsi_model": self.hw_scsi_model.value if self.hw_scsi_model else None,
            "hw_vif_model": self.hw_vif_model.value if self.hw_vif_model else None,
            "hw_qemu_guest_agent": None
            if self.hw_qemu_guest_agent is None
            else ("yes" if self.hw_qemu_guest_agent else "no"),
        }
        result = {key: value for key, value in values.items() if value is not None}
        result.update(self.extra_properties)
        return result

    def create_fields(self) -> dict[str, str | int]:
        """The JSON body of ``POST /v2/images`` for this image: core
        attributes plus additional properties (``glance image-create``
        takes the same names)."""
        body: dict[str, str | int] = {
            "name": self.name,
            "disk_format": self.disk_format.value,
            "container_format": self.container_format.value,
            "min_disk": self.min_disk,
            "min_ram": self.min_ram,
        }
        body.update(self.properties())
        return body
