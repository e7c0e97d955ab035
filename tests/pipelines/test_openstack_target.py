"""The OpenStack target on the seam (``convert(SOURCE, "openstack")``): a
Ganeti export's or an OVF package's disks -> qcow2/raw images and their JSON
files of Glance fields, uploaded into a real Glance."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from builders import (
    DiskSpec,
    LocalGlance,
    VmSpec,
    boot_ova,
    folder_package,
    images_identical,
    make_raw_disk,
    ova_package,
    read_ini,
    streamoptimized,
    write_kvm_export,
)

from ovfconverter.errors import CloudError, ManifestError, OptionError, OutputExistsError
from ovfconverter.formats.glance_json import parse_glance_json
from ovfconverter.glance.cloud import CloudOptions
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.model.openstack import DiskFormat
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.convert import convert
from ovfconverter.targets.ganeti import ImportOptions
from ovfconverter.targets.openstack import OpenStackOptions, OpenStackResult

MIB = 1 << 20


def to_openstack(source: Path, out_dir: Path, **options: object) -> OpenStackResult:
    result: OpenStackResult = convert(
        str(source),
        "openstack",
        OpenStackOptions(output_dir=str(out_dir), **options),  # type: ignore[arg-type]
    )
    return result


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_kvm_export(tmp_path / "src" / "web1.example.com")


def dumps(export: Path) -> list[Path]:
    instance = read_ini(export / "config.ini")["instance"]
    return [export / instance[f"disk{n}_dump"] for n in range(int(instance["disk_count"]))]


@pytest.mark.parametrize("fmt", [DiskFormat.QCOW2, DiskFormat.RAW])
def test_ganeti_export_to_images_and_json_files(out_dir: Path, export: Path, fmt: DiskFormat) -> None:
    result = to_openstack(export, out_dir, disk_format=fmt)
    folder = out_dir / "web1.example.com"
    assert result.path == str(folder)
    ext = fmt.value
    assert sorted(os.listdir(folder)) == sorted(
        [
            f"web1.example.com.{ext}",
            "web1.example.com.json",
            f"web1.example.com-disk1.{ext}",
            "web1.example.com-disk1.json",
        ]
    )
    assert [os.path.basename(f) for f in result.files] == [f"web1.example.com.{ext}", f"web1.example.com-disk1.{ext}"]
    for index, (image, path, dump) in enumerate(zip(result.images, result.files, dumps(export), strict=True)):
        assert images_identical(path, ext, dump, "raw")
        stem = path[: -len(ext) - 1]
        assert parse_glance_json(Path(stem + ".json").read_bytes(), stem + ".json", disk_index=index) == image
        assert image.data is not None and image.data.size == os.path.getsize(path)
        assert image.data.virtual_size == dump.stat().st_size
    boot = json.loads((folder / "web1.example.com.json").read_text())
    assert (boot["min_disk"], boot["min_ram"]) == (1, 512)  # 24 MiB rounds up to 1 GiB; minmem
    assert (boot["hw_disk_bus"], boot["hw_vif_model"], boot["hw_qemu_guest_agent"]) == ("virtio", "virtio", "yes")
    volume = json.loads((folder / "web1.example.com-disk1.json").read_text())
    assert volume["hw_disk_bus"] == "virtio" and "os_distro" not in volume and volume["min_ram"] == 0
    assert os.listdir(out_dir) == ["web1.example.com"]  # no staging left


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DevicePolicy.AUTO, ("scsi", "lsilogic", "e1000")),  # "other 64-bit Linux": no virtio assumed
        (DevicePolicy.KEEP, ("scsi", "lsilogic", "e1000")),
        (DevicePolicy.VIRTIO, ("virtio", None, "virtio")),
    ],
)
def test_device_policy_reaches_the_image_properties(
    tmp_path: Path, out_dir: Path, policy: DevicePolicy, expected: tuple[str, str | None, str]
) -> None:
    """A VMware-style OVA (LSI Logic SCSI, E1000): its buses are kept where
    Nova has them, or all virtio with ``policy=virtio`` (a warning naming the
    parameter)."""
    ova = boot_ova(tmp_path / "vm.ova", make_raw_disk(tmp_path / "d.raw", MIB), "vmware", "vm")
    result = to_openstack(ova, out_dir, policy=policy)
    boot = json.loads((out_dir / "vm" / "vm.json").read_text())
    assert (boot["hw_disk_bus"], boot.get("hw_scsi_model"), boot["hw_vif_model"]) == expected
    virtio_notes = [w for w in result.warnings if "policy=virtio" in w]
    assert len(virtio_notes) == (1 if policy is DevicePolicy.VIRTIO else 0), result.warnings


def test_ova_to_image_with_the_manifest_checked_in_the_same_pass(tmp_path: Path, out_dir: Path) -> None:
    raw, vmdk = streamoptimized(tmp_path, "disk0", 5 * MIB, seed=3)
    vm = VmSpec(name="appliance", disks=[DiskSpec(href="disk0.vmdk", capacity=5 * MIB)])
    ova = ova_package(tmp_path / "appliance.ova", vm, {"disk0.vmdk": vmdk})
    result = to_openstack(ova, out_dir)
    (image,) = result.images
    assert images_identical(result.files[0], "qcow2", raw, "raw")
    assert (image.name, image.os_distro, image.min_ram) == ("appliance", "debian", 512)  # OSType 96
    # A folder package whose disk changed after its manifest was written: refused
    # as the manifest says (not by what the changed bytes break), nothing written.
    ovf = folder_package(tmp_path / "pkg", vm, {"disk0.vmdk": vmdk})
    data = bytearray((tmp_path / "pkg" / "disk0.vmdk").read_bytes())
    data[-600] ^= 0xFF
    (tmp_path / "pkg" / "disk0.vmdk").write_bytes(bytes(data))
    with pytest.raises(ManifestError):
        to_openstack(ovf, tmp_path / "out2")
    assert not (tmp_path / "out2").exists() or os.listdir(tmp_path / "out2") == []


def test_gzip_compressed_export(tmp_path: Path, out_dir: Path, export: Path) -> None:
    """``[export] compression = gzip``: the dumps are decompressed (into the
    run's work folder, gone afterwards) and the images hold their data."""
    originals = []
    for dump in dumps(export):
        originals.append(tmp_path / dump.name)
        shutil.copyfile(dump, originals[-1])
        dump.write_bytes(gzip.compress(dump.read_bytes(), 1))
    config = export / "config.ini"
    config.write_text(config.read_text().replace("compression = none", "compression = gzip"))
    result = to_openstack(export, out_dir, disk_format=DiskFormat.RAW)
    for path, original in zip(result.files, originals, strict=True):
        assert images_identical(path, "raw", original, "raw")
    assert os.listdir(out_dir) == ["web1.example.com"]


def test_on_a_ganeti_node_no_word_about_ganetis_export_folder(
    tmp_path: Path, out_dir: Path, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OpenStack target writes no Ganeti export, so nothing about where
    gnt-backup import reads dumps from (the interim reader warned so); the
    Ganeti target, on the same fake node, does."""
    node = tmp_path / "ganeti"
    node.mkdir()
    (node / "ssconf_cluster_name").write_text("cluster.example.com\n")
    monkeypatch.setenv("OVFCONVERTER_GANETI_DIR", str(node))
    raw, vmdk = streamoptimized(tmp_path, "disk0", 2 * MIB, seed=4)
    ova = ova_package(tmp_path / "appliance.ova", VmSpec(disks=[DiskSpec(href="d.vmdk")]), {"d.vmdk": vmdk})
    ganeti = convert(str(ova), "ganeti", ImportOptions(os_type="raw-image+default", output_dir=str(tmp_path / "g")))
    assert any("is not below" in warning for warning in ganeti.warnings)
    for source in (ova, export):
        result = to_openstack(source, out_dir, force=True)
        assert not [w for w in result.warnings if "gnt-backup" in w or "not below" in w], result.warnings


def test_existing_output_needs_force(out_dir: Path, export: Path) -> None:
    to_openstack(export, out_dir)
    with pytest.raises(OutputExistsError):
        to_openstack(export, out_dir)
    to_openstack(export, out_dir, force=True)


def test_hostile_name_stays_inside_the_output_folder(out_dir: Path, export: Path) -> None:
    result = to_openstack(export, out_dir, name="../../etc/x y")
    assert Path(result.path).parent == out_dir
    assert os.path.basename(result.path) == "_.._etc_x_y"
    assert result.images[0].name == "../../etc/x y"  # Glance takes any name; only files are made safe


def test_refusals_before_anything_is_written(out_dir: Path, export: Path) -> None:
    with pytest.raises(OptionError, match="qcow2 or raw"):
        to_openstack(export, out_dir, disk_format=DiskFormat.VMDK)
    with pytest.raises(OptionError, match="would replace the source"):
        to_openstack(export, export.parent, force=True)
    assert os.listdir(out_dir) == []
    assert (export / "config.ini").exists()


def test_upload_with_no_cloud_configured_fails_before_converting(
    out_dir: Path, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(CloudError, match="name a cloud of clouds.yaml with cloud, ") as caught:
        to_openstack(export, out_dir, upload=True)
    assert caught.value.parameters == (Parameter("cloud"),)
    assert os.listdir(out_dir) == []


def test_upload_into_glance(glance: LocalGlance, out_dir: Path, export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in glance.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OS_CLOUD", raising=False)
    result = to_openstack(export, out_dir, upload=True, cloud=CloudOptions())
    assert [u.name for u in result.uploaded] == ["web1.example.com", "web1.example.com-disk1"]
    proxy = glance.connection().image
    for uploaded, image in zip(result.uploaded, result.images, strict=True):
        stored = proxy.get_image(uploaded.id)
        assert stored.status == "active"
        assert image.data is not None
        assert (stored.checksum, stored.hash_value) == (image.data.checksum, image.data.os_hash_value)
        assert stored.virtual_size == image.data.virtual_size  # Glance's own qcow2 inspection agrees
        raw = proxy.get(f"/images/{uploaded.id}").json()
        assert {k: str(raw[k]) for k in image.create_fields()} == {k: str(v) for k, v in image.create_fields().items()}
