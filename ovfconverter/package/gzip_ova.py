"""A gzip-compressed OVA, decompressed within what its own descriptor
declares.

DSP0243 makes an OVA a plain tar; gzip-compressed ones exist (Ganeti's own
test data has one) and are read by decompressing them into a private file.
A few KiB of gzip can announce a member of any size, so decompression is
bounded from the first bytes on:

* until the descriptor (the first ``.ovf`` member, first in the archive as
  DSP0243 wants it) is read, by the size a descriptor may have
  (:data:`~ovfconverter.formats.safexml.MAX_DESCRIPTOR_SIZE`) plus
  :data:`EXTRA_LIMIT` for members before it, plus extended headers;
* then each member as its header is read, before its data: a File of the
  descriptor at most its ``ovf:size`` (each chunk its ``ovf:chunkSize``; a
  File without ``ovf:size`` holding a Disk with ``ovf:capacity``, what
  :func:`~ovfconverter.package.space.stored_limit` allows), the manifest and
  certificate their own limits, any other member :data:`EXTRA_LIMIT`;
* and the whole archive by the sum of those plus headers, and always by
  the free space given.

Members are walked by :func:`~ovfconverter.package.tar.read_member_table`
over the decompressing stream itself; the file written is then read again
as a plain OVA.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ovfconverter.errors import PackageError, UnsafeInputError
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.formats.safexml import MAX_DESCRIPTOR_SIZE
from ovfconverter.io.deflate import gunzip_chunks
from ovfconverter.io.ranges import BLOCK_SIZE, ByteRange, iter_ranges
from ovfconverter.io.sparse import SparseWriter
from ovfconverter.model.envelope import Envelope
from ovfconverter.model.units import format_bytes
from ovfconverter.package.space import stored_limit
from ovfconverter.package.tar import TarMember, read_member_table
from ovfconverter.progress import Meter, ProgressCallback

EXTRA_LIMIT = 16 << 20
"""Most bytes of a member the descriptor does not reference (and of all of
them together)."""
HEADER_ALLOWANCE = 4 << 20
"""Bytes of tar headers, padding and extended headers allowed besides the
members' data."""
_CHUNK_SUFFIX = re.compile(r"\.[0-9]{9}\Z")


class _Inflater:
    """A forward-only stream over decompressed bytes that copies every byte
    it passes into ``writer`` (which enforces the current limit)."""

    def __init__(self, chunks: Iterator[bytes], writer: SparseWriter, name: str) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self.writer = writer
        self.name = name
        self.position = 0

    def read(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            if not self._buffer:
                block = next(self._chunks, b"")
                if not block:
                    break
                self._buffer = memoryview(block)
            take = self._buffer[: size - len(out)]
            self._buffer = self._buffer[len(take) :]
            out += take
        self.writer.write(memoryview(out))
        self.position += len(out)
        return bytes(out)

    def seek(self, position: int) -> None:
        if position < self.position:
            raise PackageError("tar archive goes backwards", self.name)  # read_member_table never does
        while self.position < position:
            if not self.read(min(BLOCK_SIZE, position - self.position)):
                raise PackageError("tar archive is truncated (a member runs past the end of the data)", self.name)

    def drain(self) -> None:
        """Copy the rest (end-of-archive blocks, padding)."""
        while self.read(BLOCK_SIZE):
            pass


@dataclass
class _Bounds:
    """What each member may hold, once the descriptor is known."""

    name: str
    small_files: dict[str, int]
    free: int
    base: str | None = None
    files: dict[str, int | None] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)
    extra: int = 0

    def learn(self, member: TarMember, envelope: Envelope) -> int:
        """Record the bounds the descriptor ``member`` declares; return the
        archive's total bound (bytes of decompressed tar)."""
        self.base = posixpath.dirname(member.name)
        stem = posixpath.splitext(posixpath.basename(member.name))[0]
        for suffix, limit in self.small_files.items():
            self.files[self._member(stem + suffix)] = limit
        capacities = {disk.file_ref: disk.capacity for disk in envelope.disks if disk.file_ref}
        for ref in envelope.files:
            if ref.chunk_size is not None:
                self.chunks[self._member(ref.href)] = ref.chunk_size
                self.files[self._member(ref.href)] = ref.size
            else:
                self.files[self._member(ref.href)] = (
                    ref.size if ref.size is not None else stored_limit(capacities.get(ref.id))
                )
        declared = list(self.files.values())
        if any(limit is None for limit in declared):
            return self.free
        total = member.offset + member.size + sum(limit or 0 for limit in declared) + EXTRA_LIMIT + HEADER_ALLOWANCE
        return min(total, self.free)

    def _member(self, href: str) -> str:
        return posixpath.join(self.base, href) if self.base else href

    def check(self, member: TarMember) -> None:
        """Refuse ``member`` if its header announces more than allowed."""
        limit: int | None
        stem, suffix = member.name[:-10], member.name[-10:]
        if member.name in self.files:
            limit, what = self.files[member.name], "the descriptor allows"
        elif _CHUNK_SUFFIX.match(suffix) and stem in self.chunks:
            limit, what = self.chunks[stem], "the ovf:chunkSize"
        else:
            limit, what = EXTRA_LIMIT - self.extra, "a member the descriptor does not reference may hold"
            self.extra += member.size
        if limit is not None and member.size > limit:
            raise UnsafeInputError(
                f"member {member.name!r} announces {member.size} bytes ({format_bytes(member.size)}), "
                f"more than the {limit} bytes {what}; refusing before decompressing it",
                self.name,
            )


def gunzip_ova(
    archive: ByteRange,
    target: str,
    free: int,
    small_files: dict[str, int],
    progress: ProgressCallback | None = None,
) -> int:
    """Decompress the gzip-compressed OVA ``archive`` into the new file
    ``target``, bounded as the module says.

    :param free: the most bytes that may be written (free space).
    :param small_files: the limit of each other file named after the
        descriptor, by suffix (``{".mf": ..., ".cert": ...}``).
    :returns: bytes written.
    :raises UnsafeInputError: a member or the archive exceeds its bound.
    :raises PackageError: corrupt gzip data, a broken tar archive.
    :raises DescriptorError: the descriptor cannot be read.
    """
    name = archive.name
    bounds = _Bounds(name, small_files, free)
    meter = Meter(progress, "decompress", name, archive.size)

    def counted() -> Iterator[bytes]:
        for data in iter_ranges([archive]):
            meter.advance(len(data))
            yield data

    first = MAX_DESCRIPTOR_SIZE + EXTRA_LIMIT + HEADER_ALLOWANCE
    writer = SparseWriter(target, limit=min(first, free), what=name)
    stream = _Inflater(gunzip_chunks(counted(), name), writer, name)

    def on_member(member: TarMember) -> None:
        if bounds.base is not None or not member.name.lower().endswith(".ovf"):
            bounds.check(member)
            return
        if member.size > MAX_DESCRIPTOR_SIZE:
            raise UnsafeInputError(
                f"descriptor {member.name!r} announces {member.size} bytes, more than the "
                f"{MAX_DESCRIPTOR_SIZE} allowed; refusing",
                name,
            )
        envelope = read_envelope(stream.read(member.size), posixpath.basename(member.name), strict=False)
        writer.limit = bounds.learn(member, envelope)

    try:
        read_member_table(stream, 1 << 62, name, on_member)  # type: ignore[arg-type]
        stream.drain()
    except BaseException:
        writer.abort()
        raise
    writer.close()
    meter.finish()
    return writer.size
