"""What the libvirt and xen targets share: a *domain folder* ``OUT/NAME/``
holding the domain description (``NAME.xml`` for libvirt, ``NAME.cfg`` for
Xen) and one image per disk (``NAME-diskN.qcow2`` or ``.raw``).

Plan: the name, the file names and the description itself, written by the
target's pure mapping (:mod:`ovfconverter.hub.libvirt`,
:mod:`ovfconverter.hub.xen`) with the devices of
:mod:`ovfconverter.hub.devices`; the device choices that differ from the
source are the plan's warnings.  Write: each disk converted (several at
once) from the source's image, a raw dump in place (a Ganeti export) or a
blank disk, into the output format; the folder built in the run's staging
folder and renamed into place only when complete.

Disk paths in the description are absolute (the final folder) by default:
libvirt resolves a relative path against libvirtd's working folder and its
schema wants absolute ones, xl against its own.  ``relative_paths`` writes
bare file names, for a folder that will be moved (make them absolute before
``virsh define`` / ``xl create``).

A cloud-init seed (``cloud_init``, libvirt only) is one more file,
``NAME-cidata.iso``, on a read-only CD-ROM (:mod:`ovfconverter.pipelines.seed`).
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from ovfconverter.concurrency import run_all
from ovfconverter.disks.from_raw import convert_from_raw, space_needed
from ovfconverter.disks.output_formats import TargetFormat, target_format
from ovfconverter.errors import OptionError, TargetError
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.libvirt import Attachment
from ovfconverter.hub.provenance import Decision
from ovfconverter.hub.publishing import SeedAttachment, attach_seed
from ovfconverter.hub.values import vm_name
from ovfconverter.model.libvirt import DomainType
from ovfconverter.model.machine import Disk, Machine
from ovfconverter.model.nocloud import SEED_EXTENSION
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.staging import fsync_path
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.seed import SeedFiles, read_seed_files, seed_volume
from ovfconverter.pipelines.source import ImageBytes, Source
from ovfconverter.pipelines.target import Target
from ovfconverter.targets.images import disk_images, raw_dump, refuse_overlap

log = logging.getLogger("ovfconverter")

DISK_FORMATS = ("qcow2", "raw")
"""The disk formats a domain folder holds."""


@dataclass
class DomainOptions:
    """What the caller may choose for ``--to libvirt`` / ``--to xen``.

    :ivar output_dir: where ``NAME/`` goes (default: the current folder).
    :ivar name: the domain's name instead of the source's (``-n``).
    :ivar disk_format: ``qcow2`` or ``raw``; ``None``: the target's default
        (qcow2 for libvirt, raw for Xen).
    :ivar relative_paths: name disks by file name only.
    :ivar domain_type: libvirt ``<domain type>``: ``kvm`` or ``qemu`` (TCG).
    :ivar policy: the device policy (``--virtio``, ``--keep-devices``).
    :ivar attachments: per NIC number, a bridge or libvirt network
        (``--net N:bridge=br0``, ``--net N:network=NAME``); for Xen only
        bridges.  Other NICs: a Ganeti bridged NIC keeps its bridge, else
        libvirt's network ``default`` / Xen's bridge ``xenbr0``.
    :ivar force: replace an existing ``OUT/NAME``.
    :ivar cloud_init: ``--cloud-init USER_DATA[,META_DATA[,NETWORK_CONFIG]]``:
        the files of a cloud-init NoCloud seed, attached as a CD-ROM
        (libvirt; Xen refuses it).
    """

    output_dir: str | None = None
    name: str | None = None
    disk_format: str | None = None
    relative_paths: bool = False
    domain_type: DomainType = DomainType.KVM
    policy: DevicePolicy = DevicePolicy.AUTO
    attachments: Mapping[int, Attachment] = field(default_factory=lambda: MappingProxyType({}))
    force: bool = False
    cloud_init: str | None = None


@dataclass
class DomainPlan:
    """Everything a domain folder will hold.

    :ivar final: the folder's final path.
    :ivar files: each disk's file name in it, disk order.
    :ivar description_name: ``NAME.xml`` / ``NAME.cfg``.
    :ivar description: its contents.
    :ivar warnings: the device choices that differ from the source's.
    :ivar seed: the cloud-init seed's file name and volume, when there is one.
    :ivar decisions: empty: ``--dry-run`` does not show a domain plan yet
        (the :class:`~ovfconverter.pipelines.target.Plan` field).
    """

    machine: Machine
    final: str
    files: list[str]
    format: TargetFormat
    description_name: str
    description: bytes
    warnings: list[str] = field(default_factory=list)
    seed: tuple[str, bytes] | None = None
    decisions: list[Decision] = field(default_factory=list)


@dataclass
class DomainResult:
    """What was written: the folder, its description file, the disk files
    (disk order, in the final folder) and the warnings given."""

    path: str
    description: str
    disks: list[str]
    warnings: list[str] = field(default_factory=list)


class DomainFolderTarget(Target[DomainOptions, DomainPlan, DomainResult]):
    """A domain folder; a subclass describes the machine in its system's
    terms (:meth:`describe`)."""

    label = "ovfconverter-domain"
    suffix: ClassVar[str] = ""
    """The description file's extension (``xml``, ``cfg``)."""
    default_format: ClassVar[str] = "qcow2"
    takes_seed: ClassVar[bool] = False
    """The description can hold the cloud-init seed's CD-ROM."""
    seed_files: SeedFiles | None = None
    """The ``cloud_init`` files, read and checked by :meth:`check`."""

    @classmethod
    def default_options(cls) -> DomainOptions:
        return DomainOptions()

    def check(self) -> None:
        """Refuse a disk format other than qcow2 or raw; read and check the
        cloud-init seed's files.

        :raises OptionError: either, or a seed on a target without one."""
        self.disk_format()
        if self.options.cloud_init is not None:
            if not self.takes_seed:
                raise OptionError(
                    (Parameter("cloud_init"), ": not an option of ", Parameter("target"), f" {self.name}")
                )
            self.seed_files = read_seed_files(self.options.cloud_init)

    def disk_format(self) -> TargetFormat:
        """The disk format the options choose (the target's default when
        they do not).

        :raises OptionError: not qcow2 or raw."""
        chosen = self.options.disk_format or self.default_format
        if chosen not in DISK_FORMATS:
            raise OptionError(f"disk format {chosen!r} is not qcow2 or raw")
        return target_format(chosen)

    def output_dir(self, source_path: str) -> str:
        return os.path.abspath(self.options.output_dir or os.getcwd())

    @abc.abstractmethod
    def describe(
        self, machine: Machine, paths: tuple[str, ...], fmt: str, removable: tuple[str | None, ...] = ()
    ) -> tuple[bytes, tuple[str, ...]]:
        """The description of ``machine`` whose disks are the files
        ``paths`` in format ``fmt`` (its removable drives' images
        ``removable``, ``None`` or missing: empty), and the notes of its
        device choices.

        :raises TargetError: the machine cannot be said on this target.
        :raises OptionError: an option the target cannot honour.
        """

    def plan(self, machine: Machine) -> DomainPlan:
        """Decide the folder's name, files and description.

        :raises TargetError: a name, MAC, memory or CPU count the target
            refuses.
        """
        options = self.options
        fmt = self.disk_format()
        named = machine if options.name is None else Machine(name=options.name)
        name = vm_name(named, self.name)
        final = os.path.join(self.output_dir(""), name)
        files = [f"{name}-disk{n}.{fmt.extension}" for n in range(len(machine.disks))]
        paths = tuple(f if options.relative_paths else os.path.join(final, f) for f in files)
        for disk in machine.disks:
            if disk.image is None and disk.capacity is None:
                raise TargetError(f"{disk.label or 'a disk'} has neither an image nor a capacity")
        removable: tuple[str | None, ...] = ()
        seed = None
        notes: list[str] = []
        if self.seed_files is not None:
            _, volume = seed_volume(self.seed_files, options.name or machine.name or name)
            seed = (f"{name}-cidata.{SEED_EXTENSION}", volume)
            removable = (
                *(None for _ in machine.removable),
                seed[0] if options.relative_paths else os.path.join(final, seed[0]),
            )
            machine = attach_seed(machine, seed[0], len(volume), SeedAttachment.CDROM_FILE)
            notes.extend(self.seed_files.notes)
        description, described = self.describe(machine, paths, fmt.name, removable)
        notes[:0] = described
        return DomainPlan(machine, final, files, fmt, f"{name}.{self.suffix}", description, notes, seed)

    def write(self, plan: DomainPlan, source: Source, run: Run) -> DomainResult:
        """Write the folder (see the module docstring).

        :raises OptionError: the folder would replace the source.
        :raises OutputExistsError: it exists and ``force`` is not set.
        :raises DiskImageError: a conversion or its check failed.
        """
        staging = run.staging
        staging.check_target(plan.final, self.options.force)
        refuse_overlap(plan.final, [source.path])
        images = disk_images(plan.machine.disks, source, plan.final, run)
        os.mkdir(staging.result, 0o755)  # libvirt's qemu user must reach the disks
        space = SpaceBudget(staging.result)
        jobs = list(enumerate(zip(plan.machine.disks, images, strict=True)))
        written = run_all(lambda job: _write_disk(plan, job[0], job[1][0], job[1][1], run, space), jobs, run.threads)
        for warnings in written:
            for message in warnings:
                run.warn(message)
        if plan.seed is not None:
            with open(os.path.join(staging.result, plan.seed[0]), "xb") as stream:
                stream.write(plan.seed[1])
        description = os.path.join(staging.result, plan.description_name)
        with open(description, "xb") as stream:
            stream.write(plan.description)
        for entry in os.listdir(staging.result):
            fsync_path(os.path.join(staging.result, entry))
        staging.commit(plan.final, self.options.force)
        log.info("wrote %s", plan.final)
        return DomainResult(
            path=plan.final,
            description=os.path.join(plan.final, plan.description_name),
            disks=[os.path.join(plan.final, name) for name in plan.files],
            warnings=run.warnings,
        )


def _write_disk(
    plan: DomainPlan, index: int, disk: Disk, image: ImageBytes | None, run: Run, space: SpaceBudget
) -> list[str]:
    """Write disk ``index`` into the staging folder: the source's raw dump,
    its image converted to raw, or a blank disk, then in the plan's format
    (converting straight into the result when that is raw).

    :returns: the warnings converting it gave."""
    dest = os.path.join(run.staging.result, plan.files[index])
    raw_output = plan.format.qemu_format == "raw"
    scratch = dest if raw_output else os.path.join(run.work, f"disk{index}.raw")
    dump, warnings = raw_dump(index, disk, image, scratch, plan.files[index], run, space)
    if dump.path == dest:
        return warnings
    allocated = min(os.stat(dump.path).st_blocks * 512, dump.size) if dump.offset == 0 else dump.size
    space.claim(space_needed(plan.format, False, allocated), f"writing it as {plan.format.name}", dump.name)
    convert_from_raw(dump, dest, plan.format, run.progress)
    if dump.path == scratch:
        os.unlink(scratch)  # the raw image is not needed any more: free its space
    return warnings
