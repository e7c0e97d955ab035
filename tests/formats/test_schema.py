"""Standards conformance: every descriptor `export` writes validates against
DSP8023 1.1.1 plus ovfconverter's Ganeti section schema (OVF 1.x), or
conforms to DSP0243 2.x's structure (OVF 2.0).  The DMTF schema files are
read in place from ../shared/schemas (tests skip where it is absent)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from builders import SHARED, make_raw_disk, run_cli
from lxml import etree

from ovfconverter import ExportOptions, export_instance
from ovfconverter.formats.schema import check_ovf2_structure, ganeti_schema_path, validate_descriptor
from ovfconverter.package.access import open_package

SCHEMAS = SHARED / "schemas" / "ovf-1.1"
MIB = 1 << 20

CONFIG = """\
[export]
version = 0
os = debootstrap+default
compression = none

[instance]
name = web1.example.com
hypervisor = kvm
disk_template = drbd
tags = prod web
nic0_mac = aa:00:00:35:d1:9e
nic0_mode = bridged
nic0_link = br0
nic0_vlan = .100
nic0_name = front
nic1_mac = aa:00:00:35:d1:9f
nic1_network = backnet
nic1_ip = 192.0.2.5
nic_count = 2
disk0_ivname = disk/0
disk0_dump = disk0.img
disk0_size = 3
disk0_name = root
disk1_ivname = disk/1
disk1_dump = disk1.img
disk1_size = 2
disk_count = 2

[hypervisor]
boot_order = disk
root_path = /dev/vda1
1st-param = odd name

[backend]
maxmem = 1024
minmem = 512
vcpus = 2
auto_balance = True

[os]
variant = bookworm
"""


@pytest.fixture
def schemas() -> Path:
    if not (SCHEMAS / "dsp8023_1.1.1.xsd").is_file():
        pytest.skip(f"{SCHEMAS} is absent: the DMTF OVF schemas are not available here")
    return SCHEMAS


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("instance")
    (folder / "config.ini").write_text(CONFIG)
    make_raw_disk(folder / "disk0.img", 3 * MIB)
    make_raw_disk(folder / "disk1.img", 2 * MIB - 512, seed=2)
    return folder / "config.ini"


def _descriptor(path: str, ova: bool) -> bytes:
    with open_package(path if ova else next(str(p) for p in Path(path).glob("*.ovf"))) as package:
        return package.descriptor


FORMATS = ["vmdk", "raw", "qcow2", "vdi", "vhd", "vhdx"]


@pytest.mark.parametrize(
    ("fmt", "external", "compress", "ova"),
    [
        (f, e, c, o)
        for f, e, c, o in itertools.product(FORMATS, (False, True), (False, True), (False, True))
        if not (c and f in ("vdi", "vhdx"))
    ],
)
def test_every_ovf1_export_validates(
    schemas: Path, instance: Path, tmp_path: Path, fmt: str, external: bool, compress: bool, ova: bool
) -> None:
    result = export_instance(
        str(instance),
        ExportOptions(format=fmt, external=external, compress=compress, ova=ova, output_dir=str(tmp_path)),
    )
    descriptor = _descriptor(result.path, ova)
    violations = validate_descriptor(descriptor, str(schemas), "export")
    assert violations == [], "\n".join(map(str, violations))
    assert (b"GanetiSection" in descriptor) is not external


@pytest.mark.parametrize(
    "options",
    [
        {"vmdk_subformat": "monolithicSparse"},
        {"digest": "sha1"},
        {"name": "renamed"},
        {"virtual_system_type": "vmx-07 vmx-10"},
        {"format": "cow"},
    ],
)
def test_other_export_options_validate(schemas: Path, instance: Path, tmp_path: Path, options: dict[str, str]) -> None:
    result = export_instance(str(instance), ExportOptions(output_dir=str(tmp_path), **options))  # type: ignore[arg-type]
    violations = validate_descriptor(_descriptor(result.path, False), str(schemas), "export")
    assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_devices_and_efi_of_a_kvm_instance_validate(
    schemas: Path, instance: Path, tmp_path: Path, version: str
) -> None:
    """A kvm instance on LSI Logic SCSI with PCnet NICs and OVMF: the
    controller, NIC models and vmw:Config firmware written are valid OVF."""
    folder = tmp_path / "efi"
    folder.mkdir()
    for dump in ("disk0.img", "disk1.img"):
        shutil.copyfile(instance.parent / dump, folder / dump)
    devices = (
        "disk_type = scsi-hd\nscsi_controller_type = lsi\nnic_type = pcnet\nkvm_extra = -bios /usr/share/ovmf/OVMF.fd\n"
    )
    (folder / "config.ini").write_text(CONFIG.replace("[hypervisor]\n", "[hypervisor]\n" + devices))
    result = export_instance(
        str(folder / "config.ini"), ExportOptions(ovf_version=version, output_dir=str(tmp_path / "out"))
    )
    descriptor = _descriptor(result.path, False)
    if version == "1.0":
        violations = validate_descriptor(descriptor, str(schemas), "export")
        assert violations == [], "\n".join(map(str, violations))
    else:
        assert check_ovf2_structure(descriptor, "export") == []
    assert b'vmw:key="firmware" vmw:value="efi"' in descriptor
    # LSI Logic both importers have; PCnet VMware lacks (--for generic): E1000
    assert descriptor.count(b">lsilogic<") == 1 and descriptor.count(b">E1000<") == 2


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("external", [False, True])
def test_every_ovf2_export_has_the_dsp0243_2_structure(
    instance: Path, tmp_path: Path, fmt: str, external: bool
) -> None:
    result = export_instance(
        str(instance), ExportOptions(format=fmt, ovf_version="2.0", external=external, output_dir=str(tmp_path))
    )
    descriptor = _descriptor(result.path, False)
    assert check_ovf2_structure(descriptor, "export") == []
    root = etree.fromstring(descriptor)
    assert root.tag == "{http://schemas.dmtf.org/ovf/envelope/2}Envelope"
    storage = root.findall(".//{http://schemas.dmtf.org/ovf/envelope/2}StorageItem")
    ports = root.findall(".//{http://schemas.dmtf.org/ovf/envelope/2}EthernetPortItem")
    assert len(storage) == 2 and len(ports) == 2


def test_the_structure_check_finds_breakage(instance: Path, tmp_path: Path) -> None:
    result = export_instance(str(instance), ExportOptions(ovf_version="2.0", output_dir=str(tmp_path)))
    good = _descriptor(result.path, False)
    broken = good.replace(b'ovf:required="false"', b"").replace(b"<Info>Virtual disk information</Info>", b"")
    messages = [v.message for v in check_ovf2_structure(broken, "x")]
    assert any("DiskSection must start with Info" in m for m in messages)
    assert any('ovf:required="false"' in m for m in messages)


def test_ganeti_section_schema_is_an_ovf_section(schemas: Path) -> None:
    """The extension schema puts GanetiSection in the ovf:Section
    substitution group, derived from ovf:Section_Type."""
    xsd = etree.parse(ganeti_schema_path())
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    element = xsd.find("xs:element[@name='GanetiSection']", ns)
    assert element is not None and element.get("substitutionGroup") == "ovf:Section"
    extension = xsd.find("xs:complexType[@name='GanetiSection_Type']/xs:complexContent/xs:extension", ns)
    assert extension is not None and extension.get("base") == "ovf:Section_Type"


def test_a_ganeti_section_without_info_is_invalid(schemas: Path, instance: Path, tmp_path: Path) -> None:
    result = export_instance(str(instance), ExportOptions(output_dir=str(tmp_path)))
    good = _descriptor(result.path, False)
    broken = good.replace(b"<Info>Ganeti instance parameters (ganeti.org)</Info>", b"")
    violations = validate_descriptor(broken, str(schemas), "broken.ovf")
    assert violations and violations[0].element == "gnt:Version"
    assert "Expected is ( ovf:Info )" in violations[0].message


# What the fixtures give (doc/standards.rst records these results).
FIXTURE_RESULTS = {
    "cot/input.ovf": 0,
    "cot/csr1000v.ovf": 0,
    "cot/iosv.ovf": 0,
    "ganeti/wrong_extension.ovd": 0,
    "ganeti/ganeti.ovf": 6,
    "ganeti/virtualbox.ovf": 8,
}


@pytest.mark.parametrize(("fixture", "count"), sorted(FIXTURE_RESULTS.items()))
def test_fixture_validation_results(schemas: Path, fixture: str, count: int) -> None:
    data = (SHARED / "fixtures" / fixture).read_bytes()
    violations = validate_descriptor(data, str(schemas), fixture)
    assert len(violations) == count, "\n".join(map(str, violations))


def test_verify_schema_cli(schemas: Path, instance: Path, tmp_path: Path) -> None:
    export_instance(str(instance), ExportOptions(ova=True, output_dir=str(tmp_path)))
    ova = tmp_path / "web1.example.com.ova"
    proc = run_cli("verify", "--schema", str(schemas), str(ova))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALID     the descriptor conforms to dsp8023_1.1.1.xsd and ganeti.xsd" in proc.stdout
    bad = run_cli("verify", "--schema", str(schemas), str(SHARED / "fixtures" / "ganeti" / "ganeti.ovf"))
    assert bad.returncode == 1
    assert "line 8: Element 'ovf:Disk': The attribute 'ovf:capacity' is required but missing." in bad.stdout
    assert "line 11: Element 'gnt:Version'" in bad.stdout
    missing = run_cli("verify", "--schema", str(tmp_path), str(ova))
    assert missing.returncode == 1
    assert "holds no dsp8023*.xsd" in missing.stderr
