"""A cloud-init NoCloud seed: the configuration a guest's cloud-init reads
from a volume labelled ``cidata`` when no cloud and no OVF environment gives
it one (VirtualBox has no OVF environment transport at all).

The seed holds three files (cloud-init's NoCloud datasource, "Source files"):

* ``user-data``: a ``#cloud-config`` YAML document (users, keys, packages...);
* ``meta-data``: YAML with at least ``instance-id`` (cloud-init runs its
  per-instance modules once per instance id) and usually ``local-hostname``;
* ``network-config`` (optional): network configuration version 1 or 2.

Plain data, no I/O: :mod:`ovfconverter.formats.nocloud` checks and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

VOLUME_LABEL = "cidata"
"""The file system label cloud-init's NoCloud datasource looks for."""

USER_DATA = "user-data"
META_DATA = "meta-data"
NETWORK_CONFIG = "network-config"

SEED_EXTENSION = "iso"
"""The seed volume is ISO 9660 (ECMA-119): what ``genisoimage -volid cidata``
writes, and what every guest kernel reads."""


@dataclass(frozen=True)
class NoCloudSeed:
    """The three files of a NoCloud seed, as the guest will read them.

    :ivar user_data: the ``user-data`` file's bytes (``#cloud-config``).
    :ivar meta_data: the ``meta-data`` file's bytes (YAML).
    :ivar network_config: the ``network-config`` file's bytes, ``None`` to
        leave it out (cloud-init then configures the first NIC by DHCP).
    :ivar instance_id: the ``instance-id`` the meta-data states.
    :ivar hostname: the ``local-hostname`` it states, ``None`` when none.
    """

    user_data: bytes
    meta_data: bytes
    network_config: bytes | None = None
    instance_id: str = ""
    hostname: str | None = None

    def files(self) -> list[tuple[str, bytes]]:
        """The seed's files in the order they are written: name and bytes."""
        files = [(USER_DATA, self.user_data), (META_DATA, self.meta_data)]
        if self.network_config is not None:
            files.append((NETWORK_CONFIG, self.network_config))
        return files


def hostname_from_name(name: str) -> str:
    """A host name (RFC 1123: labels of ``a-z``, ``0-9`` and ``-``, at most 63
    characters each, 253 in all) made from a virtual machine's name: lower
    case, every other character a ``-``, empty labels dropped.  ``"My VM
    (v2)"`` becomes ``my-vm-v2``; a name with nothing usable becomes
    ``localhost``."""
    labels = []
    for label in name.lower().split("."):
        cleaned = "".join(ch if ("a" <= ch <= "z" or "0" <= ch <= "9") else "-" for ch in label)
        while "--" in cleaned:
            cleaned = cleaned.replace("--", "-")
        cleaned = cleaned.strip("-")[:63].strip("-")
        if cleaned:
            labels.append(cleaned)
    result = ".".join(labels)
    while len(result) > 253:
        labels.pop()
        result = ".".join(labels)
    return result or "localhost"
