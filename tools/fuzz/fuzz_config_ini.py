#!/usr/bin/env python3
"""atheris target: a Ganeti ``config.ini`` (``read_config``), then writing
the export back (``write_config``) and reading the result.

Expected: an export with at most 16 disks and 8 NICs and non-negative disk
sizes; ``write_config`` either refuses it (ConfigError) or writes text that
Ganeti's ConfigParser (strict, ``%`` interpolation) reads with no section
but the export's own, and that ``read_config`` reads again.  Anything but
an OVFConverterError escaping is a crash.
"""

from __future__ import annotations

import configparser
import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.errors import ConfigError
    from ovfconverter.formats.config_ini import read_config, write_config
    from ovfconverter.model.ganeti import MAX_DISKS, MAX_NICS

SECTIONS = {"export", "instance", "hypervisor", "backend", "os", "os_private"}


def one_input(data: bytes) -> None:
    config = read_config(data, "fuzz.ini")
    assert len(config.disks) <= MAX_DISKS and len(config.nics) <= MAX_NICS
    assert all(disk.size >= 0 for disk in config.disks)
    try:
        text = write_config(config)
    except ConfigError:
        return
    parser = configparser.ConfigParser(strict=True)
    parser.read_string(text)
    extra = set(parser.sections()) - SECTIONS
    assert not extra, f"write_config let a value add sections {sorted(extra)}"
    for section in parser.sections():
        for key in parser.options(section):
            parser.get(section, key)
    read_config(text.encode("utf-8"), "again.ini")


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
