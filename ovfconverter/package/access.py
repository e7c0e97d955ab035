"""Opening an OVF package, a folder or an OVA, and reaching its files in
place.

* A folder package is named by its ``.ovf`` descriptor (or by a folder that
  holds exactly one); its manifest and certificate are the ``.mf`` and
  ``.cert`` beside it with the same stem.  hrefs resolve inside that folder
  only (:mod:`ovfconverter.package.paths`).
* An OVA is a tar archive read in place through its member table
  (:mod:`ovfconverter.package.tar`): the descriptor is the first ``.ovf``
  member, files are byte ranges of the archive.  A gzip-compressed OVA does
  not conform to DSP0243 but is common (Ganeti's own test data has one); it
  is decompressed into a private temporary folder, bounded by what its
  descriptor declares and by the free space
  (:mod:`ovfconverter.package.gzip_ova`), and read from there, with a
  warning.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from types import TracebackType

from ovfconverter.errors import MissingFileError, PackageError, UnsafeInputError
from ovfconverter.formats.manifest import MAX_MANIFEST_SIZE
from ovfconverter.formats.safexml import MAX_DESCRIPTOR_SIZE
from ovfconverter.io.ranges import ByteRange, read_range
from ovfconverter.model.envelope import FileReference
from ovfconverter.package.gzip_ova import gunzip_ova
from ovfconverter.package.paths import check_href, check_links, resolve_in_folder
from ovfconverter.package.space import SpaceBudget
from ovfconverter.package.tar import TarMember, read_member_table
from ovfconverter.progress import ProgressCallback

MAX_CERTIFICATE_SIZE = 1 << 20
"""Largest certificate file accepted, in bytes."""
MAX_CHUNKS = 100000
"""Most chunk files one File may be split into."""
GZIP_MAGIC = b"\x1f\x8b"


class Package:
    """An opened OVF package.  Use :func:`open_package` to get one, and
    close it (or use it as a context manager) to remove any temporary copy.

    :ivar kind: ``"folder"`` or ``"ova"``.
    :ivar path: the path given to :func:`open_package`.
    :ivar descriptor_name: the descriptor's name as the manifest lists it.
    :ivar descriptor: the descriptor's bytes.
    :ivar manifest_name: the manifest's name, or ``None`` without one.
    :ivar manifest: the manifest's bytes, or ``None``.
    :ivar certificate_name: the certificate's name, or ``None``.
    :ivar certificate: the certificate's bytes, or ``None``.
    :ivar warnings: non-conformities noticed while opening.
    """

    kind = "folder"

    def __init__(self, path: str) -> None:
        self.path = path
        self.descriptor_name = ""
        self.descriptor = b""
        self.manifest_name: str | None = None
        self.manifest: bytes | None = None
        self.certificate_name: str | None = None
        self.certificate: bytes | None = None
        self.warnings: list[str] = []
        self._tempdir: str | None = None

    def locate(self, href: str) -> ByteRange:
        """Return where the bytes of ``href`` are.

        :raises UnsafeInputError: ``href`` is unsafe.
        :raises PackageError: no such file in the package.
        """
        raise NotImplementedError

    def exists(self, href: str) -> bool:
        """True when ``href`` names a file of the package (unsafe names are
        never said to exist)."""
        try:
            self.locate(href)
        except (PackageError, UnsafeInputError):
            return False
        return True

    def file_ranges(self, ref: FileReference) -> list[ByteRange]:
        """Return the byte ranges that make up ``ref``: one range, or for a
        chunked File (``ovf:chunkSize``) every ``href.000000000``,
        ``href.000000001``... in order (DSP0243 section 5.4).

        :raises PackageError: the file or a chunk is missing, or the chunk
            sizes disagree with ``ovf:chunkSize``/``ovf:size``.
        :raises UnsafeInputError: the href is unsafe.
        """
        if ref.chunk_size is None:
            return [self.locate(ref.href)]
        ranges = []
        for index in range(MAX_CHUNKS):
            try:
                ranges.append(self.locate(f"{ref.href}.{index:09d}"))
            except MissingFileError:
                break  # the first missing chunk ends the file
        if not ranges:
            raise MissingFileError(
                f"chunked file {ref.href!r}: its first chunk {ref.href}.000000000 is missing", self.path
            )
        for part in ranges[:-1]:
            if part.size != ref.chunk_size:
                raise PackageError(
                    f"chunk {part.name!r} is {part.size} bytes, not the ovf:chunkSize of {ref.chunk_size}",
                    self.path,
                )
        total = sum(part.size for part in ranges)
        if ref.size is not None and total != ref.size:
            raise PackageError(
                f"chunked file {ref.href!r} is {total} bytes in {len(ranges)} chunks, not the ovf:size of {ref.size}",
                self.path,
            )
        return ranges

    def close(self) -> None:
        """Remove the temporary copy of a gzip-compressed OVA, if any."""
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> Package:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FolderPackage(Package):
    """A descriptor with its files in the same folder; every file of it
    (the descriptor too) must have one hard link only unless
    ``allow_hardlinks`` (see :func:`~ovfconverter.package.paths.check_links`)."""

    kind = "folder"

    def __init__(self, descriptor_path: str, allow_hardlinks: bool = False) -> None:
        super().__init__(descriptor_path)
        self.allow_hardlinks = allow_hardlinks
        self.folder = os.path.dirname(os.path.abspath(descriptor_path))
        self.descriptor_name = os.path.basename(descriptor_path)
        try:
            info = os.stat(descriptor_path)
        except OSError as exc:
            raise PackageError(f"cannot read the descriptor: {exc.strerror}", descriptor_path) from None
        check_links(info, "the descriptor", self.descriptor_name, allow_hardlinks)
        size = info.st_size
        self.descriptor = read_range(
            ByteRange(os.path.realpath(descriptor_path), 0, size, self.descriptor_name), MAX_DESCRIPTOR_SIZE
        )
        stem = os.path.splitext(self.descriptor_name)[0]
        for suffix, limit, attr in (
            (".mf", MAX_MANIFEST_SIZE, "manifest"),
            (".cert", MAX_CERTIFICATE_SIZE, "certificate"),
        ):
            name = stem + suffix
            if os.path.lexists(os.path.join(self.folder, name)):
                setattr(self, attr + "_name", name)
                setattr(self, attr, read_range(self.locate(name), limit))

    def locate(self, href: str) -> ByteRange:
        real = resolve_in_folder(self.folder, href, self.descriptor_name, self.allow_hardlinks)
        return ByteRange(real, 0, os.path.getsize(real), check_href(href, self.descriptor_name))


class OvaPackage(Package):
    """A tar archive holding the descriptor and its files."""

    kind = "ova"

    def __init__(self, path: str, workdir: str | None, progress: ProgressCallback | None) -> None:
        super().__init__(path)
        self.archive = os.path.realpath(path)
        self.members: list[TarMember] = []
        self._by_name: dict[str, TarMember] = {}
        self.base = ""
        try:
            self._open(workdir, progress)
        except BaseException:
            self.close()
            raise

    def _open(self, workdir: str | None, progress: ProgressCallback | None) -> None:
        path = self.path
        try:
            with open(self.archive, "rb") as stream:
                magic = stream.read(2)
        except OSError as exc:
            raise PackageError(f"cannot read: {exc.strerror}", path) from None
        if magic == GZIP_MAGIC:
            self.warnings.append(
                "the OVA is gzip-compressed, which DSP0243 does not allow; decompressing it to a temporary file"
            )
            self._tempdir = tempfile.mkdtemp(prefix=".ovfconverter-ova-", dir=workdir)
            target = os.path.join(self._tempdir, "package.tar")
            gunzip_ova(
                ByteRange(self.archive, 0, os.path.getsize(self.archive), os.path.basename(path)),
                target,
                SpaceBudget(self._tempdir).left,
                {".mf": MAX_MANIFEST_SIZE, ".cert": MAX_CERTIFICATE_SIZE},
                progress,
            )
            self.archive = target
        archive_size = os.path.getsize(self.archive)
        with open(self.archive, "rb") as stream:
            try:
                self.members = read_member_table(stream, archive_size, os.path.basename(path))
            except PackageError as exc:
                if exc.message.startswith("not a tar archive"):
                    raise PackageError("is not an OVA: not a tar archive", path) from None
                raise
        self._by_name = {member.name: member for member in self.members}
        descriptors = [m for m in self.members if m.name.lower().endswith(".ovf")]
        if not descriptors:
            raise PackageError("the OVA holds no .ovf descriptor", path)
        first = descriptors[0]
        if self.members[0] is not first:
            self.warnings.append(f"the descriptor {first.name!r} is not the first member of the OVA (DSP0243 5.3)")
        if len(descriptors) > 1:
            self.warnings.append(f"the OVA holds {len(descriptors)} descriptors; using the first, {first.name!r}")
        self.base = posixpath.dirname(first.name)
        self.descriptor_name = posixpath.basename(first.name)
        self.descriptor = read_range(self._range(first), MAX_DESCRIPTOR_SIZE)
        stem = posixpath.splitext(self.descriptor_name)[0]
        for suffix, limit, attr in (
            (".mf", MAX_MANIFEST_SIZE, "manifest"),
            (".cert", MAX_CERTIFICATE_SIZE, "certificate"),
        ):
            member = self._by_name.get(posixpath.join(self.base, stem + suffix))
            if member is not None:
                setattr(self, attr + "_name", stem + suffix)
                setattr(self, attr, read_range(self._range(member), limit))

    def _range(self, member: TarMember) -> ByteRange:
        return ByteRange(self.archive, member.offset, member.size, member.name)

    def locate(self, href: str) -> ByteRange:
        name = check_href(href, self.descriptor_name)
        member = self._by_name.get(posixpath.join(self.base, name) if self.base else name)
        if member is None:
            raise MissingFileError(f"file {href!r} named in References is not in the OVA", self.path)
        return ByteRange(self.archive, member.offset, member.size, name)


def open_package(
    path: str, workdir: str | None = None, progress: ProgressCallback | None = None, allow_hardlinks: bool = False
) -> Package:
    """Open the OVF package at ``path``.

    :param path: an ``.ovf`` descriptor (folder package), an ``.ova``
        archive, or a folder holding exactly one ``.ovf``.
    :param workdir: where a gzip-compressed OVA is decompressed (default:
        the system's temporary folder).
    :param progress: receives ``decompress`` events for a gzip OVA.
    :param allow_hardlinks: accept files of a folder package that have
        several hard links (refused by default: one may be a link to a
        secret elsewhere on the file system).
    :returns: the package; close it when done.
    :raises PackageError: missing, unreadable, of an unknown kind (by
        extension), not a tar archive, no descriptor inside.
    :raises UnsafeInputError: a hostile archive (see
        :func:`~ovfconverter.package.tar.read_member_table`), a file with
        several hard links.
    """
    if os.path.isdir(path):
        found = sorted(name for name in os.listdir(path) if name.lower().endswith(".ovf"))
        if len(found) != 1:
            raise PackageError(f"the folder holds {len(found)} .ovf descriptors; name the one to use", path)
        path = os.path.join(path, found[0])
    if not os.path.exists(path):
        raise PackageError("no such file", path)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".ovf":
        return FolderPackage(path, allow_hardlinks)
    if extension == ".ova":
        return OvaPackage(path, workdir, progress)
    raise PackageError(
        f"unknown package type {extension or '(no extension)'!r}: expected an .ovf descriptor or an .ova archive",
        path,
    )
