"""The OpenStack target: raw disks of a machine -> qcow2/raw images, their
JSON files of Glance fields, and the upload into a real Glance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import LocalGlance, images_identical, make_raw_disk

from ovfconverter.errors import CloudError, OptionError, OutputExistsError
from ovfconverter.formats.glance_json import parse_glance_json
from ovfconverter.glance.cloud import CloudOptions
from ovfconverter.glance.target import OpenStackOptions, write_openstack
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.machine import (
    Architecture,
    Bus,
    Chipset,
    ControllerModel,
    Disk,
    Firmware,
    GuestOS,
    Machine,
    Memory,
    NicModel,
    OsFamily,
)
from ovfconverter.model.openstack import DiskFormat
from ovfconverter.parameters import Parameter

MIB = 1 << 20


@dataclass(frozen=True)
class Storage:
    bus: Bus
    model: ControllerModel | None = None


@dataclass(frozen=True)
class Devices:
    firmware: Firmware = Firmware.BIOS
    secure_boot: bool = False
    chipset: Chipset = Chipset.I440FX
    disks: tuple[Storage, ...] = (Storage(Bus.VIRTIO), Storage(Bus.SCSI, ControllerModel.VIRTIO_SCSI))
    nics: tuple[NicModel, ...] = (NicModel.VIRTIO,)


MACHINE = Machine(
    name="web1.example.com",
    os=GuestOS(family=OsFamily.LINUX, distribution="debian", version="12", architecture=Architecture.X86_64),
    memory=Memory(size=1024 * MIB),
    disks=(Disk(), Disk()),
)


@pytest.fixture
def dumps(tmp_path: Path) -> list[ByteRange]:
    paths = [make_raw_disk(tmp_path / "disk0.raw", 12 * MIB), make_raw_disk(tmp_path / "disk1.raw", 3 * MIB, seed=2)]
    return [ByteRange(str(p), 0, p.stat().st_size, p.name) for p in paths]


@pytest.mark.parametrize("fmt", [DiskFormat.QCOW2, DiskFormat.RAW])
def test_writes_images_and_json_files(out_dir: Path, dumps: list[ByteRange], fmt: DiskFormat) -> None:
    result = write_openstack(MACHINE, Devices(), dumps, OpenStackOptions(output_dir=str(out_dir), disk_format=fmt))
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
    for index, (image, path, dump) in enumerate(zip(result.images, result.files, dumps, strict=True)):
        assert images_identical(path, ext, dump.path, "raw")
        stem = path[: -len(ext) - 1]
        assert parse_glance_json(Path(stem + ".json").read_bytes(), stem + ".json", disk_index=index) == image
        assert image.data is not None and image.data.size == os.path.getsize(path)
        assert image.data.virtual_size == dump.size
    boot = json.loads((folder / "web1.example.com.json").read_text())
    assert boot["min_disk"] == 1 and boot["min_ram"] == 1024 and boot["hw_disk_bus"] == "virtio"
    volume = json.loads((folder / "web1.example.com-disk1.json").read_text())
    assert volume["hw_scsi_model"] == "virtio-scsi" and "os_distro" not in volume
    assert not [name for name in os.listdir(out_dir) if name.startswith(".")]  # no staging left


def test_existing_output_needs_force(out_dir: Path, dumps: list[ByteRange]) -> None:
    options = OpenStackOptions(output_dir=str(out_dir))
    write_openstack(MACHINE, Devices(), dumps, options)
    with pytest.raises(OutputExistsError):
        write_openstack(MACHINE, Devices(), dumps, options)
    write_openstack(MACHINE, Devices(), dumps, OpenStackOptions(output_dir=str(out_dir), force=True))


def test_hostile_name_stays_inside_the_output_folder(out_dir: Path, dumps: list[ByteRange]) -> None:
    result = write_openstack(MACHINE, Devices(), dumps, OpenStackOptions(output_dir=str(out_dir), name="../../etc/x y"))
    assert Path(result.path).parent == out_dir
    assert os.path.basename(result.path) == "_.._etc_x_y"
    assert result.images[0].name == "../../etc/x y"  # Glance takes any name; only files are made safe


def test_refusals_before_anything_is_written(out_dir: Path, dumps: list[ByteRange]) -> None:
    with pytest.raises(OptionError, match="qcow2 or raw"):
        write_openstack(
            MACHINE, Devices(), dumps, OpenStackOptions(output_dir=str(out_dir), disk_format=DiskFormat.VMDK)
        )
    with pytest.raises(OptionError, match="1 disk images for 2 disks"):
        write_openstack(MACHINE, Devices(), dumps[:1], OpenStackOptions(output_dir=str(out_dir)))
    assert os.listdir(out_dir) == []


def test_upload_with_no_cloud_configured_fails_before_converting(
    out_dir: Path, dumps: list[ByteRange], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(CloudError, match="name a cloud of clouds.yaml with cloud, ") as caught:
        write_openstack(MACHINE, Devices(), dumps, OpenStackOptions(output_dir=str(out_dir), upload=True))
    assert caught.value.parameters == (Parameter("cloud"),)
    assert os.listdir(out_dir) == []


def test_upload_into_glance(
    glance: LocalGlance, out_dir: Path, dumps: list[ByteRange], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in glance.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OS_CLOUD", raising=False)
    options = OpenStackOptions(output_dir=str(out_dir), upload=True, cloud=CloudOptions())
    result = write_openstack(MACHINE, Devices(), dumps, options)
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


@pytest.mark.parametrize(
    ("os_type", "description", "family", "distribution", "version"),
    [
        ("debian11_64Guest", None, OsFamily.LINUX, "debian", "11"),
        ("ubuntu64Guest", None, OsFamily.LINUX, "ubuntu", None),
        ("windows9Server64Guest", None, OsFamily.WINDOWS, "windows", None),
        (None, "CentOS 7 (64-bit)", OsFamily.LINUX, "centos", "7"),
        ("other26xLinux64Guest", None, OsFamily.LINUX, None, None),
        (None, None, None, None, None),
    ],
)
def test_interim_guest_from_vmware_ids(
    os_type: str | None, description: str | None, family: OsFamily | None, distribution: str | None, version: str | None
) -> None:
    from ovfconverter.glance.sources import _guest_from_vmware

    guest = _guest_from_vmware(os_type, description)
    assert (guest.family, guest.distribution, guest.version) == (family, distribution, version)
