#!/usr/bin/env python3
"""atheris target: a whole folder package through the command line, to the
text the operator reads.

The input is split at ``\\n--8<--\\n`` into up to four files: the descriptor
``vm.ovf``, the manifest ``vm.mf``, the certificate ``vm.cert`` and a disk
file (written as ``disk.vmdk``, ``disk.raw`` and ``disk.qcow2``, the names
the seeds' descriptors use).  Then ``ovfconverter info``, ``info --json``,
``verify`` and ``import`` run in this process (``cli.main.main``), their
standard output and error captured.

Expected: exit status 0 or 1; every line of standard error begins with
``ovfconverter:``, none says ``internal error`` (an exception that was not
ours reached the command line); every character printed is printable or the
newline between lines (the terminal escaping holds whatever the input).
Crash: anything else, or an exception escaping ``main``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

from _harness import instrumented, main

with instrumented():
    from ovfconverter.cli.main import main as cli_main

SEPARATOR = b"\n--8<--\n"
FILES = ("vm.ovf", "vm.mf", "vm.cert")
DISKS = ("disk.vmdk", "disk.raw", "disk.qcow2")


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli_main(args)
        except SystemExit as exc:  # argparse; never expected here
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


def check(args: list[str], status: int, out: str, err: str) -> None:
    assert status in (0, 1), f"{args}: exit status {status}\n{err}"
    for line in err.splitlines():
        assert line.startswith("ovfconverter: "), f"{args}: a stray line on stderr: {line!r}"
        assert "internal error" not in line, f"{args}: {line}"
    bad = {char for char in out + err if not (char.isprintable() or char == "\n")}
    assert not bad, f"{args}: raw {sorted(map(hex, map(ord, bad)))} printed"


def one_input(data: bytes) -> None:
    parts = data.split(SEPARATOR, 3)
    with tempfile.TemporaryDirectory(prefix="fuzz-cli-") as tmp:
        package = os.path.join(tmp, "pkg")
        os.mkdir(package)
        for name, content in zip(FILES, parts, strict=False):
            with open(os.path.join(package, name), "wb") as stream:
                stream.write(content)
        if len(parts) == 4:
            for name in DISKS:
                with open(os.path.join(package, name), "wb") as stream:
                    stream.write(parts[3])
        ovf = os.path.join(package, "vm.ovf")
        out = os.path.join(tmp, "out")
        for args in (
            ["info", ovf],
            ["info", ovf, "--json"],
            ["verify", ovf],
            ["import", ovf, "-n", "vm1", "-o", "x+default", "--output-dir", out],
        ):
            check(args, *run(args))


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
