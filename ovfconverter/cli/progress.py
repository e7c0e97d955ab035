"""Progress bars (tqdm) for the command line: one bar per long step, sizes
and rates in IEC units (KiB, MiB, GiB: powers of 1024) as everywhere else
the command line shows a size (:func:`~ovfconverter.model.units.format_bytes`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ovfconverter.cli.terminal import escape_line
from ovfconverter.model.units import format_bytes
from ovfconverter.progress import ProgressEvent

_LABELS = {
    "verify": "verifying",
    "convert": "converting",
    "copy": "copying",
    "decompress": "decompressing",
    "pack": "packing",
    "hash": "hashing",
    "upload": "uploading",
}


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_iec}/{total_iec} [{elapsed}<{remaining}, {rate_iec}]"
"""A bar whose total is known: label, percentage, bar, bytes done and in
all, time spent and left, rate."""
COUNTER_FORMAT = "{desc}: {n_iec} [{elapsed}, {rate_iec}]"
"""A step whose total is unknown."""


def iec_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """tqdm's format fields plus ``n_iec``, ``total_iec`` and ``rate_iec``:
    bytes done, in all and per second in IEC units (``512 B``, ``1.5 GiB``,
    ``254.0 MiB/s``)."""
    total, rate = fields.get("total"), fields.get("rate")
    return {
        **fields,
        "n_iec": format_bytes(int(fields.get("n") or 0)),
        "total_iec": "?" if total is None else format_bytes(int(total)),
        "rate_iec": "?" if not rate else f"{format_bytes(int(rate))}/s",
    }


def _bar(total: int | None, desc: str) -> Any:
    from tqdm import tqdm

    class IecBar(tqdm):  # type: ignore[type-arg]
        @property
        def format_dict(self) -> dict[str, Any]:
            return iec_fields(super().format_dict)

    return IecBar(
        total=total,
        desc=desc,
        unit="B",
        bar_format=COUNTER_FORMAT if total is None else BAR_FORMAT,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        mininterval=0,  # events already come at most every 8 MiB (progress.Meter): draw each
    )


class ProgressBars:
    """A :data:`~ovfconverter.progress.ProgressCallback` that draws a tqdm
    bar (bytes, rate, ETA) on stderr for each (step, subject); the label
    (a file or member name from the package) is escaped."""

    def __init__(self) -> None:
        self._bars: dict[tuple[str, str], Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.step, event.subject)
        bar = self._bars.get(key)
        if bar is None:
            bar = _bar(event.total, escape_line(f"{_LABELS.get(event.step, event.step)} {event.subject}"))
            self._bars[key] = bar
        delta = event.done - bar.n
        if delta > 0:
            bar.update(delta)
        if event.total is not None and event.done >= event.total:
            bar.close()
            del self._bars[key]

    def close(self) -> None:
        """Close every bar still open."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
