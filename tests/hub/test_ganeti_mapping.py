"""The Ganeti mapping: config.ini values <-> Machine.

Reading: both config.ini layouts (before Ganeti 2.6: ``[backend] memory``;
2.6 and later: ``maxmem``/``minmem``), and what keeps an export from being
converted, in config.ini's words.  Writing (``plan_instance``): precedence
per key (overrides, then the Ganeti settings, then the neutral hardware)
and the validation every value gets.  The pipeline tests show the same
through ``import`` and ``export``; these pin the mapping itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from builders import GANETI_30_CONFIG

from ovfconverter.errors import OptionError
from ovfconverter.formats.config_ini import read_config
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.ganeti import export_problems, machine_from_export
from ovfconverter.hub.ganeti_plan import plan_instance
from ovfconverter.model.machine import (
    Bus,
    Controller,
    ControllerModel,
    Cpus,
    Disk,
    DriveKind,
    Firmware,
    GanetiNicSettings,
    GanetiSettings,
    GuestOS,
    ImageRef,
    Machine,
    Memory,
    Needs,
    Nic,
    NicModel,
    OsFamily,
    RemovableDrive,
    frozen_map,
)

MIB = 1 << 20

LEGACY = """\
[export]
version = 0
os = lenny-image

[instance]
name = old.example.com
hypervisor = xen-pvm
nic_count = 1
nic0_mac = AA:00:00:00:00:01
nic0_mode = routed
nic0_link = 100
disk_count = 1
disk0_dump = old.raw
disk0_size = 512
disk0_ivname = disk/0

[backend]
vcpus = 1
memory = 256
auto_balance = False
"""


@dataclass
class Overrides:
    """The fields a Ganeti target takes (as ImportOptions has them)."""

    name: str | None = None
    os_type: str | None = "debian"
    os_parameters: dict[str, str | None] = field(default_factory=dict)
    backend_parameters: dict[str, str | None] = field(default_factory=dict)
    hypervisor: str | None = None
    hypervisor_parameters: dict[str, str | None] = field(default_factory=dict)
    disk_template: str | None = None
    disks: dict[int, int] = field(default_factory=dict)
    nics: dict[int, dict[str, str | None]] = field(default_factory=dict)
    no_nics: bool = False
    tags: list[str] | None = None
    device_policy: DevicePolicy = DevicePolicy.AUTO


def test_a_modern_export_reads_into_the_machine() -> None:
    machine = machine_from_export(read_config(GANETI_30_CONFIG.encode()))
    assert machine.name == "web1.example.com"
    assert machine.cpus == Cpus(2)
    assert machine.memory == Memory(1024 * MIB, minimum=512 * MIB)
    assert (machine.os.cim_id, machine.os.family, machine.os.distribution) == (96, OsFamily.LINUX, "debian")
    (disk,) = machine.disks
    assert disk.capacity == 10240 * MIB
    assert disk.image == ImageRef(key="0", name="0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21", format="raw")
    (nic,) = machine.nics
    assert (nic.mac, nic.network) == ("aa:00:00:35:d1:9e", "br0")
    assert nic.ganeti == GanetiNicSettings(mac="aa:00:00:35:d1:9e", mode="bridged", link="br0")
    settings = machine.ganeti
    assert settings is not None
    assert (settings.os_name, settings.hypervisor, settings.disk_template, settings.tags) == (
        "debootstrap+default",
        "kvm",
        "drbd",
        ("prod", "web"),
    )
    assert dict(settings.backend_parameters)["maxmem"] == "1024"
    assert dict(settings.os_parameters) == {"variant": "bookworm"}


def test_a_legacy_export_reads_memory_from_backend_memory() -> None:
    machine = machine_from_export(read_config(LEGACY.encode()))
    assert machine.memory == Memory(256 * MIB)
    assert machine.nics[0].mac == "aa:00:00:00:00:01"  # normalised for the neutral model
    assert machine.nics[0].ganeti is not None and machine.nics[0].ganeti.mac == "AA:00:00:00:00:01"  # as given
    assert machine.os.cim_id == 1  # lenny-image names no distribution ovfconverter knows


def test_export_problems_speak_config_ini_and_follow_the_needs() -> None:
    config = read_config(b"[instance]\nnic_count = 1\nnic0_mode = nic\nnic0_mac = xyz\n")
    everything = Needs(name=True, cpus=True, memory=True, ganeti_identity=True)
    assert export_problems(config, everything) == [
        "no instance name ([instance] name)",
        "no CPU count ([backend] vcpus)",
        "no memory size ([backend] maxmem or memory)",
        "no OS ([export] os; external exports without it)",
        "nic0_mode 'nic' is not a Ganeti NIC mode (bridged, openvswitch, pool, routed)",
        "nic0_mac: MAC address 'xyz' is not six colon-separated octets",
    ]
    assert export_problems(config, Needs()) == everything_but_needs(export_problems(config, everything))


def everything_but_needs(problems: list[str]) -> list[str]:
    return [p for p in problems if p.startswith("nic0_")]


def test_plan_precedence_per_key() -> None:
    machine = Machine(
        name="vm.example.com",
        cpus=Cpus(4),
        memory=Memory(2048 * MIB),
        disks=(Disk(capacity=MIB, image=ImageRef("f", "a.vmdk")),),
        nics=(Nic(mac="52:54:00:00:00:01", network="bridged"),),
        ganeti=GanetiSettings(
            os_name="from-section",
            hypervisor="kvm",
            hypervisor_parameters=frozen_map({"boot_order": "disk"}),
            backend_parameters=frozen_map({"vcpus": "1", "minmem": "4096", "auto_balance": "yes"}),
        ),
    )
    plan = plan_instance(machine, Overrides(os_type=None, backend_parameters={"vcpus": "8"}))
    config = plan.config
    assert config.os == "from-section" and config.hypervisor == "kvm"
    assert config.hypervisor_params == {"boot_order": "disk"}
    # the override wins for vcpus; the hardware's memory bounds the section's minmem
    assert config.backend == {
        "vcpus": "8",
        "maxmem": "2048",
        "minmem": "2048",
        "memory": "2048",
        "auto_balance": "True",
    }
    assert [(n.mac, n.mode, n.network) for n in config.nics] == [("52:54:00:00:00:01", "bridged", None)]
    assert [(d.index, d.dump, d.ivname, d.blank_size) for d in plan.disks] == [(0, "disk0.raw", "disk/0", None)]


def test_plan_says_removable_drives_are_not_imported_and_refuses_what_ganeti_would() -> None:
    machine = Machine(
        name="vm",
        removable=(RemovableDrive(DriveKind.CDROM, image=ImageRef("iso", "x.iso"), label="cd"),),
        nics=(Nic(network="bad name!"),),
    )
    plan = plan_instance(machine, Overrides())
    assert plan.warnings == [
        "cd (removable drive holding File 'iso') is not imported",
        "Item None: network 'bad name!' is not a valid Ganeti network name; ignored",
    ]
    with pytest.raises(OptionError, match="not a valid Ganeti instance name"):
        plan_instance(Machine(name="no/slash", nics=(Nic(),)), Overrides())
    with pytest.raises(OptionError, match="no disk and no NIC"):
        plan_instance(Machine(name="vm"), Overrides())
    with pytest.raises(OptionError, match="names no Ganeti OS"):
        plan_instance(Machine(name="vm", nics=(Nic(),)), Overrides(os_type=None))


def vmware_guest(os: GuestOS, firmware: Firmware | None = None) -> Machine:
    """A VMware-like machine: one disk on LSI Logic SCSI, one E1000 NIC."""
    return Machine(
        name="vm",
        os=os,
        firmware=firmware,
        controllers=(Controller(Bus.SCSI, ControllerModel.LSILOGIC),),
        disks=(Disk(capacity=MIB, image=ImageRef("f", "a.vmdk"), controller=0, unit=0),),
        nics=(Nic(model=NicModel.E1000),),
    )


DEBIAN = GuestOS(family=OsFamily.LINUX, distribution="debian", version="12")
WINDOWS = GuestOS(family=OsFamily.WINDOWS, distribution="windows", version="2019")
KVM_BOOT = {"boot_order": "disk", "kernel_path": "", "initrd_path": "", "machine_version": "pc"}


def test_device_parameters_are_written_only_for_a_known_hypervisor() -> None:
    unknown = plan_instance(vmware_guest(DEBIAN), Overrides())
    assert (unknown.config.hypervisor, unknown.config.hypervisor_params) == (None, {})
    on_kvm_cluster = plan_instance(vmware_guest(DEBIAN), Overrides(), default_hypervisor="kvm")
    assert on_kvm_cluster.config.hypervisor == "kvm", "named, so that the parameters cannot reach another hypervisor"
    assert on_kvm_cluster.config.hypervisor_params == {
        **KVM_BOOT,
        "disk_type": "paravirtual",
        "nic_type": "paravirtual",
    }
    assert any("virtio" in warning for warning in on_kvm_cluster.warnings)
    pvm = plan_instance(vmware_guest(DEBIAN), Overrides(), default_hypervisor="xen-pvm")
    assert (pvm.config.hypervisor, pvm.config.hypervisor_params) == (None, {}), "xen-pvm has no devices to choose"


def test_device_parameters_follow_the_guest_and_the_policy() -> None:
    windows = plan_instance(vmware_guest(WINDOWS), Overrides(hypervisor="kvm"))
    assert windows.config.hypervisor_params == {**KVM_BOOT, "disk_type": "ide", "nic_type": "e1000"}
    keep = plan_instance(vmware_guest(DEBIAN), Overrides(hypervisor="kvm", device_policy=DevicePolicy.KEEP))
    assert keep.config.hypervisor_params == {
        **KVM_BOOT,
        "disk_type": "scsi-hd",
        "scsi_controller_type": "lsi",
        "nic_type": "e1000",
    }
    xen = plan_instance(vmware_guest(WINDOWS), Overrides(hypervisor="xen-hvm"))
    assert xen.config.hypervisor_params == {"boot_order": "cd", "disk_type": "ioemu", "nic_type": "e1000"}


def test_given_hypervisor_parameters_win_per_key() -> None:
    plan = plan_instance(
        vmware_guest(DEBIAN),
        Overrides(hypervisor="kvm", hypervisor_parameters={"nic_type": "e1000", "machine_version": None}),
        default_hypervisor="xen-pvm",
    )
    assert plan.config.hypervisor == "kvm", "-H names the hypervisor, whatever the cluster's default"
    assert plan.config.hypervisor_params == {
        "boot_order": "disk",
        "kernel_path": "",
        "initrd_path": "",
        "disk_type": "paravirtual",
        "nic_type": "e1000",
    }


def test_efi_gets_ovmf_on_kvm_and_a_warning_elsewhere() -> None:
    kvm = plan_instance(vmware_guest(DEBIAN, Firmware.EFI), Overrides(), default_hypervisor="kvm")
    assert kvm.config.hypervisor_params["kvm_extra"] == "-bios /usr/share/ovmf/OVMF.fd"
    assert any("gives it OVMF" in warning for warning in kvm.warnings)
    unknown = plan_instance(vmware_guest(DEBIAN, Firmware.EFI), Overrides())
    assert unknown.config.hypervisor_params == {}
    assert any("Ganeti has no parameter for" in warning for warning in unknown.warnings)


def test_a_ganeti_instance_keeps_its_own_hypervisor_parameters_exactly() -> None:
    machine = machine_from_export(read_config(GANETI_30_CONFIG.encode()))
    plan = plan_instance(machine, Overrides(os_type=None), default_hypervisor="kvm")
    assert plan.config.hypervisor == "kvm"
    assert plan.config.hypervisor_params == {"boot_order": "disk", "root_path": "/dev/vda1", "serial_console": "True"}
    assert not any("virtio" in warning for warning in plan.warnings)
