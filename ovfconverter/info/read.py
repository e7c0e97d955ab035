"""``info`` and ``verify``: looking at a package without converting it.

``read_package`` reads only the descriptor, the manifest, the certificate
and the first bytes of each image (64 KiB, and a VMDK's embedded
descriptor), so it is instant whatever the size of the disks.
``verify_package`` hashes every file the manifest lists and checks the
certificate's signature of the manifest.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.disks.inspector import HEAD_SIZE, Inspection, inspect_image
from ovfconverter.errors import (
    ManifestError,
    OptionError,
    OVFConverterError,
    PackageError,
    UnsafeInputError,
    UsageError,
    os_errors_as_ours,
)
from ovfconverter.formats.manifest import ManifestEntry, parse_manifest
from ovfconverter.formats.names import OVF_NS_0_9, OVF_NS_2
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.formats.schema import check_ovf2_structure, find_ovf_schema, validate_descriptor
from ovfconverter.info.model import (
    CertificateInfo,
    DiskInfo,
    FileInfo,
    FileVerdict,
    PackageInfo,
    ProfileInfo,
    VerifyReport,
)
from ovfconverter.info.systems import system_info
from ovfconverter.io.deflate import gunzip_chunks
from ovfconverter.io.ranges import ByteRange, iter_ranges, range_reader
from ovfconverter.model.envelope import Envelope, FileReference
from ovfconverter.model.hardware import (
    envelope_problems,
    parse_host_resource,
    unattached_disk_notes,
)
from ovfconverter.package.access import Package, open_package
from ovfconverter.package.verify import FileStatus, verify_manifest
from ovfconverter.parameters import Parameter
from ovfconverter.progress import ProgressCallback

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger("ovfconverter")

MAX_TRUST_STORE = 16 * 1024 * 1024
"""Largest trust store (PEM bundle) ``verify --ca`` reads, in bytes."""


def _ranges(package: Package, ref: FileReference) -> list[ByteRange] | None:
    try:
        return package.file_ranges(ref)
    except (PackageError, UnsafeInputError):
        return None


def _unreadable(package: Package, ref: FileReference) -> str:
    """Why ``ref`` has no ranges: missing, or refused (and why)."""
    try:
        package.file_ranges(ref)
    except UnsafeInputError as exc:
        return Diagnostic((f"file {ref.href!r} (File {ref.id!r}) is refused: ", *exc.parts))
    except PackageError:
        pass
    return f"file {ref.href!r} (File {ref.id!r}) is missing from the package"


def _inspect(ranges: list[ByteRange], compression: str | None, name: str) -> Inspection:
    """Inspect an image from its first bytes only."""
    if compression == "gzip":
        head = bytearray()
        try:
            for block in gunzip_chunks(iter_ranges(ranges, 1 << 16), name):
                head += block
                if len(head) >= HEAD_SIZE:
                    break
        except PackageError:
            if not head:
                raise
        data = bytes(head)

        def read_head(offset: int, size: int) -> bytes:
            return data[offset : offset + size]

        return inspect_image(read_head, len(data))
    if len(ranges) == 1:
        return inspect_image(range_reader(ranges[0]), ranges[0].size)
    first = ranges[0]
    return inspect_image(range_reader(first), first.size)


def _manifest_entries(package: Package, warnings: list[str]) -> list[ManifestEntry]:
    if package.manifest is None or package.manifest_name is None:
        return []
    try:
        return parse_manifest(package.manifest, package.manifest_name)
    except (ManifestError, UnsafeInputError) as exc:
        warnings.append(str(exc))
        return []


def _certificate(
    package: Package, check: bool, trusted: tuple[x509.Certificate, ...] | None = None
) -> CertificateInfo | None:
    if package.certificate is None or package.certificate_name is None:
        return None
    # cryptography takes a while to import: only when there is a certificate
    from ovfconverter.formats.certificate import (
        certificate_current,
        parse_certificate,
        signature_valid,
        verify_chain,
    )

    info = CertificateInfo(file=package.certificate_name)
    try:
        cert = parse_certificate(package.certificate, package.certificate_name)
    except ManifestError as exc:
        info.problem = exc.message
        info.trusted = False if trusted is not None else None
        return info
    info.subject, info.issuer, info.self_signed = cert.subject, cert.issuer, cert.self_signed
    info.current = certificate_current(cert)
    if check:
        if package.manifest is None or cert.manifest != package.manifest_name:
            info.problem = f"the certificate signs {cert.manifest!r}, not the package's manifest"
            info.signature_valid = False
        else:
            info.signature_valid = signature_valid(cert, package.manifest)
    if trusted is not None:
        verdict = verify_chain(cert, trusted)
        info.trusted, info.chain = verdict.trusted, list(verdict.chain)
        if verdict.problem and not info.problem:
            info.problem = verdict.problem
    return info


def read_trust_store(path: str) -> tuple[x509.Certificate, ...]:
    """The certificates of the PEM bundle at ``path`` (``verify --ca``), at
    most :data:`MAX_TRUST_STORE` bytes.

    :raises OptionError: unreadable, too large, or no PEM certificate in it.
    """
    from ovfconverter.formats.certificate import load_trust_store

    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRUST_STORE + 1)
    except OSError as exc:
        raise OptionError(f"cannot read the trust store: {exc.strerror or exc}", path) from None
    if len(data) > MAX_TRUST_STORE:
        raise OptionError(f"the trust store is larger than {MAX_TRUST_STORE} bytes", path)
    return load_trust_store(data, path)


def _file_infos(
    package: Package, envelope: Envelope, listed: dict[str, str], warnings: list[str]
) -> tuple[list[FileInfo], dict[str, list[ByteRange] | None]]:
    """Each References/File: present or not, its size, its manifest status,
    its role; and its byte ranges by id (``None``: unreadable)."""
    disk_files = {d.file_ref for d in envelope.disks if d.file_ref}
    removable_files = {
        ref[1]
        for system in envelope.virtual_systems
        for item in system.items
        for ref in map(parse_host_resource, item.host_resources)
        if ref and ref[0] == "file"
    }
    files: list[FileInfo] = []
    ranges_by_id: dict[str, list[ByteRange] | None] = {}
    for ref in envelope.files:
        ranges = _ranges(package, ref)
        ranges_by_id[ref.id] = ranges
        names = [part.name for part in ranges] if ranges else [ref.href]
        status = (
            "no manifest"
            if package.manifest is None
            else ("listed" if all(name in listed for name in names) else "unlisted")
        )
        if ranges is None:
            warnings.append(_unreadable(package, ref))
        role = "disk" if ref.id in disk_files else "removable" if ref.id in removable_files else "other"
        files.append(
            FileInfo(
                href=ref.href,
                id=ref.id,
                present=ranges is not None,
                size=sum(p.size for p in ranges) if ranges else None,
                declared_size=ref.size,
                manifest=status,
                algorithm=listed.get(names[0]),
                role=role,
            )
        )
        if ranges and ref.size is not None and ref.chunk_size is None and ref.size != ranges[0].size:
            warnings.append(f"file {ref.href!r} is {ranges[0].size} bytes, not the ovf:size of {ref.size}")
    return files, ranges_by_id


def _manifest_only_files(
    package: Package, entries: list[ManifestEntry], files: list[FileInfo], warnings: list[str]
) -> list[FileInfo]:
    """The files the manifest lists that the descriptor does not name."""
    known = {f.href for f in files} | {package.descriptor_name}
    extra = []
    for entry in entries:
        if entry.filename not in known and not any(entry.filename.startswith(f.href + ".") for f in files):
            extra.append(
                FileInfo(entry.filename, None, package.exists(entry.filename), None, None, "listed", entry.algorithm)
            )
            if not package.exists(entry.filename):
                warnings.append(f"the manifest lists {entry.filename!r}, which is not in the package")
    return extra


def _disk_infos(
    envelope: Envelope, ranges_by_id: dict[str, list[ByteRange] | None], shown: set[str], warnings: list[str]
) -> list[DiskInfo]:
    """Each DiskSection Disk, its image inspected from its first bytes."""
    disks: list[DiskInfo] = []
    for disk in envelope.disks:
        disk_file = envelope.file(disk.file_ref) if disk.file_ref else None
        info = DiskInfo(
            disk_id=disk.disk_id,
            file=disk_file.href if disk_file else None,
            format_uri=disk.format,
            capacity=disk.capacity,
            populated_size=disk.populated_size,
            compression=disk_file.compression if disk_file else None,
            blank=disk.file_ref is None,
        )
        if info.blank and disk.disk_id in shown:
            warnings.append(f"Disk {disk.disk_id!r} has no file: an import creates it empty")
        ranges = ranges_by_id.get(disk_file.id) if disk_file else None
        if ranges:
            info.file_size = sum(p.size for p in ranges)
            try:
                inspection = _inspect(ranges, info.compression, disk_file.href if disk_file else disk.disk_id)
                info.image_format = inspection.format
                info.image_subformat = inspection.subformat
                info.image_virtual_size = inspection.virtual_size if inspection.format != "raw" else None
                info.problems = list(inspection.problems)
            except OVFConverterError as exc:
                info.problems = [Diagnostic(exc.parts)]
        disks.append(info)
    return disks


@os_errors_as_ours
def read_package(
    path: str,
    deployment_option: str | None = None,
    progress: ProgressCallback | None = None,
    allow_hardlinks: bool = False,
) -> PackageInfo:
    """Describe the package at ``path`` without converting anything.

    :param deployment_option: the profile whose hardware to show (default:
        the package's default profile).
    :param allow_hardlinks: read files of a folder package that have several
        hard links (by default they count as missing, as on import).
    :returns: the description; problems that would stop an import are in
        ``warnings`` and the disks' ``problems``.
    :raises PackageError: the package cannot be opened or its descriptor
        is not XML / not OVF (then there is nothing to show).
    :raises UsageError: ``deployment_option`` is not a profile of the
        package (``choices``: the profiles).
    """
    with open_package(path, progress=progress, allow_hardlinks=allow_hardlinks) as package:
        warnings = [f"{os.path.basename(path)}: {w}" for w in package.warnings]
        envelope = read_envelope(package.descriptor, package.descriptor_name, strict=False)
        warnings += list(envelope.notes) + envelope_problems(envelope)
        warnings += [
            f"Network {n.name!r} has no Description (DSP0243 requires one)"
            for n in envelope.networks
            if not n.description
        ]
        ids = tuple(o.id for o in envelope.deployment_options)
        if deployment_option is not None and deployment_option not in ids:
            profiles = ", ".join(repr(i) for i in ids) or "none"
            raise UsageError(
                (
                    Parameter("deployment_option"),
                    f" {deployment_option!r} is not a profile of the package (profiles: {profiles})",
                ),
                path,
                ids,
            )
        default = envelope.default_configuration()
        profile = deployment_option or (default.id if default else None)
        entries = _manifest_entries(package, warnings)
        listed = {entry.filename: entry.algorithm for entry in entries}
        files, ranges_by_id = _file_infos(package, envelope, listed, warnings)
        files += _manifest_only_files(package, entries, files, warnings)
        systems = [system_info(envelope, system, profile, warnings) for system in envelope.virtual_systems]
        warnings += unattached_disk_notes(envelope)
        shown = {disk_id for system in systems for disk_id in system.disks}
        return PackageInfo(
            path=path,
            kind=package.kind,
            descriptor=package.descriptor_name,
            manifest=package.manifest_name,
            manifest_algorithms=sorted(set(listed.values())),
            certificate=_certificate(package, check=False),
            ovf_version=envelope.version,
            profiles=[ProfileInfo(o.id, o.label, o.description, o.default) for o in envelope.deployment_options],
            networks=[{"name": n.name, "description": n.description} for n in envelope.networks],
            systems=systems,
            disks=_disk_infos(envelope, ranges_by_id, shown, warnings),
            files=files,
            ganeti=envelope.ganeti,
            ignored_sections=list(envelope.ignored_sections),
            warnings=warnings,
            producer=envelope.producer,
        )


def _schema_check(package: Package, schema_dir: str) -> tuple[str, list[str]]:
    """Validate the descriptor: DSP8023 plus the Ganeti schema for OVF 1.x,
    the DSP0243 2.x structure for 2.x."""
    head = package.descriptor[:4096]
    if OVF_NS_2.encode() in head:
        violations = check_ovf2_structure(package.descriptor, package.descriptor_name)
        return "the OVF 2.x structure of DSP0243 (no DMTF 2.x schema at hand)", [str(v) for v in violations]
    if OVF_NS_0_9.encode() in head:
        return "nothing: there is no schema for OVF 0.9", ["OVF 0.9 descriptors cannot be validated"]
    violations = validate_descriptor(package.descriptor, schema_dir, package.descriptor_name)
    return f"{os.path.basename(find_ovf_schema(schema_dir))} and ganeti.xsd", [str(v) for v in violations]


@os_errors_as_ours
def verify_package(
    path: str,
    progress: ProgressCallback | None = None,
    schema_dir: str | None = None,
    allow_hardlinks: bool = False,
    trust_store: str | None = None,
) -> VerifyReport:
    """Verify the package at ``path`` against its manifest and certificate,
    and, when ``schema_dir`` is given, its descriptor against the DMTF
    schema found there (see :mod:`ovfconverter.formats.schema`).  Files of
    a folder package with several hard links are not hashed (they count as
    missing) unless ``allow_hardlinks``: a digest of a file elsewhere is an
    oracle on its content.

    :param trust_store: a PEM bundle of trusted certificates: the package
        must then be signed, and its signer chain to one of them
        (:func:`~ovfconverter.formats.certificate.verify_chain`).
    :returns: a verdict per file; ``ok`` as :class:`VerifyReport` says.
    :raises PackageError: the package cannot be opened or read.
    :raises OptionError: ``schema_dir`` holds no usable schema, or
        ``trust_store`` no certificate.
    """
    trusted = read_trust_store(trust_store) if trust_store is not None else None
    with open_package(path, progress=progress, allow_hardlinks=allow_hardlinks) as package:
        problems: list[str] = []
        warnings = [f"{os.path.basename(path)}: {w}" for w in package.warnings]
        for warning in warnings:
            log.warning("%s", warning)
        schema: str | None = None
        schema_violations: list[str] = []
        if schema_dir is not None:
            schema, schema_violations = _schema_check(package, schema_dir)
        referenced: list[str] = []
        try:
            envelope = read_envelope(package.descriptor, package.descriptor_name, strict=False)
            for ref in envelope.files:
                ranges = _ranges(package, ref)
                referenced.extend(part.name for part in ranges) if ranges else referenced.append(ref.href)
        except OVFConverterError as exc:
            problems.append(f"the descriptor cannot be read: {exc}")
        certificate = _certificate(package, check=True, trusted=trusted)
        if trusted is not None and certificate is None:
            problems.append("the package is not signed (no .cert file), so it cannot be trusted")
        if package.manifest is None or package.manifest_name is None:
            problems.insert(0, "the package has no manifest")
            return VerifyReport(path, None, [], certificate, False, problems, schema, schema_violations, warnings)
        entries = parse_manifest(package.manifest, package.manifest_name)
        checks = verify_manifest(package, entries, referenced, progress)
        verdicts = [FileVerdict(c.name, c.status, c.algorithm, c.expected, c.actual) for c in checks]
        if certificate is not None and not certificate.signature_valid:
            problems.append(
                f"{certificate.file}: " + (certificate.problem or "the signature of the manifest does not verify")
            )
        elif certificate is not None and certificate.trusted is False:
            problems.append(f"{certificate.file}: {certificate.problem or 'the signer is not trusted'}")
        ok = not problems and not schema_violations and all(v.status == FileStatus.OK for v in verdicts)
        return VerifyReport(
            path, package.manifest_name, verdicts, certificate, ok, problems, schema, schema_violations, warnings
        )
