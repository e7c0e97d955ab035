"""The ``ovfconverter`` command's arguments: one function per command, the
option groups that several commands share (an instance's Ganeti values,
disk formats, package layout, the result); the option values' converters
are :mod:`ovfconverter.cli.option_values`.  Values are lists of words defined once
where the library compares them (``DiskFormat``, ``Digest``...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from ovfconverter.cli import completion
from ovfconverter.cli.convert import EXAMPLES as INTERIM_EXAMPLES
from ovfconverter.cli.convert import TARGETS as INTERIM_TARGETS
from ovfconverter.cli.convert import add_arguments as add_interim_arguments
from ovfconverter.cli.convert import add_device_arguments
from ovfconverter.cli.option_values import (
    disk_option,
    hypervisor_option,
    keyval,
    net_option,
    property_pair,
    ranged,
)
from ovfconverter.cli.terminal import escape_line
from ovfconverter.disks.output_formats import DiskFormat, VmdkSubformat
from ovfconverter.formats.manifest import Digest
from ovfconverter.formats.ovf_writer import OvfVersion
from ovfconverter.hub.publishing import Product
from ovfconverter.targets import TARGETS

PROG = "ovfconverter"

IMPORT_EXAMPLES = """\
examples:
  # a VirtualBox or VMware appliance, choosing the name and the Ganeti OS
  ovfconverter import appliance.ova -n web1.example.com -o raw-image+default

  # override per key: 2 CPUs, keep the package's memory; bridge the first NIC
  ovfconverter import vm.ovf -o raw-image+default -B vcpus=2 --net 0:mode=bridged,link=br0

  # a package with profiles, picking a non-default one, into another folder
  ovfconverter import csr.ova -o csr --deployment-option 2CPU-4GB --output-dir /srv/exports

  # an appliance with properties and a license ('ovfconverter info' shows both)
  ovfconverter import monitor.ova -o raw-image+default --accept-eula \
      --property hostname=mon1 --property admin_password=s3cret-pass

Then run the gnt-backup import command it prints (on a Ganeti node, complete and ready to run).
"""


EXPORT_EXAMPLES = """\
examples:
  # for VMware or VirtualBox: one OVA, streamOptimized VMDK, SHA256 manifest
  ovfconverter export /var/lib/ganeti/export/web1.example.com/config.ini --ova

  # for an older VMware product that wants SHA1, without Ganeti's section
  ovfconverter export config.ini --ova --digest sha1 --external

  # for VirtualBox users, configured by cloud-init at first boot, signed
  ovfconverter export config.ini --ova --for virtualbox --cloud-init user-data.yaml \
      --sign signing-key.pem --certificate signing-chain.pem

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
  ovfconverter verify --ca /etc/ssl/certs/ca-certificates.crt appliance.ova
"""


CONVERT_EXAMPLES = """\
examples:
  # an appliance into a Ganeti export folder (as 'import' does)
  ovfconverter convert appliance.ova --to ganeti -n web1.example.com -o raw-image+default

  # a Ganeti export into one OVA (as 'export --ova' does)
  ovfconverter convert /var/lib/ganeti/export/web1.example.com --to ova

  # an OVA into a folder package with qcow2 disks
  ovfconverter convert appliance.ova --to ovf --format qcow2 --output-dir /srv/ovf
"""
CONVERT_EXAMPLES += INTERIM_EXAMPLES

PACKAGE_HELP = "an .ovf descriptor, an .ova archive, or a folder with one .ovf"

IMPORT_ONLY = (
    "os_type",
    "os_parameters",
    "backend_parameters",
    "hypervisor_parameters",
    "disk_template",
    "tags",
    "disk",
    "net",
    "no_nics",
)
"""``convert`` options that only a Ganeti target takes."""

EXPORT_ONLY = (
    "format",
    "vmdk_subformat",
    "compress",
    "compression_level",
    "threads",
    "external",
    "digest",
    "ovf_version",
    "virtual_system_type",
    "product",
    "vmx",
    "sign_key",
    "certificate",
)
"""``convert`` options that only the OVF and OVA targets take."""


class _Parser(argparse.ArgumentParser):
    """Every parser of the command: errors escaped for the terminal, and
    options spelled in full (no prefix matching: ``--for`` must never be
    read as ``--format`` or ``--force``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape_line(message)}\n")


class _Version(argparse.Action):
    """``--version``: the version is read only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: object, values: object, option: str | None = None
    ) -> None:
        import ovfconverter

        sys.stdout.write(f"{parser.prog} {ovfconverter.__version__}\n")
        parser.exit()


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("output and logging")
    group.add_argument("-v", "--verbose", action="store_true", default=default or False, help="report each step")
    group.add_argument(
        "-d", "--debug", action="store_true", default=default or False, help="report details; tracebacks on errors"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default or False,
        help="only errors: no progress bars, no warnings (--json output still lists them)",
    )
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


def _instance_arguments(parser: argparse.ArgumentParser, name: bool = True, net_type: bool = True) -> None:
    """The Ganeti values of the instance (import, convert --to ganeti).

    :param net_type: parse ``--net`` here; ``convert`` takes its values as
        given, read by each target its own way.
    """
    inst = parser.add_argument_group("instance")
    if name:
        inst.add_argument("-n", "--name", help="instance name (default: the package's VirtualSystem name)")
    inst.add_argument(
        "-o",
        "--os-type",
        metavar="OS",
        help="Ganeti OS, e.g. raw-image+default (needed unless the package has a Ganeti section)",
    )
    inst.add_argument("-O", "--os-parameters", metavar="K=V,...", type=keyval("-O"), default={}, help="OS parameters")
    inst.add_argument(
        "-B",
        "--backend-parameters",
        metavar="K=V,...",
        type=keyval("-B"),
        default={},
        help="backend parameters: vcpus, maxmem, minmem, memory (MiB, or with a unit: 2G), auto_balance...",
    )
    inst.add_argument(
        "-H",
        "--hypervisor-parameters",
        metavar="NAME[:K=V,...]",
        type=hypervisor_option,
        help="hypervisor and its parameters, e.g. kvm:kernel_path=,boot_order=disk",
    )
    inst.add_argument("-t", "--disk-template", metavar="TEMPLATE", help="plain, drbd, file, sharedfile, rbd, ext, ...")
    inst.add_argument("--tags", metavar="TAG,...", help="comma-separated tags (replace the package's)")
    dev = parser.add_argument_group("disks and NICs")
    dev.add_argument(
        "--disk",
        metavar="N:size=VAL",
        type=disk_option,
        action="append",
        default=[],
        help="use a new empty disk of VAL (MiB, or 10G...) as disk N; repeatable",
    )
    dev.add_argument(
        "--net",
        metavar="N:K=V,...",
        type=net_option if net_type else str,
        action="append",
        default=[],
        help="set NIC N's mode, link, mac, ip, network, name or vlan (adds NIC N if new); repeatable"
        + ("" if net_type else " (--to libvirt|xen: N:bridge=BR or N:network=NAME)"),
    )
    dev.add_argument("--no-nics", action="store_true", help="import no NIC")


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    """Which VirtualSystem and profile of an OVF package."""
    sel = parser.add_argument_group("package")
    sel.add_argument(
        "--deployment-option",
        metavar="ID",
        help="the DeploymentOptionSection profile to use (default: the package's default)",
    )
    sel.add_argument(
        "--virtual-system", metavar="ID", help="the VirtualSystem to import from a VirtualSystemCollection"
    )
    sel.add_argument(
        "--property",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        type=property_pair,
        help="set a ProductSection property (full key, or its ovf:key when unambiguous); checked against its "
        "type and qualifiers; repeatable.  Ganeti gets the values as OS parameters (doc/mapping.rst)",
    )
    sel.add_argument(
        "--accept-eula",
        action="store_true",
        help="accept the package's license agreements (EulaSection; 'info' prints them): required when it has any",
    )


def _disk_format_arguments(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The disk files of a package (export, convert --to ovf/ova)."""
    fmt = parser.add_argument_group("disks")
    fmt.add_argument(
        "-f",
        "--format",
        default=DiskFormat.VMDK.value if defaults else None,
        choices=DiskFormat.values(),
        help="disk format (default: vmdk, streamOptimized; cow is Ganeti's name for qcow2)",
    )
    fmt.add_argument(
        "--vmdk-subformat",
        default=VmdkSubformat.STREAM_OPTIMIZED.value if defaults else None,
        choices=VmdkSubformat.values(),
        help="VMDK flavour (default: streamOptimized, what VMware and VirtualBox import)",
    )
    fmt.add_argument("--compress", action="store_true", help='gzip each disk file (ovf:compression="gzip")')
    fmt.add_argument(
        "--compression-level",
        type=ranged("--compression-level", 1, 9, "the deflate level (1: fastest, 9: smallest)"),
        metavar="1-9",
        help="deflate level of VMDK grains and --compress: 1-3 ISA-L (default 1: several times qemu-img's "
        "speed, about 5%% larger than its VMDK; 3: about 3%% larger), 4-9 zlib (zlib-ng when installed): "
        "within 1%% of qemu-img's size at a quarter of level 1's speed or less",
    )
    fmt.add_argument(
        "--threads",
        type=ranged("--threads", 1, 64, "the number of compression threads"),
        metavar="N",
        help="compression threads per disk, 1 to 64 (default: CPUs)",
    )


def _package_arguments(parser: argparse.ArgumentParser, ova: bool = True, defaults: bool = True) -> None:
    """The descriptor and manifest of a package (export, convert --to ovf/ova)."""
    pkg = parser.add_argument_group("package" if ova else "package written")
    if ova:
        pkg.add_argument("--ova", action="store_true", help="write one .ova file instead of a folder")
    pkg.add_argument(
        "--external", action="store_true", help="leave out the Ganeti section (hypervisor and OS not required)"
    )
    if ova:
        pkg.add_argument("-n", "--name", help="virtual system name (default: the instance name)")
    pkg.add_argument(
        "--digest",
        default=Digest.SHA256.value if defaults else None,
        choices=Digest.values(),
        help="manifest digest (default: sha256; some older VMware products want sha1)",
    )
    pkg.add_argument(
        "--ovf-version",
        default=OvfVersion.V1_0.value if defaults else None,
        choices=OvfVersion.values(),
        help="OVF version (default: 1.0)",
    )
    pkg.add_argument(
        "--for",
        dest="product",
        choices=Product.values(),
        help="publish for this product: its import rules (doc/publishing.rst) choose devices and refuse what it "
        "cannot import (default: the generic rules, both products; then objections are warnings only)",
    )
    pkg.add_argument(
        "--vmx",
        type=int,
        metavar="NN",
        help="VMware virtual hardware version: VirtualSystemType vmx-NN (default 14: ESXi 6.7+, Workstation 14+)",
    )
    pkg.add_argument(
        "--virtual-system-type",
        metavar="TYPE",
        help="vssd:VirtualSystemType words instead, e.g. 'vmx-07 vmx-10'",
    )
    pkg.add_argument(
        "--cloud-init",
        metavar="USER_DATA[,META_DATA[,NETWORK_CONFIG]]",
        help="attach a cloud-init NoCloud seed (an ISO 9660 volume labelled cidata) made of these files; "
        "meta-data by default: instance-id and hostname from the VM's name",
    )
    pkg.add_argument(
        "--sign",
        dest="sign_key",
        metavar="KEY.pem",
        help="sign the manifest: write NAME.cert (as ovftool does) with this PEM private key; its certificate "
        "from the same file or --certificate",
    )
    pkg.add_argument(
        "--certificate",
        metavar="CERT.pem",
        help="the signer's PEM certificate, followed by any intermediate certificates",
    )


def _result_arguments(parser: argparse.ArgumentParser, where: str, replace: str) -> None:
    out = parser.add_argument_group("result")
    out.add_argument("--output-dir", metavar="DIR", help=where)
    out.add_argument("--force", action="store_true", help=replace)
    out.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on standard output instead of the summary: paths, sizes in bytes, "
        "digests, warnings (schema: ovfconverter/schemas/result.schema.json)",
    )
    out.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing: check the options and the source's description and show the plan, every "
        "config.ini key or OVF element with where its value comes from (package, option, default)",
    )


def _add_import(commands: argparse._SubParsersAction[_Parser]) -> None:
    imp = commands.add_parser(
        "import",
        help="turn an OVF package (.ovf or .ova) into a Ganeti export folder",
        description="Turn an OVF package (a folder with an .ovf descriptor, or an .ova archive) into a "
        "Ganeti export folder OUTPUT_DIR/NAME holding config.ini and raw disk dumps, ready for "
        "'gnt-backup import'. Options override what the package says, key by key.",
        epilog=IMPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("package", metavar="PACKAGE", help=PACKAGE_HELP)
    _instance_arguments(imp)
    imp.add_argument(
        "--cloud-init",
        metavar="USER_DATA[,META_DATA[,NETWORK_CONFIG]]",
        help="add a cloud-init NoCloud seed (an ISO 9660 volume labelled cidata) made of these files, as one more disk",
    )
    add_device_arguments(imp, "devices (kvm and xen-hvm parameters, written when the hypervisor is known)")
    _source_arguments(imp)
    _result_arguments(
        imp,
        "where NAME/ is written (default: /var/lib/ganeti/export if it exists, else the current folder)",
        "replace an existing DIR/NAME",
    )
    _hardlinks(imp, "files of a folder package")
    _common(imp, suppress=True)


def _add_export(commands: argparse._SubParsersAction[_Parser]) -> None:
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
    _disk_format_arguments(exp)
    _package_arguments(exp)
    _result_arguments(
        exp,
        "where the result goes (default: the current folder, not Ganeti's export folder)",
        "replace an existing result",
    )
    _hardlinks(exp, "a config.ini or disk dump")
    _common(exp, suppress=True)


def _add_convert(commands: argparse._SubParsersAction[_Parser]) -> None:
    conv = commands.add_parser(
        "convert",
        help="convert any source (OVF package, Ganeti export) to any target (--to)",
        description="Convert SOURCE (an .ova, an .ovf or a folder with one; a Ganeti export's config.ini or "
        "its folder) into the --to target: 'ganeti' writes a Ganeti export folder as 'import' does, 'ovf' "
        "an OVF package folder and 'ova' one OVA as 'export' does, 'openstack' Glance images with the "
        "fields that make Nova boot them (uploaded with --upload), 'libvirt' a domain XML and 'xen' an xl.cfg, "
        "each with its disks in one folder. Each target takes its own options below.",
        epilog=CONVERT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conv.add_argument("source", metavar="SOURCE", help="an OVF package or a Ganeti export (config.ini or its folder)")
    conv.add_argument("--to", required=True, choices=sorted({*TARGETS, *INTERIM_TARGETS}), help="what to write")
    conv.add_argument("-n", "--name", help="name of the result (default: the source's)")
    _source_arguments(conv)
    _instance_arguments(conv, name=False, net_type=False)
    _disk_format_arguments(conv, defaults=False)
    _package_arguments(conv, ova=False, defaults=False)
    add_interim_arguments(conv)
    _result_arguments(
        conv,
        "where the result goes (default: ganeti: /var/lib/ganeti/export if it exists, else the current "
        "folder; ovf and ova: the current folder)",
        "replace an existing result",
    )
    _hardlinks(conv, "input files (a folder package's, a config.ini, disk dumps)")
    _common(conv, suppress=True)


def _add_info(commands: argparse._SubParsersAction[_Parser]) -> None:
    info = commands.add_parser(
        "info",
        help="show what is inside a package or a Ganeti export, without converting anything",
        description="Show what an OVF package holds: OVF version, virtual systems, deployment profiles, "
        "hardware, disks (format, capacity, file size), NICs, files and their manifest status, the Ganeti "
        "section and warnings. Reads only the descriptor, manifest and image headers. For a Ganeti export "
        "(config.ini or its folder), the machine it describes, as convert reads it.",
        epilog=INFO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument(
        "package", metavar="PACKAGE", help=PACKAGE_HELP + ", or a Ganeti export (config.ini or its folder)"
    )
    info.add_argument("--json", action="store_true", help="print JSON (shape documented in doc/info-json.rst)")
    info.add_argument("--deployment-option", metavar="ID", help="show the hardware of this profile")
    _hardlinks(info, "files of a folder package")
    _common(info, suppress=True)


def _add_verify(commands: argparse._SubParsersAction[_Parser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="check a package against its manifest and certificate",
        description="Hash every file the manifest lists and compare; check the certificate's signature of "
        "the manifest. Exit status 0 when everything verifies, 1 otherwise.",
        epilog=VERIFY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("package", metavar="PACKAGE", help=PACKAGE_HELP)
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument(
        "--schema",
        metavar="DIR",
        help="also validate the descriptor against the DMTF OVF schema (dsp8023*.xsd and the CIM schemas it "
        "imports) found in DIR, plus ovfconverter's Ganeti section schema; offline",
    )
    verify.add_argument(
        "--ca",
        metavar="FILE",
        help="a PEM bundle of trusted certificates: the package must be signed by a certificate that chains to "
        "one of them (through the certificates of its .cert file)",
    )
    _hardlinks(verify, "files of a folder package")
    _common(verify, suppress=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ovfconverter`` command; ``command`` in
    the parsed arguments names the command given."""
    parser = _Parser(
        prog=PROG,
        description="Move virtual machines between Ganeti exports and OVF/OVA packages.",
        epilog="Run 'ovfconverter COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for add in (_add_import, _add_export, _add_convert, _add_info, _add_verify):
        add(commands)
    completion.add_command(commands)
    return parser
