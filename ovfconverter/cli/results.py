"""The JSON that ``import``, ``export`` and ``convert`` print with
``--json``: one document per run, its shape given by the JSON Schema
``ovfconverter/schemas/result.schema.json`` and documented in
``doc/info-json.rst``.  Sizes are bytes; text from the package is kept as it
is (JSON escapes it).
"""

from __future__ import annotations

import configparser
from typing import TYPE_CHECKING, Any

from ovfconverter.cli.flags import spelled
from ovfconverter.formats.config_ini import write_config

if TYPE_CHECKING:
    from ovfconverter import ExportResult, ImportResult
    from ovfconverter.pipelines.convert import ConversionPlan

FORMAT_VERSION = 1
"""Bumped only when a field changes meaning or disappears."""


def warning_entries(warnings: list[str]) -> list[dict[str, Any]]:
    """Each warning as ``{"code": ..., "message": ...}``: ``code`` is the
    :class:`~ovfconverter.diagnostics.Code` of a
    :class:`~ovfconverter.diagnostics.Diagnostic` (``"source"``,
    ``"plan"``, ``"manifest"``...), ``None`` for a warning without one;
    ``message`` names the command line's flags, as on standard error."""
    entries = []
    for warning in warnings:
        code = getattr(warning, "code", None)
        entries.append({"code": None if code is None else str(code.value), "message": spelled(warning)})
    return entries


PRIVATE = "<private>"
"""What a value of ``[os_private]`` is shown as: Ganeti keeps these (OVF
password properties among them) out of its logs, and so does ovfconverter
out of what it prints."""


def config_sections(result: ImportResult) -> dict[str, dict[str, str]]:
    """The ``config.ini`` written, section by section, as written; the
    values of ``[os_private]`` shown as :data:`PRIVATE`."""
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(write_config(result.config))
    return {
        section: {key: PRIVATE if section == "os_private" else value for key, value in parser.items(section)}
        for section in parser.sections()
    }


def document(command: str, source: str, target: str, path: str, warnings: list[str], **fields: Any) -> dict[str, Any]:
    """The document every run prints: what was run and where the result
    is, the target's own fields (``config_ini``, ``disks``, ``next_step``
    for Ganeti; ``files`` for an OVF package or OVA; ``images`` for
    OpenStack; ``domain`` for libvirt and Xen), every other one ``null`` or
    empty, the warnings, the format version."""
    return {
        "command": command,
        "source": source,
        "target": target,
        "path": path,
        "config_ini": fields.get("config_ini"),
        "disks": fields.get("disks", []),
        "next_step": fields.get("next_step"),
        "files": fields.get("files", []),
        "images": fields.get("images", []),
        "domain": fields.get("domain"),
        "warnings": warning_entries(warnings),
        "format_version": FORMAT_VERSION,
    }


def import_json(result: ImportResult, source: str, command: str = "import") -> dict[str, Any]:
    """What an import (a conversion to Ganeti) wrote, for ``--json``."""
    step = result.next_step
    return document(
        command,
        source,
        "ganeti",
        result.path,
        result.warnings,
        config_ini=config_sections(result),
        disks=[
            {"path": disk.path, "size": disk.size, "source": disk.source, "source_format": disk.source_format}
            for disk in result.disks
        ],
        next_step=None
        if step is None
        else {"argv": list(step.argv), "text": step.text(), "reasons": list(step.reasons), "ready": step.ready},
    )


def export_json(
    result: ExportResult, source: str, target: str, algorithm: str, command: str = "export"
) -> dict[str, Any]:
    """What an export (a conversion to an OVF package or OVA) wrote, for
    ``--json``; ``algorithm`` is the manifest's digest (``sha256``...)."""
    files = [
        {"name": file.name, "size": file.size, "digest": {"algorithm": algorithm, "value": file.digest}}
        for file in result.files
    ]
    return document(command, source, target, result.path, result.warnings, files=files)


def plan_json(plan: ConversionPlan, command: str, source: str) -> dict[str, Any]:
    """What a ``--dry-run`` decided, for ``--json`` (schema:
    ``ovfconverter/schemas/plan.schema.json``)."""
    return {
        "command": command,
        "dry_run": True,
        "source": source,
        "target": plan.target,
        "path": plan.path,
        "decisions": [
            {"where": decision.where, "value": decision.value, "from": decision.origin.value}
            for decision in plan.decisions
        ],
        "warnings": warning_entries(plan.warnings),
        "format_version": FORMAT_VERSION,
    }


def plan_lines(plan: ConversionPlan) -> list[str]:
    """What a ``--dry-run`` decided, as text: where the result would go,
    then each value and where it comes from, aligned."""
    width = max((len(f"{d.where} = {d.value}") for d in plan.decisions), default=0)
    lines = [f"{plan.path}: would be written (--dry-run: nothing written); values and where they come from:"]
    for decision in plan.decisions:
        text = f"{decision.where} = {decision.value}"
        lines.append(f"  {text.ljust(min(width, 48))}  ({decision.origin.value})")
    return lines
