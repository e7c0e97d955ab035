"""``export``: a Ganeti export folder into an OVF package or OVA, spelled as
Ganeti spells it (``gnt-backup export`` made the input).

It is the Ganeti source (:mod:`ovfconverter.sources.ganeti`) and the OVF
target (:mod:`ovfconverter.targets.ovf`) on the conversion seam:

1. read and check ``config.ini``; every disk dump must be a raw image
   beside it (gzip dumps of ``[export] compression = gzip`` are
   decompressed; dumps that are tar, gzip or dump(8) streams, which OS
   export scripts emit, are refused);
2. convert each dump into the output format (checked afterwards), gzip it
   when asked, hashing it in the same pass;
3. describe the instance (descriptor), list every file's digest (manifest);
4. write a folder ``NAME/`` or an OVA ``NAME.ova`` (descriptor first,
   manifest second, then the disks) in a private folder and move it into
   place only when complete.
"""

from __future__ import annotations

from ovfconverter.errors import os_errors_as_ours
from ovfconverter.pipelines.convert import convert
from ovfconverter.pipelines.source import SourceOptions
from ovfconverter.progress import ProgressCallback
from ovfconverter.targets.ovf import ExportOptions, ExportResult


@os_errors_as_ours
def export_instance(
    config_path: str, options: ExportOptions | None = None, progress: ProgressCallback | None = None
) -> ExportResult:
    """Export the Ganeti instance described by ``config_path`` as an OVF
    package.

    Each disk is produced, hashed and (for an OVA) packed in one pass; an
    OVA is written once, front to back, with room kept at its start for the
    descriptor and the manifest, which are known last.  Several disks are
    produced concurrently.

    :param config_path: the ``config.ini`` of a ``gnt-backup export``
        folder (its disk dumps beside it).
    :param options: format and output settings (:class:`ExportOptions`).
    :param progress: receives progress events (``convert``, ``pack``...).
    :returns: where the package is and what it holds.
    :raises OVFConverterError: (a subclass) when config.ini or a dump is
        refused or a conversion fails; nothing is left behind then.
    """
    options = options or ExportOptions()
    source = SourceOptions(allow_hardlinks=options.allow_hardlinks)
    result: ExportResult = convert(config_path, "ovf", options, source, progress, source_kind="ganeti")
    return result
