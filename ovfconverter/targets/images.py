"""A source's disk image as a raw image, for every target that writes disks:
converted with :func:`~ovfconverter.disks.to_raw.convert_to_raw`, the
source's in-pass check (a manifest digest) fed the very bytes converted and
judged once they are all seen."""

from __future__ import annotations

from ovfconverter.disks.to_raw import ConvertedDisk, convert_to_raw
from ovfconverter.errors import OVFConverterError
from ovfconverter.package.space import SpaceBudget
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import ImageBytes


def convert_checked(image: ImageBytes, dest: str, run: Run, space: SpaceBudget | None = None) -> ConvertedDisk:
    """Convert ``image`` into the new raw file ``dest`` (sparse), feeding
    its check (when it has one) every stored byte, then verifying it.

    :param space: the free-space budget shared by the run's conversions
        (default: measured for ``dest``'s folder).
    :raises OVFConverterError: as :func:`~ovfconverter.disks.to_raw.convert_to_raw`;
        when the check is the cause (the file does not match its manifest),
        the check's own refusal instead (a
        :class:`~ovfconverter.errors.ManifestError`).
    """
    check = image.check
    try:
        converted = convert_to_raw(
            image.image, dest, run.work, run.progress, check.update if check else None, run.threads, space
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
