"""Telling an image's real format from its bytes, before qemu-img sees it.

One class per format, each with a ``match`` on the header and a list of
``problems`` (features that would make qemu read something other than the
image itself, or that cannot be converted): qcow2 backing files and external
data files, VMDK descriptors with extents, differencing VHD/VDI, encryption.
An image that matches two disk formats is refused as ambiguous.  The
approach follows OpenStack's ``format_inspector`` (oslo.utils); the code and
the checks' details are ours.

Sources: qcow2 -- QEMU ``docs/interop/qcow2.txt``; VMDK -- VMware "Virtual
Disk Format 5.0"; VHD -- Microsoft "Virtual Hard Disk Image Format
Specification"; VHDX -- MS-VHDX; VDI -- VirtualBox ``VDICore.h``; ISO 9660 --
ECMA-119; LUKS -- LUKS on-disk format; dump(8) -- ``protocols/dumprestore.h``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from ovfconverter.io.ranges import ReadAt

HEAD_SIZE = 64 << 10
"""Bytes of the image start every inspector receives."""
MAX_VMDK_DESCRIPTOR = 1 << 20
"""Largest embedded VMDK descriptor read, in bytes."""

SAFE_VMDK_CREATE_TYPES = ("monolithicSparse", "streamOptimized")


@dataclass
class Inspection:
    """What the bytes of an image are.

    :ivar format: ovfconverter's name for it: ``raw``, ``iso``, ``qcow2``,
        ``qcow``, ``vmdk``, ``vhd``, ``vhdx``, ``vdi``, or a non-disk kind
        (``qed``, ``luks``, ``vmdk-descriptor``, ``cowd``, ``gzip``, ``tar``,
        ``dump``).
    :ivar qemu_format: the qemu-img driver for it (``vpc`` for VHD), or
        ``None`` when qemu-img must not read it.
    :ivar virtual_size: the size the header claims, in bytes, or ``None``.
    :ivar subformat: the VMDK ``createType``, VHD/VDI disk type...
    :ivar problems: reasons to refuse the image.
    :ivar matches: every format whose signature matched.
    """

    format: str
    qemu_format: str | None
    virtual_size: int | None = None
    subformat: str | None = None
    problems: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)


class ImageFormat:
    """A format signature.  Subclasses set ``name``/``qemu_format`` and
    implement :meth:`match`; :meth:`inspect` adds size and problems."""

    name = ""
    qemu_format: str | None = None
    is_disk = True
    """False for containers and streams that are not disk images."""

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        raise NotImplementedError

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        return Inspection(self.name, self.qemu_format)


def _u32be(data: bytes, offset: int) -> int:
    return int(struct.unpack_from(">I", data, offset)[0]) if len(data) >= offset + 4 else 0


def _u64be(data: bytes, offset: int) -> int:
    return int(struct.unpack_from(">Q", data, offset)[0]) if len(data) >= offset + 8 else 0


def _u32le(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0]) if len(data) >= offset + 4 else 0


def _u64le(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<Q", data, offset)[0]) if len(data) >= offset + 8 else 0


class Qcow2(ImageFormat):
    name = "qcow2"
    qemu_format = "qcow2"
    _DATA_FILE_EXTENSION = 0x44415441
    _EXTERNAL_DATA_BIT = 1 << 2

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:4] == b"QFI\xfb" and _u32be(head, 4) in (2, 3)

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        result = Inspection(self.name, self.qemu_format, virtual_size=_u64be(head, 24))
        version = _u32be(head, 4)
        if _u64be(head, 8) or _u32be(head, 16):
            result.problems.append("qcow2 image has a backing file, which would make qemu read another file")
        if _u32be(head, 32):
            result.problems.append("qcow2 image is encrypted")
        if version >= 3:
            if _u64be(head, 72) & self._EXTERNAL_DATA_BIT:
                result.problems.append("qcow2 image keeps its data in an external data file")
            header_length = _u32be(head, 100) or 104
            pos = header_length
            for _ in range(64):  # header extensions: type, length, data padded to 8
                if pos + 8 > len(head):
                    break
                ext_type, ext_len = struct.unpack_from(">II", head, pos)
                if ext_type == 0:
                    break
                if ext_type == self._DATA_FILE_EXTENSION:
                    result.problems.append("qcow2 image names an external data file")
                pos += 8 + -(-ext_len // 8) * 8
        return result


class Qcow(ImageFormat):
    name = "qcow"
    qemu_format = "qcow"

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:4] == b"QFI\xfb" and _u32be(head, 4) == 1

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        result = Inspection(self.name, self.qemu_format, virtual_size=_u64be(head, 24))
        if _u64be(head, 8):
            result.problems.append("qcow image has a backing file, which would make qemu read another file")
        if _u32be(head, 36):
            result.problems.append("qcow image is encrypted")
        return result


class Qed(ImageFormat):
    name = "qed"
    qemu_format = None

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:4] == b"QED\0"

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        return Inspection(self.name, None, problems=["QED images are not accepted (backing files, little use)"])


_CREATE_TYPE_RE = re.compile(r'^[ \t]*createType[ \t]*=[ \t]*"?([A-Za-z0-9_]+)"?[ \t]*$', re.MULTILINE)
_EXTENT_RE = re.compile(
    r'^[ \t]*(RW|RDONLY|NOACCESS)[ \t]+(\d{1,20})[ \t]+(\w+)(?:[ \t]+"([^"\n]*)")?(?:[ \t]+(\d{1,20}))?[ \t]*$',
    re.MULTILINE,
)
_PARENT_RE = re.compile(r"parentFileNameHint")  # qemu finds it anywhere, even after a "#"


def parse_vmdk_descriptor(text: str) -> tuple[str | None, list[tuple[str, int, str, str | None]]]:
    """Read a VMDK text descriptor: its ``createType`` and extent lines
    ``(access, sectors, type, file name)``."""
    create = _CREATE_TYPE_RE.search(text)
    extents = [(m.group(1), int(m.group(2)), m.group(3), m.group(4)) for m in _EXTENT_RE.finditer(text)]
    return (create.group(1) if create else None), extents


class VmdkSparse(ImageFormat):
    """A hosted sparse extent (``KDMV`` magic) with its embedded descriptor:
    monolithicSparse or streamOptimized.  qemu opens the embedded descriptor
    as a full descriptor (following its extents) when the header's capacity
    is 0, so that case is refused, as is any extent but one SPARSE."""

    name = "vmdk"
    qemu_format = "vmdk"

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:4] == b"KDMV"

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        capacity = _u64le(head, 12)
        result = Inspection(self.name, self.qemu_format, virtual_size=capacity * 512)
        version = _u32le(head, 4)
        if version not in (1, 2, 3):
            result.problems.append(f"VMDK sparse header has unknown version {version}")
        if capacity == 0:
            result.problems.append(
                "VMDK header has capacity 0, which makes qemu follow its embedded descriptor's extents"
            )
        desc_offset = _u64le(head, 28) * 512
        desc_size = _u64le(head, 36) * 512
        if not desc_offset or not desc_size:
            result.problems.append("VMDK sparse header has no embedded descriptor")
            return result
        if desc_size > MAX_VMDK_DESCRIPTOR:
            result.problems.append(f"VMDK embedded descriptor of {desc_size} bytes is too large")
            return result
        raw = read_at(desc_offset, desc_size).split(b"\0", 1)[0]
        text = raw.decode("latin-1")
        create_type, extents = parse_vmdk_descriptor(text)
        result.subformat = create_type
        if create_type not in SAFE_VMDK_CREATE_TYPES:
            result.problems.append(f"VMDK createType {create_type!r} is not monolithicSparse or streamOptimized")
        if len(extents) != 1 or extents[0][2].upper() != "SPARSE":
            described = ", ".join(f"{kind} {name!r}" for _, _, kind, name in extents) or "none"
            result.problems.append(f"VMDK descriptor must list exactly one SPARSE extent (lists: {described})")
        if _PARENT_RE.search(text):
            result.problems.append("VMDK descriptor names a parent image")
        return result


class VmdkDescriptor(ImageFormat):
    """A text VMDK descriptor, whose extents are other files."""

    name = "vmdk-descriptor"
    qemu_format = None

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        start = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith(b"# Disk DescriptorFile") or (
            start.startswith(b"#") and b"createType" in head[:4096] and b"\0" not in head[:2048]
        )

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        text = head[:MAX_VMDK_DESCRIPTOR].decode("latin-1")
        create_type, extents = parse_vmdk_descriptor(text)
        names = ", ".join(f'"{name}"' for _, _, _, name in extents if name) or "none"
        return Inspection(
            "vmdk-descriptor",
            None,
            subformat=create_type,
            problems=[f"VMDK descriptor file (createType {create_type!r}) reads its data from extents {names}"],
        )


class Cowd(ImageFormat):
    name = "cowd"
    qemu_format = None

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:4] == b"COWD"

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        return Inspection(self.name, None, problems=["VMware ESX 'COWD' sparse images are not accepted"])


class Vhd(ImageFormat):
    """VHD: the ``conectix`` footer, at the end (fixed) and copied at the
    start (dynamic, differencing)."""

    name = "vhd"
    qemu_format = "vpc"

    @staticmethod
    def _footer(head: bytes, read_at: ReadAt, size: int) -> bytes | None:
        if head[:8] == b"conectix":
            return head[:512]
        if size >= 512:
            tail = read_at(size - 512, 512)
            if tail[:8] == b"conectix":
                return tail
            if size >= 513:
                tail = read_at(size - 511, 511)
                if tail[:8] == b"conectix":
                    return tail
        return None

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return self._footer(head, read_at, size) is not None

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        footer = self._footer(head, read_at, size) or b""
        disk_type = _u32be(footer, 60)
        result = Inspection(
            self.name,
            self.qemu_format,
            virtual_size=_u64be(footer, 48),
            subformat={2: "fixed", 3: "dynamic", 4: "differencing"}.get(disk_type, f"type {disk_type}"),
        )
        if disk_type == 4:
            result.problems.append("VHD is a differencing image, which would make qemu read its parent file")
        elif disk_type not in (2, 3):
            result.problems.append(f"VHD has unknown disk type {disk_type}")
        return result


class Vhdx(ImageFormat):
    name = "vhdx"
    qemu_format = "vhdx"

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:8] == b"vhdxfile"


class Vdi(ImageFormat):
    name = "vdi"
    qemu_format = "vdi"

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return _u32le(head, 0x40) == 0xBEDA107F

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        image_type = _u32le(head, 0x4C)
        result = Inspection(
            self.name,
            self.qemu_format,
            virtual_size=_u64le(head, 0x170),
            subformat={1: "dynamic", 2: "fixed", 3: "undo", 4: "differencing"}.get(image_type),
        )
        if image_type not in (1, 2):
            result.problems.append(f"VDI image type {image_type} (undo or differencing) is not accepted")
        return result


class Luks(ImageFormat):
    name = "luks"
    qemu_format = None

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:6] == b"LUKS\xba\xbe"

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        return Inspection(self.name, None, problems=["LUKS-encrypted images cannot be converted"])


class Iso9660(ImageFormat):
    """An ISO 9660 image: raw bytes to qemu, told apart for reporting."""

    name = "iso"
    qemu_format = "raw"

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return read_at(0x8001, 5) == b"CD001"

    def inspect(self, head: bytes, read_at: ReadAt, size: int) -> Inspection:
        return Inspection(self.name, self.qemu_format, virtual_size=size)


class Gzip(ImageFormat):
    name = "gzip"
    is_disk = False

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[:2] == b"\x1f\x8b"


class Tar(ImageFormat):
    name = "tar"
    is_disk = False

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return head[257:262] == b"ustar"


class DumpArchive(ImageFormat):
    """Output of ``dump(8)`` (what some OS export scripts write instead of a
    disk image): ``NFS_MAGIC`` at offset 24 of the first record."""

    name = "dump"
    is_disk = False

    def match(self, head: bytes, read_at: ReadAt, size: int) -> bool:
        return _u32le(head, 24) in (60011, 60012, 0x19540119) or _u32be(head, 24) in (60011, 60012)


DISK_FORMATS: tuple[ImageFormat, ...] = (
    Qcow2(),
    Qcow(),
    Qed(),
    VmdkSparse(),
    VmdkDescriptor(),
    Cowd(),
    Vhdx(),
    Vhd(),
    Vdi(),
    Luks(),
)
"""Signatures of disk image formats; at most one may match."""

STREAM_FORMATS: tuple[ImageFormat, ...] = (Gzip(), Tar(), DumpArchive())
"""Signatures of things that are not disk images but are found where one
is expected."""


def inspect_image(read_at: ReadAt, size: int) -> Inspection:
    """Tell what the image readable through ``read_at`` is.

    :param read_at: reads the image's bytes (see :data:`ReadAt`).
    :param size: the image file's size in bytes.
    :returns: the inspection; an image no signature matches is ``raw``
        (``iso`` when it carries an ISO 9660 volume descriptor).  Check
        ``problems`` before handing the image to qemu.
    """
    head = read_at(0, HEAD_SIZE)
    matched = [fmt for fmt in DISK_FORMATS if fmt.match(head, read_at, size)]
    if len(matched) > 1:
        names = " and ".join(fmt.name for fmt in matched)
        result = matched[0].inspect(head, read_at, size)
        result.problems.append(f"image matches more than one format ({names}); refusing an ambiguous image")
        result.matches = [fmt.name for fmt in matched]
        return result
    if matched:
        result = matched[0].inspect(head, read_at, size)
        result.matches = [matched[0].name]
        return result
    for fmt in STREAM_FORMATS:
        if fmt.match(head, read_at, size):
            return Inspection(fmt.name, None, matches=[fmt.name])
    iso = Iso9660()
    if iso.match(head, read_at, size):
        return iso.inspect(head, read_at, size)
    return Inspection("raw", "raw", virtual_size=size, matches=["raw"])
