"""The xen target (``convert SOURCE --to xen``): a domain folder holding
Xen's ``xl.cfg`` as ``NAME.cfg`` and its disks, raw by default; then
``xl create``.

The configuration is :func:`~ovfconverter.hub.xen.machine_to_xl` (HVM with
the devices of :attr:`~ovfconverter.hub.devices.TargetKind.XEN_HVM`, or PV
for Ganeti xen-pvm instances), written by
:func:`~ovfconverter.formats.xl_cfg.write_xl_cfg`; the folder as
:mod:`ovfconverter.targets.domain` says.
"""

from __future__ import annotations

from ovfconverter.errors import OptionError
from ovfconverter.formats.xl_cfg import write_xl_cfg
from ovfconverter.hub.xen import XenSettings, machine_to_xl
from ovfconverter.model.libvirt import InterfaceType
from ovfconverter.model.machine import Machine
from ovfconverter.parameters import Parameter
from ovfconverter.targets.domain import DomainFolderTarget


class XenTarget(DomainFolderTarget):
    """A Xen domain folder; options:
    :class:`~ovfconverter.targets.domain.DomainOptions` (NICs join bridges
    only)."""

    name = "xen"
    label = "ovfconverter-xen"
    suffix = "cfg"
    default_format = "raw"

    def check(self) -> None:
        """Refuse a disk format other than qcow2 or raw, and NICs on
        anything but a bridge.

        :raises OptionError: either."""
        super().check()
        for number, attach in sorted(self.options.attachments.items()):
            if attach.type is not InterfaceType.BRIDGE:
                raise OptionError((Parameter("attachments", number), ": Xen NICs join bridges only (bridge=NAME)"))

    def describe(
        self, machine: Machine, paths: tuple[str, ...], fmt: str, removable: tuple[str | None, ...] = ()
    ) -> tuple[bytes, tuple[str, ...]]:
        options = self.options
        bridges = {number: attach.source for number, attach in options.attachments.items()}
        result = machine_to_xl(
            machine,
            XenSettings(disk_paths=paths, disk_format=fmt, policy=options.policy, bridges=bridges, name=options.name),
        )
        return write_xl_cfg(result.config).encode(), result.notes
