"""Publishing profiles: the rules an OVF or OVA follows so that VirtualBox,
VMware, or both, import it first time (``--for virtualbox|vmware|generic``).

Each :class:`PublishingProfile` says which disk formats, OVF versions and
manifest digests the product imports, which ``vssd:VirtualSystemType`` to
write, which device-policy target (:class:`~ovfconverter.hub.devices.TargetKind`)
chooses its controllers and NICs, and how a cloud-init seed reaches the
guest.  The facts and what each rule prevents are in ``doc/publishing.rst``
(VirtualBox's ``ApplianceImplImport.cpp`` and ``ovfreader.cpp``, VMware's
documentation and ovftool's own descriptors).

:func:`place_devices` turns a :class:`~ovfconverter.hub.devices.DevicePlan`
into controllers, units and NIC models on the machine, so that the OVF
writer (:func:`~ovfconverter.hub.ovf.envelope_from_machine`) describes
exactly what the plan chose.  :func:`attach_seed` adds the seed's drive or
disk.  Pure: imports only ``model`` and the device policy.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from ovfconverter.hub.devices import IDE, SATA, DevicePlan, Storage, TargetKind
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    Disk,
    DriveKind,
    ImageRef,
    Machine,
    RemovableDrive,
)


class Product(enum.Enum):
    """What an OVF package is published for (``--for``)."""

    VIRTUALBOX = "virtualbox"
    VMWARE = "vmware"
    GENERIC = "generic"

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class SeedAttachment(enum.Enum):
    """How a cloud-init seed volume reaches the guest.

    * ``CDROM_DISK``: a CD-ROM whose ``rasd:HostResource`` is
      ``ovf:/disk/ID``, the ISO a DiskSection Disk (ECMA-119 format): the
      only CD image VirtualBox reads;
    * ``CDROM_FILE``: a CD-ROM whose HostResource is ``ovf:/file/ID``, no
      Disk: VMware's own form;
    * ``HARD_DISK``: one more hard disk whose contents are the volume:
      what every importer takes (cloud-init finds the label on any disk).
    """

    CDROM_DISK = "cdrom-disk"
    CDROM_FILE = "cdrom-file"
    HARD_DISK = "hard-disk"


@dataclass(frozen=True)
class PublishingProfile:
    """The rules of one product (see ``doc/publishing.rst``).

    :ivar label: the product's name, for messages.
    :ivar devices: the device-policy target choosing controllers and NICs.
    :ivar formats: disk formats it imports (ovfconverter's names).
    :ivar vmdk_subformats: VMDK variants it imports from an OVA.
    :ivar ovf_versions: OVF versions it imports.
    :ivar digests: manifest algorithms it checks.
    :ivar system_types: the ``vssd:VirtualSystemType`` written unless one
        is given.
    :ivar seed: how a cloud-init seed is attached.
    :ivar environment: the product hands the guest an OVF environment
        document (``ovf:transport`` is kept); VirtualBox hands none.
    :ivar reasons: per rule (``format``, ``vmdk_subformat``,
        ``ovf_version``, ``digest``), why, for messages.
    """

    product: Product
    label: str
    devices: TargetKind
    formats: frozenset[str]
    vmdk_subformats: frozenset[str]
    ovf_versions: frozenset[str]
    digests: frozenset[str]
    system_types: tuple[str, ...]
    seed: SeedAttachment
    environment: bool
    reasons: Mapping[str, str]


VMX_DEFAULT = "vmx-14"
"""Virtual hardware 14: ESXi 6.7 and later, Workstation 14 and later,
Fusion 10 and later (VMware's "Virtual machine hardware versions")."""

_VMDK_ONLY = "VirtualBox imports only VMDK disks from an OVF (and ISO images on CD-ROMs)"
_STREAM = "an OVA's disks are read as a stream, which only streamOptimized VMDKs allow"
_OVF_1 = "VMware's desktop products refuse OVF 2.0"

PROFILES: Mapping[Product, PublishingProfile] = MappingProxyType(
    {
        Product.VIRTUALBOX: PublishingProfile(
            product=Product.VIRTUALBOX,
            label="VirtualBox",
            devices=TargetKind.VIRTUALBOX,
            formats=frozenset({"vmdk"}),
            vmdk_subformats=frozenset({"streamOptimized"}),
            ovf_versions=frozenset({"1.0"}),
            digests=frozenset({"sha256", "sha1"}),
            system_types=("virtualbox-2.2",),
            seed=SeedAttachment.CDROM_DISK,
            environment=False,
            reasons=MappingProxyType(
                {
                    "format": _VMDK_ONLY,
                    "vmdk_subformat": _STREAM,
                    "ovf_version": "VirtualBox's own packages are OVF 1.0, the version both products import",
                    "digest": "VirtualBox checks SHA256 and SHA1 manifests",
                }
            ),
        ),
        Product.VMWARE: PublishingProfile(
            product=Product.VMWARE,
            label="VMware",
            devices=TargetKind.VMWARE,
            formats=frozenset({"vmdk"}),
            vmdk_subformats=frozenset({"streamOptimized"}),
            ovf_versions=frozenset({"1.0"}),
            digests=frozenset({"sha256", "sha1"}),
            system_types=(VMX_DEFAULT,),
            seed=SeedAttachment.CDROM_FILE,
            environment=True,
            reasons=MappingProxyType(
                {
                    "format": "VMware imports VMDK disks from an OVF",
                    "vmdk_subformat": _STREAM,
                    "ovf_version": _OVF_1,
                    "digest": "VMware checks SHA256 manifests (SHA1 for older products)",
                }
            ),
        ),
        Product.GENERIC: PublishingProfile(
            product=Product.GENERIC,
            label="VirtualBox and VMware",
            devices=TargetKind.OVF,
            formats=frozenset({"vmdk"}),
            vmdk_subformats=frozenset({"streamOptimized"}),
            ovf_versions=frozenset({"1.0"}),
            digests=frozenset({"sha256", "sha1"}),
            system_types=(VMX_DEFAULT,),
            seed=SeedAttachment.HARD_DISK,
            environment=True,  # VirtualBox ignores ovf:transport; VMware needs it
            reasons=MappingProxyType(
                {
                    "format": _VMDK_ONLY,
                    "vmdk_subformat": _STREAM,
                    "ovf_version": _OVF_1,
                    "digest": "both check SHA256 and SHA1 manifests, not SHA512",
                }
            ),
        ),
    }
)
"""Every profile, by product."""


def profile_problems(profile: PublishingProfile, choices: Mapping[str, str]) -> list[str]:
    """What in ``choices`` (``format``, ``vmdk_subformat``, ``ovf_version``,
    ``digest`` values) ``profile``'s product does not import, one message
    each, with the reason."""
    allowed = {
        "format": profile.formats,
        "vmdk_subformat": profile.vmdk_subformats,
        "ovf_version": profile.ovf_versions,
        "digest": profile.digests,
    }
    problems = []
    for rule, value in choices.items():
        if rule == "vmdk_subformat" and choices.get("format") != "vmdk":
            continue
        if value not in allowed[rule]:
            wanted = " or ".join(sorted(allowed[rule]))
            problems.append(
                f"{rule.replace('_', ' ')} {value!r} is not for {profile.label} ({wanted}: {profile.reasons[rule]})"
            )
    return problems


SEED_KEY = "cloud-init-seed"
"""The :attr:`~ovfconverter.model.machine.ImageRef.key` of a seed volume:
no source has it; the target writes it."""


def attach_seed(machine: Machine, href: str, size: int, attachment: SeedAttachment) -> Machine:
    """``machine`` with a cloud-init seed volume (``size`` bytes, stored as
    ``href``): a CD-ROM drive holding it, or one more hard disk."""
    if attachment is SeedAttachment.HARD_DISK:
        disk = Disk(
            capacity=size, image=ImageRef(SEED_KEY, href, "raw", size), bus=Bus.IDE, name="cidata", label="cidata"
        )
        return replace(machine, disks=(*machine.disks, disk))
    drive = RemovableDrive(DriveKind.CDROM, image=ImageRef(SEED_KEY, href, "iso", size), label="cloud-init seed")
    return replace(machine, removable=(*machine.removable, drive))


IDE_SLOTS = 4
"""Devices on IDE: two controllers (primary, secondary), master and slave."""
SCSI_SLOTS = 15
"""Disks per parallel SCSI controller: IDs 0-15 less the controller's own 7."""


class _Placer:
    """Hands out controllers and units, in the order devices ask."""

    def __init__(self) -> None:
        self.controllers: list[Controller] = []
        self.used: dict[tuple[Bus, ControllerModel | None, int], int] = {}
        self.count: dict[Storage, int] = {}
        self.notes: list[str] = []

    def _controller(self, bus: Bus, model: ControllerModel | None, number: int) -> int:
        key = (bus, model, number)
        if key not in self.used:
            self.used[key] = len(self.controllers)
            self.controllers.append(Controller(bus=bus, model=model, index=number))
        return self.used[key]

    def place(self, storage: Storage, label: str) -> tuple[Storage, int, int]:
        """A storage (IDE overflows to SATA), the controller's index in the
        machine, and the unit on it."""
        slot = self.count.get(storage, 0)
        if storage == IDE and slot >= IDE_SLOTS:
            self.notes.append(f"{label}: IDE holds {IDE_SLOTS} devices: using {SATA}")
            storage, slot = SATA, self.count.get(SATA, 0)
        self.count[storage] = slot + 1
        if storage.bus is Bus.IDE:
            return storage, self._controller(Bus.IDE, storage.model, slot // 2), slot % 2
        if storage.bus is Bus.SCSI:
            unit = slot % SCSI_SLOTS
            controller = self._controller(Bus.SCSI, storage.model, slot // SCSI_SLOTS)
            return storage, controller, unit if unit < 7 else unit + 1
        return storage, self._controller(storage.bus, storage.model, 0), slot


def place_devices(machine: Machine, plan: DevicePlan) -> tuple[Machine, list[str]]:
    """``machine`` with the plan's devices: firmware, one controller per
    storage kind the plan uses (two IDE controllers at most, four devices;
    more go on SATA), each disk and drive on its controller with a unit, and
    the plan's NIC models.  The boot disk comes first on its controller.

    :returns: the machine and notes about devices moved (for warnings).
    """
    placer = _Placer()
    disks = []
    for number, (disk, storage) in enumerate(zip(machine.disks, plan.disks, strict=True)):
        _, controller, unit = placer.place(storage, f"disk {number}")
        disks.append(replace(disk, controller=controller, bus=None, unit=unit))
    drives = []
    for number, (drive, storage) in enumerate(zip(machine.removable, plan.removable, strict=True)):
        _, controller, unit = placer.place(storage, f"drive {number}")
        drives.append(replace(drive, controller=controller, bus=None, unit=unit))
    nics = tuple(replace(nic, model=model) for nic, model in zip(machine.nics, plan.nics, strict=True))
    placed = replace(
        machine,
        firmware=plan.firmware,
        secure_boot=plan.secure_boot,
        controllers=tuple(placer.controllers),
        disks=tuple(disks),
        removable=tuple(drives),
        nics=nics,
    )
    return placed, placer.notes
