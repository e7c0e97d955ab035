"""Write a machine as a domain folder: ``OUT/NAME/`` holding the domain
description (``NAME.xml`` for libvirt, ``NAME.cfg`` for Xen) and one image per
disk (``NAME-diskN.qcow2`` or ``.raw``), built in a private staging folder and
renamed into place only when complete.

Disk paths in the description are absolute (the final folder) by default:
libvirt resolves a relative path against libvirtd's working folder and its
schema wants absolute ones, xl against its own.  ``relative_paths`` writes
bare file names, for a folder that will be moved (make them absolute before
``virsh define`` / ``xl create``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ovfconverter.disks.from_raw import convert_from_raw
from ovfconverter.disks.output_formats import target_format
from ovfconverter.errors import OptionError, os_errors_as_ours
from ovfconverter.formats.libvirt_xml import write_domain
from ovfconverter.formats.xl_cfg import write_xl_cfg
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.libvirt import Attachment, LibvirtSettings, machine_to_domain
from ovfconverter.hub.publishing import SeedAttachment, attach_seed
from ovfconverter.hub.values import vm_name
from ovfconverter.hub.xen import XenSettings, machine_to_xl
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.libvirt import DomainType
from ovfconverter.model.machine import Machine
from ovfconverter.model.nocloud import SEED_EXTENSION
from ovfconverter.package.staging import Staging, fsync_path
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.seed import SeedFiles, seed_volume
from ovfconverter.progress import ProgressCallback


class DomainTarget(enum.Enum):
    """The system a domain folder is for."""

    LIBVIRT = "libvirt"
    XEN = "xen"


@dataclass
class DomainOptions:
    """What the caller may choose for ``--to libvirt`` / ``--to xen``.

    :ivar disk_format: ``qcow2`` or ``raw``; ``None``: qcow2 for libvirt,
        raw for Xen.
    :ivar domain_type: libvirt ``<domain type>``: ``kvm`` or ``qemu`` (TCG).
    :ivar policy: the device policy (``--virtio``, ``--keep-devices``).
    :ivar attachments: per NIC number, a bridge or libvirt network
        (``--net N:bridge=br0``, ``--net N:network=NAME``); for Xen only
        bridges.  Other NICs: a Ganeti bridged NIC keeps its bridge, else
        libvirt's network ``default`` / Xen's bridge ``xenbr0``.
    :ivar seed: a cloud-init seed (``--cloud-init``, read and checked
        before the source): libvirt gets it as a CD-ROM, ``NAME-cidata.iso``
        in the folder; Xen refuses it.
    """

    output_dir: str = "."
    name: str | None = None
    disk_format: str | None = None
    relative_paths: bool = False
    domain_type: DomainType = DomainType.KVM
    policy: DevicePolicy = DevicePolicy.AUTO
    attachments: Mapping[int, Attachment] = field(default_factory=lambda: MappingProxyType({}))
    force: bool = False
    seed: SeedFiles | None = None


@dataclass
class DomainResult:
    """What was written: the folder, its description file, the disk files
    (disk order, in the final folder) and the warnings given."""

    path: str
    description: str
    disks: list[str]
    warnings: list[str] = field(default_factory=list)


def disk_format(target: DomainTarget, options: DomainOptions) -> str:
    """The disk format to write.

    :raises OptionError: not qcow2 or raw."""
    chosen = options.disk_format or ("qcow2" if target is DomainTarget.LIBVIRT else "raw")
    if chosen not in ("qcow2", "raw"):
        raise OptionError(f"disk format {chosen!r} is not qcow2 or raw")
    return chosen


def _describe(
    target: DomainTarget,
    machine: Machine,
    paths: tuple[str, ...],
    fmt: str,
    options: DomainOptions,
    removable: tuple[str | None, ...] = (),
) -> tuple[bytes, list[str]]:
    if target is DomainTarget.LIBVIRT:
        result = machine_to_domain(
            machine,
            LibvirtSettings(
                disk_paths=paths,
                disk_format=fmt,
                removable_paths=removable,
                domain_type=options.domain_type,
                policy=options.policy,
                attachments=options.attachments,
                name=options.name,
            ),
        )
        return write_domain(result.domain), list(result.notes)
    bridges = {}
    for number, attach in options.attachments.items():
        if attach.type.value != "bridge":
            raise OptionError((Parameter("attachments", number), ": Xen NICs join bridges only (bridge=NAME)"))
        bridges[number] = attach.source
    xen = machine_to_xl(
        machine,
        XenSettings(disk_paths=paths, disk_format=fmt, policy=options.policy, bridges=bridges, name=options.name),
    )
    return write_xl_cfg(xen.config).encode(), list(xen.notes)


@os_errors_as_ours
def write_domain_folder(
    target: DomainTarget,
    machine: Machine,
    dumps: Sequence[ByteRange],
    options: DomainOptions,
    progress: ProgressCallback | None = None,
    protect: Sequence[str] = (),
) -> DomainResult:
    """Write ``machine`` (its disks' contents: ``dumps``, raw, disk order) as
    a ``target`` domain folder ``OUT/NAME/``.

    Everything is decided (and refused) before a byte is written.

    :raises OptionError: dumps and disks do not match, a bad option, or the
        output would replace the source (``protect``).
    :raises TargetError: the machine cannot be expressed on the target.
    :raises OutputExistsError: ``OUT/NAME`` exists and ``force`` is false.
    :raises DiskImageError: a conversion or its check failed.
    """
    if len(dumps) != len(machine.disks):
        raise OptionError(f"{len(dumps)} disk images for {len(machine.disks)} disks")
    fmt = disk_format(target, options)
    name = vm_name(machine if options.name is None else Machine(name=options.name), target.value)
    final = os.path.join(os.path.abspath(options.output_dir), name)
    _refuse_overlap(final, [*protect, *(dump.path for dump in dumps)])
    names = [f"{name}-disk{n}.{fmt}" for n in range(len(dumps))]
    paths = tuple(n if options.relative_paths else os.path.join(final, n) for n in names)
    seed_name, seed, removable = _seed(target, machine, name, options)
    if seed is not None:
        machine = attach_seed(machine, seed_name, len(seed), SeedAttachment.CDROM_FILE)
        removable += (seed_name if options.relative_paths else os.path.join(final, seed_name),)
    text, notes = _describe(target, machine, paths, fmt, options, removable)
    suffix = "xml" if target is DomainTarget.LIBVIRT else "cfg"
    result = DomainResult(path=final, description=os.path.join(final, f"{name}.{suffix}"), disks=[], warnings=notes)
    with Staging(options.output_dir, f"ovfconverter-{target.value}") as staging:
        staging.check_target(final, options.force)
        os.mkdir(staging.result)
        for dump, file_name in zip(dumps, names, strict=True):
            dest = os.path.join(staging.result, file_name)
            convert_from_raw(dump, dest, target_format(fmt), progress)
            result.disks.append(os.path.join(final, file_name))
        if seed is not None:
            with open(os.path.join(staging.result, seed_name), "xb") as stream:
                stream.write(seed)
        with open(os.path.join(staging.result, f"{name}.{suffix}"), "xb") as stream:
            stream.write(text)
        os.chmod(staging.result, 0o755)  # libvirt's qemu user must reach the disks
        for entry in os.listdir(staging.result):
            fsync_path(os.path.join(staging.result, entry))
        staging.commit(final, options.force)
    return result


def _seed(
    target: DomainTarget, machine: Machine, name: str, options: DomainOptions
) -> tuple[str, bytes | None, tuple[str | None, ...]]:
    """The seed's file name and volume (``None`` without one), and the
    images of the machine's own drives (none are carried: empty drives).

    :raises OptionError: a seed for Xen (no CD-ROM written there yet)."""
    if options.seed is None:
        return "", None, ()
    if target is not DomainTarget.LIBVIRT:
        raise OptionError((Parameter("seed"), ": not an option of ", Parameter("target"), f" {target.value}"))
    _, volume = seed_volume(options.seed, options.name or machine.name or name)
    return f"{name}-cidata.{SEED_EXTENSION}", volume, tuple(None for _ in machine.removable)


def _refuse_overlap(final: str, sources: Sequence[str]) -> None:
    target = os.path.realpath(final)
    for source in sources:
        real = os.path.realpath(source)
        if real == target or real.startswith(target + os.sep):
            raise OptionError(
                (f"the output {final} would replace the source {source}: choose another ", Parameter("output_dir"))
            )
