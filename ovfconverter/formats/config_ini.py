"""Ganeti's ``config.ini`` (the description of an instance export), read and
written with :mod:`configparser`.

Layout as Ganeti 2.16/3.0 writes it (``backend.FinalizeExport``) and reads it
(``LUInstanceCreate._ReadExportParams``): ``[export]`` (``version``, ``os``,
``timestamp``, ``source``, ``compression``), ``[instance]`` (``name``,
``hypervisor``, ``disk_template``, ``tags``, ``nicN_*``, ``nic_count``,
``diskN_*``, ``disk_count``), ``[hypervisor]``, ``[backend]``, ``[os]`` and
``[os_private]``.  Pre-2.6 exports keep ``memory`` in ``[backend]``; 2.6 and
later keep ``maxmem``/``minmem`` there and a ``memory`` copy in ``[instance]``.

Values are read without ``%`` interpolation.  Ganeti itself reads with
interpolation, so the writer refuses values containing ``%`` (see
:func:`ovfconverter.model.ganeti.validate_value`).
"""

from __future__ import annotations

import configparser
import io
import re

from ovfconverter.errors import ConfigError, OptionError
from ovfconverter.model.ganeti import MAX_DISKS, MAX_NICS, GanetiDisk, GanetiNic, InstanceExport, validate_value

MAX_CONFIG_SIZE = 1 << 20
"""Largest config.ini accepted, in bytes."""

_NIC_KEYS = ("mac", "ip", "mode", "link", "network", "name", "vlan")
_DISK_KEY_RE = re.compile(r"^disk(\d{1,3})_(dump|size|ivname|name)$")
_NIC_KEY_RE = re.compile(r"^nic(\d{1,3})_(\w+)$")
_INSTANCE_KNOWN = {"name", "hypervisor", "disk_template", "tags", "disk_count", "nic_count"}


def _none(value: str | None) -> str | None:
    """Ganeti writes Python's ``None`` as the string ``None``."""
    if value is None or value.strip().lower() in ("none", ""):
        return None
    return value.strip()


def _reader() -> configparser.RawConfigParser:
    """A strict parser without interpolation that reads keys in lower case,
    as Ganeti's ConfigParser does: ``NIC_COUNT`` is ``nic_count``, and a key
    given twice in two cases is refused."""
    return configparser.RawConfigParser(interpolation=None, strict=True, allow_no_value=False)


def _parse(data: bytes, name: str) -> configparser.RawConfigParser:
    """The ini file in ``data``, parsed.

    :raises ConfigError: too large, not UTF-8, not an ini file, or neither
        ``[export]`` nor ``[instance]``.
    """
    if len(data) > MAX_CONFIG_SIZE:
        raise ConfigError(f"is {len(data)} bytes, more than {MAX_CONFIG_SIZE} allowed", name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", name) from None
    parser = _reader()
    try:
        parser.read_string(text, source=name)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"is not a valid config.ini: {first}", name) from None
    if not parser.has_section("instance") and not parser.has_section("export"):
        raise ConfigError("is not a Ganeti export: it has neither [export] nor [instance]", name)
    return parser


def _split_instance(
    instance: dict[str, str],
) -> tuple[dict[int, dict[str, str]], dict[int, dict[str, str]], dict[str, str]]:
    """``[instance]``'s ``diskN_*`` and ``nicN_*`` keys by index, and the
    keys this model does not name."""
    disks: dict[int, dict[str, str]] = {}
    nics: dict[int, dict[str, str]] = {}
    extra: dict[str, str] = {}
    for key, value in instance.items():
        disk_match = _DISK_KEY_RE.match(key)
        nic_match = _NIC_KEY_RE.match(key)
        if disk_match and int(disk_match.group(1)) < MAX_DISKS:
            disks.setdefault(int(disk_match.group(1)), {})[disk_match.group(2)] = value
        elif nic_match and int(nic_match.group(1)) < MAX_NICS and nic_match.group(2) in _NIC_KEYS:
            nics.setdefault(int(nic_match.group(1)), {})[nic_match.group(2)] = value
        elif key not in _INSTANCE_KNOWN:
            extra[key] = value
    return disks, nics, extra


def _disks(disks: dict[int, dict[str, str]], count: int | None, name: str) -> list[GanetiDisk]:
    """The disks, ``count`` of them (``disk_count``) or as many as described.

    :raises ConfigError: a disk counted but not described, a bad size.
    """
    result = []
    for index in range(count if count is not None else len(disks)):
        values = disks.get(index)
        if values is None:
            raise ConfigError(f"disk_count says {count} but disk{index} is not described", name)
        size_text = values.get("size", "0").strip() or "0"
        try:
            size = int(size_text)
        except ValueError:
            raise ConfigError(f"disk{index}_size {size_text!r} is not a whole number of MiB", name) from None
        if size < 0:
            raise ConfigError(f"disk{index}_size {size_text!r} is negative", name)
        result.append(
            GanetiDisk(
                size=size,
                dump=_none(values.get("dump")),
                ivname=_none(values.get("ivname")),
                name=_none(values.get("name")),
            )
        )
    return result


def read_config(data: bytes, name: str = "config.ini") -> InstanceExport:
    """Read a Ganeti ``config.ini``.

    :param data: the file's bytes.
    :param name: its file name, for messages.
    :returns: the export, every key in lower case as Ganeti reads it;
        keys this model does not name are kept in
        ``instance_extra`` / ``export_extra``.  Nothing is validated beyond
        the syntax: the exporter checks what it needs.
    :raises ConfigError: too large, not UTF-8, not an ini file, duplicate
        sections or keys, or a bad ``diskN_size``.
    """
    parser = _parse(data, name)

    def section(title: str) -> dict[str, str]:
        return dict(parser.items(title)) if parser.has_section(title) else {}

    export_section = section("export")
    instance = section("instance")
    config = InstanceExport(
        name=_none(instance.pop("name", None)),
        os=_none(export_section.pop("os", None)),
        hypervisor=_none(instance.pop("hypervisor", None)),
        disk_template=_none(instance.pop("disk_template", None)),
        tags=instance.pop("tags", "").split(),
        backend=section("backend"),
        hypervisor_params=section("hypervisor"),
        os_params=section("os"),
        os_private=section("os_private"),
        export_version=export_section.pop("version", "").strip(),
        export_extra=export_section,
    )
    disks, nics, config.instance_extra = _split_instance(instance)
    config.disks = _disks(disks, _count(instance.get("disk_count"), "disk_count", name, MAX_DISKS), name)
    nic_count = _count(instance.get("nic_count"), "nic_count", name, MAX_NICS)
    for index in range(nic_count if nic_count is not None else len(nics)):
        values = nics.get(index, {})
        config.nics.append(GanetiNic(**{key: _none(values.get(key)) for key in _NIC_KEYS}))
    return config


def _count(text: str | None, key: str, name: str, limit: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{key} {text!r} is not a number", name) from None
    if not 0 <= value <= limit:
        raise ConfigError(f"{key} {value} is out of range (0 to {limit})", name)
    return value


class _Writer(configparser.RawConfigParser):
    """The writer's parser: keys kept as given, with the case-folded keys
    of each section remembered so a duplicate is found in constant time."""

    def __init__(self) -> None:
        super().__init__(interpolation=None, strict=True, allow_no_value=False)
        self.optionxform = str  # type: ignore[assignment,method-assign]
        self.folded: dict[str, set[str]] = {}


def _put(parser: _Writer, section: str, key: str, value: str | None) -> None:
    if value is None:
        return
    try:
        validate_value(value, f"{section} {key}")
        validate_value(key, f"[{section}] key")
    except OptionError as exc:
        raise ConfigError(exc.message, "config.ini") from None
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
        raise ConfigError(f"[{section}] key {key!r} is not a valid config.ini key", "config.ini")
    folded = parser.folded.setdefault(section, set())
    if key.lower() in folded:
        raise ConfigError(f"[{section}] key {key!r} is given twice (Ganeti ignores the case of keys)", "config.ini")
    folded.add(key.lower())
    parser.set(section, key, value)


def write_config(config: InstanceExport) -> str:
    """Render ``config`` as ``config.ini`` text, sections in Ganeti's order
    (``[export]``, ``[instance]``, ``[hypervisor]``, ``[backend]``, ``[os]``,
    then ``[os_private]`` when it has values).  ``None`` values are left out.

    NIC keys follow what Ganeti 2.16/3.0's import needs: ``nicN_mac`` is
    always written (``auto`` when unknown) because Ganeti counts NICs by it,
    and a NIC without ``network`` gets ``nicN_mode`` and ``nicN_link``
    (``none`` when unknown, meaning the cluster default) because Ganeti
    reads both unconditionally for such NICs.  A NIC with a network keeps
    the mode and link it has, which Ganeti ignores, as its own export does.

    :raises ConfigError: a key or value that cannot be written safely
        (control characters, ``%``, odd key characters).
    """
    parser = _Writer()
    for title in ("export", "instance", "hypervisor", "backend", "os"):
        parser.add_section(title)

    _put(parser, "export", "version", config.export_version)
    _put(parser, "export", "os", config.os)
    for key, value in config.export_extra.items():
        _put(parser, "export", key, value)

    for tag in config.tags:
        if not tag or any(ch.isspace() for ch in tag):
            raise ConfigError(f"tag {tag!r} is empty or contains white space", "config.ini")
    for disk in config.disks:
        if disk.size < 0:
            raise ConfigError(f"disk size {disk.size} is negative", "config.ini")
    _put(parser, "instance", "name", config.name)
    _put(parser, "instance", "hypervisor", config.hypervisor)
    _put(parser, "instance", "disk_template", config.disk_template)
    if config.tags:
        _put(parser, "instance", "tags", " ".join(config.tags))
    for key, value in config.instance_extra.items():
        _put(parser, "instance", key, value)
    for index, nic in enumerate(config.nics):
        _put(parser, "instance", f"nic{index}_mac", nic.mac or "auto")
        _put(parser, "instance", f"nic{index}_ip", nic.ip)
        _put(parser, "instance", f"nic{index}_network", nic.network)
        if nic.network:  # Ganeti ignores mode and link then; kept for the record
            _put(parser, "instance", f"nic{index}_mode", nic.mode)
            _put(parser, "instance", f"nic{index}_link", nic.link)
        else:
            _put(parser, "instance", f"nic{index}_mode", nic.mode or "none")
            _put(parser, "instance", f"nic{index}_link", nic.link or "none")
        _put(parser, "instance", f"nic{index}_vlan", nic.vlan)
        _put(parser, "instance", f"nic{index}_name", nic.name)
    _put(parser, "instance", "nic_count", str(len(config.nics)))
    for index, disk in enumerate(config.disks):
        _put(parser, "instance", f"disk{index}_ivname", disk.ivname)
        _put(parser, "instance", f"disk{index}_dump", disk.dump)
        _put(parser, "instance", f"disk{index}_size", str(disk.size))
        _put(parser, "instance", f"disk{index}_name", disk.name)
    _put(parser, "instance", "disk_count", str(len(config.disks)))

    for title, values in (
        ("hypervisor", config.hypervisor_params),
        ("backend", config.backend),
        ("os", config.os_params),
    ):
        for key, value in values.items():
            _put(parser, title, key, value)
    if config.os_private:
        parser.add_section("os_private")
        for key, value in config.os_private.items():
            _put(parser, "os_private", key, value)

    out = io.StringIO()
    parser.write(out)
    return out.getvalue()
