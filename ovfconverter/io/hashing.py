"""Hashing: digests of byte ranges, and hashing on a thread of its own, so
that a digest costs no time on the thread that reads, writes or converts
the data.

``hashlib`` releases the GIL while it hashes blocks of more than 2 KiB, so
a :class:`BackgroundHasher` runs in parallel with the caller: on the
machines we measure, SHA-256 (about 250 MB/s per core without SHA
extensions) is otherwise the slowest step of an import.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Sequence

from ovfconverter.io.ranges import ByteRange, iter_ranges, total_size
from ovfconverter.progress import Meter, ProgressCallback

_DONE = None


class BackgroundHasher:
    """A hash whose :meth:`update` returns at once; the work happens on a
    worker thread, in order.  At most ``backlog`` blocks wait (memory stays
    bounded: the caller blocks when the worker falls behind).

    :param algorithm: a hashlib name (``sha256``...).
    """

    def __init__(self, algorithm: str, backlog: int = 8) -> None:
        self._hash = hashlib.new(algorithm)
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=backlog)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"{algorithm} hasher", daemon=True)
        self._thread.start()
        self._closed = False

    def _work(self) -> None:
        while True:
            block = self._queue.get()
            if block is _DONE:
                return
            try:
                self._hash.update(block)
            except BaseException as exc:  # reported by hexdigest()
                self._error = exc

    def update(self, block: bytes | bytearray | memoryview) -> None:
        """Queue ``block`` (it must not change afterwards: pass bytes, or a
        view of a buffer that is not reused)."""
        self._queue.put(bytes(block) if isinstance(block, bytearray) else block)

    def hexdigest(self) -> str:
        """Wait for every queued block, then return the hex digest."""
        if not self._closed:
            self._closed = True
            self._queue.put(_DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def close(self) -> None:
        """Stop the worker without a digest (after a failure)."""
        if not self._closed:
            self._closed = True
            while True:
                try:
                    self._queue.put_nowait(_DONE)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        pass
            self._thread.join()


def hash_ranges(
    ranges: Sequence[ByteRange], algorithm: str, progress: ProgressCallback | None = None, subject: str = ""
) -> str:
    """Return the hex digest (``sha1``, ``sha256``, ``sha512``) of the
    concatenated ranges.

    :raises PackageError: a file is truncated.
    """
    digest = hashlib.new(algorithm)
    meter = Meter(progress, "verify", subject or (ranges[0].name if ranges else ""), total_size(ranges))
    for data in iter_ranges(ranges):
        digest.update(data)
        meter.advance(len(data))
    meter.finish()
    return digest.hexdigest()
