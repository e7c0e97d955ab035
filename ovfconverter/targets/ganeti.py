"""The Ganeti target: an instance export folder (``config.ini`` and raw disk
dumps) that ``gnt-backup import`` takes.

Plan: :func:`~ovfconverter.hub.ganeti_plan.plan_instance` (every value checked
as Ganeti would).  Write: each image converted to a raw, sparse dump
(several disks at once; :func:`~ovfconverter.disks.to_raw.convert_to_raw`,
the source's in-pass checks fed the same bytes), empty disks created,
``config.ini`` written, the folder moved into place.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ovfconverter.concurrency import run_all
from ovfconverter.diagnostics import Code
from ovfconverter.disks.to_raw import create_blank
from ovfconverter.formats.config_ini import write_config
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.ganeti_plan import DiskPlan, InstancePlan, plan_instance
from ovfconverter.hub.publishing import SEED_KEY, SeedAttachment, attach_seed
from ovfconverter.model.ganeti import GanetiDisk, InstanceExport
from ovfconverter.model.machine import Machine
from ovfconverter.model.units import MIB, bytes_to_mib_ceil
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.staging import fsync_path
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.seed import SeedFiles, read_seed_files, seed_volume
from ovfconverter.pipelines.source import ImageBytes, Source
from ovfconverter.pipelines.target import Target
from ovfconverter.targets.backup_command import BackupImportCommand, backup_import_command
from ovfconverter.targets.decisions import ganeti_decisions
from ovfconverter.targets.ganeti_node import GanetiNode, data_dir, export_dir, is_below, read_node, resolves
from ovfconverter.targets.images import convert_checked
from ovfconverter.timing import stage

log = logging.getLogger("ovfconverter")


@dataclass
class ImportOptions:
    """Options of the Ganeti target, and so of
    :func:`ovfconverter.import_package`: what the caller may say, in
    Ganeti's terms.  Every field is optional; what is given overrides the
    source **per key** (``-B vcpus=2`` changes the CPU count and keeps the
    package's memory), unlike Ganeti's own converter, which replaces whole
    sections.  ``deployment_option``, ``virtual_system`` and
    ``verify_manifest`` are about reading an OVF package
    (:class:`~ovfconverter.pipelines.source.SourceOptions`).

    :ivar name: instance name (``-n/--name``); default: the VirtualSystem's
        Name, else its ``ovf:id``.
    :ivar os_type: Ganeti OS (``-o/--os-type``); default: the Ganeti section's.
    :ivar os_parameters: ``-O`` values, merged per key; a ``None`` value
        removes the key.
    :ivar backend_parameters: ``-B`` values (``vcpus``, ``maxmem``, ``minmem``,
        ``memory``, ``auto_balance``...), merged per key; sizes may carry a
        unit (``512``, ``2G``: MiB by default).
    :ivar hypervisor: ``-H`` name, or ``None`` to keep the package's.
    :ivar hypervisor_parameters: ``-H NAME:k=v`` values, merged per key.
    :ivar disk_template: ``-t/--disk-template``.
    :ivar disks: ``--disk N:size=VAL``: disk index -> size in bytes of a new
        empty disk that replaces or adds disk N.
    :ivar nics: ``--net N:k=v``: NIC index -> values (``mode``, ``link``,
        ``mac``, ``ip``, ``network``, ``name``, ``vlan``), merged per key; a
        ``None`` value removes the key.  An index past the package's NICs
        adds a NIC.
    :ivar no_nics: ``--no-nics``: drop every NIC.
    :ivar tags: ``--tags``: replaces the package's tags when not ``None``.
    :ivar deployment_option: ``--deployment-option``: the DeploymentOptionSection
        profile to use instead of the default.
    :ivar virtual_system: ``--virtual-system``: the VirtualSystem ``ovf:id``
        to import from a VirtualSystemCollection.
    :ivar output_dir: where ``<name>/`` is created; default: Ganeti's export
        folder (``/var/lib/ganeti/export``) when it exists, else the current
        folder.
    :ivar force: replace an existing ``<output_dir>/<name>/``.
    :ivar verify_manifest: check the manifest before converting (default);
        turning it off is for benchmarking only.
    :ivar allow_hardlinks: ``--allow-hardlinks``: accept files of a folder
        package with several hard links (refused by default: such a file
        may be a link to a secret elsewhere on the same file system).
    :ivar properties: ``--property KEY=VALUE``: ProductSection property
        (full key, or bare ``ovf:key`` when unambiguous) -> value, checked
        against the property's type and qualifiers; every property's
        effective value goes to the OS parameters ``ovf_properties`` and
        ``ovf_private_properties``.
    :ivar cloud_init: ``--cloud-init USER_DATA[,META_DATA[,NETWORK_CONFIG]]``:
        a cloud-init NoCloud seed written as one more disk (its volume
        padded to whole MiB; Ganeti exports have no CD-ROM).
    :ivar accept_eula: ``--accept-eula``: accept the package's license
        agreements (EulaSection); without it such a package is refused.
    """

    name: str | None = None
    os_type: str | None = None
    os_parameters: dict[str, str | None] = field(default_factory=dict)
    backend_parameters: dict[str, str | None] = field(default_factory=dict)
    hypervisor: str | None = None
    hypervisor_parameters: dict[str, str | None] = field(default_factory=dict)
    disk_template: str | None = None
    disks: dict[int, int] = field(default_factory=dict)
    nics: dict[int, dict[str, str | None]] = field(default_factory=dict)
    no_nics: bool = False
    tags: list[str] | None = None
    deployment_option: str | None = None
    virtual_system: str | None = None
    output_dir: str | None = None
    force: bool = False
    verify_manifest: bool = True
    allow_hardlinks: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    accept_eula: bool = False
    cloud_init: str | None = None
    device_policy: DevicePolicy = DevicePolicy.AUTO


def default_output_dir() -> str:
    """Ganeti's export folder (``/var/lib/ganeti/export``) when it exists,
    else the current folder."""
    folder = export_dir()
    return folder if os.path.isdir(folder) else os.getcwd()


@dataclass
class ImportedDisk:
    """A disk of the result.

    :ivar path: the raw dump, in the final folder.
    :ivar size: its length in bytes (``diskN_size`` is this in MiB, rounded
        up).
    :ivar source: the image it came from (href), ``None`` for an empty disk.
    :ivar source_format: ``vmdk``, ``qcow2``, ``raw``..., ``None`` for an
        empty disk.
    """

    path: str
    size: int
    source: str | None = None
    source_format: str | None = None


@dataclass
class ImportResult:
    """What an import (a conversion to Ganeti) produced.

    :ivar path: the Ganeti export folder (``<output_dir>/<name>``).
    :ivar config: the values written to its ``config.ini``.
    :ivar warnings: everything that was worked around, in order.
    :ivar next_step: the ``gnt-backup import`` command that takes it.
    """

    path: str
    config: InstanceExport
    disks: list[ImportedDisk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    next_step: BackupImportCommand | None = None


class GanetiTarget(Target[ImportOptions, InstancePlan, ImportResult]):
    """A Ganeti export folder; options: :class:`~ovfconverter.ImportOptions`
    (its package fields are the source's business)."""

    name = "ganeti"
    label = "ovfconverter-import"

    node: GanetiNode | None = None
    """The Ganeti node this runs on (read by :meth:`check`), ``None`` off a
    node."""

    @classmethod
    def default_options(cls) -> ImportOptions:
        return ImportOptions()

    seed_files: SeedFiles | None = None
    """The ``--cloud-init`` files, read and checked by :meth:`check`."""
    seed: bytes | None = None
    """The seed volume :meth:`plan` made, written by :meth:`write`."""

    def check(self) -> None:
        """Read and check the ``--cloud-init`` files; learn whether this runs
        on a Ganeti node, and its cluster's networks and instance policy
        (its files, read-only).

        :raises OptionError: a seed file fails its check."""
        if self.options.cloud_init is not None:
            self.seed_files = read_seed_files(self.options.cloud_init)
        self.node = node = read_node()
        if node is None:
            log.debug("not run on a Ganeti node (no %s)", os.path.join(data_dir(), "ssconf_cluster_name"))
        else:
            log.debug(
                "Ganeti node %s of cluster %s: Ganeti networks %s; default hypervisor %s; %s",
                node.name or "(this host is not in the node list)",
                node.cluster,
                ", ".join(sorted(node.networks)) or "none",
                node.default_hypervisor or "unknown",
                node.policy.source,
            )

    def output_dir(self, source_path: str) -> str:
        return os.path.abspath(self.options.output_dir or default_output_dir())

    def plan(self, machine: Machine) -> InstancePlan:
        notes: list[str] = []
        if self.seed_files is not None:
            _, seed = seed_volume(self.seed_files, self.options.name or machine.name or "instance")
            self.seed = seed + bytes(-len(seed) % MIB)
            machine = attach_seed(machine, "cidata.iso", len(self.seed), SeedAttachment.HARD_DISK)
            notes = list(self.seed_files.notes)
        node = self.node
        if node is None:
            plan = plan_instance(machine, self.options)
        else:
            plan = plan_instance(machine, self.options, node.networks, node.default_hypervisor)
        plan.warnings.extend(notes)
        plan.decisions = ganeti_decisions(plan, machine, self.options)
        return plan

    def destination(self, plan: InstancePlan, output_dir: str) -> str:
        assert plan.config.name is not None
        return os.path.join(output_dir, plan.config.name)

    def write(self, plan: InstancePlan, source: Source, run: Run) -> ImportResult:
        """Write the export folder (see the module docstring).

        :raises OutputExistsError: it exists and ``force`` is not set.
        """
        config = plan.config
        assert config.name is not None
        final = os.path.join(run.output_dir, config.name)
        staging = run.staging
        staging.check_target(final, self.options.force)
        if self.node is not None and not is_below(self.node.export_dir, final):
            run.warn(
                (
                    f"{final} is not below {self.node.export_dir}, the only folder gnt-backup import reads disk "
                    "dumps from: imported from here, the instance gets blank disks; move the folder there first "
                    "(or import with ",
                    Parameter("output_dir"),
                    f" {self.node.export_dir})",
                ),
                code=Code.PLACE,
            )
        with_images = [disk for disk in plan.disks if disk.image is not None and disk.image.key != SEED_KEY]
        with stage("images (manifest checked but for the files hashed while converting)"):
            fetched = source.images([disk.disk for disk in with_images if disk.disk is not None], run)
        images = {disk.index: image for disk, image in zip(with_images, fetched, strict=True)}
        os.mkdir(staging.result, 0o700)
        space = SpaceBudget(staging.result)  # every disk claims what it may write from one budget
        written = run_all(
            lambda disk: (
                _write_seed(disk, self.seed, run)
                if disk.image is not None and disk.image.key == SEED_KEY and self.seed is not None
                else _write_disk(disk, images.get(disk.index), run, space)
            ),
            plan.disks,
            run.threads,
        )
        for _, warnings in written:
            for message in warnings:
                run.warn(message, code=Code.IMAGE)
        disks = [disk for disk, _ in written]
        config.disks = [
            GanetiDisk(size=bytes_to_mib_ceil(disk.size), dump=p.dump, ivname=p.ivname, name=p.name)
            for p, disk in zip(plan.disks, disks, strict=True)
        ]
        config_path = os.path.join(staging.result, "config.ini")
        with open(config_path, "x", encoding="utf-8") as stream:
            stream.write(write_config(config))
        with stage("fsync"):
            for name in [*(d.path for d in disks), config_path, staging.result]:
                fsync_path(name)
        with stage("commit"):
            staging.commit(final, self.options.force)
        result_disks = [
            ImportedDisk(os.path.join(final, os.path.basename(d.path)), d.size, d.source, d.source_format)
            for d in disks
        ]
        log.info("wrote %s", final)
        command = backup_import_command(config, final, self.node, resolves(config.name))
        return ImportResult(path=final, config=config, disks=result_disks, warnings=run.warnings, next_step=command)


def _write_seed(plan: DiskPlan, seed: bytes, run: Run) -> tuple[ImportedDisk, list[str]]:
    """Write the cloud-init seed volume as a disk dump."""
    dest = os.path.join(run.staging.result, plan.dump)
    log.info("disk %d: writing the cloud-init seed (%d bytes)", plan.index, len(seed))
    with open(dest, "xb") as out:
        out.write(seed)
    return ImportedDisk(dest, len(seed), "cloud-init seed", "iso"), []


def _write_disk(
    plan: DiskPlan, image: ImageBytes | None, run: Run, space: SpaceBudget
) -> tuple[ImportedDisk, list[str]]:
    """Write one dump: converted from ``image``, or created empty.

    :returns: the dump and the warnings converting it gave (the caller
        records them in disk order, whichever disk finished first).
    """
    dest = os.path.join(run.staging.result, plan.dump)
    if image is None:
        assert plan.blank_size is not None
        log.info("disk %d: creating an empty disk of %d bytes", plan.index, plan.blank_size)
        create_blank(dest, plan.blank_size)
        return ImportedDisk(dest, plan.blank_size), []
    log.info("disk %d: converting %s to raw", plan.index, image.image.name)
    with stage("convert to raw", image.image.name):
        converted = convert_checked(image, dest, run, space)
    return ImportedDisk(dest, converted.virtual_size, image.image.name, converted.source_format), converted.warnings
