"""What an import takes from the Ganeti node it runs on: the cluster's
networks (a package's network becomes a Ganeti network only when the
cluster has it), its export folder and instance policy, and the
``gnt-backup import`` command built from them.

The plan and the command are pure and get the node's facts as values; the
reader of the node's files is checked on files laid out as Ganeti 3.0.2
writes them (test_ganeti_cluster.py reads a real node's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import (
    FORMAT_URIS,
    DiskSpec,
    VmSpec,
    convert,
    descriptor,
    make_raw_disk,
    ova_package,
    read_ini,
    run_cli,
)

from ovfconverter import ImportOptions
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.model.ganeti import GanetiDisk, GanetiNic, InstanceExport
from ovfconverter.pipelines.importer import build_plan
from ovfconverter.targets.backup_command import backup_import_command, policy_violations
from ovfconverter.targets.ganeti_node import DEFAULT_POLICY, GanetiNode, InstancePolicy, SpecBounds, is_below, read_node

MIB = 1 << 20

GANETI_SECTION = (
    '<gnt:GanetiSection xmlns:gnt="http://ganeti"><gnt:Version>0</gnt:Version><gnt:Network>'
    '<gnt:Nic ovf:name="lab"><gnt:Mode>bridged</gnt:Mode><gnt:Link>br7</gnt:Link><gnt:Net>lab</gnt:Net></gnt:Nic>'
    "</gnt:Network></gnt:GanetiSection>"
)


def plan_nics(cluster_networks: frozenset[str] | None, section: bool = False, **options: object):  # type: ignore[no-untyped-def]
    vm = VmSpec(
        nics=[("VM Network", None), ("lab", None), ("bridged", None)], networks=["VM Network", "lab", "bridged"]
    )
    if section:
        vm.nics = [("lab", None)]
        vm.networks = ["lab"]
        vm.extra_envelope = GANETI_SECTION
    envelope = read_envelope(descriptor(vm).encode())
    plan = build_plan(envelope, ImportOptions(os_type="raw-image+default", **options), "t.ovf", None, cluster_networks)  # type: ignore[arg-type]
    return plan.config.nics, plan.warnings


def test_off_a_node_no_ovf_network_is_taken_for_a_ganeti_network() -> None:
    nics, warnings = plan_nics(None)
    assert [(n.network, n.mode, n.link) for n in nics] == [
        (None, None, None),
        (None, None, None),
        (None, "bridged", None),
    ]
    assert warnings == [
        "NIC 0 on network 'VM Network'; NIC 1 on network 'lab': not run on a Ganeti node, so not taken as a Ganeti "
        "network; the cluster's default NIC mode and link apply unless the package gives them "
        "(nics N:network=NAME picks a Ganeti network, nics N:link=BRIDGE a bridge)"
    ]


def test_on_a_node_only_the_cluster_networks_are_used() -> None:
    nics, warnings = plan_nics(frozenset({"lab", "other"}))
    assert [n.network for n in nics] == [None, "lab", None]
    assert len(warnings) == 1 and warnings[0].startswith(
        "NIC 0 on network 'VM Network': this cluster has no Ganeti network of that name;"
    )


def test_on_a_node_with_every_network_nothing_is_said() -> None:
    nics, warnings = plan_nics(frozenset({"lab", "VM Network"}))
    assert [n.network for n in nics] == ["VM Network", "lab", None]
    assert warnings == []


def test_net_option_decides_without_a_warning() -> None:
    nics, warnings = plan_nics(frozenset(), nics={0: {"network": "VM Network"}, 1: {"link": "br1"}})
    assert [(n.network, n.link) for n in nics] == [("VM Network", None), (None, "br1"), (None, None)]
    assert warnings == []


def test_ganeti_section_network_is_kept_off_a_node_and_dropped_where_the_cluster_lacks_it() -> None:
    nics, warnings = plan_nics(None, section=True)
    assert [(n.network, n.mode, n.link) for n in nics] == [("lab", "bridged", "br7")]
    assert warnings == []
    nics, warnings = plan_nics(frozenset({"lab"}), section=True)
    assert [n.network for n in nics] == ["lab"] and warnings == []
    nics, warnings = plan_nics(frozenset(), section=True)
    assert [(n.network, n.mode, n.link) for n in nics] == [(None, "bridged", "br7")]
    assert warnings[0].startswith("NIC 0 on network 'lab': this cluster has no Ganeti network of that name;")


# --- the gnt-backup import command ----------------------------------------------------------


def config(disks_mib: list[int], nics: int = 1, maxmem: str = "512") -> InstanceExport:
    return InstanceExport(
        name="web1.example.com",
        os="raw-image+default",
        backend={"vcpus": "2", "maxmem": maxmem},
        disks=[GanetiDisk(size=size, dump=f"disk{i}.raw") for i, size in enumerate(disks_mib)],
        nics=[GanetiNic(mac="auto") for _ in range(nics)],
    )


def node(**changes: object) -> GanetiNode:
    values: dict[str, object] = {
        "cluster": "cluster.example.com",
        "name": "node1.example.com",
        "master": "node1.example.com",
        "networks": frozenset(),
        "export_dir": "/var/lib/ganeti/export",
        "policy": DEFAULT_POLICY,
    }
    values.update(changes)
    return GanetiNode(**values)  # type: ignore[arg-type]


def test_command_on_a_node_is_complete() -> None:
    command = backup_import_command(config([2048]), "/var/lib/ganeti/export/web1.example.com", node(), True)
    assert command.text() == (
        "gnt-backup import -n node1.example.com --src-node=node1.example.com "
        "--src-dir=/var/lib/ganeti/export/web1.example.com web1.example.com"
    )
    assert command.reasons == [] and command.ready


def test_command_off_a_node_has_placeholders_and_says_what_they_are() -> None:
    command = backup_import_command(config([2048]), "/srv/out/web1.example.com", None, True)
    assert command.argv[2:5] == ["-n", "NODE", "--src-node=THIS_NODE"]
    assert command.argv[5] == "--src-dir=/srv/out/web1.example.com"
    assert command.reasons == ["NODE: the node for the instance; THIS_NODE: the node holding the folder"]
    assert not command.ready


def test_command_for_an_unresolvable_name_small_disk_and_another_master() -> None:
    command = backup_import_command(
        config([1, 2048], nics=0), "/var/lib/ganeti/export/web1.example.com", node(master="node0.example.com"), False
    )
    assert command.argv[-4:] == ["--no-name-check", "--no-ip-check", "--ignore-ipolicy", "web1.example.com"]
    assert command.reasons == [
        "--no-name-check --no-ip-check: web1.example.com does not resolve here",
        "--ignore-ipolicy: nic-count 0 not in [1, 8], disk-size/0 1 not in [1024, 1048576] "
        "(Ganeti's default instance policy, MiB)",
        "run it on the master node, node0.example.com",
    ]


def test_command_for_a_folder_outside_the_export_folder() -> None:
    command = backup_import_command(config([2048]), "/srv/out/web1.example.com", node(), True)
    assert "--src-dir=/var/lib/ganeti/export/web1.example.com" in command.argv
    assert command.reasons == ["--src-dir: once the folder is moved below /var/lib/ganeti/export"]
    assert not command.ready


def test_policy_is_met_by_any_of_its_bound_pairs() -> None:
    small = SpecBounds(minimum={"disk-size": 1, "memory-size": 32}, maximum={"disk-size": 100, "memory-size": 256})
    large = SpecBounds(minimum={"disk-size": 1024}, maximum={"disk-size": 4096})
    policy = InstancePolicy(bounds=(small, large), source="test")
    assert policy_violations(config([50], maxmem="128"), policy) == []
    assert policy_violations(config([2048], maxmem="128"), policy) == []
    assert policy_violations(config([500], maxmem="128"), policy) == ["disk-size/0 500 not in [1, 100]"]


def test_is_below_resolves_the_path_as_ganeti_does(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "a").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (export / "link").symlink_to(tmp_path / "elsewhere")
    assert is_below(str(export), str(export / "a"))
    assert not is_below(str(export), str(export))
    assert not is_below(str(export), str(export / "link")), "Ganeti resolves symlinks (os.path.realpath)"
    assert not is_below(str(export), str(tmp_path / "export-other"))


# --- reading the node's files -----------------------------------------------------------------


@pytest.fixture
def ganeti_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ganeti"
    folder.mkdir()
    monkeypatch.setenv("OVFCONVERTER_GANETI_DIR", str(folder))
    return folder


def test_not_a_node_without_ssconf(ganeti_dir: Path) -> None:
    assert read_node() is None


def test_node_facts_from_ssconf_and_config_data(ganeti_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.getfqdn", lambda name="": "node2.example.com")
    (ganeti_dir / "ssconf_cluster_name").write_text("cluster.example.com\n")
    (ganeti_dir / "ssconf_node_list").write_text("node1.example.com\nnode2.example.com\n")
    (ganeti_dir / "ssconf_master_node").write_text("node1.example.com\n")
    (ganeti_dir / "ssconf_hypervisor_list").write_text("kvm\nxen-pvm\n")
    (ganeti_dir / "ssconf_networks").write_text(
        "328439d5-4794-4c42-9cb5-bb0a09a11c6c lab\n365b3f73-b8fb-4281-98b9-18ab7b4b9b2d VM Network\n"
    )
    minmax = [{"min": {"disk-size": 4, "memory-size": 32}, "max": {"disk-size": 1048576, "memory-size": 65536}}]
    (ganeti_dir / "config.data").write_text(
        json.dumps(
            {
                "cluster": {"ipolicy": {"minmax": [{"min": {"disk-size": 1024}, "max": {"disk-size": 2048}}]}},
                "nodes": {"u2": {"name": "node2.example.com", "group": "g2"}},
                "nodegroups": {"g2": {"name": "small", "ipolicy": {"minmax": minmax}}},
            }
        )
    )
    found = read_node()
    assert found is not None
    assert (found.cluster, found.name, found.master) == (
        "cluster.example.com",
        "node2.example.com",
        "node1.example.com",
    )
    assert found.networks == frozenset({"lab", "VM Network"})
    assert found.hypervisors == ("kvm", "xen-pvm") and found.default_hypervisor == "kvm"
    assert found.export_dir == str(ganeti_dir / "export")
    assert found.policy.source == "the cluster's instance policy"
    assert found.policy.bounds[0].minimum == {"disk-size": 4, "memory-size": 32}, "the node group's policy wins"


def test_unreadable_config_data_means_ganeti_defaults(ganeti_dir: Path) -> None:
    (ganeti_dir / "ssconf_cluster_name").write_text("cluster.example.com\n")
    (ganeti_dir / "ssconf_networks").write_text("")
    (ganeti_dir / "config.data").write_text("{not json")
    found = read_node()
    assert found is not None and found.networks == frozenset() and found.name is None
    assert found.default_hypervisor is None, "no ssconf_hypervisor_list: unknown, so no kvm parameters are written"
    assert found.policy is DEFAULT_POLICY


# --- the node as the command line meets it -----------------------------------------------------


@pytest.fixture
def node_and_ova(ganeti_dir: Path, tmp_path: Path) -> Path:
    """A fake Ganeti node (kvm the default hypervisor) and an OVA to convert on it."""
    (ganeti_dir / "ssconf_cluster_name").write_text("cluster.example.com\n")
    (ganeti_dir / "ssconf_hypervisor_list").write_text("kvm\nfake\n")
    (ganeti_dir / "export").mkdir()
    raw = make_raw_disk(tmp_path / "d.raw", 2 * MIB)
    vm = VmSpec(name="node-vm", disks=[DiskSpec("d.qcow2", capacity=2 * MIB, format_uri=FORMAT_URIS["qcow2"])])
    return ova_package(tmp_path / "vm.ova", vm, {"d.qcow2": convert(raw, tmp_path / "d.qcow2", "qcow2")})


@pytest.mark.parametrize("target", ["libvirt", "xen"])
def test_converting_elsewhere_on_a_node_says_nothing_of_ganeti(node_and_ova: Path, tmp_path: Path, target: str) -> None:
    proc = run_cli("convert", str(node_and_ova), "--to", target, "--output-dir", str(tmp_path / target), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "ganeti" not in proc.stderr.lower() and "export" not in proc.stderr, proc.stderr
    assert (tmp_path / target / "node-vm").is_dir()


def test_import_on_a_kvm_cluster_writes_the_device_parameters(node_and_ova: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("import", str(node_and_ova), "-o", "debian", "--output-dir", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    ini = read_ini(out / "node-vm" / "config.ini")
    assert ini["instance"]["hypervisor"] == "kvm", "the cluster's default, named with its parameters"
    assert ini["hypervisor"]["boot_order"] == "disk" and ini["hypervisor"]["kernel_path"] == ""
    assert ini["hypervisor"]["disk_type"] in ("ide", "paravirtual", "scsi-hd")
    given = run_cli(
        "import", str(node_and_ova), "-o", "debian", "--output-dir", str(out), "--force", "--quiet", "-H", "fake"
    )
    assert given.returncode == 0, given.stderr
    ini = read_ini(out / "node-vm" / "config.ini")
    assert ini["instance"]["hypervisor"] == "fake" and ini["hypervisor"] == {}, "-H names another hypervisor"
