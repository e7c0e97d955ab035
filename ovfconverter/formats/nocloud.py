"""cloud-init NoCloud seeds: the files checked, the ISO 9660 volume labelled
``cidata`` written and read back (with pycdlib).

Checks (before anything is written; each refusal names the file and, for
YAML, the line):

* ``user-data`` starts with ``#cloud-config`` (cloud-init's marker for its
  YAML format; scripts, MIME multipart and ``#include`` are refused: their
  contents cannot be checked) and is a YAML mapping;
* ``meta-data``, when given, is a YAML mapping with a string
  ``instance-id``; when not given it is made from the machine's name
  (``instance-id`` the name, ``local-hostname`` the name made a host name);
* ``network-config``, when given, is a YAML mapping stating ``version`` 1
  or 2 (cloud-init's "Network configuration" formats), optionally under a
  top-level ``network`` key.

Each file is at most :data:`MAX_SEED_FILE` bytes and UTF-8.  cloud-init's
own schema check is :mod:`ovfconverter.formats.cloud_config_schema`.

The volume is what cloud-init's documentation makes with ``genisoimage
-volid cidata -joliet -rock``: ISO 9660 interchange level 1 with Rock Ridge
and Joliet names, so that every guest kernel sees ``user-data``,
``meta-data`` and ``network-config``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, BinaryIO

from ovfconverter.errors import OptionError, PackageError
from ovfconverter.model.nocloud import (
    META_DATA,
    NETWORK_CONFIG,
    USER_DATA,
    VOLUME_LABEL,
    NoCloudSeed,
    hostname_from_name,
)

MAX_SEED_FILE = 16 * 1024 * 1024
"""Largest user-data, meta-data or network-config file accepted, in bytes."""

CLOUD_CONFIG_MARKER = "#cloud-config"

_ISO_NAMES = {USER_DATA: "/USER_DAT.;1", META_DATA: "/META_DAT.;1", NETWORK_CONFIG: "/NETWORK_.;1"}
"""ISO 9660 level 1 (8.3) names of the seed's files; Rock Ridge and Joliet
carry the real names."""


def _text(data: bytes, name: str) -> str:
    if len(data) > MAX_SEED_FILE:
        raise OptionError(f"is {len(data)} bytes, more than the {MAX_SEED_FILE} accepted", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OptionError(f"is not UTF-8 text (byte {exc.start})", name) from None


def _yaml(text: str, name: str) -> Any:
    import yaml  # here, not at the top: a conversion without a seed never loads it

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise OptionError(f"{where}not valid YAML ({exc.problem or exc.context})", name) from None
    except yaml.YAMLError as exc:
        raise OptionError(f"not valid YAML ({exc})", name) from None


def _mapping(value: Any, name: str, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise OptionError(f"{what} must be a YAML mapping of names to values, not {type(value).__name__}", name)
    return value


def check_user_data(data: bytes, name: str) -> Mapping[str, Any]:
    """Check a ``user-data`` file: ``#cloud-config`` first, then a YAML
    mapping.

    :returns: the parsed cloud-config (an empty mapping for an empty one).
    :raises OptionError: too large, not UTF-8, no ``#cloud-config`` first
        line, not YAML, or not a mapping.
    """
    text = _text(data, name)
    first = text.split("\n", 1)[0].rstrip("\r")
    if first.rstrip() != CLOUD_CONFIG_MARKER:
        raise OptionError(
            f"user data must start with a '{CLOUD_CONFIG_MARKER}' line (cloud-init's YAML format; "
            "put scripts in runcmd or write_files)",
            name,
        )
    return _mapping(_yaml(text, name), name, "a cloud-config")


def check_meta_data(data: bytes, name: str) -> tuple[str, str | None]:
    """Check a ``meta-data`` file.

    :returns: its ``instance-id`` and ``local-hostname`` (``None`` when it
        has none).
    :raises OptionError: not a YAML mapping, no string ``instance-id``, or a
        ``local-hostname`` that is not a string.
    """
    values = _mapping(_yaml(_text(data, name), name), name, "meta-data")
    instance_id = values.get("instance-id")
    if not isinstance(instance_id, str) or not instance_id.strip():
        raise OptionError("meta-data must state an instance-id (a string)", name)
    hostname = values.get("local-hostname")
    if hostname is not None and not isinstance(hostname, str):
        raise OptionError("local-hostname must be a string", name)
    return instance_id, hostname


def check_network_config(data: bytes, name: str) -> int:
    """Check a ``network-config`` file: a YAML mapping with ``version`` 1 or
    2, at the top or under ``network``.

    :returns: the version.
    :raises OptionError: not a mapping, or no version 1 or 2.
    """
    values = _mapping(_yaml(_text(data, name), name), name, "network-config")
    if set(values) == {"network"}:
        values = _mapping(values["network"], name, "network-config's network")
    version = values.get("version")
    if version not in (1, 2) or isinstance(version, bool):
        raise OptionError(f"network-config must state version 1 or 2, not {version!r}", name)
    return int(version)


def default_meta_data(vm_name: str) -> tuple[bytes, str, str]:
    """The ``meta-data`` made from a virtual machine's name: ``instance-id``
    the name, ``local-hostname`` the name made a host name
    (:func:`~ovfconverter.model.nocloud.hostname_from_name`).

    :returns: the file's bytes, the instance id and the host name.
    """
    import yaml

    hostname = hostname_from_name(vm_name)
    text = yaml.safe_dump({"instance-id": vm_name, "local-hostname": hostname}, sort_keys=False, allow_unicode=True)
    return text.encode("utf-8"), vm_name, hostname


def make_seed(
    user_data: tuple[str, bytes],
    vm_name: str,
    meta_data: tuple[str, bytes] | None = None,
    network_config: tuple[str, bytes] | None = None,
) -> NoCloudSeed:
    """Check the seed's files and put them together.

    :param user_data: the user-data file's name (for messages) and bytes.
    :param vm_name: the virtual machine's name, for the default meta-data.
    :param meta_data: the meta-data file's name and bytes, ``None`` for the
        default one.
    :param network_config: the network-config file's name and bytes, or
        ``None`` for none.
    :raises OptionError: a file fails its check (see the module docstring).
    """
    check_user_data(user_data[1], user_data[0])
    hostname: str | None
    if meta_data is None:
        meta_bytes, instance_id, hostname = default_meta_data(vm_name)
    else:
        meta_bytes = meta_data[1]
        instance_id, hostname = check_meta_data(meta_bytes, meta_data[0])
    if network_config is not None:
        check_network_config(network_config[1], network_config[0])
    return NoCloudSeed(
        user_data=user_data[1],
        meta_data=meta_bytes,
        network_config=network_config[1] if network_config is not None else None,
        instance_id=instance_id,
        hostname=hostname,
    )


def write_seed(seed: NoCloudSeed, stream: BinaryIO) -> int:
    """Write ``seed`` as an ISO 9660 volume labelled ``cidata`` at the
    current position of ``stream``.

    :returns: the volume's size in bytes (a multiple of 2048).
    """
    import pycdlib  # here, not at the top: a conversion without a seed never loads it

    iso = pycdlib.PyCdlib()
    iso.new(
        interchange_level=1,
        joliet=3,
        rock_ridge="1.09",
        vol_ident=VOLUME_LABEL,
        app_ident_str="ovfconverter",
    )
    try:
        for name, data in seed.files():
            iso.add_fp(io.BytesIO(data), len(data), _ISO_NAMES[name], rr_name=name, joliet_path="/" + name)
        start = stream.tell()
        iso.write_fp(stream)
        return stream.tell() - start
    finally:
        iso.close()


def read_seed(stream: BinaryIO, name: str) -> NoCloudSeed:
    """Read a seed volume back: its label must be ``cidata`` and it must
    hold ``user-data`` and ``meta-data`` (Rock Ridge names), each at most
    :data:`MAX_SEED_FILE` bytes.

    :raises PackageError: not an ISO 9660 volume, another label, or a file
        missing or too large.
    """
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(stream)
    except PyCdlibException as exc:
        raise PackageError(f"not an ISO 9660 volume ({exc})", name) from None
    try:
        label = iso.pvd.volume_identifier.decode("ascii", "replace").rstrip()
        if label != VOLUME_LABEL:
            raise PackageError(f"volume label is {label!r}, not {VOLUME_LABEL!r}", name)
        files: dict[str, bytes] = {}
        for child in iso.list_children(rr_path="/"):
            if child.is_dot() or child.is_dotdot() or not child.is_file():
                continue
            rr_name = child.rock_ridge.name().decode("utf-8", "replace") if child.rock_ridge else ""
            if rr_name in (USER_DATA, META_DATA, NETWORK_CONFIG):
                if child.get_data_length() > MAX_SEED_FILE:
                    raise PackageError(f"{rr_name} is larger than {MAX_SEED_FILE} bytes", name)
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path="/" + rr_name)
                files[rr_name] = out.getvalue()
    except PyCdlibException as exc:
        raise PackageError(f"cannot read the volume ({exc})", name) from None
    finally:
        iso.close()
    missing = [f for f in (USER_DATA, META_DATA) if f not in files]
    if missing:
        raise PackageError(f"the seed has no {' and no '.join(missing)}", name)
    try:
        meta = _mapping(_yaml(_text(files[META_DATA], name), name), name, "meta-data")
    except OptionError as exc:
        raise PackageError(f"meta-data: {exc.message}", name) from None
    hostname = meta.get("local-hostname")
    return NoCloudSeed(
        user_data=files[USER_DATA],
        meta_data=files[META_DATA],
        network_config=files.get(NETWORK_CONFIG),
        instance_id=str(meta.get("instance-id", "")),
        hostname=hostname if isinstance(hostname, str) else None,
    )
