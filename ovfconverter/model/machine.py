"""The neutral machine model: one description of a virtual machine that every
source system is read into and every target system is written from (the hub).

An OVF envelope, a Ganeti ``config.ini``, a libvirt domain, an ``xl.cfg`` or a
set of Glance images are each one system's *native* form of a virtual
machine; readers turn a native form into a :class:`Machine`, writers turn a
:class:`Machine` into a native form.  A new target is one writer.

What only one system understands is kept per system (:class:`GanetiSettings`,
:class:`VMwareSettings`, :class:`VirtualBoxSettings`), typed, so that a round
trip through that system loses nothing.

Units: every size is in **bytes** (capacities, memory); conversion to MiB or
GiB happens only where a native format wants it.  Everything here is frozen
data; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def frozen_map(values: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy of ``values`` (for the mapping fields below)."""
    return MappingProxyType(dict(values or {}))


class Firmware(enum.Enum):
    """What the VM boots with: PC BIOS (SeaBIOS) or UEFI (OVMF)."""

    BIOS = "bios"
    EFI = "efi"


class Chipset(enum.Enum):
    """The emulated PC chipset (QEMU/libvirt machine type family)."""

    I440FX = "i440fx"  # QEMU "pc", VMware and VirtualBox default
    Q35 = "q35"


class Architecture(enum.Enum):
    """Guest CPU architecture, spelled as libvirt and Glance spell it."""

    X86_64 = "x86_64"
    I686 = "i686"
    AARCH64 = "aarch64"


class OsFamily(enum.Enum):
    """Broad guest OS family: decides which drivers a guest can be assumed
    to carry (virtio on modern Linux, not on Windows)."""

    LINUX = "linux"
    WINDOWS = "windows"
    BSD = "bsd"
    SOLARIS = "solaris"
    OTHER = "other"


class Bus(enum.Enum):
    """The kind of controller a disk or drive hangs on."""

    IDE = "ide"
    SATA = "sata"
    SCSI = "scsi"
    VIRTIO = "virtio"  # virtio-blk: no separate controller
    NVME = "nvme"
    FLOPPY = "fdc"
    USB = "usb"


class ControllerModel(enum.Enum):
    """The model of a storage controller, where its bus has several.

    Values are neutral names; each system's spelling (OVF
    ``rasd:ResourceSubType``, libvirt ``model=``, Ganeti
    ``scsi_controller_type``) is a mapping table of its own.
    """

    PIIX3 = "piix3"
    PIIX4 = "piix4"
    AHCI = "ahci"
    LSILOGIC = "lsilogic"  # LSI 53C1030 / 53C895A parallel SCSI
    LSISAS1068 = "lsisas1068"  # LSI Logic SAS
    BUSLOGIC = "buslogic"
    PVSCSI = "pvscsi"  # VMware paravirtual SCSI
    VIRTIO_SCSI = "virtio-scsi"
    MEGASAS = "megasas"


class NicModel(enum.Enum):
    """The emulated network adapter model (neutral names)."""

    E1000 = "e1000"
    E1000E = "e1000e"
    VMXNET3 = "vmxnet3"
    VMXNET2 = "vmxnet2"
    PCNET32 = "pcnet32"  # AMD PCnet (VirtualBox "PCNet", OVF "PCNet32")
    RTL8139 = "rtl8139"
    NE2K_PCI = "ne2k_pci"
    VIRTIO = "virtio"


class DriveKind(enum.Enum):
    """A removable drive (DSP0243 uses CIM ``ResourceType`` 15 CD drive,
    16 DVD drive, 14 floppy drive)."""

    CDROM = "cdrom"
    DVD = "dvd"
    FLOPPY = "floppy"

    @property
    def optical(self) -> bool:
        """A CD or DVD drive (the targets give both a CD-ROM device)."""
        return self is not DriveKind.FLOPPY


@dataclass(frozen=True)
class GuestOS:
    """What is installed in the VM, as far as the source says.

    :ivar cim_id: ``CIM_OperatingSystem.OsType`` number (DSP0243
        OperatingSystemSection ``ovf:id``; 1 = Other), or ``None``.
    :ivar description: free text, e.g. ``"Debian GNU/Linux 12 (64-bit)"``.
    :ivar family: :class:`OsFamily`, ``None`` when unknown.
    :ivar distribution: lower-case distribution name as libosinfo and Glance's
        ``os_distro`` spell it (``debian``, ``ubuntu``, ``rhel``, ``centos``,
        ``fedora``, ``sles``, ``opensuse``, ``windows``, ``freebsd``...).
    :ivar version: the distribution's version (``"12"``, ``"22.04"``,
        ``"2019"``), or ``None``.
    :ivar architecture: :class:`Architecture`, ``None`` when unknown.
    :ivar vmware_os_type: VMware's guest id (``vmw:osType``, e.g.
        ``debian11_64Guest``), kept for VMware targets.
    :ivar virtualbox_os_type: VirtualBox's OS type (``Debian_64``).
    """

    cim_id: int | None = None
    description: str | None = None
    family: OsFamily | None = None
    distribution: str | None = None
    version: str | None = None
    architecture: Architecture | None = None
    vmware_os_type: str | None = None
    virtualbox_os_type: str | None = None


@dataclass(frozen=True)
class Cpus:
    """Virtual CPUs: ``count`` and, when the source states them, the
    topology (``sockets * cores * threads == count`` when all three are
    given)."""

    count: int
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None


@dataclass(frozen=True)
class Memory:
    """Memory in **bytes**.

    :ivar size: what the VM is given (Ganeti's ``maxmem``).
    :ivar minimum: the least it may be ballooned down to (Ganeti's
        ``minmem``), ``None`` when the same as ``size`` or unknown.
    """

    size: int
    minimum: int | None = None


@dataclass(frozen=True)
class Controller:
    """A storage controller.

    :ivar bus: :class:`Bus`.
    :ivar model: :class:`ControllerModel`, ``None`` for the bus's default
        (or unknown).
    :ivar index: the controller's number among those of its bus (0, 1...).
    :ivar source_subtype: the source's own spelling of the model
        (``lsilogicsas``, ``VirtualSCSI``...), kept for messages and round
        trips.
    """

    bus: Bus
    model: ControllerModel | None = None
    index: int = 0
    source_subtype: str | None = None


@dataclass(frozen=True)
class ImageRef:
    """A disk image the source can provide the bytes of.

    :ivar key: the source's own handle: the References/File ``ovf:id`` of an
        OVF package, the dump file name of a Ganeti export.  Only the source
        reader that produced the machine resolves it.
    :ivar name: a file name for messages (``ovf:href``, the dump's name).
    :ivar format: the declared image format (``vmdk``, ``qcow2``, ``raw``,
        ``vhd``, ``vdi``...), ``None`` when the source does not say.
    :ivar stored_size: bytes of the stored file (compressed when
        compressed), ``None`` when unknown.
    """

    key: str
    name: str
    format: str | None = None
    stored_size: int | None = None


@dataclass(frozen=True)
class Disk:
    """A hard disk, in boot order within :attr:`Machine.disks`.

    :ivar capacity: virtual size in **bytes**, ``None`` when only the image
        can tell (then the image's virtual size is used).
    :ivar image: where its contents come from; ``None`` for a blank disk.
    :ivar controller: index into :attr:`Machine.controllers`, ``None`` when
        the source does not say (a Ganeti instance, an Item without Parent).
    :ivar bus: the bus it hangs on, ``None`` when unknown (see
        :func:`Machine.disk_bus`).
    :ivar unit: its address on the controller (``AddressOnParent``, SCSI
        id, IDE 0-3), ``None`` when unstated.
    :ivar name: the disk's own name where the system names disks (Ganeti's
        ``diskN_name``), ``None`` otherwise.
    :ivar source_id: the source's id for it (``ovf:diskId``; ``None`` for an
        OVF Item that names a File directly).
    :ivar label: how messages name it (``Disk 'vmdisk1'``, ``disk0``).
    """

    capacity: int | None = None
    image: ImageRef | None = None
    controller: int | None = None
    bus: Bus | None = None
    unit: int | None = None
    name: str | None = None
    source_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class RemovableDrive:
    """A CD/DVD or floppy drive, with its image when it holds one."""

    kind: DriveKind
    image: ImageRef | None = None
    controller: int | None = None
    bus: Bus | None = None
    unit: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class GanetiNicSettings:
    """How a NIC attaches in Ganeti, as ``config.ini`` writes it
    (``nicN_mode`` ...); ``None`` fields are unknown / cluster default.

    :ivar mac: ``nicN_mac`` as given (``auto`` and ``generate`` included),
        not yet checked: a Ganeti source's value wins over :attr:`Nic.mac`
        on a Ganeti target.
    """

    mac: str | None = None
    mode: str | None = None
    link: str | None = None
    ip: str | None = None
    network: str | None = None
    name: str | None = None
    vlan: str | None = None


@dataclass(frozen=True)
class Nic:
    """A network adapter.

    :ivar mac: six colon-separated lower-case octets, ``None`` when the
        source has none (the target generates one).
    :ivar model: :class:`NicModel`, ``None`` when unknown.
    :ivar network: the network it connects to, in the source's words (OVF
        ``rasd:Connection``, libvirt network or bridge name), ``None``.
    :ivar ganeti: Ganeti's attachment, when known (from a Ganeti source or
        the OVF Ganeti section).
    :ivar source_subtype: the source's own model spelling (``VmxNet3``).
    :ivar label: ``ElementName`` or similar, for messages.
    """

    mac: str | None = None
    model: NicModel | None = None
    network: str | None = None
    ganeti: GanetiNicSettings | None = None
    source_subtype: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Property:
    """A ProductSection ``Property`` (DSP0243 section 9.5.1).

    :ivar key: ``ovf:key``, unique within its product (and class/instance).
    :ivar type: CIM type name (``string``, ``boolean``, ``uint16``...).
    :ivar value: the default ``ovf:value``, ``None`` when absent.
    :ivar qualifiers: ``ovf:qualifiers`` as written (``MinLen(1)``,
        ``ValueMap{"a","b"}``...).
    :ivar user_configurable: ``ovf:userConfigurable``.
    :ivar password: ``ovf:password``: the value is a secret.
    :ivar category: the ``Category`` heading it comes under (DSP0243
        section 9.5.1: how a deployment form groups the properties),
        ``None`` before any.
    """

    key: str
    type: str | None = None
    value: str | None = None
    qualifiers: str | None = None
    user_configurable: bool = False
    password: bool = False
    label: str | None = None
    description: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Product:
    """A ProductSection (DSP0243 section 9.5): what the appliance is, and
    its properties.

    :ivar app_url: ``AppUrl``: where the running appliance's own user
        interface is, ``None`` when not stated.
    """

    product: str | None = None
    vendor: str | None = None
    version: str | None = None
    full_version: str | None = None
    product_url: str | None = None
    vendor_url: str | None = None
    app_url: str | None = None
    class_id: str | None = None
    instance_id: str | None = None
    properties: tuple[Property, ...] = ()


@dataclass(frozen=True)
class GanetiDiskSettings:
    """A disk as Ganeti names it: ``diskN_ivname`` and ``diskN_name``, as
    given (``None``: unknown)."""

    ivname: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class GanetiSettings:
    """What only Ganeti understands, kept for lossless Ganeti round trips.

    Parameter names and values are Ganeti's, as strings (Ganeti's own
    spelling), as the source gave them: a Ganeti target validates them;
    memory values in ``backend_parameters`` are MiB as in ``config.ini``.

    :ivar disks: per disk position (disk 0, 1...), the names Ganeti gave
        the disks; positions, not :attr:`Machine.disks` entries, because a
        Ganeti target applies them to the disks it ends up with.
    :ivar version: ``[export] version`` / ``gnt:Version``.
    """

    os_name: str | None = None
    os_parameters: Mapping[str, str] = field(default_factory=frozen_map)
    os_private: Mapping[str, str] = field(default_factory=frozen_map)
    hypervisor: str | None = None
    hypervisor_parameters: Mapping[str, str] = field(default_factory=frozen_map)
    backend_parameters: Mapping[str, str] = field(default_factory=frozen_map)
    disk_template: str | None = None
    tags: tuple[str, ...] = ()
    version: str | None = None
    disks: tuple[GanetiDiskSettings, ...] = ()


@dataclass(frozen=True)
class VMwareSettings:
    """What only VMware products understand.

    :ivar virtual_system_types: ``vssd:VirtualSystemType`` words
        (``vmx-07``).
    :ivar extra_config: ``vmw:Config`` then ``vmw:ExtraConfig`` key/value
        pairs in order (``firmware``, ``uefi.secureBoot.enabled``...).
    """

    virtual_system_types: tuple[str, ...] = ()
    extra_config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VirtualBoxSettings:
    """What VirtualBox's own ``vbox:Machine`` section says beyond plain OVF.

    :ivar uuid: the machine's UUID, without braces.
    :ivar boot_order: device kinds in boot order (``HardDisk``, ``DVD``,
        ``Network``, ``Floppy``).
    """

    uuid: str | None = None
    boot_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Needs:
    """What a target needs a machine's source to state, so that the source
    refuses in its own words (``[backend] vcpus``, an OVF Item...), every
    problem at once, before anything is written.

    :ivar name: a valid name (false when the target is given one).
    :ivar cpus: a CPU count.
    :ivar memory: a memory size.
    :ivar ganeti_identity: the Ganeti OS, and a hypervisor Ganeti knows
        when one is named (the target writes them: an OVF Ganeti section).
    """

    name: bool = False
    cpus: bool = False
    memory: bool = False
    ganeti_identity: bool = False


@dataclass(frozen=True)
class Machine:
    """One virtual machine, independent of any system.

    :ivar name: the VM's name (Ganeti instance name, OVF ``Name``...).
    :ivar firmware: :class:`Firmware`; ``None`` when the source does not
        say (targets then use BIOS).
    :ivar secure_boot: UEFI secure boot on; only meaningful with EFI.
    :ivar memory: :class:`Memory` (bytes), ``None`` when the source does not
        say.
    :ivar disks: hard disks in boot order (the first is the boot disk).
    :ivar controllers: storage controllers that :attr:`Disk.controller`
        and :attr:`RemovableDrive.controller` index.
    :ivar products: ProductSections in document order.
    :ivar environment_transports: ``ovf:transport`` words: how the deployer
        hands the guest its OVF environment document, the properties'
        values (DSP0243 section 11.1: ``iso``; VMware's
        ``com.vmware.guestInfo``); empty: the guest gets none.
    :ivar eulas: EulaSection license texts in document order.
    """

    name: str | None = None
    description: str | None = None
    os: GuestOS = field(default_factory=GuestOS)
    firmware: Firmware | None = None
    secure_boot: bool = False
    chipset: Chipset | None = None
    cpus: Cpus | None = None
    memory: Memory | None = None
    controllers: tuple[Controller, ...] = ()
    disks: tuple[Disk, ...] = ()
    removable: tuple[RemovableDrive, ...] = ()
    nics: tuple[Nic, ...] = ()
    products: tuple[Product, ...] = ()
    environment_transports: tuple[str, ...] = ()
    eulas: tuple[str, ...] = ()
    ganeti: GanetiSettings | None = None
    vmware: VMwareSettings | None = None
    virtualbox: VirtualBoxSettings | None = None

    def disk_bus(self, disk: Disk | RemovableDrive) -> Bus | None:
        """The bus ``disk`` hangs on: its own :attr:`Disk.bus`, else its
        controller's, else ``None`` (unknown)."""
        if disk.bus is not None:
            return disk.bus
        if disk.controller is not None and 0 <= disk.controller < len(self.controllers):
            return self.controllers[disk.controller].bus
        return None

    def disk_controller(self, disk: Disk | RemovableDrive) -> Controller | None:
        """The :class:`Controller` ``disk`` hangs on, ``None`` when unknown."""
        if disk.controller is not None and 0 <= disk.controller < len(self.controllers):
            return self.controllers[disk.controller]
        return None
