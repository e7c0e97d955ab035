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
  descriptor first); the disks are produced one after the other, each
  straight into its member (no copy of a disk is ever made).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import BinaryIO, Protocol, TypeVar

from ovfconverter.concurrency import run_all
from ovfconverter.errors import DiskImageError
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
    """An OVA, written once, front to back; ``workers`` is not used (the
    disks are produced one at a time, see :meth:`write_files`)."""

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
        # One at a time, each straight into its member: a member's offset
        # depends on the sizes of those before it, so producing several at
        # once means scratch files copied in afterwards, and on the
        # machines measured that copy (and its write-back) cost more than
        # the second disk gained (doc/performance.rst).  Each disk still
        # uses every worker inside (deflate pool, hashing beside qemu-img).
        produced = []
        for index, name in enumerate(names):
            stream = self.ova.begin_member(name)
            produced.append(produce(stream, self.ova.path, index))
            self.ova.end_member()
        return produced

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
