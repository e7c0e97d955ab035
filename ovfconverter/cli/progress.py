"""Progress bars (tqdm) for the command line: one bar per long step."""

from __future__ import annotations

import sys
from typing import Any

from ovfconverter.cli.terminal import escape_line
from ovfconverter.progress import ProgressEvent

_LABELS = {
    "verify": "verifying",
    "convert": "converting",
    "copy": "copying",
    "decompress": "decompressing",
    "compress": "compressing",
    "pack": "packing",
    "hash": "hashing",
    "upload": "uploading",
}


class ProgressBars:
    """A :data:`~ovfconverter.progress.ProgressCallback` that draws a tqdm
    bar (bytes, rate, ETA) on stderr for each (step, subject); the label
    (a file or member name from the package) is escaped."""

    def __init__(self) -> None:
        self._bars: dict[tuple[str, str], Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm import tqdm

        key = (event.step, event.subject)
        bar = self._bars.get(key)
        if bar is None:
            bar = tqdm(
                total=event.total,
                desc=escape_line(f"{_LABELS.get(event.step, event.step)} {event.subject}"),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                mininterval=0,  # events already come at most every 8 MiB (progress.Meter): draw each
            )
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
