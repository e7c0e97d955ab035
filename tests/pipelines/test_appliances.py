"""Vendor appliances: deployment profiles that attach a few of many Disks,
blank size templates, one blank Disk attached twice (tests/data/
ovf10_appliance.ovf, written from DSP0243 1.1 and how vendors use it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from builders import (
    DATA,
    DiskSpec,
    VmSpec,
    allocated,
    build_package,
    descriptor,
    folder_package,
    images_identical,
    read_ini,
    run_cli,
    streamoptimized,
)
from lxml import etree

from ovfconverter import ImportOptions, import_package
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.info import read_package, to_json
from ovfconverter.model.hardware import describe_hardware, unattached_disks
from ovfconverter.pipelines.importer import build_plan

MIB = 1 << 20
GIB = 1 << 30
TIB = 1 << 40
OS = "raw-image+default"
SAMPLE = "ovf10_appliance.ovf"
TEMPLATES = [
    "data-25g",
    "data-50g",
    "data-100g",
    "data-500g",
    "data-2t",
    "log-5g",
    "log-10g",
    "log-20g",
    "index-10g",
    "index-50g",
    "index-100g",
    "archive-1t",
    "archive-2t",
    "archive-4t",
]


def envelope():
    return read_envelope((DATA / SAMPLE).read_bytes(), SAMPLE)


@pytest.mark.parametrize(
    ("profile", "cpus", "memory", "disks", "nics"),
    [
        ("tiny", 2, 4 * GIB, ["system", "swap-tiny", "data-10g", "scratch"], ["frontend"]),
        ("small", 4, 8 * GIB, ["system", "swap-small", "data-250g", "scratch"], ["frontend"]),
        (
            "large",
            8,
            32 * GIB,
            ["system", "swap-large", "data-1t", "data-1t", "log-40g", "scratch"],
            ["frontend", "backend"],
        ),
    ],
)
def test_each_profile_has_only_the_disks_its_items_attach(
    profile: str, cpus: int, memory: int, disks: list[str], nics: list[str]
) -> None:
    env = envelope()
    assert len(env.disks) == 23
    hw = describe_hardware(env, env.virtual_systems[0], profile)
    assert (hw.cpus, hw.memory) == (cpus, memory)
    assert [a.disk.disk_id for a in hw.disks if a.disk] == disks
    assert [n.connection for n in hw.nics] == nics
    assert hw.problems == []
    attached_elsewhere = {"swap-tiny", "swap-small", "swap-large", "data-10g", "data-250g", "data-1t", "log-40g"}
    assert set(hw.unused_disks) == attached_elsewhere - set(disks)
    assert unattached_disks(env) == TEMPLATES


def test_a_blank_disk_attached_twice_is_two_empty_disks() -> None:
    env = envelope()
    hw = describe_hardware(env, env.virtual_systems[0], "large")
    data = [a for a in hw.disks if a.disk and a.disk.disk_id == "data-1t"]
    assert [a.item.element_name for a in data if a.item] == ["data disk 1", "data disk 2"]
    assert any("blank Disk 'data-1t' is attached by 2 Items; each gets an empty disk of its own" in n for n in hw.notes)
    plan = build_plan(env, ImportOptions(os_type=OS, deployment_option="large", accept_eula=True), SAMPLE)
    assert [(d.index, d.blank_size) for d in plan.disks if d.disk and d.disk.source_id == "data-1t"] == [
        (2, TIB),
        (3, TIB),
    ]


def test_default_profile_plan_is_four_disks_not_twenty_three() -> None:
    env = envelope()
    plan = build_plan(env, ImportOptions(os_type=OS, accept_eula=True), SAMPLE)
    assert plan.profile == "tiny"
    assert [d.label for d in plan.disks] == ["Disk 'system'", "Disk 'swap-tiny'", "Disk 'data-10g'", "Disk 'scratch'"]
    assert [d.blank_size for d in plan.disks] == [None, 512 * MIB, 10 * GIB, GIB]
    assert (
        "profile 'tiny' does not attach Disk(s) 'swap-small', 'swap-large', 'data-250g', 'data-1t', 'log-40g' "
        "(other profiles do); not imported"
    ) in plan.warnings
    assert any(w.startswith("blank Disk(s) 'data-25g', 'data-50g'") and "not created" in w for w in plan.warnings)


def test_import_of_the_default_profile(tmp_path: Path, out_dir: Path) -> None:
    raw, vmdk = streamoptimized(tmp_path, "system", 64 * MIB, seed=42)
    package = build_package(tmp_path, "ova", SAMPLE, {"system.vmdk": vmdk})
    result = import_package(str(package), ImportOptions(os_type=OS, output_dir=str(out_dir), accept_eula=True))
    ini = read_ini(Path(result.path) / "config.ini")
    instance = ini["instance"]
    assert instance["name"] == "monitor-appliance"
    assert instance["disk_count"] == "4"
    assert [instance[f"disk{n}_size"] for n in range(4)] == ["64", "512", "10240", "1024"]
    assert ini["backend"]["vcpus"] == "2" and ini["backend"]["maxmem"] == "4096"
    assert instance["nic_count"] == "1"
    folder = Path(result.path)
    assert images_identical(raw, "raw", folder / "disk0.raw", "raw")
    for index, size in ((1, 512 * MIB), (2, 10 * GIB), (3, GIB)):
        dump = folder / f"disk{index}.raw"
        assert dump.stat().st_size == size
        assert allocated(dump) < MIB, "blank disks stay sparse"


def test_info_lists_what_each_profile_imports(tmp_path: Path) -> None:
    _, vmdk = streamoptimized(tmp_path, "system", 4 * MIB, seed=1)
    package = build_package(tmp_path, "folder", SAMPLE, {"system.vmdk": vmdk})
    data = to_json(read_package(str(package)))
    (system,) = data["systems"]
    assert system["disks"] == ["system", "swap-tiny", "data-10g", "scratch"]
    by_profile = {p["profile"]: p for p in system["profiles"]}
    assert list(by_profile) == ["tiny", "small", "large"]
    assert by_profile["large"] == {
        "profile": "large",
        "cpus": 8,
        "memory_mib": 32768,
        "disks": ["system", "swap-large", "data-1t", "data-1t", "log-40g", "scratch"],
        "disk_bytes": 64 * MIB + 8 * GIB + 2 * TIB + 40 * GIB + GIB,
        "nics": ["frontend", "backend"],
    }
    assert by_profile["small"]["disk_bytes"] == 64 * MIB + 2 * GIB + 250 * GIB + GIB
    blank_warnings = [w for w in data["warnings"] if "has no file" in w]
    assert sorted(blank_warnings) == sorted(
        f"Disk {d!r} has no file: an import creates it empty" for d in ("swap-tiny", "data-10g", "scratch")
    )
    text = run_cli("info", str(package)).stdout
    assert "  per deployment option, an import creates:\n" in text
    assert (
        "    large: 8 CPU(s), 32768 MiB, 6 disk(s) (system, swap-large, data-1t, data-1t, log-40g, scratch; "
        "2.0 TiB), 2 NIC(s) on frontend, backend\n"
    ) in text
    assert "  disks of other deployment options only: swap-small, swap-large, data-250g, data-1t, log-40g\n" in text
    assert "  blank disks no Item attaches (never created): data-25g (25.0 GiB), data-50g (50.0 GiB)," in text


def _without_disk_items(text: str) -> str:
    return re.sub(r"      <Item>\s*<rasd:ElementName>disk\d</rasd:ElementName>.*?</Item>\n", "", text, flags=re.S)


def test_disks_no_item_attaches_are_all_imported_only_when_no_item_attaches_any(tmp_path: Path, out_dir: Path) -> None:
    """VirtualBox 2.2 wrote packages whose Items attach no disk: then every
    Disk of the DiskSection is the VM's."""
    raws = [streamoptimized(tmp_path, f"d{n}", MIB * (n + 1), seed=n) for n in range(2)]
    vm = VmSpec(disks=[DiskSpec(href=f"d{n}.vmdk") for n in range(2)])
    files = {f"d{n}.vmdk": raws[n][1] for n in range(2)}
    ovf = folder_package(tmp_path / "pkg", vm, files, manifest=None)
    ovf.write_text(_without_disk_items(descriptor(vm)))
    assert "ovf:/disk/" not in ovf.read_text()
    result = import_package(str(ovf), ImportOptions(os_type=OS, output_dir=str(out_dir)))
    assert len(result.disks) == 2
    for n in range(2):
        assert images_identical(raws[n][0], "raw", Path(result.path) / f"disk{n}.raw", "raw")
    assert any("no Item of the package attaches a disk" in w for w in result.warnings)


def test_a_disk_with_a_file_attached_twice_is_imported_once(tmp_path: Path) -> None:
    vm = VmSpec(disks=[DiskSpec(href="d0.vmdk", capacity=MIB)])
    text = descriptor(vm).replace(
        "    </VirtualHardwareSection>",
        """      <Item>
        <rasd:AddressOnParent>1</rasd:AddressOnParent>
        <rasd:ElementName>again</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/disk0</rasd:HostResource>
        <rasd:InstanceID>40</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>""",
    )
    env = read_envelope(text.encode(), "twice.ovf")
    hw = describe_hardware(env, env.virtual_systems[0], None)
    assert len(hw.disks) == 1
    assert any("one image cannot be two disks of one VM" in note for note in hw.notes)


def test_a_blank_disk_named_twice_at_one_address_is_one_disk() -> None:
    text = (
        (DATA / SAMPLE)
        .read_text()
        .replace("<rasd:AddressOnParent>3</rasd:AddressOnParent>", "<rasd:AddressOnParent>2</rasd:AddressOnParent>")
    )
    env = read_envelope(text.encode(), SAMPLE)
    hw = describe_hardware(env, env.virtual_systems[0], "large")
    assert [a.disk.disk_id for a in hw.disks if a.disk].count("data-1t") == 1
    assert any("at the same controller address as before" in note for note in hw.notes)


# -- ProductSection and EulaSection, as read ---------------------------------


def test_product_section_and_properties_are_read_in_full() -> None:
    (system,) = envelope().virtual_systems
    (product,) = system.products
    assert (product.class_id, product.instance_id) == ("org.example.monitor", None)
    assert (product.product, product.vendor, product.version, product.full_version) == (
        "Example Monitor",
        "Example Corp.",
        "4.2",
        "4.2.1 build 1234",
    )
    assert (product.product_url, product.vendor_url) == ("https://monitor.example.com/", "https://www.example.com/")
    by_key = {p.bare_key: p for p in product.properties}
    assert list(by_key) == [
        "hostname",
        "ip_mode",
        "ip_address",
        "http_port",
        "ssh",
        "admin_password",
        "build",
        "scratch_gib",
    ]
    hostname = by_key["hostname"]
    assert hostname.key == "org.example.monitor.hostname"
    assert (hostname.type, hostname.value, hostname.qualifiers) == ("string", None, "MinLen(1) MaxLen(63)")
    assert (hostname.user_configurable, hostname.password, hostname.label) == (True, False, "Host name")
    assert hostname.category == "Network"
    assert by_key["ip_mode"].qualifiers == 'ValueMap{"dhcp","static"}'
    assert by_key["admin_password"].password and by_key["admin_password"].category == "Accounts"
    assert not by_key["build"].user_configurable and by_key["build"].description == "Fixed by the vendor"
    scratch = by_key["scratch_gib"]
    assert scratch.profile_values == (("large", "4"),)
    assert [scratch.default_for(p) for p in (None, "tiny", "large")] == ["1", "1", "4"]
    assert system.eulas == ("Example Monitor evaluation license.\n\nYou may run this appliance for evaluation only.",)


COLLECTION = """<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References/>
  <VirtualSystemCollection ovf:id="suite">
    <Info>two systems sold together</Info>
    <ProductSection ovf:class="org.example.suite">
      <Info>the suite</Info>
      <Product>Suite</Product>
      <Property ovf:key="domain" ovf:type="string" ovf:value="example.org" ovf:userConfigurable="true"/>
    </ProductSection>
    <EulaSection><Info>suite license</Info><License>Suite terms</License></EulaSection>
    <VirtualSystem ovf:id="web">
      <Info>web</Info>
      <ProductSection><Info>web</Info><Property ovf:key="port" ovf:type="uint16" ovf:value="80"/></ProductSection>
      <EulaSection><Info>web license</Info><License>Web terms</License></EulaSection>
    </VirtualSystem>
    <VirtualSystem ovf:id="db"><Info>db</Info></VirtualSystem>
  </VirtualSystemCollection>
</Envelope>
"""


def test_collection_products_and_eulas_apply_to_every_system_inside() -> None:
    env = read_envelope(COLLECTION.encode(), "suite.ovf")
    web, db = env.virtual_systems
    assert [p.key for p in web.properties] == ["org.example.suite.domain", "port"]
    assert [p.key for p in db.properties] == ["org.example.suite.domain"]
    assert web.eulas == ("Suite terms", "Web terms")
    assert db.eulas == ("Suite terms",)
    assert "EulaSection" not in env.ignored_sections


# -- import with properties and a EULA -----------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def appliance_ova(tmp_path: Path) -> Path:
    _, vmdk = streamoptimized(tmp_path, "system", 4 * MIB, seed=3)
    return build_package(tmp_path, "ova", SAMPLE, {"system.vmdk": vmdk})


def test_a_package_with_a_eula_needs_accept_eula(appliance_ova: Path, out_dir: Path) -> None:
    proc = run_cli("import", str(appliance_ova), "-o", OS, "--output-dir", str(out_dir), "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "ovfconverter: error: the package has a license agreement (EulaSection): "
        "read it with 'ovfconverter info' and accept it with --accept-eula"
    ]
    assert list(out_dir.iterdir()) == []


def test_properties_reach_the_os_parameters(appliance_ova: Path, out_dir: Path) -> None:
    proc = run_cli(
        "import",
        str(appliance_ova),
        "-o",
        OS,
        "--output-dir",
        str(out_dir),
        "--accept-eula",
        "--property",
        "hostname=mon1.example.com",
        "--property",
        "org.example.monitor.ssh=1",
        "--property",
        f"admin_password={PASSWORD}",
        "--deployment-option",
        "large",
    )
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
    assert "go to the OS parameter(s) ovf_properties and ovf_private_properties" in proc.stderr
    ini = read_ini(out_dir / "monitor-appliance" / "config.ini")
    assert json.loads(ini["os"]["ovf_properties"]) == {
        "org.example.monitor.hostname": "mon1.example.com",
        "org.example.monitor.ip_mode": "dhcp",
        "org.example.monitor.ip_address": "",
        "org.example.monitor.http_port": "8080",
        "org.example.monitor.ssh": "true",
        "org.example.monitor.build": "1234",
        "org.example.monitor.scratch_gib": "4",
    }
    assert json.loads(ini["os_private"]["ovf_private_properties"]) == {"org.example.monitor.admin_password": PASSWORD}
    instance = ini["instance"]
    assert instance["disk_count"] == "6"
    assert instance["disk5_size"] == str(4 * 1024), "the scratch disk's ${scratch_gib} is 4 under 'large'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--property", "http_port=80"], "property 'org.example.monitor.http_port' (uint16): '80' is below MinValue"),
        (["--property", "ip_mode=manual"], "'manual' is not one of the ValueMap: 'dhcp', 'static'"),
        (["--property", "build=9"], "--property 'build': the package does not let users set it"),
        (["--property", "admin_password=pw7"], "the value is shorter than MinLen(8)"),
    ],
)
def test_bad_properties_are_refused_in_one_line(
    appliance_ova: Path, out_dir: Path, args: list[str], message: str
) -> None:
    proc = run_cli("import", str(appliance_ova), "-o", OS, "--output-dir", str(out_dir), "--accept-eula", *args)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("ovfconverter: error: ") and message in line
    assert "pw7" not in line, "a password is never echoed"
    assert list(out_dir.iterdir()) == []


def test_property_option_needs_key_equals_value(appliance_ova: Path) -> None:
    proc = run_cli("import", str(appliance_ova), "-o", OS, "--property", "hostname")
    assert proc.returncode == 2 and "'hostname' is not KEY=VALUE" in proc.stderr


def test_os_parameter_option_leaves_properties_out(appliance_ova: Path, out_dir: Path) -> None:
    result = import_package(
        str(appliance_ova),
        ImportOptions(
            os_type=OS,
            output_dir=str(out_dir),
            accept_eula=True,
            os_parameters={"ovf_properties": None, "ovf_private_properties": None},
        ),
    )
    ini = read_ini(Path(result.path) / "config.ini")
    assert "ovf_properties" not in ini["os"] and "os_private" not in ini
    assert not any("go to the OS parameter" in w for w in result.warnings)


def test_info_shows_product_properties_and_eula(appliance_ova: Path) -> None:
    data = to_json(read_package(str(appliance_ova)))
    (system,) = data["systems"]
    assert system["eulas"] == ["Example Monitor evaluation license.\n\nYou may run this appliance for evaluation only."]
    (product,) = system["products"]
    assert product["product"] == "Example Monitor" and product["vendor"] == "Example Corp."
    by_key = {p["ovf_key"]: p for p in product["properties"]}
    assert by_key["admin_password"]["os_parameter"] == "ovf_private_properties"
    assert by_key["scratch_gib"]["profile_defaults"] == {"large": "4"}
    assert by_key["ip_mode"] == {
        "key": "org.example.monitor.ip_mode",
        "ovf_key": "ip_mode",
        "type": "string",
        "default": "dhcp",
        "qualifiers": 'ValueMap{"dhcp","static"}',
        "user_configurable": True,
        "password": False,
        "label": "Addressing",
        "description": "dhcp, or static with the address below",
        "category": "Network",
        "profile_defaults": {},
        "os_parameter": "ovf_properties",
    }
    text = run_cli("info", str(appliance_ova)).stdout
    assert "  product: Example Monitor 4.2 (4.2.1 build 1234), Example Corp.\n" in text
    assert (
        "      org.example.monitor.http_port  uint16 MinValue(1024) MaxValue(65535), default '8080', "
        "user-configurable: Web port\n"
    ) in text
    assert (
        "      org.example.monitor.scratch_gib  uint8, default '1' ('4' in large), fixed: Scratch disk size (GiB)\n"
        in (text)
    )
    assert (
        "  license agreement (import needs --accept-eula):\n"
        "    | Example Monitor evaluation license.\n"
        "    |\n"
        "    | You may run this appliance for evaluation only.\n"
    ) in text


def test_info_hides_a_password_default_and_escapes_a_eula(tmp_path: Path) -> None:
    text = (
        (DATA / SAMPLE)
        .read_text()
        .replace(
            'ovf:password="true" ovf:qualifiers="MinLen(8)"',
            'ovf:password="true" ovf:qualifiers="MinLen(8)" ovf:value="vendor-default-pw"',
        )
        .replace("for evaluation only.", "for evaluation only.&#x9b;2J&#x202e;desrever")
    )
    ovf = tmp_path / "app.ovf"
    ovf.write_text(text)
    out = run_cli("info", str(ovf)).stdout
    assert "vendor-default-pw" not in out and "a default (hidden: a password)" in out
    assert "\x9b" not in out and "\u202e" not in out
    assert "    | You may run this appliance for evaluation only.\\x9b2J\\u202edesrever\n" in out


def test_csr1000v_properties_are_listed(cot_dir: Path) -> None:
    data = to_json(read_package(str(cot_dir / "csr1000v.ovf")))
    (product,) = data["systems"][0]["products"]
    assert product["product"] == "Cisco CSR 1000V Cloud Services Router"
    assert len(product["properties"]) == 27
    assert product["properties"][1]["key"] == "com.cisco.csr1000v.hostname.1"
    assert [p["ovf_key"] for p in product["properties"] if p["password"]] == [
        "login-password",
        "pnsc-shared-secret-key",
        "privilege-password",
        "MGMT_KEY",
    ]


# -- the raw-image OS definition applies them ----------------------------------

RAW_IMAGE = Path(__file__).resolve().parents[2] / "examples" / "ganeti-os" / "raw-image"


def test_raw_image_os_declares_the_property_parameters() -> None:
    names = [line.split()[0] for line in (RAW_IMAGE / "parameters.list").read_text().splitlines() if line.strip()]
    assert names == ["ovf_properties", "ovf_private_properties"]


def test_raw_image_import_writes_the_ovf_environment(appliance_ova: Path, out_dir: Path, tmp_path: Path) -> None:
    """Run the OS definition's import script as Ganeti would (OSP_* from
    config.ini, the disk on stdin) on what ovfconverter wrote."""
    result = import_package(
        str(appliance_ova),
        ImportOptions(
            os_type=OS,
            output_dir=str(out_dir),
            accept_eula=True,
            properties={"hostname": "mon1", "admin_password": 'p%ss <&"> word'},
        ),
    )
    ini = read_ini(Path(result.path) / "config.ini")
    device = tmp_path / "device0"
    env = {
        "PATH": "/usr/bin:/bin",
        "IMPORT_DEVICE": str(device),
        "IMPORT_INDEX": "0",
        "INSTANCE_NAME": "mon1.example.com",
        "OVF_ENV_DIR": str(tmp_path / "ovf-env"),
        "OSP_OVF_PROPERTIES": ini["os"]["ovf_properties"],
        "OSP_OVF_PRIVATE_PROPERTIES": ini["os_private"]["ovf_private_properties"],
    }
    dump = Path(result.path) / "disk0.raw"
    with open(dump, "rb") as stdin:
        proc = subprocess.run([str(RAW_IMAGE / "import")], stdin=stdin, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert device.read_bytes() == dump.read_bytes()
    folder = tmp_path / "ovf-env" / "mon1.example.com"
    document = folder / "ovf-env.xml"
    assert document.stat().st_mode & 0o777 == 0o600 and folder.stat().st_mode & 0o777 == 0o700
    root = etree.fromstring(document.read_bytes())
    oe = "{http://schemas.dmtf.org/ovf/environment/1}"
    assert root.tag == f"{oe}Environment" and root.get(f"{oe}id") == "mon1.example.com"
    values = {p.get(f"{oe}key"): p.get(f"{oe}value") for p in root.iter(f"{oe}Property")}
    assert values["org.example.monitor.hostname"] == "mon1"
    assert values["org.example.monitor.admin_password"] == 'p%ss <&"> word'
    assert values["org.example.monitor.http_port"] == "8080"
    assert len(values) == 8


def test_raw_image_import_of_other_disks_writes_no_environment(tmp_path: Path) -> None:
    device = tmp_path / "device1"
    env = {
        "PATH": "/usr/bin:/bin",
        "IMPORT_DEVICE": str(device),
        "IMPORT_INDEX": "1",
        "INSTANCE_NAME": "x",
        "OVF_ENV_DIR": str(tmp_path / "ovf-env"),
        "OSP_OVF_PROPERTIES": '{"k":"v"}',
    }
    proc = subprocess.run([str(RAW_IMAGE / "import")], input=b"disk", env=env, capture_output=True)
    assert proc.returncode == 0 and device.read_bytes() == b"disk"
    assert not (tmp_path / "ovf-env").exists()


# -- the user guide's walkthrough is what the commands print --------------------

ROOT = Path(__file__).resolve().parents[2]


def _doc_block(command: str) -> list[str]:
    """The lines the user guide shows after ``$ COMMAND`` (4-space indented)."""
    lines = (ROOT / "doc" / "user-guide.rst").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"    $ {command}") + 1
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    ") or line.startswith("    $ "):
            break
        block.append(line[4:])
    while block and not block[-1]:
        block.pop()
    return block


def _doc_block_after(first: str) -> list[str]:
    """The user guide's lines from the one starting with ``first`` to the
    next unindented line."""
    lines = (ROOT / "doc" / "user-guide.rst").read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(first))
    end = next(n for n in range(start, len(lines)) if lines[n] and not lines[n].startswith("    "))
    return lines[start:end]


def test_user_guide_appliance_walkthrough_is_real(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make-example"), str(tmp_path)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    info = run_cli("info", "monitor.ova", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines() == _doc_block("ovfconverter info monitor.ova")
    refused = run_cli("import", "monitor.ova", "-o", OS, cwd=tmp_path)
    assert refused.stderr.splitlines() == _doc_block("ovfconverter import monitor.ova -o raw-image+default")
    bad = run_cli("import", "monitor.ova", "-o", OS, "--accept-eula", "--property", "http_port=80", cwd=tmp_path)
    assert bad.stderr.splitlines() == _doc_block(
        "ovfconverter import monitor.ova -o raw-image+default --accept-eula --property http_port=80"
    )
    out = tmp_path / "out"
    done = run_cli(
        *("import", "monitor.ova", "-n", "mon1.example.com", "-o", OS, "--accept-eula"),
        *("--property", "hostname=mon1.example.com", "--property", "ip_mode=static"),
        *("--property", "ip_address=192.0.2.10", "--property", "admin_password=correct horse battery"),
        *("--net", "0:network=none,mode=bridged,link=br0", "--output-dir", str(out)),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = (ROOT / "doc" / "user-guide.rst").read_text(encoding="utf-8").splitlines()
    start = lines.index("          --net 0:network=none,mode=bridged,link=br0 --output-dir /srv/export") + 1
    shown = [line[4:].replace("/srv/export", str(out)) for line in lines[start : lines.index("", start)]]
    assert (done.stderr + done.stdout).splitlines() == shown
    ini = read_ini(out / "mon1.example.com" / "config.ini")
    block = "\n".join(_doc_block_after('    ovf_properties = {"org.example.monitor.'))
    assert f"ovf_properties = {ini['os']['ovf_properties']}" in block
    assert f"ovf_private_properties = {ini['os_private']['ovf_private_properties']}" in block


def test_convert_to_openstack_needs_accept_eula_too(appliance_ova: Path, tmp_path: Path) -> None:
    refused = run_cli("convert", str(appliance_ova), "--to", "openstack", "--output-dir", str(tmp_path / "a"))
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].endswith("read it with 'ovfconverter info' and accept it with --accept-eula")
    done = run_cli(
        "convert", str(appliance_ova), "--to", "openstack", "--accept-eula", "--output-dir", str(tmp_path / "b")
    )
    assert done.returncode == 0, done.stderr
