#!/usr/bin/env python3
"""atheris target: an OVF descriptor through everything an import does
before touching a disk.

``read_envelope`` (strict and not), then on every envelope: ``describe_hardware``
for every VirtualSystem and deployment profile, ``build_plan`` (default
options, and each system and profile chosen explicitly), ``write_config`` of
the plan's export (with the disks an import adds), and Ganeti's
ConfigParser (strict, ``%`` interpolation) and ``read_config`` on the text:
it must hold no section but the export's own.

Expected: an envelope, or an OVFConverterError.  Crash: anything else.
Inputs are whole descriptors; run with ``-max_len=65536`` at least (see
README.md).
"""

from __future__ import annotations

import configparser
import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.errors import ConfigError, OVFConverterError
    from ovfconverter.formats.config_ini import read_config, write_config
    from ovfconverter.formats.ovf_reader import read_envelope
    from ovfconverter.model.envelope import Envelope
    from ovfconverter.model.ganeti import GanetiDisk
    from ovfconverter.model.hardware import describe_hardware
    from ovfconverter.model.units import bytes_to_mib_ceil
    from ovfconverter.pipelines.importer import build_plan
    from ovfconverter.targets.ganeti import ImportOptions

SECTIONS = {"export", "instance", "hypervisor", "backend", "os", "os_private"}


def check_config_text(text: str) -> None:
    parser = configparser.ConfigParser(strict=True)  # as Ganeti reads config.ini
    parser.read_string(text)
    extra = set(parser.sections()) - SECTIONS
    assert not extra, f"write_config let a value add sections {sorted(extra)}"
    for section in parser.sections():
        for key in parser.options(section):
            parser.get(section, key)  # interpolation must not fail
    read_config(text.encode("utf-8"), "config.ini")


def exercise(envelope: Envelope) -> None:
    profiles = [None] + [option.id for option in envelope.deployment_options[:3]]
    for system in envelope.virtual_systems[:4]:
        for profile in profiles:
            describe_hardware(envelope, system, profile)
    variants = [ImportOptions(os_type="x", name="vm")] + [
        ImportOptions(os_type="x", name="vm", virtual_system=system.id, deployment_option=profile)
        for system in envelope.virtual_systems[:2]
        for profile in profiles[:2]
    ]
    for options in variants:
        try:
            plan = build_plan(envelope, options, "fuzz.ovf")
        except OVFConverterError:
            continue
        config = plan.config
        for with_disks in (False, True):
            if with_disks:
                config.disks = [
                    GanetiDisk(
                        size=bytes_to_mib_ceil(disk.blank_size) if disk.blank_size is not None else 1,
                        dump=disk.dump,
                        ivname=disk.ivname,
                        name=disk.name,
                    )
                    for disk in plan.disks
                ]
            try:
                text = write_config(config)
            except ConfigError:
                continue
            check_config_text(text)


def one_input(data: bytes) -> None:
    try:
        envelope = read_envelope(data, "fuzz.ovf", strict=False)
    except OVFConverterError:
        return
    exercise(envelope)
    try:
        strict = read_envelope(data, "fuzz.ovf", strict=True)
    except OVFConverterError:
        return
    if strict != envelope:
        exercise(strict)


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
