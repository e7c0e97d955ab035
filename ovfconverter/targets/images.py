"""A source's disk image as a raw image, for every target that writes disks:
converted with :func:`~ovfconverter.disks.to_raw.convert_to_raw`, the
source's in-pass check (a manifest digest) fed the very bytes converted and
judged once they are all seen."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from ovfconverter.disks.to_raw import ConvertedDisk, convert_to_raw, create_blank
from ovfconverter.errors import OptionError, OVFConverterError
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.machine import Disk
from ovfconverter.package.space import SpaceBudget
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import ImageBytes, Source

log = logging.getLogger("ovfconverter")


def convert_checked(image: ImageBytes, dest: str, run: Run, space: SpaceBudget | None = None) -> ConvertedDisk:
    """Convert ``image`` into the new raw file ``dest`` (sparse), feeding
    its check (when it has one) every stored byte, then verifying it.
    A ``dest`` outside the run's work folder is a result: it is made
    durable as it is written (``durable`` of ``convert_to_raw``).

    :param space: the free-space budget shared by the run's conversions
        (default: measured for ``dest``'s folder).
    :raises OVFConverterError: as :func:`~ovfconverter.disks.to_raw.convert_to_raw`;
        when the check is the cause (the file does not match its manifest),
        the check's own refusal instead (a
        :class:`~ovfconverter.errors.ManifestError`).
    """
    check = image.check
    work = os.path.abspath(run.work)
    scratch = os.path.commonpath([os.path.abspath(dest), work]) == work  # packed or converted later: never synced
    try:
        converted = convert_to_raw(
            image.image,
            dest,
            run.work,
            run.progress,
            check.update if check else None,
            run.threads,
            space,
            durable=not scratch,
        )
    except OVFConverterError as exc:
        if check is not None:
            check.close()
            check.explain(exc)
        raise
    except BaseException:
        if check is not None:
            check.close()
        raise
    if check is not None:
        check.verify()
    return converted


def disk_images(disks: Sequence[Disk], source: Source, final: str, run: Run) -> list[ImageBytes | None]:
    """The source's bytes for each of ``disks`` (``None`` for a blank one),
    in order, none of them inside the output folder ``final``.

    :raises OptionError: a source's raw dump lies in ``final``.
    """
    with_images = [disk for disk in disks if disk.image is not None]
    fetched = iter(source.images(with_images, run))
    images = [next(fetched) if disk.image is not None else None for disk in disks]
    refuse_overlap(final, [image.raw.path for image in images if image is not None and image.raw is not None])
    return images


def raw_dump(
    index: int, disk: Disk, image: ImageBytes | None, scratch: str, name: str, run: Run, space: SpaceBudget
) -> tuple[ByteRange, list[str]]:
    """Disk ``index`` as raw bytes: the source's own raw dump when it has
    one, else written to the new file ``scratch``: its image converted
    (:func:`convert_checked`), or a blank disk of ``disk.capacity`` bytes.

    :param name: how messages name the bytes.
    :returns: the raw bytes (sizes in bytes) and the warnings converting
        them gave.
    :raises OVFConverterError: as :func:`convert_checked`.
    """
    if image is not None and image.raw is not None:
        return image.raw, []
    if image is None:
        size = disk.capacity or 0
        log.info("disk %d: creating an empty disk of %d bytes", index, size)
        create_blank(scratch, size)
        return ByteRange(scratch, 0, size, name), []
    log.info("disk %d: converting %s to raw", index, image.image.name)
    converted = convert_checked(image, scratch, run, space)
    return ByteRange(scratch, 0, converted.virtual_size, name), converted.warnings


def refuse_overlap(final: str, sources: Sequence[str]) -> None:
    """Refuse an output folder that is, or holds, a source (``--force``
    would otherwise replace the very export being converted).

    :raises OptionError: it is.
    """
    target = os.path.realpath(final)
    for source in sources:
        real = os.path.realpath(source)
        if real == target or real.startswith(target + os.sep):
            raise OptionError(
                (f"the output {final} would replace the source {source}: choose another ", Parameter("output_dir"))
            )
