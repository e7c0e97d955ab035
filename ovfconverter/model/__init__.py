"""Layer 1: the data ovfconverter works on, as plain dataclasses, and units.

No I/O happens here.  :mod:`~ovfconverter.model.machine` is the neutral
machine every system is read into and written from;
:mod:`~ovfconverter.model.envelope` is the OVF side,
:mod:`~ovfconverter.model.ganeti` the Ganeti side, :mod:`~ovfconverter.model.units`
converts DSP0004 allocation units and Ganeti sizes.
"""

from ovfconverter.model.envelope import (
    DeploymentConfiguration,
    Envelope,
    FileReference,
    Network,
    OperatingSystem,
    ProductProperty,
    ProductSection,
    ResourceItem,
    ResourceType,
    VirtualDisk,
    VirtualHardware,
    VirtualSystem,
)
from ovfconverter.model.ganeti import GanetiDisk, GanetiNic, GanetiSection, InstanceExport
from ovfconverter.model.machine import Machine

__all__ = [
    "DeploymentConfiguration",
    "Envelope",
    "FileReference",
    "GanetiDisk",
    "GanetiNic",
    "GanetiSection",
    "InstanceExport",
    "Machine",
    "Network",
    "OperatingSystem",
    "ProductProperty",
    "ProductSection",
    "ResourceItem",
    "ResourceType",
    "VirtualDisk",
    "VirtualHardware",
    "VirtualSystem",
]
