"""Write Xen's ``xl.cfg`` (xl.cfg(5), Xen 4.17) from
:class:`~ovfconverter.model.xen.XlConfig`; disk entries in the key=value form
of xl-disk-configuration(5), ``target=`` last (it takes the rest of the
entry, commas included).

Strings are written double-quoted; a value xl's lexer could misread (a
double quote, a backslash, a control character) is refused rather than
escaped, and a ``vif`` value must not contain ``,`` or ``=``.  The tests parse
every file with Xen's own parser (libxlutil's ``xlu_cfg_readfile`` and
``xlu_disk_parse``).
"""

from __future__ import annotations

from ovfconverter.errors import TargetError
from ovfconverter.model.xen import XlConfig, XlDisk, XlVif


def _check(value: str, what: str, forbidden: str = "") -> str:
    bad = [ch for ch in value if ch in '"\\' + forbidden or ch < " " or ch == "\x7f"]
    if bad:
        raise TargetError(f"xl.cfg: {what} {value!r} contains {bad[0]!r}, which xl.cfg cannot carry")
    return value


def quote(value: str, what: str) -> str:
    """``value`` as an xl.cfg string literal.

    :raises ovfconverter.errors.TargetError: ``value`` has a double quote,
        backslash or control character.
    """
    return '"' + _check(value, what) + '"'


def disk_spec(disk: XlDisk) -> str:
    """One disk entry, e.g. ``format=qcow2, vdev=hda, access=rw, target=/x``."""
    parts = [f"format={disk.format}", f"vdev={disk.vdev}", f"access={disk.access}"]
    if disk.cdrom:
        parts.append("devtype=cdrom")
    if disk.target is not None:
        if disk.target != disk.target.strip() or not disk.target:
            raise TargetError(f"xl.cfg: disk path {disk.target!r} begins or ends with white space")
        parts.append(f"target={_check(disk.target, 'disk path')}")
    return ", ".join(parts)


def vif_spec(vif: XlVif) -> str:
    """One vif entry, e.g. ``mac=00:16:3e:00:00:01,bridge=xenbr0,model=e1000``."""
    parts = []
    if vif.mac is not None:
        parts.append(f"mac={vif.mac}")
    parts.append(f"bridge={_check(vif.bridge, 'bridge', ',= ')}")
    if vif.model is not None:
        parts.append(f"model={vif.model}")
    return ",".join(parts)


def _list(key: str, items: list[str], what: str) -> str:
    if not items:
        return f"{key} = [ ]"
    inner = ",\n".join(f"    {quote(item, what)}" for item in items)
    return f"{key} = [\n{inner},\n]"


def write_xl_cfg(config: XlConfig) -> str:
    """The ``xl.cfg`` text for ``config``, ending in a newline.

    :raises ovfconverter.errors.TargetError: a value xl.cfg cannot carry.
    """
    lines = [f"# {_check(line, 'comment')}" for line in config.comment]
    lines.append(f"name = {quote(config.name, 'name')}")
    lines.append(f"type = {quote(config.type.value, 'type')}")
    lines.append(f"memory = {config.memory_mib}")
    lines.append(f"vcpus = {config.vcpus}")
    optional = [
        ("bios", config.bios),
        ("hdtype", config.hdtype),
        ("boot", config.boot),
        ("kernel", config.kernel),
        ("ramdisk", config.ramdisk),
        ("root", config.root),
        ("extra", config.extra),
        ("bootloader", config.bootloader),
        ("serial", config.serial),
    ]
    for key, value in optional:
        if value is not None:
            lines.append(f"{key} = {quote(value, key)}")
    lines.append(_list("disk", [disk_spec(d) for d in config.disks], "disk"))
    lines.append(_list("vif", [vif_spec(v) for v in config.vifs], "vif"))
    return "\n".join(lines) + "\n"
