"""What ``import ovfconverter`` offers: pinned, so that a name disappears or
appears only on purpose (doc/library.rst lists them), each one resolves
(the pipelines are imported on first use), and the version is written
once."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import ovfconverter

PUBLIC = {
    # the pipelines
    "convert",
    "export_instance",
    "import_package",
    "read_package",
    "to_json",
    "verify_package",
    # their options and results
    "ExportOptions",
    "ExportResult",
    "ExportedFile",
    "ImportOptions",
    "ImportResult",
    "ImportedDisk",
    "PackageInfo",
    "VerifyReport",
    "ProgressCallback",
    "ProgressEvent",
    # the models
    "Machine",
    "DeploymentConfiguration",
    "Envelope",
    "FileReference",
    "GanetiDisk",
    "GanetiNic",
    "GanetiSection",
    "InstanceExport",
    "Network",
    "OperatingSystem",
    "ProductProperty",
    "ProductSection",
    "ResourceItem",
    "ResourceType",
    "VirtualDisk",
    "VirtualHardware",
    "VirtualSystem",
    # the errors
    "OVFConverterError",
    "CloudError",
    "ConfigError",
    "DescriptorError",
    "DiskImageError",
    "FileAccessError",
    "Interrupted",
    "ManifestError",
    "MissingToolError",
    "OptionError",
    "UsageError",
    "OutputExistsError",
    "PackageError",
    "QemuImgError",
    "UnsafeInputError",
    "__version__",
}


def test_exports_are_exactly_the_public_names() -> None:
    assert set(ovfconverter.__all__) == PUBLIC
    assert len(ovfconverter.__all__) == len(PUBLIC), "a name is listed twice"


def test_every_export_resolves() -> None:
    for name in ovfconverter.__all__:
        assert getattr(ovfconverter, name) is not None, name
    errors = [getattr(ovfconverter, name) for name in PUBLIC if name.endswith("Error") or name == "Interrupted"]
    assert all(issubclass(error, ovfconverter.OVFConverterError) for error in errors)


def test_importing_the_package_does_not_import_the_pipelines() -> None:
    code = (
        "import sys, ovfconverter; "
        "print(sorted(m for m in sys.modules if m.startswith(('ovfconverter.pipelines', 'ovfconverter.targets', "
        "'ovfconverter.sources', 'ovfconverter.disks', 'lxml', 'cryptography'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_the_version_is_written_once() -> None:
    assert importlib.metadata.version("ovfconverter") == ovfconverter.__version__
