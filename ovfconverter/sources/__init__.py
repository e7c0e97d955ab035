"""Layer 4: the sources a conversion reads, and how a path's kind is told.

:data:`SOURCES` maps a kind to the class that opens it
(``"module:Class"``, imported on first use so that the command line starts
quickly).  A new source is one module here plus one entry.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from ovfconverter.errors import OptionError, PackageError

if TYPE_CHECKING:
    from ovfconverter.pipelines.source import Source

SOURCES: dict[str, str] = {
    "ovf": "ovfconverter.sources.ovf:OvfSource",
    "ganeti": "ovfconverter.sources.ganeti:GanetiSource",
}
"""Source kind -> ``module:Class`` of its :class:`~ovfconverter.pipelines.source.Source`."""

CONFIG_INI = "config.ini"


def source_class(kind: str) -> type[Source]:
    """The source class registered as ``kind``.

    :raises OptionError: no such kind.
    """
    where = SOURCES.get(kind)
    if where is None:
        raise OptionError(f"unknown source kind {kind!r} (known: {', '.join(sorted(SOURCES))})")
    module, name = where.split(":")
    found: type[Source] = getattr(importlib.import_module(module), name)
    return found


def detect_source(path: str) -> tuple[str, str]:
    """Tell what ``path`` is: ``("ovf", path)`` for an ``.ova``, an ``.ovf``
    or a folder holding an ``.ovf``; ``("ganeti", CONFIG)`` for a
    ``config.ini`` or a folder holding one (``CONFIG`` its path).

    :raises PackageError: none of these.
    """
    if os.path.isdir(path):
        config = os.path.join(path, CONFIG_INI)
        if os.path.isfile(config) and not any(name.lower().endswith(".ovf") for name in os.listdir(path)):
            return "ganeti", config
        return "ovf", path
    lowered = path.lower()
    if lowered.endswith((".ova", ".ovf")):
        return "ovf", path
    if lowered.endswith(".ini"):
        return "ganeti", path
    raise PackageError(
        "not a known source: expected an .ova, an .ovf (or a folder with one), "
        "or a Ganeti export's config.ini (or its folder)",
        path,
    )
