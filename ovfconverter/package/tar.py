"""The member table of an OVA: a tar archive read in place, never extracted.

DSP0243 (section 5.3) makes an OVA a POSIX ustar archive whose first member
is the descriptor.  This reader walks the 512-byte headers itself and accepts
only what an OVA needs: regular files (ustar, GNU and PAX headers, GNU long
names), and directories, which it skips.  It refuses symbolic and hard links,
device nodes, FIFOs, sparse members, multi-volume parts, unknown types, bad
checksums, unsafe names (absolute, ``..``, control characters), duplicate
names, members that run past the end of the file and tables of absurd size.
Each accepted member is a byte range (``offset``, ``size``) of the archive.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ovfconverter.errors import PackageError, UnsafeInputError

BLOCK = 512
MAX_MEMBERS = 10000
"""Most members accepted in one archive."""
MAX_EXTENDED_HEADER = 1 << 20
"""Largest PAX extended header or GNU long name accepted, in bytes."""

_REGULAR = (b"0", b"\0", b"7")
_FORBIDDEN = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO",
    b"S": "a sparse file",
    b"M": "a multi-volume continuation",
    b"V": "a volume label",
    b"N": "an old GNU long-name record",
    b"D": "a GNU dump directory",
}


@dataclass(frozen=True)
class TarMember:
    """A regular file inside the archive.

    :ivar name: normalised member name (no ``./`` prefix).
    :ivar offset: where its data starts in the archive, in bytes.
    :ivar size: its length in bytes.
    """

    name: str
    offset: int
    size: int


def _octal(field: bytes, what: str, where: str) -> int:
    """Read a numeric header field: octal text, or GNU base-256 when the
    first byte has its top bit set."""
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            raise PackageError(f"negative {what} in tar header", where)
        value = field[0] & 0x7F
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not text.isdigit() or b"8" in text or b"9" in text:  # only octal digits: no sign, no '_'
        raise PackageError(f"tar header has a malformed {what} field", where)
    return int(text, 8)


def _checksum_ok(header: bytes) -> bool:
    stored_field = header[148:156]
    try:
        stored = int(stored_field.split(b"\0", 1)[0].strip(b" ") or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    signed = sum(b - 256 if b > 127 else b for b in header[:148] + b" " * 8 + header[156:])
    return stored in (unsigned, signed)


def _parse_pax(data: bytes, where: str) -> dict[str, str]:
    """Parse PAX records ``"<len> <key>=<value>\\n"``."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            # Only NUL padding may follow the records (checked once, not
            # per record: that was quadratic in the number of records).
            if data.count(0, pos) != len(data) - pos:
                raise PackageError("malformed PAX extended header", where)
            break
        space = data.find(b" ", pos, pos + 21)
        if space < 0 or space - pos > 20:
            raise PackageError("malformed PAX extended header", where)
        if not data[pos:space].isdigit():
            raise PackageError("malformed PAX extended header", where)
        length = int(data[pos:space])
        if length <= space - pos + 1 or pos + length > len(data):
            raise PackageError("malformed PAX extended header", where)
        record = data[space + 1 : pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise PackageError("malformed PAX extended header", where)
        key, _, value = record[:-1].partition(b"=")
        try:
            records[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise PackageError("PAX extended header is not UTF-8", where) from None
        pos += length
    return records


def normalize_member_name(raw: str, where: str) -> str:
    """Check a member name and return it without ``./`` prefixes.

    :raises UnsafeInputError: absolute, containing ``..``, a backslash or a
        control character, or empty.
    """
    if not raw or any(ord(ch) < 32 or ord(ch) == 127 for ch in raw) or "\\" in raw:
        raise UnsafeInputError(f"member name {raw!r} contains control characters or backslashes; refusing", where)
    if raw.startswith("/"):
        raise UnsafeInputError(f"member {raw!r} has an absolute name; refusing", where)
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise UnsafeInputError(f"member {raw!r} climbs out of the archive with '..'; refusing", where)
    if not parts:
        raise UnsafeInputError(f"member name {raw!r} is empty", where)
    return posixpath.join(*parts)


class _Table:
    """The state of a walk through an archive's headers: the members read,
    their names, and what an extended header said of the next member."""

    def __init__(self, stream: BinaryIO, archive_size: int, where: str) -> None:
        self.stream, self.archive_size, self.where = stream, archive_size, where
        self.members: list[TarMember] = []
        self.names: set[str] = set()
        self.pending_name: str | None = None
        self.pending_size: int | None = None
        self.headers = 0

    def header(self, pos: int) -> bytes | None:
        """The header block at ``pos``, checked; ``None`` at the end of the
        archive (two zero blocks, or the end of the file once a member was
        read).

        :raises PackageError: truncated, a bad checksum, not ustar/GNU/PAX.
        """
        where = self.where
        if pos + BLOCK > self.archive_size:
            if pos == self.archive_size and self.members:
                return None  # missing end-of-archive blocks: tolerated
            raise PackageError("tar archive is truncated (a header runs past the end of the file)", where)
        self.stream.seek(pos)
        header = self.stream.read(BLOCK)
        if not header and self.members:
            return None  # missing end-of-archive blocks: tolerated (a stream of unknown length)
        if len(header) != BLOCK:
            raise PackageError("tar archive is truncated", where)
        if header == b"\0" * BLOCK:
            if self.pending_name is not None or self.pending_size is not None:
                raise PackageError("tar archive ends after an extended header", where)
            if not self.members and self.headers == 0:
                raise PackageError("not a tar archive (it starts with an empty block)", where)
            return None
        self.headers += 1
        if self.headers > 4 * MAX_MEMBERS:
            raise UnsafeInputError(f"tar archive has more than {MAX_MEMBERS} members; refusing", where)
        if not _checksum_ok(header):
            if self.headers == 1:
                raise PackageError("not a tar archive", where)
            raise PackageError(f"tar header at offset {pos} has a bad checksum (corrupt archive)", where)
        if header[257:263] not in (b"ustar\0", b"ustar "):
            raise PackageError(f"tar header at offset {pos} is not ustar, GNU or PAX", where)
        return header

    def extended(self, typeflag: bytes, data: bytes) -> None:
        """Take what a PAX (``x``) or GNU long-name (``L``) header says of
        the next member; ``g`` and ``K`` headers say nothing used here.

        :raises UnsafeInputError: a sparse member.
        :raises PackageError: a malformed record.
        """
        where = self.where
        if typeflag == b"x":
            records = _parse_pax(data, where)
            if any(key.startswith("GNU.sparse") for key in records):
                raise UnsafeInputError("tar archive has a sparse member; refusing", where)
            if "path" in records:
                self.pending_name = records["path"]
            if "size" in records:
                size_text = records["size"]
                if not (size_text.isascii() and size_text.isdigit() and len(size_text) <= 20):
                    raise PackageError("PAX header has a malformed size", where)
                self.pending_size = int(size_text)
        elif typeflag == b"L":
            try:
                self.pending_name = data.split(b"\0", 1)[0].decode("utf-8")
            except UnicodeDecodeError:
                raise PackageError("GNU long name is not UTF-8", where) from None

    def raw_name(self, header: bytes, pos: int) -> str:
        """The member's name as written: an extended header's, else the
        header's (with the ustar prefix).

        :raises PackageError: not UTF-8.
        """
        if self.pending_name is not None:
            return self.pending_name
        name_bytes = header[0:100].split(b"\0", 1)[0]
        if header[257:263] == b"ustar\0":
            prefix = header[345:500].split(b"\0", 1)[0]
            if prefix:
                name_bytes = prefix + b"/" + name_bytes
        try:
            return name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise PackageError(f"tar member name at offset {pos} is not UTF-8", self.where) from None

    def member(self, typeflag: bytes, raw_name: str, offset: int, size: int) -> TarMember | None:
        """Accept a regular member (``None`` for a directory, skipped).

        :raises UnsafeInputError: a forbidden or unknown type, an unsafe or
            duplicate name, too many members.
        """
        where = self.where
        if typeflag in _FORBIDDEN:
            raise UnsafeInputError(
                f"member {raw_name!r} is {_FORBIDDEN[typeflag]}; OVA members must be regular files; refusing", where
            )
        if typeflag == b"5":
            return None
        if typeflag not in _REGULAR:
            raise UnsafeInputError(f"member {raw_name!r} has unknown tar type {typeflag!r}; refusing", where)
        name = normalize_member_name(raw_name, where)
        if name in self.names:
            raise UnsafeInputError(f"member {name!r} appears twice in the archive; refusing", where)
        self.names.add(name)
        self.members.append(TarMember(name=name, offset=offset, size=size))
        if len(self.members) > MAX_MEMBERS:
            raise UnsafeInputError(f"tar archive has more than {MAX_MEMBERS} members; refusing", where)
        return self.members[-1]


def _data_end(size: int, data_start: int, archive_size: int, where: str) -> int:
    """Where the data of ``size`` bytes starting at ``data_start`` end, padded
    to a block: the next header.

    :raises PackageError: they run past the end of the file.
    """
    if data_start + size > archive_size:
        raise PackageError(
            f"tar archive is truncated: a member of {size} bytes at offset {data_start} "
            f"runs past the end of the {archive_size}-byte file",
            where,
        )
    return data_start + -(-size // BLOCK) * BLOCK


def read_member_table(
    stream: BinaryIO, archive_size: int, where: str, on_member: Callable[[TarMember], None] | None = None
) -> list[TarMember]:
    """Read every header of the tar archive in ``stream``.

    :param stream: the archive, opened for binary reading, seekable; the
        reader only ever seeks forward, so a stream that decompresses as it
        goes will do.
    :param archive_size: its size in bytes (an upper bound for such a
        stream, whose reads then come short at its end).
    :param where: the archive's name, for messages.
    :param on_member: called with each regular member as soon as its header
        is read, before its data (the stream is then at ``member.offset``);
        it may read the member's data, or raise to stop.
    :returns: the regular-file members in archive order.
    :raises PackageError: not a tar archive, bad checksum, truncated, or a
        malformed header.
    :raises UnsafeInputError: a forbidden member type or name, a duplicate
        name, or too many members.
    """
    table = _Table(stream, archive_size, where)
    pos = 0
    while (header := table.header(pos)) is not None:
        typeflag = header[156:157]
        size = _octal(header[124:136], "size", where)
        data_start = pos + BLOCK
        next_pos = _data_end(size, data_start, archive_size, where)
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > MAX_EXTENDED_HEADER:
                raise UnsafeInputError(f"tar extended header of {size} bytes is too large; refusing", where)
            stream.seek(data_start)
            table.extended(typeflag, stream.read(size))
            pos = next_pos
            continue
        raw_name = table.raw_name(header, pos)
        if table.pending_size is not None:
            size = table.pending_size
            if data_start + size > archive_size:
                raise PackageError(f"tar member {raw_name!r} runs past the end of the file", where)
            next_pos = data_start + -(-size // BLOCK) * BLOCK
        table.pending_name = table.pending_size = None
        member = table.member(typeflag, raw_name, data_start, size)
        if member is not None and on_member is not None:
            on_member(member)
        pos = next_pos
    return table.members
