"""Stage timers: how long each step of a conversion takes, logged at DEBUG
level (the command line's ``--debug``), so that where the time goes is
measured rather than guessed (doc/performance.rst).

A stage costs two clock reads when DEBUG is on and one level check when it
is off.  Times are wall-clock seconds; ``cpu`` is the CPU time of the whole
process (every thread) over the stage, so ``cpu`` above ``wall`` means
threads worked in parallel, and ``wall`` far above ``cpu`` means waiting
(for qemu-img, the disk, an fsync).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("ovfconverter.timing")


@contextmanager
def stage(name: str, subject: str = "") -> Iterator[None]:
    """Time the ``with`` block and log ``stage NAME [SUBJECT]: W s wall,
    C s CPU`` at DEBUG level when it ends (also when it raises)."""
    if not log.isEnabledFor(logging.DEBUG):
        yield
        return
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        log.debug(
            "stage %s%s: %.3f s wall, %.3f s CPU",
            name,
            f" [{subject}]" if subject else "",
            time.perf_counter() - wall,
            time.process_time() - cpu,
        )


def since_start() -> float | None:
    """Seconds since this process started (the interpreter's start-up
    included), from ``/proc/self/stat``; ``None`` where that is not
    readable.  Resolution: one clock tick (10 ms)."""
    try:
        with open("/proc/self/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of proc(5), counted after the command name
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
