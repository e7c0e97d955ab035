"""Progress reporting shared by every layer: plain data and a callback type.

The library never prints; long steps call a :data:`ProgressCallback` with a
:class:`ProgressEvent` as bytes go by.  The command line turns these into
progress bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """How far one step has come.

    :ivar step: what is being done, one of: ``"verify"`` (hashing a file
        of a package for its manifest), ``"decompress"`` (gzip files and
        OVAs), ``"copy"`` (a raw image or the chunks of a file),
        ``"convert"`` (a disk converted and hashed in one pass: on import
        counting bytes of the image read, on export bytes of the raw dump
        read, gzip and OVA packing included), ``"pack"`` (an image that
        qemu-img wrote, copied and hashed into its place), ``"hash"`` (an
        image written for Glance hashed for its MD5 and SHA-512 fields),
        ``"upload"`` (an image sent to Glance).  No other step is sent.
    :ivar subject: the file, member or disk concerned.
    :ivar done: bytes processed so far.
    :ivar total: bytes expected in all, or ``None`` when unknown.
    """

    step: str
    subject: str
    done: int
    total: int | None


ProgressCallback = Callable[[ProgressEvent], None]
"""Called from the working thread, often; it must be quick and not raise."""


class Meter:
    """Counts bytes for one step and reports them through a callback, at most
    every ``every`` bytes and at the end.

    :param callback: where events go (``None``: nowhere).
    :param total: bytes expected, or ``None``.
    """

    def __init__(
        self, callback: ProgressCallback | None, step: str, subject: str, total: int | None, every: int = 8 << 20
    ) -> None:
        self.callback = callback
        self.step = step
        self.subject = subject
        self.total = total
        self.done = 0
        self._every = every
        self._last = 0
        if callback:
            callback(ProgressEvent(step, subject, 0, total))

    def advance(self, count: int) -> None:
        """Record ``count`` more bytes."""
        self.done += count
        if self.callback and self.done - self._last >= self._every:
            self._last = self.done
            self.callback(ProgressEvent(self.step, self.subject, self.done, self.total))

    def update_to(self, done: int) -> None:
        """Record that ``done`` bytes are processed in all."""
        self.advance(done - self.done)

    def finish(self) -> None:
        """Report the final count (unless it was the last one reported)."""
        if self.callback and self.done != self._last:
            self._last = self.done
            self.callback(ProgressEvent(self.step, self.subject, self.done, self.total))
