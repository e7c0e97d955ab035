"""``import``: an OVF package into a Ganeti export folder, spelled as Ganeti
spells it (``gnt-backup import`` takes the result).

It is the OVF source (:mod:`ovfconverter.sources.ovf`) and the Ganeti
target (:mod:`ovfconverter.targets.ganeti`) on the conversion seam:

1. open the package (folder or OVA, read in place) and read its descriptor;
   the machine it describes, every broken reference refused at once;
2. plan the export (:func:`~ovfconverter.hub.ganeti_plan.plan_instance`): values
   validated, every problem reported before any disk is read;
3. locate every disk image; verify the files the manifest lists, except
   disks stored as one file, whose digest is computed in the same pass as
   their conversion;
4. convert each image to a raw, sparse dump (several disks at once);
   create empty disks; a digest mismatch refuses the import here, before
   anything reaches its final place;
5. write ``config.ini`` and move the folder into place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ovfconverter.errors import os_errors_as_ours
from ovfconverter.hub.ganeti_plan import DiskPlan, plan_instance
from ovfconverter.model.envelope import Envelope, VirtualSystem
from ovfconverter.model.ganeti import InstanceExport
from ovfconverter.model.hardware import Hardware
from ovfconverter.model.machine import Machine
from ovfconverter.pipelines.convert import convert
from ovfconverter.pipelines.source import SourceOptions
from ovfconverter.progress import ProgressCallback
from ovfconverter.sources.ovf import read_machine
from ovfconverter.targets.ganeti import ImportOptions, ImportResult


def source_options(options: ImportOptions) -> SourceOptions:
    """The package fields of ``options``."""
    return SourceOptions(
        deployment_option=options.deployment_option,
        virtual_system=options.virtual_system,
        verify_manifest=options.verify_manifest,
        allow_hardlinks=options.allow_hardlinks,
        properties=dict(options.properties),
        accept_eula=options.accept_eula,
    )


@os_errors_as_ours
def import_package(
    path: str, options: ImportOptions | None = None, progress: ProgressCallback | None = None
) -> ImportResult:
    """Import the OVF package at ``path`` into a Ganeti export folder.

    :param path: an ``.ovf`` descriptor, an ``.ova`` archive, or a folder
        holding one ``.ovf``.
    :param options: overrides and output settings (:class:`ImportOptions`).
    :param progress: receives :class:`~ovfconverter.progress.ProgressEvent`
        for hashing and conversion.
    :returns: where the export is and what it holds.
    :raises OVFConverterError: (a subclass) when the package or the options
        are refused or a conversion fails; nothing is left behind then.
    :raises MissingToolError: qemu-img is not installed and an image needs it.
    """
    options = options or ImportOptions()
    result: ImportResult = convert(path, "ganeti", options, source_options(options), progress, source_kind="ovf")
    return result


@dataclass
class ImportPlan:
    """What an import will write, decided from the envelope alone (no
    package is opened): the OVF side's choices and the Ganeti plan.

    :ivar config: the ``config.ini`` values (``disks`` still empty).
    :ivar warnings: the OVF side's warnings, then the plan's, in order.
    """

    system: VirtualSystem
    profile: str | None
    hardware: Hardware
    machine: Machine
    config: InstanceExport
    disks: list[DiskPlan]
    warnings: list[str] = field(default_factory=list)


def build_plan(
    envelope: Envelope,
    options: ImportOptions,
    where: str,
    missing_files: Mapping[str, str] | None = None,
    cluster_networks: frozenset[str] | None = None,
    default_hypervisor: str | None = None,
) -> ImportPlan:
    """Decide the Ganeti export of ``envelope`` under ``options``, as
    :func:`import_package` does once the package is open (pure).

    :param where: the descriptor's name, for messages.
    :param missing_files: References/File id -> why the package cannot
        provide it; a disk that needs one is a problem, any other file a
        warning.
    :param cluster_networks: names of the target cluster's Ganeti networks,
        ``None`` when unknown (see :func:`~ovfconverter.hub.ganeti_plan.plan_instance`).
    :param default_hypervisor: the target cluster's default hypervisor,
        ``None`` when unknown (likewise).
    :raises PackageError: no VirtualSystem, a collection without
        ``virtual_system``, or broken references (all of them listed).
    :raises OptionError: an invalid or missing value (no name, no OS, no disk
        and no NIC, a bad MAC or mode...), from the package or the options.
    """
    reading = read_machine(envelope, source_options(options), where, missing_files)
    plan = plan_instance(reading.machine, options, cluster_networks, default_hypervisor)
    return ImportPlan(
        system=reading.system,
        profile=reading.profile,
        hardware=reading.hardware,
        machine=reading.machine,
        config=plan.config,
        disks=plan.disks,
        warnings=reading.warnings + plan.warnings,
    )
