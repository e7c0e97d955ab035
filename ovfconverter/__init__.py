"""ovfconverter: move virtual machines between Ganeti exports and OVF/OVA
packages, safely and fast.

The library API::

    from ovfconverter import ImportOptions, import_package
    result = import_package("appliance.ova", ImportOptions(os_type="raw-image+default"))
    print(result.path, result.config.backend["vcpus"])

The model classes (:class:`Envelope`, :class:`InstanceExport`...) describe
what a descriptor and a ``config.ini`` hold.  Nothing here prints; problems are raised as :class:`OVFConverterError`
subclasses and warnings go to the ``ovfconverter`` logger (and into each
result's ``warnings``).  The pipelines are imported on first use, so that
``import ovfconverter`` (and the command line) start quickly.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ovfconverter.errors import (
    CloudError,
    ConfigError,
    DescriptorError,
    DiskImageError,
    FileAccessError,
    Interrupted,
    ManifestError,
    MissingToolError,
    OptionError,
    OutputExistsError,
    OVFConverterError,
    PackageError,
    QemuImgError,
    UnsafeInputError,
    UsageError,
)
from ovfconverter.model import (
    DeploymentConfiguration,
    Envelope,
    FileReference,
    GanetiDisk,
    GanetiNic,
    GanetiSection,
    InstanceExport,
    Machine,
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
from ovfconverter.progress import ProgressCallback, ProgressEvent

if TYPE_CHECKING:
    __version__: str
    from ovfconverter.info import PackageInfo, VerifyReport, read_package, to_json, verify_package
    from ovfconverter.pipelines.convert import convert
    from ovfconverter.pipelines.exporter import export_instance
    from ovfconverter.pipelines.importer import import_package
    from ovfconverter.targets.ganeti import ImportedDisk, ImportOptions, ImportResult
    from ovfconverter.targets.ovf import ExportedFile, ExportOptions, ExportResult


logging.getLogger("ovfconverter").addHandler(logging.NullHandler())

_LAZY = {
    "ExportOptions": "ovfconverter.targets.ovf",
    "ExportResult": "ovfconverter.targets.ovf",
    "ExportedFile": "ovfconverter.targets.ovf",
    "export_instance": "ovfconverter.pipelines.exporter",
    "ImportOptions": "ovfconverter.targets.ganeti",
    "ImportResult": "ovfconverter.targets.ganeti",
    "ImportedDisk": "ovfconverter.targets.ganeti",
    "import_package": "ovfconverter.pipelines.importer",
    "convert": "ovfconverter.pipelines.convert",
    "PackageInfo": "ovfconverter.info",
    "VerifyReport": "ovfconverter.info",
    "read_package": "ovfconverter.info",
    "to_json": "ovfconverter.info",
    "verify_package": "ovfconverter.info",
}


def _version() -> str:
    """The installed distribution's version: written once, in pyproject.toml."""
    import importlib.metadata  # not at import time: it costs as much as the models

    try:
        return importlib.metadata.version("ovfconverter")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a tree never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Import the pipeline that defines ``name`` on first use, and read the
    version when first asked (PEP 562)."""
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ovfconverter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ConfigError",
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
    "CloudError",
    "DescriptorError",
    "DiskImageError",
    "ExportOptions",
    "ExportResult",
    "ExportedFile",
    "FileAccessError",
    "ImportOptions",
    "ImportResult",
    "ImportedDisk",
    "Interrupted",
    "ManifestError",
    "MissingToolError",
    "OVFConverterError",
    "OptionError",
    "OutputExistsError",
    "PackageError",
    "PackageInfo",
    "ProgressCallback",
    "ProgressEvent",
    "QemuImgError",
    "UnsafeInputError",
    "UsageError",
    "VerifyReport",
    "__version__",
    "convert",
    "export_instance",
    "import_package",
    "read_package",
    "to_json",
    "verify_package",
]
