"""One conversion under way: where it writes, its progress, its warnings.

A :class:`Run` replaces the ``(target, options, work, progress)`` values
that every step used to pass along.  Its :class:`~ovfconverter.package.staging.Staging`
(the private folder results are built in) is created on first use, so a
source refused before anything is written leaves no folder behind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from types import TracebackType

from ovfconverter.diagnostics import Code, Diagnostic
from ovfconverter.package.staging import Staging
from ovfconverter.parameters import Part
from ovfconverter.progress import ProgressCallback

log = logging.getLogger("ovfconverter")


class Run:
    """The state of one conversion.

    :param output_dir: the folder the result goes into (created if needed).
    :param label: names the temporary folder (``ovfconverter-import``...).
    :param progress: receives progress events, or ``None``.
    :param threads: how many disks (and compression threads per disk) at
        once; default: the number of CPUs.
    :ivar warnings: every warning, in order, each a
        :class:`~ovfconverter.diagnostics.Diagnostic` (its text is
        ``"subject: message"``), logged to the ``ovfconverter`` logger as it
        comes.
    """

    def __init__(
        self, output_dir: str, label: str, progress: ProgressCallback | None = None, threads: int | None = None
    ) -> None:
        self.output_dir = os.path.abspath(output_dir)
        self.label = label
        self.progress = progress
        self.threads = threads or os.cpu_count() or 1
        self.warnings: list[str] = []  # of Diagnostic
        self._staging: Staging | None = None

    @property
    def staging(self) -> Staging:
        """The private folder in :attr:`output_dir` (created now if it is not
        yet).

        :raises PackageError: the output folder cannot be written.
        """
        if self._staging is None:
            self._staging = Staging(self.output_dir, self.label)
        return self._staging

    @property
    def work(self) -> str:
        """The scratch folder (removed at the end, whatever happens)."""
        return self.staging.work

    def warn(self, message: str | Sequence[Part], subject: str | None = None, code: Code = Code.SOURCE) -> None:
        """Record and log a warning.

        :param message: its text, or its parts where it names a caller's
            parameter (a :class:`~ovfconverter.diagnostics.Diagnostic`
            keeps its parts).

        :param subject: the file or member it is about.
        :param code: what it reports (:class:`~ovfconverter.diagnostics.Code`).
        """
        diagnostic = Diagnostic(message, subject, code)
        self.warnings.append(diagnostic)
        log.warning("%s", diagnostic)

    def close(self) -> None:
        """Remove the private folder (nothing of it stays once the result is
        committed)."""
        if self._staging is not None:
            self._staging.cleanup()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
