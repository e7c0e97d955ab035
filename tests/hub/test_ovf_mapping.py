"""The OVF mapping: Envelope (one VirtualSystem, one profile) <-> Machine.

Read from the sample descriptors of tests/data and from envelopes built
here; written back and read again with the real reader.  Expected values
come from DSP0243 and the CIM OSType list, written out here, not from the
module's tables.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ovfconverter.errors import OptionError
from ovfconverter.formats.config_ini import read_config
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.formats.ovf_writer import write_envelope
from ovfconverter.hub.devices import TargetKind, choose_devices
from ovfconverter.hub.ganeti import machine_from_export
from ovfconverter.hub.ovf import guest_os, machine_from_envelope
from ovfconverter.hub.ovf_envelope import DiskFile, EnvelopeLayout, envelope_from_machine
from ovfconverter.hub.publishing import place_devices
from ovfconverter.model.envelope import (
    Envelope,
    FileReference,
    OperatingSystem,
    ProductProperty,
    ProductSection,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import GanetiDisk, GanetiNic, GanetiSection
from ovfconverter.model.hardware import describe_hardware
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    DriveKind,
    Firmware,
    GanetiNicSettings,
    ImageRef,
    Machine,
    Memory,
    Nic,
    NicModel,
    OsFamily,
    RemovableDrive,
)

MIB = 1 << 20
LAYOUT = EnvelopeLayout(version="1.0", system_types=("vmx-07",), format_uri="http://example/vmdk.html#streamOptimized")


def machine_of(envelope: Envelope, profile: str | None = None) -> tuple[Machine, list[str]]:
    system = envelope.virtual_systems[0]
    return machine_from_envelope(envelope, system, describe_hardware(envelope, system, profile))


def item(rtype: ResourceType, instance: str, **values: object) -> ResourceItem:
    return ResourceItem(resource_type=rtype, instance_id=instance, element_name=f"item {instance}", **values)  # type: ignore[arg-type]


def hardware_envelope(*items: ResourceItem, osys: OperatingSystem | None = None) -> Envelope:
    return Envelope(
        version="1.0",
        files=(FileReference("f0", "disk0.vmdk", size=1000), FileReference("iso", "tools.iso")),
        disks=(VirtualDisk("d0", "f0", capacity=8 * MIB, format="http://x/vmdk.html#streamOptimized"),),
        virtual_systems=(
            VirtualSystem(id="vm", name="vm-name", operating_system=osys, hardware=(VirtualHardware(items=items),)),
        ),
    )


@pytest.mark.parametrize(
    ("number", "family", "distribution", "arch"),
    [
        (96, OsFamily.LINUX, "debian", Architecture.X86_64),  # Debian 64-Bit
        (95, OsFamily.LINUX, "debian", None),  # Debian
        (94, OsFamily.LINUX, "ubuntu", Architecture.X86_64),
        (107, OsFamily.LINUX, "centos", Architecture.X86_64),
        (77, OsFamily.WINDOWS, "windows", Architecture.X86_64),  # Windows Server 2008 64-Bit
        (67, OsFamily.WINDOWS, "windows", None),  # Windows XP
        (78, OsFamily.BSD, "freebsd", Architecture.X86_64),
        (81, OsFamily.SOLARIS, None, Architecture.X86_64),
        (1, OsFamily.OTHER, None, None),
        (0, None, None, None),  # Unknown
    ],
)
def test_guest_os_from_cim_ostype(number: int, family: OsFamily | None, distribution: str | None, arch: object) -> None:
    guest = guest_os(OperatingSystem(id=number, description="text", version="12", vmware_os_type="otherGuest"))
    assert (guest.cim_id, guest.family, guest.distribution, guest.architecture) == (number, family, distribution, arch)
    assert (guest.description, guest.version, guest.vmware_os_type) == ("text", "12", "otherGuest")


def test_controllers_disks_drives_and_nics() -> None:
    envelope = hardware_envelope(
        item(ResourceType.PROCESSOR, "1", virtual_quantity=4),
        item(ResourceType.MEMORY, "2", virtual_quantity=2048, allocation_units="byte * 2^20"),
        item(ResourceType.IDE_CONTROLLER, "3", resource_subtype="PIIX4"),
        item(ResourceType.PARALLEL_SCSI_HBA, "4", resource_subtype="VirtualSCSI"),
        item(ResourceType.OTHER_STORAGE_DEVICE, "5", resource_subtype="AHCI"),
        item(ResourceType.DISK_DRIVE, "6", host_resources=("ovf:/disk/d0",), parent="4", address_on_parent="3"),
        item(ResourceType.CD_DRIVE, "7", host_resources=("ovf:/file/iso",), parent="3", address_on_parent="1"),
        item(
            ResourceType.ETHERNET_ADAPTER,
            "8",
            resource_subtype="VmxNet3",
            connections=("VM Network",),
            address="00-50-56-AA-BB-CC",
        ),
        item(ResourceType.ETHERNET_ADAPTER, "9", resource_subtype="PCNet32", address="not a mac"),
    )
    machine, warnings = machine_of(envelope)
    assert machine.name == "vm-name"
    assert machine.cpus == Cpus(4) and machine.memory == Memory(2048 * MIB)
    assert machine.controllers == (
        Controller(Bus.IDE, ControllerModel.PIIX4, 0, "PIIX4"),
        Controller(Bus.SCSI, ControllerModel.PVSCSI, 0, "VirtualSCSI"),
        Controller(Bus.SATA, ControllerModel.AHCI, 0, "AHCI"),
    )
    (disk,) = machine.disks
    assert disk.capacity == 8 * MIB and disk.controller == 1 and disk.unit == 3 and disk.source_id == "d0"
    assert disk.image == ImageRef(key="f0", name="disk0.vmdk", format="vmdk", stored_size=1000)
    assert machine.disk_bus(disk) is Bus.SCSI
    (drive,) = machine.removable
    assert (drive.kind, drive.image, drive.controller, drive.unit) == (
        DriveKind.CDROM,
        ImageRef("iso", "tools.iso"),
        0,
        1,
    )
    assert [(n.mac, n.model, n.network, n.source_subtype) for n in machine.nics] == [
        ("00:50:56:aa:bb:cc", NicModel.VMXNET3, "VM Network", "VmxNet3"),
        (None, NicModel.PCNET32, None, "PCNet32"),
    ]
    assert warnings == [
        "Item 'item 9': MAC address 'not a mac' is not six colon-separated octets; a MAC will be generated"
    ]
    assert machine.ganeti is None


def test_ganeti_section_becomes_ganeti_settings_and_nic_attachments() -> None:
    section = GanetiSection(
        version="0",
        tags=("web", "prod"),
        disk_template="drbd",
        os_name="debootstrap+default",
        os_parameters={"variant": "bookworm"},
        hypervisor_name="kvm",
        hypervisor_parameters={"boot_order": "disk"},
        backend_parameters={"auto_balance": "True", "minmem": "512"},
        nics=(GanetiNic(mac="aa:00:00:11:22:33", mode="bridged", link="br0"), GanetiNic(network="backnet")),
        disks=(GanetiDisk(ivname="disk/0", name="root"),),
    )
    envelope = replace(
        hardware_envelope(item(ResourceType.ETHERNET_ADAPTER, "1", connections=("br0",), address="aa:00:00:11:22:33")),
        ganeti=section,
    )
    machine, _ = machine_of(envelope)
    settings = machine.ganeti
    assert settings is not None
    assert (settings.os_name, settings.hypervisor, settings.disk_template, settings.tags, settings.version) == (
        "debootstrap+default",
        "kvm",
        "drbd",
        ("web", "prod"),
        "0",
    )
    assert dict(settings.os_parameters) == {"variant": "bookworm"}
    assert dict(settings.hypervisor_parameters) == {"boot_order": "disk"}
    assert dict(settings.backend_parameters) == {"auto_balance": "True", "minmem": "512"}
    assert [(d.ivname, d.name) for d in settings.disks] == [("disk/0", "root")]
    # one NIC per Ethernet Item, then one per further NIC of the section
    assert [(n.network, n.ganeti) for n in machine.nics] == [
        ("br0", GanetiNicSettings(mac="aa:00:00:11:22:33", mode="bridged", link="br0")),
        (None, GanetiNicSettings(network="backnet")),
    ]


def test_written_envelope_reads_back_as_the_machine() -> None:
    machine = Machine(
        name="web1",
        cpus=Cpus(2),
        memory=Memory(1536 * MIB),
        controllers=(Controller(Bus.SCSI, ControllerModel.LSISAS1068),),
        disks=(
            Disk(capacity=4 * MIB, image=ImageRef("0", "a.raw"), controller=0, unit=2),
            Disk(capacity=2 * MIB, image=ImageRef("1", "b.raw")),
        ),
        nics=(Nic(mac="52:54:00:12:34:56", model=NicModel.VMXNET3, network="frontend"), Nic()),
    )
    files = [DiskFile("web1-disk0.vmdk", 100, 4 * MIB), DiskFile("web1-disk1.vmdk", 100, 2 * MIB)]
    envelope = read_envelope(write_envelope(envelope_from_machine(machine, LAYOUT, files)), "web1.ovf")
    again, warnings = machine_of(envelope)
    assert warnings == []
    assert (again.name, again.cpus, again.memory) == ("web1", Cpus(2), Memory(1536 * MIB))
    # the SCSI controller named is kept; the disk with none goes on an LSI Logic controller of its own
    assert [(c.bus, c.model) for c in again.controllers] == [
        (Bus.SCSI, ControllerModel.LSISAS1068),
        (Bus.SCSI, ControllerModel.LSILOGIC),
    ]
    assert [(d.capacity, d.controller, d.unit, d.image.name if d.image else None) for d in again.disks] == [
        (4 * MIB, 0, 2, "web1-disk0.vmdk"),
        (2 * MIB, 1, 0, "web1-disk1.vmdk"),
    ]
    assert [(n.mac, n.model, n.network) for n in again.nics] == [
        ("52:54:00:12:34:56", NicModel.VMXNET3, "frontend"),
        (None, NicModel.E1000, "default"),
    ]
    assert envelope.ganeti is None


def test_fifteen_disks_per_scsi_controller_skipping_its_own_id() -> None:
    machine = Machine(name="many", cpus=Cpus(1), memory=Memory(MIB), disks=tuple(Disk(capacity=MIB) for _ in range(16)))
    files = [DiskFile(f"d{i}", 1, MIB) for i in range(16)]
    machine_back, _ = machine_of(read_envelope(write_envelope(envelope_from_machine(machine, LAYOUT, files)), "x.ovf"))
    assert [(d.controller, d.unit) for d in machine_back.disks] == [
        *[(0, unit) for unit in (0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15)],
        (1, 0),
    ]


def test_a_machine_without_cpus_memory_or_name_is_refused() -> None:
    for machine in (
        Machine(cpus=Cpus(1), memory=Memory(MIB)),
        Machine(name="x", memory=Memory(MIB)),
        Machine(name="x", cpus=Cpus(1)),
    ):
        with pytest.raises(OptionError, match="needs a name, a CPU count and a memory size"):
            envelope_from_machine(machine, LAYOUT, [])


def test_environment_transports_read_and_written_unless_the_layout_drops_them() -> None:
    """``ovf:transport`` (DSP0243 section 11.1) reaches the machine and is
    written back; a layout for a product that hands the guest no OVF
    environment (VirtualBox) leaves it out."""
    envelope = hardware_envelope(item(ResourceType.PROCESSOR, "1", virtual_quantity=1))
    system = envelope.virtual_systems[0]
    hardware = replace(system.hardware[0], transport=("iso", "com.vmware.guestInfo"))
    envelope = replace(envelope, virtual_systems=(replace(system, hardware=(hardware,)),))
    machine, _ = machine_of(envelope)
    assert machine.environment_transports == ("iso", "com.vmware.guestInfo")
    machine = replace(machine, disks=(), memory=Memory(MIB))
    kept = read_envelope(write_envelope(envelope_from_machine(machine, LAYOUT, [])), "x.ovf")
    assert kept.virtual_systems[0].hardware[0].transport == ("iso", "com.vmware.guestInfo")
    dropped = envelope_from_machine(machine, replace(LAYOUT, environment=False), [])
    assert dropped.virtual_systems[0].hardware[0].transport == ()
    assert b"transport" not in write_envelope(dropped)


def ganeti_kvm_machine(hvparams: dict[str, str], os_name: str = "raw-image+default") -> Machine:
    """A Ganeti kvm instance (two disks, one NIC; a guest OS nobody knows) as
    its export reads."""
    ini = (
        f"[export]\nversion = 0\nos = {os_name}\n[instance]\nname = kvm1\nhypervisor = kvm\nvcpus = 1\n"
        "maxmem = 256\nminmem = 256\ndisk_count = 2\ndisk0_dump = d0\ndisk0_size = 4\ndisk1_dump = d1\n"
        "disk1_size = 4\nnic_count = 1\nnic0_mode = bridged\nnic0_link = br0\n[hypervisor]\n"
        + "".join(f"{key} = {value}\n" for key, value in hvparams.items())
    )
    return machine_from_export(read_config(ini.encode()))


def exported(machine: Machine, target: TargetKind = TargetKind.OVF) -> tuple[Envelope, Machine]:
    """``machine`` written as the OVF target writes it (devices chosen and
    placed for VMware and VirtualBox alike), and the machine read back."""
    placed, _ = place_devices(machine, choose_devices(machine, target))
    files = [DiskFile(f"d{i}.vmdk", 1, 4 * MIB) for i in range(len(machine.disks))]
    envelope = read_envelope(write_envelope(envelope_from_machine(placed, LAYOUT, files)), "x.ovf")
    return envelope, machine_of(envelope)[0]


def controller_items(envelope: Envelope) -> list[tuple[ResourceType, str | None]]:
    items = envelope.virtual_systems[0].hardware[0].items
    controllers = (ResourceType.IDE_CONTROLLER, ResourceType.PARALLEL_SCSI_HBA, ResourceType.OTHER_STORAGE_DEVICE)
    return [(i.resource_type, i.resource_subtype) for i in items if i.resource_type in controllers]


def nic_subtypes(envelope: Envelope) -> list[str | None]:
    items = envelope.virtual_systems[0].hardware[0].items
    return [i.resource_subtype for i in items if i.resource_type == ResourceType.ETHERNET_ADAPTER]


@pytest.mark.parametrize(
    ("hvparams", "target", "controllers", "nic"),
    [
        # what the importers have is kept: LSI Logic (53C1030), PIIX4 IDE, E1000, PCnet (VirtualBox)
        (
            {"disk_type": "scsi-hd", "scsi_controller_type": "lsi", "nic_type": "pcnet"},
            TargetKind.VIRTUALBOX,
            [(ResourceType.PARALLEL_SCSI_HBA, "lsilogic")],
            "PCNet32",
        ),
        (
            {"disk_type": "scsi-hd", "scsi_controller_type": "lsi", "nic_type": "e1000"},
            TargetKind.OVF,
            [(ResourceType.PARALLEL_SCSI_HBA, "lsilogic")],
            "E1000",
        ),
        ({"disk_type": "ide", "nic_type": "e1000"}, TargetKind.OVF, [(ResourceType.IDE_CONTROLLER, None)], "E1000"),
        # virtio (Ganeti kvm's default), megasas and rtl8139 they lack: IDE, which every guest boots from, and E1000
        (
            {"disk_type": "paravirtual", "nic_type": "paravirtual"},
            TargetKind.OVF,
            [(ResourceType.IDE_CONTROLLER, None)],
            "E1000",
        ),
        (
            {"disk_type": "scsi-hd", "scsi_controller_type": "megasas", "nic_type": "rtl8139"},
            TargetKind.VMWARE,
            [(ResourceType.IDE_CONTROLLER, None)],
            "E1000",
        ),
    ],
)
def test_a_ganeti_kvm_instance_exports_with_the_devices_it_had(
    hvparams: dict[str, str], target: TargetKind, controllers: list[tuple[ResourceType, str | None]], nic: str
) -> None:
    envelope, again = exported(ganeti_kvm_machine(hvparams), target)
    assert controller_items(envelope) == controllers, "one controller holds both disks"
    assert nic_subtypes(envelope) == [nic]
    assert [(d.controller, d.unit) for d in again.disks] == [(0, 0), (0, 1)]


def test_efi_and_secure_boot_read_back_from_vmware_config() -> None:
    machine = ganeti_kvm_machine({"disk_type": "ide", "kvm_extra": "-bios /usr/share/ovmf/OVMF.fd"})
    assert machine.firmware is Firmware.EFI, "an OVMF kvm_extra is EFI"
    config = (("firmware", "efi"), ("bootOptions.efiSecureBootEnabled", "true"))
    layout = replace(LAYOUT, vmware_config=config)
    envelope = read_envelope(write_envelope(envelope_from_machine(machine, layout, [])), "x.ovf")
    again, _ = machine_of(envelope)
    assert (again.firmware, again.secure_boot) == (Firmware.EFI, True)


@pytest.mark.parametrize(
    ("element", "pairs", "expected"),
    [
        ("Config", [("firmware", "efi")], (Firmware.EFI, False)),
        ("ExtraConfig", [("firmware", "EFI"), ("uefi.secureBoot.enabled", "TRUE")], (Firmware.EFI, True)),
        ("Config", [("firmware", "bios"), ("bootOptions.efiSecureBootEnabled", "true")], (Firmware.BIOS, False)),
        ("ExtraConfig", [("svga.autodetect", "TRUE")], (None, False)),
    ],
)
def test_vmware_firmware_settings_are_read(
    element: str, pairs: list[tuple[str, str]], expected: tuple[Firmware | None, bool]
) -> None:
    settings = "".join(f'<vmw:{element} ovf:required="false" vmw:key="{k}" vmw:value="{v}"/>' for k, v in pairs)
    descriptor = f"""<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
 xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References/>
  <VirtualSystem ovf:id="vm">
    <Info>A VM</Info>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <Item><rasd:ElementName>1 CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      {settings}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>"""
    machine, _ = machine_of(read_envelope(descriptor.encode(), "vm.ovf"))
    assert (machine.firmware, machine.secure_boot) == expected


def test_dvd_cd_and_floppy_drives() -> None:
    """ResourceType 16 is a DVD drive, 14 a floppy, 15 a CD drive (DSP0243
    uses CIM's ResourceType)."""
    envelope = hardware_envelope(
        item(ResourceType.DVD_DRIVE, "1", host_resources=("ovf:/file/iso",)),
        item(ResourceType.FLOPPY_DRIVE, "2"),
        item(ResourceType.CD_DRIVE, "3"),
    )
    machine, _ = machine_of(envelope)
    assert [drive.kind for drive in machine.removable] == [DriveKind.DVD, DriveKind.FLOPPY, DriveKind.CDROM]
    assert [drive.kind.optical for drive in machine.removable] == [True, False, True]
    assert machine.removable[0].image == ImageRef("iso", "tools.iso")


def test_a_dvd_drive_is_written_as_the_cd_drive_every_consumer_reads() -> None:
    machine = Machine(
        name="dvd",
        cpus=Cpus(1),
        memory=Memory(256 * MIB),
        disks=(Disk(capacity=4 * MIB, image=ImageRef("0", "a.raw")),),
        removable=(RemovableDrive(DriveKind.DVD, image=ImageRef("iso", "tools.iso", "iso")),),
    )
    files = [DiskFile("dvd-disk0.vmdk", 100, 4 * MIB)]
    written = envelope_from_machine(machine, LAYOUT, files, [DiskFile("dvd-cd0.iso", 2048, 2048)])
    envelope = read_envelope(write_envelope(written), "dvd.ovf")
    (drive,) = [i for i in envelope.virtual_systems[0].items if i.resource_type in (15, 16)]
    assert drive.resource_type == ResourceType.CD_DRIVE
    again, _ = machine_of(envelope)
    assert [d.kind for d in again.removable] == [DriveKind.CDROM]


def test_app_url_and_property_categories_are_read_and_written_back() -> None:
    """A ProductSection's AppUrl and each property's Category (DSP0243 9.5)
    travel through the machine: read, then written by the OVF writer."""
    products = (
        ProductSection(
            product="Monitor",
            app_url="https://${hostname}/",
            properties=(
                ProductProperty(key="hostname", bare_key="hostname", value="mon", type="string", category="Network"),
                ProductProperty(key="admin", bare_key="admin", type="string", password=True, category="Accounts"),
            ),
        ),
    )
    envelope = hardware_envelope(item(ResourceType.PROCESSOR, "1", virtual_quantity=1))
    system = replace(envelope.virtual_systems[0], products=products)
    envelope = replace(envelope, virtual_systems=(system,))
    machine, _ = machine_of(envelope)
    (product,) = machine.products
    assert product.app_url == "https://${hostname}/"
    assert [(p.key, p.category) for p in product.properties] == [("hostname", "Network"), ("admin", "Accounts")]
    machine = replace(machine, memory=Memory(256 * MIB), disks=())
    again, _ = machine_of(read_envelope(write_envelope(envelope_from_machine(machine, LAYOUT, [])), "m.ovf"))
    assert again.products == machine.products
