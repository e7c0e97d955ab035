"""Side by side with Ganeti 3.0.2's own ``ovfconverter`` (the reference peer).

Each fixture the peer can import is imported by both tools with the same
options into separate folders, and the two ``config.ini`` files are compared
key by key:

* where the peer is right, ours must write exactly what it writes;
* every other difference is listed in :data:`DIFFERENCES` with the peer's
  value, ours and why; both values are asserted exactly, so a change of
  behaviour on either side fails, and so does any difference not listed.

The disk dumps are compared with ``qemu-img compare`` the same way
(:data:`DUMP_DIFFERENCES` lists where the peer's dump is wrong, and what ours
must equal instead).  Finally, the peer exits 0 after an error where ours
exits 1 with a single ``ovfconverter: error:`` line.

Reasons cite Ganeti 3.0's import code (``cmdlib/instance_create.py``
``LUInstanceCreate._ReadExportParams`` / ``CheckPrereq``,
``cmdlib/instance_utils.py`` ``ComputeNics`` / ``ComputeFullBeParams``,
``objects.SerializableConfigParser.get``, which reads a missing
``nicN_network``/``nicN_vlan``/``diskN_name`` and any value ``none`` as
``None``), ``../shared/docs/ANCHORS.md`` and ``../shared/fixtures/README.md``.
Each reason starts with its kind: ``peer wrong``, ``equivalent`` (Ganeti
imports both the same way) or ``ours adds``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import image_info, images_identical, read_ini, run_cli, run_peer

pytestmark = pytest.mark.peer


@dataclass(frozen=True)
class Case:
    """One side-by-side import: ``id`` is the table's "fixture" key."""

    id: str
    package: str  # "ganeti/..." or "cot/...", under ../shared/fixtures
    name: str  # the instance name, i.e. the export folder both tools create
    args: tuple[str, ...] = ()


VBOX_ARGS = ("-n", "vbox-test", "-o", "lenny-image")
EMPTY_ARGS = ("-n", "empty-test", "-o", "lenny-image")

CASES = [
    Case("ganeti/ganeti.ovf", "ganeti/ganeti.ovf", "ganeti-test-xen"),
    Case("ganeti/virtualbox.ovf", "ganeti/virtualbox.ovf", "vbox-test", VBOX_ARGS),
    Case("ganeti/gzip_disk.ovf", "ganeti/gzip_disk.ovf", "ganeti-test-xen"),
    Case("ganeti/ova.ova", "ganeti/ova.ova", "ganeti-test-xen"),
    Case(
        "ganeti/ganeti.ovf+options",
        "ganeti/ganeti.ovf",
        "renamed",
        ("-n", "renamed", "-B", "vcpus=2", "--tags", "web,prod", "-t", "drbd"),
    ),
    Case("ganeti/empty.ovf+net", "ganeti/empty.ovf", "empty-test", (*EMPTY_ARGS, "--net", "0:mode=bridged,link=br0")),
    Case("ganeti/empty.ovf+disk", "ganeti/empty.ovf", "empty-test", (*EMPTY_ARGS, "--disk", "0:size=16M", "--no-nics")),
    Case("cot/input.ovf", "cot/input.ovf", "test", ("-o", "debootstrap+default")),
    Case(
        "cot/minimal.ovf+net",
        "cot/minimal.ovf",
        "minimal",
        ("-n", "minimal", "-o", "debootstrap+default", "--net", "0:mode=bridged,link=br0"),
    ),
    Case("cot/iosv.ovf", "cot/iosv.ovf", "iosv", ("-n", "iosv", "-o", "iosv")),
    Case("cot/csr1000v.ovf", "cot/csr1000v.ovf", "csr", ("-n", "csr", "-o", "csr")),
]

# --- why the two config.ini files differ -------------------------------------------------

DUMP_NAME = (
    "equivalent: naming only. gnt-backup import opens whatever diskN_dump names "
    "(instance_create.py, 'disk%d_dump'); ours are always diskN.raw (importer/plan.py), the peer's "
    "are named after the source file, which collides when two disks' files share a base name"
)
SIZE_ROUNDED_DOWN = (
    "peer wrong: sizes round down (ANCHORS.md): the 51 200-byte disk becomes 0 MiB, and Ganeti "
    "creates the disk from diskN_size (_ReadExportParams getint), smaller than the dump; "
    "ours rounds up to whole MiB (fixtures README: disk0_size = 1)"
)
NETWORK_AUTO = (
    "peer wrong: _ReadExportParams passes any non-empty nicN_network on (and then ignores "
    "nicN_mode/nicN_link), and ComputeNics' cfg.LookupNetwork('auto') looks for a Ganeti network "
    "named 'auto', so gnt-backup import fails (ANCHORS.md); ours writes none: mode/link apply"
)
NETWORK_FROM_OVF = (
    "peer wrong: nicN_network = auto makes gnt-backup import look for a network named 'auto' "
    "(ComputeNics, cfg.LookupNetwork); ours takes the OVF network (rasd:Connection) for a Ganeti "
    "network only when the node's cluster has one of that name (ssconf_networks), which these "
    "tests, run off a Ganeti node, cannot know: it writes none"
)
IP_NONE = (
    "equivalent: SerializableConfigParser.get reads 'none'/'None' as None and ComputeNics treats "
    "a missing nicN_ip and None alike (no IP); ours leaves unknown values out"
)
IP_AUTO = (
    "peer wrong: ComputeNics reads ip 'auto' as 'the address the instance name resolves to' "
    "(refused with --no-name-check, and the same address on every NIC); the OVF states no IP"
)
LINK_AUTO = (
    "peer wrong: ComputeNics passes a link through as is ('if link: nicparams[link] = link'), "
    "so 'auto' names a bridge called 'auto'; ours 'none' reads as None: the cluster's default link"
)
MODE_AUTO = (
    "equivalent: the peer's 'auto' is the cluster's default mode (ComputeNics); ours 'none' reads "
    "as None (SerializableConfigParser.get), the cluster's default mode too"
)
HYPERVISOR_AUTO = (
    "equivalent: LUInstanceCreate.CheckPrereq replaces a missing hypervisor and 'auto' alike by "
    "the cluster's default hypervisor; ours leaves unknown values out"
)
BACKEND_AUTO = (
    "equivalent: ComputeFullBeParams replaces 'auto' by the cluster default, which is also what "
    "a missing key gets; ours leaves unknown values out"
)
MEMORY_AUTO = (
    "peer wrong: ComputeFullBeParams replaces 'auto' by default_beparams['memory'], which Ganeti "
    "2.6+ does not have (BEC_DEFAULTS: maxmem/minmem), so gnt-backup import fails (ANCHORS.md: "
    "memory = auto is rejected); the package states no memory, ours leaves it to the cluster"
)
MAXMEM_ADDED = (
    "ours adds: Ganeti 2.6+ backend parameters (BES_PARAMETERS has maxmem/minmem, no memory; modern "
    "gnt-backup export writes them); _ReadExportParams derives the same values from [backend] "
    "memory, which ours also keeps for older Ganeti"
)
COUNT_ADDED = (
    "equivalent: ours always writes nic_count/disk_count; Ganeti counts NICs by nicN_mac and disks "
    "by diskN_size (_ReadExportParams), so 0 and missing are the same"
)
PROFILE = (
    "peer wrong: DeploymentOptionSection ignored (ANCHORS.md); the default profile "
    "4CPU-4GB-3NIC has 4 CPUs and 4096 MiB (fixtures README)"
)
NIC_PER_NETWORK = (
    "peer wrong: NICs counted per NetworkSection network, not per Ethernet Item (ANCHORS.md); the "
    "default profile has {count} Ethernet Items"
)
EXTRA_NIC = "peer wrong: " + NIC_PER_NETWORK.split(": ", 1)[1] + "; ours writes NICs of the default profile only"
BLANK_DISK = (
    "peer wrong: disk 'flash2' (128 MiB, no file) is dropped; ours creates it empty "
    "(fixtures README: disks without files are blank disks to create)"
)
UNATTACHED_DISK = (
    "peer wrong: every DiskSection Disk becomes a disk, attached or not; vmdisk2 is named by no "
    "disk Item (both Items name vmdisk1 at IDE 0:0), so it is not the VM's (DSP0243 9.1, 9.5: "
    "disks reach a VM through HostResource; doc/decisions.rst 'Which disks'); ours imports "
    "vmdisk1 and warns that vmdisk2 is left out"
)
TAGS = (
    "peer wrong: tags written comma-separated (ANCHORS.md); _ReadExportParams splits tags on "
    "whitespace and ValidateTag refuses ',' (VALID_TAG_RE), so gnt-backup import fails"
)
B_REPLACES_SECTION = (
    "peer wrong: -B replaces the whole backend section (ANCHORS.md), dropping the OVF's memory "
    "(2048) and the Ganeti section's AutoBalance (False); ours overrides per key (README)"
)


PROPERTIES = (
    "ours adds: the package's ProductSection properties with their defaults, as one JSON object (passwords "
    "in [os_private]), for the OS definition to apply (doc/mapping.rst 'Properties'); the peer drops them"
)


def _properties(case: str, public: dict[str, str], private: dict[str, str]) -> dict:
    """The [os] and [os_private] parameters holding a package's property defaults."""

    def as_json(values: dict[str, str]) -> str:
        return json.dumps(values, separators=(",", ":"))

    return {
        (case, "os", "ovf_properties"): (None, as_json(public), PROPERTIES),
        (case, "os_private", "ovf_private_properties"): (None, as_json(private), PROPERTIES),
    }


CSR = "com.cisco.csr1000v."
CSR_PUBLIC = {
    "config-version": "1.0",
    "hostname": "",
    "login-username": "",
    "mgmt-interface": "GigabitEthernet1",
    "mgmt-vlan": "",
    "mgmt-ipv4-addr": "",
    "mgmt-ipv4-gateway": "",
    "mgmt-ipv4-network": "",
    "pnsc-ipv4-addr": "",
    "pnsc-agent-local-port": "",
    "remote-mgmt-ipv4-addr": "",
    "enable-scp-server": "false",
    "enable-ssh-server": "false",
    "domain-name": "",
    "license": "ax",
    "console": "",
    "resource-template": "default",
    "Mode": "",
    "CONTROL_PORT": "",
    "TUNNEL_PORT": "",
    "ic-tunnel-header-size": "148",
    "ic-tunnel-ipv4-addr": "",
    "ic-tunnel-ipv4-gateway": "",
}
CSR_PRIVATE = ("login-password", "pnsc-shared-secret-key", "privilege-password", "MGMT_KEY")


def _common_ganeti(case: str, dump: str) -> dict[tuple[str, str, str], tuple[str | None, str | None, str]]:
    """What ganeti.ovf-like imports (Ganeti section, one disk, one NIC) differ in."""
    return {
        (case, "instance", "disk0_dump"): (dump, "disk0.raw", DUMP_NAME),
        (case, "instance", "nic0_network"): ("auto", None, NETWORK_AUTO),
        (case, "backend", "maxmem"): (None, "2048", MAXMEM_ADDED),
        (case, "backend", "minmem"): (None, "2048", MAXMEM_ADDED),
    }


def _ovf_nic(case: str, index: int, network: str) -> dict[tuple[str, str, str], tuple[str | None, str | None, str]]:
    """A NIC of a plain OVF both tools import (the peer writes 'auto' everywhere)."""
    return {
        (case, "instance", f"nic{index}_ip"): ("auto", None, IP_AUTO),
        (case, "instance", f"nic{index}_link"): ("auto", "none", LINK_AUTO),
        (case, "instance", f"nic{index}_mode"): ("auto", "none", MODE_AUTO),
        (case, "instance", f"nic{index}_network"): ("auto", None, NETWORK_FROM_OVF),
    }


def _extra_nic(
    case: str, index: int, count: int, network: str | None
) -> dict[tuple[str, str, str], tuple[str | None, str | None, str]]:
    """A NIC only one side writes: the peer's per-network NICs, or ours per Ethernet Item."""
    reason = EXTRA_NIC.format(count=count)
    if network is None:  # the peer's
        return {
            (case, "instance", f"nic{index}_{key}"): ("auto", None, reason)
            for key in ("mac", "ip", "link", "mode", "network")
        }
    return {
        (case, "instance", f"nic{index}_mac"): (None, "auto", reason),
        (case, "instance", f"nic{index}_mode"): (None, "none", reason),
        (case, "instance", f"nic{index}_link"): (None, "none", reason),
    }


DIFFERENCES: dict[tuple[str, str, str], tuple[str | None, str | None, str]] = {
    # ganeti/ganeti.ovf: Ganeti's own test OVF (Ganeti section, 51 200-byte disk)
    **_common_ganeti("ganeti/ganeti.ovf", "new_disk.raw"),
    ("ganeti/ganeti.ovf", "instance", "disk0_size"): ("0", "1", SIZE_ROUNDED_DOWN),
    ("ganeti/ganeti.ovf", "instance", "nic0_ip"): ("none", None, IP_NONE),
    # ganeti/gzip_disk.ovf: the same, its disk gzip-compressed
    **_common_ganeti("ganeti/gzip_disk.ovf", "compr_disk.raw"),
    ("ganeti/gzip_disk.ovf", "instance", "disk0_size"): ("0", "1", SIZE_ROUNDED_DOWN),
    ("ganeti/gzip_disk.ovf", "instance", "nic0_ip"): ("none", None, IP_NONE),
    # ganeti/ova.ova: gzip'd OVA, older Ganeti draft OVF, 8 GiB disk
    **_common_ganeti("ganeti/ova.ova", "new_disk.raw"),
    ("ganeti/ova.ova", "instance", "nic0_ip"): ("None", None, IP_NONE),
    # ganeti/ganeti.ovf -n renamed -B vcpus=2 --tags web,prod -t drbd
    **{k: v for k, v in _common_ganeti("ganeti/ganeti.ovf+options", "new_disk.raw").items() if k[1] != "backend"},
    ("ganeti/ganeti.ovf+options", "instance", "disk0_size"): ("0", "1", SIZE_ROUNDED_DOWN),
    ("ganeti/ganeti.ovf+options", "instance", "nic0_ip"): ("none", None, IP_NONE),
    ("ganeti/ganeti.ovf+options", "instance", "tags"): ("web,prod", "web prod", TAGS),
    ("ganeti/ganeti.ovf+options", "backend", "memory"): ("auto", "2048", B_REPLACES_SECTION),
    ("ganeti/ganeti.ovf+options", "backend", "maxmem"): (None, "2048", B_REPLACES_SECTION),
    ("ganeti/ganeti.ovf+options", "backend", "minmem"): (None, "2048", B_REPLACES_SECTION),
    ("ganeti/ganeti.ovf+options", "backend", "auto_balance"): ("auto", "False", B_REPLACES_SECTION),
    # ganeti/virtualbox.ovf -n vbox-test -o lenny-image: VirtualBox export, two 51 200-byte disks
    ("ganeti/virtualbox.ovf", "instance", "disk0_dump"): ("new_disk.raw", "disk0.raw", DUMP_NAME),
    ("ganeti/virtualbox.ovf", "instance", "disk0_size"): ("0", "1", SIZE_ROUNDED_DOWN),
    ("ganeti/virtualbox.ovf", "instance", "disk_count"): ("2", "1", UNATTACHED_DISK),
    ("ganeti/virtualbox.ovf", "instance", "disk1_dump"): ("second_disk.raw", None, UNATTACHED_DISK),
    ("ganeti/virtualbox.ovf", "instance", "disk1_size"): ("0", None, UNATTACHED_DISK),
    ("ganeti/virtualbox.ovf", "instance", "disk1_ivname"): ("disk/1", None, UNATTACHED_DISK),
    ("ganeti/virtualbox.ovf", "instance", "nic0_ip"): ("none", None, IP_NONE),
    ("ganeti/virtualbox.ovf", "instance", "nic0_link"): ("auto", "none", LINK_AUTO),
    ("ganeti/virtualbox.ovf", "instance", "nic0_network"): ("auto", None, NETWORK_AUTO),
    ("ganeti/virtualbox.ovf", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    ("ganeti/virtualbox.ovf", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    ("ganeti/virtualbox.ovf", "backend", "maxmem"): (None, "2048", MAXMEM_ADDED),
    ("ganeti/virtualbox.ovf", "backend", "minmem"): (None, "2048", MAXMEM_ADDED),
    # ganeti/empty.ovf -n empty-test -o lenny-image --net 0:mode=bridged,link=br0
    ("ganeti/empty.ovf+net", "instance", "nic0_ip"): ("none", None, IP_NONE),
    ("ganeti/empty.ovf+net", "instance", "nic0_network"): ("auto", None, NETWORK_AUTO),
    ("ganeti/empty.ovf+net", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    ("ganeti/empty.ovf+net", "instance", "disk_count"): (None, "0", COUNT_ADDED),
    ("ganeti/empty.ovf+net", "backend", "vcpus"): ("auto", None, BACKEND_AUTO),
    ("ganeti/empty.ovf+net", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    ("ganeti/empty.ovf+net", "backend", "memory"): ("auto", None, MEMORY_AUTO),
    # ganeti/empty.ovf -n empty-test -o lenny-image --disk 0:size=16M --no-nics
    ("ganeti/empty.ovf+disk", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    ("ganeti/empty.ovf+disk", "instance", "nic_count"): (None, "0", COUNT_ADDED),
    ("ganeti/empty.ovf+disk", "backend", "vcpus"): ("auto", None, BACKEND_AUTO),
    ("ganeti/empty.ovf+disk", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    ("ganeti/empty.ovf+disk", "backend", "memory"): ("auto", None, MEMORY_AUTO),
    # cot/minimal.ovf -n minimal -o debootstrap+default --net 0:mode=bridged,link=br0
    ("cot/minimal.ovf+net", "instance", "nic0_ip"): ("none", None, IP_NONE),
    ("cot/minimal.ovf+net", "instance", "nic0_network"): ("auto", None, NETWORK_AUTO),
    ("cot/minimal.ovf+net", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    ("cot/minimal.ovf+net", "instance", "disk_count"): (None, "0", COUNT_ADDED),
    ("cot/minimal.ovf+net", "backend", "vcpus"): ("auto", None, BACKEND_AUTO),
    ("cot/minimal.ovf+net", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    ("cot/minimal.ovf+net", "backend", "memory"): ("auto", None, MEMORY_AUTO),
    # cot/input.ovf -o debootstrap+default: VMware OVF, default profile 4CPU-4GB-3NIC on "VM Network"
    ("cot/input.ovf", "instance", "disk0_dump"): ("input.raw", "disk0.raw", DUMP_NAME),
    ("cot/input.ovf", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    **_ovf_nic("cot/input.ovf", 0, "VM Network"),
    **_extra_nic("cot/input.ovf", 1, 3, "VM Network"),
    **_extra_nic("cot/input.ovf", 2, 3, "VM Network"),
    ("cot/input.ovf", "instance", "nic_count"): ("1", "3", NIC_PER_NETWORK.format(count=3)),
    ("cot/input.ovf", "backend", "vcpus"): ("1", "4", PROFILE),
    ("cot/input.ovf", "backend", "memory"): ("1024", "4096", PROFILE),
    ("cot/input.ovf", "backend", "maxmem"): (None, "4096", PROFILE + "; " + MAXMEM_ADDED),
    ("cot/input.ovf", "backend", "minmem"): (None, "4096", PROFILE + "; " + MAXMEM_ADDED),
    ("cot/input.ovf", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    **_properties(
        "cot/input.ovf",
        {
            "login-username": "",
            "mgmt-ipv4-addr": "",
            "mgmt-ipv4-gateway": "",
            "hostname": "",
            "enable-ssh-server": "false",
            "enable-http-server": "false",
            "enable-https-server": "false",
            "domain-name": "",
        },
        {"login-password": "", "privilege-password": ""},
    ),
    # cot/iosv.ovf -n iosv -o iosv: Cisco IOSv, 16 networks, default profile with 2 NICs, a disk without file
    ("cot/iosv.ovf", "instance", "disk0_dump"): ("input.raw", "disk0.raw", DUMP_NAME),
    ("cot/iosv.ovf", "instance", "disk1_dump"): (None, "disk1.raw", BLANK_DISK),
    ("cot/iosv.ovf", "instance", "disk1_size"): (None, "128", BLANK_DISK),
    ("cot/iosv.ovf", "instance", "disk1_ivname"): (None, "disk/1", BLANK_DISK),
    ("cot/iosv.ovf", "instance", "disk_count"): ("1", "2", BLANK_DISK),
    ("cot/iosv.ovf", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    **_ovf_nic("cot/iosv.ovf", 0, "GigabitEthernet0_0"),
    **_ovf_nic("cot/iosv.ovf", 1, "GigabitEthernet0_1"),
    **{key: value for index in range(2, 16) for key, value in _extra_nic("cot/iosv.ovf", index, 2, None).items()},
    ("cot/iosv.ovf", "instance", "nic_count"): ("16", "2", NIC_PER_NETWORK.format(count=2)),
    ("cot/iosv.ovf", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    ("cot/iosv.ovf", "backend", "maxmem"): (None, "384", MAXMEM_ADDED),
    ("cot/iosv.ovf", "backend", "minmem"): (None, "384", MAXMEM_ADDED),
    # cot/csr1000v.ovf -n csr -o csr: Cisco CSR 1000V, default profile 1CPU-4GB, 3 NICs
    ("cot/csr1000v.ovf", "instance", "disk0_dump"): ("input.raw", "disk0.raw", DUMP_NAME),
    ("cot/csr1000v.ovf", "instance", "hypervisor"): ("auto", None, HYPERVISOR_AUTO),
    **_ovf_nic("cot/csr1000v.ovf", 0, "GigabitEthernet1"),
    **_ovf_nic("cot/csr1000v.ovf", 1, "GigabitEthernet2"),
    **_ovf_nic("cot/csr1000v.ovf", 2, "GigabitEthernet3"),
    ("cot/csr1000v.ovf", "backend", "auto_balance"): ("auto", None, BACKEND_AUTO),
    **_properties(
        "cot/csr1000v.ovf",
        {CSR + key + ".1": value for key, value in CSR_PUBLIC.items()},
        {CSR + key + ".1": "" for key in CSR_PRIVATE},
    ),
    ("cot/csr1000v.ovf", "backend", "maxmem"): (None, "4096", MAXMEM_ADDED),
    ("cot/csr1000v.ovf", "backend", "minmem"): (None, "4096", MAXMEM_ADDED),
}
"""(case id, section, key) -> (the peer's value, ours, why); ``None`` = key not written."""

# --- where the peer's disk dumps are wrong ---------------------------------------------------

DUMP_DIFFERENCES: dict[tuple[str, int], tuple[str, tuple[str, ...], str]] = {
    ("ganeti/gzip_disk.ovf", 0): (
        "gzip512",
        ("image", "vmdk", "ganeti/new_disk.vmdk"),
        "the peer 'decompresses' with gzip -c and writes 512 bytes of garbage (ANCHORS.md); ours equals "
        "new_disk.vmdk, the disk compr_disk.vmdk.gz holds (fixtures README)",
    ),
    ("ganeti/empty.ovf+disk", 0): (
        "missing",
        ("zeros", "16777216"),
        "the peer's --disk 0:size=16M creates a 512-byte file named '0' while config.ini names disk0.raw "
        "(ANCHORS.md); ours is the 16 MiB empty disk config.ini names",
    ),
    ("cot/iosv.ovf", 1): (
        "absent",
        ("zeros", "134217728"),
        "the peer drops the file-less 128 MiB disk 'flash2'; ours creates it empty (fixtures README)",
    ),
}
"""(case id, disk index) -> (what the peer writes, what ours must equal, why)."""


# --- running both tools ----------------------------------------------------------------------


@dataclass
class SideBySide:
    peer_dir: Path  # <output-dir>/<name> of the peer
    ours_dir: Path
    peer_stderr: str
    ours_stderr: str


@pytest.fixture(scope="module")
def imports(peer_ready: Path, tmp_path_factory: pytest.TempPathFactory):
    """Run both tools once per case (cached for the module)."""
    done: dict[str, SideBySide] = {}

    def run(case: Case, fixtures: Path) -> SideBySide:
        if case.id not in done:
            package = fixtures / case.package
            base = tmp_path_factory.mktemp(case.id.replace("/", "_").replace("+", "_"))
            peer_out, ours_out = base / "peer", base / "ours"
            peer_out.mkdir()
            ours_out.mkdir()
            peer = run_peer("import", str(package), f"--output-dir={peer_out}", *case.args)
            assert peer.returncode == 0, peer.stderr
            assert "Traceback" not in peer.stderr, f"the peer failed on {case.id}:\n{peer.stderr}"
            ours = run_cli("import", str(package), "--output-dir", str(ours_out), "--quiet", *case.args)
            assert ours.returncode == 0, f"ours failed on {case.id}:\n{ours.stderr}"
            done[case.id] = SideBySide(peer_out / case.name, ours_out / case.name, peer.stderr, ours.stderr)
        return done[case.id]

    return run


@pytest.fixture
def fixtures(ganeti_dir: Path, cot_dir: Path) -> Path:
    """../shared/fixtures (skips when absent)."""
    assert ganeti_dir.parent == cot_dir.parent
    return ganeti_dir.parent


# --- config.ini ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_config_ini_matches_peer(case: Case, fixtures: Path, imports) -> None:
    result = imports(case, fixtures)
    assert (result.peer_dir / "config.ini").is_file(), result.peer_stderr
    assert (result.ours_dir / "config.ini").is_file(), result.ours_stderr
    peer = read_ini(result.peer_dir / "config.ini")
    ours = read_ini(result.ours_dir / "config.ini")

    documented_sections = {section for (case_id, section, _) in DIFFERENCES if case_id == case.id}
    assert set(peer) ^ set(ours) <= documented_sections, "the two config.ini files have different sections"
    keys = {(section, key) for side in (peer, ours) for section, values in side.items() for key in values}
    keys |= {(section, key) for (case_id, section, key) in DIFFERENCES if case_id == case.id}
    problems = []
    for section, key in sorted(keys):
        got = (peer.get(section, {}).get(key), ours.get(section, {}).get(key))
        documented = DIFFERENCES.get((case.id, section, key))
        if documented is not None:
            if got != documented[:2]:
                problems.append(
                    f"[{section}] {key}: documented peer={documented[0]!r} ours={documented[1]!r}, "
                    f"now peer={got[0]!r} ours={got[1]!r}"
                )
        elif got[0] != got[1]:
            problems.append(f"[{section}] {key}: undocumented difference, peer={got[0]!r} ours={got[1]!r}")
    assert not problems, f"{case.id}:\n" + "\n".join(problems)


def test_difference_table_is_consistent() -> None:
    """Every entry names a case and a real difference, with a reason of a known kind."""
    ids = {case.id for case in CASES}
    for (case_id, section, key), (peer, ours, reason) in DIFFERENCES.items():
        assert case_id in ids, case_id
        assert section in ("export", "instance", "hypervisor", "backend", "os", "os_private"), section
        assert peer != ours, (case_id, section, key)
        assert reason.split(":", 1)[0] in ("peer wrong", "equivalent", "ours adds"), reason
    for case_id, index in DUMP_DIFFERENCES:
        assert case_id in ids and index >= 0


# --- disk dumps ----------------------------------------------------------------------------


def _zero_image(path: Path, size: int) -> Path:
    with open(path, "wb") as stream:
        stream.truncate(size)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_disk_dumps_match_peer(case: Case, fixtures: Path, imports, tmp_path: Path) -> None:
    result = imports(case, fixtures)
    peer = read_ini(result.peer_dir / "config.ini")["instance"]
    ours = read_ini(result.ours_dir / "config.ini")["instance"]
    count = int(ours["disk_count"])

    # our export folder holds config.ini and the dumps it names, nothing else
    dumps = [ours[f"disk{index}_dump"] for index in range(count)]
    assert sorted(p.name for p in result.ours_dir.iterdir()) == sorted(["config.ini", *dumps])

    for index in range(count):
        mine = result.ours_dir / ours[f"disk{index}_dump"]
        peer_name = peer.get(f"disk{index}_dump")
        theirs = result.peer_dir / peer_name if peer_name else None
        documented = DUMP_DIFFERENCES.get((case.id, index))
        if documented is None:
            assert theirs is not None and theirs.is_file(), f"disk {index}: the peer wrote no dump"
            assert os.path.getsize(mine) == os.path.getsize(theirs), f"disk {index}: sizes differ"
            assert images_identical(mine, "raw", theirs, "raw"), f"disk {index}: contents differ from the peer's"
            continue

        peer_writes, expected, _ = documented
        if peer_writes == "gzip512":
            assert theirs is not None and os.path.getsize(theirs) == 512
            assert theirs.read_bytes()[:2] == b"\x1f\x8b", "the peer's dump is no longer the gzip stream"
        elif peer_writes == "missing":
            assert theirs is not None and not theirs.exists(), "the peer now writes the dump config.ini names"
            assert os.path.getsize(result.peer_dir / str(index)) == 512, "the peer's stray file named after the index"
        elif peer_writes == "absent":
            assert theirs is None, "the peer now writes this disk"
        else:  # pragma: no cover - table typo
            raise AssertionError(peer_writes)

        if expected[0] == "image":
            reference = fixtures / expected[2]
            assert images_identical(mine, "raw", reference, expected[1]), f"disk {index} differs from {reference.name}"
            assert os.path.getsize(mine) == image_info(reference, expected[1])["virtual-size"]
            if theirs is not None and theirs.is_file():
                assert not images_identical(theirs, "raw", reference, expected[1])
        else:
            size = int(expected[1])
            assert os.path.getsize(mine) == size
            assert images_identical(mine, "raw", _zero_image(tmp_path / "zeros.raw", size), "raw")


# --- errors ----------------------------------------------------------------------------------

ERROR_CASES = [
    # (package, options, the peer's OpPrereqError text, ours)
    (
        "ganeti/wrong_manifest.ovf",
        (),
        "SHA1 checksum of new_disk.vmdk does not match",
        "digest mismatch for wrong_manifest.ovf",
    ),
    ("ganeti/empty.ovf", (), "Name of instance not provided", "give an instance name with -n/--name"),
    ("ganeti/virtualbox.ovf", (), "Name of instance not provided", "give one with -o/--os-type"),
    ("ganeti/wrong_xml.ovf", (), "not well-formed (invalid token): line 71", "not well-formed XML at line 71"),
    ("ganeti/corrupted_resources.ovf", (), "File does not exist", "'other_disk.vmdk' (File 'file1') is missing"),
    # the peer's message is misleading here: the package's reference is dangling
    ("ganeti/no_disk_in_ref.ovf", (), "Name of instance not provided", "names no File in References"),
    ("ganeti/no_ovf.ova", (), "No .ovf file in .ova package found", "the OVA holds no .ovf descriptor"),
    ("ganeti/wrong_ova.ova", (), "not a proper tar archive", "not a tar archive"),
    ("ganeti/wrong_extension.ovd", (), "Unknown file extension", "unknown package type '.ovd'"),
    ("ganeti/empty.ovf", EMPTY_ARGS, "Either disk specification or network", "no disk and no NIC"),
    (
        "cot/minimal.ovf",
        ("-n", "minimal", "-o", "debootstrap+default"),
        "Either disk specification or network",
        "no disk and no NIC",
    ),
    ("cot/invalid.ovf", ("-n", "x", "-o", "x"), "File does not exist", "the package has 3 problems"),
]


@pytest.mark.parametrize(
    ("package", "args", "peer_message", "our_message"),
    ERROR_CASES,
    ids=[f"{c[0]}{'+options' if c[1] else ''}" for c in ERROR_CASES],
)
def test_peer_exits_0_on_errors_ours_exits_1(
    package: str,
    args: tuple[str, ...],
    peer_message: str,
    our_message: str,
    fixtures: Path,
    peer_ready: Path,
    tmp_path: Path,
) -> None:
    path = fixtures / package
    peer_out, ours_out = tmp_path / "peer", tmp_path / "ours"
    peer_out.mkdir()
    ours_out.mkdir()

    peer = run_peer("import", str(path), f"--output-dir={peer_out}", *args)
    assert peer.returncode == 0, "the peer now reports errors in its exit status"
    assert "OpPrereqError" in peer.stderr and peer_message in peer.stderr, peer.stderr
    assert not list(peer_out.rglob("config.ini"))

    ours = run_cli("import", str(path), "--output-dir", str(ours_out), *args)
    assert ours.returncode == 1, ours.stderr
    lines = ours.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ovfconverter: error: "), ours.stderr
    assert our_message in lines[0], lines[0]
    assert "Traceback" not in ours.stderr
    assert list(ours_out.iterdir()) == [], "ours left something behind"
