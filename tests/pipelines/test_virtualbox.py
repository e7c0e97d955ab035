"""VirtualBox exports: what only the vbox:Machine section says (MACs for
Items without rasd:Address, adapter types, firmware, boot order,
controllers), from tests/data/ovf10_virtualbox.ovf (written from what
VirtualBox 6/7 exports for a Vagrant base box)."""

from __future__ import annotations

from pathlib import Path

from builders import DATA, build_package, read_ini, run_cli, streamoptimized

from ovfconverter import ImportOptions, import_package
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.info import read_package, to_json
from ovfconverter.model.envelope import VirtualBoxAdapter, VirtualBoxAttachment
from ovfconverter.model.hardware import describe_hardware

SAMPLE = "ovf10_virtualbox.ovf"
MIB = 1 << 20
OS = "raw-image+default"


def sample(text: str | None = None):
    data = (text if text is not None else (DATA / SAMPLE).read_text()).encode()
    return read_envelope(data, SAMPLE)


def test_vbox_machine_is_read() -> None:
    (system,) = sample().virtual_systems
    machine = system.virtualbox
    assert machine is not None
    assert (machine.uuid, machine.name, machine.os_type, machine.firmware) == (
        "8a4e2c10-6b7d-4e3f-9a21-0c5d7e8f9a10",
        "bookworm64",
        "Debian_64",
        "BIOS",
    )
    assert machine.boot_order == ("HardDisk", "DVD")
    assert machine.adapters == (
        VirtualBoxAdapter(0, True, "0800275F3A1C", "82540EM", "NAT"),
        VirtualBoxAdapter(1, False, "080027000001", "Am79C973", None),
        VirtualBoxAdapter(2, True, "080027C0FFEE", "virtio", "HostOnlyInterface"),
    )
    assert machine.controllers == (("SATA Controller", "AHCI"),)
    assert machine.attachments == (
        VirtualBoxAttachment("SATA Controller", "AHCI", "HardDisk", 0, 0, "5f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"),
    )


def test_enabled_adapters_give_the_items_their_macs_and_models() -> None:
    env = sample()
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert [(n.connection, n.mac, n.model, n.mac_source) for n in hw.nics] == [
        ("NAT", "08:00:27:5f:3a:1c", "E1000", "vbox:Machine"),
        ("HostOnly", "08:00:27:c0:ff:ee", "virtio", "vbox:Machine"),
    ]


def test_a_mac_in_the_item_wins() -> None:
    text = (
        (DATA / SAMPLE)
        .read_text()
        .replace(
            "<rasd:Connection>NAT</rasd:Connection>",
            "<rasd:Address>02:00:00:00:00:01</rasd:Address><rasd:Connection>NAT</rasd:Connection>",
        )
    )
    env = sample(text)
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert [(n.mac, n.mac_source) for n in hw.nics] == [
        ("02:00:00:00:00:01", "Item"),
        ("08:00:27:c0:ff:ee", "vbox:Machine"),
    ]


def test_adapters_that_do_not_match_the_items_are_not_used() -> None:
    text = (DATA / SAMPLE).read_text().replace('slot="1" enabled="false"', 'slot="1" enabled="true"')
    env = sample(text)
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert [n.mac for n in hw.nics] == [None, None]
    assert any("3 enabled adapter(s) for 2 Ethernet Item(s)" in note for note in hw.notes)


def test_storage_controllers_under_the_machine_are_read_too() -> None:
    """Older settings versions put StorageControllers beside Hardware."""
    text = (DATA / SAMPLE).read_text()
    start, end = text.index("        <StorageControllers>"), text.index("</StorageControllers>") + 21
    block = text[start:end]
    text = text[:start] + text[end:]
    text = text.replace("      </Hardware>", "      </Hardware>\n" + block)
    machine = sample(text).virtual_systems[0].virtualbox
    assert machine is not None and machine.controllers == (("SATA Controller", "AHCI"),)


def test_import_takes_the_macs_from_vbox_machine(tmp_path: Path, out_dir: Path) -> None:
    _, vmdk = streamoptimized(tmp_path, "box", 8 * MIB, seed=5)
    package = build_package(tmp_path, "ova", SAMPLE, {"box-disk001.vmdk": vmdk})
    result = import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir)))
    instance = read_ini(Path(result.path) / "config.ini")["instance"]
    assert (instance["nic0_mac"], instance["nic1_mac"]) == ("08:00:27:5f:3a:1c", "08:00:27:c0:ff:ee")
    assert any("NIC 0: MAC 08:00:27:5f:3a:1c from VirtualBox's vbox:Machine section" in w for w in result.warnings)
    assert not any("UEFI" in w for w in result.warnings)


def test_import_warns_about_uefi(tmp_path: Path) -> None:
    from ovfconverter.pipelines.importer import build_plan

    env = sample((DATA / SAMPLE).read_text().replace('<Firmware type="BIOS"/>', '<Firmware type="EFI"/>'))
    plan = build_plan(env, ImportOptions(os_type=OS), SAMPLE)
    assert any(w.startswith("the VM boots with UEFI, which Ganeti has no parameter for") for w in plan.warnings)
    on_kvm = build_plan(env, ImportOptions(os_type=OS, hypervisor="kvm"), SAMPLE)
    assert on_kvm.config.hypervisor_params["kvm_extra"] == "-bios /usr/share/ovmf/OVMF.fd"


def test_info_notes_where_the_macs_come_from(tmp_path: Path) -> None:
    _, vmdk = streamoptimized(tmp_path, "box", 8 * MIB, seed=5)
    package = build_package(tmp_path, "folder", SAMPLE, {"box-disk001.vmdk": vmdk})
    data = to_json(read_package(str(package)))
    (system,) = data["systems"]
    assert system["nics"][0] == {
        "mac": "08:00:27:5f:3a:1c",
        "network": "NAT",
        "model": "E1000",
        "mac_source": "vbox:Machine",
    }
    assert system["virtualbox"] == {
        "uuid": "8a4e2c10-6b7d-4e3f-9a21-0c5d7e8f9a10",
        "name": "bookworm64",
        "os_type": "Debian_64",
        "firmware": "BIOS",
        "boot_order": ["HardDisk", "DVD"],
        "storage_controllers": [{"name": "SATA Controller", "type": "AHCI"}],
    }
    text = run_cli("info", str(package)).stdout
    assert "  NIC 0: network NAT, E1000, MAC 08:00:27:5f:3a:1c (from vbox:Machine)\n" in text
    assert (
        "  VirtualBox (vbox:Machine): OS type Debian_64, firmware BIOS, boot order HardDisk, DVD, "
        "controllers SATA Controller (AHCI)\n"
    ) in text


def test_the_machine_keeps_virtualbox_settings_and_macs() -> None:
    from ovfconverter.hub.ovf import machine_from_envelope
    from ovfconverter.model.machine import VirtualBoxSettings

    env = sample()
    system = env.virtual_systems[0]
    machine, _ = machine_from_envelope(env, system, describe_hardware(env, system, None))
    assert machine.virtualbox == VirtualBoxSettings(
        uuid="8a4e2c10-6b7d-4e3f-9a21-0c5d7e8f9a10", boot_order=("HardDisk", "DVD")
    )
    assert [nic.mac for nic in machine.nics] == ["08:00:27:5f:3a:1c", "08:00:27:c0:ff:ee"]
