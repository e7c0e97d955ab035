"""The ``gnt-backup import`` command that takes an import's result.

Pure: from the ``config.ini`` values, where the folder is, and what the node
says (:class:`~ovfconverter.targets.ganeti_node.GanetiNode`, or ``None`` off a
node), it decides the command line and says why each option is there.
Facts from Ganeti 3.0.2's ``LUInstanceCreate`` (``gnt-backup import``):

* disk dumps are read only below the export folder (``--src-dir``
  elsewhere gives an instance with blank disks, and a warning);
* ``-n NODE`` (or an iallocator) places the instance; ``--src-node`` is the
  node holding the folder;
* the instance name must resolve unless ``--no-name-check --no-ip-check``
  (the IP check needs the name check);
* the instance must fit the node group's instance policy (memory ``maxmem``,
  ``vcpus``, disk count and sizes, NIC count, ``spindle_use``) unless
  ``--ignore-ipolicy``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.targets.ganeti_node import GanetiNode, InstancePolicy, SpecBounds, is_below


@dataclass
class BackupImportCommand:
    """What to run on the cluster's master next.

    :ivar argv: ``gnt-backup import ...``, one argument per item.
    :ivar reasons: why each optional flag or placeholder is there, one
        short clause each.
    :ivar ready: True when ``argv`` works as it is, on this node: the
        folder is below the export folder and no placeholder is left.
    """

    argv: list[str]
    reasons: list[str] = field(default_factory=list)
    ready: bool = False

    def text(self) -> str:
        """``argv`` as one shell command line."""
        return shlex.join(self.argv)


def _spec(config: InstanceExport) -> list[tuple[str, str, int]]:
    """(ISPEC name, qualifier, value) as Ganeti checks them; values that
    config.ini leaves to the cluster's defaults are not checked."""
    spec: list[tuple[str, str, int]] = []
    if config.maxmem is not None:
        spec.append(("memory-size", "", config.maxmem))
    if config.vcpus is not None:
        spec.append(("cpu-count", "", config.vcpus))
    spec.append(("nic-count", "", len(config.nics)))
    spindle = config.backend.get("spindle_use")
    if spindle is not None and spindle.isdigit():
        spec.append(("spindle-use", "", int(spindle)))
    spec += [("disk-size", str(index), disk.size) for index, disk in enumerate(config.disks)]
    if config.disks:
        spec.append(("disk-count", "", len(config.disks)))
    return spec


def _violations(spec: list[tuple[str, str, int]], bounds: SpecBounds) -> list[str]:
    found = []
    for name, qualifier, value in spec:
        low = bounds.minimum.get(name, value)
        high = bounds.maximum.get(name, value)
        if not low <= value <= high:
            label = f"{name}/{qualifier}" if qualifier else name
            found.append(f"{label} {value} not in [{low}, {high}]")
    return found


def policy_violations(config: InstanceExport, policy: InstancePolicy) -> list[str]:
    """What of ``config`` breaks ``policy``, in Ganeti's terms
    (``disk-size/0 1 not in [1024, 1048576]``; sizes in MiB); empty when
    it fits one of the policy's bound pairs."""
    spec = _spec(config)
    fewest: list[str] | None = None
    for bounds in policy.bounds:
        found = _violations(spec, bounds)
        if fewest is None or len(found) < len(fewest):
            fewest = found
    return fewest or []


def backup_import_command(
    config: InstanceExport, folder: str, node: GanetiNode | None, name_resolves: bool
) -> BackupImportCommand:
    """The ``gnt-backup import`` for the export folder ``folder``.

    :param config: the values written to its config.ini (disk sizes in MiB).
    :param node: this node, or ``None`` when not run on one.
    :param name_resolves: whether the instance name resolves here.
    """
    assert config.name is not None
    reasons: list[str] = []
    if node is not None and node.name is not None:
        here = there = node.name
    else:
        here, there = "NODE", "THIS_NODE"
        reasons.append(
            "NODE: the node for the instance; THIS_NODE: the node holding the folder"
            + ("" if node is None else " (this host's name is not in the cluster's node list)")
        )
    src_dir = folder
    ready = node is not None and node.name is not None
    if node is not None and not is_below(node.export_dir, folder):
        src_dir = os.path.join(node.export_dir, os.path.basename(folder))
        reasons.append(f"--src-dir: once the folder is moved below {node.export_dir}")
        ready = False
    argv = ["gnt-backup", "import", "-n", here, f"--src-node={there}", f"--src-dir={src_dir}"]
    if not name_resolves:
        argv += ["--no-name-check", "--no-ip-check"]
        reasons.append(f"--no-name-check --no-ip-check: {config.name} does not resolve here")
    if node is not None:
        violations = policy_violations(config, node.policy)
        if violations:
            argv.append("--ignore-ipolicy")
            reasons.append(f"--ignore-ipolicy: {', '.join(violations)} ({node.policy.source}, MiB)")
        if node.master is not None and node.master != node.name:
            reasons.append(f"run it on the master node, {node.master}")
    argv.append(config.name)
    return BackupImportCommand(argv=argv, reasons=reasons, ready=ready)
