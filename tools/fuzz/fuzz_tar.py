#!/usr/bin/env python3
"""atheris target: the member table of an OVA (``read_member_table``), read
from an in-memory stream.

Expected: a member list whose byte ranges lie inside the archive and whose
names are relative and never climb out with ``..``; or an
OVFConverterError.  Crash: anything else.
"""

from __future__ import annotations

import io
import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.package.tar import read_member_table


def one_input(data: bytes) -> None:
    members = read_member_table(io.BytesIO(data), len(data), "fuzz.ova")
    names = set()
    for member in members:
        assert member.offset >= 0 and member.size >= 0 and member.offset + member.size <= len(data), member
        assert member.name and not member.name.startswith("/"), member
        assert ".." not in member.name.split("/"), member
        assert not any(ord(ch) < 32 or ch == "\\" for ch in member.name), member
        assert member.name not in names, member
        names.add(member.name)


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
