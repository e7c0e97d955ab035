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
import zlib
from dataclasses import dataclass, field

from ovfconverter.disks.convert import range_reader
from ovfconverter.disks.inspector import inspect_image
from ovfconverter.disks.targets import TargetFormat, convert_from_raw, target_format
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
from ovfconverter.model.envelope import Envelope
from ovfconverter.model.units import MIB
from ovfconverter.package.ova_writer import OvaWriter
from ovfconverter.package.staging import Staging, fsync_path
from ovfconverter.package.streams import BLOCK_SIZE, ByteRange, gunzip_ranges, iter_ranges, read_range
from ovfconverter.progress import Meter, ProgressCallback

log = logging.getLogger("ovfconverter")


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
        limit = max(disk.size_mib * MIB, part.size) + (64 << 20)
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


def _gzip_file(source: str, dest: str, level: int, progress: ProgressCallback | None) -> None:
    meter = Meter(progress, "compress", os.path.basename(dest), os.path.getsize(source))
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(source, "rb") as src, open(dest, "xb") as out:
        while block := src.read(BLOCK_SIZE):
            out.write(compressor.compress(block))
            meter.advance(len(block))
        out.write(compressor.flush())
    meter.finish()


def _digest(path: str, algorithm: str, progress: ProgressCallback | None) -> str:
    digest = hashlib.new(algorithm)
    meter = Meter(progress, "hash", os.path.basename(path), os.path.getsize(path))
    for block in iter_ranges([ByteRange(path, 0, os.path.getsize(path), os.path.basename(path))]):
        digest.update(block)
        meter.advance(len(block))
    meter.finish()
    return digest.hexdigest()


def _produce(
    disk: DiskSource,
    dump: ByteRange,
    href: str,
    folder: str,
    target: TargetFormat,
    options: ExportOptions,
    progress: ProgressCallback | None,
) -> tuple[str, ProducedFile]:
    """Write one disk image; returns its path and description."""
    image = os.path.join(folder, href[:-3] if options.compress else href)
    log.info("disk %d: writing %s", disk.index, os.path.basename(image))
    _, virtual_size = convert_from_raw(dump, image, target, progress)
    if options.compress:
        packed = os.path.join(folder, href)
        _gzip_file(image, packed, options.compression_level, progress)
        os.unlink(image)
        image = packed
    populated = min(os.stat(dump.path).st_blocks * 512, dump.size) if dump.offset == 0 else None
    return image, ProducedFile(href=href, size=os.path.getsize(image), capacity=virtual_size, populated=populated)


@os_errors_as_ours
def export_instance(
    config_path: str, options: ExportOptions | None = None, progress: ProgressCallback | None = None
) -> ExportResult:
    """Export the Ganeti instance described by ``config_path`` as an OVF
    package.

    :param config_path: the ``config.ini`` of a ``gnt-backup export``
        folder (its disk dumps beside it).
    :param options: format and output settings (:class:`ExportOptions`).
    :param progress: receives progress events (``convert``, ``compress``,
        ``hash``, ``pack``).
    :returns: where the package is and what it holds.
    :raises OVFConverterError: (a subclass) when config.ini or a dump is
        refused or a conversion fails; nothing is left behind then.
    """
    options = options or ExportOptions()
    check_options(options)
    target = target_format(options.format, options.vmdk_subformat)
    where = os.path.basename(config_path)
    try:
        size = os.path.getsize(config_path)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", config_path) from None
    config = read_config(read_range(ByteRange(os.path.realpath(config_path), 0, size, where), MAX_CONFIG_SIZE), where)
    folder = os.path.dirname(os.path.abspath(config_path))
    disks = check_config(config, folder, options, where)
    name = options.name or config.name
    assert name is not None
    compressed_dumps = (config.export_extra.get("compression") or "none").strip().lower() == "gzip"
    output_dir = os.path.abspath(options.output_dir or folder)
    descriptor_name, manifest_name, hrefs = member_names(name, len(disks), target.extension, options.compress)
    final = os.path.join(output_dir, f"{name}.ova" if options.ova else name)

    with Staging(output_dir, "ovfconverter-export") as staging:
        staging.check_target(final, options.force)
        files_dir = staging.work if options.ova else staging.result
        if not options.ova:
            os.mkdir(staging.result, 0o755)
        produced: list[ProducedFile] = []
        paths: list[str] = []
        for disk, href in zip(disks, hrefs, strict=True):
            dump = _raw_dump(disk, compressed_dumps, staging.work, progress)
            path, info = _produce(disk, dump, href, files_dir, target, options, progress)
            if dump.path.startswith(staging.work):
                os.unlink(dump.path)
            produced.append(info)
            paths.append(path)

        envelope = build_envelope(config, options, produced, target.uri)
        descriptor = write_envelope(envelope)
        algorithm = options.digest
        files = [ExportedFile(descriptor_name, len(descriptor), hashlib.new(algorithm, descriptor).hexdigest())]
        for info, path in zip(produced, paths, strict=True):
            files.append(ExportedFile(info.href, info.size, _digest(path, algorithm, progress)))
        manifest = format_manifest([ManifestEntry(algorithm, f.name, f.digest) for f in files])
        files.insert(1, ExportedFile(manifest_name, len(manifest), hashlib.new(algorithm, manifest).hexdigest()))

        if options.ova:
            writer = OvaWriter(staging.result)
            try:
                writer.add_bytes(descriptor_name, descriptor)
                writer.add_bytes(manifest_name, manifest)
                for info, path in zip(produced, paths, strict=True):
                    meter = Meter(progress, "pack", info.href, info.size)
                    blocks = iter_ranges([ByteRange(path, 0, info.size, info.href)])
                    try:
                        writer.add_stream(info.href, info.size, blocks, meter.advance_by)
                    finally:
                        blocks.close()
                    meter.finish()
                    os.unlink(path)
                writer.close()
            except BaseException:
                writer.abort()
                raise
        else:
            for member, data in ((descriptor_name, descriptor), (manifest_name, manifest)):
                with open(os.path.join(staging.result, member), "xb") as stream:
                    stream.write(data)
            for path in [os.path.join(staging.result, f.name) for f in files]:
                fsync_path(path)
            fsync_path(staging.result)
        staging.commit(final, options.force)
    log.info("wrote %s", final)
    return ExportResult(path=final, descriptor=descriptor_name, envelope=envelope, files=files)
