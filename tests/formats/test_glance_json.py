"""The JSON file of an image's Glance fields: written, read back, refused."""

from __future__ import annotations

import json

import pytest

from ovfconverter.errors import PackageError
from ovfconverter.formats.glance_json import MAX_JSON_SIZE, data_file_name, format_glance_json, parse_glance_json
from ovfconverter.model.openstack import (
    DiskFormat,
    GlanceImage,
    HwDiskBus,
    HwFirmwareType,
    HwScsiModel,
    HwVifModel,
    ImageData,
    ImageRole,
    OsSecureBoot,
    OsType,
)

DATA = ImageData(
    file="web1.qcow2", size=196616, virtual_size=64 << 20, checksum="0" * 31 + "a", os_hash_value="b" * 128
)
FULL = GlanceImage(
    name="web1",
    disk_format=DiskFormat.QCOW2,
    min_disk=10,
    min_ram=2048,
    architecture="x86_64",
    os_type=OsType.LINUX,
    os_distro="debian",
    os_version="12",
    hw_firmware_type=HwFirmwareType.UEFI,
    os_secure_boot=OsSecureBoot.REQUIRED,
    hw_machine_type="q35",
    hw_disk_bus=HwDiskBus.SCSI,
    hw_scsi_model=HwScsiModel.VIRTIO_SCSI,
    hw_vif_model=HwVifModel.VIRTIO,
    hw_qemu_guest_agent=True,
    data=DATA,
)


def test_file_is_flat_glance_fields_in_order() -> None:
    text = format_glance_json(FULL)
    assert text.endswith(b"\n")
    values = json.loads(text)
    assert list(values)[:5] == ["name", "disk_format", "container_format", "min_disk", "min_ram"]
    assert list(values)[-5:] == ["size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"]
    assert values["hw_qemu_guest_agent"] == "yes"
    assert values["min_disk"] == 10 and values["os_hash_algo"] == "sha512"
    assert all(
        isinstance(v, str) for k, v in values.items() if k not in ("min_disk", "min_ram", "size", "virtual_size")
    )


def test_round_trip() -> None:
    assert parse_glance_json(format_glance_json(FULL), "web1.json") == FULL
    bare = GlanceImage(name="web1-disk1", disk_format=DiskFormat.RAW, min_disk=1, role=ImageRole.VOLUME, disk_index=1)
    assert parse_glance_json(format_glance_json(bare), "web1-disk1.json", disk_index=1) == bare


def test_unknown_properties_are_kept() -> None:
    values = json.loads(format_glance_json(FULL))
    values["hw_rng_model"] = "virtio"
    image = parse_glance_json(json.dumps(values).encode(), "web1.json")
    assert image.extra_properties == {"hw_rng_model": "virtio"}
    assert image.create_fields()["hw_rng_model"] == "virtio"


def test_data_file_name() -> None:
    assert data_file_name("web1.json", DiskFormat.QCOW2) == "web1.qcow2"
    assert data_file_name("web1-disk1.json", DiskFormat.RAW) == "web1-disk1.raw"


def mutate(**changes: object) -> bytes:
    values = json.loads(format_glance_json(FULL))
    for key, value in changes.items():
        if value is None:
            values.pop(key)
        else:
            values[key] = value
    return json.dumps(values).encode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff", "not a JSON file"),
        (b"[1]", "not a JSON object"),
        (b"{", "not a JSON file"),
        (mutate(name=""), "name must be"),
        (mutate(name="x" * 256), "name must be"),
        (mutate(disk_format="vmdk2"), "disk_format 'vmdk2' is not one of"),
        (mutate(container_format="zip"), "container_format"),
        (mutate(hw_disk_bus="nvme"), "hw_disk_bus 'nvme'"),
        (mutate(hw_scsi_model="megasas"), "hw_scsi_model"),
        (mutate(hw_vif_model="vmxnet"), "hw_vif_model"),
        (mutate(os_type="bsd"), "os_type"),
        (mutate(hw_qemu_guest_agent="maybe"), "yes or no"),
        (mutate(min_disk=-1), "non-negative"),
        (mutate(min_ram="512"), "non-negative"),
        (mutate(min_ram=True), "non-negative"),
        (mutate(checksum="G" * 32), "hex"),
        (mutate(os_hash_value="ab"), "hex"),
        (mutate(os_hash_algo="md5"), "sha512"),
        (mutate(size=None), "incomplete"),
        (mutate(os_distro=["debian"]), "must be a string"),
        (mutate(architecture="x" * 256), "must be a string"),
        (mutate(**{"bad\nkey": "v"}), "must be a string"),
        (b" " * (MAX_JSON_SIZE + 1), "larger than"),
    ],
)
def test_refusals(text: bytes, message: str) -> None:
    with pytest.raises(PackageError, match=message) as info:
        parse_glance_json(text, "web1.json")
    assert "\n" not in str(info.value)
