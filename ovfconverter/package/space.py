"""Free space of the output file system, claimed before anything is written.

A package can make a conversion write far more than it stores: a gzip bomb,
deflated VMDK grains, a qcow2 whose tables point every cluster at one data
cluster.  Each conversion works out the most it can write (its declared or
virtual size, or for formats that store data uncompressed what the stored
image can hold) and claims it from a :class:`SpaceBudget` first; a claim
beyond the free space, less :data:`FREE_SPACE_RESERVE`, is refused before a
byte is written, so an import or export never fills the file system that
other services on the node share.
"""

from __future__ import annotations

import errno
import shutil
import threading

from ovfconverter.errors import FileAccessError
from ovfconverter.model.units import format_bytes

FREE_SPACE_RESERVE = 64 << 20
"""Bytes of the output file system no conversion may claim."""


def stored_limit(capacity: int | None) -> int | None:
    """The largest stored image (the bytes of its file: decompressed, or
    its chunks joined) that an ``ovf:capacity`` of ``capacity`` bytes
    allows: the capacity plus room for format metadata (1/32 + 32 MiB:
    sparse formats add well under 1 %, but a VHDX is never smaller than
    16 MiB); ``None`` when the capacity is not declared."""
    return None if capacity is None else capacity + capacity // 32 + (32 << 20)


class SpaceBudget:
    """The free space of the file system holding ``folder``, measured once,
    less :data:`FREE_SPACE_RESERVE`, shared by the conversions of one run
    (disks converted side by side claim from the same budget).

    :param folder: a folder on the output file system.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._left = max(shutil.disk_usage(folder).free - FREE_SPACE_RESERVE, 0)
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        """Bytes not yet claimed."""
        return self._left

    def claim(self, size: int, what: str, subject: str) -> None:
        """Reserve ``size`` bytes for ``what`` (``"the image's conversion"``).

        :param subject: the file concerned, for the message.
        :raises FileAccessError: (``errno`` ENOSPC) fewer than ``size``
            bytes are left.
        """
        with self._lock:
            if size > self._left:
                raise FileAccessError(
                    f"{what} may write {format_bytes(size)} ({size} bytes) but {self.folder} has "
                    f"{format_bytes(self._left)} free beyond a {format_bytes(FREE_SPACE_RESERVE)} reserve: "
                    "No space left on device; refusing before writing",
                    subject,
                    errno.ENOSPC,
                )
            self._left -= size

    def release(self, size: int) -> None:
        """Give back ``size`` bytes claimed but not written after all."""
        with self._lock:
            self._left += size
