#!/usr/bin/env python3
"""atheris target: telling a disk image's format from its bytes
(``inspect_image``), on an in-memory image.

Expected: an Inspection, always (the function reports problems, it does
not raise).  Crash: any exception.
"""

from __future__ import annotations

import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.disks.inspector import Inspection, inspect_image


def one_input(data: bytes) -> None:
    def read_at(offset: int, size: int) -> bytes:
        assert offset >= 0 and size >= 0, (offset, size)
        return data[offset : offset + size]

    result = inspect_image(read_at, len(data))
    assert isinstance(result, Inspection) and result.format


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
