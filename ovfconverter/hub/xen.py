"""Machine -> Xen ``xl.cfg`` (:class:`~ovfconverter.model.xen.XlConfig`).

OVF guests, and Ganeti kvm or xen-hvm instances, become HVM guests: the
firmware (SeaBIOS, or OVMF for EFI) boots emulated IDE disks ``hda``-``hdd``
(``hdtype="ahci"`` when the device policy keeps SATA), which Linux guests
with PV drivers unplug for xen-blkfront; NICs get the emulated ``model`` the
policy chose (:attr:`~ovfconverter.hub.devices.TargetKind.XEN_HVM`).
Ganeti xen-pvm instances stay PV: their ``kernel_path``, ``initrd_path``,
``root_path`` and ``kernel_args`` (or ``use_bootloader`` with
``bootloader_path``) carry over, disks are named with their
``blockdev_prefix`` (``sd`` by default, as Ganeti does).

Pure: the caller (the xen target) says where each disk's file is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ovfconverter.errors import TargetError
from ovfconverter.hub import values
from ovfconverter.hub.devices import SATA, DevicePlan, DevicePolicy, TargetKind, choose_devices
from ovfconverter.model.machine import Firmware, Machine, Nic
from ovfconverter.model.xen import GuestType, XlConfig, XlDisk, XlVif

#: xl ``model=`` per NIC model (qemu-xen's names).
NIC_MODELS: Mapping[str, str] = MappingProxyType(
    {"e1000": "e1000", "rtl8139": "rtl8139", "ne2k_pci": "ne2k_pci", "pcnet32": "pcnet"}
)
_HVM_IDE_SLOTS = 4
_MIB = 1 << 20


@dataclass(frozen=True)
class XenSettings:
    """Choices of the xen target.

    :ivar disk_paths: the file of each :attr:`Machine.disks` entry, as
        ``xl.cfg`` should name it (absolute, or relative to xl's working
        folder).
    :ivar removable_paths: the image of each removable drive (HVM only).
    :ivar bridges: per NIC number (``--net N:bridge=xenbr1``); others take
        their Ganeti ``link`` when bridged, else :attr:`default_bridge`.
    """

    disk_paths: tuple[str, ...]
    disk_format: str = "raw"
    policy: DevicePolicy = DevicePolicy.AUTO
    removable_paths: tuple[str | None, ...] = ()
    bridges: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    default_bridge: str = "xenbr0"
    name: str | None = None


@dataclass(frozen=True)
class XenResult:
    """The configuration, the device plan (``None`` for PV guests, which have
    no emulated devices) and the notes to warn with."""

    config: XlConfig
    plan: DevicePlan | None
    notes: tuple[str, ...]


def _bridge(nic: Nic, number: int, settings: XenSettings) -> str:
    if number in settings.bridges:
        return settings.bridges[number]
    ganeti = nic.ganeti
    if ganeti is not None and (ganeti.mode or "bridged") == "bridged" and ganeti.link:
        return ganeti.link
    return settings.default_bridge


def _vifs(machine: Machine, settings: XenSettings, models: tuple[str | None, ...]) -> tuple[XlVif, ...]:
    return tuple(
        XlVif(bridge=_bridge(nic, number, settings), mac=values.mac_address(nic.mac, number), model=model)
        for number, (nic, model) in enumerate(zip(machine.nics, models, strict=True))
    )


def _is_pv(machine: Machine) -> bool:
    return machine.ganeti is not None and machine.ganeti.hypervisor == "xen-pvm"


def _hvm(machine: Machine, settings: XenSettings) -> XenResult:
    plan = choose_devices(machine, TargetKind.XEN_HVM, settings.policy)
    drives: list[tuple[str | None, str, bool]] = [(path, settings.disk_format, False) for path in settings.disk_paths]
    for number, drive in enumerate(machine.removable):
        if drive.kind.optical:
            path = settings.removable_paths[number] if number < len(settings.removable_paths) else None
            drives.append((path, "raw", True))
    notes = list(plan.notes)
    if len(drives) > _HVM_IDE_SLOTS:
        notes.append(
            f"xen HVM emulates {_HVM_IDE_SLOTS} drives (hda-hdd): the others are xvd* disks, seen only with PV drivers"
        )
    if len(drives) > 26:
        raise TargetError(f"xen HVM: {len(drives)} disks and CD-ROMs, at most 26")
    disks = tuple(
        XlDisk(vdev=_hvm_vdev(n), target=path, format=fmt, access="ro" if cdrom else "rw", cdrom=cdrom)
        for n, (path, fmt, cdrom) in enumerate(drives)
    )
    ahci = bool(plan.disks) and plan.disks[0] == SATA
    config = XlConfig(
        name=_name(machine, settings),
        type=GuestType.HVM,
        memory_mib=-(-values.memory_bytes(machine) // _MIB),
        vcpus=values.vcpu_count(machine),
        disks=disks,
        vifs=_vifs(machine, settings, tuple(NIC_MODELS[m.value] for m in plan.nics)),
        bios="ovmf" if plan.firmware is Firmware.EFI else None,
        hdtype="ahci" if ahci else None,
        boot="dc" if not machine.disks else "cd",
        comment=_comment(machine),
    )
    return XenResult(config=config, plan=plan, notes=tuple(notes))


def _hvm_vdev(number: int) -> str:
    letter = chr(ord("a") + number)
    return f"hd{letter}" if number < _HVM_IDE_SLOTS else f"xvd{letter}"


def _pv(machine: Machine, settings: XenSettings) -> XenResult:
    assert machine.ganeti is not None
    hv = {k: v for k, v in machine.ganeti.hypervisor_parameters.items() if v and v.lower() != "none"}
    prefix = hv.get("blockdev_prefix", "sd")
    if prefix not in ("sd", "xvd", "hd"):
        raise TargetError(f"xen-pvm blockdev_prefix {prefix!r} is not sd, xvd or hd")
    disks = tuple(
        XlDisk(vdev=prefix + chr(ord("a") + n), target=path, format=settings.disk_format)
        for n, path in enumerate(settings.disk_paths)
    )
    notes: list[str] = []
    use_bootloader = hv.get("use_bootloader", "false").lower() == "true"
    kernel = None if use_bootloader else hv.get("kernel_path", "/boot/vmlinuz-3-xenU")
    if kernel is not None:
        notes.append(f"the PV kernel {kernel!r} must exist on the Xen host")
    config = XlConfig(
        name=_name(machine, settings),
        type=GuestType.PV,
        memory_mib=-(-values.memory_bytes(machine) // _MIB),
        vcpus=values.vcpu_count(machine),
        disks=disks,
        vifs=_vifs(machine, settings, tuple(None for _ in machine.nics)),
        kernel=kernel,
        ramdisk=None if use_bootloader else hv.get("initrd_path"),
        root=None if use_bootloader else hv.get("root_path", "/dev/xvda1"),
        extra=None if use_bootloader else hv.get("kernel_args", "ro"),
        bootloader=hv.get("bootloader_path", "pygrub") if use_bootloader else None,
        serial=None,
        comment=_comment(machine),
    )
    return XenResult(config=config, plan=None, notes=tuple(notes))


def _name(machine: Machine, settings: XenSettings) -> str:
    return values.vm_name(machine, "xl") if settings.name is None else values.vm_name(Machine(name=settings.name), "xl")


def _comment(machine: Machine) -> tuple[str, ...]:
    text = values.free_text(machine.description)
    if not text:
        return ()
    return tuple(line.replace('"', "'").replace("\\", "/") for line in text.splitlines()[:20])


def machine_to_xl(machine: Machine, settings: XenSettings) -> XenResult:
    """The ``xl.cfg`` configuration for ``machine``: PV for Ganeti xen-pvm
    instances, HVM for everything else.

    :raises ovfconverter.errors.TargetError: a name, MAC, memory or CPU count
        xl refuses, or more than four disks and CD-ROMs on an HVM guest.
    :raises ValueError: ``settings.disk_paths`` does not match the disks.
    """
    if len(settings.disk_paths) != len(machine.disks):
        raise ValueError("XenSettings.disk_paths must name one file per disk")
    return _pv(machine, settings) if _is_pv(machine) else _hvm(machine, settings)
