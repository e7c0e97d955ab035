"""``info`` of any source that is not an OVF package, through the neutral
model: the :class:`~ovfconverter.model.machine.Machine` the source's reader
gives (a Ganeti export's ``config.ini`` and its dumps), and what reading it
noticed.  (An OVF package's report,
:func:`~ovfconverter.info.read.read_package`, adds the package's own facts
to the same machine, one per VirtualSystem: :mod:`ovfconverter.info.systems`.)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ovfconverter.errors import os_errors_as_ours
from ovfconverter.info.model import plain
from ovfconverter.model.machine import Machine, Needs
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import SourceOptions
from ovfconverter.sources import detect_source, source_class

MACHINE_JSON_VERSION = 1
"""Bumped only when a field changes meaning or disappears."""


@dataclass
class MachineInfo:
    """What ``info`` shows of a source through the machine model.

    :ivar kind: the source kind (``ganeti``).
    :ivar machine: what it describes (sizes in bytes).
    :ivar warnings: what reading it noticed.
    """

    path: str
    kind: str
    name: str
    machine: Machine
    warnings: list[str] = field(default_factory=list)


@os_errors_as_ours
def read_source(path: str, allow_hardlinks: bool = False) -> MachineInfo:
    """Describe the source at ``path`` (see
    :func:`~ovfconverter.sources.detect_source`) without converting
    anything; nothing is written.

    :raises OVFConverterError: the source cannot be read.
    """
    kind, resolved = detect_source(path)
    with Run(os.getcwd(), "ovfconverter-info") as run:
        options = SourceOptions(allow_hardlinks=allow_hardlinks)
        with source_class(kind).open(resolved, options, Needs(), run) as source:
            return MachineInfo(path, kind, source.name, source.machine, [*run.warnings, *source.warnings])


def machine_json(info: MachineInfo) -> dict[str, Any]:
    """The report as JSON data: ``path``, ``kind``, ``name``, ``machine``
    (every field of :class:`~ovfconverter.model.machine.Machine`, enums as
    their values, sizes in bytes), ``warnings``, ``format_version``."""
    data = {
        "path": info.path,
        "kind": info.kind,
        "name": info.name,
        "machine": plain(info.machine),
        "warnings": list(info.warnings),
        "format_version": MACHINE_JSON_VERSION,
    }
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result
