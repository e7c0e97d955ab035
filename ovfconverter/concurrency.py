"""Running independent jobs (one per disk) side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def run_all(job: Callable[[_T], _R], items: Sequence[_T], workers: int) -> list[_R]:
    """Return ``[job(item) for item in items]``, running up to ``workers``
    jobs at once (in this thread when there is only one item).  The first
    failure is raised once the jobs under way have ended; jobs not yet
    started are cancelled."""
    if len(items) <= 1 or workers <= 1:
        return [job(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), workers)) as pool:
        futures = [pool.submit(job, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
