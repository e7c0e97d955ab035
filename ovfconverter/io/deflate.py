"""Deflate back-ends, chosen here once: VMDK grains (zlib format) and gzip
streams (disk files written with ``ovf:compression="gzip"``, gzip input).

Every grain backend produces and consumes the zlib format (RFC 1950: a 2-byte
header, raw deflate data, an Adler-32 trailer) that streamOptimized VMDK
grains hold, and releases the GIL while it works, so grains are compressed
or inflated on a thread pool.  Measured on the reference workload (256 MiB
of real data in 64 KiB grains, 2 threads, doc/performance.rst):

===========  ==========  ===========  ====================================
backend      level       output       speed
===========  ==========  ===========  ====================================
zlib (qemu)  6           107.4 MB     ~15 MB/s (qemu-img: one thread)
zlib-ng      3 / 4 / 6   112 / 111 /  ~110 / ~95 / ~65 MB/s
                         109 MB
ISA-L        1           118.5 MB     ~370 MB/s
===========  ==========  ===========  ====================================

The default level, :data:`DEFAULT_LEVEL` 1, uses ISA-L (the ``isal``
package): on the reference workload of doc/performance.rst its OVA is
4.7 % larger than qemu-img's streamOptimized VMDK, made six times faster;
on very compressible data the difference grows to about 10 %.  Levels 2-9
use zlib-ng (the ``zlib-ng`` package): level 4 is within 1-3 % of
qemu-img's size, at about twice level 1's time.  Inflating uses ISA-L,
else zlib-ng.  Without those packages the standard :mod:`zlib` does
everything, slower.  gzip streams are written with zlib-ng when installed
(:func:`gzip_compressor`) and read with the standard :mod:`zlib`
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
except ImportError:  # pragma: no cover - depends on the installation
    _ZLIB_NG = None

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
    if level == 1 and _ISAL is not None:
        return _ISAL
    return _ZLIB_NG or _ISAL or zlib


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
    given: the same, except ISA-L, whose levels stop at 3.

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
    """A gzip-format (RFC 1952) compressor at ``level`` 1-9: zlib-ng's when
    installed (faster), else the standard :mod:`zlib`'s."""
    if _ZLIB_NG is not None:
        compressor: Compressor = _ZLIB_NG.compressobj(level, _ZLIB_NG.DEFLATED, 16 + _ZLIB_NG.MAX_WBITS)
        return compressor
    return zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # pragma: no cover - installation


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
