"""``ovfconverter convert SOURCE --to openstack|libvirt|xen``: the command
line of those targets (thin: options in, one library call, a summary out).

The ``convert`` command itself is :mod:`ovfconverter.cli.parser`'s; this
module adds the options only these targets take and runs them, all on the
seam (:func:`ovfconverter.pipelines.convert.convert`)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ovfconverter.cli.option_values import property_values
from ovfconverter.cli.results import document
from ovfconverter.cli.terminal import escape_line

if TYPE_CHECKING:
    from ovfconverter.cli.progress import ProgressBars
    from ovfconverter.hub.devices import DevicePolicy
    from ovfconverter.targets.openstack import OpenStackResult

TARGETS = ("openstack", "libvirt", "xen")
"""``convert --to`` values this module runs."""

INTERIM_ONLY = ("disk_format",)
"""``convert`` options of these targets that no seam target takes."""
OPENSTACK_ONLY = ("upload", "os_cloud", "upload_method")
"""``convert`` options of ``--to openstack`` alone."""
DOMAIN_ONLY = ("domain_type", "relative_paths")
"""``convert`` options of ``--to libvirt|xen`` alone."""
DEVICE_OPTIONS = ("virtio", "keep_devices")
"""``convert`` options of the targets that choose devices (ganeti, libvirt,
xen, openstack), not of ovf and ova (their ``--for`` profile does)."""

EXAMPLES = """
  # a VMware OVA to qcow2 images with their Glance fields, uploaded to a cloud of clouds.yaml
  ovfconverter convert appliance.ova --to openstack --upload --os-cloud mycloud

  # a Ganeti export to raw images (for Ceph-backed clouds), cloud from the OS_* environment
  ovfconverter convert /var/lib/ganeti/export/web1.example.com --to openstack --disk-format raw --upload

  # only write the images and their JSON files; upload later or by hand
  ovfconverter convert vm.ovf --to openstack --output-dir /srv/images

  # a VMware OVA as a libvirt domain on bridge br0, then define it
  ovfconverter convert appliance.ova --to libvirt --output-dir /var/lib/libvirt/images --net 0:bridge=br0
  virsh define /var/lib/libvirt/images/NAME/NAME.xml

  # a Ganeti instance's export as a Xen guest (xl.cfg and raw disks)
  ovfconverter convert /var/lib/ganeti/export/web1.example.com --to xen --output-dir /srv/xen
"""


def _properties(args: argparse.Namespace) -> dict[str, str]:
    return property_values(args.property)


def add_device_arguments(parser: argparse.ArgumentParser, title: str) -> None:
    """``--virtio`` and ``--keep-devices`` (the device policy,
    :mod:`ovfconverter.hub.devices`), which exclude each other."""
    group = parser.add_argument_group(title).add_mutually_exclusive_group()
    group.add_argument("--virtio", action="store_true", help="put every disk and NIC on virtio")
    group.add_argument(
        "--keep-devices",
        action="store_true",
        help="keep the source's disk buses and NIC models where the target has them, even where they cannot boot",
    )


def device_policy(args: argparse.Namespace) -> DevicePolicy:
    """The device policy ``--virtio`` / ``--keep-devices`` choose."""
    from ovfconverter.hub.devices import DevicePolicy

    return DevicePolicy.VIRTIO if args.virtio else DevicePolicy.KEEP if args.keep_devices else DevicePolicy.AUTO


def add_arguments(conv: argparse.ArgumentParser) -> None:
    """Add the options of ``convert --to openstack|libvirt|xen`` to the
    ``convert`` parser (each ``None`` or false unless given, so that other
    targets can refuse them).  ``--net`` is the parser's own (shared with
    ``--to ganeti``): these targets read ``N:bridge=BR`` or
    ``N:network=NAME`` from it."""
    conv.add_argument("--disk-format", choices=("qcow2", "raw"), help="image format (default: qcow2; raw for --to xen)")
    dom = conv.add_argument_group("libvirt and Xen (--to libvirt|xen; --net N:bridge=BR|network=NAME)")
    dom.add_argument("--domain-type", choices=("kvm", "qemu"), help="libvirt domain type (default kvm; qemu: TCG)")
    dom.add_argument(
        "--relative-paths", action="store_true", help="name disks by file name only (make absolute before use)"
    )
    add_device_arguments(conv, "devices (--to ganeti|libvirt|xen|openstack)")
    cloud = conv.add_argument_group("upload (--to openstack)")
    cloud.add_argument("--upload", action="store_true", help="create the images in Glance")
    cloud.add_argument(
        "--os-cloud",
        metavar="NAME",
        help="a cloud of clouds.yaml (default: OS_CLOUD, else the OS_* environment, as the openstack command)",
    )
    cloud.add_argument(
        "--upload-method",
        choices=("auto", "import", "put"),
        help="interoperable import (glance-direct) when offered (auto, default), always (import), or "
        "a plain upload (put)",
    )


def _summary(result: OpenStackResult) -> list[str]:
    lines = [f"{result.path}: {len(result.images)} Glance image(s)"]
    uploaded = {u.disk_index: u for u in result.uploaded}
    for image, path in zip(result.images, result.files, strict=True):
        props = " ".join(f"{k}={v}" for k, v in image.properties().items())
        lines.append(
            f"  {image.name}: {path.rsplit('/', 1)[-1]}, min_disk {image.min_disk} GiB, min_ram {image.min_ram} MiB"
            + (f", {props}" if props else "")
        )
        if image.disk_index in uploaded:
            done = uploaded[image.disk_index]
            lines.append(f"    uploaded: id {done.id} ({done.method}), checksum and os_hash_value verified")
    return lines


def _as_json(result: OpenStackResult, source: str) -> dict[str, Any]:
    from ovfconverter.formats.glance_json import glance_fields

    uploaded = {u.disk_index: u for u in result.uploaded}
    images = []
    for image, path in zip(result.images, result.files, strict=True):
        entry: dict[str, Any] = {"file": path, "role": image.role.value, **glance_fields(image)}
        done = uploaded.get(image.disk_index)
        entry["id"] = done.id if done else None
        entry["upload_method"] = done.method if done else None
        images.append(entry)
    return document("convert", source, "openstack", result.path, result.warnings, images=images)


def _attachments(specs: list[str]) -> dict[int, Any]:
    """``--net N:bridge=BR`` / ``--net N:network=NAME`` values by NIC number.

    :raises UsageError: a malformed value, or a key these targets do not
        take (``link``, ``mode``... are Ganeti's)."""
    from ovfconverter.errors import UsageError
    from ovfconverter.hub.libvirt import Attachment
    from ovfconverter.model.libvirt import InterfaceType

    result: dict[int, Any] = {}
    for spec in specs:
        number, _, rest = spec.partition(":")
        key, _, value = rest.partition("=")
        if not number.isdigit() or key not in ("bridge", "network") or not value or "," in value:
            raise UsageError(
                f"--net {spec!r}: the libvirt and Xen targets take N:bridge=NAME or N:network=NAME "
                "(keys: bridge, network)",
                choices=("bridge", "network"),
            )
        result[int(number)] = Attachment(InterfaceType(key), value)
    return result


def _run_domain(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    from ovfconverter.model.libvirt import DomainType
    from ovfconverter.pipelines.convert import convert
    from ovfconverter.pipelines.source import SourceOptions
    from ovfconverter.targets.domain import DomainOptions, DomainResult

    options = DomainOptions(
        output_dir=args.output_dir,
        name=args.name,
        disk_format=args.disk_format,
        relative_paths=args.relative_paths,
        domain_type=DomainType(args.domain_type or "kvm"),
        policy=device_policy(args),
        attachments=_attachments(args.net),
        force=args.force,
        cloud_init=args.cloud_init,
    )
    source_options = SourceOptions(
        deployment_option=args.deployment_option,
        virtual_system=args.virtual_system,
        allow_hardlinks=args.allow_hardlinks,
        properties=_properties(args),
        accept_eula=args.accept_eula,
    )
    result: DomainResult = convert(args.source, args.to, options, source_options, progress)
    if progress:
        progress.close()
    if args.json:
        domain = {"description": result.description, "disks": list(result.disks)}
        print(
            json.dumps(document("convert", args.source, args.to, result.path, result.warnings, domain=domain), indent=2)
        )
    else:
        print(escape_line(f"{result.path}: {result.description.rsplit('/', 1)[-1]} and {len(result.disks)} disk(s)"))
        command = f"virsh define {result.description}" if args.to == "libvirt" else f"xl create {result.description}"
        print(escape_line(f"  next: {command}"))
    return 0


def run_convert(args: argparse.Namespace, progress: ProgressBars | None) -> int:
    """Run ``convert``."""
    if args.to in ("libvirt", "xen"):
        return _run_domain(args, progress)
    if args.net or args.relative_paths or args.domain_type is not None:
        from ovfconverter.errors import OptionError

        raise OptionError("--net, --relative-paths and --domain-type are for libvirt and xen")
    from ovfconverter.glance.cloud import CloudOptions
    from ovfconverter.glance.upload import UploadMethod
    from ovfconverter.model.openstack import DiskFormat
    from ovfconverter.pipelines.convert import convert
    from ovfconverter.pipelines.source import SourceOptions
    from ovfconverter.targets.openstack import OpenStackOptions

    options = OpenStackOptions(
        output_dir=args.output_dir or ".",
        disk_format=DiskFormat(args.disk_format or "qcow2"),
        name=args.name,
        force=args.force,
        upload=args.upload,
        cloud=CloudOptions(cloud=args.os_cloud),
        method=UploadMethod(args.upload_method or "auto"),
        policy=device_policy(args),
    )
    source_options = SourceOptions(
        deployment_option=args.deployment_option,
        virtual_system=args.virtual_system,
        allow_hardlinks=args.allow_hardlinks,
        properties=_properties(args),
        accept_eula=args.accept_eula,
    )
    result: OpenStackResult = convert(args.source, "openstack", options, source_options, progress)
    if progress:
        progress.close()
    if args.json:
        print(json.dumps(_as_json(result, args.source), indent=2))
    else:
        for line in _summary(result):
            print(escape_line(line))
    return 0
