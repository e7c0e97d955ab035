"""Layer 4: the export pipeline, Ganeti export to OVF package or OVA."""

from ovfconverter.exporter.options import ExportOptions
from ovfconverter.exporter.pipeline import ExportedFile, ExportResult, export_instance

__all__ = ["ExportOptions", "ExportResult", "ExportedFile", "export_instance"]
