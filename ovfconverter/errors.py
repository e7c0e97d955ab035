"""Exceptions raised by ovfconverter.

Every refusal and failure the library reports is an :class:`OVFConverterError`
(or a subclass); anything else escaping the library is a bug.  The message of
each error is one line that names the file, element or member concerned and
the rule that was broken, for example::

    disk.vmdk: VMDK extent "/etc/shadow" lies outside the package; refusing

The command line prints it as ``ovfconverter: error: <message>`` and exits 1
(2 for a :class:`UsageError`, which lists the valid choices).
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from ovfconverter.parameters import Parameter, Part, parts_of, render


class OVFConverterError(Exception):
    """Base class of every error ovfconverter raises on purpose.

    :param message: what is wrong, one line, no trailing full stop: a
        string, or its parts where it names a caller's parameter
        (:class:`~ovfconverter.parameters.Parameter`, e.g. ``("the output
        exists; set ", Parameter("force"), " to replace it")``).
    :param subject: the file, member or element concerned; when given, the
        string form of the error is ``"<subject>: <message>"``.
    :ivar message: the message as text, parameters spelled as the library
        names them (``force``, ``nics[0]``).
    :ivar parts: the message's parts (see :meth:`describe`).
    """

    def __init__(self, message: str | Sequence[Part], subject: str | None = None) -> None:
        self.parts = parts_of(message)
        self.message = render(self.parts)
        self.subject = subject
        super().__init__(self.describe())

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The caller's parameters the message names, in order."""
        return tuple(part for part in self.parts if isinstance(part, Parameter))

    def describe(self, spell: Callable[[Parameter], str] = str) -> str:
        """The one line, ``"<subject>: <message>"``, each parameter spelled
        by ``spell`` (the command line passes the flag that sets it)."""
        text = render(self.parts, spell)
        return f"{self.subject}: {text}" if self.subject else text


class PackageError(OVFConverterError):
    """The OVF package is malformed or incomplete (missing file, dangling
    reference, broken tar archive, unsupported layout)."""


class MissingFileError(PackageError):
    """A file the descriptor names is not in the package."""


class DescriptorError(PackageError):
    """The OVF descriptor is not well-formed XML, or breaks DSP0243."""


class ManifestError(PackageError):
    """The manifest is malformed, or a digest in it does not match."""


class UnsafeInputError(OVFConverterError):
    """Input was refused because accepting it could read, write or exhaust
    host resources (path traversal, external extents, backing files, XML
    entities, decompression bombs...)."""


class DiskImageError(OVFConverterError):
    """A disk image is unreadable, of an unexpected format, or failed to
    convert."""


class QemuImgError(DiskImageError):
    """``qemu-img`` failed, crashed, or answered something unexpected."""


class MissingToolError(OVFConverterError):
    """A required external program (``qemu-img``) is not installed."""


class ConfigError(OVFConverterError):
    """A Ganeti ``config.ini`` is malformed or lacks required values."""


class OptionError(OVFConverterError):
    """An option value given by the caller is invalid."""


class UsageError(OptionError):
    """An option names something that is not there or not allowed: a key,
    a profile, a virtual system, a value outside its range.  The message
    lists the valid choices; the command line exits 2 for it, as for any
    usage error.

    :param choices: the valid values, in the order to show them (may be
        empty when they are a range said in the message).
    """

    def __init__(
        self, message: str | Sequence[Part], subject: str | None = None, choices: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, subject)
        self.choices = choices


class TargetError(OVFConverterError):
    """The machine cannot be expressed on the chosen target: a name, MAC
    address or device count the target refuses (libvirt, ``xl.cfg``...)."""


class FileAccessError(OVFConverterError):
    """A file could not be read or written: permissions, a full file
    system, an I/O error.  ``errno`` is the operating system's code."""

    def __init__(self, message: str | Sequence[Part], subject: str | None = None, code: int | None = None) -> None:
        super().__init__(message, subject)
        self.errno = code


class CloudError(OVFConverterError):
    """An OpenStack cloud could not be reached, is not configured, or refused
    a request (Glance's HTTP status in :attr:`status`, ``None`` when no
    answer came)."""

    def __init__(self, message: str | Sequence[Part], subject: str | None = None, status: int | None = None) -> None:
        super().__init__(message, subject)
        self.status = status


class OutputExistsError(OVFConverterError):
    """The output already exists and replacing it was not requested."""


class Interrupted(OVFConverterError):
    """The operation was stopped by a signal (SIGINT or SIGTERM).

    :param signum: the signal number received.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def os_errors_as_ours(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a public entry point so that an :class:`OSError` (a full
    disk, a permission refused) reaches the caller as a
    :class:`FileAccessError` naming the file, like every other refusal."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            message = exc.strerror or str(exc) or errno.errorcode.get(exc.errno or 0, "I/O error")
            raise FileAccessError(message, exc.filename, exc.errno) from exc

    return wrapper
