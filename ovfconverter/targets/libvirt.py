"""The libvirt target (``convert SOURCE --to libvirt``): a domain folder
holding the libvirt domain XML ``NAME.xml`` (``<domain type='kvm'>``, or
``qemu`` for TCG) and its disks, qcow2 by default, and a cloud-init seed's
CD-ROM when asked; then ``virsh define``.

The domain is :func:`~ovfconverter.hub.libvirt.machine_to_domain` (devices
from :mod:`ovfconverter.hub.devices` for
:attr:`~ovfconverter.hub.devices.TargetKind.LIBVIRT`), written by
:func:`~ovfconverter.formats.libvirt_xml.write_domain`; the folder as
:mod:`ovfconverter.targets.domain` says.
"""

from __future__ import annotations

from ovfconverter.formats.libvirt_xml import write_domain
from ovfconverter.hub.libvirt import LibvirtSettings, machine_to_domain
from ovfconverter.model.machine import Machine
from ovfconverter.targets.domain import DomainFolderTarget


class LibvirtTarget(DomainFolderTarget):
    """A libvirt domain folder; options:
    :class:`~ovfconverter.targets.domain.DomainOptions`."""

    name = "libvirt"
    label = "ovfconverter-libvirt"
    suffix = "xml"
    default_format = "qcow2"
    takes_seed = True

    def describe(
        self, machine: Machine, paths: tuple[str, ...], fmt: str, removable: tuple[str | None, ...] = ()
    ) -> tuple[bytes, tuple[str, ...]]:
        options = self.options
        result = machine_to_domain(
            machine,
            LibvirtSettings(
                disk_paths=paths,
                disk_format=fmt,
                removable_paths=removable,
                domain_type=options.domain_type,
                policy=options.policy,
                attachments=options.attachments,
                name=options.name,
            ),
        )
        return write_domain(result.domain), result.notes
