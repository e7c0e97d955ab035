"""``convert``: any registered source to any registered target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ovfconverter.diagnostics import Code
from ovfconverter.errors import os_errors_as_ours
from ovfconverter.hub.provenance import Decision
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import SourceOptions
from ovfconverter.progress import ProgressCallback
from ovfconverter.sources import detect_source, source_class
from ovfconverter.targets import target_class
from ovfconverter.timing import stage


@os_errors_as_ours
def convert(
    path: str,
    to: str,
    options: Any = None,
    source_options: SourceOptions | None = None,
    progress: ProgressCallback | None = None,
    source_kind: str | None = None,
) -> Any:
    """Convert what ``path`` holds into a ``to`` result.

    :param path: an OVF package (``.ova``, ``.ovf``, a folder with one
        ``.ovf``) or a Ganeti export (``config.ini`` or its folder); see
        :func:`~ovfconverter.sources.detect_source`.
    :param to: a registered target (:data:`ovfconverter.targets.TARGETS`:
        ``ganeti``, ``ovf``, ``ova``...).
    :param options: the target's options (its own class, e.g.
        :class:`~ovfconverter.ImportOptions` for ``ganeti``,
        :class:`~ovfconverter.ExportOptions` for ``ovf``/``ova``); ``None``:
        its defaults.
    :param source_options: how to read the source (profile, virtual system).
    :param source_kind: a registered source kind, instead of detecting it.
    :returns: the target's result (:class:`~ovfconverter.ImportResult` for
        ``ganeti``, :class:`~ovfconverter.ExportResult` for ``ovf``/``ova``).
    :raises OptionError: unknown target or source kind, or invalid options.
    :raises OVFConverterError: (a subclass) the source or the options are
        refused, or a conversion fails; nothing is left behind then.
    """
    target = target_class(to).with_options(options)
    target.check()
    kind, resolved = (source_kind, path) if source_kind else detect_source(path)
    with Run(target.output_dir(resolved), target.label, progress, target.threads) as run:
        opener = source_class(kind)
        with stage("open source"):
            opened = opener.open(resolved, source_options or SourceOptions(), target.needs(), run)
        with opened as source:
            with stage("plan"):
                plan = target.plan(source.machine)
            for warning in source.warnings:
                run.warn(warning, source.name, Code.SOURCE)
            for warning in plan.warnings:
                run.warn(warning, source.name, Code.PLAN)
            with stage("write"):
                return target.write(plan, source, run)


@dataclass
class ConversionPlan:
    """What a conversion would write, decided and checked, nothing written
    (``--dry-run``).

    :ivar target: the registered target (``ganeti``, ``ovf``, ``ova``).
    :ivar source: the source's path, as resolved.
    :ivar path: where the result would be.
    :ivar decisions: every ``config.ini`` key or OVF element with its value
        and where it comes from (package, option, default).
    :ivar warnings: what the conversion would warn about (as ``"subject:
        message"``).
    """

    target: str
    source: str
    path: str
    decisions: list[Decision]
    warnings: list[str] = field(default_factory=list)


@os_errors_as_ours
def plan_conversion(
    path: str,
    to: str,
    options: Any = None,
    source_options: SourceOptions | None = None,
    source_kind: str | None = None,
) -> ConversionPlan:
    """Do what :func:`convert` does up to the plan: check the options, read
    the source's description, decide every value; write nothing.  Disk
    images are not read (their digests are checked on conversion), so a
    plan can succeed where the conversion later refuses a damaged image.

    :raises OVFConverterError: (a subclass) the source or the options are
        refused, as :func:`convert` would refuse them.
    """
    target = target_class(to).with_options(options)
    target.check()
    kind, resolved = (source_kind, path) if source_kind else detect_source(path)
    with Run(target.output_dir(resolved), target.label) as run:
        opener = source_class(kind)
        with opener.open(resolved, source_options or SourceOptions(), target.needs(), run) as source:
            plan = target.plan(source.machine)
            for warning in [*source.warnings, *plan.warnings]:
                run.warn(warning, source.name)
            path = target.destination(plan, run.output_dir)
            return ConversionPlan(to, resolved, path, list(plan.decisions), list(run.warnings))
