"""The OpenStack target (``convert SOURCE --to openstack``): each disk of a
machine as a Glance image file, qcow2 (default) or raw, with a JSON file of
its Glance fields, in one folder ``OUT/NAME/``; with ``upload``, the images
created in Glance.

Check: the disk format (qcow2 or raw: never VMDK or VHD, which Glance may
refuse and Nova may not boot) and, when uploading, the connection to the
cloud (:mod:`ovfconverter.glance.cloud`), so that a wrong configuration is
reported before any conversion.

Plan (pure): the devices of :func:`~ovfconverter.hub.devices.choose_devices`
for :attr:`~ovfconverter.hub.devices.TargetKind.OPENSTACK` (``--virtio``,
``--keep-devices``), the image records of
:func:`~ovfconverter.hub.openstack.glance_images` (boot image first, named
after the machine; ``NAME-diskN`` for the others), their file names.  What
Nova cannot say of the machine's devices is the plan's warnings.

Write: each disk (several at once) from the source's raw dump in place (a
Ganeti export), its image converted to raw (the source's in-pass check fed
the same bytes), or a blank disk; then written as qcow2 or raw and checked
(:func:`~ovfconverter.disks.from_raw.convert_from_raw`), read once for its
size, MD5 and SHA-512 (Glance's ``checksum`` and ``os_hash_value``), and
its JSON file written (:mod:`ovfconverter.formats.glance_json`).  The folder
is built in the run's staging folder and renamed into place only when
complete; then the upload (:mod:`ovfconverter.glance.upload`): all images
or none.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ovfconverter.concurrency import run_all
from ovfconverter.diagnostics import Code
from ovfconverter.disks.from_raw import convert_from_raw, space_needed
from ovfconverter.disks.output_formats import TargetFormat, target_format
from ovfconverter.errors import OptionError
from ovfconverter.formats.glance_json import format_glance_json
from ovfconverter.glance.cloud import CloudOptions, connect
from ovfconverter.glance.upload import UploadedImage, UploadMethod, upload_images
from ovfconverter.hub.devices import DevicePolicy, TargetKind, choose_devices
from ovfconverter.hub.openstack import DISK_FORMATS, GIB, ceil_units, glance_images
from ovfconverter.hub.provenance import Decision
from ovfconverter.io.hashing import BackgroundHasher
from ovfconverter.model.machine import Disk, Machine, Needs
from ovfconverter.model.openstack import DiskFormat, GlanceImage, ImageData
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.staging import fsync_path
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import ImageBytes, Source
from ovfconverter.pipelines.target import Target
from ovfconverter.progress import Meter, ProgressCallback
from ovfconverter.targets.images import disk_images, raw_dump, refuse_overlap

if TYPE_CHECKING:
    from openstack.connection import Connection

log = logging.getLogger("ovfconverter")

_READ_SIZE = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class OpenStackOptions:
    """What ``--to openstack`` does.

    :ivar output_dir: where the folder ``NAME/`` is made.
    :ivar disk_format: :class:`~ovfconverter.model.openstack.DiskFormat`
        ``QCOW2`` (default) or ``RAW``.
    :ivar name: the boot image's name (default: the machine's).
    :ivar force: replace an existing ``OUT/NAME``.
    :ivar upload: create the images in Glance afterwards.
    :ivar cloud: which cloud (``--os-cloud``), when uploading.
    :ivar method: :class:`~ovfconverter.glance.upload.UploadMethod`.
    :ivar policy: the device policy (``--virtio``, ``--keep-devices``).
    """

    output_dir: str = "."
    disk_format: DiskFormat = DiskFormat.QCOW2
    name: str | None = None
    force: bool = False
    upload: bool = False
    cloud: CloudOptions = field(default_factory=CloudOptions)
    method: UploadMethod = UploadMethod.AUTO
    policy: DevicePolicy = DevicePolicy.AUTO


@dataclass
class OpenStackPlan:
    """Everything the folder will hold.

    :ivar final: the folder's final path (``OUT/NAME``).
    :ivar images: the image records (without data), disk order, boot image
        first.
    :ivar stems: each image's file name without extension, same order.
    :ivar warnings: what Nova cannot say of the machine's devices.
    :ivar decisions: empty: ``--dry-run`` does not show an OpenStack plan
        yet (the :class:`~ovfconverter.pipelines.target.Plan` field).
    """

    machine: Machine
    final: str
    images: list[GlanceImage]
    stems: list[str]
    format: TargetFormat
    warnings: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


@dataclass
class OpenStackResult:
    """What the OpenStack target produced.

    :ivar path: the folder holding the images and their JSON files.
    :ivar images: the image records, boot image first, with their
        :attr:`~ovfconverter.model.openstack.GlanceImage.data`.
    :ivar files: each image's file (absolute path), same order.
    :ivar uploaded: the images created in Glance (empty without upload).
    :ivar warnings: everything worked around, in order (the source's, the
        device choices Nova cannot say, the conversions').
    """

    path: str
    images: list[GlanceImage] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    uploaded: list[UploadedImage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def file_stem(name: str) -> str:
    """A file name stem for a machine called ``name``: letters, digits and
    ``._+-`` kept, anything else ``_``; never hidden, never empty, short
    enough for ``-diskN.qcow2`` to follow within 255 bytes."""
    stem = _UNSAFE.sub("_", name).lstrip(".")
    return stem[:230] or "image"


def image_stem(base: str, index: int) -> str:
    """The file name stem of disk ``index`` of the machine whose files are
    named ``base`` (:func:`file_stem`): ``base``, ``base-disk1``..."""
    return base if index == 0 else f"{base}-disk{index}"


def describe_file(path: str, name: str, virtual_size: int, progress: ProgressCallback | None = None) -> ImageData:
    """The :class:`~ovfconverter.model.openstack.ImageData` of an image
    file: its size, MD5 and SHA-512 (Glance's ``checksum`` and
    ``os_hash_value``), read in one pass, the two hashes on two threads.

    :param name: the file's name as its JSON file refers to it.
    :param virtual_size: bytes.
    """
    sha512 = BackgroundHasher("sha512")
    md5 = hashlib.md5(usedforsecurity=False)
    meter = Meter(progress, "hash", name, os.path.getsize(path))
    try:
        with open(path, "rb") as stream:
            while block := stream.read(_READ_SIZE):
                sha512.update(block)
                md5.update(block)
                meter.advance(len(block))
    except BaseException:
        sha512.close()
        raise
    meter.finish()
    return ImageData(
        file=name,
        size=meter.done,
        virtual_size=virtual_size,
        checksum=md5.hexdigest(),
        os_hash_value=sha512.hexdigest(),
    )


class OpenStackTarget(Target[OpenStackOptions, OpenStackPlan, OpenStackResult]):
    """Glance images in a folder, uploaded on request; options:
    :class:`OpenStackOptions`."""

    name = "openstack"
    label = "ovfconverter-openstack"

    connection: Connection | None = None
    """The cloud, connected by :meth:`check` when uploading."""

    @classmethod
    def default_options(cls) -> OpenStackOptions:
        return OpenStackOptions()

    def check(self) -> None:
        """Refuse a disk format other than qcow2 or raw; connect to the
        cloud when uploading.

        :raises OptionError: another disk format.
        :raises MissingToolError: uploading without openstacksdk.
        :raises CloudError: no cloud configured, or it does not answer.
        """
        fmt = self.options.disk_format
        if fmt not in DISK_FORMATS:
            raise OptionError(
                f"the OpenStack target writes qcow2 or raw images, not {fmt.value} "
                "(Glance may refuse it, Nova may not boot it)"
            )
        if self.options.upload:
            self.connection = connect(self.options.cloud)

    def needs(self) -> Needs:
        return Needs(name=self.options.name is None)

    def output_dir(self, source_path: str) -> str:
        return os.path.abspath(self.options.output_dir)

    def plan(self, machine: Machine) -> OpenStackPlan:
        """The devices, the image records and their file names.

        :raises OptionError: no disk, no name, a name Glance refuses, a disk
            with neither an image nor a capacity.
        """
        options = self.options
        devices = choose_devices(machine, TargetKind.OPENSTACK, options.policy)
        # A disk whose image is all the source says of its size: min_disk once it is read (write).
        sized = replace(
            machine,
            disks=tuple(
                replace(disk, capacity=0) if disk.capacity is None and disk.image is not None else disk
                for disk in machine.disks
            ),
        )
        mapping = glance_images(sized, devices, disk_format=options.disk_format, name=options.name)
        base = file_stem(mapping.images[0].name)
        return OpenStackPlan(
            machine=machine,
            final=os.path.join(self.output_dir(""), base),
            images=list(mapping.images),
            stems=[image_stem(base, image.disk_index) for image in mapping.images],
            format=target_format(options.disk_format.value),
            warnings=[*devices.notes, *mapping.notes],
        )

    def write(self, plan: OpenStackPlan, source: Source, run: Run) -> OpenStackResult:
        """Write the folder, then upload when asked (see the module
        docstring).

        :raises OptionError: the folder would replace the source.
        :raises OutputExistsError: it exists and ``force`` is not set.
        :raises DiskImageError: a conversion or its check failed.
        :raises CloudError: the cloud refused or failed; it keeps no image.
        """
        refuse_overlap(plan.final, [source.path])
        staging = run.staging
        staging.check_target(plan.final, self.options.force)
        images = disk_images(plan.machine.disks, source, plan.final, run)
        os.mkdir(staging.result, 0o755)
        space = SpaceBudget(staging.result)
        jobs = list(enumerate(zip(plan.machine.disks, images, strict=True)))
        written = run_all(lambda job: _write_image(plan, job[0], job[1][0], job[1][1], run, space), jobs, run.threads)
        result = OpenStackResult(path=plan.final, warnings=run.warnings)
        for record, (data, warnings) in zip(plan.images, written, strict=True):
            for message in warnings:
                run.warn(message, code=Code.IMAGE)
            # min_disk covers what the image holds, when it is more than the source said
            record = replace(record, data=data, min_disk=max(record.min_disk, ceil_units(data.virtual_size, GIB)))
            stem = plan.stems[record.disk_index]
            with open(os.path.join(staging.result, f"{stem}.json"), "xb") as stream:
                stream.write(format_glance_json(record))
            result.images.append(record)
            result.files.append(os.path.join(plan.final, data.file))
        for entry in os.listdir(staging.result):
            fsync_path(os.path.join(staging.result, entry))
        staging.commit(plan.final, self.options.force)
        log.info("wrote %s", plan.final)
        if self.connection is not None:
            pairs = list(zip(result.images, result.files, strict=True))
            result.uploaded = upload_images(
                self.connection, pairs, options=self.options.cloud, method=self.options.method, progress=run.progress
            )
        return result


def _write_image(
    plan: OpenStackPlan, index: int, disk: Disk, image: ImageBytes | None, run: Run, space: SpaceBudget
) -> tuple[ImageData, list[str]]:
    """Write disk ``index``'s image file into the staging folder: the
    source's raw dump, its image converted to raw, or a blank disk, then in
    the plan's format (converting straight into the result when that is
    raw); then describe it.

    :returns: the file's data and the warnings converting it gave."""
    name = f"{plan.stems[index]}.{plan.format.extension}"
    dest = os.path.join(run.staging.result, name)
    raw_output = plan.format.qemu_format == "raw"
    scratch = dest if raw_output else os.path.join(run.work, f"disk{index}.raw")
    dump, warnings = raw_dump(index, disk, image, scratch, name, run, space)
    if dump.path != dest:
        allocated = min(os.stat(dump.path).st_blocks * 512, dump.size) if dump.offset == 0 else dump.size
        space.claim(space_needed(plan.format, False, allocated), f"writing it as {plan.format.name}", dump.name)
        _, virtual_size = convert_from_raw(dump, dest, plan.format, run.progress)
        if dump.path == scratch:
            os.unlink(scratch)  # the raw image is not needed any more: free its space
    else:
        virtual_size = dump.size
    return describe_file(dest, name, virtual_size, run.progress), warnings
