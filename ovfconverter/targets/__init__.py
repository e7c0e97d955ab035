"""Layer 4: the targets a conversion writes.

:data:`TARGETS` maps a target's name (``convert --to NAME``) to its class
(``"module:Class"``, imported on first use so that the command line starts
quickly).  A new target is one module here plus one entry; see
:class:`~ovfconverter.pipelines.target.Target` for what it implements.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ovfconverter.errors import OptionError

if TYPE_CHECKING:
    from ovfconverter.pipelines.target import AnyTarget

TARGETS: dict[str, str] = {
    "ganeti": "ovfconverter.targets.ganeti:GanetiTarget",
    "ovf": "ovfconverter.targets.ovf:OvfTarget",
    "ova": "ovfconverter.targets.ovf:OvaTarget",
    "libvirt": "ovfconverter.targets.libvirt:LibvirtTarget",
    "xen": "ovfconverter.targets.xen:XenTarget",
    "openstack": "ovfconverter.targets.openstack:OpenStackTarget",
}
"""Target name -> ``module:Class`` of its :class:`~ovfconverter.pipelines.target.Target`."""


def target_class(name: str) -> type[AnyTarget]:
    """The target class registered as ``name``.

    :raises OptionError: no such target.
    """
    where = TARGETS.get(name)
    if where is None:
        raise OptionError(f"unknown target {name!r} (known: {', '.join(sorted(TARGETS))})")
    module, attr = where.split(":")
    found: type[AnyTarget] = getattr(importlib.import_module(module), attr)
    return found
