"""Writing an OVA: a tar that VMware's importers accept.

DSP0243 section 5.3 asks for a POSIX ustar archive with the descriptor first;
VMware's ovftool and vCenter further refuse PAX extended headers (Python's
tarfile writes one for every member on 3.8+, which is what breaks COT's and
Ganeti's OVAs).  So each member gets exactly one 512-byte header of our own:
GNU magic, ``root``/``root`` with uid and gid 0, mode 0644, an integer
mtime, a name of at most 100 bytes, and the size in octal (GNU base-256 for
members of 8 GiB and more).  Data is padded to 512 bytes, and the archive
ends with two zero blocks padded to a 10 KiB record, as GNU tar does.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO

from ovfconverter.errors import PackageError

BLOCK = 512
RECORD = 20 * BLOCK
MAX_NAME = 100
_OCTAL_SIZE_LIMIT = 8**11  # 8 GiB: above it, GNU base-256


def _number(value: int, width: int) -> bytes:
    """A numeric header field: octal, NUL-terminated, or GNU base-256 when
    the octal form does not fit."""
    if value < 8 ** (width - 1):
        return f"{value:0{width - 1}o}".encode("ascii") + b"\0"
    if value >= 256 ** (width - 1):
        raise PackageError(f"value {value} does not fit a tar header field")
    return bytes([0x80]) + value.to_bytes(width - 1, "big")


def tar_header(name: str, size: int, mtime: int | None = None) -> bytes:
    """One GNU tar header block for a regular file.

    :param name: the member name, ASCII or UTF-8, at most 100 bytes.
    :param size: its length in bytes.
    :param mtime: modification time (seconds), default now.
    :raises PackageError: the name is too long, empty or not a plain name.
    """
    raw = name.encode("utf-8")
    if not raw or len(raw) > MAX_NAME or name.startswith("/") or ".." in name.split("/"):
        raise PackageError(f"cannot store {name!r} in an OVA: names are 1 to {MAX_NAME} bytes, relative")
    header = bytearray(BLOCK)
    header[0 : len(raw)] = raw
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = _number(size, 12)
    header[136:148] = _number(int(time.time() if mtime is None else mtime), 12)
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:265] = b"ustar  \0"
    header[265:269] = b"root"
    header[297:301] = b"root"
    checksum = sum(header)
    header[148:156] = f"{checksum:06o}\0 ".encode("ascii")
    return bytes(header)


def padding(size: int) -> bytes:
    """Zero bytes that bring a member of ``size`` bytes to a block boundary."""
    return bytes(-size % BLOCK)


class OvaWriter:
    """Writes a new OVA file in one pass.

    Members are streamed with :meth:`begin_member` / :meth:`end_member`
    (the header is written once the size is known).  Members that must come first but are known last
    (the descriptor and manifest, which name the disks' sizes and digests)
    go into space kept at the start with :meth:`reserve` and
    :meth:`fill_reserved`.

    :param path: the file to create (it must not exist).
    :param mtime: the mtime of every member (default: now).
    """

    def __init__(self, path: str, mtime: int | None = None) -> None:
        self.path = path
        self.mtime = int(time.time()) if mtime is None else mtime
        self.stream: BinaryIO = open(path, "xb")
        self.names: list[str] = []
        self._member: tuple[str, int] | None = None
        self._reserved: tuple[int, int] | None = None

    def reserve(self, sizes: list[int]) -> None:
        """Keep room at the current position for members of these data
        sizes (bytes), to be written later with :meth:`fill_reserved`."""
        start = self.stream.tell()
        length = sum(BLOCK + size + len(padding(size)) for size in sizes)
        self.stream.seek(start + length)
        self._reserved = (start, length)

    def fill_reserved(self, members: list[tuple[str, bytes]]) -> None:
        """Write ``members`` into the room :meth:`reserve` kept; their sizes
        must be the ones reserved.

        :raises PackageError: they do not fill the room exactly.
        """
        if self._reserved is None:
            raise PackageError("nothing was reserved", self.path)
        start, length = self._reserved
        data = b"".join(tar_header(name, len(body), self.mtime) + body + padding(len(body)) for name, body in members)
        if len(data) != length:
            raise PackageError(f"reserved {length} bytes for {len(members)} members, got {len(data)}", self.path)
        end = self.stream.tell()
        self.stream.seek(start)
        self.stream.write(data)
        self.stream.seek(end)
        self.names = [name for name, _ in members] + self.names
        self._reserved = None

    def begin_member(self, name: str) -> BinaryIO:
        """Start a member whose size is not known yet; returns the file,
        positioned where its data goes (write sequentially, then call
        :meth:`end_member`)."""
        self._check_name(name)
        start = self.stream.tell()
        self.stream.seek(start + BLOCK)
        self._member = (name, start)
        return self.stream

    def end_member(self) -> int:
        """Finish the member :meth:`begin_member` started: write its header
        and padding.

        :returns: its data size in bytes.
        """
        if self._member is None:
            raise PackageError("no member was begun", self.path)
        name, start = self._member
        end = self.stream.tell()
        size = end - start - BLOCK
        self.stream.seek(start)
        self.stream.write(tar_header(name, size, self.mtime))
        self.stream.seek(end)
        self.stream.write(padding(size))
        self.names.append(name)
        self._member = None
        return size

    def _check_name(self, name: str) -> None:
        if name in self.names:
            raise PackageError(f"member {name!r} is added twice", self.path)

    def close(self) -> None:
        """Write the end-of-archive blocks, flush to disk and close."""
        self.stream.write(bytes(2 * BLOCK))
        end = self.stream.tell()
        self.stream.write(bytes(-end % RECORD))
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self.stream.close()
