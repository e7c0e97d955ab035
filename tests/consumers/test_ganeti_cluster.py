"""ovfconverter against a real Ganeti 3.0.2 cluster (../shared/tools/ganeti-cluster).

Every import is taken by ``gnt-backup import`` run exactly as ``ovfconverter
import`` printed it on the node; the instance then has the package's CPUs,
memory, NICs and tags, and each of its disks (the files ``gnt-instance info``
names) holds the package's disk byte for byte.  Instances made by
``gnt-instance add`` and exported by ``gnt-backup export`` come back through
``ovfconverter export`` and ``import`` with every ``gnt-instance list`` field
and every disk identical.  The README's "Using it" sequence runs as written.

The cluster is one per machine: the module holds an exclusive lock on
/tmp/ovfconverter-ganeti-cluster.lock while it uses it, brings it up once
(with the kvm hypervisor, which other modules need too) and down at the end,
and skips, with the tool's reason, where the tool exits 3 (not root, no
namespaces, no apt).  Instance names and MACs are distinct per test.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import (
    FORMAT_URIS,
    ROOT,
    SHARED,
    DiskSpec,
    VmSpec,
    convert,
    descriptor,
    images_identical,
    make_ova,
    make_raw_disk,
    write_manifest,
)
from consumer_tools import ganeti_cluster

TOOL = SHARED / "tools" / "ganeti-cluster"
RAW_IMAGE_OS = ROOT / "examples" / "ganeti-os" / "raw-image"
GANETI_DIR = "/var/lib/ganeti"
EXPORT_DIR = f"{GANETI_DIR}/export"
NODE = "node1.ganeti.test"
MIB = 1 << 20
OVFCONVERTER = Path(sys.executable).parent / "ovfconverter"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the Ganeti test cluster needs root")


@dataclass
class Cluster:
    """The running test cluster; commands run inside its namespace, as on
    its (only) node, which is also the master."""

    def run(self, *argv: str | Path, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, OVFCONVERTER_GANETI_DIR=GANETI_DIR)  # this is a Ganeti node
        proc = subprocess.run([str(TOOL), "run", *map(str, argv)], capture_output=True, text=True, cwd=cwd, env=env)
        if check:
            assert proc.returncode == 0, f"{shlex.join(map(str, argv))}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def ovfconverter(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``ovfconverter ARGS`` on the node; must succeed."""
        return self.run(OVFCONVERTER, *args, cwd=cwd)

    def run_printed(self, import_stdout: str) -> subprocess.CompletedProcess[str]:
        """Run the ``gnt-backup import`` line that ``import`` printed,
        exactly as printed, through a shell."""
        (line,) = [x.split("import it with: ", 1)[1] for x in import_stdout.splitlines() if "import it with: " in x]
        proc = self.run("sh", "-c", line)
        assert "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        return proc

    def fields(self, name: str, fields: list[str]) -> dict[str, str]:
        """``gnt-instance list`` values of ``fields`` for instance ``name``."""
        out = self.run("gnt-instance", "list", "--no-headers", "--separator=\x1f", "-o", ",".join(fields), name)
        return dict(zip(fields, out.stdout.rstrip("\n").split("\x1f"), strict=True))

    def disk_files(self, name: str) -> list[Path]:
        """The files of ``name``'s disks, in order (``gnt-instance info``)."""
        info = self.run("gnt-instance", "info", name).stdout
        return [Path(p) for p in re.findall(r"on primary: (/\S+) \(", info)]

    def remove(self, name: str) -> None:
        self.run("gnt-instance", "remove", "-f", name)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The test cluster, up for the whole module, under the machine-wide lock."""
    with ganeti_cluster(TOOL, RAW_IMAGE_OS):
        yield Cluster()


def import_package(cluster: Cluster, package: Path, *args: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    """``ovfconverter import PACKAGE ARGS`` on the node, then the printed
    ``gnt-backup import``; returns import's stdout and Ganeti's run."""
    proc = cluster.ovfconverter("import", package, "--quiet", *args)
    return proc.stdout, cluster.run_printed(proc.stdout)


def assert_disks(cluster: Cluster, name: str, sources: list[tuple[Path, str]]) -> None:
    """Each disk of ``name`` has the size Ganeti gave it (MiB) and holds
    the image ``sources[i]`` (path, qemu-img format), zeros after it."""
    sizes = cluster.fields(name, ["disk.sizes"])["disk.sizes"].split(",")
    files = cluster.disk_files(name)
    assert len(files) == len(sources) == len(sizes)
    for index, (path, (source, fmt), size) in enumerate(zip(files, sources, sizes, strict=True)):
        assert path.stat().st_size == int(size) * MIB, f"disk {index}: the file is not the disk's size"
        assert images_identical(path, "raw", source, fmt), f"disk {index} differs from {source}"


def macs(cluster: Cluster, name: str) -> list[str]:
    return cluster.fields(name, ["nic.macs"])["nic.macs"].split(",")


# --- imports of real and built packages -------------------------------------------------


def test_vmware_package_imports_with_the_defaults(cluster: Cluster, cot_dir: Path) -> None:
    """COT's VMware-style package: 3 NICs on 'VM Network', which this
    cluster has no Ganeti network of: they take the default mode and link."""
    stdout, _ = import_package(cluster, cot_dir / "input.ovf", "-o", "raw-image+default")
    assert stdout.splitlines()[0] == f"{EXPORT_DIR}/test: Ganeti export of 'test', 1 disk(s), 3 NIC(s)"
    got = cluster.fields("test", ["be/vcpus", "be/maxmem", "nic.count", "nic.modes", "nic.links", "nic.networks"])
    assert got == {
        "be/vcpus": "4",
        "be/maxmem": "4096",
        "nic.count": "3",
        "nic.modes": "bridged,bridged,bridged",
        "nic.links": "gnt0,gnt0,gnt0",
        "nic.networks": "None,None,None",
    }
    assert all(re.fullmatch(r"aa:00:00(:[0-9a-f]{2}){3}", mac) for mac in macs(cluster, "test"))
    assert_disks(cluster, "test", [(cot_dir / "input.vmdk", "vmdk")])


def test_virtualbox_package_imports_despite_the_instance_policy(cluster: Cluster, ganeti_dir: Path) -> None:
    """VirtualBox 2.2's package: a 50 KiB disk, below this cluster's minimum
    disk size (4 MiB), so the printed command says --ignore-ipolicy."""
    stdout, _ = import_package(cluster, ganeti_dir / "virtualbox.ovf", "-o", "raw-image+default", "-n", "vbox1")
    assert "--ignore-ipolicy" in stdout and "disk-size/0 1 not in [4, 1048576]" in stdout
    got = cluster.fields("vbox1", ["be/vcpus", "be/maxmem", "nic.count", "nic.modes", "disk.count"])
    assert got == {"be/vcpus": "1", "be/maxmem": "2048", "nic.count": "1", "nic.modes": "bridged", "disk.count": "1"}
    assert_disks(cluster, "vbox1", [(ganeti_dir / "new_disk.vmdk", "vmdk")])


GANETI_TAGS = (
    '<gnt:GanetiSection xmlns:gnt="http://ganeti">'
    "<gnt:Version>0</gnt:Version><gnt:Tags>ovf2 chunked</gnt:Tags></gnt:GanetiSection>"
)


def ovf2_ova(folder: Path) -> tuple[Path, list[Path]]:
    """An OVF 2.0 OVA of three disks: a streamOptimized VMDK, a gzip'd
    qcow2 and a raw image in 1 MiB chunks, none a whole number of MiB;
    tags in a Ganeti section.  Returns it and the raw disks it holds."""
    folder.mkdir()
    raws = [
        make_raw_disk(folder / f"d{i}.raw", size, seed=40 + i)
        for i, size in enumerate((5 * MIB + 4096, 3 * MIB + 512, 2 * MIB + 4096))
    ]
    vmdk = convert(raws[0], folder / "root.vmdk", "vmdk", "subformat=streamOptimized")
    qcow2 = convert(raws[1], folder / "data.qcow2", "qcow2")
    gz = folder / "data.qcow2.gz"
    gz.write_bytes(gzip.compress(qcow2.read_bytes()))
    chunks = []
    data = raws[2].read_bytes()
    for n, start in enumerate(range(0, len(data), MIB)):
        chunk = folder / f"swap.raw.{n:09d}"
        chunk.write_bytes(data[start : start + MIB])
        chunks.append(chunk)
    vm = VmSpec(
        name="ovf2-chunked",
        cpus=3,
        memory=384,
        version="2.0",
        disks=[
            DiskSpec("root.vmdk", capacity=raws[0].stat().st_size, size=vmdk.stat().st_size),
            DiskSpec(
                "data.qcow2.gz",
                capacity=raws[1].stat().st_size,
                format_uri=FORMAT_URIS["qcow2"],
                compression="gzip",
                size=gz.stat().st_size,
            ),
            DiskSpec("swap.raw", capacity=len(data), format_uri=FORMAT_URIS["raw"], chunk_size=MIB, size=len(data)),
        ],
        nics=[("ovfc-lab", "52:54:00:0a:02:01"), ("elsewhere", "52:54:00:0a:02:02")],
        networks=["ovfc-lab", "elsewhere"],
        extra_envelope=GANETI_TAGS,
    )
    ovf = folder / "package.ovf"
    ovf.write_text(descriptor(vm))
    members = [ovf, vmdk, gz, *chunks]
    manifest = write_manifest(folder, "package", [m.name for m in members])
    return make_ova(folder / "ovf2.ova", [(m.name, m) for m in [ovf, manifest, *members[1:]]]), raws


def test_own_ovf2_ova_with_gzip_and_chunked_disks_and_a_ganeti_network(cluster: Cluster, tmp_path: Path) -> None:
    """NIC 0's OVF network is a Ganeti network of this cluster (ssconf_networks
    says so), so it is used; NIC 1's is not, so it gets the cluster's default
    mode and link, and one warning says so."""
    cluster.run("gnt-network", "add", "--network=192.0.2.0/24", "ovfc-lab")
    cluster.run("gnt-network", "connect", "--nic-parameters=mode=bridged,link=gnt0", "ovfc-lab", "default")
    package, raws = ovf2_ova(tmp_path / "ovf2")
    proc = cluster.ovfconverter("import", package, "-o", "raw-image+default")
    assert proc.stderr.splitlines() == [
        "ovfconverter: warning: package.ovf: NIC 1 on network 'elsewhere': this cluster has no Ganeti network "
        "of that name; the cluster's default NIC mode and link apply unless the package gives them "
        "(--net N:network=NAME picks a Ganeti network, --net N:link=BRIDGE a bridge)"
    ]
    cluster.run_printed(proc.stdout)
    got = cluster.fields(
        "ovf2-chunked", ["be/vcpus", "be/maxmem", "nic.macs", "nic.networks.names", "nic.links", "tags", "disk.sizes"]
    )
    assert got == {
        "be/vcpus": "3",
        "be/maxmem": "384",
        "nic.macs": "52:54:00:0a:02:01,52:54:00:0a:02:02",
        "nic.networks.names": "['ovfc-lab', None]",
        "nic.links": "gnt0,gnt0",
        "tags": "chunked,ovf2",
        "disk.sizes": "6,4,3",  # MiB, rounded up
    }
    assert_disks(cluster, "ovf2-chunked", [(raw, "raw") for raw in raws])


def test_import_elsewhere_warns_that_ganeti_reads_only_its_export_folder(cluster: Cluster, tmp_path: Path) -> None:
    """gnt-backup import reads dumps only below /var/lib/ganeti/export (from
    elsewhere the instance gets blank disks): on a node, say so."""
    package, _ = ovf2_ova(tmp_path / "ovf2")
    proc = cluster.ovfconverter("import", package, "-o", "raw-image+default", "--output-dir", tmp_path / "out")
    assert (
        f"ovfconverter: warning: {tmp_path}/out/ovf2-chunked is not below {EXPORT_DIR}, the only folder gnt-backup "
        "import reads disk dumps from" in proc.stderr
    )
    lines = proc.stdout.splitlines()
    assert f"--src-dir={EXPORT_DIR}/ovf2-chunked" in lines[1]
    assert lines[2] == (
        f"  (--src-dir: once the folder is moved below {EXPORT_DIR}; --no-name-check --no-ip-check: ovf2-chunked "
        "does not resolve here; --ignore-ipolicy: disk-size/2 3 not in [4, 1048576] (the cluster's instance "
        "policy, MiB))"
    )


# --- the README's "Using it" sequence, as written ---------------------------------------------


def readme_commands() -> list[str]:
    """The command lines of the README's "Using it" block (a fenced shell
    block), in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```shell\n", 1)[1].split("\n```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    assert lines and all(line.strip() for line in lines), block
    return lines


def test_readme_sequence_runs_as_written(cluster: Cluster, tmp_path: Path) -> None:
    """info, import, the printed gnt-backup import, gnt-backup export, export
    --ova, verify: each line of the README runs on the node and succeeds
    (only .venv/bin/ points at this interpreter's folder and appliance.ova
    is the example package that `make demo` builds)."""
    example = tmp_path / "example"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make-example"), str(example)], check=True, capture_output=True
    )
    here = tmp_path / "here"
    here.mkdir()
    shutil.copyfile(example / "demo.ova", here / "appliance.ova")
    printed = ""
    for line in readme_commands():
        if line.startswith("#"):
            assert "gnt-backup import command that import printed" in line
            cluster.run_printed(printed)
            continue
        command = line.replace(".venv/bin/", f"{OVFCONVERTER.parent}/", 1) if line.startswith(".venv/bin/") else line
        proc = cluster.run("sh", "-c", command, cwd=here)
        if " import " in line:
            printed = proc.stdout
    got = cluster.fields("web1.example.com", ["be/vcpus", "be/maxmem", "nic.macs", "nic.links", "os"])
    assert got == {
        "be/vcpus": "2",  # -B vcpus=2; the package's memory is kept
        "be/maxmem": "512",
        "nic.macs": "00:50:56:a1:b2:c3",
        "nic.links": "gnt0",
        "os": "raw-image+default",
    }
    assert_disks(cluster, "web1.example.com", [(example / "demo-disk1.raw", "raw")])
    assert sorted(p.name for p in here.iterdir()) == ["appliance.ova", "web1.example.com.ova"]
    with tarfile.open(here / "web1.example.com.ova") as ova:
        names = ova.getnames()
        assert names == ["web1.example.com.ovf", "web1.example.com.mf", "web1.example.com-disk0.vmdk"]
        ova.extract("web1.example.com-disk0.vmdk", tmp_path, filter="data")
    assert images_identical(tmp_path / "web1.example.com-disk0.vmdk", "vmdk", example / "demo-disk1.raw", "raw")


# --- round trips of instances Ganeti made -----------------------------------------------------

# gnt-instance list fields that differ between any two instances by design:
# identities and times, console and port allocations, and custom_* (Ganeti's
# export writes effective values, which an import sets at instance level).
VOLATILE = re.compile(r"ctime|mtime|uuid|serial_no|network_port|console|custom_\w+|(disk|nic)\.uuids?(/\d+)?")


def instance_fields(cluster: Cluster) -> list[str]:
    listed = cluster.run("gnt-instance", "list-fields", "--no-headers").stdout.split("\n")
    return [line.split()[0] for line in listed if line.strip() and not VOLATILE.fullmatch(line.split()[0])]


def round_trip(cluster: Cluster, tmp_path: Path, name: str, add: list[str], forms: dict[str, list[str]]) -> None:
    """Make ``name`` with ``gnt-instance add ADD``, export it with
    ``gnt-backup export``, then per form: ``ovfconverter export`` (into the
    current folder), ``ovfconverter import`` and the printed ``gnt-backup
    import``; every field and every disk must equal the original's."""
    cluster.run(
        "gnt-instance", "add", "--no-name-check", "--no-ip-check", "--no-start", "-t", "file", "-n", NODE, *add, name
    )
    fields = instance_fields(cluster)
    original = cluster.fields(name, fields)
    disks = []
    for index, path in enumerate(cluster.disk_files(name)):
        disks.append(tmp_path / f"original-disk{index}.raw")
        shutil.copyfile(path, disks[-1])
    cluster.run("gnt-backup", "export", "-n", NODE, name)
    config = Path(EXPORT_DIR) / name / "config.ini"
    assert "[os_private]" in config.read_text(), "the genuine modern config.ini"
    packages = {}
    for form, args in forms.items():
        here = tmp_path / form
        here.mkdir()
        proc = cluster.ovfconverter("export", config, "--quiet", *args, cwd=here)
        packages[form] = Path(proc.stdout.split(": ", 1)[0])
        assert packages[form].parent == here
    cluster.remove(name)
    cluster.run("gnt-backup", "remove", name)
    for form, package in packages.items():
        assert package.exists(), "gnt-backup remove leaves the packages alone"
        import_package(cluster, package)
        got = cluster.fields(name, fields)
        assert {k: v for k, v in got.items() if v != original[k]} == {}, form
        assert_disks(cluster, name, [(disk, "raw") for disk in disks])
        cluster.remove(name)
        shutil.rmtree(Path(EXPORT_DIR) / name)


def test_round_trip_of_a_kvm_instance_in_three_forms(cluster: Cluster, tmp_path: Path) -> None:
    """One instance carries everything a round trip must keep (two named
    disks; a bridged and a routed NIC with IPs and names; tags; backend, OS
    and kvm hypervisor parameters; created --no-start, so never booted),
    through a vmdk OVA, a qcow2 folder and gzip'd raw disks: one instance
    rather than two keeps the module within its time budget, each
    gnt-backup export or import costing about 8 s."""
    add = [
        *("-o", "seed-image+default", "-O", "seed=round-trip"),
        *("--disk", "0:size=8M,name=root", "--disk", "1:size=4M,name=data"),
        *("--net", "0:mode=bridged,link=gnt0,mac=aa:00:00:11:0a:01,ip=198.51.100.101,name=front"),
        *("--net", "1:mode=routed,link=100,ip=203.0.113.7,mac=aa:00:00:11:0a:02,name=back"),
        *("-B", "vcpus=2,maxmem=256,minmem=128,auto_balance=false,spindle_use=2", "--tags", "web,prod:eu"),
        *("-H", "kvm:boot_order=disk,disk_type=scsi-hd,scsi_controller_type=lsi,nic_type=e1000,serial_console=false"),
    ]
    forms = {"vmdk-ova": ["--ova"], "qcow2-folder": ["-f", "qcow2"], "raw-compressed": ["-f", "raw", "--compress"]}
    round_trip(cluster, tmp_path, "round-trip.ganeti.test", add, forms)


APPLIANCE_SECTIONS = """    <ProductSection ovf:class="org.example.app">
      <Info>the appliance</Info>
      <Product>Example App</Product>
      <Property ovf:key="hostname" ovf:type="string" ovf:qualifiers="MinLen(1)" ovf:userConfigurable="true"/>
      <Property ovf:key="admin_password" ovf:type="string" ovf:password="true" ovf:userConfigurable="true"/>
      <Property ovf:key="port" ovf:type="uint16" ovf:value="8080" ovf:userConfigurable="true"/>
    </ProductSection>
    <EulaSection><Info>license</Info><License>Evaluation only.</License></EulaSection>"""


def test_appliance_properties_reach_the_os_and_its_ovf_environment(cluster: Cluster, tmp_path: Path) -> None:
    """An appliance with properties and a EULA: the values reach Ganeti as
    the OS parameters raw-image declares (the password one private), and
    raw-image's import writes the guest's OVF environment on the node."""
    folder = tmp_path / "app"
    folder.mkdir()
    raw = make_raw_disk(folder / "app.raw", 4 * MIB, seed=60)
    vmdk = convert(raw, folder / "app.vmdk", "vmdk", "subformat=streamOptimized")
    vm = VmSpec(
        name="appliance1",
        disks=[DiskSpec("app.vmdk", capacity=4 * MIB, size=vmdk.stat().st_size)],
        nics=[("VM Network", "52:54:00:0a:03:01")],
        networks=["VM Network"],
        extra_system=APPLIANCE_SECTIONS,
    )
    ovf = folder / "app.ovf"
    ovf.write_text(descriptor(vm))
    package = make_ova(folder / "app.ova", [("app.ovf", ovf), ("app.vmdk", vmdk)])
    refused = cluster.run(OVFCONVERTER, "import", package, "-o", "raw-image+default", check=False)
    assert refused.returncode == 1 and "--accept-eula" in refused.stderr
    environment = Path(GANETI_DIR) / "ovf-env" / "appliance1"
    try:
        stdout, _ = import_package(
            cluster,
            package,
            "-o",
            "raw-image+default",
            "--accept-eula",
            "--property",
            "hostname=app1.example.com",
            "--property",
            "admin_password=s3cret %pass",
        )
        info = cluster.run("gnt-instance", "info", "appliance1").stdout
        assert '"org.example.app.hostname":"app1.example.com"' in info
        assert "s3cret" not in info, "the password is private: Ganeti does not show it"
        document = (environment / "ovf-env.xml").read_text()
        assert 'oe:key="org.example.app.admin_password" oe:value="s3cret %pass"' in document
        assert 'oe:key="org.example.app.port" oe:value="8080"' in document
        assert_disks(cluster, "appliance1", [(raw, "raw")])
    finally:
        cluster.run("gnt-instance", "remove", "-f", "appliance1", check=False)
        subprocess.run(["rm", "-rf", str(environment)], check=False)
