"""Shared plumbing of the atheris targets in this folder.

Each target defines ``one_input(data: bytes) -> None`` that feeds ``data``
to one parser and checks what comes back.  :func:`main` wraps it so that an
:class:`~ovfconverter.errors.OVFConverterError` (the library refusing the
input, as it must) is an expected outcome, and anything else that escapes
(``ValueError``, ``OverflowError``, an ``AssertionError`` of the target's own
checks...) is a crash that libFuzzer records under ``-artifact_prefix``.

ovfconverter is imported inside :func:`atheris.instrument_imports` by the
targets, so coverage guides the search through the library's own code.

libFuzzer stops at the first crash (atheris does not support ``-fork``).
To hunt past a bug already reported, name it in the environment variable
``OVFCONVERTER_FUZZ_IGNORE``: comma-separated ``ExceptionName`` or
``ExceptionName:text in its message`` patterns, which are then treated as
expected, e.g. ``OVFCONVERTER_FUZZ_IGNORE="ValueError:fromhex,Hang"``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # run from a checkout without installing

try:
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - told to the user, not a crash
    # Run as a script by a python without atheris: libFuzzer's -jobs and
    # -fork re-run sys.argv[0], whose "#!/usr/bin/env python3" may not be
    # the project's virtual environment.  Switch to it once.
    VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
    if os.path.exists(VENV_PYTHON) and not os.environ.get("OVFCONVERTER_FUZZ_REEXEC"):
        os.environ["OVFCONVERTER_FUZZ_REEXEC"] = "1"
        os.execv(VENV_PYTHON, [VENV_PYTHON, *sys.argv])
    sys.exit("atheris is not installed: .venv/bin/pip install atheris (see tools/fuzz/README.md)")


def instrumented() -> Any:
    """Context manager: imports inside it are instrumented for coverage
    (only ovfconverter's modules; the standard library and lxml are not)."""
    return atheris.instrument_imports(include=["ovfconverter"])


def _ignored() -> list[tuple[str, str]]:
    patterns = []
    for item in os.environ.get("OVFCONVERTER_FUZZ_IGNORE", "").split(","):
        name, _, text = item.strip().partition(":")
        if name:
            patterns.append((name, text))
    return patterns


def printed(exc: Exception) -> str:
    """The line the command line prints for a refusal, checked: one line,
    every character printable (the terminal escaping holds whatever the
    input put in the message)."""
    from ovfconverter.cli.terminal import escape_line

    line = escape_line(f"ovfconverter: error: {exc}")
    if not line.isprintable():
        raise AssertionError(f"the error line would print raw control characters: {line!r}")
    return line


def main(one_input: Callable[[bytes], None]) -> None:
    """Run libFuzzer on ``one_input`` with the command line's options
    (corpus folders, ``-max_total_time=``, ``-artifact_prefix=``...).  A
    refusal (an OVFConverterError) is expected; it is formatted as the
    command line prints it (:func:`printed`)."""
    from ovfconverter.errors import OVFConverterError

    ignored = _ignored()

    def test_one_input(data: bytes) -> None:
        try:
            one_input(data)
        except OVFConverterError as exc:
            printed(exc)  # a refusal: expected, and printable
        except Exception as exc:
            if not any(type(exc).__name__ == name and text in str(exc) for name, text in ignored):
                raise

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
