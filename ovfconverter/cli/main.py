"""The ``ovfconverter`` command: running each command, logging, exit codes
(the arguments are :mod:`ovfconverter.cli.parser`).

Exit status: 0 on success; 1 when the input or options are refused or a
conversion fails (one line ``ovfconverter: error: ...`` on stderr, a
traceback only with ``--debug``); 2 for usage errors, found by argparse or
raised as :class:`~ovfconverter.errors.UsageError` (an option naming a key,
a profile or a value that is not there: the message lists the valid ones); 128 + the signal's
number after a signal: 130 after Ctrl-C (SIGINT), 143 after SIGTERM.

Everything printed that may hold text from input (log records, errors,
reports, summaries, progress labels, tracebacks) is escaped by
:mod:`ovfconverter.cli.terminal`; ``--json`` output is exact JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from ovfconverter.cli.convert import DEVICE_OPTIONS, DOMAIN_ONLY, INTERIM_ONLY, OPENSTACK_ONLY, device_policy
from ovfconverter.cli.convert import TARGETS as INTERIM_TARGETS
from ovfconverter.cli.convert import run_convert as run_interim
from ovfconverter.cli.flags import spelled
from ovfconverter.cli.option_values import net_values, property_values
from ovfconverter.cli.parser import EXPORT_ONLY, IMPORT_ONLY, PROG, build_parser
from ovfconverter.cli.progress import ProgressBars
from ovfconverter.cli.terminal import escape_line, escape_text
from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import Interrupted, OptionError, OVFConverterError, UsageError
from ovfconverter.hub.ovf_envelope import ISO_FORMAT_URI
from ovfconverter.timing import since_start, stage

if TYPE_CHECKING:
    from ovfconverter import ExportOptions, ExportResult, ImportOptions, ImportResult

log = logging.getLogger("ovfconverter")


class _Formatter(logging.Formatter):
    """``ovfconverter: LEVEL: MESSAGE``, the message escaped: one line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.DEBUG: "debug: "}.get(
            record.levelno, ""
        )
        return f"{PROG}: {prefix}{escape_line(_message(record))}"


def _message(record: logging.LogRecord) -> str:
    """The record's message, errors and warnings among its arguments spelled
    with the command line's flags (the library names its parameters)."""
    if isinstance(record.args, tuple) and any(isinstance(a, OVFConverterError | Diagnostic) for a in record.args):
        return str(record.msg) % tuple(
            spelled(a) if isinstance(a, OVFConverterError | Diagnostic) else a for a in record.args
        )
    return record.getMessage()


def _setup_logging(args: argparse.Namespace) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger = logging.getLogger("ovfconverter")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
    logger.addHandler(handler)
    if args.debug:
        level = logging.DEBUG
    elif args.quiet:  # only errors: warnings stay in the results (--json)
        level = logging.ERROR
    else:
        level = logging.INFO if args.verbose else logging.WARNING
    logger.setLevel(level)
    logger.propagate = False


def _import_options(args: argparse.Namespace) -> ImportOptions:
    from ovfconverter.targets.ganeti import ImportOptions

    options = ImportOptions(
        name=args.name,
        os_type=args.os_type,
        os_parameters=args.os_parameters,
        backend_parameters=args.backend_parameters,
        disk_template=args.disk_template,
        no_nics=args.no_nics,
        deployment_option=args.deployment_option,
        virtual_system=args.virtual_system,
        output_dir=args.output_dir,
        force=args.force,
        allow_hardlinks=args.allow_hardlinks,
        properties=property_values(args.property),
        accept_eula=args.accept_eula,
        cloud_init=args.cloud_init,
        device_policy=device_policy(args),
    )
    if args.hypervisor_parameters:
        options.hypervisor, options.hypervisor_parameters = args.hypervisor_parameters
    if args.tags is not None:
        options.tags = [tag for tag in args.tags.split(",") if tag]
    for index, size in args.disk:
        if index in options.disks:
            raise OptionError(f"--disk {index} is given twice")
        options.disks[index] = size
    for index, values in args.net:
        options.nics.setdefault(index, {}).update(values)
    if args.no_nics and options.nics:
        raise OptionError("--no-nics and --net contradict each other")
    return options


def _say(line: str) -> None:
    """Print one line of a summary, escaped."""
    print(escape_line(line))


def _print_traceback() -> None:
    """The current exception's traceback on stderr (``--debug``), escaped."""
    sys.stderr.write(escape_text(traceback.format_exc().rstrip("\n")) + "\n")


def _is_ganeti_export(path: str) -> bool:
    from ovfconverter.sources import detect_source

    try:
        return detect_source(path)[0] == "ganeti"
    except OVFConverterError:
        return False  # read_package says what is wrong with it


def _run_info(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.cli.report import format_info, format_machine
    from ovfconverter.info import read_package, to_json

    if _is_ganeti_export(args.package):
        from ovfconverter.info.machine import machine_json, read_source

        if args.deployment_option is not None:
            raise OptionError("--deployment-option: a Ganeti export has no deployment options")
        machine = read_source(args.package, args.allow_hardlinks)
        print(json.dumps(machine_json(machine), indent=2) if args.json else format_machine(machine))
        return 0
    info = read_package(args.package, args.deployment_option, progress, args.allow_hardlinks)
    print(json.dumps(_spelled_warnings(to_json(info), info.warnings), indent=2) if args.json else format_info(info))
    return 0


def _spelled_warnings(data: dict[str, Any], warnings: Sequence[str]) -> dict[str, Any]:
    """``data`` (a report's JSON) with its ``warnings`` spelled with the
    command line's flags."""
    data["warnings"] = [spelled(w) for w in warnings]
    return data


def _run_verify(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.cli.report import format_verify
    from ovfconverter.info import to_json, verify_package

    report = verify_package(args.package, progress, args.schema, args.allow_hardlinks, args.ca)
    print(
        json.dumps(_spelled_warnings(to_json(report), report.warnings), indent=2)
        if args.json
        else format_verify(report)
    )
    return 0 if report.ok else 1


def _export_options(args: argparse.Namespace, ova: bool) -> ExportOptions:
    from ovfconverter import ExportOptions

    defaults = ExportOptions()
    return ExportOptions(
        format=args.format or defaults.format,
        vmdk_subformat=args.vmdk_subformat or defaults.vmdk_subformat,
        compress=args.compress,
        compression_level=args.compression_level,
        threads=args.threads,
        ova=ova,
        external=args.external,
        name=args.name,
        output_dir=args.output_dir,
        force=args.force,
        allow_hardlinks=args.allow_hardlinks,
        digest=args.digest or defaults.digest,
        ovf_version=args.ovf_version or defaults.ovf_version,
        virtual_system_type=_system_type(args) or defaults.virtual_system_type,
        product=args.product,
        cloud_init=args.cloud_init,
        sign_key=args.sign_key,
        certificate=args.certificate,
    )


def _system_type(args: argparse.Namespace) -> str | None:
    """``--vmx NN`` as VirtualSystemType words, or ``--virtual-system-type``.

    :raises OptionError: both given, or NN out of VMware's range."""
    if args.vmx is None:
        return str(args.virtual_system_type) if args.virtual_system_type else None
    if args.virtual_system_type:
        raise OptionError("give --vmx or --virtual-system-type, not both")
    if not 4 <= args.vmx <= 99:
        raise OptionError(f"--vmx {args.vmx}: VMware's virtual hardware versions run from 4 up")
    return f"vmx-{args.vmx:02d}"


def _say_package(result: ExportResult, ova: bool, options: ExportOptions) -> None:
    disks = sum(1 for disk in result.envelope.disks if disk.format != ISO_FORMAT_URI)
    kind = "OVA" if ova else "OVF package"
    name = result.envelope.virtual_systems[0].name
    _say(f"{result.path}: {kind} of {name!r}, {disks} disk(s), OVF {options.ovf_version}")


def _say_export(result: ImportResult) -> None:
    config = result.config
    _say(f"{result.path}: Ganeti export of {config.name!r}, {len(result.disks)} disk(s), {len(config.nics)} NIC(s)")
    step = result.next_step
    if step is not None:
        _say(f"  import it with: {step.text()}")
        if step.reasons:
            _say(f"  ({'; '.join(step.reasons)})")


def _show_package(args: argparse.Namespace, result: ExportResult, ova: bool, options: ExportOptions) -> None:
    """The summary of a package written, or its JSON document (``--json``)."""
    if not args.json:
        _say_package(result, ova, options)
        return
    from ovfconverter.cli.results import export_json

    source = args.source if args.command == "convert" else args.config
    target = "ova" if ova else "ovf"
    print(json.dumps(export_json(result, source, target, str(options.digest), args.command), indent=2))


def _show_export(args: argparse.Namespace, result: ImportResult) -> None:
    """The summary of a Ganeti export written, or its JSON document."""
    if not args.json:
        _say_export(result)
        return
    from ovfconverter.cli.results import import_json

    source = args.source if args.command == "convert" else args.package
    print(json.dumps(import_json(result, source, args.command), indent=2))


def _dry_run(args: argparse.Namespace, source: str, to: str, options: object, kind: str | None) -> int:
    """Plan the conversion, write nothing, show the plan (text or JSON)."""
    from ovfconverter import ImportOptions
    from ovfconverter.cli.results import plan_json, plan_lines
    from ovfconverter.pipelines.convert import plan_conversion
    from ovfconverter.pipelines.importer import source_options as package_fields
    from ovfconverter.pipelines.source import SourceOptions

    if isinstance(options, ImportOptions):  # the package's fields are the import options'
        source_options = package_fields(options)
    else:
        source_options = SourceOptions(
            deployment_option=getattr(args, "deployment_option", None),
            virtual_system=getattr(args, "virtual_system", None),
            allow_hardlinks=args.allow_hardlinks,
        )
    plan = plan_conversion(source, to, options, source_options, kind)
    if args.json:
        print(json.dumps(plan_json(plan, args.command, source), indent=2))
    else:
        for line in plan_lines(plan):
            _say(line)
    return 0


def _run_export(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter import export_instance

    options = _export_options(args, args.ova)
    if args.dry_run:
        return _dry_run(args, args.config, "ova" if args.ova else "ovf", options, "ganeti")
    result = export_instance(args.config, options, progress)
    _show_package(args, result, args.ova, options)
    return 0


def _given(args: argparse.Namespace, dests: tuple[str, ...]) -> list[str]:
    """The options among ``dests`` given on the command line, as flags."""
    return ["--" + dest.replace("_", "-") for dest in dests if getattr(args, dest) not in (None, False, [], {})]


def _run_convert(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter import convert
    from ovfconverter.pipelines.source import SourceOptions

    if args.dry_run and args.to not in ("ganeti", "ovf", "ova"):
        raise UsageError(f"--dry-run: not available for --to {args.to} (it is for --to ganeti, ovf and ova)")
    if args.to in INTERIM_TARGETS:  # their own command line (ovfconverter.cli.convert)
        seed = ("cloud_init",) if args.to != "libvirt" else ()
        foreign = _given(args, tuple(dest for dest in IMPORT_ONLY if dest != "net") + EXPORT_ONLY + seed)
        if foreign:
            raise OptionError(f"{', '.join(foreign)}: not an option of --to {args.to}")
        return run_interim(args, progress)
    others = INTERIM_ONLY + OPENSTACK_ONLY + DOMAIN_ONLY + (DEVICE_OPTIONS if args.to != "ganeti" else ())
    foreign = _given(args, others + (EXPORT_ONLY if args.to == "ganeti" else IMPORT_ONLY))
    if foreign:
        raise OptionError(f"{', '.join(foreign)}: not an option of --to {args.to}")
    source_options = SourceOptions(
        deployment_option=args.deployment_option,
        virtual_system=args.virtual_system,
        allow_hardlinks=args.allow_hardlinks,
        properties=property_values(args.property),
        accept_eula=args.accept_eula,
    )
    if args.to == "ganeti":
        args.net = [net_values(text) for text in args.net]
    if args.dry_run:
        options: object = _import_options(args) if args.to == "ganeti" else _export_options(args, args.to == "ova")
        return _dry_run(args, args.source, args.to, options, None)
    if args.to == "ganeti":
        _show_export(args, convert(args.source, "ganeti", _import_options(args), source_options, progress))
    else:
        options = _export_options(args, args.to == "ova")
        result = convert(args.source, args.to, options, source_options, progress)
        _show_package(args, result, args.to == "ova", options)
    return 0


def _run_import(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter import import_package

    if args.dry_run:
        return _dry_run(args, args.package, "ganeti", _import_options(args), "ovf")
    _show_export(args, import_package(args.package, _import_options(args), progress))
    return 0


def _run_completion(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.cli import completion

    sys.stdout.write(completion.script(build_parser(), args.shell))
    return 0


_RUNS = {
    "completion": _run_completion,
    "import": _run_import,
    "export": _run_export,
    "convert": _run_convert,
    "info": _run_info,
    "verify": _run_verify,
}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # never a UnicodeEncodeError on a narrow locale
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    show_bars = not args.quiet and (args.progress or sys.stderr.isatty())
    progress = ProgressBars() if show_bars else None
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    started = since_start() if args.debug else None
    if started is not None:
        log.debug("stage start-up (interpreter, imports, arguments): %.3f s wall", started)
    try:
        with stage(args.command):
            status = int(_RUNS[args.command](args, progress))
        sys.stdout.flush()  # a reader that left must be noticed here, not at exit
        return status
    except BrokenPipeError:  # `ovfconverter info x | head`: the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit finds somewhere to go
        os.close(devnull)
        return 141
    except KeyboardInterrupt:
        if progress:
            progress.close()
        log.error("interrupted; nothing was written")
        return 128 + signal.SIGINT
    except UsageError as exc:  # an option names what is not there: the valid choices are in the message
        if progress:
            progress.close()
        if args.debug:
            _print_traceback()
        log.error("%s", exc)
        return 2
    except Interrupted as exc:  # SIGTERM, as the shell reports a death by a signal
        if progress:
            progress.close()
        log.error("%s; nothing was written", exc)
        return 128 + exc.signum
    except OVFConverterError as exc:
        if progress:
            progress.close()
        if args.debug:
            _print_traceback()
        log.error("%s", exc)
        return 1
    except OSError as exc:
        if progress:
            progress.close()
        if args.debug:
            _print_traceback()
        where = f"{exc.filename}: " if exc.filename else ""
        log.error("%s%s", where, exc.strerror or exc)
        return 1
    except Exception as exc:  # a bug: say so briefly, details with --debug
        if progress:
            progress.close()
        if args.debug:
            _print_traceback()
        log.error(
            "internal error: %s: %s (run with --debug for a traceback, and please report it)", type(exc).__name__, exc
        )
        return 1
    finally:
        if progress:
            progress.close()
        signal.signal(signal.SIGTERM, previous)
