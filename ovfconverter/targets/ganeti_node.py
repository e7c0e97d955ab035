"""What the local Ganeti node says about its cluster, read-only.

Every Ganeti node keeps plain-text copies of cluster facts, the *ssconf*
files ``DATA_DIR/ssconf_KEY`` (one value per line, written by the master,
read by Ganeti's own tools without asking any daemon); the master and the
master candidates also hold the whole configuration, ``DATA_DIR/config.data``
(JSON, readable by root).  ovfconverter reads them and never writes them,
and never runs a ``gnt-*`` command.  What Ganeti 3.0.2 writes there, checked
on a real cluster (``../shared/tools/ganeti-cluster``):

* ``ssconf_cluster_name``: the cluster's name; present means "a Ganeti node";
* ``ssconf_node_list``, ``ssconf_master_node``: node names, one per line;
* ``ssconf_networks``: one ``UUID NAME`` line per Ganeti network
  (``gnt-network add``), empty when there is none; a name may hold spaces;
* ``ssconf_hypervisor_list``: the enabled hypervisors, one per line, the
  cluster's default (``gnt-cluster init -H``, ``gnt-cluster modify
  --enabled-hypervisors``: the first) first;
* ``config.data``: ``cluster.ipolicy`` (the instance policy) and, per node
  group, ``nodegroups.UUID.ipolicy`` (keys that override the cluster's),
  ``nodes.UUID.group``.

``DATA_DIR`` is ``/var/lib/ganeti`` (Debian's ``ganeti`` package, and builds
with ``--localstatedir=/var``); the environment variable
``OVFCONVERTER_GANETI_DIR`` names another one.  Ganeti's export folder, the
only place ``gnt-backup import`` reads disk dumps from, is
``DATA_DIR/export``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATA_DIR = "/var/lib/ganeti"
DATA_DIR_VARIABLE = "OVFCONVERTER_GANETI_DIR"

_MAX_SSCONF = 1 << 20  # bytes: a name per line, even for thousands of nodes
_MAX_CONFIG_DATA = 256 << 20  # bytes

ISPEC_NAMES = ("memory-size", "cpu-count", "disk-count", "disk-size", "nic-count", "spindle-use")
"""The instance-spec keys of a Ganeti instance policy (``gnt-cluster
modify --ipolicy-bounds-specs``); sizes in MiB."""


@dataclass(frozen=True)
class SpecBounds:
    """One ``min``/``max`` pair of an instance policy: ISPEC name -> value
    (MiB for ``memory-size`` and ``disk-size``)."""

    minimum: Mapping[str, int]
    maximum: Mapping[str, int]


@dataclass(frozen=True)
class InstancePolicy:
    """The bounds an instance must fit (any one pair of them), and where
    they were read: ``"the cluster's instance policy"`` or ``"Ganeti's
    default instance policy"`` (used when ``config.data`` is not readable
    here)."""

    bounds: tuple[SpecBounds, ...]
    source: str


# Ganeti 3.0's default bounds (gnt-cluster(8), "--ipolicy-bounds-specs").
DEFAULT_POLICY = InstancePolicy(
    bounds=(
        SpecBounds(
            minimum={
                "memory-size": 128,
                "cpu-count": 1,
                "disk-count": 1,
                "disk-size": 1024,
                "nic-count": 1,
                "spindle-use": 1,
            },
            maximum={
                "memory-size": 32768,
                "cpu-count": 8,
                "disk-count": 16,
                "disk-size": 1024 * 1024,
                "nic-count": 8,
                "spindle-use": 12,
            },
        ),
    ),
    source="Ganeti's default instance policy",
)


@dataclass(frozen=True)
class GanetiNode:
    """This machine as a node of a Ganeti cluster.

    :ivar cluster: the cluster's name.
    :ivar name: this node's name in the cluster, ``None`` when this
        machine's host name is not in the node list.
    :ivar master: the master node's name, ``None`` when unknown.
    :ivar networks: names of the cluster's Ganeti networks.
    :ivar export_dir: Ganeti's export folder (``gnt-backup``'s).
    :ivar policy: the instance policy of this node's group.
    :ivar hypervisors: the enabled hypervisors, the default first (empty
        when unknown).
    """

    cluster: str
    name: str | None
    master: str | None
    networks: frozenset[str]
    export_dir: str
    policy: InstancePolicy
    hypervisors: tuple[str, ...] = ()

    @property
    def default_hypervisor(self) -> str | None:
        """The hypervisor a new instance gets when it names none."""
        return self.hypervisors[0] if self.hypervisors else None


def data_dir() -> str:
    """Ganeti's data folder: ``$OVFCONVERTER_GANETI_DIR`` or
    ``/var/lib/ganeti``."""
    return os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR


def export_dir() -> str:
    """Ganeti's export folder, ``DATA_DIR/export`` (it may not exist)."""
    return os.path.join(data_dir(), "export")


def is_below(folder: str, path: str) -> bool:
    """True when ``path`` (resolved, as Ganeti resolves a dump's path) is
    strictly inside ``folder`` (taken as written, as Ganeti does)."""
    base = os.path.normpath(folder)
    return os.path.realpath(path).startswith(base.rstrip("/") + "/")


def _read_text(path: str, limit: int) -> str | None:
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("utf-8", errors="replace")


def _ssconf_lines(folder: str, key: str) -> list[str] | None:
    text = _read_text(os.path.join(folder, f"ssconf_{key}"), _MAX_SSCONF)
    if text is None:
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _network_names(lines: list[str] | None) -> frozenset[str]:
    names = set()
    for line in lines or []:
        parts = line.split(None, 1)
        if len(parts) == 2:
            names.add(parts[1])
    return frozenset(names)


def _this_node(nodes: list[str]) -> str | None:
    """This machine's name in the node list: its FQDN, else its host name,
    else the node whose first label is the host name."""
    host = socket.gethostname()
    candidates = [socket.getfqdn(), host]
    for candidate in candidates:
        if candidate in nodes:
            return candidate
    short = host.split(".", 1)[0]
    matches = [node for node in nodes if node.split(".", 1)[0] == short]
    return matches[0] if len(matches) == 1 else None


def _bounds(minmax: object) -> tuple[SpecBounds, ...] | None:
    if not isinstance(minmax, list) or not minmax:
        return None
    result = []
    for pair in minmax:
        if not isinstance(pair, dict):
            return None
        low, high = pair.get("min"), pair.get("max")
        if not isinstance(low, dict) or not isinstance(high, dict):
            return None
        result.append(
            SpecBounds(
                minimum={k: int(v) for k, v in low.items() if k in ISPEC_NAMES and isinstance(v, int | float)},
                maximum={k: int(v) for k, v in high.items() if k in ISPEC_NAMES and isinstance(v, int | float)},
            )
        )
    return tuple(result)


def _policy(folder: str, node_name: str | None) -> InstancePolicy:
    """The instance policy of ``node_name``'s group from ``config.data``
    (group keys override the cluster's, as Ganeti's CalculateGroupIPolicy
    does), else Ganeti's defaults."""
    text = _read_text(os.path.join(folder, "config.data"), _MAX_CONFIG_DATA)
    if text is None:
        return DEFAULT_POLICY
    try:
        config = json.loads(text)
        policy = dict(config["cluster"]["ipolicy"])
        groups = config.get("nodegroups") or {}
        for node in (config.get("nodes") or {}).values():
            if node.get("name") == node_name:
                group = groups.get(node.get("group")) or {}
                policy.update(group.get("ipolicy") or {})
        bounds = _bounds(policy.get("minmax"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return DEFAULT_POLICY
    if bounds is None:
        return DEFAULT_POLICY
    return InstancePolicy(bounds=bounds, source="the cluster's instance policy")


def read_node() -> GanetiNode | None:
    """This machine as a Ganeti node, or ``None`` when it is not one (no
    ``ssconf_cluster_name``).  Unreadable facts are left unknown; nothing
    here raises."""
    folder = data_dir()
    cluster = _ssconf_lines(folder, "cluster_name")
    if not cluster:
        return None
    nodes = _ssconf_lines(folder, "node_list") or []
    name = _this_node(nodes)
    master = _ssconf_lines(folder, "master_node")
    return GanetiNode(
        cluster=cluster[0],
        name=name,
        master=master[0] if master else None,
        networks=_network_names(_ssconf_lines(folder, "networks")),
        export_dir=export_dir(),
        policy=_policy(folder, name),
        hypervisors=tuple(_ssconf_lines(folder, "hypervisor_list") or ()),
    )


def resolves(name: str) -> bool:
    """Whether the host name ``name`` resolves here (Ganeti's name check
    for a new instance asks the same)."""
    try:
        socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return False
    return True
