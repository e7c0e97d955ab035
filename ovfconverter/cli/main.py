"""The ``ovfconverter`` command: argument parsing, logging, exit codes.

Exit status: 0 on success; 1 when the input or options are refused or a
conversion fails (one line ``ovfconverter: error: ...`` on stderr, a
traceback only with ``--debug``); 2 for usage errors; 130 after Ctrl-C.

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
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from ovfconverter import __version__
from ovfconverter.cli.convert import add_convert_parser
from ovfconverter.cli.progress import ProgressBars
from ovfconverter.cli.terminal import escape_line, escape_text
from ovfconverter.errors import Interrupted, OptionError, OVFConverterError
from ovfconverter.model.ganeti import MAX_DISKS, MAX_NICS
from ovfconverter.model.keyval import parse_ident_keyval, parse_index, parse_keyval
from ovfconverter.model.units import parse_size

if TYPE_CHECKING:
    from ovfconverter.importer import ImportOptions

PROG = "ovfconverter"
log = logging.getLogger("ovfconverter")

IMPORT_EXAMPLES = """\
examples:
  # a VirtualBox or VMware appliance, choosing the name and the Ganeti OS
  ovfconverter import appliance.ova -n web1.example.com -o raw-image+default

  # override per key: 2 CPUs, keep the package's memory; bridge the first NIC
  ovfconverter import vm.ovf -o raw-image+default -B vcpus=2 --net 0:mode=bridged,link=br0

  # a package with profiles, picking a non-default one, into another folder
  ovfconverter import csr.ova -o csr --deployment-option 2CPU-4GB --output-dir /srv/exports

Then run the gnt-backup import command it prints (on a Ganeti node, complete and ready to run).
"""


EXPORT_EXAMPLES = """\
examples:
  # for VMware or VirtualBox: one OVA, streamOptimized VMDK, SHA256 manifest
  ovfconverter export /var/lib/ganeti/export/web1.example.com/config.ini --ova

  # for an older VMware product that wants SHA1, without Ganeti's section
  ovfconverter export config.ini --ova --digest sha1 --external

  # for another Ganeti cluster or OpenStack: qcow2 disks in a folder package
  ovfconverter export config.ini --format qcow2 --output-dir /srv/ovf
"""


INFO_EXAMPLES = """\
examples:
  ovfconverter info appliance.ova
  ovfconverter info vm.ovf --json | jq .systems
  ovfconverter info csr.ova --deployment-option 4CPU-8GB
"""

VERIFY_EXAMPLES = """\
examples:
  ovfconverter verify appliance.ova
  ovfconverter verify vm.ovf --json
  ovfconverter verify --schema ~/dmtf/ovf-1.1 appliance.ova
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape_line(message)}\n")


def _keyval(option: str) -> Callable[[str], dict[str, str | None]]:
    def parse(text: str) -> dict[str, str | None]:
        try:
            return parse_keyval(text, option)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return parse


def _disk_option(text: str) -> tuple[int, int]:
    try:
        ident, params = parse_ident_keyval(text, "--disk")
        index = parse_index(ident, "--disk", MAX_DISKS)
        if not params or set(params) != {"size"} or params["size"] is None:
            raise OptionError(f"--disk {text!r}: expected N:size=VAL (VAL in MiB, or with a unit: 10G)")
        return index, parse_size(params["size"])
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _net_option(text: str) -> tuple[int, dict[str, str | None]]:
    try:
        ident, params = parse_ident_keyval(text, "--net")
        index = parse_index(ident, "--net", MAX_NICS)
        if params is None:
            raise OptionError(f"--net {text!r}: expected N:key=value,...")
        return index, params
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _hypervisor_option(text: str) -> tuple[str, dict[str, str | None]]:
    try:
        ident, params = parse_ident_keyval(text, "-H")
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if params is None:
        raise argparse.ArgumentTypeError(f"-H {text!r}: expected NAME or NAME:key=value,...")
    return ident, params


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("output and logging")
    group.add_argument("-v", "--verbose", action="store_true", default=default or False, help="report each step")
    group.add_argument(
        "-d", "--debug", action="store_true", default=default or False, help="report details; tracebacks on errors"
    )
    group.add_argument("-q", "--quiet", action="store_true", default=default or False, help="no progress bars")
    group.add_argument(
        "--progress",
        action="store_true",
        default=default or False,
        help="progress bars even when stderr is not a terminal",
    )


def _hardlinks(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--allow-hardlinks",
        action="store_true",
        help=f"read {what} even when they have several hard links (refused by default: such a file may be "
        "a link to a secret elsewhere on the same file system)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ovfconverter`` command."""
    parser = _Parser(
        prog=PROG,
        description="Move virtual machines between Ganeti exports and OVF/OVA packages.",
        epilog="Run 'ovfconverter COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    imp = commands.add_parser(
        "import",
        help="turn an OVF package (.ovf or .ova) into a Ganeti export folder",
        description="Turn an OVF package (a folder with an .ovf descriptor, or an .ova archive) into a "
        "Ganeti export folder OUTPUT_DIR/NAME holding config.ini and raw disk dumps, ready for "
        "'gnt-backup import'. Options override what the package says, key by key.",
        epilog=IMPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument(
        "package", metavar="PACKAGE", help="an .ovf descriptor, an .ova archive, or a folder with one .ovf"
    )
    inst = imp.add_argument_group("instance")
    inst.add_argument("-n", "--name", help="instance name (default: the package's VirtualSystem name)")
    inst.add_argument(
        "-o",
        "--os-type",
        metavar="OS",
        help="Ganeti OS, e.g. raw-image+default (needed unless the package has a Ganeti section)",
    )
    inst.add_argument("-O", "--os-parameters", metavar="K=V,...", type=_keyval("-O"), default={}, help="OS parameters")
    inst.add_argument(
        "-B",
        "--backend-parameters",
        metavar="K=V,...",
        type=_keyval("-B"),
        default={},
        help="backend parameters: vcpus, maxmem, minmem, memory (MiB, or with a unit: 2G), auto_balance...",
    )
    inst.add_argument(
        "-H",
        "--hypervisor-parameters",
        metavar="NAME[:K=V,...]",
        type=_hypervisor_option,
        help="hypervisor and its parameters, e.g. kvm:kernel_path=,boot_order=disk",
    )
    inst.add_argument("-t", "--disk-template", metavar="TEMPLATE", help="plain, drbd, file, sharedfile, rbd, ext, ...")
    inst.add_argument("--tags", metavar="TAG,...", help="comma-separated tags (replace the package's)")
    dev = imp.add_argument_group("disks and NICs")
    dev.add_argument(
        "--disk",
        metavar="N:size=VAL",
        type=_disk_option,
        action="append",
        default=[],
        help="use a new empty disk of VAL (MiB, or 10G...) as disk N; repeatable",
    )
    dev.add_argument(
        "--net",
        metavar="N:K=V,...",
        type=_net_option,
        action="append",
        default=[],
        help="set NIC N's mode, link, mac, ip, network, name or vlan (adds NIC N if new); repeatable",
    )
    dev.add_argument("--no-nics", action="store_true", help="import no NIC")
    sel = imp.add_argument_group("package")
    sel.add_argument(
        "--deployment-option",
        metavar="ID",
        help="the DeploymentOptionSection profile to use (default: the package's default)",
    )
    sel.add_argument(
        "--virtual-system", metavar="ID", help="the VirtualSystem to import from a VirtualSystemCollection"
    )
    out = imp.add_argument_group("result")
    out.add_argument(
        "--output-dir",
        metavar="DIR",
        help="where NAME/ is written (default: /var/lib/ganeti/export if it exists, else the current folder)",
    )
    out.add_argument("--force", action="store_true", help="replace an existing DIR/NAME")
    _hardlinks(imp, "files of a folder package")
    _common(imp, suppress=True)
    imp.set_defaults(run=_run_import)

    exp = commands.add_parser(
        "export",
        help="turn a Ganeti export (config.ini and disk dumps) into an OVF package or OVA",
        description="Turn a 'gnt-backup export' folder (its config.ini and the raw disk dumps beside it) "
        "into an OVF package folder OUTPUT_DIR/NAME/ or, with --ova, one OUTPUT_DIR/NAME.ova, that "
        "VMware, VirtualBox and Ganeti import.",
        epilog=EXPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp.add_argument("config", metavar="CONFIG_INI", help="the config.ini of a gnt-backup export")
    fmt = exp.add_argument_group("disks")
    fmt.add_argument(
        "-f",
        "--format",
        default="vmdk",
        choices=("vmdk", "raw", "qcow2", "cow", "vdi", "vhd", "vhdx"),
        help="disk format (default: vmdk, streamOptimized; cow is Ganeti's name for qcow2)",
    )
    fmt.add_argument(
        "--vmdk-subformat",
        default="streamOptimized",
        choices=("streamOptimized", "monolithicSparse"),
        help="VMDK flavour (default: streamOptimized, what VMware and VirtualBox import)",
    )
    fmt.add_argument("--compress", action="store_true", help='gzip each disk file (ovf:compression="gzip")')
    fmt.add_argument(
        "--compression-level",
        type=int,
        metavar="1-9",
        help="deflate level of VMDK grains and --compress (default 1: fastest, a few %% larger than "
        "qemu-img's VMDK; 4: within 1-3%% of qemu-img's size, about twice the time)",
    )
    fmt.add_argument("--threads", type=int, metavar="N", help="compression threads per disk (default: CPUs)")
    pkg = exp.add_argument_group("package")
    pkg.add_argument("--ova", action="store_true", help="write one .ova file instead of a folder")
    pkg.add_argument(
        "--external", action="store_true", help="leave out the Ganeti section (hypervisor and OS not required)"
    )
    pkg.add_argument("-n", "--name", help="virtual system name (default: the instance name)")
    pkg.add_argument(
        "--digest",
        default="sha256",
        choices=("sha1", "sha256", "sha512"),
        help="manifest digest (default: sha256; some older VMware products want sha1)",
    )
    pkg.add_argument("--ovf-version", default="1.0", choices=("1.0", "2.0"), help="OVF version (default: 1.0)")
    pkg.add_argument(
        "--virtual-system-type",
        default="vmx-07",
        metavar="TYPE",
        help="vssd:VirtualSystemType, e.g. vmx-07 (default) or 'vmx-07 vmx-10'",
    )
    res = exp.add_argument_group("result")
    res.add_argument(
        "--output-dir",
        metavar="DIR",
        help="where the result goes (default: the current folder, not Ganeti's export folder)",
    )
    res.add_argument("--force", action="store_true", help="replace an existing result")
    _hardlinks(exp, "a config.ini or disk dump")
    _common(exp, suppress=True)
    exp.set_defaults(run=_run_export)

    add_convert_parser(commands, _common)

    info = commands.add_parser(
        "info",
        help="show what is inside a package, without converting anything",
        description="Show what an OVF package holds: OVF version, virtual systems, deployment profiles, "
        "hardware, disks (format, capacity, file size), NICs, files and their manifest status, the Ganeti "
        "section and warnings. Reads only the descriptor, manifest and image headers.",
        epilog=INFO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument(
        "package", metavar="PACKAGE", help="an .ovf descriptor, an .ova archive, or a folder with one .ovf"
    )
    info.add_argument("--json", action="store_true", help="print JSON (shape documented in doc/info-json.rst)")
    info.add_argument("--deployment-option", metavar="ID", help="show the hardware of this profile")
    _hardlinks(info, "files of a folder package")
    _common(info, suppress=True)
    info.set_defaults(run=_run_info)

    verify = commands.add_parser(
        "verify",
        help="check a package against its manifest and certificate",
        description="Hash every file the manifest lists and compare; check the certificate's signature of "
        "the manifest. Exit status 0 when everything verifies, 1 otherwise.",
        epilog=VERIFY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument(
        "package", metavar="PACKAGE", help="an .ovf descriptor, an .ova archive, or a folder with one .ovf"
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument(
        "--schema",
        metavar="DIR",
        help="also validate the descriptor against the DMTF OVF schema (dsp8023*.xsd and the CIM schemas it "
        "imports) found in DIR, plus ovfconverter's Ganeti section schema; offline",
    )
    _hardlinks(verify, "files of a folder package")
    _common(verify, suppress=True)
    verify.set_defaults(run=_run_verify)
    return parser


class _Formatter(logging.Formatter):
    """``ovfconverter: LEVEL: MESSAGE``, the message escaped: one line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.DEBUG: "debug: "}.get(
            record.levelno, ""
        )
        return f"{PROG}: {prefix}{escape_line(record.getMessage())}"


def _setup_logging(args: argparse.Namespace) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger = logging.getLogger("ovfconverter")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING)
    logger.propagate = False


def _import_options(args: argparse.Namespace) -> ImportOptions:
    from ovfconverter.importer import ImportOptions

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


def _run_info(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.cli.report import format_info
    from ovfconverter.info import read_package, to_json

    info = read_package(args.package, args.deployment_option, progress, args.allow_hardlinks)
    print(json.dumps(to_json(info), indent=2) if args.json else format_info(info))
    return 0


def _run_verify(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.cli.report import format_verify
    from ovfconverter.info import to_json, verify_package

    report = verify_package(args.package, progress, args.schema, args.allow_hardlinks)
    print(json.dumps(to_json(report), indent=2) if args.json else format_verify(report))
    return 0 if report.ok else 1


def _run_export(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.exporter import ExportOptions, export_instance

    options = ExportOptions(
        format=args.format,
        vmdk_subformat=args.vmdk_subformat,
        compress=args.compress,
        compression_level=args.compression_level,
        threads=args.threads,
        ova=args.ova,
        external=args.external,
        name=args.name,
        output_dir=args.output_dir,
        force=args.force,
        allow_hardlinks=args.allow_hardlinks,
        digest=args.digest,
        ovf_version=args.ovf_version,
        virtual_system_type=args.virtual_system_type,
    )
    result = export_instance(args.config, options, progress)
    disks = len(result.files) - 2
    kind = "OVA" if args.ova else "OVF package"
    name = result.envelope.virtual_systems[0].name
    _say(f"{result.path}: {kind} of {name!r}, {disks} disk(s), OVF {options.ovf_version}")
    return 0


def _run_import(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.importer import import_package

    result = import_package(args.package, _import_options(args), progress)
    config = result.config
    _say(f"{result.path}: Ganeti export of {config.name!r}, {len(result.disks)} disk(s), {len(config.nics)} NIC(s)")
    step = result.next_step
    if step is not None:
        _say(f"  import it with: {step.text()}")
        if step.reasons:
            _say(f"  ({'; '.join(step.reasons)})")
    return 0


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
    try:
        status = int(args.run(args, progress))
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
        return 130
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
