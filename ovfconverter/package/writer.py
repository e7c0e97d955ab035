"""Writing an OVF package: one interface, a folder or an OVA behind it.

A :class:`PackageWriter` takes the files of a package in the order they
are known: the disk files first (each produced by a callback into the
stream the writer gives it, several at once where the layout allows),
then the descriptor and the manifest, which name the disks' sizes and
digests.  The caller's code is the same for both layouts:

* :class:`FolderWriter`: every file in the result folder, disks produced in
  parallel into their own files;
* :class:`OvaPackageWriter`: one tar written front to back
  (:class:`~ovfconverter.package.ova_writer.OvaWriter`), with room kept at
  its start for the descriptor and the manifest (DSP0243 wants the
  descriptor first); one disk is produced straight into its member,
  several are produced in parallel into scratch files and packed (holes
  kept, copied in the kernel).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import BinaryIO, Protocol, TypeVar

from ovfconverter.concurrency import run_all
from ovfconverter.errors import DiskImageError
from ovfconverter.io.sparse import data_extents
from ovfconverter.package.ova_writer import OvaWriter
from ovfconverter.package.staging import fsync_path


class Produced(Protocol):
    """What producing a file reports: its stored size in bytes."""

    @property
    def size(self) -> int: ...


P = TypeVar("P", bound=Produced)

Producer = Callable[[BinaryIO, str, int], P]
"""``produce(stream, path, index)``: write file ``index`` at the current
position of ``stream`` (a file of its own or an OVA member, in the file
``path``), sequentially, and report it."""


class PackageWriter(abc.ABC):
    """Writes one package into ``result`` (a path that does not exist yet).

    :param result: the folder or OVA file to create.
    :param work: a private scratch folder on the same file system.
    :param workers: how many files to produce at once.
    """

    def __init__(self, result: str, work: str, workers: int) -> None:
        self.result = result
        self.work = work
        self.workers = workers

    def reserve(self, descriptor_room: int, manifest_room: int, certificate_room: int = 0) -> None:
        """Keep room for the descriptor, the manifest and (when not 0) the
        certificate, in bytes, before any disk (an OVA; a folder needs
        none)."""
        return None  # nothing to do unless a subclass says otherwise

    @abc.abstractmethod
    def write_files(self, names: Sequence[str], produce: Producer[P]) -> list[P]:
        """Produce the files ``names`` (disk files, in package order).

        :returns: what ``produce`` reported for each, in order.
        """

    def fit_descriptor(self, descriptor: bytes) -> bytes:
        """The descriptor as it will be stored (padded to the room kept for
        it in an OVA); the manifest's digest is of these bytes.

        :raises DiskImageError: it outgrew the room kept.
        """
        return descriptor

    def fit_certificate(self, certificate: bytes) -> bytes:
        """The ``.cert`` file as it will be stored: padded with newlines to
        the room kept for it in an OVA (an ECDSA signature's length varies
        by a few bytes).

        :raises DiskImageError: it outgrew the room kept.
        """
        return certificate

    @abc.abstractmethod
    def finish(
        self,
        descriptor: tuple[str, bytes],
        manifest: tuple[str, bytes],
        certificate: tuple[str, bytes] | None = None,
    ) -> None:
        """Write the descriptor, the manifest and the certificate if any
        (``(name, bytes)``, as :meth:`fit_descriptor` and
        :meth:`fit_certificate` gave them) and complete the package on
        stable storage; in an OVA they are its first members, in that
        order (ovftool's order)."""

    def abort(self) -> None:
        """Stop after a failure (the caller removes :attr:`result`)."""
        return None  # nothing to do unless a subclass says otherwise

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()


class FolderWriter(PackageWriter):
    """A folder package: the result folder holds every file."""

    def __init__(self, result: str, work: str, workers: int) -> None:
        super().__init__(result, work, workers)
        os.mkdir(result, 0o755)
        self.paths: list[str] = []

    def write_files(self, names: Sequence[str], produce: Producer[P]) -> list[P]:
        self.paths = [os.path.join(self.result, name) for name in names]

        def one(index: int) -> P:
            with open(self.paths[index], "xb") as stream:
                return produce(stream, self.paths[index], index)

        return run_all(one, range(len(names)), self.workers)

    def finish(
        self,
        descriptor: tuple[str, bytes],
        manifest: tuple[str, bytes],
        certificate: tuple[str, bytes] | None = None,
    ) -> None:
        for name, data in (descriptor, manifest, *([certificate] if certificate else [])):
            path = os.path.join(self.result, name)
            with open(path, "xb") as stream:
                stream.write(data)
            self.paths.append(path)
        for path in self.paths:
            fsync_path(path)
        fsync_path(self.result)


class OvaPackageWriter(PackageWriter):
    """An OVA, written once, front to back."""

    def __init__(self, result: str, work: str, workers: int) -> None:
        super().__init__(result, work, workers)
        self.ova = OvaWriter(result)
        self.room = 0
        self.certificate_room = 0

    def reserve(self, descriptor_room: int, manifest_room: int, certificate_room: int = 0) -> None:
        self.room = descriptor_room
        self.certificate_room = certificate_room
        self.ova.reserve([descriptor_room, manifest_room, *([certificate_room] if certificate_room else [])])

    def write_files(self, names: Sequence[str], produce: Producer[P]) -> list[P]:
        if len(names) == 1:  # straight into the member: no copy of it anywhere
            stream = self.ova.begin_member(names[0])
            produced = produce(stream, self.ova.path, 0)
            self.ova.end_member()
            return [produced]
        paths = [os.path.join(self.work, f"disk{index}") for index in range(len(names))]

        def one(index: int) -> P:
            with open(paths[index], "xb") as stream:
                return produce(stream, paths[index], index)

        produced_all = run_all(one, range(len(names)), self.workers)
        for name, path, produced in zip(names, paths, produced_all, strict=True):
            self._append_file(name, path, produced.size)
            os.unlink(path)
        return produced_all

    def _append_file(self, name: str, path: str, size: int) -> None:
        """Copy a produced file into the OVA as a member (in the kernel,
        with explicit offsets), keeping its holes."""
        stream = self.ova.begin_member(name)
        stream.flush()
        base = stream.tell()
        with open(path, "rb") as source:
            for start, end in data_extents(source.fileno(), 0, size):
                done = 0
                while done < end - start:
                    copied = os.copy_file_range(
                        source.fileno(), stream.fileno(), end - start - done, start + done, base + start + done
                    )
                    if copied <= 0:
                        raise DiskImageError(f"{path} ended early while packing it", name)
                    done += copied
        end_of_member = base + size
        if os.fstat(stream.fileno()).st_size < end_of_member:
            os.truncate(stream.fileno(), end_of_member)
        stream.seek(end_of_member)
        self.ova.end_member()

    def fit_descriptor(self, descriptor: bytes) -> bytes:
        """The descriptor followed by white space (after the root element,
        where XML allows it) up to exactly the room kept."""
        if len(descriptor) > self.room:
            raise DiskImageError(f"the descriptor ({len(descriptor)} bytes) outgrew the {self.room} bytes kept for it")
        extra = self.room - len(descriptor)
        return descriptor + (b" " * (extra - 1) + b"\n" if extra else b"")

    def fit_certificate(self, certificate: bytes) -> bytes:
        if len(certificate) > self.certificate_room:
            raise DiskImageError(
                f"the certificate ({len(certificate)} bytes) outgrew the {self.certificate_room} bytes kept for it"
            )
        return certificate + b"\n" * (self.certificate_room - len(certificate))

    def finish(
        self,
        descriptor: tuple[str, bytes],
        manifest: tuple[str, bytes],
        certificate: tuple[str, bytes] | None = None,
    ) -> None:
        self.ova.fill_reserved([descriptor, manifest, *([certificate] if certificate else [])])
        self.ova.close()

    def abort(self) -> None:
        self.ova.abort()
