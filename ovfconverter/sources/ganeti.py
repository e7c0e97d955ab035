"""The Ganeti export source: the ``config.ini`` of a ``gnt-backup export``
folder and the raw disk dumps beside it.

Opening: ``config.ini`` read (:func:`~ovfconverter.formats.config_ini.read_config`)
and checked for what the target needs
(:func:`~ovfconverter.hub.ganeti.export_problems`), every disk dump
located: a plain file name in config.ini's folder, a regular file that
resolves inside it; every problem refused at once.  The machine is
:func:`~ovfconverter.hub.ganeti.machine_from_export`.

Images: each dump as a raw image in place; the dumps of an export with
``[export] compression = gzip`` are decompressed (bounded) into the work
folder; a dump that is a tar, gzip or dump(8) stream, which OS export
scripts write instead of a disk image (Ganeti issue 904), is refused.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from ovfconverter.diagnostics import Code, Diagnostic, join_parts, text_parts
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.to_raw import SourceImage
from ovfconverter.errors import ConfigError, DiskImageError, UnsafeInputError
from ovfconverter.formats.config_ini import MAX_CONFIG_SIZE, read_config
from ovfconverter.hub.ganeti import export_problems, machine_from_export
from ovfconverter.io.ranges import ByteRange, range_reader, read_range
from ovfconverter.io.sparse import gunzip_ranges
from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.model.machine import Disk, Needs
from ovfconverter.model.units import MIB
from ovfconverter.package.paths import check_links
from ovfconverter.package.space import SpaceBudget
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import ImageBytes, Source, SourceOptions
from ovfconverter.progress import ProgressCallback

log = logging.getLogger("ovfconverter")


@dataclass(frozen=True)
class DumpFile:
    """A disk dump of the export.

    :ivar path: its real path.
    :ivar size_mib: ``diskN_size`` (MiB).
    """

    index: int
    path: str
    size_mib: int


def dump_path(folder: str, dump: str, index: int, allow_hardlinks: bool = False) -> str:
    """Resolve ``diskN_dump``: a plain file name in config.ini's folder, a
    regular file with one hard link (unless ``allow_hardlinks``).

    :raises ConfigError: not a plain file name, or no such file.
    :raises UnsafeInputError: it resolves outside the folder, or is not a
        regular file.
    """
    label = f"disk{index}_dump {dump!r}"
    if "/" in dump or "\\" in dump or dump in (".", "..") or any(ord(ch) < 32 for ch in dump):
        raise ConfigError(f"{label} is not a plain file name in config.ini's folder; refusing")
    base = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(base, dump))
    if os.path.dirname(real) != base:
        raise UnsafeInputError(f"{label} resolves to {real!r}, outside config.ini's folder; refusing")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise ConfigError(f"{label} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError(f"{label} is not a regular file; refusing")
    check_links(info, label, dump, allow_hardlinks)
    return real


def check_export(
    config: InstanceExport, folder: str, needs: Needs, where: str, allow_hardlinks: bool = False
) -> list[DumpFile]:
    """Check that ``config`` can be converted for a target that ``needs``
    these values, and locate its disk dumps.

    :param folder: config.ini's folder.
    :param where: config.ini's name, for messages.
    :returns: the dumps, in disk order.
    :raises ConfigError: listing every problem found.
    """
    problems = export_problems(config, needs)
    dumps: list[DumpFile] = []
    for index, disk in enumerate(config.disks):
        if disk.dump is None:
            problems.append(f"disk{index} has no dump (disk{index}_dump)")
            continue
        try:
            dumps.append(DumpFile(index, dump_path(folder, disk.dump, index, allow_hardlinks), disk.size))
        except (ConfigError, UnsafeInputError) as exc:
            problems.append(Diagnostic(exc.parts))
    if len(problems) == 1:
        raise ConfigError(("cannot export: ", *text_parts(problems[0])), where)
    if problems:
        raise ConfigError((f"cannot export, {len(problems)} problems: ", *join_parts(problems, "; ")), where)
    return dumps


def raw_dump(dump: DumpFile, compressed: bool, work: str, progress: ProgressCallback | None = None) -> ByteRange:
    """The dump as a raw image range, decompressed into ``work`` when the
    export is gzip-compressed.

    :raises DiskImageError: the dump is a gzip, tar or dump(8) stream.
    :raises UnsafeInputError: it decompresses beyond its size.
    """
    name = os.path.basename(dump.path)
    part = ByteRange(dump.path, 0, os.path.getsize(dump.path), name)
    if compressed:
        target = os.path.join(work, f"dump{dump.index}.raw")
        limit = min(max(dump.size_mib * MIB, part.size) + (64 << 20), SpaceBudget(work).left)
        size = gunzip_ranges([part], target, limit, progress, name)
        part = ByteRange(target, 0, size, name)
    inspection = inspect_image(range_reader(part), part.size)
    if inspection.format in ("gzip", "tar", "dump"):
        kind = {"gzip": "a gzip stream", "tar": "a tar archive", "dump": "a dump(8) archive"}[inspection.format]
        hint = " ([export] compression says none)" if inspection.format == "gzip" else ""
        raise DiskImageError(
            f"disk{dump.index} dump is {kind}{hint}, not a raw disk image; "
            "the instance's OS export script wrote a file-level dump (Ganeti issue 904); refusing",
            name,
        )
    return part


class GanetiSource(Source):
    """A Ganeti export opened for conversion."""

    kind = "ganeti"

    def __init__(self, path: str, config: InstanceExport, dumps: list[DumpFile]) -> None:
        super().__init__(path, os.path.basename(path), machine_from_export(config))
        self.config = config
        self.dumps = {str(dump.index): dump for dump in dumps}
        self.compressed = (config.export_extra.get("compression") or "none").strip().lower() == "gzip"

    @classmethod
    def open(cls, path: str, options: SourceOptions, needs: Needs, run: Run) -> GanetiSource:
        """Read and check the ``config.ini`` at ``path`` (see
        :func:`check_export`); nothing is written.

        :raises ConfigError: unreadable, not a Ganeti export, or refused.
        """
        where = os.path.basename(path)
        try:
            info = os.stat(path)
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", path) from None
        check_links(info, "config.ini", where, options.allow_hardlinks)
        size = info.st_size
        config = read_config(read_range(ByteRange(os.path.realpath(path), 0, size, where), MAX_CONFIG_SIZE), where)
        folder = os.path.dirname(os.path.abspath(path))
        return cls(path, config, check_export(config, folder, needs, where, options.allow_hardlinks))

    def images(self, disks: Sequence[Disk], run: Run) -> list[ImageBytes]:
        """Each disk's dump as a raw image (decompressed first for a gzip
        export); a dump larger than its ``diskN_size`` is warned about.

        :raises DiskImageError: a dump is not a disk image.
        """
        dumps = [self.dumps[disk.image.key] for disk in disks if disk.image is not None]
        parts = [raw_dump(dump, self.compressed, run.work, run.progress) for dump in dumps]
        for dump, part in zip(dumps, parts, strict=True):
            if dump.size_mib and part.size > dump.size_mib * MIB:
                run.warn(
                    f"disk{dump.index} dump is {part.size} bytes, more than disk{dump.index}_size ({dump.size_mib} MiB)",
                    code=Code.DUMP_SIZE,
                )
        return [
            ImageBytes(SourceImage(name=part.name, ranges=(part,), capacity=dump.size_mib * MIB or None), raw=part)
            for dump, part in zip(dumps, parts, strict=True)
        ]
