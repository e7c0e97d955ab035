"""``info`` of an OVF package goes through the neutral model: each
VirtualSystem's report is read from the
:class:`~ovfconverter.model.machine.Machine` that the OVF reader
(:func:`~ovfconverter.hub.ovf.machine_from_envelope`) gives, and
``info --json`` shows that machine in the shape a Ganeti export's ``info``
gives it.

The package here is one descriptor written out below, with values only the
machine reader computes from it: a guest OS family, distribution and
architecture from a CIM number, a NIC model enum from VMware's spelling, a
MAC in lower case, a DVD drive, and a MAC that is no MAC.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from builders import MIB, json_schema, run_cli, write_ganeti_export

from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.hub.ovf import machine_from_envelope
from ovfconverter.info import read_package, to_json
from ovfconverter.info.machine import machine_json, read_source
from ovfconverter.info.model import plain
from ovfconverter.model.hardware import describe_hardware

DESCRIPTOR = """\
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
 xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <DiskSection>
    <Info>disks</Info>
    <Disk ovf:diskId="data" ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^20"/>
  </DiskSection>
  <NetworkSection>
    <Info>networks</Info>
    <Network ovf:name="lan"><Description>the LAN</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="mon">
    <Info>a monitoring appliance</Info>
    <Name>monitor</Name>
    <ProductSection>
      <Info>what it is</Info>
      <Product>Monitor</Product>
      <Version>2.1</Version>
      <AppUrl>https://${hostname}/</AppUrl>
      <Category>Network</Category>
      <Property ovf:key="hostname" ovf:type="string" ovf:userConfigurable="true" ovf:value="mon"/>
    </ProductSection>
    <OperatingSystemSection ovf:id="96">
      <Info>the guest</Info>
      <Description>Debian 64-bit</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <System><vssd:ElementName>hw</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
      <Item><rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
      <Item><rasd:ElementName>SCSI</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:ElementName>data disk</rasd:ElementName><rasd:HostResource>ovf:/disk/data</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:ElementName>DVD 1</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceType>16</rasd:ResourceType></Item>
      <Item><rasd:Address>00:50:56:AB:CD:EF</rasd:Address><rasd:Connection>lan</rasd:Connection>
        <rasd:ElementName>eth0</rasd:ElementName><rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item><rasd:Address>not-a-mac</rasd:Address><rasd:Connection>lan</rasd:Connection>
        <rasd:ElementName>eth1</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def package(tmp_path: Path) -> Path:
    path = tmp_path / "monitor" / "monitor.ovf"
    path.parent.mkdir(parents=True)
    path.write_text(DESCRIPTOR, encoding="utf-8")
    return path


def test_info_json_shows_the_machine_the_ovf_reader_gives(tmp_path: Path) -> None:
    path = package(tmp_path)
    proc = run_cli("info", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, json_schema("info"), cls=jsonschema.Draft202012Validator)
    (system,) = data["systems"]
    machine = system["machine"]
    # what only the machine reader works out from the descriptor
    assert (machine["os"]["family"], machine["os"]["distribution"], machine["os"]["architecture"]) == (
        "linux",
        "debian",
        "x86_64",
    )
    assert [(nic["model"], nic["mac"]) for nic in machine["nics"]] == [
        ("vmxnet3", "00:50:56:ab:cd:ef"),
        ("e1000", None),
    ]
    assert machine["controllers"] == [{"bus": "scsi", "model": "pvscsi", "index": 0, "source_subtype": "VirtualSCSI"}]
    assert [drive["kind"] for drive in machine["removable"]] == ["dvd"]
    assert machine["products"][0]["app_url"] == "https://${hostname}/"
    assert machine["products"][0]["properties"][0]["category"] == "Network"
    # exactly the hub's machine, as machine_json gives it
    envelope = read_envelope(path.read_bytes(), path.name)
    hub_system = envelope.virtual_systems[0]
    expected, _ = machine_from_envelope(envelope, hub_system, describe_hardware(envelope, hub_system, None))
    assert machine == json.loads(json.dumps(plain(expected)))


def test_the_report_is_read_from_the_machine(tmp_path: Path) -> None:
    """The fields of the report come from the machine, not from the Items:
    the MAC normalised, a value that is no MAC left out with the warning an
    import gives, the DVD drive a DVD drive."""
    info = read_package(str(package(tmp_path)))
    (system,) = info.systems
    assert [(nic.mac, nic.model, nic.network, nic.mac_source) for nic in system.nics] == [
        ("00:50:56:ab:cd:ef", "VmxNet3", "lan", "Item"),
        (None, "E1000", "lan", None),
    ]
    assert any("'eth1'" in w and "a MAC will be generated" in w for w in info.warnings), info.warnings
    assert [(d.label, d.type, d.file) for d in system.removable] == [("DVD 1", "DVD_DRIVE", None)]
    assert (system.cpus, system.memory_mib, system.disks) == (2, 1024, ["data"])
    assert (system.os_id, system.os_description) == (96, "Debian 64-bit")
    assert system.machine.memory is not None and system.machine.memory.size == 1024 * MIB
    assert system.products[0].app_url == "https://${hostname}/"
    assert system.products[0].properties[0].category == "Network"
    assert to_json(info)["systems"][0]["machine"]["name"] == "monitor"

    text = run_cli("info", str(package(tmp_path / "again"))).stdout
    assert "  NIC 0: network lan, VmxNet3, MAC 00:50:56:ab:cd:ef\n" in text
    assert "  NIC 1: network lan, E1000, MAC none\n" in text
    assert "  dvd drive: DVD 1, empty\n" in text


def test_an_ovf_system_and_a_ganeti_export_give_the_machine_in_one_shape(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "gnt", "vm1", 4 * MIB)
    export = machine_json(read_source(str(config)))
    (system,) = to_json(read_package(str(package(tmp_path))))["systems"]
    assert list(system["machine"]) == list(export["machine"])
    assert list(system["machine"]["os"]) == list(export["machine"]["os"])
    assert list(system["machine"]["nics"][0]) == list(export["machine"]["nics"][0])
    jsonschema.validate(export, json_schema("info"), cls=jsonschema.Draft202012Validator)
