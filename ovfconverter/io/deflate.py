"""Deflate back-ends, chosen here once: VMDK grains (zlib format) and gzip
streams (disk files written with ``ovf:compression="gzip"``, gzip input).

Every grain backend produces and consumes the zlib format (RFC 1950: a 2-byte
header, raw deflate data, an Adler-32 trailer) that streamOptimized VMDK
grains hold, and releases the GIL while it works, so grains are compressed
or inflated on a thread pool.  Measured on the reference workload of
doc/performance.rst (256 MiB of real data in 64 KiB grains, one thread,
load about 3, 2026-12-05):

=================  =========  ==========  ============
backend            level      output      speed
=================  =========  ==========  ============
ISA-L (``isal``)   1 / 2 / 3  150.9 /     305 / 324 /
                              150.1 /     262 MB/s
                              148.2 MB
zlib-ng            4 / 6      145.4 /     82 / 81 MB/s
                              144.3 MB
zlib (standard)    4 / 6      145.7 /     56 / 35 MB/s
                              144.0 MB
=================  =========  ==========  ============

So ISA-L, a hard requirement, serves levels 1-3 (its own levels 1-3; the
default, :data:`DEFAULT_LEVEL` 1, makes an OVA about 4.7 % larger than
qemu-img's streamOptimized VMDK at zlib level 6, several times faster),
gzip streams at those levels, and all inflating.  Levels 4-9 buy the
last 2-4 % of size at a quarter of the speed or less: zlib-ng runs them
when installed (the optional extra ``ovfconverter[zlib-ng]``, 1.5-2.3x the
standard :mod:`zlib` there), else the standard :mod:`zlib` does.  Without
ISA-L (an installation that skipped it) the standard :mod:`zlib` does
everything: deflate at level 1 about five times slower, inflate about
1.2x slower.  gzip input is read with the standard :mod:`zlib`
(:func:`gunzip_chunks`), whose errors name the corruption.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from types import ModuleType
from typing import Protocol

from ovfconverter.errors import DiskImageError, OptionError, PackageError, UnsafeInputError
from ovfconverter.io.ranges import BLOCK_SIZE

_ISAL: ModuleType | None
try:
    from isal import isal_zlib as _ISAL
except ImportError:  # pragma: no cover - depends on the installation
    _ISAL = None

_ZLIB_NG: ModuleType | None
try:
    from zlib_ng import zlib_ng as _ZLIB_NG
except ImportError:  # pragma: no cover - an optional extra
    _ZLIB_NG = None

ISAL_LEVELS = 3
"""Levels 1 to this one are ISA-L's (the levels it has)."""

_ERRORS: tuple[type[Exception], ...] = tuple(module.error for module in (zlib, _ISAL, _ZLIB_NG) if module is not None)

DEFAULT_LEVEL = 1
"""Compression level used unless told otherwise (see the module docstring)."""

BACKEND: str = "auto"
"""``"auto"`` (the choice the module docstring describes), or a backend a
test or benchmark forced with :func:`use_backend`."""

_forced: ModuleType | None = None


STORED_SLACK = 64
"""Bytes a compressed stream may exceed its input by before the data is
stored instead."""


def isal_available() -> bool:
    """Whether ISA-L (the ``isal`` package) is importable."""
    return _ISAL is not None


def zlib_ng_available() -> bool:
    """Whether zlib-ng (the ``zlib-ng`` package) is importable."""
    return _ZLIB_NG is not None


def use_backend(name: str) -> None:
    """Force one backend for this process: ``"auto"`` (the default choice),
    ``"zlib"``, ``"isal"`` or ``"zlib-ng"`` (tests, benchmarks).

    :raises OptionError: unknown name, or the package is not installed.
    """
    global BACKEND, _forced
    modules = {"auto": None, "zlib": zlib, "isal": _ISAL, "zlib-ng": _ZLIB_NG}
    if name not in modules or (name != "auto" and modules[name] is None):
        raise OptionError(f"deflate backend {name!r} is not available (choose auto, zlib, isal or zlib-ng)")
    _forced = modules[name]
    BACKEND = name


def _compressor(level: int) -> ModuleType:
    if _forced is not None:
        return _forced
    if level <= ISAL_LEVELS and _ISAL is not None:
        return _ISAL
    return _ZLIB_NG or zlib


def _inflater() -> ModuleType:
    if _forced is not None:
        return _forced
    return _ISAL or _ZLIB_NG or zlib


def backend_name(level: int = DEFAULT_LEVEL) -> str:
    """Which library compresses at ``level`` here (for reports)."""
    module = _compressor(level)
    return "isal" if module is _ISAL else "zlib-ng" if module is _ZLIB_NG else "zlib"


def backend_level(level: int) -> int:
    """The level the backend compressing at zlib-style ``level`` (0-9) is
    given: the same, except ISA-L (when a test forces it at levels above
    3), whose levels stop at 3.

    :raises OptionError: ``level`` is not in 0-9.
    """
    if not 0 <= level <= 9:
        raise OptionError(f"compression level {level} is not in 0-9")
    return min(level, 3) if _compressor(level) is _ISAL else level


def compress(data: bytes | bytearray | memoryview, level: int = DEFAULT_LEVEL) -> bytes:
    """Compress ``data`` into one zlib (RFC 1950) stream, never much larger
    than ``data``: level 0, and data the backend would expand (ISA-L can,
    on random data), are stored (``len(data)`` + 5 bytes per 64 KiB + 6
    bytes).

    :param level: zlib-style level 0-9 (see the module docstring).
    :raises OptionError: bad level.
    """
    backend = backend_level(level)
    if level:
        result: bytes = _compressor(level).compress(data, backend)
        if len(result) <= len(data) + STORED_SLACK:
            return result
    return zlib.compress(data, 0)


def inflate(data: bytes | bytearray | memoryview, limit: int, subject: str | None = None, where: str = "") -> bytes:
    """Decompress one zlib stream, refusing to produce more than ``limit``
    bytes (a decompression bomb never allocates more than ``limit + 1``
    bytes).  Bytes after the end of the stream are ignored.

    :param limit: the most output bytes accepted.
    :param subject: file named in error messages.
    :param where: what is being inflated, for messages (``"grain at byte
        1024"``).
    :raises UnsafeInputError: the stream inflates to more than ``limit``
        bytes.
    :raises DiskImageError: the data is not a valid, complete zlib stream.
    """
    prefix = f"{where}: " if where else ""
    decomp = _inflater().decompressobj()
    try:
        out: bytes = decomp.decompress(data, limit + 1)
    except _ERRORS as exc:
        raise DiskImageError(f"{prefix}compressed data is corrupt ({exc})", subject) from None
    if len(out) > limit:
        raise UnsafeInputError(f"{prefix}inflates to more than {limit} bytes; refusing", subject)
    if not decomp.eof:
        raise DiskImageError(f"{prefix}compressed data is truncated", subject)
    return out


class Compressor(Protocol):
    """A streaming compressor (``zlib.compressobj``'s interface)."""

    def compress(self, data: bytes | bytearray | memoryview, /) -> bytes: ...

    def flush(self) -> bytes: ...


def gzip_compressor(level: int) -> Compressor:
    """A gzip-format (RFC 1952) compressor at ``level`` 1-9, from the
    backend :func:`backend_name` names for that level (ISA-L at 1-3:
    about four times zlib-ng's level 1 speed).

    :raises OptionError: ``level`` is not in 0-9.
    """
    module = _compressor(level)
    compressor: Compressor = module.compressobj(backend_level(level), module.DEFLATED, 16 + module.MAX_WBITS)
    return compressor


def gunzip_chunks(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Decompress a gzip stream given as a sequence of byte blocks, yielding
    blocks of at most :data:`~ovfconverter.io.ranges.BLOCK_SIZE` bytes.
    Several concatenated gzip members are all decompressed (RFC 1952 allows
    it); zero padding after the last member is ignored.

    :raises PackageError: not gzip data, corrupt, or truncated.
    """
    decomp: zlib._Decompress | None = None
    members = 0
    for data in chunks:
        buf = data
        while buf:
            if decomp is None:
                if members and not buf.strip(b"\0"):
                    break  # padding after the last member
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while True:
                try:
                    out = decomp.decompress(buf, BLOCK_SIZE)
                except zlib.error as exc:
                    raise PackageError(f"is not valid gzip data ({exc})", name) from None
                if out:
                    yield out
                buf = decomp.unconsumed_tail
                if decomp.eof or (not buf and len(out) < BLOCK_SIZE):
                    break
            if decomp.eof:
                buf = decomp.unused_data
                decomp = None
                members += 1
            else:
                buf = b""
    if decomp is not None or members == 0:
        raise PackageError("gzip data is truncated", name)
