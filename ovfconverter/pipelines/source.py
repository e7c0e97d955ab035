"""What every source is: a path opened into a machine, and the bytes of its
images on demand.

A source (an OVF package, a Ganeti export...) is opened with
:meth:`Source.open`, which reads and checks what the path holds, refuses in
its own words (every problem at once) and records its warnings on the
:class:`~ovfconverter.pipelines.run.Run`.  A target then reads
:attr:`Source.machine` and, once it has planned, asks
:meth:`Source.images` for the bytes of the disks it writes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar, Protocol

from ovfconverter.disks.to_raw import SourceImage
from ovfconverter.io.ranges import ByteRange
from ovfconverter.model.machine import Disk, Machine, Needs
from ovfconverter.pipelines.run import Run


@dataclass(frozen=True)
class SourceOptions:
    """What the caller may choose about reading a source (each source uses
    the fields that apply to it).

    :ivar deployment_option: the OVF DeploymentOptionSection profile to use
        instead of the default.
    :ivar virtual_system: the VirtualSystem ``ovf:id`` to take from a
        VirtualSystemCollection.
    :ivar verify_manifest: check the manifest (default); turning it off is
        for benchmarking only.
    :ivar allow_hardlinks: accept input files with several hard links
        (refused by default: such a file may be a link to a secret
        elsewhere on the same file system).
    :ivar properties: OVF ProductSection property -> value
        (``--property``; full key, or bare ``ovf:key`` when unambiguous),
        checked against the property's type and qualifiers; the machine's
        properties then carry the effective values.
    :ivar accept_eula: accept the package's license agreements
        (``--accept-eula``); a package with an EulaSection is refused
        without it, whatever the target.
    """

    deployment_option: str | None = None
    virtual_system: str | None = None
    verify_manifest: bool = True
    allow_hardlinks: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    accept_eula: bool = False


class ByteCheck(Protocol):
    """A check of an image's stored bytes made while a target reads them
    (a manifest digest computed in the same pass as the conversion)."""

    def update(self, data: bytes, /) -> None:
        """See the next stored bytes, in order."""

    def verify(self) -> None:
        """Once every byte was seen: raise when the check fails."""

    def close(self) -> None:
        """Stop without a verdict (the conversion failed)."""

    def explain(self, refusal: Exception) -> None:
        """The conversion was refused (``refusal``) before the check saw
        every byte: raise the check's own refusal instead when it is the
        cause (a file that does not match its manifest is reported as such,
        not by what its altered bytes broke)."""
        return None  # nothing to do unless a subclass says otherwise


@dataclass
class ImageBytes:
    """The bytes of one disk image, as a source hands them to a target.

    :ivar image: where the stored bytes are and what they are declared to
        be (:func:`~ovfconverter.disks.to_raw.convert_to_raw` reads it).
    :ivar raw: the image as a raw image in place, when the source has one
        (a Ganeti dump), so a target that wants raw bytes reads it directly.
    :ivar check: give every stored byte to it while converting, then call
        ``verify()``; ``None``: nothing to check.
    """

    image: SourceImage
    raw: ByteRange | None = None
    check: ByteCheck | None = None


class Source(abc.ABC):
    """An opened source.  Close it (or use it as a context manager) when the
    conversion is done.

    :cvar kind: the registry name (``ovf``, ``ganeti``).
    :ivar path: the path it was opened from.
    :ivar name: the file that describes it, for messages (the descriptor's
        name, ``config.ini``).
    :ivar machine: what it describes.
    :ivar warnings: what reading it noticed (said of :attr:`name`); they are
        recorded on the run once the target has planned, so that a refusal
        is one line, not warnings about what was never going to be written.
    """

    kind: ClassVar[str] = ""

    def __init__(self, path: str, name: str, machine: Machine, warnings: list[str] | None = None) -> None:
        self.path = path
        self.name = name
        self.machine = machine
        self.warnings = warnings or []

    @classmethod
    @abc.abstractmethod
    def open(cls, path: str, options: SourceOptions, needs: Needs, run: Run) -> Source:
        """Open ``path`` and describe it as a machine (what the opening
        itself must say at once, such as a non-conforming archive, goes on
        ``run`` now; the rest into :attr:`warnings`).

        :param needs: what the target needs stated; missing values are
            refused here, with the source's other problems.
        :raises OVFConverterError: the source is refused (a subclass naming
            the file).
        """

    @abc.abstractmethod
    def images(self, disks: Sequence[Disk], run: Run) -> list[ImageBytes]:
        """The bytes of the images of ``disks`` (disks of :attr:`machine`
        with an image), in that order.  Called once per conversion, after
        planning: a source checks here what covers all of them (a
        manifest).

        :raises OVFConverterError: an image cannot be read, or a check made
            now fails.
        """

    def close(self) -> None:
        """Release what :meth:`open` holds (temporary copies)."""
        return None  # nothing to do unless a subclass says otherwise

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
