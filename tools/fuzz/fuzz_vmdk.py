#!/usr/bin/env python3
"""atheris target: a streamOptimized VMDK (``read_stream_optimized``),
converted from a temporary file into a sparse raw file.

The virtual size is capped at 64 MiB (``max_size``; the reader refuses
larger disks as UnsafeInputError) so that one input cannot fill the disk;
the output is sparse and removed after each input.  Expected: the raw
file, as long as the header's capacity; or an OVFConverterError, and then no
output left behind.  Crash: anything else.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

from _harness import instrumented, main

with instrumented():
    from ovfconverter.io.ranges import ByteRange
    from ovfconverter.vmdk.reader import read_stream_optimized

MAX_SIZE = 64 << 20
WORKDIR = tempfile.mkdtemp(prefix="fuzz-vmdk-")
atexit.register(shutil.rmtree, WORKDIR, True)
SOURCE = os.path.join(WORKDIR, "input.vmdk")
DEST = os.path.join(WORKDIR, "output.raw")


def one_input(data: bytes) -> None:
    with open(SOURCE, "wb") as stream:
        stream.write(data)
    try:
        size = read_stream_optimized(
            ByteRange(SOURCE, 0, len(data), "input.vmdk"), DEST, "input.vmdk", threads=1, max_size=MAX_SIZE
        )
    except BaseException:
        assert not os.path.exists(DEST), "a failed conversion left its output behind"
        raise
    try:
        assert 0 <= size <= MAX_SIZE and os.path.getsize(DEST) == size
    finally:
        os.unlink(DEST)


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
