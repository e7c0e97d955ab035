"""Results that appear only on success.

A :class:`Staging` is a private temporary folder (mode 0700) created inside
the output folder, so that it is on the same file system as the result.
Everything is written there; :meth:`Staging.commit` moves the finished
result to its final name with one ``rename``.  Leaving the ``with`` block
without committing (an error, Ctrl-C, SIGTERM turned into an exception)
removes the folder and everything in it, and nothing else.  An existing
result is replaced only when asked, and only once the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from types import TracebackType

from ovfconverter.errors import OutputExistsError, PackageError
from ovfconverter.parameters import Parameter


def fsync_path(path: str) -> None:
    """Flush a file or folder to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Staging:
    """A temporary folder in ``parent`` holding ``work/`` (scratch files)
    and ``result/`` (what becomes the final file or folder).

    :param parent: the output folder; created if missing (and removed
        again on failure if it was created here).
    :param label: used in the temporary folder's name, for people looking.
    :raises PackageError: ``parent`` cannot be created or written.
    """

    def __init__(self, parent: str, label: str = "ovfconverter") -> None:
        self.parent = os.path.abspath(parent)
        self._created_parent = False
        try:
            if not os.path.isdir(self.parent):
                os.makedirs(self.parent)
                self._created_parent = True
            self.root = tempfile.mkdtemp(prefix=f".{label}-", suffix=".tmp", dir=self.parent)
        except OSError as exc:
            raise PackageError(f"cannot write to the output folder: {exc.strerror}", self.parent) from None
        self.work = os.path.join(self.root, "work")
        self.result = os.path.join(self.root, "result")
        os.mkdir(self.work, 0o700)
        self.committed = False

    def check_target(self, final: str, force: bool) -> None:
        """Refuse early when ``final`` exists and ``force`` is false.

        :raises OutputExistsError: it exists.
        """
        if os.path.lexists(final) and not force:
            raise OutputExistsError((f"{final} already exists; use ", Parameter("force"), " to replace it"))

    def commit(self, final: str, force: bool) -> None:
        """Move ``result`` (a file or folder the caller made) to ``final``.

        :param final: absolute path in :attr:`parent`.
        :param force: replace an existing ``final``.
        :raises OutputExistsError: ``final`` exists and ``force`` is false.
        """
        self.check_target(final, force)
        old = os.path.join(self.root, "replaced")
        replaced = False
        if os.path.lexists(final):
            os.rename(final, old)
            replaced = True
        try:
            os.rename(self.result, final)
        except BaseException:
            if replaced:
                os.rename(old, final)
            raise
        self.committed = True
        fsync_path(self.parent)

    def cleanup(self) -> None:
        """Remove the temporary folder, and the output folder if this run
        created it and it is empty."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self._created_parent and not self.committed:
            try:
                os.rmdir(self.parent)
            except OSError:
                pass

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
