"""The descriptor reader on our own OVF 0.9, 1.x and 2.0 samples
(tests/data), and the hardware each one amounts to."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import DATA

from ovfconverter.errors import DescriptorError
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.model.envelope import Envelope, ResourceType
from ovfconverter.model.hardware import describe_hardware, select_items

MIB = 1 << 20
GIB = 1 << 30


def sample_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def load(name: str) -> Envelope:
    return read_envelope((DATA / name).read_bytes(), name)


def load_text(text: str, name: str = "edited.ovf") -> Envelope:
    return read_envelope(text.encode("utf-8"), name)


def nic_summary(hw) -> list[tuple[str | None, str | None, str | None]]:
    return [(nic.mac, nic.connection, nic.model) for nic in hw.nics]


# -- OVF 0.9 (VMware draft) ------------------------------------------------


def test_ovf09_envelope() -> None:
    env = load("ovf09_vmware.ovf")
    assert env.version == "0.9"
    assert [(f.id, f.href, f.size, f.compression, f.chunk_size) for f in env.files] == [
        ("file1", "legacy-disk1.vmdk", None, None, None)
    ]
    assert len(env.disks) == 1
    disk = env.disks[0]
    assert disk.disk_id == "vmdisk1"
    assert disk.file_ref == "file1"
    assert disk.capacity == 5 * MIB + 512  # bytes, no capacityAllocationUnits
    assert disk.format == "http://www.vmware.com/specifications/vmdk.html#compressed"
    assert [(n.name, n.description) for n in env.networks] == [
        ("VM Network", "Port group for guest traffic"),
        ("Backup Net", "Network for nightly backups"),
    ]
    assert env.deployment_options == ()
    assert env.collection_id is None
    assert env.ganeti is None
    assert env.ignored_sections == ()
    assert env.notes == ()


def test_ovf09_virtual_system_from_content_element() -> None:
    env = load("ovf09_vmware.ovf")
    assert len(env.virtual_systems) == 1
    system = env.virtual_systems[0]
    assert system.id == "vm"
    assert system.name == "legacy-appliance"
    assert system.info == "Small legacy appliance for import tests"
    assert system.collection_path == ()
    assert system.operating_system is not None
    assert system.operating_system.id == 36
    assert system.operating_system.description == "Linux"
    assert [hw.system_types for hw in system.hardware] == [("vmx-04",)]
    # 0.9 spells InstanceId and names items by Caption
    assert [item.instance_id for item in system.items] == ["1", "2", "3", "4", "5", "6"]
    assert [item.element_name for item in system.items] == [
        "two processors",
        "guest memory",
        "scsi0",
        "system disk",
        "ethernet0",
        "ethernet1",
    ]
    assert [item.resource_type for item in system.items] == [3, 4, 6, 17, 10, 10]
    memory = system.items[1]
    assert memory.allocation_units == "MegaBytes"
    assert memory.virtual_quantity == 384
    disk_item = system.items[3]
    assert disk_item.host_resources == ("/disk/vmdisk1",)
    assert disk_item.parent == "3"
    assert disk_item.address_on_parent == "0"
    assert system.items[4].automatic_allocation is True


def test_ovf09_hardware() -> None:
    env = load("ovf09_vmware.ovf")
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert hw.cpus == 2
    assert hw.memory == 384 * MIB  # MegaBytes
    assert len(hw.disks) == 1
    attachment = hw.disks[0]
    assert attachment.disk is not None and attachment.disk.disk_id == "vmdisk1"
    assert attachment.file_id == "file1"
    assert attachment.item is not None and attachment.item.element_name == "system disk"
    # one NIC per Ethernet Item, MAC as written and the network it connects to
    assert nic_summary(hw) == [
        ("00:50:56:AB:CD:01", "VM Network", "PCNet32"),
        (None, "Backup Net", "PCNet32"),
    ]
    assert [item.element_name for item in hw.controllers] == ["scsi0"]
    assert hw.removable == []
    assert hw.other == []
    assert hw.problems == []
    assert hw.notes == []


def test_ovf09_optional_unknown_section_is_ignored() -> None:
    text = sample_text("ovf09_vmware.ovf").replace(
        '  <Content ovf:id="vm"',
        '  <Section ovf:required="false" xsi:type="ovf:ShinySection_Type">\n'
        "    <Info>not understood, not needed</Info>\n"
        "  </Section>\n"
        '  <Content ovf:id="vm"',
    )
    env = load_text(text)
    assert env.ignored_sections == ("ShinySection",)
    assert [s.id for s in env.virtual_systems] == ["vm"]


def test_ovf09_required_unknown_section_is_refused() -> None:
    text = sample_text("ovf09_vmware.ovf").replace(
        '  <Content ovf:id="vm"',
        '  <Section xsi:type="ovf:ShinySection_Type">\n'
        "    <Info>not understood, needed</Info>\n"
        "  </Section>\n"
        '  <Content ovf:id="vm"',
    )
    with pytest.raises(DescriptorError, match="ShinySection in the Envelope is not understood"):
        load_text(text)


# -- OVF 2.0 ---------------------------------------------------------------


def test_ovf20_envelope() -> None:
    env = load("ovf20_sasd.ovf")
    assert env.version == "2.0"
    assert [(f.id, f.href, f.size) for f in env.files] == [("root-file", "root.vmdk", None)]
    assert [(d.disk_id, d.file_ref, d.capacity) for d in env.disks] == [("root", "root-file", GIB)]
    assert env.disks[0].format == "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
    assert [(n.name, n.description) for n in env.networks] == [
        ("frontend", "Public side"),
        ("backend", "Private side"),
    ]
    assert env.ganeti is None
    assert env.ignored_sections == ()
    system = env.virtual_systems[0]
    assert (system.id, system.name) == ("web2", "web-two")
    assert system.operating_system is not None and system.operating_system.id == 101
    assert system.hardware[0].system_types == ("vmx-13", "vmx-14")


def test_ovf20_storage_and_ethernet_port_items() -> None:
    env = load("ovf20_sasd.ovf")
    items = env.virtual_systems[0].items
    assert [item.element for item in items] == [
        "Item",
        "Item",
        "Item",
        "StorageItem",
        "EthernetPortItem",
        "EthernetPortItem",
    ]
    storage = items[3]
    assert storage.resource_type == ResourceType.DISK_DRIVE
    assert storage.instance_id == "4"
    assert storage.element_name == "root disk"
    assert storage.host_resources == ("ovf:/disk/root",)
    assert storage.parent == "3"
    port = items[4]
    assert port.resource_type == ResourceType.ETHERNET_ADAPTER
    assert port.address == "52:54:00:12:34:56"
    assert port.connections == ("frontend",)
    assert port.resource_subtype == "VirtIO"


def test_ovf20_hardware() -> None:
    env = load("ovf20_sasd.ovf")
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert hw.cpus == 3
    assert hw.memory == 1536 * MIB  # byte * 2^20
    assert len(hw.disks) == 1
    assert hw.disks[0].disk is not None and hw.disks[0].disk.disk_id == "root"
    assert hw.disks[0].file_id == "root-file"
    assert hw.disks[0].item is not None and hw.disks[0].item.element == "StorageItem"
    assert nic_summary(hw) == [
        ("52:54:00:12:34:56", "frontend", "VirtIO"),
        (None, "backend", "E1000"),
    ]
    assert [nic.item.element for nic in hw.nics] == ["EthernetPortItem", "EthernetPortItem"]
    assert [item.element_name for item in hw.controllers] == ["sata0"]
    assert hw.problems == []
    assert hw.notes == []


def test_ovf20_memory_in_gib_without_spaces() -> None:
    env = load("ovf20_gib_memory.ovf")
    assert env.version == "2.0"
    assert env.files == ()
    assert env.disks == ()
    assert [n.name for n in env.networks] == ["bridged"]
    assert env.ganeti is None
    system = env.virtual_systems[0]
    assert system.items[1].allocation_units == "byte*2^30"
    hw = describe_hardware(env, system, None)
    assert hw.cpus == 1
    assert hw.memory == 2 * GIB
    assert hw.disks == []
    assert nic_summary(hw) == [("52-54-00-AA-00-07", "bridged", None)]
    assert hw.problems == []


# -- OVF 1.x: prefixed and default namespace ------------------------------


@pytest.mark.parametrize(("name", "version"), [("ovf10_prefixed.ovf", "1.0"), ("ovf11_default_ns.ovf", "1.1")])
def test_ovf1x_namespace_styles(name: str, version: str) -> None:
    env = load(name)
    assert env.version == version
    assert [(f.id, f.href) for f in env.files] == [("data-file", "data.vmdk")]
    assert [(d.disk_id, d.file_ref, d.capacity) for d in env.disks] == [("data", "data-file", 3 * MIB)]
    assert [(n.name, n.description) for n in env.networks] == [("lab", "Lab segment")]
    assert env.ganeti is None
    assert env.ignored_sections == ()
    system = env.virtual_systems[0]
    assert (system.id, system.name) == ("prefixed", "prefixed-vm")
    assert system.info == "Machine described with prefixed elements"
    assert system.operating_system is not None
    assert (system.operating_system.id, system.operating_system.description) == (94, "Ubuntu")
    hw = describe_hardware(env, system, None)
    assert (hw.cpus, hw.memory) == (1, 640 * MIB)
    assert [(d.disk.disk_id if d.disk else None, d.file_id) for d in hw.disks] == [("data", "data-file")]
    assert nic_summary(hw) == [("02:00:00:00:01:01", "lab", "E1000")]
    assert [item.resource_type for item in hw.controllers] == [ResourceType.IDE_CONTROLLER]
    assert hw.problems == []


def test_ovf1x_prefixed_and_default_namespace_read_alike() -> None:
    prefixed = load("ovf10_prefixed.ovf")
    default = load("ovf11_default_ns.ovf")
    assert prefixed.version != default.version
    assert replace(prefixed, version="x") == replace(default, version="x")


# -- VirtualSystemCollection -----------------------------------------------


def test_collection_lists_both_systems() -> None:
    env = load("ovf10_collection.ovf")
    assert env.version == "1.0"
    assert env.collection_id == "shop"
    assert [(s.id, s.name, s.collection_path) for s in env.virtual_systems] == [
        ("web", "shop-web", ("shop",)),
        ("db", "shop-db", ("shop",)),
    ]
    assert [(f.id, f.href) for f in env.files] == [("web-file", "web.vmdk"), ("db-file", "db.vmdk")]
    assert [(d.disk_id, d.capacity) for d in env.disks] == [("web-disk", MIB), ("db-disk", 2 * MIB)]
    assert [n.name for n in env.networks] == ["service"]
    assert env.ignored_sections == ("StartupSection",)
    assert env.ganeti is None


@pytest.mark.parametrize(
    ("system_id", "cpus", "memory", "disk_id", "mac"),
    [("web", 1, 256 * MIB, "web-disk", "02:00:00:00:0a:01"), ("db", 2, 768 * MIB, "db-disk", "02:00:00:00:0d:01")],
)
def test_collection_hardware_per_system(system_id: str, cpus: int, memory: int, disk_id: str, mac: str) -> None:
    env = load("ovf10_collection.ovf")
    system = next(s for s in env.virtual_systems if s.id == system_id)
    hw = describe_hardware(env, system, None)
    assert (hw.cpus, hw.memory) == (cpus, memory)
    # only the system's own disk: the other system's Disk is not adopted
    assert [d.disk.disk_id if d.disk else None for d in hw.disks] == [disk_id]
    assert nic_summary(hw) == [(mac, "service", None)]
    assert hw.problems == []
    assert hw.notes == []


# -- DeploymentOptionSection -----------------------------------------------


def test_deployment_options_are_read() -> None:
    env = load("ovf10_profiles.ovf")
    assert env.version == "1.1"
    assert [(o.id, o.label, o.default) for o in env.deployment_options] == [
        ("large", "Large", False),
        ("small", "Small", True),
    ]
    default = env.default_configuration()
    assert default is not None and default.id == "small"  # ovf:default, not the first listed
    assert env.files == ()
    assert [(d.disk_id, d.file_ref, d.capacity) for d in env.disks] == [("scratch", None, 64 * MIB)]
    assert [n.name for n in env.networks] == ["lan", "storage"]
    items = env.virtual_systems[0].items
    assert [item.configurations for item in items] == [(), ("large",), ("small",), ("large",), (), (), ("large",)]
    assert env.ganeti is None


@pytest.mark.parametrize(
    ("profile", "cpus", "memory", "nics"),
    [
        ("small", 1, 512 * MIB, [("02:00:00:00:00:10", "lan", None)]),
        (
            "large",
            4,
            4 * GIB,
            [("02:00:00:00:00:10", "lan", None), ("02:00:00:00:00:11", "storage", None)],
        ),
    ],
)
def test_deployment_profile_hardware(profile: str, cpus: int, memory: int, nics: list) -> None:
    env = load("ovf10_profiles.ovf")
    system = env.virtual_systems[0]
    hw = describe_hardware(env, system, profile)
    assert hw.profile == profile
    assert hw.cpus == cpus
    assert hw.memory == memory
    assert nic_summary(hw) == nics
    assert [(d.disk.disk_id if d.disk else None, d.file_id) for d in hw.disks] == [("scratch", None)]
    assert hw.problems == []
    assert hw.notes == []  # no "second CPU/memory Item ignored": the profile Item replaces the generic one


def test_deployment_select_items_replaces_generic_item() -> None:
    env = load("ovf10_profiles.ovf")
    system = env.virtual_systems[0]
    assert [item.element_name for item in select_items(system, "large")] == [
        "cpu (large)",
        "memory (large)",
        "scratch disk",
        "lan port",
        "storage port",
    ]
    assert [item.element_name for item in select_items(system, "small")] == [
        "cpu",
        "memory (small)",
        "scratch disk",
        "lan port",
    ]


# -- unknown sections and property references ------------------------------


def test_optional_unknown_sections_are_ignored_and_listed() -> None:
    env = load("ovf10_optional_sections.ovf")
    assert env.version == "1.0"
    assert env.ignored_sections == (
        "{urn:example:acme-appliances}LicenseCheckSection",
        "AnnotationSection",
        "{urn:example:acme-appliances}TuningSection",
    )
    assert env.ganeti is None
    assert [(f.id, f.href, f.size) for f in env.files] == [("tools", "tools.iso", 358400)]
    assert [n.name for n in env.networks] == ["office"]


def test_capacity_resolved_from_product_property() -> None:
    env = load("ovf10_optional_sections.ovf")
    system = env.virtual_systems[0]
    assert [(p.key, p.value, p.type) for p in system.properties] == [
        ("disk_size", "24", "uint32"),
        ("hostname", "extras.example.com", "string"),
    ]
    assert system.properties[0].label == "Data disk size in MiB"
    assert [(d.disk_id, d.file_ref, d.capacity) for d in env.disks] == [("data", None, 24 * MIB)]
    assert env.notes == ()
    hw = describe_hardware(env, system, None)
    assert (hw.cpus, hw.memory) == (2, 128 * MIB)
    assert [(d.disk.disk_id if d.disk else None, d.file_id) for d in hw.disks] == [("data", None)]
    assert [item.element_name for item in hw.removable] == ["cdrom"]
    assert nic_summary(hw) == [(None, "office", None)]
    assert hw.problems == []


def test_capacity_property_without_value_is_noted() -> None:
    text = sample_text("ovf10_optional_sections.ovf").replace('ovf:key="disk_size"', 'ovf:key="other_size"')
    env = load_text(text)
    assert env.disks[0].capacity is None
    assert len(env.notes) == 1
    assert "disk_size" in env.notes[0]


def test_required_unknown_section_in_virtual_system_is_refused() -> None:
    with pytest.raises(DescriptorError) as info:
        load("ovf10_required_section.ovf")
    message = str(info.value)
    assert message.startswith("ovf10_required_section.ovf: line 17: ")
    assert "{urn:example:acme-appliances}FirewallSection" in message
    assert "VirtualSystem 'guarded'" in message
    assert "required" in message


def test_required_section_accepted_once_marked_optional() -> None:
    text = sample_text("ovf10_required_section.ovf").replace(
        "<acme:FirewallSection>", '<acme:FirewallSection ovf:required="false">'
    )
    env = load_text(text)
    assert env.ignored_sections == ("{urn:example:acme-appliances}FirewallSection",)
    assert [s.id for s in env.virtual_systems] == ["guarded"]


def test_explicitly_required_section_is_refused() -> None:
    text = sample_text("ovf10_required_section.ovf").replace(
        "<acme:FirewallSection>", '<acme:FirewallSection ovf:required="true">'
    )
    with pytest.raises(DescriptorError, match=r"\{urn:example:acme-appliances\}FirewallSection"):
        load_text(text)


def test_envelope_level_section_without_required_false_is_refused() -> None:
    text = sample_text("ovf10_optional_sections.ovf").replace(
        '<acme:LicenseCheckSection ovf:required="false">', "<acme:LicenseCheckSection>"
    )
    with pytest.raises(DescriptorError) as info:
        load_text(text)
    assert "{urn:example:acme-appliances}LicenseCheckSection in the Envelope" in str(info.value)


@pytest.mark.parametrize(
    ("section_attrs", "reference"),
    [
        ('ovf:class="com.acme"', "${com.acme.disk_size}"),
        ('ovf:class="com.acme" ovf:instance="1"', "${com.acme.disk_size.1}"),
    ],
)
def test_capacity_resolved_from_class_qualified_property(section_attrs: str, reference: str) -> None:
    # DSP8023 (ProductSection_Type): ovf:class is the "property identifier
    # prefix" and ovf:instance its "suffix"; the property's identifier, the
    # one ${...} names, is class.key[.instance] (as in VMware's vami.ip0.VM_1).
    text = (
        sample_text("ovf10_optional_sections.ovf")
        .replace("<ProductSection>", f"<ProductSection {section_attrs}>")
        .replace('ovf:capacity="${disk_size}"', f'ovf:capacity="{reference}"')
    )
    env = load_text(text)
    assert env.disks[0].capacity == 24 * MIB
    assert env.notes == ()
