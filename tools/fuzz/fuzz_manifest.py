#!/usr/bin/env python3
"""atheris target: an OVF manifest (``parse_manifest``), then writing the
entries back (``format_manifest``) and reading them again.

Expected: entries with a supported algorithm, a lower-case digest of the
right length, consistent digests per file, and the same entries after the
round trip; or an OVFConverterError.  Crash: anything else.
"""

from __future__ import annotations

import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.formats.manifest import DIGEST_LENGTHS, format_manifest, parse_manifest


def one_input(data: bytes) -> None:
    entries = parse_manifest(data, "fuzz.mf")
    seen: dict[tuple[str, str], str] = {}
    for entry in entries:
        assert len(entry.digest) == DIGEST_LENGTHS[entry.algorithm], entry
        assert entry.digest == entry.digest.lower(), entry
        assert seen.setdefault((entry.algorithm, entry.filename), entry.digest) == entry.digest, entry
    again = parse_manifest(format_manifest(entries), "again.mf")
    assert [(e.algorithm, e.filename, e.digest) for e in again] == [
        (e.algorithm, e.filename, e.digest) for e in entries
    ], "format_manifest then parse_manifest changed the entries"


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
