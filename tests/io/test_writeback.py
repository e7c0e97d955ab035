"""Layer 0: write-behind (``io/writeback``) makes a file durable while it is
written.

Durability is seen through the page cache: ``POSIX_FADV_DONTNEED`` drops a
file's clean pages at once but cannot drop dirty ones (it only starts their
write-back), so after it ``fincore`` finds the pages of a file nobody
synced still resident, and none of a file that was synced.  The test first
checks that this file system shows the difference (tmpfs, for one, keeps
every page) and skips with that reason when it does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ovfconverter.io.writeback import write_behind

SIZE = 32 << 20
BLOCK = os.urandom(1 << 20)


def _write(path: Path, sync: bool = False) -> None:
    with open(path, "wb") as stream:
        for _ in range(SIZE // len(BLOCK)):
            stream.write(BLOCK)
        stream.flush()
        if sync:
            os.fdatasync(stream.fileno())


def _resident_after_dropping(path: Path) -> int:
    """Bytes of ``path`` still in the page cache once its clean pages are
    dropped (``fincore``, util-linux)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[0])


@pytest.fixture
def showing(tmp_path: Path) -> Path:
    """A folder whose file system shows durability through the page cache."""
    if shutil.which("fincore") is None:
        pytest.skip("fincore (util-linux) is not installed")
    for attempt in range(10):  # the kernel may be writing everything back just now: try again
        # new names each time: ext4 starts the write-back of a file truncated and written again at its close
        unsynced, synced = tmp_path / f"unsynced{attempt}", tmp_path / f"synced{attempt}"
        _write(unsynced)
        _write(synced, sync=True)
        if _resident_after_dropping(unsynced) > SIZE // 2 and _resident_after_dropping(synced) < SIZE // 8:
            return tmp_path
        time.sleep(0.3)
    pytest.skip(f"the file system of {tmp_path} does not show synced pages apart from dirty ones")


def test_a_file_written_inside_the_block_is_durable_without_its_own_fsync(showing: Path) -> None:
    path = showing / "dump.raw"
    with write_behind(str(path), interval=0.01):
        _write(path)
        time.sleep(1.0)  # many intervals: the thread's fdatasync runs after the last write
    assert _resident_after_dropping(path) < SIZE // 8


def test_the_file_may_appear_late_or_never(tmp_path: Path) -> None:
    late = tmp_path / "late.raw"
    with write_behind(str(late), interval=0.01):
        time.sleep(0.05)
        _write(late)
    assert late.read_bytes()[: len(BLOCK)] == BLOCK
    with write_behind(str(tmp_path / "never"), interval=0.01):
        time.sleep(0.05)
    assert not (tmp_path / "never").exists()


def test_the_thread_ends_with_the_block_also_on_errors_and_unsyncable_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it must not block the thread, and its fdatasync fails: the thread ends quietly
    with pytest.raises(KeyError), write_behind(str(fifo), interval=0.01):
        time.sleep(0.05)
        raise KeyError("the caller's own error goes through")
    assert not [t for t in threading.enumerate() if t.name.startswith("write-behind")]
