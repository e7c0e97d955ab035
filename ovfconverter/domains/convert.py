"""``convert SOURCE --to libvirt|xen``: read the source (an OVF package or a
Ganeti export) into a machine and raw disk images, then write the domain
folder (:func:`ovfconverter.domains.write.write_domain_folder`)."""

from __future__ import annotations

import logging

from ovfconverter.domains.write import DomainOptions, DomainResult, DomainTarget, write_domain_folder
from ovfconverter.glance.sources import open_source
from ovfconverter.package.staging import Staging
from ovfconverter.progress import ProgressCallback
from ovfconverter.targets.ganeti import ImportOptions

log = logging.getLogger("ovfconverter")


def convert_to_domain(
    source: str,
    target: DomainTarget,
    options: DomainOptions,
    source_options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> DomainResult:
    """Convert ``source`` into a ``target`` domain folder ``OUT/NAME/``.

    An OVF package's disks are first imported as raw images into a scratch
    folder inside the output folder (removed at the end, whatever happens).

    :raises OVFConverterError: the source is refused (every import check),
        or as :func:`~ovfconverter.domains.write.write_domain_folder`.
    """
    with Staging(options.output_dir, "ovfconverter-source") as scratch:
        read = open_source(source, scratch.work, source_options, progress)
        result = write_domain_folder(target, read.machine, read.dumps, options, progress, protect=[source])
    for message in result.warnings:
        log.warning("%s", message)
    result.warnings[:0] = read.warnings
    return result
