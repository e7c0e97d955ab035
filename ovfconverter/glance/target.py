"""The OpenStack target: a machine's disks as Glance images, written to a
folder and, when asked, uploaded.

1. Map the machine to its image records (:mod:`ovfconverter.hub.openstack`):
   boot image first, ``NAME-diskN`` for further disks; refuse anything
   Glance would (names, formats) before any byte is written.
2. Connect to the cloud first when uploading, so that a wrong
   configuration is reported before the conversion.
3. Write each disk (a raw image) as qcow2 or raw with qemu-img, checked
   afterwards; read it once for its size, MD5 and SHA-512; write its JSON
   file of Glance fields (:mod:`ovfconverter.formats.glance_json`).
   Everything goes to a private folder, renamed to ``OUT/NAME`` only when
   complete.
4. Upload (:mod:`ovfconverter.glance.upload`): all images or none.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ovfconverter.disks.from_raw import convert_from_raw
from ovfconverter.disks.output_formats import target_format
from ovfconverter.errors import OptionError, os_errors_as_ours
from ovfconverter.formats.glance_json import format_glance_json
from ovfconverter.glance.cloud import CloudOptions, connect
from ovfconverter.glance.upload import UploadedImage, UploadMethod, upload_images
from ovfconverter.hub.devices import DevicePolicy
from ovfconverter.hub.openstack import Devices, glance_images
from ovfconverter.io.hashing import BackgroundHasher
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.machine import Machine
from ovfconverter.model.openstack import DiskFormat, GlanceImage, ImageData
from ovfconverter.package.staging import Staging, fsync_path
from ovfconverter.parameters import Parameter
from ovfconverter.progress import Meter, ProgressCallback

_READ_SIZE = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class OpenStackOptions:
    """What ``--to openstack`` does.

    :ivar output_dir: where the folder ``NAME/`` is made.
    :ivar disk_format: :class:`DiskFormat` ``QCOW2`` (default) or ``RAW``.
    :ivar name: the boot image's name (default: the machine's).
    :ivar force: replace an existing ``OUT/NAME``.
    :ivar upload: create the images in Glance afterwards.
    :ivar cloud: which cloud (``--os-cloud``), when uploading.
    :ivar method: :class:`UploadMethod`.
    :ivar devices: the device policy (``--virtio``, ``--keep-devices``).
    """

    output_dir: str = "."
    disk_format: DiskFormat = DiskFormat.QCOW2
    name: str | None = None
    force: bool = False
    upload: bool = False
    cloud: CloudOptions = field(default_factory=CloudOptions)
    method: UploadMethod = UploadMethod.AUTO
    devices: DevicePolicy = DevicePolicy.AUTO


@dataclass
class OpenStackResult:
    """What :func:`write_openstack` produced.

    :ivar path: the folder holding the images and their JSON files.
    :ivar images: the image records, boot image first, with their
        :attr:`~GlanceImage.data`.
    :ivar files: each image's file (absolute path), same order.
    :ivar uploaded: the images created in Glance (empty without upload).
    :ivar warnings: what the source had that Glance cannot say.
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
    """The :class:`ImageData` of an image file: its size, MD5 and SHA-512
    (Glance's ``checksum`` and ``os_hash_value``), read in one pass, the
    two hashes on two threads.

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


def _with_capacities(machine: Machine, dumps: Sequence[ByteRange]) -> Machine:
    """The machine with each disk's capacity known: a raw dump's size is
    its disk's (the larger, if the source says more)."""
    disks = tuple(
        replace(disk, capacity=max(disk.capacity or 0, dump.size))
        for disk, dump in zip(machine.disks, dumps, strict=True)
    )
    return replace(machine, disks=disks)


def _write_image(
    image: GlanceImage, dump: ByteRange, folder: str, stem: str, progress: ProgressCallback | None
) -> tuple[GlanceImage, str]:
    data_name = f"{stem}.{image.disk_format.value}"
    path = os.path.join(folder, data_name)
    _, virtual_size = convert_from_raw(dump, path, target_format(image.disk_format.value), progress)
    image = replace(image, data=describe_file(path, data_name, virtual_size, progress))
    with open(os.path.join(folder, f"{stem}.json"), "wb") as stream:
        stream.write(format_glance_json(image))
    return image, path


def _refuse_overlap(final: str, sources: Sequence[str]) -> None:
    """Refuse an output folder that is, or holds, a source (``--force``
    would otherwise replace the very export being converted)."""
    target = os.path.realpath(final)
    for source in sources:
        real = os.path.realpath(source)
        if real == target or real.startswith(target + os.sep):
            raise OptionError(
                (f"the output {final} would replace the source {source}: choose another ", Parameter("output_dir"))
            )


@os_errors_as_ours
def write_openstack(
    machine: Machine,
    devices: Devices,
    dumps: Sequence[ByteRange],
    options: OpenStackOptions = OpenStackOptions(),
    progress: ProgressCallback | None = None,
    protect: Sequence[str] = (),
) -> OpenStackResult:
    """Write ``machine``'s disks as Glance images into ``OUT/NAME/`` and,
    with :attr:`OpenStackOptions.upload`, create them in Glance.

    :param devices: the device policy's choices for OpenStack.
    :param dumps: each disk's contents as a raw image, in disk order.
    :param protect: source paths besides the dumps that the output must
        never replace (the package, the export folder).
    :raises OptionError: the machine cannot be images (no disk, no name, a
        format Glance would refuse), or dumps and disks do not match.
    :raises OutputExistsError: ``OUT/NAME`` exists and ``force`` is false.
    :raises OptionError: ``OUT/NAME`` is or holds the source.
    :raises MissingToolError: uploading without openstacksdk.
    :raises CloudError: the cloud refused or failed; it keeps no image.
    :raises DiskImageError: a conversion failed.
    """
    if len(dumps) != len(machine.disks):
        raise OptionError(f"{len(dumps)} disk images for {len(machine.disks)} disks")
    mapping = glance_images(
        _with_capacities(machine, dumps), devices, disk_format=options.disk_format, name=options.name
    )
    connection = connect(options.cloud) if options.upload else None
    base = file_stem(mapping.images[0].name)
    final = os.path.join(os.path.abspath(options.output_dir), base)
    _refuse_overlap(final, [*protect, *(dump.path for dump in dumps)])
    result = OpenStackResult(path=final, warnings=list(mapping.notes))
    with Staging(options.output_dir, "ovfconverter-openstack") as staging:
        staging.check_target(final, options.force)
        os.mkdir(staging.result)
        for image, dump in zip(mapping.images, dumps, strict=True):
            stem = image_stem(base, image.disk_index)
            written, path = _write_image(image, dump, staging.result, stem, progress)
            result.images.append(written)
            result.files.append(os.path.join(final, os.path.basename(path)))
        for name in os.listdir(staging.result):
            fsync_path(os.path.join(staging.result, name))
        staging.commit(final, options.force)
    if connection is not None:
        pairs = list(zip(result.images, result.files, strict=True))
        result.uploaded = upload_images(
            connection, pairs, options=options.cloud, method=options.method, progress=progress
        )
    return result
