"""Human-readable text for ``info`` and ``verify``.

Every line is escaped for the terminal (:mod:`ovfconverter.cli.terminal`):
the values come from the package, raw.
"""

from __future__ import annotations

from ovfconverter.cli.flags import spelled
from ovfconverter.cli.terminal import escape_lines
from ovfconverter.info.machine import MachineInfo
from ovfconverter.info.model import (
    DiskInfo,
    PackageInfo,
    ProfileHardwareInfo,
    PropertyInfo,
    SystemInfo,
    VerifyReport,
)
from ovfconverter.model.units import format_bytes
from ovfconverter.package.verify import FileStatus


def _size(value: int | None) -> str:
    return "?" if value is None else format_bytes(value)


def _disk_line(disk: DiskInfo) -> str:
    if disk.blank:
        return f"disk {disk.disk_id}: blank (created empty on import), capacity {_size(disk.capacity)}"
    if disk.file is None:
        return f"disk {disk.disk_id}: its ovf:fileRef names no File, capacity {_size(disk.capacity)}"
    kind = disk.image_format or "missing file"
    if disk.image_subformat:
        kind += f" {disk.image_subformat}"
    if disk.compression:
        kind += f", {disk.compression}-compressed"
    line = f"disk {disk.disk_id}: {disk.file} ({kind}), capacity {_size(disk.capacity)}, file {_size(disk.file_size)}"
    if disk.image_virtual_size is not None and disk.capacity is not None and disk.image_virtual_size != disk.capacity:
        line += f", image says {_size(disk.image_virtual_size)}"
    if disk.problems:
        line += "; REFUSED ON IMPORT: " + "; ".join(spelled(p) for p in disk.problems)
    return line


def _property_line(prop: PropertyInfo) -> str:
    parts = [" ".join(t for t in (prop.type or "string", prop.qualifiers) if t)]
    if prop.default is None:
        parts.append("no default")
    elif prop.password and prop.default:
        parts.append("a default (hidden: a password)")
    else:
        parts.append(f"default {prop.default!r}")
    if prop.profile_defaults and not prop.password:
        parts[-1] += " (" + ", ".join(f"{v!r} in {p}" for p, v in prop.profile_defaults.items()) + ")"
    parts.append("user-configurable" if prop.user_configurable else "fixed")
    if prop.password:
        parts.append("password")
    label = f": {prop.label}" if prop.label else ""
    return f"      {prop.key}  {', '.join(parts)}{label}"


def _product_lines(system: SystemInfo) -> list[str]:
    lines = []
    for product in system.products:
        name = " ".join(t for t in (product.product, product.version) if t) or "(unnamed)"
        if product.full_version:
            name += f" ({product.full_version})"
        if product.vendor:
            name += f", {product.vendor}"
        lines.append(f"  product: {name}")
        urls = [
            f"{u} ({what})"
            for u, what in (
                (product.product_url, "product"),
                (product.vendor_url, "vendor"),
                (product.app_url, "application"),
            )
            if u
        ]
        if urls:
            lines.append("    " + ", ".join(urls))
        if product.properties:
            lines.append("    properties (import --property KEY=VALUE sets the user-configurable ones):")
            lines.extend(_property_line(prop) for prop in product.properties)
    for text in system.eulas:
        lines.append("  license agreement (import needs --accept-eula):")
        lines.extend(f"    | {line}".rstrip() for line in (text or "(empty)").splitlines())
    return lines


def _profile_line(hw: ProfileHardwareInfo) -> str:
    cpus = f"{hw.cpus} CPU(s)" if hw.cpus is not None else "CPUs not stated"
    memory = f"{hw.memory_mib} MiB" if hw.memory_mib is not None else "memory not stated"
    disks = f"{len(hw.disks)} disk(s) ({', '.join(hw.disks)}; {_size(hw.disk_bytes)})" if hw.disks else "no disk"
    nics = f"{len(hw.nics)} NIC(s) on {', '.join(n or '(none)' for n in hw.nics)}" if hw.nics else "no NIC"
    return f"{hw.profile}: {cpus}, {memory}, {disks}, {nics}"


def _system_lines(system: SystemInfo, disks: dict[str, DiskInfo]) -> list[str]:
    title = f"VirtualSystem {system.id!r}" + (f" named {system.name!r}" if system.name else "")
    if system.collection:
        title += f" in collection {'/'.join(system.collection)}"
    if system.profile:
        title += f", profile {system.profile}"
    lines = [title]
    if system.os_id is not None or system.os_description:
        vmw = f", VMware {system.os_vmware_type}" if system.os_vmware_type else ""
        lines.append(f"  OS: {system.os_description or '(no description)'} (CIM {system.os_id}{vmw})")
    memory = f"{system.memory_mib} MiB" if system.memory_mib is not None else "memory not stated"
    cpus = f"{system.cpus} CPU(s)" if system.cpus is not None else "CPUs not stated"
    types = " ".join(system.system_types) or "no VirtualSystemType"
    lines.append(f"  hardware: {cpus}, {memory} ({types})")
    for disk_id in system.disks:
        disk = disks.get(disk_id)
        lines.append("  " + (_disk_line(disk) if disk else f"disk {disk_id} (a File used directly)"))
    for index, nic in enumerate(system.nics):
        source = " (from vbox:Machine)" if nic.mac_source == "vbox:Machine" else ""
        lines.append(
            f"  NIC {index}: network {nic.network or '(none)'}, {nic.model or 'model unstated'}, "
            f"MAC {nic.mac or 'none'}{source}"
        )
    vbox = system.virtualbox
    if vbox is not None:
        controllers = ", ".join(f"{c['name']} ({c['type']})" for c in vbox.storage_controllers) or "none"
        lines.append(
            f"  VirtualBox (vbox:Machine): OS type {vbox.os_type or '?'}, firmware {vbox.firmware or 'BIOS'}, "
            f"boot order {', '.join(vbox.boot_order) or 'default'}, controllers {controllers}"
        )
    for device in system.removable:
        lines.append(
            f"  {device.type.replace('_', ' ').lower()}: {device.label}"
            + (f" holding {device.file}" if device.file else ", empty")
        )
    lines.extend(_product_lines(system))
    if system.profiles:
        lines.append("  per deployment option, an import creates:")
        lines.extend("    " + _profile_line(p) for p in system.profiles)
    if system.other_devices:
        lines.append(
            "  not imported: "
            + ", ".join(f"{d.label} ({d.type.replace('_', ' ').lower()})" for d in system.other_devices)
        )
    return lines


def format_info(info: PackageInfo) -> str:
    """``ovfconverter info`` output, escaped for a terminal."""
    kind = "OVA" if info.kind == "ova" else "OVF package"
    dialect = f" ({info.producer} dialect)" if info.producer else ""
    lines = [f"{info.path}: {kind}, OVF {info.ovf_version}{dialect}, descriptor {info.descriptor}"]
    manifest = info.manifest or "none"
    if info.manifest_algorithms:
        manifest += f" ({', '.join(a.upper() for a in info.manifest_algorithms)})"
    cert = "none"
    if info.certificate:
        cert = info.certificate.file + (f" signed by {info.certificate.subject}" if info.certificate.subject else "")
    lines.append(f"  manifest: {manifest}; certificate: {cert}")
    if info.profiles:
        lines.append(
            "  deployment options: " + ", ".join(f"{p.id}{' (default)' if p.default else ''}" for p in info.profiles)
        )
    if info.networks:
        lines.append("  networks: " + ", ".join(str(n["name"]) for n in info.networks))
    disks = {disk.disk_id: disk for disk in info.disks}
    for system in info.systems:
        lines.extend(_system_lines(system, disks))
    attached = {d for s in info.systems for d in s.disks}
    elsewhere = {d for s in info.systems for p in s.profiles for d in p.disks}
    others = [d.disk_id for d in info.disks if d.disk_id not in attached and d.disk_id in elsewhere]
    if others:
        lines.append("  disks of other deployment options only: " + ", ".join(others))
    templates = []
    for disk in info.disks:
        if disk.disk_id in attached or disk.disk_id in elsewhere:
            continue
        if disk.blank:
            templates.append(f"{disk.disk_id} ({_size(disk.capacity)})")
        else:
            lines.append("  (attached by no Item) " + _disk_line(disk))
    if templates:
        lines.append("  blank disks no Item attaches (never created): " + ", ".join(templates))
    lines.append("files:")
    for f in info.files:
        status = "MISSING" if not f.present else _size(f.size)
        algorithm = f" {f.algorithm.upper()}" if f.algorithm else ""
        lines.append(f"  {f.href}: {status}, {f.role}, manifest: {f.manifest}{algorithm}")
    if info.ganeti is not None:
        g = info.ganeti
        lines.append(
            f"Ganeti section: OS {g.os_name or '?'}, hypervisor {g.hypervisor_name or '?'}, "
            f"disk template {g.disk_template or '?'}, {len(g.nics)} NIC(s)"
            + (f", tags {' '.join(g.tags)}" if g.tags else "")
        )
    if info.ignored_sections:
        lines.append("ignored sections: " + ", ".join(info.ignored_sections))
    if info.warnings:
        lines.append("warnings:")
        lines.extend(f"  - {spelled(w)}" for w in info.warnings)
    return escape_lines(lines)


def format_machine(info: MachineInfo) -> str:
    """``ovfconverter info`` output for a source read through the machine
    model (a Ganeti export)."""
    m = info.machine
    lines = [f"{info.path}: {info.kind} source, {info.name}"]
    guest = m.os.description or "(no description)"
    lines.append(f"machine {m.name!r}" if m.name else "machine (no name)")
    lines.append(f"  OS: {guest}" + (f" (CIM {m.os.cim_id})" if m.os.cim_id is not None else ""))
    cpus = f"{m.cpus.count} CPU(s)" if m.cpus else "CPUs not stated"
    memory = f"{_size(m.memory.size)}" if m.memory else "memory not stated"
    if m.memory and m.memory.minimum is not None:
        memory += f" (at least {_size(m.memory.minimum)})"
    lines.append(f"  hardware: {cpus}, {memory}")
    for index, disk in enumerate(m.disks):
        image = disk.image.name if disk.image else "no image: created empty"
        lines.append(f"  disk {index}: {image}, capacity {_size(disk.capacity)}")
    for index, nic in enumerate(m.nics):
        where = nic.network or "(none)"
        ganeti = nic.ganeti
        if ganeti is not None:
            where = (
                ", ".join(
                    f"{k} {v}"
                    for k, v in (("mode", ganeti.mode), ("link", ganeti.link), ("network", ganeti.network))
                    if v
                )
                or where
            )
        lines.append(f"  NIC {index}: {where}, MAC {nic.mac or 'none'}")
    if m.ganeti is not None:
        g = m.ganeti
        lines.append(
            f"Ganeti: OS {g.os_name or '?'}, hypervisor {g.hypervisor or '?'}, disk template {g.disk_template or '?'}"
            + (f", tags {' '.join(g.tags)}" if g.tags else "")
        )
    if info.warnings:
        lines.append("warnings:")
        lines.extend(f"  - {spelled(w)}" for w in info.warnings)
    return escape_lines(lines)


def format_verify(report: VerifyReport) -> str:
    """``ovfconverter verify`` output, escaped for a terminal: one line per
    file, then the verdict (the only line that starts with the package's
    path)."""
    lines = []
    for verdict in report.files:
        algorithm = (verdict.algorithm or "").upper()
        if verdict.status == FileStatus.OK:
            lines.append(f"OK        {verdict.name} ({algorithm})")
        elif verdict.status == FileStatus.MISMATCH:
            lines.append(
                f"MISMATCH  {verdict.name}: {algorithm} is {verdict.actual}, the manifest says {verdict.expected}"
            )
        elif verdict.status == FileStatus.MISSING:
            lines.append(f"MISSING   {verdict.name}: listed in the manifest, not in the package")
        else:
            lines.append(f"UNLISTED  {verdict.name}: referenced by the descriptor, not in the manifest")
    cert = report.certificate
    if cert is not None:
        if cert.signature_valid:
            if cert.trusted:
                trust = f"trusted through {cert.chain[-1]}" if len(cert.chain) > 1 else "trusted (in the trust store)"
            elif cert.trusted is False:
                trust = "NOT TRUSTED"
            else:
                trust = "self-signed" if cert.self_signed else f"issued by {cert.issuer} (chain not checked)"
            expiry = "" if cert.current else ", EXPIRED or not yet valid"
            lines.append(f"SIGNED    {report.manifest} by {cert.subject}, {trust}{expiry}")
        else:
            lines.append(f"BAD SIG   {cert.file}: {cert.problem or 'the signature of the manifest does not verify'}")
    if report.schema is not None:
        if report.schema_violations:
            lines.append(f"INVALID   {len(report.schema_violations)} violation(s) of {report.schema}:")
            lines.extend(f"  {v}" for v in report.schema_violations)
        else:
            lines.append(f"VALID     the descriptor conforms to {report.schema}")
    lines.extend(f"problem: {spelled(p)}" for p in report.problems)
    lines.append(f"{report.path}: " + ("verified" if report.ok else "NOT verified"))
    return escape_lines(lines)
