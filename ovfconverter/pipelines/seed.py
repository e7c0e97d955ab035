"""``--cloud-init USER_DATA[,META_DATA[,NETWORK_CONFIG]]``: the files read
and checked before any input is read, then the seed volume made for the
machine being written.

Reading is bounded (:data:`~ovfconverter.formats.nocloud.MAX_SEED_FILE`
bytes a file); user data is checked as YAML, then by cloud-init's own
schema when cloud-init is installed
(:mod:`~ovfconverter.formats.cloud_config_schema`).  A target calls
:func:`read_seed_files` in its ``check`` and :func:`seed_volume` in its
plan.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

from ovfconverter.errors import OptionError
from ovfconverter.formats.cloud_config_schema import check_cloud_config
from ovfconverter.formats.nocloud import MAX_SEED_FILE, make_seed, write_seed
from ovfconverter.model.nocloud import NoCloudSeed
from ovfconverter.parameters import Parameter


@dataclass(frozen=True)
class SeedFiles:
    """The seed's files as given: ``(name, bytes)`` each.

    :ivar notes: what the checks could not do (cloud-init not installed),
        for warnings.
    """

    user_data: tuple[str, bytes]
    meta_data: tuple[str, bytes] | None = None
    network_config: tuple[str, bytes] | None = None
    notes: tuple[str, ...] = field(default=())


def _read(path: str, what: str) -> tuple[str, bytes]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SEED_FILE + 1)
    except OSError as exc:
        raise OptionError(f"cannot read the {what}: {exc.strerror or exc}", path) from None
    if len(data) > MAX_SEED_FILE:
        raise OptionError(f"the {what} is larger than {MAX_SEED_FILE} bytes", path)
    return os.path.basename(path) or path, data


def read_seed_files(spec: str) -> SeedFiles:
    """Read and check the files ``spec`` names (``USER_DATA``, then
    optionally ``,META_DATA`` and ``,NETWORK_CONFIG``; an empty field skips
    one: ``user.yaml,,net.yaml``).

    :raises OptionError: a file cannot be read, is too large, or fails its
        check (:func:`~ovfconverter.formats.nocloud.make_seed`), or
        cloud-init's schema refuses the user data.
    """
    parts = spec.split(",")
    if len(parts) > 3 or not parts[0]:
        raise OptionError((Parameter("cloud_init"), f" {spec!r}: expected USER_DATA[,META_DATA[,NETWORK_CONFIG]]"))
    parts += [""] * (3 - len(parts))
    user = _read(parts[0], "user data")
    files = SeedFiles(
        user_data=user,
        meta_data=_read(parts[1], "meta-data") if parts[1] else None,
        network_config=_read(parts[2], "network-config") if parts[2] else None,
    )
    make_seed(files.user_data, "check", files.meta_data, files.network_config)  # every check but the name's
    verdict = check_cloud_config(user[1])
    if verdict.checked and verdict.problems:
        raise OptionError(f"cloud-init's schema refuses it: {'; '.join(verdict.problems)}", user[0])
    notes: tuple[str, ...] = ()
    if not verdict.checked:
        why = verdict.problems[0] if verdict.problems else "cloud-init is not installed"
        notes = (f"{user[0]}: checked as #cloud-config YAML only ({why})",)
    return SeedFiles(files.user_data, files.meta_data, files.network_config, notes)


def seed_volume(files: SeedFiles, vm_name: str) -> tuple[NoCloudSeed, bytes]:
    """The seed for a machine named ``vm_name`` (its default meta-data) and
    its ISO 9660 volume's bytes."""
    seed = make_seed(files.user_data, vm_name, files.meta_data, files.network_config)
    out = io.BytesIO()
    write_seed(seed, out)
    return seed, out.getvalue()
