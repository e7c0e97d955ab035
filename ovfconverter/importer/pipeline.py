"""The import pipeline: OVF package in, Ganeti export folder out.

1. Open the package (folder or OVA, read in place) and read its descriptor.
2. Plan the export (:mod:`ovfconverter.importer.plan`): values validated,
   every problem reported before any disk is read.
3. Locate every disk image; verify the files the manifest lists, except
   disks stored as one file, whose digest is computed in the same pass as
   their conversion (or alongside qemu-img reading them).
4. Convert each image to a raw, sparse dump (several disks at once);
   create empty disks.  A digest mismatch refuses the import here, before
   anything reaches its final place.
5. Write ``config.ini`` and move the folder into place
   (:class:`~ovfconverter.package.staging.Staging`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ovfconverter.concurrency import run_all
from ovfconverter.disks.to_raw import SourceImage, convert_to_raw, create_blank
from ovfconverter.errors import (
    DiskImageError,
    ManifestError,
    MissingFileError,
    OVFConverterError,
    PackageError,
    UnsafeInputError,
    os_errors_as_ours,
)
from ovfconverter.formats.config_ini import write_config
from ovfconverter.formats.manifest import ManifestEntry, parse_manifest
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.ganeti_node import GanetiNode, data_dir, export_dir, is_below, read_node, resolves
from ovfconverter.importer.backup_command import BackupImportCommand, backup_import_command
from ovfconverter.importer.options import ImportOptions
from ovfconverter.importer.plan import DiskPlan, build_plan
from ovfconverter.io.hashing import BackgroundHasher, hash_ranges
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.envelope import FileReference
from ovfconverter.model.ganeti import GanetiDisk, InstanceExport
from ovfconverter.model.units import bytes_to_mib_ceil
from ovfconverter.package.access import Package, open_package
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.staging import Staging, fsync_path
from ovfconverter.package.verify import MISMATCH, MISSING, UNLISTED, FileCheck, verify_manifest
from ovfconverter.progress import ProgressCallback

log = logging.getLogger("ovfconverter")


@dataclass
class ImportedDisk:
    """A disk of the result.

    :ivar path: the raw dump, in the final folder.
    :ivar size: its length in bytes (``diskN_size`` is this in MiB, rounded
        up).
    :ivar source: the href it came from, ``None`` for an empty disk.
    :ivar source_format: ``vmdk``, ``qcow2``, ``raw``..., ``None`` for an
        empty disk.
    """

    path: str
    size: int
    source: str | None = None
    source_format: str | None = None


@dataclass
class ImportResult:
    """What :func:`import_package` produced.

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


def default_output_dir() -> str:
    """Ganeti's export folder (``/var/lib/ganeti/export``) when it exists,
    else the current folder."""
    folder = export_dir()
    return folder if os.path.isdir(folder) else os.getcwd()


def _check_place(final: str, node: GanetiNode | None, warnings: list[str]) -> None:
    """Warn when ``gnt-backup import`` on this node could not read the
    disk dumps from ``final``."""
    if node is not None and not is_below(node.export_dir, final):
        _warn(
            warnings,
            f"{final} is not below {node.export_dir}, the only folder gnt-backup import reads disk dumps from: "
            f"imported from here, the instance gets blank disks; move the folder there first "
            f"(or import with --output-dir {node.export_dir})",
        )


def _warn(warnings: list[str], message: str) -> None:
    warnings.append(message)
    log.warning("%s", message)


def _file_problem(package: Package, ref: FileReference) -> str | None:
    """Why ``ref`` cannot be read from the package, or ``None``.

    :raises UnsafeInputError: an unsafe href refuses the whole package,
        whether or not the import needs that file.
    """
    try:
        package.file_ranges(ref)
    except MissingFileError:
        return "is missing from the package"
    except UnsafeInputError:
        raise
    except PackageError as exc:
        return f"cannot be read: {exc.message}"
    return None


@dataclass
class _InPass:
    """A disk whose single stored file is checked against the manifest in
    the same pass as its conversion."""

    entry: ManifestEntry
    hasher: BackgroundHasher


def _check_manifest(
    package: Package,
    sources: dict[int, list[ByteRange]],
    warnings: list[str],
    progress: ProgressCallback | None,
) -> dict[int, _InPass]:
    """Verify every file the manifest lists, now, except the disks stored as
    one file: those are returned, to be hashed while they are converted.

    :raises ManifestError: a file verified now does not match.
    """
    if package.manifest is None or package.manifest_name is None:
        log.info("%s has no manifest; nothing to verify", package.descriptor_name)
        return {}
    entries = parse_manifest(package.manifest, package.manifest_name)
    by_name = {entry.filename: entry for entry in entries}
    in_pass: dict[int, _InPass] = {}
    for index, ranges in sources.items():
        entry = by_name.get(ranges[0].name) if len(ranges) == 1 else None
        if entry is not None:
            in_pass[index] = _InPass(entry, BackgroundHasher(entry.algorithm))
    deferred = {item.entry.filename for item in in_pass.values()}
    now = [entry for entry in entries if entry.filename not in deferred]
    referenced = [part.name for ranges in sources.values() for part in ranges]
    log.info("verifying %d files against %s (%d more while converting)", len(now), package.manifest_name, len(deferred))
    checks = verify_manifest(package, now, [name for name in referenced if name not in deferred], progress)
    _refuse_mismatches([check for check in checks if check.status == MISMATCH], package.manifest_name)
    for check in checks:
        if check.status == MISSING:
            _warn(warnings, f"{package.manifest_name}: lists {check.name!r}, which is not in the package")
        elif check.status == UNLISTED:
            _warn(warnings, f"{package.manifest_name}: does not list {check.name!r}; it is not verified")
    return in_pass


def _refuse_mismatches(bad: list[FileCheck], manifest: str) -> None:
    if bad:
        names = ", ".join(f"{c.name} ({c.algorithm} {c.actual}, manifest says {c.expected})" for c in bad)
        raise ManifestError(f"digest mismatch for {names}; refusing to import", manifest)


def _tampered_first(entry: ManifestEntry, ranges: list[ByteRange], manifest: str, refusal: Exception) -> None:
    """A disk refused before its in-pass digest was complete: hash it now,
    so that a file that does not match the manifest is reported as such
    (the cause) rather than by what its altered bytes broke.

    :raises ManifestError: the digest does not match.
    """
    if not isinstance(refusal, (UnsafeInputError, DiskImageError)):
        return
    actual = hash_ranges(ranges, entry.algorithm)
    if actual != entry.digest:
        try:
            _refuse_mismatches([FileCheck(entry.filename, MISMATCH, entry.algorithm, entry.digest, actual)], manifest)
        except ManifestError as mismatch:
            raise mismatch from refusal


def _write_disk(
    plan: DiskPlan,
    ranges: list[ByteRange] | None,
    staging: Staging,
    warnings: list[str],
    progress: ProgressCallback | None,
    in_pass: _InPass | None,
    manifest: str,
    space: SpaceBudget,
) -> ImportedDisk:
    dest = os.path.join(staging.result, plan.dump)
    if plan.file is None:
        assert plan.blank_size is not None
        log.info("disk %d: creating an empty disk of %d bytes", plan.index, plan.blank_size)
        create_blank(dest, plan.blank_size)
        return ImportedDisk(dest, plan.blank_size)
    assert ranges is not None
    source = SourceImage(
        name=plan.file.href,
        ranges=tuple(ranges),
        compression=plan.file.compression,
        declared_format=plan.disk.format if plan.disk else None,
        capacity=plan.disk.capacity if plan.disk else None,
    )
    log.info("disk %d: converting %s to raw", plan.index, plan.file.href)
    on_data = in_pass.hasher.update if in_pass else None
    try:
        converted = convert_to_raw(
            source, dest, staging.work, progress, on_data, threads=os.cpu_count() or 1, space=space
        )
    except OVFConverterError as exc:
        if in_pass is not None:
            in_pass.hasher.close()
            _tampered_first(in_pass.entry, ranges, manifest, exc)
        raise
    except BaseException:
        if in_pass is not None:
            in_pass.hasher.close()
        raise
    if in_pass is not None:
        actual = in_pass.hasher.hexdigest()
        entry = in_pass.entry
        if actual != entry.digest:
            _refuse_mismatches([FileCheck(entry.filename, MISMATCH, entry.algorithm, entry.digest, actual)], manifest)
    for message in converted.warnings:
        _warn(warnings, message)
    return ImportedDisk(dest, converted.virtual_size, plan.file.href, converted.source_format)


def _write_disks(
    plans: list[DiskPlan],
    sources: dict[int, list[ByteRange]],
    staging: Staging,
    warnings: list[str],
    progress: ProgressCallback | None,
    in_pass: dict[int, _InPass],
    manifest: str,
) -> list[ImportedDisk]:
    """Convert every disk; several at once when there are several, claiming
    the free space each may write from one budget."""
    space = SpaceBudget(staging.result)

    def one(plan: DiskPlan) -> ImportedDisk:
        return _write_disk(
            plan, sources.get(plan.index), staging, warnings, progress, in_pass.get(plan.index), manifest, space
        )

    return run_all(one, plans, os.cpu_count() or 1)


@os_errors_as_ours
def import_package(
    path: str, options: ImportOptions | None = None, progress: ProgressCallback | None = None
) -> ImportResult:
    """Import the OVF package at ``path`` into a Ganeti export folder.

    :param path: an ``.ovf`` descriptor, an ``.ova`` archive, or a folder
        holding one ``.ovf``.
    :param options: overrides and output settings (:class:`ImportOptions`).
    :param progress: receives :class:`~ovfconverter.progress.ProgressEvent`
        for hashing and conversion.
    :returns: where the export is and what it holds.
    :raises OVFConverterError: (a subclass) when the package or the options
        are refused or a conversion fails; nothing is left behind then.
    :raises MissingToolError: qemu-img is not installed and an image needs it.
    """
    options = options or ImportOptions()
    warnings: list[str] = []
    node = read_node()
    if node is None:
        log.debug("not run on a Ganeti node (no %s)", os.path.join(data_dir(), "ssconf_cluster_name"))
    else:
        log.debug(
            "Ganeti node %s of cluster %s: Ganeti networks %s; %s",
            node.name or "(this host is not in the node list)",
            node.cluster,
            ", ".join(sorted(node.networks)) or "none",
            node.policy.source,
        )
    output_dir = os.path.abspath(options.output_dir or default_output_dir())
    with Staging(output_dir, "ovfconverter-import") as staging:
        with open_package(path, staging.work, progress, options.allow_hardlinks) as package:
            for message in package.warnings:
                _warn(warnings, f"{os.path.basename(path)}: {message}")
            envelope = read_envelope(package.descriptor, package.descriptor_name)
            problems = {ref.id: _file_problem(package, ref) for ref in envelope.files}
            unreadable = {file_id: problem for file_id, problem in problems.items() if problem}
            networks = node.networks if node is not None else None
            plan = build_plan(envelope, options, package.descriptor_name, unreadable, networks)
            for message in plan.warnings:
                _warn(warnings, f"{package.descriptor_name}: {message}")
            assert plan.config.name is not None
            final = os.path.join(output_dir, plan.config.name)
            staging.check_target(final, options.force)
            _check_place(final, node, warnings)

            sources = {p.index: package.file_ranges(p.file) for p in plan.disks if p.file is not None}
            for disk_plan in plan.disks:
                ref = disk_plan.file
                if ref is not None and ref.size is not None and ref.chunk_size is None:
                    stored = sources[disk_plan.index][0].size
                    if stored != ref.size:
                        _warn(warnings, f"{ref.href}: the file is {stored} bytes, not the ovf:size of {ref.size}")
            in_pass = _check_manifest(package, sources, warnings, progress) if options.verify_manifest else {}

            os.mkdir(staging.result, 0o700)
            disks = _write_disks(plan.disks, sources, staging, warnings, progress, in_pass, package.manifest_name or "")

        config = plan.config
        config.disks = [
            GanetiDisk(size=bytes_to_mib_ceil(disk.size), dump=p.dump, ivname=p.ivname, name=p.name)
            for p, disk in zip(plan.disks, disks, strict=True)
        ]
        config_path = os.path.join(staging.result, "config.ini")
        with open(config_path, "x", encoding="utf-8") as stream:
            stream.write(write_config(config))
        for name in [*(d.path for d in disks), config_path, staging.result]:
            fsync_path(name)
        staging.commit(final, options.force)
        result_disks = [
            ImportedDisk(os.path.join(final, os.path.basename(d.path)), d.size, d.source, d.source_format)
            for d in disks
        ]
        log.info("wrote %s", final)
    assert config.name is not None
    command = backup_import_command(config, final, node, resolves(config.name))
    return ImportResult(path=final, config=config, disks=result_disks, warnings=warnings, next_step=command)
