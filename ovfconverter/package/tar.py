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
    members: list[TarMember] = []
    names: set[str] = set()
    pos = 0
    pending_name: str | None = None
    pending_size: int | None = None
    headers = 0
    while True:
        if pos + BLOCK > archive_size:
            if pos == archive_size and members:
                break  # missing end-of-archive blocks: tolerated
            raise PackageError("tar archive is truncated (a header runs past the end of the file)", where)
        stream.seek(pos)
        header = stream.read(BLOCK)
        if not header and members:
            break  # missing end-of-archive blocks: tolerated (a stream of unknown length)
        if len(header) != BLOCK:
            raise PackageError("tar archive is truncated", where)
        if header == b"\0" * BLOCK:
            if pending_name is not None or pending_size is not None:
                raise PackageError("tar archive ends after an extended header", where)
            if not members and headers == 0:
                raise PackageError("not a tar archive (it starts with an empty block)", where)
            break
        headers += 1
        if headers > 4 * MAX_MEMBERS:
            raise UnsafeInputError(f"tar archive has more than {MAX_MEMBERS} members; refusing", where)
        if not _checksum_ok(header):
            if headers == 1:
                raise PackageError("not a tar archive", where)
            raise PackageError(f"tar header at offset {pos} has a bad checksum (corrupt archive)", where)
        magic = header[257:263]
        if magic not in (b"ustar\0", b"ustar "):
            raise PackageError(f"tar header at offset {pos} is not ustar, GNU or PAX", where)
        typeflag = header[156:157]
        size = _octal(header[124:136], "size", where)
        data_start = pos + BLOCK
        data_end = data_start + size
        if data_end > archive_size:
            raise PackageError(
                f"tar archive is truncated: a member of {size} bytes at offset {data_start} "
                f"runs past the end of the {archive_size}-byte file",
                where,
            )
        next_pos = data_start + -(-size // BLOCK) * BLOCK

        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > MAX_EXTENDED_HEADER:
                raise UnsafeInputError(f"tar extended header of {size} bytes is too large; refusing", where)
            stream.seek(data_start)
            data = stream.read(size)
            if typeflag == b"x":
                records = _parse_pax(data, where)
                if any(key.startswith("GNU.sparse") for key in records):
                    raise UnsafeInputError("tar archive has a sparse member; refusing", where)
                if "path" in records:
                    pending_name = records["path"]
                if "size" in records:
                    size_text = records["size"]
                    if not (size_text.isascii() and size_text.isdigit() and len(size_text) <= 20):
                        raise PackageError("PAX header has a malformed size", where)
                    pending_size = int(size_text)
            elif typeflag == b"L":
                try:
                    pending_name = data.split(b"\0", 1)[0].decode("utf-8")
                except UnicodeDecodeError:
                    raise PackageError("GNU long name is not UTF-8", where) from None
            pos = next_pos
            continue

        raw_name = pending_name
        if raw_name is None:
            name_bytes = header[0:100].split(b"\0", 1)[0]
            if magic == b"ustar\0":
                prefix = header[345:500].split(b"\0", 1)[0]
                if prefix:
                    name_bytes = prefix + b"/" + name_bytes
            try:
                raw_name = name_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise PackageError(f"tar member name at offset {pos} is not UTF-8", where) from None
        if pending_size is not None:
            size = pending_size
            data_end = data_start + size
            if data_end > archive_size:
                raise PackageError(f"tar member {raw_name!r} runs past the end of the file", where)
            next_pos = data_start + -(-size // BLOCK) * BLOCK
        pending_name = pending_size = None

        if typeflag in _FORBIDDEN:
            raise UnsafeInputError(
                f"member {raw_name!r} is {_FORBIDDEN[typeflag]}; OVA members must be regular files; refusing", where
            )
        if typeflag == b"5":
            pos = next_pos
            continue
        if typeflag not in _REGULAR:
            raise UnsafeInputError(f"member {raw_name!r} has unknown tar type {typeflag!r}; refusing", where)
        name = normalize_member_name(raw_name, where)
        if name in names:
            raise UnsafeInputError(f"member {name!r} appears twice in the archive; refusing", where)
        names.add(name)
        members.append(TarMember(name=name, offset=data_start, size=size))
        if len(members) > MAX_MEMBERS:
            raise UnsafeInputError(f"tar archive has more than {MAX_MEMBERS} members; refusing", where)
        if on_member is not None:
            on_member(members[-1])
        pos = next_pos
    return members
