"""The JSON file of an image's Glance fields, written beside each image file
of the OpenStack target (``NAME.json`` beside ``NAME.qcow2``).

One flat JSON object, every key as Glance's image API v2 spells it (the
shape of ``GET /v2/images/{id}`` and ``openstack image show -f json``,
minus what only the cloud knows: ``id``, ``status``, dates, ``owner``):

* the create fields: ``name``, ``disk_format``, ``container_format``,
  ``min_disk`` (GiB), ``min_ram`` (MiB) and the additional properties
  (``hw_disk_bus``...), all strings;
* what Glance will compute from the file, for checking an upload:
  ``size`` and ``virtual_size`` (bytes), ``checksum`` (MD5 hex),
  ``os_hash_algo`` (``sha512``), ``os_hash_value`` (hex).

The image file is the JSON file's name with ``.json`` replaced by
``.<disk_format>``.  :func:`parse_glance_json` reads one back, checking
every value it knows against Glance's enums.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from ovfconverter.errors import PackageError
from ovfconverter.model.openstack import (
    MAX_NAME,
    ContainerFormat,
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

#: A JSON file larger than this is refused (128 properties of 255
#: characters fit many times over).
MAX_JSON_SIZE = 1 << 20
_CORE = ("name", "disk_format", "container_format", "min_disk", "min_ram")
_DATA = ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value")
_HEX = re.compile(r"[0-9a-f]+\Z")
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}\Z")
_E = TypeVar(
    "_E", DiskFormat, ContainerFormat, HwDiskBus, HwFirmwareType, HwScsiModel, HwVifModel, OsSecureBoot, OsType
)


def data_file_name(json_name: str, disk_format: DiskFormat) -> str:
    """The image file that goes with the JSON file ``json_name``."""
    stem = json_name[: -len(".json")] if json_name.endswith(".json") else json_name
    return f"{stem}.{disk_format.value}"


def glance_fields(image: GlanceImage) -> dict[str, str | int]:
    """Everything the JSON file holds for ``image``, in file order: create
    fields, then the data fields when :attr:`GlanceImage.data` is set."""
    body = image.create_fields()
    ordered: dict[str, str | int] = {key: body[key] for key in _CORE}
    ordered.update(sorted((key, value) for key, value in body.items() if key not in _CORE))
    if image.data is not None:
        data = image.data
        ordered.update(
            size=data.size,
            virtual_size=data.virtual_size,
            checksum=data.checksum,
            os_hash_algo=data.os_hash_algo,
            os_hash_value=data.os_hash_value,
        )
    return ordered


def format_glance_json(image: GlanceImage) -> bytes:
    """The JSON file of ``image`` (UTF-8, indented, newline-terminated)."""
    return (json.dumps(glance_fields(image), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _enum(kind: type[_E], value: Any, key: str, subject: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise PackageError(f"{key} {value!r} is not one of Glance's values ({allowed})", subject) from None


def _optional_enum(kind: type[_E], values: dict[str, Any], key: str, subject: str) -> _E | None:
    value = values.pop(key, None)
    return None if value is None else _enum(kind, value, key, subject)


def _integer(values: Mapping[str, Any], key: str, subject: str) -> int:
    value = values.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PackageError(f"{key} must be a non-negative integer", subject)
    return value


def _data(values: dict[str, Any], name: str, disk_format: DiskFormat, subject: str) -> ImageData | None:
    present = [key for key in _DATA if key in values]
    if not present:
        return None
    if len(present) != len(_DATA):
        missing = ", ".join(key for key in _DATA if key not in values)
        raise PackageError(f"the file's fields are incomplete: {missing} missing", subject)
    fields = {key: values.pop(key) for key in _DATA}
    for key, length in (("checksum", 32), ("os_hash_value", 128)):
        digest = fields[key]
        if not isinstance(digest, str) or len(digest) != length or not _HEX.match(digest):
            raise PackageError(f"{key} is not {length} lower-case hex digits", subject)
    if fields["os_hash_algo"] != "sha512":
        raise PackageError("os_hash_algo must be sha512", subject)
    return ImageData(
        file=data_file_name(os.path.basename(name), disk_format),
        size=_integer(fields, "size", subject),
        virtual_size=_integer(fields, "virtual_size", subject),
        checksum=fields["checksum"],
        os_hash_value=fields["os_hash_value"],
    )


def parse_glance_json(text: bytes, json_name: str, *, disk_index: int = 0) -> GlanceImage:
    """Read a JSON file written by :func:`format_glance_json`.

    :param json_name: the file's name (for messages and the data file name).
    :param disk_index: its disk's position (0: the boot image).
    :raises PackageError: not such a file: not JSON, too large, a value of
        the wrong type or outside Glance's enums.
    """
    if len(text) > MAX_JSON_SIZE:
        raise PackageError(f"larger than {MAX_JSON_SIZE} bytes", json_name)
    try:
        values = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError(f"not a JSON file of Glance fields: {exc}", json_name) from None
    if not isinstance(values, dict):
        raise PackageError("not a JSON object", json_name)
    name = values.pop("name", None)
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise PackageError(f"name must be a string of 1 to {MAX_NAME} characters", json_name)
    disk_format = _enum(DiskFormat, values.pop("disk_format", None), "disk_format", json_name)
    container = _enum(ContainerFormat, values.pop("container_format", "bare"), "container_format", json_name)
    min_disk, min_ram = _integer(values, "min_disk", json_name), _integer(values, "min_ram", json_name)
    values.pop("min_disk", None)
    values.pop("min_ram", None)
    data = _data(values, json_name, disk_format, json_name)
    agent = values.pop("hw_qemu_guest_agent", None)
    if agent not in (None, "yes", "no"):
        raise PackageError(f"hw_qemu_guest_agent {agent!r} is not yes or no", json_name)
    os_type = _optional_enum(OsType, values, "os_type", json_name)
    firmware = _optional_enum(HwFirmwareType, values, "hw_firmware_type", json_name)
    secure_boot = _optional_enum(OsSecureBoot, values, "os_secure_boot", json_name)
    disk_bus = _optional_enum(HwDiskBus, values, "hw_disk_bus", json_name)
    scsi_model = _optional_enum(HwScsiModel, values, "hw_scsi_model", json_name)
    vif_model = _optional_enum(HwVifModel, values, "hw_vif_model", json_name)
    strings = {key: values.pop(key, None) for key in ("architecture", "os_distro", "os_version", "hw_machine_type")}
    for key, value in [*strings.items(), *values.items()]:
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME or not _KEY.match(key)):
            raise PackageError(f"property {key!r} must be a string of at most {MAX_NAME} characters", json_name)
    return GlanceImage(
        name=name,
        disk_format=disk_format,
        container_format=container,
        min_disk=min_disk,
        min_ram=min_ram,
        architecture=strings["architecture"],
        os_distro=strings["os_distro"],
        os_version=strings["os_version"],
        hw_machine_type=strings["hw_machine_type"],
        hw_qemu_guest_agent=None if agent is None else agent == "yes",
        role=ImageRole.BOOT if disk_index == 0 else ImageRole.VOLUME,
        disk_index=disk_index,
        os_type=os_type,
        hw_firmware_type=firmware,
        os_secure_boot=secure_boot,
        hw_disk_bus=disk_bus,
        hw_scsi_model=scsi_model,
        hw_vif_model=vif_model,
        extra_properties=MappingProxyType(dict(values)),
        data=data,
    )
