"""Layer 4: the import pipeline, OVF/OVA package to Ganeti export."""

from ovfconverter.importer.options import ImportOptions
from ovfconverter.importer.pipeline import ImportedDisk, ImportResult, import_package

__all__ = ["ImportOptions", "ImportResult", "ImportedDisk", "import_package"]
