"""INTERIM: the sources ``convert --to libvirt|xen`` still reads (the
OpenStack target reads the seam's, :mod:`ovfconverter.sources`); to be
deleted once those targets are on the seam too.

* :func:`open_source`: an OVF package (folder, ``.ovf``, ``.ova``: imported
  with the import pipeline, every check included, into raw dumps in a
  scratch folder) or a Ganeti export (``config.ini`` and its raw dumps) ->
  a Machine and its raw disk images.
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
from ovfconverter.hub.devices import ganeti_kvm_devices
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.envelope import ResourceItem, ResourceType
from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.model.hardware import describe_hardware, uefi_source
from ovfconverter.model.machine import (
    Architecture,
    Bus,
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
from ovfconverter.pipelines.importer import import_package
from ovfconverter.progress import ProgressCallback
from ovfconverter.sources.ganeti import check_export, raw_dump  # the export's dump checks (gzip, Ganeti issue 904)
from ovfconverter.sources.ovf import select_profile, select_system
from ovfconverter.targets.ganeti import ImportOptions


@dataclass
class SourceMachine:
    """A source read for the OpenStack target: the machine, each disk's raw
    image (disk order), and what was worked around."""

    machine: Machine
    dumps: list[ByteRange]
    warnings: list[str] = field(default_factory=list)


log = logging.getLogger("ovfconverter")

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
    """A Ganeti instance; its devices from its kvm parameters
    (:func:`~ovfconverter.hub.devices.ganeti_kvm_devices`), none for other
    hypervisors (a Xen guest's devices differ on KVM)."""
    kvm = config.hypervisor in (None, "kvm")
    found = ganeti_kvm_devices(config.hypervisor_params) if kvm else None
    storage = found.storage if found else None
    controllers = (Controller(bus=storage.bus, model=storage.model),) if storage and storage.model else ()
    disks = tuple(
        Disk(
            capacity=dump.size,
            bus=storage.bus if storage else None,
            controller=0 if controllers else None,
            name=f"disk{index}",
        )
        for index, dump in enumerate(dumps)
    )
    return Machine(
        name=config.name,
        firmware=found.firmware if found else None,
        memory=_memory(config),
        controllers=controllers,
        disks=disks,
        cpus=Cpus(config.vcpus) if config.vcpus else None,
        nics=tuple(
            Nic(
                model=found.nic_model if found else None,
                mac=nic.mac,
                ganeti=GanetiNicSettings(mode=nic.mode, link=nic.link, ip=nic.ip),
            )
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
