"""The OVF package source: a folder with an ``.ovf`` descriptor, or an
``.ova``, read in place.

Opening: the package (:func:`~ovfconverter.package.access.open_package`),
its descriptor (:func:`~ovfconverter.formats.ovf_reader.read_envelope`),
which of its files it can provide, the VirtualSystem and deployment
profile to take, their hardware
(:func:`~ovfconverter.model.hardware.describe_hardware`), every broken
reference refused at once, and the machine
(:func:`~ovfconverter.hub.ovf.machine_from_envelope`).

Images: the byte ranges of each image's File (one, or its chunks), and the
manifest: every file it lists is verified before anything is converted,
except the images stored as one file, whose digest is computed in the
same pass as their conversion (:class:`ManifestCheck`); a mismatch
refuses before anything reaches its final place.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ovfconverter.diagnostics import Code
from ovfconverter.disks.to_raw import SourceImage
from ovfconverter.errors import (
    DescriptorError,
    DiskImageError,
    ManifestError,
    MissingFileError,
    OptionError,
    PackageError,
    UnsafeInputError,
    UsageError,
)
from ovfconverter.formats.manifest import ManifestEntry, parse_manifest
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.hub.ovf import machine_from_envelope
from ovfconverter.io.hashing import BackgroundHasher, hash_ranges
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.envelope import Envelope, FileReference, VirtualSystem
from ovfconverter.model.hardware import (
    Hardware,
    describe_hardware,
    envelope_problems,
    parse_host_resource,
    unattached_disks,
    unused_disk_notes,
)
from ovfconverter.model.machine import Disk, Machine, Needs
from ovfconverter.model.properties import PropertyValues, disk_capacity, effective_products, resolve_properties
from ovfconverter.package.access import Package, open_package
from ovfconverter.package.verify import FileCheck, FileStatus, verify_manifest
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import ImageBytes, Source, SourceOptions

log = logging.getLogger("ovfconverter")


def select_system(envelope: Envelope, wanted: str | None, where: str) -> VirtualSystem:
    """Pick the VirtualSystem to convert.

    :raises PackageError: none, or several (a VirtualSystemCollection) and
        ``wanted`` does not name one of them.
    """
    systems = envelope.virtual_systems
    if not systems:
        raise PackageError("the descriptor has no VirtualSystem to import", where)
    ids = ", ".join(repr(s.id) for s in systems)
    if wanted is not None:
        for system in systems:
            if system.id == wanted:
                return system
        raise UsageError(
            (Parameter("virtual_system"), f" {wanted!r} is not in the package, which holds {ids}"),
            choices=tuple(s.id for s in systems),
        )
    if len(systems) > 1 or envelope.collection_id is not None:
        raise PackageError(
            (
                f"the package is a VirtualSystemCollection of {len(systems)} virtual systems ({ids}); choose one with ",
                Parameter("virtual_system"),
                " ID",
            ),
            where,
        )
    return systems[0]


def select_profile(envelope: Envelope, wanted: str | None) -> str | None:
    """Pick the deployment profile: ``wanted``, else the default.

    :raises UsageError: ``wanted`` is not a Configuration of the package
        (the message and ``choices`` list the profiles).
    """
    if wanted is not None:
        ids = [option.id for option in envelope.deployment_options]
        if wanted not in ids:
            known = ", ".join(repr(i) for i in ids) or "none"
            raise UsageError(
                (Parameter("deployment_option"), f" {wanted!r} is not a profile of the package (profiles: {known})"),
                choices=tuple(ids),
            )
        return wanted
    default = envelope.default_configuration()
    return default.id if default else None


def check_eula(system: VirtualSystem, accepted: bool) -> None:
    """ovftool's rule: a package with a license agreement deploys only once
    the user accepts it (``--acceptAllEulas``; here ``--accept-eula``).

    :raises OptionError: ``system`` has EULAs and they are not accepted.
    """
    if system.eulas and not accepted:
        count = "a license agreement" if len(system.eulas) == 1 else f"{len(system.eulas)} license agreements"
        raise OptionError(
            (
                f"the package has {count} (EulaSection): read it with 'ovfconverter info' and accept it with ",
                Parameter("accept_eula"),
            )
        )


def _with_property_capacities(hw: Hardware, values: PropertyValues) -> Hardware:
    """``hw`` with each Disk whose ``ovf:capacity`` is ``${key}`` sized by
    that property's effective value (DSP0243 section 9.1)."""
    hw.disks = [
        replace(a, disk=replace(a.disk, capacity=disk_capacity(a.disk, values)))
        if a.disk is not None and a.disk.capacity_property is not None
        else a
        for a in hw.disks
    ]
    return hw


@dataclass
class OvfReading:
    """What an envelope amounts to under the caller's choices.

    :ivar warnings: what was worked around or left out, in order (without
        the descriptor's name, which the caller puts before each).
    """

    system: VirtualSystem
    profile: str | None
    hardware: Hardware
    machine: Machine
    warnings: list[str]


def _file_warnings(envelope: Envelope, hw: Hardware, missing_files: Mapping[str, str]) -> list[str]:
    """Files of the package that this system under this profile does not
    use (not a disk, not a removable drive's image, not already reported)."""
    needed = {attachment.file_id for attachment in hw.disks if attachment.file_id is not None}
    removable_files = {
        ref[1]
        for item in hw.removable
        for ref in map(parse_host_resource, item.host_resources)
        if ref and ref[0] == "file"
    }
    reported = {
        disk.file_ref
        for disk in envelope.disks
        if disk.file_ref and (disk.disk_id in hw.unused_disks or disk.disk_id in unattached_disks(envelope))
    }
    return [
        f"File {ref.id!r} ({ref.href}) is not a disk of this virtual system; not imported"
        for ref in envelope.files
        if not (ref.id in needed or ref.id in removable_files or ref.id in missing_files or ref.id in reported)
    ]


def read_machine(
    envelope: Envelope, options: SourceOptions, where: str, missing_files: Mapping[str, str] | None = None
) -> OvfReading:
    """The machine ``envelope`` describes under ``options`` (pure).

    :param where: the descriptor's name, for messages.
    :param missing_files: References/File id -> why the package cannot
        provide it (missing, unsafe, chunks that do not add up); a disk that
        needs one is a problem, any other file a warning.
    :raises PackageError: no VirtualSystem, a collection without
        ``virtual_system``, or broken references (all of them listed).
    :raises DescriptorError: a blank disk without a capacity.
    :raises OptionError: ``virtual_system`` or ``deployment_option`` names
        nothing in the package.
    """
    warnings: list[str] = list(envelope.notes)
    system = select_system(envelope, options.virtual_system, where)
    profile = select_profile(envelope, options.deployment_option)
    check_eula(system, options.accept_eula)
    values = resolve_properties(system.properties, profile, options.properties)
    warnings.extend(values.warnings)
    hw = _with_property_capacities(describe_hardware(envelope, system, profile), values)
    problems = envelope_problems(envelope) + hw.problems
    needed = {attachment.file_id for attachment in hw.disks if attachment.file_id is not None}
    missing_files = missing_files or {}
    for ref in envelope.files:
        reason = missing_files.get(ref.id)
        if reason is not None:
            if ref.id in needed:
                problems.append(f"file {ref.href!r} (File {ref.id!r}) {reason}")
            else:
                warnings.append(f"file {ref.href!r} (File {ref.id!r}) {reason}; it is not needed")
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        what = f"this {envelope.producer.split()[0]} package" if envelope.producer else "the package"
        raise PackageError(f"{what} has {count}: " + "; ".join(problems), where)
    warnings.extend(hw.notes)
    warnings.extend(unused_disk_notes(envelope, hw))
    warnings.extend(_file_warnings(envelope, hw, missing_files))
    machine, notes = machine_from_envelope(envelope, system, hw)
    machine = replace(machine, products=effective_products(machine.products, values))
    for disk in machine.disks:
        if disk.image is None and disk.capacity is None:
            raise DescriptorError(f"{disk.label} has neither a file nor a capacity", where)
    warnings.extend(notes)
    return OvfReading(system=system, profile=profile, hardware=hw, machine=machine, warnings=warnings)


def _file_problem(package: Package, ref: FileReference) -> str | None:
    """Why ``ref`` cannot be read from the package, or ``None``.

    :raises UnsafeInputError: an unsafe href refuses the whole package,
        whether or not the conversion needs that file.
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


def _refuse_mismatches(bad: list[FileCheck], manifest: str) -> None:
    if bad:
        names = ", ".join(f"{c.name} ({c.algorithm} {c.actual}, manifest says {c.expected})" for c in bad)
        raise ManifestError(f"digest mismatch for {names}; refusing to import", manifest)


class ManifestCheck:
    """The manifest digest of an image stored as one file (``ranges``),
    computed (on a thread of its own) from the bytes the conversion reads."""

    def __init__(self, entry: ManifestEntry, manifest: str, ranges: list[ByteRange]) -> None:
        self.entry = entry
        self.manifest = manifest
        self.ranges = ranges
        self.hasher = BackgroundHasher(entry.algorithm)

    def update(self, data: bytes) -> None:
        """See the next stored bytes."""
        self.hasher.update(data)

    def verify(self) -> None:
        """:raises ManifestError: the digest is not the manifest's."""
        actual = self.hasher.hexdigest()
        entry = self.entry
        if actual != entry.digest:
            _refuse_mismatches(
                [FileCheck(entry.filename, FileStatus.MISMATCH, entry.algorithm, entry.digest, actual)], self.manifest
            )

    def close(self) -> None:
        """Stop hashing (the conversion failed)."""
        self.hasher.close()

    def explain(self, refusal: Exception) -> None:
        """A disk refused before its in-pass digest was complete: hash it
        now, so that a file that does not match the manifest is reported as
        such (the cause) rather than by what its altered bytes broke.

        :raises ManifestError: the digest does not match (from ``refusal``).
        """
        if not isinstance(refusal, (UnsafeInputError, DiskImageError)):
            return
        entry = self.entry
        actual = hash_ranges(self.ranges, entry.algorithm)
        if actual != entry.digest:
            try:
                _refuse_mismatches(
                    [FileCheck(entry.filename, FileStatus.MISMATCH, entry.algorithm, entry.digest, actual)],
                    self.manifest,
                )
            except ManifestError as mismatch:
                raise mismatch from refusal


class OvfSource(Source):
    """An OVF package opened for conversion."""

    kind = "ovf"

    def __init__(
        self, path: str, package: Package, envelope: Envelope, reading: OvfReading, options: SourceOptions
    ) -> None:
        super().__init__(path, package.descriptor_name, reading.machine, reading.warnings)
        self.package = package
        self.envelope = envelope
        self.reading = reading
        self.options = options

    @classmethod
    def open(cls, path: str, options: SourceOptions, needs: Needs, run: Run) -> OvfSource:
        """Open the package at ``path`` (see :func:`read_machine` for what is
        refused).  A gzip-compressed OVA is decompressed into ``run``'s
        work folder."""
        package = open_package(path, run.work, run.progress, options.allow_hardlinks)
        try:
            for message in package.warnings:
                run.warn(message, os.path.basename(path), Code.PACKAGE)
            envelope = read_envelope(package.descriptor, package.descriptor_name)
            problems = {ref.id: _file_problem(package, ref) for ref in envelope.files}
            unreadable = {file_id: problem for file_id, problem in problems.items() if problem}
            reading = read_machine(envelope, options, package.descriptor_name, unreadable)
            _check_needs(reading.machine, needs, package.descriptor_name)
            return cls(path, package, envelope, reading, options)
        except BaseException:
            package.close()
            raise

    def images(self, disks: Sequence[Disk], run: Run) -> list[ImageBytes]:
        """Each image's byte ranges; the manifest verified (but for the
        images stored as one file, which carry a :class:`ManifestCheck`).

        :raises ManifestError: a file verified now does not match.
        """
        files: list[FileReference] = []
        for disk in disks:
            ref = self.envelope.file(disk.image.key) if disk.image else None
            if ref is None:
                raise PackageError(f"{disk.label} has no image in the package", self.name)
            files.append(ref)
        sources = [self.package.file_ranges(ref) for ref in files]
        for ref, ranges in zip(files, sources, strict=True):
            if ref.size is not None and ref.chunk_size is None and ranges[0].size != ref.size:
                run.warn(
                    f"the file is {ranges[0].size} bytes, not the ovf:size of {ref.size}", ref.href, Code.FILE_SIZE
                )
        checks = self._check_manifest(sources, run) if self.options.verify_manifest else {}
        result = []
        for index, (disk, ref, ranges) in enumerate(zip(disks, files, sources, strict=True)):
            declared = self.envelope.disk(disk.source_id) if disk.source_id else None
            image = SourceImage(
                name=ref.href,
                ranges=tuple(ranges),
                compression=ref.compression,
                declared_format=declared.format if declared else None,
                capacity=disk.capacity,
            )
            result.append(ImageBytes(image, check=checks.get(index)))
        return result

    def _check_manifest(self, sources: list[list[ByteRange]], run: Run) -> dict[int, ManifestCheck]:
        """Verify every file the manifest lists, now, except the images
        stored as one file: those get a :class:`ManifestCheck`, by position.

        :raises ManifestError: a file verified now does not match.
        """
        package = self.package
        if package.manifest is None or package.manifest_name is None:
            log.info("%s has no manifest; nothing to verify", package.descriptor_name)
            return {}
        entries = parse_manifest(package.manifest, package.manifest_name)
        by_name = {entry.filename: entry for entry in entries}
        in_pass: dict[int, ManifestCheck] = {}
        for index, ranges in enumerate(sources):
            entry = by_name.get(ranges[0].name) if len(ranges) == 1 else None
            if entry is not None:
                in_pass[index] = ManifestCheck(entry, package.manifest_name, ranges)
        deferred = {check.entry.filename for check in in_pass.values()}
        now = [entry for entry in entries if entry.filename not in deferred]
        referenced = [part.name for ranges in sources for part in ranges]
        log.info(
            "verifying %d files against %s (%d more while converting)", len(now), package.manifest_name, len(deferred)
        )
        checks = verify_manifest(package, now, [name for name in referenced if name not in deferred], run.progress)
        _refuse_mismatches([check for check in checks if check.status is FileStatus.MISMATCH], package.manifest_name)
        for check in checks:
            if check.status is FileStatus.MISSING:
                run.warn(f"lists {check.name!r}, which is not in the package", package.manifest_name, Code.MANIFEST)
            elif check.status is FileStatus.UNLISTED:
                run.warn(f"does not list {check.name!r}; it is not verified", package.manifest_name, Code.MANIFEST)
        return in_pass

    def close(self) -> None:
        self.package.close()


def _check_needs(machine: Machine, needs: Needs, where: str) -> None:
    """Refuse a package that lacks what the target needs stated.

    :raises PackageError: listing every value missing.
    """
    problems = []
    if needs.name and not machine.name:
        problems.append("no name (the VirtualSystem has neither Name nor ovf:id)")
    if needs.cpus and machine.cpus is None:
        problems.append("no CPU count (no processor Item)")
    if needs.memory and machine.memory is None:
        problems.append("no memory size (no memory Item)")
    if needs.ganeti_identity and machine.ganeti is not None and not machine.ganeti.os_name:
        problems.append("no OS in the Ganeti section")  # only a Ganeti section is written again
    if problems:
        raise PackageError("cannot convert: " + "; ".join(problems), where)
