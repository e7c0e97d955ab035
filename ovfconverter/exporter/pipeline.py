"""The export pipeline: Ganeti export folder in, OVF package or OVA out.

1. Read and check ``config.ini`` (:mod:`ovfconverter.exporter.plan`); every
   disk dump must be a raw image beside it (gzip dumps of
   ``[export] compression = gzip`` are decompressed; dumps that are tar,
   gzip or dump(8) streams, which OS export scripts emit, are refused).
2. Convert each dump into the target format (qemu-img, checked afterwards),
   gzip it when asked.
3. Describe the instance (descriptor), list every file's digest (manifest).
4. Write a folder ``NAME/`` or an OVA ``NAME.ova`` (descriptor first,
   manifest second, then the disks) in a private folder and move it into
   place only when complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import BinaryIO

from ovfconverter.concurrency import run_all
from ovfconverter.disks.from_raw import check_written, checked_after_writing, produce_image, space_needed
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.output_formats import TargetFormat, target_format
from ovfconverter.errors import ConfigError, DiskImageError, os_errors_as_ours
from ovfconverter.exporter.options import ExportOptions
from ovfconverter.exporter.plan import (
    DiskSource,
    ProducedFile,
    build_envelope,
    check_config,
    check_options,
    member_names,
)
from ovfconverter.formats.config_ini import MAX_CONFIG_SIZE, read_config
from ovfconverter.formats.manifest import ManifestEntry, format_manifest
from ovfconverter.formats.ovf_writer import write_envelope
from ovfconverter.ganeti_node import export_dir, is_below
from ovfconverter.io.deflate import DEFAULT_LEVEL
from ovfconverter.io.ranges import ByteRange, range_reader, read_range
from ovfconverter.io.sink import Sink
from ovfconverter.io.sparse import data_extents, gunzip_ranges
from ovfconverter.model.envelope import Envelope
from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.model.units import MIB
from ovfconverter.package.ova_writer import OvaWriter
from ovfconverter.package.paths import check_links
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.staging import Staging, fsync_path
from ovfconverter.progress import Meter, ProgressCallback

log = logging.getLogger("ovfconverter")


@dataclass(frozen=True)
class ProducedDisk:
    """A disk image written into the package: stored ``size`` and
    ``digest`` (manifest algorithm), and ``virtual_size``, in bytes."""

    href: str
    size: int
    digest: str
    virtual_size: int


@dataclass
class ExportedFile:
    """A file of the package: ``name`` in the package, ``size`` in bytes,
    ``digest`` in the manifest's algorithm (hex)."""

    name: str
    size: int
    digest: str


@dataclass
class ExportResult:
    """What :func:`export_instance` produced.

    :ivar path: the OVA file, or the folder holding the package.
    :ivar descriptor: the descriptor's name in the package.
    :ivar envelope: what the descriptor says.
    :ivar files: descriptor, manifest and disks, in package order.
    """

    path: str
    descriptor: str
    envelope: Envelope
    files: list[ExportedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _raw_dump(disk: DiskSource, compressed: bool, work: str, progress: ProgressCallback | None) -> ByteRange:
    """The dump as a raw image range, decompressed into ``work`` if the
    export is gzip-compressed; refuses dumps that are not disk images."""
    name = os.path.basename(disk.dump)
    part = ByteRange(disk.dump, 0, os.path.getsize(disk.dump), name)
    if compressed:
        target = os.path.join(work, f"dump{disk.index}.raw")
        limit = min(max(disk.size_mib * MIB, part.size) + (64 << 20), SpaceBudget(work).left)
        size = gunzip_ranges([part], target, limit, progress, name)
        part = ByteRange(target, 0, size, name)
    inspection = inspect_image(range_reader(part), part.size)
    if inspection.format in ("gzip", "tar", "dump"):
        kind = {"gzip": "a gzip stream", "tar": "a tar archive", "dump": "a dump(8) archive"}[inspection.format]
        hint = " ([export] compression says none)" if inspection.format == "gzip" else ""
        raise DiskImageError(
            f"disk{disk.index} dump is {kind}{hint}, not a raw disk image; "
            "the instance's OS export script wrote a file-level dump (Ganeti issue 904); refusing",
            name,
        )
    return part


def _image_name(href: str, compressed: bool) -> str:
    return href[: -len(".gz")] if compressed else href


def _produce_into(
    stream: BinaryIO,
    location: str,
    dump: ByteRange,
    href: str,
    target: TargetFormat,
    options: ExportOptions,
    work: str,
    progress: ProgressCallback | None,
) -> ProducedDisk:
    """Write one disk image at the current position of ``stream`` (a file of
    its own, or an OVA member), hashing it in the same pass, then check it.

    :param location: the path of ``stream``'s file (the image is checked
        there by qemu-img).
    """
    start = stream.tell()
    meter = Meter(progress, "convert", href, dump.size) if target.qemu_format == "raw" else None
    sink = Sink(stream, options.digest, _level(options) if options.compress else None, meter)
    try:
        virtual = produce_image(
            dump,
            target,
            sink,
            _image_name(href, options.compress),
            work,
            level=_level(options),
            threads=_threads(options),
            progress=progress,
        )
        size, digest = sink.finish()
    except BaseException:
        sink.close()
        raise
    if not options.compress and checked_after_writing(target):
        stream.flush()
        check_written(ByteRange(os.path.abspath(location), start, size, href), target, virtual)
    return ProducedDisk(href, size, digest, virtual)


def _produce_file(
    dump: ByteRange,
    path: str,
    href: str,
    target: TargetFormat,
    options: ExportOptions,
    work: str,
    progress: ProgressCallback | None,
) -> ProducedDisk:
    """Write one disk image into the new file ``path``."""
    with open(path, "xb") as stream:
        return _produce_into(stream, path, dump, href, target, options, work, progress)


def _level(options: ExportOptions) -> int:
    return options.compression_level if options.compression_level is not None else DEFAULT_LEVEL


def _threads(options: ExportOptions) -> int:
    return options.threads or os.cpu_count() or 1


def _produce_all(
    dumps: list[ByteRange],
    paths: list[str],
    hrefs: list[str],
    target: TargetFormat,
    options: ExportOptions,
    work: str,
    progress: ProgressCallback | None,
) -> list[ProducedDisk]:
    """Produce every disk into its file; several disks concurrently."""
    jobs = list(zip(dumps, paths, hrefs, strict=True))
    return run_all(lambda job: _produce_file(*job, target, options, work, progress), jobs, _threads(options))


def _append_file(writer: OvaWriter, href: str, path: str, size: int) -> None:
    """Copy a produced file into the OVA as a member (in the kernel, with
    explicit offsets), keeping its holes."""
    stream = writer.begin_member(href)
    stream.flush()
    base = stream.tell()
    with open(path, "rb") as source:
        for start, end in data_extents(source.fileno(), 0, size):
            length = end - start
            done = 0
            while done < length:
                copied = os.copy_file_range(
                    source.fileno(), stream.fileno(), length - done, start + done, base + start + done
                )
                if copied <= 0:
                    raise DiskImageError(f"{path} ended early while packing it", href)
                done += copied
    end = base + size
    if os.fstat(stream.fileno()).st_size < end:
        os.truncate(stream.fileno(), end)
    stream.seek(end)
    writer.end_member()


_PLACEHOLDER = 10**19 + 1  # a 20-digit size, not a multiple of a MiB: the longest attribute values


def _descriptor_room(config: InstanceExport, options: ExportOptions, hrefs: list[str], uri: str) -> int:
    """Bytes to keep for the descriptor before the disks' sizes are known:
    its length with the longest possible numbers, plus room for
    capacity units."""
    placeholders = [ProducedFile(href, _PLACEHOLDER, _PLACEHOLDER, _PLACEHOLDER) for href in hrefs]
    return len(write_envelope(build_envelope(config, options, placeholders, uri))) + 64 * len(hrefs) + 64


def _pad(descriptor: bytes, room: int) -> bytes:
    """The descriptor followed by white space (after the root element, where
    XML allows it) up to exactly ``room`` bytes."""
    if len(descriptor) > room:
        raise DiskImageError(f"the descriptor ({len(descriptor)} bytes) outgrew the {room} bytes kept for it")
    extra = room - len(descriptor)
    return descriptor + (b" " * (extra - 1) + b"\n" if extra else b"")


def _warn(warnings: list[str], message: str) -> None:
    warnings.append(message)
    log.warning("%s", message)


@os_errors_as_ours
def export_instance(
    config_path: str, options: ExportOptions | None = None, progress: ProgressCallback | None = None
) -> ExportResult:
    """Export the Ganeti instance described by ``config_path`` as an OVF
    package.

    Each disk is produced, hashed and (for an OVA) packed in one pass; an
    OVA is written once, front to back, with room kept at its start for the
    descriptor and the manifest, which are known last.  Several disks are
    produced concurrently.

    :param config_path: the ``config.ini`` of a ``gnt-backup export``
        folder (its disk dumps beside it).
    :param options: format and output settings (:class:`ExportOptions`).
    :param progress: receives progress events (``convert``, ``pack``...).
    :returns: where the package is and what it holds.
    :raises OVFConverterError: (a subclass) when config.ini or a dump is
        refused or a conversion fails; nothing is left behind then.
    """
    options = options or ExportOptions()
    check_options(options)
    target = target_format(options.format, options.vmdk_subformat)
    where = os.path.basename(config_path)
    try:
        info = os.stat(config_path)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", config_path) from None
    check_links(info, "config.ini", where, options.allow_hardlinks)
    size = info.st_size
    config = read_config(read_range(ByteRange(os.path.realpath(config_path), 0, size, where), MAX_CONFIG_SIZE), where)
    folder = os.path.dirname(os.path.abspath(config_path))
    disks = check_config(config, folder, options, where)
    name = options.name or config.name
    assert name is not None
    compressed_dumps = (config.export_extra.get("compression") or "none").strip().lower() == "gzip"
    output_dir = os.path.abspath(options.output_dir or os.getcwd())
    descriptor_name, manifest_name, hrefs = member_names(name, len(disks), target.extension, options.compress)
    final = os.path.join(output_dir, f"{name}.ova" if options.ova else name)
    warnings: list[str] = []
    if not config.hypervisor and not options.external:
        _warn(
            warnings,
            "config.ini names no hypervisor ([instance] hypervisor): the Ganeti section names none, "
            "so an import into Ganeti takes the target cluster's default hypervisor",
        )
    if is_below(export_dir(), final):
        _warn(
            warnings,
            f"{final} is inside Ganeti's export folder {export_dir()}: gnt-backup remove, or the next "
            "gnt-backup export of the instance, deletes it with the export (give --output-dir elsewhere)",
        )

    with Staging(output_dir, "ovfconverter-export") as staging:
        staging.check_target(final, options.force)
        dumps = [_raw_dump(disk, compressed_dumps, staging.work, progress) for disk in disks]
        for disk, dump in zip(disks, dumps, strict=True):
            if disk.size_mib and dump.size > disk.size_mib * MIB:
                message = (
                    f"disk{disk.index} dump is {dump.size} bytes, more than disk{disk.index}_size ({disk.size_mib} MiB)"
                )
                _warn(warnings, message)
        populated = [min(os.stat(d.path).st_blocks * 512, d.size) if d.offset == 0 else None for d in dumps]
        space = SpaceBudget(staging.work)
        for dump, allocated in zip(dumps, populated, strict=True):
            need = space_needed(target, options.compress, dump.size if allocated is None else allocated)
            space.claim(need, f"writing it as {target.name}", dump.name)

        def described(produced: list[ProducedDisk]) -> tuple[Envelope, bytes]:
            files = [
                ProducedFile(p.href, p.size, p.virtual_size, pop) for p, pop in zip(produced, populated, strict=True)
            ]
            envelope = build_envelope(config, options, files, target.uri)
            return envelope, write_envelope(envelope)

        def manifest_of(descriptor: bytes, produced: list[ProducedDisk]) -> bytes:
            entries = [
                ManifestEntry(options.digest, descriptor_name, hashlib.new(options.digest, descriptor).hexdigest())
            ]
            entries += [ManifestEntry(options.digest, p.href, p.digest) for p in produced]
            return format_manifest(entries)

        if options.ova:
            writer = OvaWriter(staging.result)
            try:
                room = _descriptor_room(config, options, hrefs, target.uri)
                digest_length = len(hashlib.new(options.digest).hexdigest())
                placeholder = [ProducedDisk(h, 0, "0" * digest_length, 0) for h in hrefs]
                manifest_room = len(manifest_of(b"", placeholder))
                writer.reserve([room, manifest_room])
                if len(disks) == 1:
                    produced = [_produce_into_ova(writer, dumps[0], hrefs[0], target, options, staging.work, progress)]
                else:
                    paths = [os.path.join(staging.work, f"disk{i}") for i in range(len(disks))]
                    produced = _produce_all(dumps, paths, hrefs, target, options, staging.work, progress)
                    for item, path in zip(produced, paths, strict=True):
                        _append_file(writer, item.href, path, item.size)
                        os.unlink(path)
                envelope, descriptor = described(produced)
                descriptor = _pad(descriptor, room)
                manifest = manifest_of(descriptor, produced)
                writer.fill_reserved([(descriptor_name, descriptor), (manifest_name, manifest)])
                writer.close()
            except BaseException:
                writer.abort()
                raise
        else:
            os.mkdir(staging.result, 0o755)
            paths = [os.path.join(staging.result, href) for href in hrefs]
            produced = _produce_all(dumps, paths, hrefs, target, options, staging.work, progress)
            envelope, descriptor = described(produced)
            manifest = manifest_of(descriptor, produced)
            for member, data in ((descriptor_name, descriptor), (manifest_name, manifest)):
                with open(os.path.join(staging.result, member), "xb") as stream:
                    stream.write(data)
            for path in [
                *paths,
                os.path.join(staging.result, descriptor_name),
                os.path.join(staging.result, manifest_name),
            ]:
                fsync_path(path)
            fsync_path(staging.result)
        files = [
            ExportedFile(descriptor_name, len(descriptor), hashlib.new(options.digest, descriptor).hexdigest()),
            ExportedFile(manifest_name, len(manifest), hashlib.new(options.digest, manifest).hexdigest()),
            *(ExportedFile(p.href, p.size, p.digest) for p in produced),
        ]
        staging.commit(final, options.force)
    log.info("wrote %s", final)
    return ExportResult(path=final, descriptor=descriptor_name, envelope=envelope, files=files, warnings=warnings)


def _produce_into_ova(
    writer: OvaWriter,
    dump: ByteRange,
    href: str,
    target: TargetFormat,
    options: ExportOptions,
    work: str,
    progress: ProgressCallback | None,
) -> ProducedDisk:
    """Produce one disk straight into the OVA: no copy of it anywhere."""
    stream = writer.begin_member(href)
    produced = _produce_into(stream, writer.path, dump, href, target, options, work, progress)
    writer.end_member()
    return produced
