"""Write-behind: make a file durable bit by bit while it is still being
written, so that the ``fsync`` at the end has little left to wait for.

A raw dump of 256 MiB of data sits in the page cache when its conversion
ends; its ``fsync`` then waits about 0.3 s on the machines we measure, as
long as the conversion itself.  Most of that is not the write-back of the
pages (the kernel writes 256 MiB in well under 0.1 s when asked to start
with ``sync_file_range``) but the flush of the disk's own cache and the
journal commit that only an ``fsync``/``fdatasync`` does: measured, an
``fsync`` after ``sync_file_range`` had finished still took 0.22 s.  So a
thread of its own calls ``fdatasync`` on the file every few tens of
milliseconds while qemu-img or our own reader writes it; each call makes
what was written so far durable, in parallel with the conversion (the
system call releases the GIL), and the final ``fsync`` only covers the tail
(0.04 s instead of 0.3 s for that dump).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

INTERVAL = 0.04
"""Seconds between the end of one ``fdatasync`` of a file being written and
the start of the next."""


@contextlib.contextmanager
def write_behind(path: str, interval: float = INTERVAL) -> Iterator[None]:
    """While the ``with`` block runs (another process or thread writes
    ``path``), ``fdatasync`` ``path`` every ``interval`` seconds from a
    thread of its own.  ``path`` need not exist yet: it is opened
    (read-only) once it does.  Errors end the thread quietly: it only saves
    time, the caller's own ``fsync`` still makes the file durable and
    reports them."""
    done = threading.Event()

    def run() -> None:
        fd = -1
        try:
            while not done.wait(interval):
                if fd < 0:
                    with contextlib.suppress(OSError):
                        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block it
                if fd >= 0:
                    os.fdatasync(fd)
        except OSError:
            return
        finally:
            if fd >= 0:
                os.close(fd)

    thread = threading.Thread(target=run, name=f"write-behind {os.path.basename(path)}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
