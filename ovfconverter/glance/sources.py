"""INTERIM: the sources of the OpenStack target, until the hub seam lands.

The hub (issue 13) will read every source into a
:class:`~ovfconverter.model.machine.Machine` through its Source registry
(``hub/ovf``, ``hub/ganeti``), and the device policy (issue 15,
``hub/devices.py``) will choose buses and models for every target.  Until
then this module does the least the OpenStack target needs, and is to be
replaced whole by them:

* :func:`open_source`: an OVF package (folder, ``.ovf``, ``.ova``: imported
  with the import pipeline, every check included, into raw dumps in a
  scratch folder) or a Ganeti export (``config.ini`` and its raw dumps) ->
  a Machine and its raw disk images;
* :func:`keep_devices`: the devices the source had, where Nova can say
  them, else IDE and e1000 (every guest has drivers for those);
* :func:`convert_to_openstack`: the two, then the target.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ovfconverter.errors import ConfigError
from ovfconverter.formats.config_ini import MAX_CONFIG_SIZE, read_config
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.glance.target import OpenStackOptions, OpenStackResult, write_openstack
from ovfconverter.hub.openstack import DISK_BUSES, SCSI_MODELS, VIF_MODELS
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.envelope import ResourceItem, ResourceType
from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.model.hardware import describe_hardware, uefi_source
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Chipset,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    Firmware,
    GanetiNicSettings,
    GanetiSettings,
    GuestOS,
    Machine,
    Memory,
    Needs,
    Nic,
    NicModel,
    OsFamily,
    frozen_map,
)
from ovfconverter.model.units import MIB
from ovfconverter.package.access import open_package
from ovfconverter.package.staging import Staging
from ovfconverter.pipelines.importer import import_package
from ovfconverter.progress import ProgressCallback
from ovfconverter.sources.ganeti import check_export, raw_dump  # the export's dump checks (gzip, Ganeti issue 904)
from ovfconverter.sources.ovf import select_profile, select_system
from ovfconverter.targets.ganeti import ImportOptions


@dataclass(frozen=True)
class InterimStorage:
    """Where a disk hangs (the shape of ``hub.devices.Storage``)."""

    bus: Bus
    model: ControllerModel | None = None


@dataclass(frozen=True)
class InterimDevices:
    """The devices a machine gets (the shape of ``hub.devices.DevicePlan``)."""

    firmware: Firmware
    secure_boot: bool
    chipset: Chipset
    disks: tuple[InterimStorage, ...]
    nics: tuple[NicModel, ...]
    notes: tuple[str, ...] = ()


@dataclass
class SourceMachine:
    """A source read for the OpenStack target: the machine, each disk's raw
    image (disk order), and what was worked around."""

    machine: Machine
    dumps: list[ByteRange]
    warnings: list[str] = field(default_factory=list)


log = logging.getLogger("ovfconverter")

_GANETI_NICS: Mapping[str, NicModel] = MappingProxyType(
    {"paravirtual": NicModel.VIRTIO, "e1000": NicModel.E1000, "rtl8139": NicModel.RTL8139,
     "pcnet": NicModel.PCNET32, "ne2k_pci": NicModel.NE2K_PCI}
)  # fmt: skip
_GANETI_SCSI: Mapping[str, ControllerModel] = MappingProxyType(
    {
        "lsi": ControllerModel.LSILOGIC,
        "megasas": ControllerModel.MEGASAS,
        "virtio-scsi-pci": ControllerModel.VIRTIO_SCSI,
    }
)
#: OVF ``rasd:ResourceSubType`` of Ethernet Items (VMware, VirtualBox, ours).
_OVF_NICS: Mapping[str, NicModel] = MappingProxyType(
    {"e1000": NicModel.E1000, "e1000e": NicModel.E1000E, "vmxnet3": NicModel.VMXNET3,
     "vmxnet2": NicModel.VMXNET2, "pcnet32": NicModel.PCNET32, "pcnet": NicModel.PCNET32,
     "virtio": NicModel.VIRTIO, "rtl8139": NicModel.RTL8139, "ne2k_pci": NicModel.NE2K_PCI}
)  # fmt: skip
#: OVF SCSI controller ``rasd:ResourceSubType`` (VMware's spellings).
_OVF_SCSI: Mapping[str, ControllerModel] = MappingProxyType(
    {"lsilogic": ControllerModel.LSILOGIC, "lsilogicsas": ControllerModel.LSISAS1068,
     "buslogic": ControllerModel.BUSLOGIC, "virtualscsi": ControllerModel.PVSCSI,
     "virtio-scsi": ControllerModel.VIRTIO_SCSI}
)  # fmt: skip
#: VMware guest id prefixes -> libosinfo distribution names.
_VMWARE_DISTROS = ("debian", "ubuntu", "centos", "rhel", "sles", "opensuse", "fedora", "freebsd", "oracle", "rocky")
_VERSION = re.compile(r"(\d+(?:\.\d+)?)")


def _guest_from_vmware(os_type: str | None, description: str | None) -> GuestOS:
    """The guest from VMware's guest id (``debian11_64Guest``) or the OS
    description, as far as they say."""
    key = (os_type or "").lower()
    text = (description or "").lower()
    arch = Architecture.X86_64 if "64" in key or "64-bit" in text else None
    if key.startswith("windows") or "windows" in text:
        return GuestOS(family=OsFamily.WINDOWS, distribution="windows", architecture=arch, description=description)
    family: OsFamily | None
    for name in _VMWARE_DISTROS:
        if key.startswith(name) or name in re.split(r"[\s_()]+", text):  # VirtualBox: Debian_64
            rest = re.sub(r"_?(64)?guest\Z", "", key[len(name) :]) if key.startswith(name) else text
            rest = re.sub(r"_64\b|64-bit", "", rest)  # an architecture, not a version
            match = _VERSION.search(rest)
            distribution = "oraclelinux" if name == "oracle" else name
            family = OsFamily.BSD if name == "freebsd" else OsFamily.LINUX
            version = match.group(1) if match else None
            return GuestOS(
                family=family, distribution=distribution, version=version, architecture=arch, description=description
            )
    family = OsFamily.LINUX if "linux" in key or "linux" in text else None
    return GuestOS(family=family, architecture=arch, description=description)


def _ovf_storage(
    item: ResourceItem | None, controllers: Mapping[str, ResourceItem]
) -> tuple[Bus | None, ControllerModel | None]:
    parent = controllers.get(item.parent or "") if item is not None else None
    if parent is None:
        return None, None
    subtype = (parent.resource_subtype or "").strip().lower()
    if parent.resource_type == ResourceType.IDE_CONTROLLER:
        return Bus.IDE, None
    if parent.resource_type == ResourceType.PARALLEL_SCSI_HBA:
        return Bus.SCSI, _OVF_SCSI.get(subtype)
    if parent.resource_type == ResourceType.OTHER_STORAGE_DEVICE and subtype in ("ahci", "vmware.sata.ahci"):
        return Bus.SATA, ControllerModel.AHCI
    return None, None


def _machine_from_ovf(path: str, options: ImportOptions, config: InstanceExport, dumps: list[ByteRange]) -> Machine:
    with open_package(path) as package:
        envelope = read_envelope(package.descriptor, package.descriptor_name)
    system = select_system(envelope, options.virtual_system, os.path.basename(path))
    hw = describe_hardware(envelope, system, select_profile(envelope, options.deployment_option))
    by_id = {item.instance_id: item for item in hw.controllers if item.instance_id}
    controllers: list[Controller] = []
    disks = []
    for index, dump in enumerate(dumps):
        item = hw.disks[index].item if len(hw.disks) == len(dumps) else None
        bus, model = _ovf_storage(item, by_id)
        slot = None
        if bus is not None:
            controllers.append(Controller(bus=bus, model=model, index=len(controllers)))
            slot = len(controllers) - 1
        disks.append(Disk(capacity=dump.size, bus=bus, controller=slot, name=f"disk{index}"))
    osys = system.operating_system
    guest = _guest_from_vmware(osys.vmware_os_type if osys else None, osys.description if osys else None)
    return Machine(
        name=system.name or system.id,
        os=guest,
        firmware=Firmware.EFI if uefi_source(system) else None,  # vbox:Machine or oVirt BiosType
        memory=_memory(config),
        controllers=tuple(controllers),
        disks=tuple(disks),
        nics=tuple(Nic(model=_OVF_NICS.get((n.model or "").strip().lower())) for n in hw.nics),
    )


def _memory(config: InstanceExport) -> Memory | None:
    size, minimum = config.maxmem, config.minmem
    if size is None:
        return None
    return Memory(size=size * MIB, minimum=minimum * MIB if minimum is not None and minimum < size else None)


def _machine_from_ganeti(config: InstanceExport, dumps: list[ByteRange]) -> Machine:
    """A Ganeti instance: devices from its kvm parameters (Ganeti 3.0
    defaults: ``disk_type`` and ``nic_type`` paravirtual)."""
    hv = {key: (value or "").strip().lower() for key, value in config.hypervisor_params.items()}
    disk_type = hv.get("disk_type") or "paravirtual"
    controllers: tuple[Controller, ...] = ()
    if disk_type == "ide":
        bus: Bus | None = Bus.IDE
    elif disk_type.startswith("scsi"):
        bus = Bus.SCSI
        model = _GANETI_SCSI.get(hv.get("scsi_controller_type") or "lsi")
        controllers = (Controller(bus=Bus.SCSI, model=model),)
    elif disk_type == "paravirtual":
        bus = Bus.VIRTIO
    else:
        bus = None
    if config.hypervisor not in (None, "kvm"):
        bus = None  # xen-hvm/xen-pvm: the guest's devices differ on KVM
    nic_model = _GANETI_NICS.get(hv.get("nic_type") or "paravirtual") if config.hypervisor in (None, "kvm") else None
    firmware = Firmware.EFI if "ovmf" in hv.get("kvm_extra", "") else Firmware.BIOS
    disks = tuple(
        Disk(capacity=dump.size, bus=bus, controller=0 if controllers else None, name=f"disk{i}")
        for i, dump in enumerate(dumps)
    )
    return Machine(
        name=config.name,
        firmware=firmware,
        memory=_memory(config),
        controllers=controllers,
        disks=disks,
        cpus=Cpus(config.vcpus) if config.vcpus else None,
        nics=tuple(
            Nic(model=nic_model, mac=nic.mac, ganeti=GanetiNicSettings(mode=nic.mode, link=nic.link, ip=nic.ip))
            for nic in config.nics
        ),
        ganeti=GanetiSettings(
            os_name=config.os,
            hypervisor=config.hypervisor,
            hypervisor_parameters=frozen_map(config.hypervisor_params),
        ),
    )


def _is_ganeti_export(path: str) -> str | None:
    """The config.ini of a Ganeti export at ``path`` (the file, or a folder
    holding one), else ``None``."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.ini")):
        return os.path.join(path, "config.ini")
    if os.path.isfile(path) and path.endswith(".ini"):
        return path
    return None


def open_source(
    path: str, workdir: str, options: ImportOptions | None = None, progress: ProgressCallback | None = None
) -> SourceMachine:
    """Read the source at ``path`` for the OpenStack target.

    :param workdir: a scratch folder (an OVF package's disks are imported
        there as raw images; the caller removes it).
    :param options: for OVF packages: ``virtual_system``,
        ``deployment_option``, ``name``.
    :raises OVFConverterError: the source is refused (every import check).
    """
    config_path = _is_ganeti_export(path)
    if config_path is not None:
        with open(config_path, "rb") as stream:
            data = stream.read(MAX_CONFIG_SIZE + 1)
        if len(data) > MAX_CONFIG_SIZE:
            raise ConfigError(f"larger than {MAX_CONFIG_SIZE} bytes", config_path)
        config = read_config(data, config_path)
        folder = os.path.dirname(os.path.abspath(config_path))
        needs = Needs(name=True, cpus=True, memory=True)  # as an export with --external: no Ganeti identity
        sources = check_export(config, folder, needs, os.path.basename(config_path))
        compressed = (config.export_extra.get("compression") or "none").strip().lower() == "gzip"
        dumps = [raw_dump(disk, compressed, workdir, progress) for disk in sources]
        return SourceMachine(_machine_from_ganeti(config, dumps), dumps)
    base = options or ImportOptions()
    # The Ganeti OS is irrelevant here: a placeholder satisfies the importer.
    # Ganeti's rules for names, OS and NICs do not apply: placeholders for the
    # importer; name and NICs are read from the descriptor below.
    scratch = replace(base, output_dir=workdir, force=True, os_type="openstack", no_nics=True, name="openstack-source")
    imported = import_package(path, scratch, progress)
    dumps = [ByteRange(d.path, 0, d.size, os.path.basename(d.path)) for d in imported.disks]
    machine = _machine_from_ovf(path, base, imported.config, dumps)
    return SourceMachine(machine, dumps, list(imported.warnings))


def keep_devices(machine: Machine) -> InterimDevices:
    """The source's own devices where Nova can say them; IDE and e1000
    otherwise; BIOS unless the source says UEFI; i440fx."""
    storage = []
    notes = []
    for index, disk in enumerate(machine.disks):
        bus = machine.disk_bus(disk)
        controller = machine.disk_controller(disk)
        model = controller.model if controller is not None else None
        if bus is None or bus not in DISK_BUSES or (model is not None and model not in SCSI_MODELS):
            notes.append(f"disk {index}: {bus.value if bus else 'unknown bus'}: using ide")
            storage.append(InterimStorage(Bus.IDE))
        else:
            storage.append(InterimStorage(bus, model))
    nics = [nic.model if nic.model is not None and nic.model in VIF_MODELS else NicModel.E1000 for nic in machine.nics]
    return InterimDevices(
        firmware=machine.firmware or Firmware.BIOS,
        secure_boot=machine.secure_boot,
        chipset=Chipset.I440FX,
        disks=tuple(storage),
        nics=tuple(nics),
        notes=tuple(notes),
    )


def convert_to_openstack(
    source: str,
    options: OpenStackOptions,
    source_options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> OpenStackResult:
    """``convert SOURCE --to openstack``: read ``source`` (an OVF package or
    a Ganeti export), write its disks as Glance images into
    ``OUT/NAME/`` and, when asked, upload them.

    An OVF package's disks are first imported as raw images into a scratch
    folder inside the output folder (removed at the end, whatever happens).

    :raises OVFConverterError: as :func:`open_source` and
        :func:`~ovfconverter.glance.target.write_openstack`.
    """
    with Staging(options.output_dir, "ovfconverter-source") as scratch:
        read = open_source(source, scratch.work, source_options, progress)
        devices = keep_devices(read.machine)
        result = write_openstack(read.machine, devices, read.dumps, options, progress, protect=[source])
    for message in [*devices.notes, *result.warnings]:
        log.warning("%s", message)  # the import logged its own already
    result.warnings[:0] = [*read.warnings, *devices.notes]
    return result
