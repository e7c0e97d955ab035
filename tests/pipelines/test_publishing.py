"""Publishing for VirtualBox and VMware end to end through the command line
(``export``/``convert --to ova`` with ``--for``, ``--cloud-init``,
``--sign``): each rule of doc/publishing.rst checked in what is written,
the seed read back from the package, the signature judged by openssl."""

from __future__ import annotations

import io
import itertools
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import pycdlib
import pytest
from builders import MIB, ROOT, Pki, image_info, make_pki, qemu_img, run_cli, write_ganeti_export
from lxml import etree

OVF = "{http://schemas.dmtf.org/ovf/envelope/1}"
RASD = "{http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData}"
VSSD = "{http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData}"
VMW = "{http://www.vmware.com/schema/ovf}"
ISO_URI = "http://www.ecma-international.org/publications/standards/Ecma-119.htm"
NAME = "train.example.com"
USER_DATA = b"#cloud-config\nhostname: trainee\nusers:\n  - name: student\n    groups: [sudo]\npackages: [git]\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Ganeti export with a data disk and a blank second disk, and the
    seed's files."""
    folder = tmp_path_factory.mktemp("publish")
    write_ganeti_export(folder / "gnt", NAME, 6 * MIB, blank_mib=64)
    (folder / "user.yaml").write_bytes(USER_DATA)
    (folder / "meta.yaml").write_text("instance-id: lab-01\nlocal-hostname: lab01\n")
    (folder / "net.yaml").write_text("version: 2\nethernets:\n  nic0:\n    match: {name: 'e*'}\n    dhcp4: true\n")
    return folder


@pytest.fixture(scope="module")
def pki(work: Path) -> Pki:
    return make_pki(work / "pki")


def export(work: Path, out: str, *args: str) -> Path:
    proc = run_cli("export", str(work / "gnt" / "config.ini"), "--output-dir", str(work / out), *args)
    assert proc.returncode == 0, proc.stderr
    return work / out / (f"{NAME}.ova" if "--ova" in args else NAME)


def members(ova: Path) -> dict[str, bytes]:
    """The OVA's members in tar order."""
    with tarfile.open(ova) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def descriptor(files: dict[str, bytes]) -> etree._Element:
    return etree.fromstring(files[f"{NAME}.ovf"])


def items(root: etree._Element, resource_type: int) -> list[etree._Element]:
    return [i for i in root.iter(f"{OVF}Item") if i.findtext(f"{RASD}ResourceType") == str(resource_type)]


def read_iso(data: bytes) -> dict[str, bytes]:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        assert iso.pvd.volume_identifier.rstrip() == b"cidata"
        found = {}
        for name in ("user-data", "meta-data", "network-config"):
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, rr_path="/" + name)
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            found[name] = out.getvalue()
        return found
    finally:
        iso.close()


# --------------------------------------------------------------------------
# --for virtualbox


def test_for_virtualbox(work: Path) -> None:
    spec = ",".join(str(work / f) for f in ("user.yaml", "meta.yaml", "net.yaml"))
    files = members(export(work, "vbox", "--ova", "--for", "virtualbox", "--cloud-init", spec))
    assert list(files) == [
        f"{NAME}.ovf",
        f"{NAME}.mf",
        f"{NAME}-disk0.vmdk",
        f"{NAME}-disk1.vmdk",
        f"{NAME}-cidata.iso",
    ]
    root = descriptor(files)
    assert root.get(f"{OVF}version") == "1.0"
    assert root.findtext(f".//{VSSD}VirtualSystemType") == "virtualbox-2.2"
    # every Disk its own File; the ISO is a Disk of ECMA-119 format
    disks = root.findall(f"{OVF}DiskSection/{OVF}Disk")
    refs = [d.get(f"{OVF}fileRef") for d in disks]
    assert len(set(refs)) == len(refs) == 3 and None not in refs
    assert [d.get(f"{OVF}format").rsplit("#", 1)[-1] for d in disks[:2]] == ["streamOptimized"] * 2
    assert disks[2].get(f"{OVF}format") == ISO_URI
    # the blank disk is a real, empty streamOptimized VMDK of its capacity
    blank = work / "blank.vmdk"
    blank.write_bytes(files[f"{NAME}-disk1.vmdk"])
    info = image_info(blank, "vmdk")
    assert info["virtual-size"] == 64 * MIB and info["format-specific"]["data"]["create-type"] == "streamOptimized"
    assert len(files[f"{NAME}-disk1.vmdk"]) < 128 * 1024  # grain tables only
    # PIIX4 IDE (ResourceType 5, VirtualBox's default subtype): primary
    # master and slave the disks, secondary master the CD-ROM, as ovf:/disk/
    primary, secondary = items(root, 5)
    assert [c.findtext(f"{RASD}Address") for c in (primary, secondary)] == ["0", "1"]
    (cdrom,) = items(root, 15)
    assert cdrom.findtext(f"{RASD}HostResource") == f"ovf:/disk/{disks[2].get(f'{OVF}diskId')}"
    assert cdrom.findtext(f"{RASD}Parent") == secondary.findtext(f"{RASD}InstanceID")
    placed = [(d.findtext(f"{RASD}Parent"), d.findtext(f"{RASD}AddressOnParent")) for d in items(root, 17)]
    assert placed == [(primary.findtext(f"{RASD}InstanceID"), "0"), (primary.findtext(f"{RASD}InstanceID"), "1")]
    # virtio-net spelled as VirtualBox reads it
    assert [n.findtext(f"{RASD}ResourceSubType") for n in items(root, 10)] == ["virtio-net"]
    # the seed, as the guest will read it
    seed = read_iso(files[f"{NAME}-cidata.iso"])
    assert seed["user-data"] == USER_DATA
    assert seed["meta-data"] == (work / "meta.yaml").read_bytes()
    assert seed["network-config"] == (work / "net.yaml").read_bytes()
    assert run_cli("verify", str(work / "vbox" / f"{NAME}.ova")).returncode == 0


def test_for_vmware(work: Path) -> None:
    files = members(export(work, "vmware", "--ova", "--for", "vmware", "--cloud-init", str(work / "user.yaml")))
    root = descriptor(files)
    assert root.findtext(f".//{VSSD}VirtualSystemType") == "vmx-14"
    disks = root.findall(f"{OVF}DiskSection/{OVF}Disk")
    assert len(disks) == 2 and ISO_URI not in [d.get(f"{OVF}format") for d in disks]
    (cdrom,) = items(root, 15)
    iso_file = next(f for f in root.iter(f"{OVF}File") if f.get(f"{OVF}href") == f"{NAME}-cidata.iso")
    assert cdrom.findtext(f"{RASD}HostResource") == f"ovf:/file/{iso_file.get(f'{OVF}id')}"
    assert [n.findtext(f"{RASD}ResourceSubType") for n in items(root, 10)] == ["E1000"]
    meta = read_iso(files[f"{NAME}-cidata.iso"])["meta-data"]
    assert meta == f"instance-id: {NAME}\nlocal-hostname: {NAME}\n".encode()


def test_generic_carries_the_seed_on_a_disk(work: Path) -> None:
    files = members(export(work, "generic", "--ova", "--cloud-init", str(work / "user.yaml")))
    root = descriptor(files)
    assert root.findtext(f".//{VSSD}VirtualSystemType") == "vmx-14"
    assert items(root, 15) == []
    assert len(items(root, 17)) == 3
    seed_vmdk = work / "seed.vmdk"
    seed_vmdk.write_bytes(files[f"{NAME}-disk2.vmdk"])
    raw = work / "seed.raw"
    qemu_img("convert", "-f", "vmdk", "-O", "raw", str(seed_vmdk), str(raw))
    assert raw.stat().st_size % MIB == 0
    assert read_iso(raw.read_bytes())["user-data"] == USER_DATA


def test_efi_guest_states_its_firmware_as_vmware_does(work: Path, tmp_path: Path) -> None:
    """``vmw:Config firmware=efi``, not required (others may skip it), and
    read back: our import gives the Ganeti instance OVMF again."""
    folder = tmp_path / "efi"
    config = write_ganeti_export(folder, "efi.example.com", 4 * MIB)
    text = config.read_text().replace(
        "boot_order = disk\n", "boot_order = disk\nkvm_extra = -bios /usr/share/ovmf/OVMF.fd\n"
    )
    config.write_text(text)
    proc = run_cli("export", str(config), "--for", "vmware", "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    ovf = tmp_path / "out" / "efi.example.com" / "efi.example.com.ovf"
    root = etree.parse(str(ovf)).getroot()
    (config_node,) = root.iter(f"{VMW}Config")
    assert (config_node.get(f"{VMW}key"), config_node.get(f"{VMW}value")) == ("firmware", "efi")
    assert config_node.get(f"{OVF}required") == "false"
    vbox = run_cli("export", str(config), "--for", "virtualbox", "--output-dir", str(tmp_path / "vbox"))
    assert "enable EFI in the virtual machine's settings after importing it" in vbox.stderr


# --------------------------------------------------------------------------
# refusals: one line, nothing written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "virtualbox", "-f", "qcow2"], "--for virtualbox: format 'qcow2' is not for VirtualBox"),
        (["--for", "vmware", "--ovf-version", "2.0"], "--for vmware: ovf version '2.0' is not for VMware"),
        (["--for", "generic", "--digest", "sha512"], "--for generic: digest 'sha512' is not for VirtualBox and VMware"),
        (["--certificate", "x.pem"], "--certificate goes with --sign KEY.pem"),
        (["--vmx", "2"], "--vmx 2: VMware's virtual hardware versions run from 4 up"),
        (["--vmx", "13", "--virtual-system-type", "vmx-07"], "give --vmx or --virtual-system-type, not both"),
    ],
)
def test_refusals(work: Path, tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_cli("export", str(work / "gnt" / "config.ini"), "--output-dir", str(tmp_path / "out"), *args)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"ovfconverter: error: {message}")
    assert not (tmp_path / "out" / NAME).exists()


def test_for_is_spelled_in_full(work: Path, tmp_path: Path) -> None:
    proc = run_cli("export", str(work / "gnt" / "config.ini"), "--fo", "virtualbox")
    assert proc.returncode == 2 and "unrecognized arguments: --fo virtualbox" in proc.stderr
    proc = run_cli(
        "export", str(work / "gnt" / "config.ini"), "--for", "virtualbox", "--vmx", "13", "--output-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "<vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>" in (tmp_path / NAME / f"{NAME}.ovf").read_text()


def test_bad_user_data_refused_before_anything_is_read(work: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("#cloud-config\npackages: git\n")
    proc = run_cli("export", str(tmp_path / "missing" / "config.ini"), "--cloud-init", str(bad))
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    if shutil.which("cloud-init"):
        assert line.startswith("ovfconverter: error: bad.yaml: cloud-init's schema refuses it: packages: 'git'")
    else:
        assert "missing" in line  # without cloud-init only the YAML is checked, and it is YAML
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    proc = run_cli(
        "export", str(work / "gnt" / "config.ini"), "--cloud-init", str(script), "--output-dir", str(tmp_path)
    )
    assert proc.returncode == 1
    assert "script.sh: user data must start with a '#cloud-config' line" in proc.stderr


# --------------------------------------------------------------------------
# signatures


def test_signed_ova_cert_follows_the_manifest_and_openssl_agrees(work: Path, pki: Pki, tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.signer_cert.read_bytes() + pki.intermediate_cert.read_bytes())
    ova = export(work, "signed", "--ova", "--sign", str(pki.signer_key), "--certificate", str(chain))
    files = members(ova)
    assert list(files)[:3] == [f"{NAME}.ovf", f"{NAME}.mf", f"{NAME}.cert"]
    cert = files[f"{NAME}.cert"]
    first, pem = cert.split(b"\n", 1)
    label, hexsig = first.decode().split("= ")
    assert label == f"SHA256({NAME}.mf)"
    assert pem.rstrip(b"\n") == chain.read_bytes().rstrip(b"\n")
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    (tmp_path / "sig").write_bytes(bytes.fromhex(hexsig))
    (tmp_path / "mf").write_bytes(files[f"{NAME}.mf"])
    pub = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(pki.signer_cert)], capture_output=True, check=True
    ).stdout
    (tmp_path / "pub.pem").write_bytes(pub)
    proc = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "mf"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "Verified OK", proc.stderr
    verified = run_cli("verify", "--ca", str(pki.root_cert), str(ova))
    assert verified.returncode == 0, verified.stdout
    assert "trusted through CN=Test Root CA" in verified.stdout


def test_signed_folder_with_an_ec_key_and_sha1(work: Path, pki: Pki) -> None:
    """An ECDSA signature's length varies: the .cert is the same file
    whatever it is; SHA1 for older VMware products."""
    folder = export(
        work,
        "signed-ec",
        "--sign",
        str(pki.self_signed_key),
        "--certificate",
        str(pki.self_signed_cert),
        "--digest",
        "sha1",
    )
    cert = (folder / f"{NAME}.cert").read_bytes()
    assert cert.startswith(f"SHA1({NAME}.mf)= ".encode())
    proc = run_cli("verify", "--ca", str(pki.self_signed_cert), str(folder / f"{NAME}.ovf"))
    assert proc.returncode == 0, proc.stdout
    assert run_cli("verify", "--ca", str(pki.root_cert), str(folder / f"{NAME}.ovf")).returncode == 1


def test_key_without_its_certificate_is_refused(work: Path, pki: Pki, tmp_path: Path) -> None:
    proc = run_cli(
        "export", str(work / "gnt" / "config.ini"), "--sign", str(pki.signer_key), "--output-dir", str(tmp_path)
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"ovfconverter: error: {pki.signer_key}: holds no PEM certificate: give the signer's certificate "
        "with --certificate"
    )
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# OVF to OVF


def test_convert_an_ova_for_vmware(work: Path, tmp_path: Path) -> None:
    """A package made for VirtualBox, converted for VMware: virtio-net
    becomes E1000, the VirtualSystemType vmx-14, and its seed is written
    VMware's way when asked again."""
    source = export(work, "vbox-source", "--ova", "--for", "virtualbox", "--cloud-init", str(work / "user.yaml"))
    proc = run_cli(
        "convert",
        str(source),
        "--to",
        "ova",
        "--for",
        "vmware",
        "--cloud-init",
        str(work / "user.yaml"),
        "--output-dir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    files = members(tmp_path / f"{NAME}.ova")
    root = descriptor(files)
    assert root.findtext(f".//{VSSD}VirtualSystemType") == "vmx-14"
    assert [n.findtext(f"{RASD}ResourceSubType") for n in items(root, 10)] == ["E1000"]
    assert len(items(root, 15)) == 1 and len(items(root, 17)) == 2
    assert "cdrom0 (removable drive) is not written" in proc.stderr


@pytest.mark.parametrize(
    ("product", "transport"), [("vmware", "iso"), ("generic", "iso"), ("virtualbox", None)], ids=str
)
def test_ovf_environment_transport_kept_where_the_product_delivers_one(
    cot_dir: Path, tmp_path: Path, product: str, transport: str | None
) -> None:
    """COT's appliance asks for its properties through the ``iso``
    transport: VMware hands the guest that OVF environment, so ``vmware``
    and ``generic`` (VirtualBox ignores the attribute) keep it; VirtualBox
    hands none, so ``virtualbox`` leaves it out and says the properties'
    values will not reach the guest."""
    proc = run_cli(
        "convert", str(cot_dir / "input.ovf"), "--to", "ova", "--for", product, "--output-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    (ova,) = tmp_path.glob("*.ova")
    with tarfile.open(ova) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith(".ovf")]
        root = etree.fromstring(tar.extractfile(member).read())  # type: ignore[union-attr]
    assert root.find(f".//{OVF}VirtualHardwareSection").get(f"{OVF}transport") == transport
    source = etree.parse(str(cot_dir / "input.ovf")).getroot()
    keys = [p.get(f"{OVF}key") for p in source.iter(f"{OVF}Property")]
    assert len(keys) == 10 and [p.get(f"{OVF}key") for p in root.iter(f"{OVF}Property")] == keys  # kept
    warning = (
        "ovfconverter: warning: input.ovf: VirtualBox hands the guest no OVF environment (iso transport): the "
        "values of the package's properties do not reach it; give the guest its configuration with --cloud-init"
    )
    assert (warning in proc.stderr.splitlines()) == (transport is None), proc.stderr


# --------------------------------------------------------------------------
# the user guide's walkthrough, command for command

GUIDE_TITLE = "Publish a VM for VirtualBox and VMware users"


def walkthrough() -> tuple[str, list[tuple[list[str], list[str]]]]:
    """The section's ``#cloud-config`` block, and each ``$ ovfconverter``
    command with the lines the guide shows it printing."""
    lines = (ROOT / "doc" / "user-guide.rst").read_text().splitlines()
    start = lines.index(GUIDE_TITLE)
    end = next(i for i in range(start + 2, len(lines)) if set(lines[i]) == {"-"} and len(lines[i]) > 3) - 1
    section = lines[start:end]
    first = section.index("    #cloud-config")
    config = "\n".join(line[4:] for line in itertools.takewhile(lambda line: line.strip(), section[first:])) + "\n"
    commands = []
    for index, line in enumerate(section):
        if line.startswith("    $ ovfconverter "):
            shown = list(itertools.takewhile(lambda text: text.strip(), section[index + 1 :]))
            commands.append((shlex.split(line)[2:], [text[4:] for text in shown]))
    return config, commands


def test_user_guide_walkthrough(tmp_path: Path) -> None:
    config, commands = walkthrough()
    assert len(commands) == 5
    write_ganeti_export(tmp_path, "training.example.com", 6 * MIB, blank_mib=32)
    (tmp_path / "user-data.yaml").write_text(config)
    (tmp_path / "network-config.yaml").write_text(
        "version: 2\nethernets:\n  nic0:\n    match: {name: 'e*'}\n    dhcp4: true\n"
    )
    pki = make_pki(tmp_path / "pki", names=("Course CA", "Course Intermediate CA", "Course Signing"))
    shutil.copyfile(pki.signer_key, tmp_path / "signing-key.pem")
    (tmp_path / "signing-chain.pem").write_bytes(pki.signer_cert.read_bytes() + pki.intermediate_cert.read_bytes())
    shutil.copyfile(pki.root_cert, tmp_path / "course-ca.pem")
    publish = str(tmp_path / "publish")
    for args, shown in commands:
        proc = run_cli(*[arg.replace("/srv/publish", publish) for arg in args], cwd=tmp_path)
        expected = [text.replace("/srv/publish", publish) for text in shown]
        assert proc.returncode in (0, 1), proc.stderr
        # the guide shows what a terminal shows: the warnings, then the result
        assert proc.stderr.splitlines() + proc.stdout.splitlines() == expected
        assert (proc.returncode == 0) == (not expected[-1].startswith("ovfconverter: error:"))
    vbox = members(tmp_path / "publish" / "virtualbox" / "training.example.com.ova")
    assert read_iso(vbox["training.example.com-cidata.iso"])["user-data"] == config.encode()


# --------------------------------------------------------------------------
# the seed on the other targets


def test_import_adds_the_seed_as_one_more_disk(work: Path, tmp_path: Path) -> None:
    """A Ganeti export has no CD-ROM: the seed is the instance's last disk
    (its volume padded to whole MiB), which cloud-init finds by its label."""
    ova = export(work, "to-import", "--ova")
    proc = run_cli(
        "import",
        str(ova),
        "-o",
        "raw-image+default",
        "--cloud-init",
        str(work / "user.yaml"),
        "--output-dir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    ini = (tmp_path / NAME / "config.ini").read_text()
    assert "disk_count = 3" in ini and "disk2_size = 1\n" in ini
    seed = (tmp_path / NAME / "disk2.raw").read_bytes()
    assert len(seed) == MIB and read_iso(seed)["user-data"] == USER_DATA
    # Ganeti to Ganeti through convert, the same way
    proc = run_cli(
        "convert",
        str(work / "gnt" / "config.ini"),
        "--to",
        "ganeti",
        "--cloud-init",
        str(work / "user.yaml"),
        "--output-dir",
        str(tmp_path / "again"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "disk_count = 3" in (tmp_path / "again" / NAME / "config.ini").read_text()


def test_libvirt_gets_the_seed_in_a_cdrom(work: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "convert",
        str(work / "gnt" / "config.ini"),
        "--to",
        "libvirt",
        "--cloud-init",
        str(work / "user.yaml"),
        "--output-dir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / NAME
    domain = etree.parse(str(folder / f"{NAME}.xml")).getroot()
    (cdrom,) = domain.findall("devices/disk[@device='cdrom']")
    assert cdrom.find("source").get("file") == str(folder / f"{NAME}-cidata.iso")
    assert cdrom.find("readonly") is not None
    assert read_iso((folder / f"{NAME}-cidata.iso").read_bytes())["user-data"] == USER_DATA


def test_cloud_init_is_refused_where_it_is_not_written(work: Path, tmp_path: Path) -> None:
    for target in ("xen", "openstack"):
        proc = run_cli(
            "convert",
            str(work / "gnt" / "config.ini"),
            "--to",
            target,
            "--cloud-init",
            str(work / "user.yaml"),
            "--output-dir",
            str(tmp_path),
        )
        assert proc.returncode == 1
        assert proc.stderr.strip() == f"ovfconverter: error: --cloud-init: not an option of --to {target}"
    assert list(tmp_path.iterdir()) == []
