"""ovfconverter: move virtual machines between Ganeti exports and OVF/OVA
packages, safely and fast.

The library API::

    from ovfconverter import ImportOptions, import_package
    result = import_package("appliance.ova", ImportOptions(os_type="raw-image+default"))
    print(result.path, result.config.backend["vcpus"])

Nothing here prints; problems are raised as :class:`OVFConverterError`
subclasses and warnings go to the ``ovfconverter`` logger (and into each
result's ``warnings``).
"""

import logging

from ovfconverter.errors import (
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
)
from ovfconverter.exporter import ExportedFile, ExportOptions, ExportResult, export_instance
from ovfconverter.importer import ImportedDisk, ImportOptions, ImportResult, import_package
from ovfconverter.progress import ProgressCallback, ProgressEvent

__version__ = "0.1.0"

logging.getLogger("ovfconverter").addHandler(logging.NullHandler())

__all__ = [
    "ConfigError",
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
    "ProgressCallback",
    "ProgressEvent",
    "QemuImgError",
    "UnsafeInputError",
    "__version__",
    "export_instance",
    "import_package",
]
