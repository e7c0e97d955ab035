"""The OVF and OVA targets: an OVF package folder ``NAME/`` or one
``NAME.ova``, for VMware, VirtualBox, Ganeti and other OVF consumers.

Plan: the file names of the package (descriptor, manifest, disks) and how
the machine is described (:class:`~ovfconverter.hub.ovf_envelope.EnvelopeLayout`).
Write: each disk's raw image (the source's own, converted to raw first, or
created empty) produced in the output format, hashed and, for an OVA,
packed in one pass (:mod:`ovfconverter.disks.from_raw`), several disks at
once; then the descriptor
(:func:`~ovfconverter.hub.ovf_envelope.envelope_from_machine`) and the manifest,
through one :class:`~ovfconverter.package.writer.PackageWriter` (a folder
or an OVA); the result is moved into place when complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from ovfconverter.diagnostics import Code
from ovfconverter.disks.from_raw import check_written, checked_after_writing, produce_image, space_needed
from ovfconverter.disks.output_formats import TargetFormat, target_format
from ovfconverter.disks.to_raw import create_blank
from ovfconverter.errors import OptionError, UsageError
from ovfconverter.formats.manifest import Digest, ManifestEntry, format_manifest
from ovfconverter.formats.ovf_writer import OvfVersion, write_envelope
from ovfconverter.hub.ovf_envelope import DiskFile, EnvelopeLayout, envelope_from_machine
from ovfconverter.hub.provenance import Decision
from ovfconverter.hub.publishing import SEED_KEY
from ovfconverter.io.deflate import DEFAULT_LEVEL
from ovfconverter.io.ranges import ByteRange
from ovfconverter.io.sink import Sink
from ovfconverter.io.writeback import write_behind
from ovfconverter.model.envelope import Envelope
from ovfconverter.model.ganeti import validate_instance_name
from ovfconverter.model.machine import Disk, Machine, Needs
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.writer import FolderWriter, OvaPackageWriter
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.seed import SeedFiles, read_seed_files
from ovfconverter.pipelines.source import ImageBytes, Source
from ovfconverter.pipelines.target import Target
from ovfconverter.progress import Meter
from ovfconverter.targets.decisions import ovf_decisions
from ovfconverter.targets.ganeti_node import export_dir, is_below
from ovfconverter.targets.images import convert_checked
from ovfconverter.targets.ovf_profile import option_problems, publish
from ovfconverter.timing import stage

if TYPE_CHECKING:  # cryptography is imported only when a package is signed (40 ms of start-up otherwise)
    from ovfconverter.formats.certificate import SigningKey

log = logging.getLogger("ovfconverter")

MAX_MEMBER_NAME = 100
"""Longest file name in a package, in bytes (a tar header's limit)."""

DIGESTS = Digest.values()
OVF_VERSIONS = OvfVersion.values()


@dataclass
class ExportOptions:
    """Options of the OVF and OVA targets, and so of
    :func:`ovfconverter.export_instance`.

    :ivar format: disk format: ``vmdk`` (default), ``raw``, ``qcow2`` (or
        Ganeti's name for it, ``cow``), ``vdi``, ``vhd``, ``vhdx``.
    :ivar vmdk_subformat: ``streamOptimized`` (default: what VMware and
        VirtualBox import from an OVA) or ``monolithicSparse``.
    :ivar compress: gzip each disk file and mark it ``ovf:compression="gzip"``.
    :ivar compression_level: deflate level 1-9 of VMDK grains and of
        ``compress`` (default ``None``: 1).  1-3 are ISA-L's levels (1:
        several times qemu-img's speed, an OVA about 5 % larger than its
        VMDK; 3: about 3 % larger); 4-9 are zlib's (zlib-ng's when the
        ``zlib-ng`` extra is installed): within 1 % of qemu-img's size at a
        quarter of level 1's speed or less (:mod:`ovfconverter.io.deflate`).
    :ivar threads: compression threads per disk (default ``None``: the
        number of CPUs).
    :ivar ova: write one ``.ova`` file instead of a folder.
    :ivar external: leave the Ganeti section out (for other hypervisors);
        the instance's hypervisor and OS are then not required.
    :ivar name: the virtual system's name (default: the instance name).
    :ivar output_dir: where the result goes (default: the current folder;
        not config.ini's, which is Ganeti's export folder, whose contents
        ``gnt-backup remove`` deletes).
    :ivar force: replace an existing result.
    :ivar digest: manifest algorithm: ``sha256`` (default), ``sha1`` (older
        VMware products), ``sha512``.
    :ivar ovf_version: ``1.0`` (default; VMware's desktop products refuse
        2.0) or ``2.0``.
    :ivar virtual_system_type: ``vssd:VirtualSystemType`` words (default
        ``None``: the profile's, ``vmx-14`` for VMware and ``generic``,
        ``virtualbox-2.2`` for VirtualBox).
    :ivar allow_hardlinks: ``--allow-hardlinks``: accept a ``config.ini``
        or disk dump with several hard links (refused by default: such a
        file may be a link to a secret elsewhere on the same file system).
    :ivar product: ``--for``: ``virtualbox``, ``vmware`` or ``generic``
        (both), whose rules (``doc/publishing.rst``) then refuse options
        the product does not import; ``None``: the ``generic`` rules, whose
        objections are warnings only.
    :ivar cloud_init: ``--cloud-init USER_DATA[,META_DATA[,NETWORK_CONFIG]]``:
        file paths of a cloud-init NoCloud seed to attach
        (:mod:`ovfconverter.pipelines.seed`).
    :ivar sign_key: ``--sign``: a PEM private key (with its certificate in
        the same file, or in ``certificate``): the package gets a ``.cert``
        signing its manifest, right after the manifest.
    :ivar certificate: ``--certificate``: the signer's PEM certificate and
        any intermediates.
    """

    format: str = "vmdk"
    vmdk_subformat: str = "streamOptimized"
    compress: bool = False
    compression_level: int | None = None
    threads: int | None = None
    ova: bool = False
    external: bool = False
    name: str | None = None
    output_dir: str | None = None
    force: bool = False
    digest: str = "sha256"
    ovf_version: str = "1.0"
    virtual_system_type: str | None = None
    allow_hardlinks: bool = False
    product: str | None = None
    cloud_init: str | None = None
    sign_key: str | None = None
    certificate: str | None = None


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
    """What an export (a conversion to OVF or OVA) produced.

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


_SAFE_SYSTEM_TYPE = re.compile(r"^[A-Za-z0-9_.+-]+( [A-Za-z0-9_.+-]+)*$")


def check_options(options: ExportOptions) -> None:
    """Refuse option values that cannot be honoured.

    :raises UsageError: an unknown digest or OVF version, a compression
        level or thread count out of range (the valid ones are said).
    :raises OptionError: a bad VirtualSystemType or name.
    """
    if options.digest not in DIGESTS:
        raise UsageError(f"digest {options.digest!r} is not one of {', '.join(DIGESTS)}")
    if options.ovf_version not in OVF_VERSIONS:
        raise UsageError(f"OVF version {options.ovf_version!r} is not one of {', '.join(OVF_VERSIONS)}")
    if options.virtual_system_type is not None and not _SAFE_SYSTEM_TYPE.match(options.virtual_system_type):
        raise OptionError(f"VirtualSystemType {options.virtual_system_type!r} is not a list of words (vmx-07)")
    if options.compression_level is not None and not 1 <= options.compression_level <= 9:
        raise UsageError(f"compression level {options.compression_level} is not between 1 and 9")
    if options.threads is not None and not 1 <= options.threads <= 64:
        raise UsageError(f"thread count {options.threads} is not between 1 and 64")
    if options.name is not None:
        validate_instance_name(options.name, Parameter("name"))


def member_names(name: str, count: int, extension: str, compressed: bool) -> tuple[str, str, list[str]]:
    """File names of the package: descriptor, manifest and disks, each at
    most 100 bytes (a tar header's limit): ``NAME.ovf``, ``NAME.mf``,
    ``NAME-diskN.EXT[.gz]``, shortened when the name is too long."""
    suffix = ".gz" if compressed else ""
    stem = (
        name
        if len(name.encode()) <= MAX_MEMBER_NAME - 5  # NAME.cert
        else name.encode()[: MAX_MEMBER_NAME - 5].decode(errors="ignore")
    )
    disks = [f"{name}-disk{i}.{extension}{suffix}" for i in range(count)]
    if any(len(d.encode()) > MAX_MEMBER_NAME for d in disks):
        disks = [f"disk{i}.{extension}{suffix}" for i in range(count)]
    return f"{stem}.ovf", f"{stem}.mf", disks


@dataclass
class PackagePlan:
    """Everything an OVF package will hold, but the disks' sizes and
    digests.

    :ivar hrefs: the disk files' names, in disk order.
    :ivar seed: the cloud-init seed volume and its file name, when it is a
        CD-ROM's image (a seed on a hard disk is one of the disks).
    :ivar certificate_name: the ``.cert`` file's name when signing.
    :ivar decisions: the descriptor's elements and the package's files with
        their values and where they come from (for ``--dry-run``).
    """

    machine: Machine
    name: str
    descriptor_name: str
    manifest_name: str
    hrefs: list[str]
    format: TargetFormat
    layout: EnvelopeLayout
    warnings: list[str] = field(default_factory=list)
    seed: tuple[str, bytes] | None = None
    seed_disk: bytes | None = None
    certificate_name: str | None = None

    @property
    def files(self) -> list[str]:
        """Every file written before the descriptor: disks, then the seed."""
        return [*self.hrefs, *([self.seed[0]] if self.seed else [])]

    decisions: list[Decision] = field(default_factory=list)


_PLACEHOLDER = 10**19 + 1  # a 20-digit size, not a multiple of a MiB: the longest attribute values


class OvfTarget(Target[ExportOptions, PackagePlan, ExportResult]):
    """An OVF package folder (an OVA when ``options.ova``); options:
    :class:`~ovfconverter.ExportOptions`."""

    name = "ovf"
    label = "ovfconverter-export"

    @classmethod
    def default_options(cls) -> ExportOptions:
        return ExportOptions()

    @property
    def threads(self) -> int | None:
        return self.options.threads

    def __init__(self, options: ExportOptions) -> None:
        super().__init__(options)
        self._seed_files: SeedFiles | None = None
        self._signing: SigningKey | None = None
        self._notes: list[str] = []
        self._signer_note: str | None = None

    def check(self) -> None:
        """Refuse bad options, those the ``--for`` product does not import,
        an unreadable or invalid seed, an unusable signing key.

        :raises OptionError: every profile problem in one message, or the
            first other problem.
        """
        options = self.options
        check_options(options)
        target_format(options.format, options.vmdk_subformat)
        choices = {
            "format": "qcow2" if options.format == "cow" else options.format,
            "vmdk_subformat": options.vmdk_subformat,
            "ovf_version": options.ovf_version,
            "digest": options.digest,
        }
        refused, self._notes = option_problems(options.product, choices)
        if refused:
            raise OptionError((Parameter("product"), f" {options.product}: " + "; ".join(refused)))
        if options.cloud_init is not None:
            self._seed_files = read_seed_files(options.cloud_init)
        if options.certificate is not None and options.sign_key is None:
            raise OptionError((Parameter("certificate"), " goes with ", Parameter("sign_key"), " KEY.pem"))
        if options.sign_key is not None:
            self._signing = _signing_key(options.sign_key, options.certificate)
            if not self._signing.current():
                self._signer_note = f"the signer certificate {self._signing.subject} is expired or not yet valid"

    def needs(self) -> Needs:
        return Needs(name=self.options.name is None, cpus=True, memory=True, ganeti_identity=not self.options.external)

    def output_dir(self, source_path: str) -> str:
        return os.path.abspath(self.options.output_dir or os.getcwd())

    def plan(self, machine: Machine) -> PackagePlan:
        options = self.options
        name = options.name or machine.name
        if not name:
            raise OptionError(("the virtual system has no name: give one with ", Parameter("name")))
        output = target_format(options.format, options.vmdk_subformat)
        warnings = [f"{drive.label} (removable drive) is not written" for drive in machine.removable]
        published = publish(
            replace(machine, removable=()), options.product, name, options.virtual_system_type, self._seed_files
        )
        machine = published.machine
        descriptor_name, manifest_name, hrefs = member_names(
            name, len(machine.disks), output.extension, options.compress
        )
        layout = EnvelopeLayout(
            version=options.ovf_version,
            system_types=published.system_types,
            format_uri=output.uri,
            compressed=options.compress,
            ganeti_section=not options.external,
            name=options.name,
            iso_as_disk=published.iso_as_disk,
            vmware_config=published.vmware_config,
            environment=published.environment,
        )
        seed = None
        if published.seed is not None and published.seed_href is not None:
            href = published.seed_href if len(published.seed_href.encode()) <= MAX_MEMBER_NAME else "cidata.iso"
            seed = (href, published.seed) if published.seed_on_cdrom else None
        if options.product is not None or options.cloud_init is not None:
            warnings += [*self._notes, *published.warnings]
        else:  # the default (generic) rules: what they changed is told with --verbose
            for note in [*self._notes, *published.warnings]:
                log.info("%s", note)
        if self._signer_note:
            warnings.append(self._signer_note)
        plan = PackagePlan(
            machine,
            name,
            descriptor_name,
            manifest_name,
            hrefs,
            output,
            layout,
            warnings,
            seed=seed,
            seed_disk=None if published.seed_on_cdrom else published.seed,
            certificate_name=descriptor_name[: -len(".ovf")] + ".cert" if self._signing else None,
        )
        plan.decisions = ovf_decisions(plan, options)
        return plan

    def destination(self, plan: PackagePlan, output_dir: str) -> str:
        return os.path.join(output_dir, f"{plan.name}.ova" if self.options.ova else plan.name)

    def write(self, plan: PackagePlan, source: Source, run: Run) -> ExportResult:
        """Write the package (see the module docstring).

        :raises OutputExistsError: it exists and ``force`` is not set.
        """
        options = self.options
        final = os.path.join(run.output_dir, f"{plan.name}.ova" if options.ova else plan.name)
        settings = plan.machine.ganeti
        if settings is not None and not settings.hypervisor and not options.external:
            run.warn(
                "config.ini names no hypervisor ([instance] hypervisor): the Ganeti section names none, "
                "so an import into Ganeti takes the target cluster's default hypervisor",
                code=Code.PLAN,
            )
        if is_below(export_dir(), final):
            run.warn(
                (
                    f"{final} is inside Ganeti's export folder {export_dir()}: gnt-backup remove, or the next "
                    "gnt-backup export of the instance, deletes it with the export (give ",
                    Parameter("output_dir"),
                    " elsewhere)",
                ),
                code=Code.PLACE,
            )
        staging = run.staging
        staging.check_target(final, options.force)
        with stage("raw images"):
            dumps = _raw_images(plan.machine, source, run, plan.seed_disk)
        populated = [min(os.stat(d.path).st_blocks * 512, d.size) if d.offset == 0 else None for d in dumps]
        space = SpaceBudget(staging.work)
        for dump, allocated in zip(dumps, populated, strict=True):
            need = space_needed(plan.format, options.compress, dump.size if allocated is None else allocated)
            space.claim(need, f"writing it as {plan.format.name}", dump.name)
        layout = (OvaPackageWriter if options.ova else FolderWriter)(staging.result, staging.work, run.threads)
        signing, cert_name = self._signing, plan.certificate_name
        if signing is not None:
            from ovfconverter.formats.certificate import signature_file, signature_file_room
        with layout as writer:
            cert_room = signature_file_room(plan.manifest_name, signing, options.digest) if signing else 0
            manifest_room = len(self._manifest(plan, b"", _placeholders(plan, options)))
            writer.reserve(self._descriptor_room(plan), manifest_room, cert_room)
            produced = writer.write_files(
                plan.files, lambda stream, path, i: self._one(stream, path, i, dumps, plan, run)
            )
            disks, drives = produced[: len(plan.hrefs)], produced[len(plan.hrefs) :]
            files = [DiskFile(p.href, p.size, p.virtual_size, pop) for p, pop in zip(disks, populated, strict=True)]
            envelope = envelope_from_machine(plan.machine, plan.layout, files, _drive_files(plan, drives))
            descriptor = writer.fit_descriptor(write_envelope(envelope))
            manifest = self._manifest(plan, descriptor, produced)
            certificate = None
            if signing is not None and cert_name is not None:
                cert = writer.fit_certificate(signature_file(plan.manifest_name, manifest, signing, options.digest))
                certificate = (cert_name, cert)
            with stage("finish package (descriptor, manifest, fsync)"):
                writer.finish((plan.descriptor_name, descriptor), (plan.manifest_name, manifest), certificate)
        exported = [
            ExportedFile(plan.descriptor_name, len(descriptor), hashlib.new(options.digest, descriptor).hexdigest()),
            ExportedFile(plan.manifest_name, len(manifest), hashlib.new(options.digest, manifest).hexdigest()),
            *(
                [
                    ExportedFile(
                        certificate[0], len(certificate[1]), hashlib.new(options.digest, certificate[1]).hexdigest()
                    )
                ]
                if certificate
                else []
            ),
            *(ExportedFile(p.href, p.size, p.digest) for p in produced),
        ]
        with stage("commit"):
            staging.commit(final, options.force)
        log.info("wrote %s", final)
        return ExportResult(
            path=final, descriptor=plan.descriptor_name, envelope=envelope, files=exported, warnings=run.warnings
        )

    def _descriptor_room(self, plan: PackagePlan) -> int:
        """Bytes to keep for the descriptor before the disks' sizes are
        known: its length with the longest possible numbers, plus room for
        capacity units."""
        placeholders = [DiskFile(href, _PLACEHOLDER, _PLACEHOLDER, _PLACEHOLDER) for href in plan.hrefs]
        drives = [ProducedDisk(plan.seed[0], _PLACEHOLDER, "", _PLACEHOLDER)] if plan.seed else []
        envelope = envelope_from_machine(plan.machine, plan.layout, placeholders, _drive_files(plan, drives))
        return len(write_envelope(envelope)) + 64 * len(plan.files) + 64

    def _manifest(self, plan: PackagePlan, descriptor: bytes, produced: list[ProducedDisk]) -> bytes:
        digest = self.options.digest
        entries = [ManifestEntry(digest, plan.descriptor_name, hashlib.new(digest, descriptor).hexdigest())]
        entries += [ManifestEntry(digest, p.href, p.digest) for p in produced]
        return format_manifest(entries)

    def _one(
        self, stream: BinaryIO, location: str, index: int, dumps: list[ByteRange], plan: PackagePlan, run: Run
    ) -> ProducedDisk:
        """File ``index`` of :attr:`PackagePlan.files`: a disk image, or the
        seed volume copied as it is."""
        if index < len(plan.hrefs):
            return self._produce(stream, location, dumps[index], plan.hrefs[index], plan, run)
        assert plan.seed is not None
        href, data = plan.seed
        sink = Sink(stream, self.options.digest, None, None)
        try:
            sink.write(data)
            size, digest = sink.finish()
        except BaseException:
            sink.close()
            raise
        return ProducedDisk(href, size, digest, len(data))

    def _produce(
        self, stream: BinaryIO, location: str, dump: ByteRange, href: str, plan: PackagePlan, run: Run
    ) -> ProducedDisk:
        """Write one disk image at the current position of ``stream`` (a
        file of its own, or an OVA member, in the file ``location``),
        hashing it in the same pass, then check it."""
        options, output = self.options, plan.format
        level = options.compression_level if options.compression_level is not None else DEFAULT_LEVEL
        start = stream.tell()
        meter = Meter(run.progress, "convert", href, dump.size) if output.qemu_format == "raw" else None
        sink = Sink(stream, options.digest, level if options.compress else None, meter)
        try:
            image_name = href[: -len(".gz")] if options.compress else href
            # location is the package's own file (a folder's file or the OVA): durable as it grows
            with stage("produce", href), write_behind(location):
                virtual = produce_image(
                    dump,
                    output,
                    sink,
                    image_name,
                    run.work,
                    level=level,
                    threads=run.threads,
                    progress=run.progress,
                    location=location,
                )
                size, digest = sink.finish()
        except BaseException:
            sink.close()
            raise
        if not options.compress and checked_after_writing(output):
            stream.flush()
            with stage("check", href):
                check_written(ByteRange(os.path.abspath(location), start, size, href), output, virtual)
        return ProducedDisk(href, size, digest, virtual)


class OvaTarget(OvfTarget):
    """One ``NAME.ova`` (the OVF target with ``ova`` set)."""

    name = "ova"

    def __init__(self, options: ExportOptions) -> None:
        super().__init__(replace(options, ova=True))


def _placeholders(plan: PackagePlan, options: ExportOptions) -> list[ProducedDisk]:
    digest_length = len(hashlib.new(options.digest).hexdigest())
    return [ProducedDisk(href, 0, "0" * digest_length, 0) for href in plan.files]


def _drive_files(plan: PackagePlan, drives: list[ProducedDisk]) -> list[DiskFile | None]:
    """The image written for each removable drive (the seed's CD-ROM, the
    last one), ``None`` for the others."""
    result: list[DiskFile | None] = [None] * len(plan.machine.removable)
    if drives and result:
        result[-1] = DiskFile(drives[0].href, drives[0].size, drives[0].virtual_size)
    return result


def _signing_key(key_path: str, cert_path: str | None) -> SigningKey:
    """The ``--sign`` key and its certificate(s), read (at most 1 MiB each).

    :raises OptionError: unreadable, or as
        :func:`~ovfconverter.formats.certificate.load_signing_key`.
    """
    from ovfconverter.formats.certificate import load_signing_key

    data = {}
    for path in (key_path, cert_path):
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:
                data[path] = handle.read(1 << 20)
        except OSError as exc:
            raise OptionError(f"cannot read it: {exc.strerror or exc}", path) from None
    return load_signing_key(data[key_path], key_path, data[cert_path] if cert_path else None, cert_path)


def _raw_images(machine: Machine, source: Source, run: Run, seed: bytes | None = None) -> list[ByteRange]:
    """Each disk as a raw image: the source's own when it has one (a
    Ganeti dump), else its image converted to raw, or an empty one, in the
    work folder; the cloud-init seed's disk is its volume."""
    with_images = [disk for disk in machine.disks if disk.image is not None and disk.image.key != SEED_KEY]
    fetched = iter(source.images(with_images, run))
    result = []
    for index, disk in enumerate(machine.disks):
        if disk.image is not None and disk.image.key == SEED_KEY and seed is not None:
            path = os.path.join(run.work, "seed.iso")
            with open(path, "xb") as out:
                out.write(seed)
            result.append(ByteRange(path, 0, len(seed), disk.image.name))
            continue
        if disk.image is None:
            result.append(_blank(disk, index, run))
            continue
        image = next(fetched)
        result.append(image.raw if image.raw is not None else _to_raw(image, index, run))
    return result


def _blank(disk: Disk, index: int, run: Run) -> ByteRange:
    path = os.path.join(run.work, f"blank{index}.raw")
    size = disk.capacity or 0
    create_blank(path, size)
    return ByteRange(path, 0, size, disk.label or f"disk{index}")


def _to_raw(image: ImageBytes, index: int, run: Run) -> ByteRange:
    path = os.path.join(run.work, f"raw{index}.raw")
    converted = convert_checked(image, path, run)
    for message in converted.warnings:
        run.warn(message, code=Code.IMAGE)
    return ByteRange(path, 0, converted.virtual_size, image.image.name)
