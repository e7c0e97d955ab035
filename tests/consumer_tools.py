"""The real consumers of the libvirt and xen targets, as test harnesses:
``virt-xml-validate``, ``virsh -c test:///default``, a real ``libvirtd`` with
its qemu driver, and Xen's own ``xl.cfg`` parser (libxlutil through ctypes).
Each helper skips the calling test, with the reason, when its tool cannot run
here; tools/setup-env installs them all on Debian.

Inputs are built with ``builders.py`` (the one place for shared builders);
this module only runs and reads what consumes the results.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

QEMU_URI = "qemu:///system"


def need(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        pytest.skip(f"{command} is not installed (tools/setup-env installs it as root)")
    return path


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def virt_xml_validate(path: Path) -> None:
    """Assert that ``path`` validates against libvirt's domain schema."""
    need("virt-xml-validate")
    need("xmllint")
    result = run("virt-xml-validate", str(path), "domain")
    assert result.returncode == 0, result.stdout + result.stderr


def virsh_test_define(path: Path) -> None:
    """Assert that libvirt's test driver defines the domain."""
    need("virsh")
    result = run("virsh", "-c", "test:///default", "define", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- a real libvirtd --------------------------------------------------------


def _libvirtd_answers() -> bool:
    return run("virsh", "-c", QEMU_URI, "version", timeout=30).returncode == 0


def libvirtd() -> Iterator[str]:
    """A running libvirtd (qemu driver): reuse one that answers, else start
    ``virtlogd -d`` and ``libvirtd -d`` (no systemd here) and stop what was
    started afterwards.  Yields the connection URI."""
    need("virsh")
    if _libvirtd_answers():
        yield QEMU_URI
        return
    if os.geteuid() != 0:
        pytest.skip("a system libvirtd needs root")
    need("libvirtd")
    need("virtlogd")
    Path("/var/log/libvirt").mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    for daemon in ("virtlogd", "libvirtd"):
        pidfile = f"/run/{daemon}.pid"
        if run("pgrep", "-x", daemon).returncode != 0:
            result = run(daemon, "-d", "-p", pidfile)
            if result.returncode != 0:
                pytest.skip(f"{daemon} -d failed: {result.stderr.strip()}")
            started.append(pidfile)
    for _ in range(60):
        if _libvirtd_answers():
            break
        time.sleep(0.5)
    else:
        log = Path("/var/log/libvirt/libvirtd.log")
        tail = log.read_text(errors="replace").splitlines()[-3:] if log.exists() else []
        pytest.skip(f"libvirtd does not answer: {' | '.join(tail)}")
    try:
        yield QEMU_URI
    finally:
        for pidfile in reversed(started):
            try:
                os.kill(int(Path(pidfile).read_text().split()[0]), 15)
            except (OSError, ValueError):
                pass


def world_readable_dir(prefix: str) -> Path:
    """A fresh folder that libvirt's ``libvirt-qemu`` user can traverse
    (pytest's own tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    path.chmod(0o755)
    return path


# --- Xen's xl.cfg parser ----------------------------------------------------


class _XlDisk(ctypes.Structure):
    # The leading members of libxl_device_disk (libxl_types.idl, Xen 4.17);
    # the padding leaves room for the rest, which libxl_device_disk_init sets.
    _fields_ = [
        ("backend_domid", ctypes.c_uint32),
        ("backend_domname", ctypes.c_char_p),
        ("pdev_path", ctypes.c_char_p),
        ("vdev", ctypes.c_char_p),
        ("backend", ctypes.c_int),
        ("format", ctypes.c_int),
        ("script", ctypes.c_char_p),
        ("removable", ctypes.c_int),
        ("readwrite", ctypes.c_int),
        ("is_cdrom", ctypes.c_int),
        ("rest", ctypes.c_char * 4096),
    ]


#: libxl_disk_format values (libxl_types.idl).
XL_DISK_FORMATS = {1: "qcow", 2: "qcow2", 3: "vhd", 4: "raw", 5: "empty", 6: "qed"}


@dataclass
class ParsedDisk:
    target: str | None
    vdev: str
    format: str
    readwrite: bool
    cdrom: bool


@dataclass
class ParsedXl:
    strings: dict[str, str]
    longs: dict[str, int]
    disks: list[ParsedDisk]
    vifs: list[str]


def _libs() -> tuple[ctypes.CDLL, ctypes.CDLL, ctypes.CDLL]:
    try:
        xlu = ctypes.CDLL("libxlutil.so.4.17")
        xl = ctypes.CDLL("libxenlight.so.4.17")
    except OSError as exc:
        pytest.skip(f"Xen's libxlutil is not installed (Debian package libxenmisc4.17): {exc}")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fdopen.restype = ctypes.c_void_p
    libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    xlu.xlu_cfg_init.restype = ctypes.c_void_p
    xlu.xlu_cfg_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    xlu.xlu_cfg_readfile.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    xlu.xlu_cfg_destroy.argtypes = [ctypes.c_void_p]
    xlu.xlu_cfg_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
    xlu.xlu_cfg_get_long.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_long), ctypes.c_int]
    xlu.xlu_cfg_get_list.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    xlu.xlu_cfg_get_listitem.restype = ctypes.c_char_p
    xlu.xlu_cfg_get_listitem.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlu.xlu_disk_parse.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p]
    xl.libxl_device_disk_init.argtypes = [ctypes.c_void_p]
    xl.libxl_device_disk_dispose.argtypes = [ctypes.c_void_p]
    return xlu, xl, libc


class XlParseError(AssertionError):
    pass


_VIF_KEYS = {"mac", "bridge", "model", "type", "ip", "script", "vifname", "rate", "backend"}
_VIF_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def check_vif(spec: str) -> dict[str, str]:
    """Our own rules for a vif entry (xl parses vif lines only inside
    libxl): comma-separated key=value pairs of known keys, each once, a valid
    unicast MAC, a bridge name without spaces."""
    result: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        assert sep and key in _VIF_KEYS and key not in result and value, f"bad vif entry {spec!r}"
        result[key] = value
    if "mac" in result:
        assert _VIF_MAC.fullmatch(result["mac"]) and not int(result["mac"][:2], 16) & 1, spec
    assert "bridge" in result and " " not in result["bridge"], spec
    return result


def parse_xl_cfg(path: Path, strings: tuple[str, ...] = ("name", "type"), longs: tuple[str, ...] = ()) -> ParsedXl:
    """Parse ``path`` with Xen's ``xlu_cfg_readfile``, each ``disk`` entry
    with ``xlu_disk_parse``, each ``vif`` entry with :func:`check_vif`.

    :raises XlParseError: with xl's own messages, when anything fails.
    """
    xlu, xl, libc = _libs()
    with tempfile.TemporaryFile() as report:
        stream = libc.fdopen(os.dup(report.fileno()), b"w")
        cfg = xlu.xlu_cfg_init(stream, str(path).encode())
        try:
            parsed = _parse(xlu, xl, cfg, path, strings, longs)
            error = None
        except XlParseError as exc:
            error = exc
        finally:
            xlu.xlu_cfg_destroy(cfg)
            libc.fclose(stream)
        report.seek(0)
        messages = report.read().decode(errors="replace")
    if error is not None:
        raise XlParseError(f"{error}: {messages}")
    return parsed


def _parse(
    xlu: ctypes.CDLL, xl: ctypes.CDLL, cfg: int, path: Path, strings: tuple[str, ...], longs: tuple[str, ...]
) -> ParsedXl:
    if xlu.xlu_cfg_readfile(cfg, str(path).encode()) != 0:
        raise XlParseError("xlu_cfg_readfile failed")
    result = ParsedXl({}, {}, [], [])
    for key in strings:
        value = ctypes.c_char_p()
        if xlu.xlu_cfg_get_string(cfg, key.encode(), ctypes.byref(value), 0) != 0 or value.value is None:
            raise XlParseError(f"no string {key}")
        result.strings[key] = value.value.decode()
    for key in longs:
        number = ctypes.c_long()
        if xlu.xlu_cfg_get_long(cfg, key.encode(), ctypes.byref(number), 0) != 0:
            raise XlParseError(f"no number {key}")
        result.longs[key] = number.value
    for key in ("disk", "vif"):
        items = ctypes.c_void_p()
        count = ctypes.c_int()
        if xlu.xlu_cfg_get_list(cfg, key.encode(), ctypes.byref(items), ctypes.byref(count), 1) != 0:
            continue
        for n in range(count.value):
            item = xlu.xlu_cfg_get_listitem(items, n)
            if key == "vif":
                result.vifs.append(item.decode())
                check_vif(item.decode())
                continue
            disk = _XlDisk()
            xl.libxl_device_disk_init(ctypes.byref(disk))
            specs = (ctypes.c_char_p * 1)(item)
            rc = xlu.xlu_disk_parse(cfg, 1, specs, ctypes.byref(disk))
            if rc != 0:
                raise XlParseError(f"xlu_disk_parse refused {item!r}")
            result.disks.append(
                ParsedDisk(
                    target=disk.pdev_path.decode() if disk.pdev_path else None,
                    vdev=(disk.vdev or b"").decode(),
                    format=XL_DISK_FORMATS.get(disk.format, str(disk.format)),
                    readwrite=bool(disk.readwrite),
                    cdrom=bool(disk.is_cdrom),
                )
            )
            xl.libxl_device_disk_dispose(ctypes.byref(disk))
    return result


# --- booting what a target wrote -------------------------------------------

MAKE_BOOT_DISK_TIMEOUT = 600
BOOT_TIMEOUT = 240  # seconds under TCG; a disk that does not boot hangs


@dataclass
class BootReport:
    """What ``make-boot-disk``'s init printed on the serial console."""

    firmware: str
    disks: list[dict[str, str]]
    nics: list[dict[str, str]]
    seconds: float

    def boot_disk(self) -> dict[str, str]:
        disks = [d for d in self.disks if d.get("boot") == "1"]
        assert len(disks) == 1, self.disks
        return disks[0]

    def nic(self, mac: str) -> dict[str, str]:
        found = [n for n in self.nics if n.get("mac") == mac]
        assert len(found) == 1, (mac, self.nics)
        return found[0]


def _fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def parse_boot_report(text: str, seconds: float) -> BootReport | None:
    """The report in a serial log, ``None`` until ``OVFCONV-BOOT-OK``."""
    # OVMF's console leaves terminal escapes before the first line
    lines = [
        line[line.find("OVFCONV-") :].strip() for line in text.replace("\r", "").splitlines() if "OVFCONV-" in line
    ]
    if not any(line.startswith("OVFCONV-BOOT-OK") for line in lines):
        return None
    boot = next(_fields(line) for line in lines if line.startswith("OVFCONV-BOOT "))
    return BootReport(
        firmware=boot.get("firmware", ""),
        disks=[_fields(line) for line in lines if line.startswith("OVFCONV-DISK ")],
        nics=[_fields(line) for line in lines if line.startswith("OVFCONV-NIC ")],
        seconds=seconds,
    )


def make_boot_disk(shared: Path, out: Path, efi: bool) -> Path:
    """Build ``../shared/tools/make-boot-disk``'s raw disk (skip on exit 3)."""
    tool = shared / "tools" / "make-boot-disk"
    if not tool.exists():
        pytest.skip(f"{tool} is absent")
    args = [str(tool), str(out)] + (["--efi"] if efi else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=MAKE_BOOT_DISK_TIMEOUT, check=False)
    if result.returncode == 3:
        pytest.skip(f"make-boot-disk cannot run here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return out


def boot_domain(uri: str, domain_xml: Path, log: Path, timeout: float = BOOT_TIMEOUT) -> BootReport:
    """Start the domain in ``domain_xml`` (transient, ``virsh create``) with
    its serial console logged to ``log``, wait for the report, destroy it.

    The domain XML is used as the target wrote it, except for a ``<log>``
    added to its ``<serial>`` (the harness's only way to read the console).
    """
    from lxml import etree

    root = etree.fromstring(domain_xml.read_bytes())
    serial = root.find("devices/serial")
    assert serial is not None, "the domain has no serial console"
    etree.SubElement(serial, "log", file=str(log), append="off")
    booted = domain_xml.with_name(domain_xml.stem + "-boot.xml")
    booted.write_bytes(etree.tostring(root))
    name = root.findtext("name") or ""
    run("virsh", "-c", uri, "destroy", name)
    start = time.monotonic()
    result = run("virsh", "-c", uri, "create", str(booted))
    assert result.returncode == 0, result.stderr
    try:
        while time.monotonic() - start < timeout:
            text = log.read_text(errors="replace") if log.exists() else ""
            report = parse_boot_report(text, time.monotonic() - start)
            if report is not None:
                return report
            time.sleep(1)
        text = log.read_text(errors="replace") if log.exists() else ""
        raise AssertionError(f"no boot report within {timeout} s; console: {text[-2000:]!r}")
    finally:
        run("virsh", "-c", uri, "destroy", name)


def bridge(name: str) -> Iterator[str]:
    """A host bridge with no address and no ports, for NICs to attach to
    (no traffic can leave it); removed afterwards."""
    need("ip")
    if run("ip", "link", "show", name).returncode == 0:
        yield name
        return
    result = run("ip", "link", "add", name, "type", "bridge")
    if result.returncode != 0:
        pytest.skip(f"cannot create bridge {name}: {result.stderr.strip()}")
    run("ip", "link", "set", name, "up")
    try:
        yield name
    finally:
        run("ip", "link", "del", name)


GANETI_LOCK = "/tmp/ovfconverter-ganeti-cluster.lock"


def _ganeti(tool: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool), *argv], capture_output=True, text=True, timeout=900, check=False)


@contextlib.contextmanager
def ganeti_cluster(tool: Path, *os_dirs: Path) -> Iterator[None]:
    """The Ganeti test cluster (``../shared/tools/ganeti-cluster``), up with
    the kvm hypervisor and ``os_dirs`` for as long as the block runs, under
    the machine-wide lock; ``down`` afterwards. Skips the caller on exit 3.

    A cluster left behind by an earlier, killed run can still answer ``up``
    ("already up") yet time out on the next command: when ``up`` fails for
    any other reason than 3, the cluster is taken down and brought up once
    more from scratch before the failure counts."""
    if not tool.exists():
        pytest.skip(f"{tool} is absent: no Ganeti test cluster here")
    argv = ["up", *(arg for d in os_dirs for arg in ("--os", str(d))), "--with-kvm"]
    with open(GANETI_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        up = _ganeti(tool, *argv)
        if up.returncode not in (0, 3):
            _ganeti(tool, "down")
            up = _ganeti(tool, *argv)
        if up.returncode == 3:
            pytest.skip(f"the Ganeti test cluster cannot run here: {up.stderr.strip()}")
        assert up.returncode == 0, up.stdout + up.stderr
        try:
            yield
        finally:
            down = _ganeti(tool, "down")
            assert down.returncode == 0, down.stderr
