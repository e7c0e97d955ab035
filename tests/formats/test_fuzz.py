"""Property-based fuzzing of the parsers that read hostile input.

Every input is hostile: whatever bytes arrive, each parser must give a
result or one of ovfconverter's own errors (:class:`OVFConverterError`),
never another exception, a hang or a memory blow-up.  Covered here:

* ``read_envelope`` (strict and not) on OVF-like documents made from a
  grammar of the elements and attributes the reader looks at, on
  mutations of real descriptors (``tests/data`` and, when present,
  ``../shared/fixtures``, read in place) and on arbitrary bytes; then, on
  every envelope it accepts, ``describe_hardware`` for every system and
  profile, ``build_plan``, and ``write_config`` / ``read_config`` of the
  plan's export, which Ganeti's ConfigParser must read with no section but
  the export's own (no injection);
* ``inspect_image`` on arbitrary bytes and on mutated headers of images
  qemu-img makes (once per module);
* ``parse_certificate`` on arbitrary bytes and on mutated signature lines
  and PEM certificates, with what ``info`` and ``verify`` then read;
* ``read_config`` then ``write_config`` on ini-like text.

The tar member table, manifest, config.ini and keyval parsers, and the
streamOptimized VMDK reader, have fuzz properties of their own in
``test_tar.py``, ``test_manifest.py``, ``test_config_ini.py``,
``test_keyval.py`` and ``test_vmdk_stream.py``; only regressions for what
fuzzing (here or with the atheris targets of ``tools/fuzz/``) found in them
are here, each with the smallest input that shows the bug.

Each example runs under a time limit (SIGALRM), so that a hang is a failure
with the input that caused it, not a stuck test run.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime
import io
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import pytest
from builders import ROOT, SHARED, qemu_img
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from ovfconverter.disks.inspector import Inspection, inspect_image
from ovfconverter.errors import ConfigError, ManifestError, OVFConverterError
from ovfconverter.formats.config_ini import read_config, write_config
from ovfconverter.formats.manifest import parse_manifest
from ovfconverter.formats.ovf_reader import read_envelope
from ovfconverter.model.envelope import Envelope
from ovfconverter.model.ganeti import GanetiDisk
from ovfconverter.model.hardware import Hardware, describe_hardware
from ovfconverter.model.units import bytes_to_mib_ceil
from ovfconverter.pipelines.importer import build_plan
from ovfconverter.targets.ganeti import ImportOptions

# --------------------------------------------------------------------------
# helpers


class Hang(AssertionError):
    """An example ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Fail with :class:`Hang` when the block runs longer than ``seconds``
    (regular expressions and big-integer arithmetic are interrupted too)."""

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"{what} ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def note_event(text: str) -> None:
    """Count ``text`` in Hypothesis' statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(text)


EXAMPLE_LIMIT = 10.0
"""Seconds one example may take (real ones take milliseconds)."""

OPTIONS = ImportOptions(os_type="x", name="vm")
GANETI_SECTIONS = {"export", "instance", "hypervisor", "backend", "os", "os_private"}
SMALL_SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def check_export_text(config_text: str) -> None:
    """What Ganeti would read from ``config_text``: its ConfigParser
    (strict, ``%`` interpolation, keys folded to lower case) must read it,
    find no section but the export's own, and interpolate every value."""
    parser = configparser.ConfigParser(strict=True)  # Ganeti's SerializableConfigParser
    parser.read_string(config_text)
    assert set(parser.sections()) <= GANETI_SECTIONS, parser.sections()
    assert {"export", "instance"} <= set(parser.sections())
    for section in parser.sections():
        for key in parser.options(section):
            parser.get(section, key)  # no InterpolationError
    read_config(config_text.encode("utf-8"), "config.ini")  # our reader: an export (or ConfigError)


def exercise_envelope(envelope: Envelope) -> int:
    """Everything an import or ``info`` does with an accepted envelope;
    returns how many plans reached ``write_config``."""
    assert isinstance(envelope, Envelope)
    profiles: list[str | None] = [None] + [option.id for option in envelope.deployment_options[:3]]
    for system in envelope.virtual_systems[:4]:
        for profile in profiles:
            hw = describe_hardware(envelope, system, profile)  # "problems are collected, never raised"
            assert isinstance(hw, Hardware)
    variants = [OPTIONS] + [
        ImportOptions(os_type="x", name="vm", virtual_system=system.id, deployment_option=profile)
        for system in envelope.virtual_systems[:2]
        for profile in profiles[:2]
    ]
    written = 0
    for options in variants:
        try:
            plan = build_plan(envelope, options, "fuzz.ovf")
        except OVFConverterError as exc:
            note_event(f"build_plan: {type(exc).__name__} {exc.message[:30]}")
            continue
        config = plan.config
        for with_disks in (False, True):
            if with_disks:  # as the import fills them in: a blank disk keeps its size, an image's is 1 MiB here
                config.disks = [
                    GanetiDisk(
                        size=bytes_to_mib_ceil(disk.blank_size) if disk.blank_size is not None else 1,
                        dump=disk.dump,
                        ivname=disk.ivname,
                        name=disk.name,
                    )
                    for disk in plan.disks
                ]
            try:
                text = write_config(config)
            except ConfigError:
                continue
            check_export_text(text)
            written += 1
    return written


def read_and_exercise(data: bytes, strict: bool) -> None:
    with time_limit(EXAMPLE_LIMIT, "reading and planning the descriptor"):
        try:
            envelope = read_envelope(data, "fuzz.ovf", strict=strict)
        except OVFConverterError as exc:
            note_event(f"refused: {type(exc).__name__} {exc.message[:40]}")
            return
        written = exercise_envelope(envelope)
    note_event("read" if not written else "read, planned and written")


# --------------------------------------------------------------------------
# (a) + (b) descriptors from a grammar of OVF-like elements

OVF_NS = {
    "0.9": "http://www.vmware.com/schema/ovf/1/envelope",
    "1": "http://schemas.dmtf.org/ovf/envelope/1",
    "2": "http://schemas.dmtf.org/ovf/envelope/2",
}
CIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
PREFIXES = {
    "rasd": CIM + "CIM_ResourceAllocationSettingData",
    "vssd": CIM + "CIM_VirtualSystemSettingData",
    "sasd": CIM + "CIM_StorageAllocationSettingData",
    "epasd": CIM + "CIM_EthernetPortAllocationSettingData",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "gnt": "http://ganeti",
    "vmw": "http://www.vmware.com/schema/ovf",
}
DISK_IDS = ["d1", "d2", "vmdisk1"]
FILE_IDS = ["f1", "f2", "file1"]
NETWORKS = ["VM Network", "bridged", "net1", "br0 routed"]
PROFILES = ["small", "big"]

# Values that have meant trouble somewhere: numbers in odd spellings,
# digits str.isdigit() accepts but int() does not, integers too long for
# str(), line breaks and '%' (config.ini injection and interpolation), the
# names Ganeti knows.
TRICKY = [
    "",
    " ",
    "0",
    "1",
    "2",
    "-1",
    "+3",
    "1_0",
    " 7 ",
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() but not int()
    "\u0663",  # ARABIC-INDIC DIGIT THREE: isdigit() and int()
    "1e3",
    "4.5",
    "18446744073709551616",
    "9" * 4301,
    "true",
    "false",
    "True",
    "no",
    "none",
    "None",
    "auto",
    "generate",
    "%(x)s",
    "50%",
    "a\nb",
    "x\n[os]\nk = v",
    "vm\n",
    " vm",
    "vm\r\n[evil]",
    "a\u2028b",
    "a\x85b",
    "kvm",
    "xen-pvm",
    "fake",
    "plain",
    "diskless",
    "bridged",
    "routed",
    "openvswitch",
    "pool",
    "aa:bb:cc:dd:ee:ff",
    "AA-BB-CC-DD-EE-01",
    "aabbccddeeff",
    "10.0.0.1",
    "fe80::1%eth0",
    "::1",
    "br0",
    "debootstrap+default",
    "a=b",
    "[x]",
    "#c",
    "x" * 5000,
    "${cap}",
    "ovf:/disk/d1",
    "/disk/d2",
    "ovf:/file/f1",
    "ovf:/disk/",
    "disk/0",
]
UNITS = [
    "byte",
    "bytes",
    "bit",
    "b",
    "octet",
    "KB",
    "MB",
    "MegaBytes",
    "GB",
    "GiB",
    "TB",
    "hertz * 10^6",
    "byte * 2^20",
    "byte*2^30",
    "byte * 10^3",
    "bit * 2^13",
    "byte / 2^3",
    "byte * 2^-5",
    "byte * 2^81",
    "byte * 1048577^2",
    "byte * 0",
    "byte * 0^1",
    "byte *",
    "* 2^20",
    "",
]


XML_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
    st.sampled_from(["\t", "\n", "\r", "\ue000", "\ufffd", "\U00010000", "\U0010ffff"]),
)
"""Characters an XML 1.0 document may hold (as text or character references)."""

xml_text = st.text(XML_CHARS, max_size=12)
values = st.one_of(st.sampled_from(TRICKY), xml_text)
ncnames = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
numbers = st.one_of(st.integers(0, 64).map(str), st.integers(0, 1 << 70).map(str))


@st.composite
def units(draw: st.DrawFn) -> str:
    """Allocation units: mostly the usual spellings; else odd ones, or
    programmatic units of up to twelve modifiers (one repeated, sometimes)."""
    choice = draw(st.integers(0, 9))
    if choice < 6:
        return draw(st.sampled_from(["byte", "byte * 2^20", "byte*2^30", "MegaBytes", "MB", "GB", "KB", "bytes"]))
    if choice < 8:
        return draw(st.sampled_from(UNITS))

    def spell(op: str, number: str, exponent: str | None) -> str:
        return op + number + ("" if exponent is None else "^" + exponent)

    modifier = st.builds(
        spell,
        st.sampled_from(["*", "/", " * ", " / "]),
        st.sampled_from(["2", "10", "1024", "0", "3", "1048576", "1048577", "99999999999999999999"]),
        st.sampled_from([None, "20", "30", "-3", "80", "81", "+1", "0", "9999"]),
    )
    base = draw(st.sampled_from(["byte", "bit", "KB", "Bytes", "MegaBytes", "hertz", ""]))
    if draw(st.booleans()):
        return base + draw(modifier) * draw(st.integers(1, 12))
    return base + "".join(draw(st.lists(modifier, max_size=10)))


def _attr_value(value: str) -> str:
    return escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _text_value(value: str) -> str:
    return escape(value, {"\r": "&#13;"})


def chance(draw: st.DrawFn, n: int) -> bool:
    """True one time in ``n`` (False is the simpler outcome, where
    Hypothesis starts and shrinks to)."""
    return draw(st.integers(0, n - 1)) == n - 1


def often(draw: st.DrawFn, n: int) -> bool:
    """False one time in ``n`` (True is the simpler outcome)."""
    return not chance(draw, n)


class Doc:
    """One generated document: draws its parts and serialises them.

    Element names carry the envelope's prefix (``""`` for the default
    namespace, or ``"ovf:"``); OVF attributes are ``ovf:``-qualified or bare,
    as producers write them; OVF 0.9-style ``Section``/``Content`` elements
    with ``xsi:type`` stand in for named sections now and then.  Values are
    mostly well formed (so that documents get past the reader and into
    build_plan and write_config) and hostile one time in ``1 / bad_rate``.
    """

    def __init__(self, draw: st.DrawFn, version: str) -> None:
        self.draw = draw
        self.version = version
        self.ns = OVF_NS[version]
        self.prefix = draw(st.sampled_from(["", "ovf:"]))
        self.qualify = draw(st.sampled_from([True, True, False]))
        self.typed_sections = chance(draw, 4 if version == "0.9" else 10)
        self.bad_rate = draw(st.sampled_from([3, 20, 100, 1 << 30]))

    def pick(self, good: st.SearchStrategy[str | None], bad: st.SearchStrategy[str | None] = values) -> str | None:
        """Usually a draw from ``good``, sometimes from ``bad``."""
        return self.draw(bad if chance(self.draw, self.bad_rate) else good)

    def pick_str(self, good: st.SearchStrategy[str]) -> str:
        return self.draw(values if chance(self.draw, self.bad_rate) else good)

    def attrs(self, pairs: dict[str, str | None]) -> str:
        out = []
        for name, value in pairs.items():
            if value is None:
                continue
            if ":" not in name and self.qualify:
                name = "ovf:" + name
            out.append(f' {name}="{_attr_value(value)}"')
        return "".join(out)

    def el(self, name: str, attrs: dict[str, str | None] | None = None, *children: str, text: str | None = None) -> str:
        tag = name if ":" in name else self.prefix + name
        body = "".join(children) + (_text_value(text) if text is not None else "")
        opening = f"<{tag}{self.attrs(attrs or {})}"
        return f"{opening}>{body}</{tag}>" if body else f"{opening}/>"

    def section(self, kind: str, attrs: dict[str, str | None], *children: str, content: bool = False) -> str:
        if self.typed_sections and often(self.draw, 4):
            typed = dict(attrs)
            typed["xsi:type"] = self.draw(st.sampled_from([f"ovf:{kind}_Type"] * 3 + [kind, f"x:{kind}_Type"]))
            return self.el("Content" if content else "Section", typed, *children)
        return self.el(kind, attrs, *children)

    def info(self) -> str:
        return self.el("Info", {}, text="info") if often(self.draw, 4) else ""

    def required(self) -> str | None:
        return self.draw(st.sampled_from([None, "false", "false", "0", "true", "False", " false "]))

    def some(self, most: int, least: int = 0) -> range:
        return range(self.draw(st.integers(least, most)))


def _references(doc: Doc) -> str:
    files = []
    for index in doc.some(3, least=1):
        files.append(
            doc.el(
                "File",
                {
                    "id": doc.pick(st.sampled_from([FILE_IDS[index]] * 8 + FILE_IDS)),
                    "href": doc.pick(st.sampled_from(["disk.vmdk", "disk2.img", "a b/c.iso"])),
                    "size": doc.pick(st.one_of(st.none(), numbers)),
                    "compression": doc.pick(st.sampled_from([None, None, None, "gzip", "identity", " GZIP "])),
                    "chunkSize": doc.pick(st.sampled_from([None, None, "512", "1048576"])),
                },
            )
        )
    return doc.el("References", {}, *files)


def _disk_section(doc: Doc) -> str:
    disks = []
    for index in doc.some(3, least=1):
        capacity = doc.pick(
            st.one_of(
                numbers,
                st.sampled_from(["${cap}", "${cap}", "${cap.1}", "${missing}", "${}", " ${cap} "]),
                st.none(),
            )
        )
        disks.append(
            doc.el(
                "Disk",
                {
                    "diskId": doc.pick(st.sampled_from([DISK_IDS[index]] * 8 + DISK_IDS)),
                    "fileRef": doc.pick(st.one_of(st.sampled_from(FILE_IDS), st.none())),
                    "capacity": capacity,
                    "capacityAllocationUnits": doc.draw(st.one_of(st.none(), units())),
                    "format": doc.draw(
                        st.sampled_from(
                            [None, "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"]
                        )
                    ),
                    "populatedSize": doc.pick(st.sampled_from([None, None, "10"])),
                    "parentRef": doc.draw(st.sampled_from([None] * 8 + ["d1"])),
                },
            )
        )
    return doc.section("DiskSection", {"required": doc.draw(st.sampled_from([None, None, "true"]))}, doc.info(), *disks)


def _network_section(doc: Doc) -> str:
    networks = [
        doc.el("Network", {"name": doc.pick(st.sampled_from(NETWORKS))}, doc.el("Description", {}, text="net"))
        for _ in doc.some(2)
    ]
    return doc.section("NetworkSection", {}, doc.info(), *networks)


def _deployment_section(doc: Doc) -> str:
    configurations = [
        doc.el(
            "Configuration",
            {
                "id": doc.pick(st.sampled_from([PROFILES[index]] * 3 + PROFILES)),
                "default": doc.draw(st.sampled_from([None, "true", "1", "false"])),
            },
            doc.el("Label", {}, text="label"),
        )
        for index in doc.some(2)
    ]
    return doc.section("DeploymentOptionSection", {}, doc.info(), *configurations)


def _product_section(doc: Doc) -> str:
    properties = [
        doc.el(
            "Property",
            {
                "key": doc.draw(st.sampled_from(["cap", "cap", "1", "x"])),
                "value": doc.pick(st.one_of(numbers, st.none())),
                "type": "uint64",
            },
        )
        for _ in doc.some(2)
    ]
    attrs = {
        "class": doc.draw(st.sampled_from([None, None, "cap", ""])),
        "instance": doc.draw(st.sampled_from([None, None, "1"])),
    }
    return doc.section("ProductSection", attrs, doc.info(), *properties)


ITEM_FIELDS = [
    "InstanceID",
    "ResourceType",
    "VirtualQuantity",
    "AllocationUnits",
    "HostResource",
    "Connection",
    "Address",
    "Parent",
    "ElementName",
    "Caption",
    "AutomaticAllocation",
    "ResourceSubType",
    "Description",
    "AddressOnParent",
]
RESOURCE_TYPES = ["10", "17", "3", "4", "17", "10", "15", "16", "14", "5", "6", "20", "31", "35", "1", "24"]


def _item(doc: Doc, instance: int) -> str:
    element, ns = doc.draw(
        st.sampled_from([("Item", "rasd")] * 4 + [("StorageItem", "sasd"), ("EthernetPortItem", "epasd")])
    )
    rtype = doc.pick_str(st.sampled_from(RESOURCE_TYPES))
    fields: list[tuple[str, str]] = [
        ("InstanceID", doc.draw(st.sampled_from([str(instance)] * 4 + ["1", "2", "3"]))),
        ("ResourceType", rtype),
        ("ElementName", doc.pick_str(st.sampled_from(["item", "disk", "cpu"]))),
    ]
    if rtype in ("3", "4"):
        fields.append(("VirtualQuantity", doc.pick_str(numbers)))
    if rtype == "4" or chance(doc.draw, 6):
        fields.append(("AllocationUnits", doc.draw(units())))
    if rtype in ("17", "15", "16", "14", "31", "35"):
        host = st.one_of(
            st.sampled_from(DISK_IDS).map("ovf:/disk/{}".format), st.sampled_from(FILE_IDS).map("/file/{}".format)
        )
        fields.append(("HostResource", doc.pick_str(host)))
    if rtype == "10":
        fields.append(("Connection", doc.pick_str(st.sampled_from(NETWORKS))))
        fields.append(("Address", doc.pick_str(st.sampled_from(["00:50:56:ab:cd:01", "00-50-56-AB-CD-02"]))))
        fields.append(("ResourceSubType", doc.pick_str(st.sampled_from(["E1000", "virtio"]))))
    if chance(doc.draw, 4):
        fields.append(("Parent", doc.draw(st.sampled_from(["1", "2", "5", "x"]))))
    for _ in range(doc.draw(st.integers(0, 3)) // 2):
        fields.append((doc.draw(st.sampled_from(ITEM_FIELDS)), doc.draw(values)))
    order = doc.draw(st.permutations(range(len(fields))))
    children = [doc.el(f"{ns}:{fields[i][0]}", {}, text=fields[i][1]) for i in order]
    attrs = {
        "configuration": doc.draw(st.sampled_from([None] * 4 + ["small", "big", "small big", "other"])),
        "bound": doc.draw(st.sampled_from([None] * 6 + ["min", "max", "normal"])),
        "required": doc.draw(st.sampled_from([None] * 4 + ["false"])),
    }
    return doc.el(element, attrs, *children)


def _hardware(doc: Doc) -> str:
    system = doc.el("System", {}, doc.el("vssd:VirtualSystemType", {}, text=doc.draw(st.sampled_from(["vmx-07", ""]))))
    items = [_item(doc, index + 1) for index in doc.some(7, least=1)]
    attrs = {"id": doc.draw(st.sampled_from([None, "hw"])), "transport": doc.draw(st.sampled_from([None, "iso"]))}
    return doc.section("VirtualHardwareSection", attrs, doc.info(), system, *items)


BACKEND_VALUES = {
    "vcpus": ["1", "2", "4"],
    "maxmem": ["512", "2G", "1.5t", "1024M"],
    "minmem": ["256", "1G"],
    "memory": ["512"],
    "auto_balance": ["True", "false", "yes"],
    "always_failover": ["False", "1"],
    "spindle_use": ["1", "0"],
}


def _parameters(doc: Doc, keys: dict[str, list[str]]) -> str:
    children = []
    for _ in doc.some(3):
        key = doc.pick_str(st.one_of(st.sampled_from(sorted(keys)), ncnames))
        value = doc.pick_str(st.sampled_from(keys.get(key) or ["x", "/boot/vmlinuz", "ro console=ttyS0"]))
        if often(doc.draw, 4) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            children.append(doc.el("gnt:" + key, {}, text=value))
        else:
            children.append(f'<gnt:Parameter name="{_attr_value(key)}">{_text_value(value)}</gnt:Parameter>')
    return "".join(children)


def _ganeti_section(doc: Doc) -> str:
    parts = [doc.info()]
    simple = {
        "Version": st.sampled_from(["0", "1"]),
        "AutoBalance": st.sampled_from(["True", "False", "maybe"]),
        "Tags": st.sampled_from(["a b", "a,b", "x:y", ""]),
        "DiskTemplate": st.sampled_from(["plain", "drbd", "diskless"]),
    }
    for name, strategy in simple.items():
        if doc.draw(st.booleans()):
            parts.append(doc.el("gnt:" + name, {}, text=doc.pick_str(strategy)))
    if doc.draw(st.booleans()):
        tag = doc.draw(st.sampled_from(["gnt:OperatingSystem", "gnt:OS"]))
        name = doc.el("gnt:Name", {}, text=doc.pick_str(st.just("x")))
        params = _parameters(doc, {"a": ["1"], "b": ["two words"]})
        parts.append(f"<{tag}>{name}<gnt:Parameters>{params}</gnt:Parameters></{tag}>")
    if doc.draw(st.booleans()):
        name = doc.el("gnt:Name", {}, text=doc.pick_str(st.sampled_from(["kvm", "xen-pvm", "auto"])))
        params = _parameters(doc, {"kernel_path": ["/vmlinuz"], "boot_order": ["disk"], "root-path": ["/dev/vda1"]})
        parts.append(f"<gnt:Hypervisor>{name}<gnt:Parameters>{params}</gnt:Parameters></gnt:Hypervisor>")
    if doc.draw(st.booleans()):
        parts.append(f"<gnt:BackendParameters>{_parameters(doc, BACKEND_VALUES)}</gnt:BackendParameters>")
    if doc.draw(st.booleans()):
        good = {
            "Mode": ["bridged", "routed", "openvswitch"],
            "MACAddress": ["aa:00:00:11:22:33", "auto"],
            "IPAddress": ["10.0.0.2", "none", "pool"],
            "Link": ["br0"],
            "Net": ["net1"],
            "Name": ["eth0"],
            "VLAN": ["100", ".100:200"],
        }

        def nic() -> str:
            chosen = doc.draw(st.lists(st.sampled_from(sorted(good)), max_size=4, unique=True))
            return "".join(doc.el("gnt:" + f, {}, text=doc.pick_str(st.sampled_from(good[f]))) for f in chosen)

        flat = chance(doc.draw, 4)  # the older form: one NIC's elements directly
        body = nic() if flat else "".join(f"<gnt:Nic>{nic()}</gnt:Nic>" for _ in doc.some(3))
        parts.append(f"<gnt:Network>{body}</gnt:Network>")
    if doc.draw(st.booleans()):
        disks = "".join(
            "<gnt:Disk>"
            + doc.el("gnt:IVName", {}, text=f"disk/{index}")
            + doc.el("gnt:Name", {}, text=doc.pick_str(st.sampled_from(["root", "none", "data"])))
            + "</gnt:Disk>"
            for index in doc.some(2)
        )
        parts.append(f"<gnt:Disks>{disks}</gnt:Disks>")
    required = doc.draw(st.sampled_from(['ovf:required="false"'] * 3 + [""]))
    return f"<gnt:GanetiSection {required}>{''.join(parts)}</gnt:GanetiSection>"


def _unknown_section(doc: Doc) -> str:
    name = doc.draw(
        st.sampled_from(["AnnotationSection", "EulaSection", "StartupSection", "FooSection", "vmw:BootOrderSection"])
    )
    return doc.section(name, {"required": doc.required()}, doc.info())


def _virtual_system(doc: Doc) -> str:
    children = [doc.info()]
    if doc.draw(st.booleans()):
        children.append(doc.el("Name", {}, text=doc.pick_str(st.sampled_from(["vm1", "web.example.com"]))))
    kinds = ["hw"] + doc.draw(
        st.lists(st.sampled_from(["hw", "os", "product", "ganeti", "ganeti", "unknown"]), max_size=3)
    )
    for kind in doc.draw(st.permutations(kinds)):
        if kind == "hw":
            children.append(_hardware(doc))
        elif kind == "os":
            children.append(doc.section("OperatingSystemSection", {"id": doc.pick(st.just("93"))}, doc.info()))
        elif kind == "product":
            children.append(_product_section(doc))
        elif kind == "ganeti":
            children.append(_ganeti_section(doc))
        else:
            children.append(_unknown_section(doc))
    system_id = doc.pick(st.sampled_from(["vm", "vm", "vm2", "", None]))
    return doc.section("VirtualSystem", {"id": system_id}, *children, content=True)


def _content(doc: Doc, depth: int) -> str:
    if depth >= 2 or often(doc.draw, 6):
        return _virtual_system(doc)
    children = [doc.info()]
    for index in doc.some(3):
        kind = "content" if index == 0 else doc.draw(st.sampled_from(["content", "product", "unknown", "ganeti"]))
        if kind == "content":
            children.append(_content(doc, depth + 1))
        elif kind == "product":
            children.append(_product_section(doc))
        elif kind == "ganeti":
            children.append(_ganeti_section(doc))
        else:
            children.append(_unknown_section(doc))
    collection_id = doc.pick(st.sampled_from(["coll", ""]))
    return doc.section("VirtualSystemCollection", {"id": collection_id}, *children, content=True)


@st.composite
def descriptors(draw: st.DrawFn) -> bytes:
    """An OVF-like document: the sections an envelope holds, in any order,
    sometimes missing or repeated, with extra sections now and then."""
    version = draw(st.sampled_from(sorted(OVF_NS)))
    doc = Doc(draw, version)
    makers: dict[str, Callable[[], str]] = {
        "references": lambda: _references(doc),
        "disks": lambda: _disk_section(doc),
        "networks": lambda: _network_section(doc),
        "options": lambda: _deployment_section(doc),
        "content": lambda: _content(doc, 0),
        "ganeti": lambda: _ganeti_section(doc),
        "product": lambda: _product_section(doc),
        "unknown": lambda: _unknown_section(doc),
    }
    picked = [name for name in ("references", "disks", "networks", "options") if often(draw, 4)]
    picked += ["content"] if often(draw, 20) else []
    picked += draw(st.lists(st.sampled_from(sorted(makers)), max_size=2)) if chance(draw, 4) else []
    body = "".join(makers[name]() for name in draw(st.permutations(picked)))
    namespaces = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in PREFIXES.items())
    root_ns = f' xmlns="{doc.ns}"' if doc.prefix == "" else ""
    version_attr = draw(st.sampled_from(["", f' ovf:version="{version}"', ' ovf:version=" "']))
    tag = doc.prefix + "Envelope"
    text = f'<{tag}{root_ns} xmlns:ovf="{doc.ns}"{namespaces}{version_attr}>{body}</{tag}>'
    declaration = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n']))
    return (declaration + text).encode("utf-8")


def _descriptor(ganeti: str = "", hardware: str = "", disks: str = "") -> bytes:
    """A small OVF 1.0 descriptor with the given pieces (for regressions)."""
    return (
        '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"'
        ' xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"'
        ' xmlns:gnt="http://ganeti"><References/>'
        f"<DiskSection><Info>d</Info>{disks}</DiskSection>"
        '<VirtualSystem ovf:id="vm"><Info>x</Info><VirtualHardwareSection><Info>x</Info>'
        "<Item><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType></Item>"
        f"{hardware}</VirtualHardwareSection>{ganeti}</VirtualSystem></Envelope>"
    ).encode()


def _memory_item(units: str) -> str:
    return (
        "<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>"
        f"<rasd:VirtualQuantity>1</rasd:VirtualQuantity><rasd:AllocationUnits>{units}</rasd:AllocationUnits></Item>"
    )


def _backend_section(key: str, value: str) -> str:
    return (
        '<gnt:GanetiSection ovf:required="false"><gnt:BackendParameters>'
        f"<gnt:{key}>{value}</gnt:{key}></gnt:BackendParameters></gnt:GanetiSection>"
    )


# 2^14400 bytes of memory: str() of it in MiB has more than 4300 digits.
HUGE_UNITS = "byte" + " * 1048576^80" * 9


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(descriptors(), st.booleans())
@example(_descriptor(hardware=_memory_item(HUGE_UNITS)), True)
@example(_descriptor(ganeti=_backend_section("vcpus", "\u00b2")), True)
def test_grammar_descriptors_give_envelope_or_our_error(data: bytes, strict: bool) -> None:
    read_and_exercise(data, strict)


# --------------------------------------------------------------------------
# (a) + (b) mutated real descriptors, and arbitrary bytes


def _real_descriptors() -> list[bytes]:
    paths = sorted((ROOT / "tests" / "data").glob("*.ovf"))
    fixtures = SHARED / "fixtures"
    if fixtures.is_dir():  # read in place when present, never copied
        paths += sorted(p for p in fixtures.rglob("*.ovf") if p.is_file())
    return [p.read_bytes() for p in paths]


REAL_DESCRIPTORS = _real_descriptors()
TOKENS = [
    b'ovf:required="false"',
    b' ovf:required="true"',
    b"${cap}",
    b"&#10;",
    b"&#37;",
    b"%",
    b"</Item>",
    b"<Item>",
    b"<rasd:ResourceType>4</rasd:ResourceType>",
    b"<rasd:ResourceType>17</rasd:ResourceType>",
    b"<rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>",
    b'xsi:type="ovf:Foo_Type"',
    b"<Section>",
    b"<!DOCTYPE x>",
    b"\xff",
    b"\x00",
    b" * 1048576^80",
    b"\xc2\xb2",
    b'"',
    b"<",
    b">",
    b"&",
    b"]]>",
    b"<![CDATA[",
    b"<?pi x?>",
    b"<!-- c -->",
    b"9" * 30,
    b"-1",
    b"\n[os]\n",
    b'<gnt:GanetiSection xmlns:gnt="http://ganeti" ovf:required="false"><gnt:BackendParameters><gnt:vcpus>',
]


_VALUE_RE = re.compile(rb'="([^"<]*)"|>([^<]*)<')
_ELEMENT_RE = re.compile(rb"<([A-Za-z][\w:.-]*)\b[^<>]*?(?:/>|>[^<]*</\1>)")


@st.composite
def mutated_descriptors(draw: st.DrawFn) -> bytes:
    """A real descriptor with a few mutations: mostly structure-aware (an
    attribute value or text replaced by a tricky value, a leaf element
    duplicated, moved or dropped, a token inserted between tags), else
    byte-level (a byte set, bytes inserted or deleted, a splice, a cut)."""
    data = bytearray(draw(st.sampled_from(REAL_DESCRIPTORS)))

    def anywhere(count: int) -> int:
        """An index below ``count``; Hypothesis' favourite, 0, lands in the
        middle of the document, not on its XML declaration."""
        return (draw(st.integers(0, 1 << 16)) * 7919 + count // 2) % max(count, 1)

    for _ in range(draw(st.integers(1, 5))):
        kind = draw(
            st.sampled_from(["value", "value", "element", "token", "byte", "insert", "delete", "splice", "cut"])
        )
        pos = anywhere(len(data) + 1)
        if kind == "value":
            spans = [m.span(1) if m.group(1) is not None else m.span(2) for m in _VALUE_RE.finditer(data)]
            if spans:
                begin, stop = spans[anywhere(len(spans))]
                value = draw(st.one_of(values, units(), st.sampled_from(["${cap}", "ovf:/disk/vmdisk1", "false"])))
                data[begin:stop] = _attr_value(value).encode("utf-8")
        elif kind == "element":
            spans = [m.span() for m in _ELEMENT_RE.finditer(data)]
            if spans:
                begin, stop = spans[anywhere(len(spans))]
                piece = data[begin:stop]
                action = draw(st.sampled_from(["duplicate", "drop", "move"]))
                if action != "duplicate":
                    del data[begin:stop]
                if action != "drop":
                    tags = [m.start() for m in re.finditer(rb"<", data)] or [0]
                    at = tags[anywhere(len(tags))]
                    data[at:at] = piece
        elif kind == "token":
            tags = [m.start() for m in re.finditer(rb"<", data)] or [0]
            at = tags[anywhere(len(tags))] if draw(st.booleans()) else pos
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "byte" and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "splice" and data:
            start = anywhere(len(data))
            data[pos:pos] = data[start : start + draw(st.integers(1, 400))]
        elif kind == "cut" and chance(draw, 4):
            del data[pos:]
    return bytes(data)


@settings(deadline=None, max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_descriptors(), st.booleans())
def test_mutated_real_descriptors_give_envelope_or_our_error(data: bytes, strict: bool) -> None:
    read_and_exercise(data, strict)


@SMALL_SETTINGS
@given(st.binary(max_size=600), st.booleans())
def test_arbitrary_bytes_give_envelope_or_our_error(data: bytes, strict: bool) -> None:
    read_and_exercise(data, strict)


def test_real_descriptors_reach_write_config() -> None:
    """The mutation base is worth mutating: every real descriptor reads, and
    at least one of them makes it through build_plan and write_config."""
    written = 0
    for data in REAL_DESCRIPTORS:
        try:
            envelope = read_envelope(data, "real.ovf", strict=False)
        except OVFConverterError:
            continue  # the shared fixtures include deliberately broken descriptors
        written += exercise_envelope(envelope)
    assert written


# --------------------------------------------------------------------------
# regressions found by the properties above (minimal inputs)


def test_memory_in_absurd_units_is_refused_not_a_crash() -> None:
    """A memory Item of ``1`` in ``byte * 1048576^80`` nine times over is
    2^14400 bytes: ``_backend`` then turns it into MiB with ``str()``, which
    raises ValueError (more than 4300 digits) out of build_plan."""
    envelope = read_envelope(_descriptor(hardware=_memory_item(HUGE_UNITS)))
    with pytest.raises(OVFConverterError):
        build_plan(envelope, OPTIONS, "fuzz.ovf")


@pytest.mark.parametrize("key", ["vcpus", "spindle_use"])
@pytest.mark.parametrize("value", ["\u00b2", "9" * 4301])
def test_ganeti_section_odd_digits_are_refused_not_a_crash(key: str, value: str) -> None:
    """``_backend_value`` checks ``str.isdigit()`` and then calls ``int()``:
    U+00B2 SUPERSCRIPT TWO is a digit to ``isdigit()`` but not to ``int()``,
    and 4301 nines exceed ``int()``'s digit limit; both raised ValueError
    out of build_plan instead of a warning ("ignored") or OptionError."""
    envelope = read_envelope(_descriptor(ganeti=_backend_section(key, value)))
    try:
        plan = build_plan(envelope, OPTIONS, "fuzz.ovf")
    except OVFConverterError:
        return
    assert key not in plan.config.backend or plan.config.backend[key].isascii()


@pytest.mark.parametrize("where", ["capacity", "memory"])
def test_allocation_units_are_no_cpu_bomb(where: str) -> None:
    """``allocation_unit_factor`` multiplies one Fraction per ``* N^E``
    modifier with no limit on their number or on the result: 1000 modifiers
    of ``1048576^80`` (11 KB of text) cost about 10 s, 2000 about 45 s, and a
    16 MiB descriptor could hold a million.  Reading a descriptor must take
    milliseconds."""
    units = "byte" + "*1048576^80" * 1000
    if where == "capacity":
        data = _descriptor(disks=f'<Disk ovf:diskId="d1" ovf:capacity="1" ovf:capacityAllocationUnits="{units}"/>')
    else:
        data = _descriptor(hardware=_memory_item(units))
    with time_limit(2.0, f"an {len(units)}-byte allocation unit"):
        try:
            envelope = read_envelope(data)
            for system in envelope.virtual_systems:
                describe_hardware(envelope, system, None)
        except OVFConverterError:
            pass


def test_blank_disk_of_absurd_capacity_is_refused_not_a_crash(tmp_path: Path) -> None:
    """A Disk without a File and ``ovf:capacity="9223372036854775808"``
    (2^63 bytes) passes build_plan, and the import's ``create_blank`` then
    calls ``truncate(2**63)``, which raises OverflowError (not OSError, so
    not a FileAccessError): the CLI reports an internal error."""
    from ovfconverter.pipelines.importer import import_package

    descriptor = tmp_path / "vm.ovf"
    descriptor.write_bytes(
        _descriptor(
            disks='<Disk ovf:diskId="d1" ovf:capacity="9223372036854775808"/>',
            hardware="<Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType>"
            "<rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>",
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OVFConverterError):
        import_package(str(descriptor), ImportOptions(os_type="x", name="vm", output_dir=str(out)))
    assert not any(out.iterdir())


# --------------------------------------------------------------------------
# (c) inspect_image


def _inspect(data: bytes) -> Inspection:
    def read_at(offset: int, size: int) -> bytes:
        assert offset >= 0 and size >= 0, (offset, size)
        return data[offset : offset + size]

    with time_limit(EXAMPLE_LIMIT, "inspect_image"):
        result = inspect_image(read_at, len(data))
    assert isinstance(result, Inspection) and isinstance(result.format, str)
    return result


IMAGE_RECIPES: dict[str, list[list[str]]] = {
    "qcow2-v3": [["create", "-f", "qcow2", "{out}", "1M"]],
    "qcow2-v2": [["create", "-f", "qcow2", "-o", "compat=0.10", "{out}", "1M"]],
    "qcow2-backing": [
        ["create", "-f", "raw", "{dir}/base.raw", "1M"],
        ["create", "-f", "qcow2", "-b", "{dir}/base.raw", "-F", "raw", "{out}"],
    ],
    "qcow2-datafile": [["create", "-f", "qcow2", "-o", "data_file={dir}/data.raw", "{out}", "1M"]],
    "qcow": [["create", "-f", "qcow", "{out}", "1M"]],
    "qed": [["create", "-f", "qed", "{out}", "1M"]],
    "vmdk-sparse": [["create", "-f", "vmdk", "{out}", "1M"]],
    "vmdk-stream": [
        ["create", "-f", "raw", "{dir}/src.raw", "1M"],
        ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", "{dir}/src.raw", "{out}"],
    ],
    "vmdk-flat": [["create", "-f", "vmdk", "-o", "subformat=monolithicFlat", "{out}", "1M"]],
    "vpc-dynamic": [["create", "-f", "vpc", "{out}", "1M"]],
    "vpc-fixed": [["create", "-f", "vpc", "-o", "subformat=fixed", "{out}", "1M"]],
    "vdi": [["create", "-f", "vdi", "{out}", "1M"]],
    "vhdx": [["create", "-f", "vhdx", "{out}", "1M"]],
}


@pytest.fixture(scope="module")
def image_headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Images qemu-img makes, each cut to what the inspector reads (head,
    embedded descriptor, tail) when large."""
    images = {}
    for name, steps in IMAGE_RECIPES.items():
        folder = tmp_path_factory.mktemp(name)
        out = folder / "image"
        for step in steps:
            args = [arg.format(out=out, dir=folder) for arg in step]
            qemu_img(*args)
        data = out.read_bytes()
        images[name] = data if len(data) <= 2 << 20 else data[: 256 << 10]
    return images


def test_qemu_images_are_recognised(image_headers: dict[str, bytes]) -> None:
    """The mutation bases are what they should be (else mutating them
    proves little)."""
    expected = {"qcow2": "qcow2", "qcow": "qcow", "qed": "qed", "vmdk-flat": "vmdk-descriptor"}
    expected.update({"vmdk": "vmdk", "vpc": "vhd", "vdi": "vdi", "vhdx": "vhdx"})
    for name, data in image_headers.items():
        key = next(k for k in sorted(expected, key=len, reverse=True) if name.startswith(k))
        assert _inspect(data).format == expected[key], name


def _hot_offsets(data: bytes) -> list[int]:
    """Where header fields, the VMDK descriptor and the VHD footer are."""
    spots = list(range(0, min(len(data), 1024)))
    spots += range(0x40, 0x180)  # VDI header
    spots += range(512, min(len(data), 2048))  # VMDK embedded descriptor
    spots += range(max(0, len(data) - 512), len(data))  # VHD footer
    return sorted({s for s in spots if s < len(data)})


FIELD_VALUES = [0, 1, 2, 3, 4, 0x7F, 0xFF, 0xFFFFFFFF, 1 << 31, (1 << 64) - 1, 1 << 63, 0xBEDA107F, 0x44415441]
DESCRIPTOR_TOKENS = [
    b'\ncreateType="monolithicFlat"\n',
    b'\nRW 2048 SPARSE "x.vmdk"\n',
    b'\nRW 2048 FLAT "/etc/passwd" 0\n',
    b"\nRW " + b"1" * 4301 + b" SPARSE\n",
    b"\nparentFileNameHint=",
    b"\n" * 64,
    b" " * 64,
    b"\x00",
]


@st.composite
def mutated_images(draw: st.DrawFn, bases: dict[str, bytes]) -> bytes:
    data = bytearray(bases[draw(st.sampled_from(sorted(bases)))])
    hot = _hot_offsets(bytes(data)) or [0]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["byte", "field32", "field64", "bytes", "token", "cut"]))
        at = hot[draw(st.integers(0, len(hot) - 1))] if draw(st.booleans()) else draw(st.integers(0, len(data)))
        if kind == "byte" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind in ("field32", "field64"):
            width = 4 if kind == "field32" else 8
            value = draw(st.sampled_from(FIELD_VALUES)) % (1 << (8 * width))
            order: Literal["big", "little"] = draw(st.sampled_from(["big", "little"]))
            data[at : at + width] = value.to_bytes(width, order)
        elif kind == "bytes":
            data[at : at + 16] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            token = draw(st.sampled_from(DESCRIPTOR_TOKENS))
            data[at : at + len(token)] = token
        elif kind == "cut" and draw(st.integers(0, 3)) == 0:
            del data[at:]
    return bytes(data)


@SMALL_SETTINGS
@given(st.binary(max_size=4096), st.sampled_from([b"", b"QFI\xfb", b"KDMV", b"conectix", b"# Disk DescriptorFile\n"]))
@example(b'createType="monolithicFlat"\nRW ' + b"1" * 4301 + b' FLAT "x"\n', b"# Disk DescriptorFile\n")
def test_inspect_arbitrary_bytes_never_raises(data: bytes, magic: bytes) -> None:
    _inspect(magic + data)


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_inspect_mutated_images_never_raises(image_headers: dict[str, bytes], data: st.DataObject) -> None:
    _inspect(data.draw(mutated_images(image_headers)))


@pytest.mark.parametrize("lead", [b"# Disk DescriptorFile\n", b"KDMV"])
def test_inspect_vmdk_extent_with_huge_sector_count(lead: bytes) -> None:
    """``parse_vmdk_descriptor`` calls ``int()`` on an extent's sector count
    (``\\d+``, unbounded): 4301 digits raise ValueError out of inspect_image,
    both for a descriptor file and for a sparse header's embedded
    descriptor."""
    extent = b'createType="monolithicSparse"\nRW ' + b"1" * 4301 + b' SPARSE "x.vmdk"\n'
    if lead == b"KDMV":
        header = bytearray(512)
        header[0:4] = b"KDMV"
        header[4:8] = (1).to_bytes(4, "little")
        header[12:20] = (2048).to_bytes(8, "little")  # capacity
        header[28:36] = (1).to_bytes(8, "little")  # descriptor offset (sectors)
        header[36:44] = (20).to_bytes(8, "little")  # descriptor size (sectors)
        data = bytes(header) + extent.ljust(20 * 512, b"\0")
    else:
        data = lead + extent
    result = _inspect(data)
    assert result.problems


# --------------------------------------------------------------------------
# (d) parse_certificate


@pytest.fixture(scope="module")
def pem_certificates() -> list[bytes]:
    """Self-signed certificates with an EC and an RSA key, made once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    pems = []
    for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 1024)):
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        pems.append(cert.public_bytes(serialization.Encoding.PEM))
    return pems


def _certificate_checked(data: bytes) -> None:
    """parse_certificate gives a Certificate or ManifestError; what
    ``info`` reads from a Certificate must not raise either."""
    from ovfconverter.formats.certificate import Certificate, certificate_current, parse_certificate, signature_valid

    with time_limit(EXAMPLE_LIMIT, "parse_certificate"):
        try:
            cert = parse_certificate(data, "fuzz.cert")
        except ManifestError:
            return
        assert isinstance(cert, Certificate)
        assert isinstance(cert.subject, str) and isinstance(cert.issuer, str)
        assert isinstance(cert.self_signed, bool)
        assert isinstance(certificate_current(cert), bool)
        assert isinstance(signature_valid(cert, b"SHA256(x.ovf)= 00\n"), bool)


@SMALL_SETTINGS
@given(st.binary(max_size=600))
def test_certificate_arbitrary_bytes(data: bytes) -> None:
    _certificate_checked(data)


def _mutate_pem(pem: bytes, mutations: list[tuple[int, int]], cut: int | None) -> bytes:
    import base64

    lines = pem.strip().splitlines()
    der = bytearray(base64.b64decode(b"".join(lines[1:-1])))
    for at, value in mutations:
        der[at % len(der)] = value
    if cut is not None:
        del der[cut % len(der) :]
    body = base64.encodebytes(bytes(der))
    return lines[0] + b"\n" + body + lines[-1] + b"\n"


@SMALL_SETTINGS
@given(
    st.integers(0, 1),
    st.sampled_from(["SHA256", "SHA1", "sha512", "SHA2-256", "MD5", "SHA-1", ""]),
    st.text(alphabet="abc.mf() ", min_size=0, max_size=12),
    st.text(alphabet="0123456789abcdefABCDEFg", max_size=130),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.integers(0, 1 << 16)),
    st.sampled_from([b"", b"\n", b"\r\n", b"\n\n"]),
)
@example(0, "SHA256", "x.mf", "abc", [], None, b"\n")  # an odd number of hex digits
def test_certificate_structured(
    pem_certificates: list[bytes],
    which: int,
    algorithm: str,
    manifest: str,
    signature: str,
    mutations: list[tuple[int, int]],
    cut: int | None,
    separator: bytes,
) -> None:
    pem = pem_certificates[which]
    if mutations or cut is not None:
        pem = _mutate_pem(pem, mutations, cut)
    line = f"{algorithm}({manifest})= {signature}".encode("ascii")
    _certificate_checked(line + separator + pem)


def test_certificate_odd_length_signature(pem_certificates: list[bytes]) -> None:
    """``bytes.fromhex`` of a signature with an odd number of hex digits
    raises ValueError out of parse_certificate (and so out of ``info``
    and ``verify``) instead of ManifestError."""
    from ovfconverter.formats.certificate import parse_certificate

    with pytest.raises(ManifestError):
        parse_certificate(b"SHA256(x.mf)= abc\n" + pem_certificates[0], "x.cert")


# (certificate index, bytes in its DER, replacement): the RSA-1024 key's
# RSAPublicKey SEQUENCE tag zeroed (found by Hypothesis), and the EC key's
# algorithm OID 1.2.840.10045.2.1 turned into an unknown 1.2.840.10045.2.9
# (found by the atheris target).
BROKEN_KEYS = {
    "rsa-key-unparsable": (1, b"\x03\x81\x8d\x00\x30\x81\x89", b"\x03\x81\x8d\x00\x00\x81\x89"),
    "unknown-key-algorithm": (0, bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0209")),
}


@pytest.mark.parametrize("case", sorted(BROKEN_KEYS))
def test_certificate_with_unusable_public_key(pem_certificates: list[bytes], case: str) -> None:
    """A certificate whose public key cryptography cannot load parses, but
    ``signature_valid`` calls ``public_key()`` unguarded, which raises
    ValueError ("Could not deserialize key data", "Invalid key") or
    ``cryptography.exceptions.UnsupportedAlgorithm`` ("Unknown key type"):
    ``ovfconverter verify`` on such a package ends in "internal error"."""
    import base64

    from ovfconverter.formats.certificate import parse_certificate, signature_valid

    index, old, new = BROKEN_KEYS[case]
    lines = pem_certificates[index].strip().splitlines()
    der = base64.b64decode(b"".join(lines[1:-1]))
    assert der.count(old) == 1
    pem = lines[0] + b"\n" + base64.encodebytes(der.replace(old, new)) + lines[-1] + b"\n"
    cert = parse_certificate(b"SHA256(x.mf)= 00\n" + pem, "x.cert")
    assert cert.subject == "CN=fuzz"
    try:
        valid = signature_valid(cert, b"SHA256(x.ovf)= 00\n")
    except ManifestError:
        return
    assert valid is False


MALFORMED_NAMES = {
    "issuer-not-utf8": ("issuer", b"\x0c\x04f\xffzz"),  # ValueError: error parsing asn1 value
    "subject-not-utf8": ("subject", b"\x0c\x04f\xffzz"),
    "issuer-common-name-as-bit-string": ("issuer", b"\x03\x04\x00uzz"),  # TypeError: oid must be X500_UNIQUE_IDENTIFIER
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NAMES))
def test_certificate_with_malformed_name(pem_certificates: list[bytes], case: str) -> None:
    """cryptography parses a certificate's names lazily: a CN whose
    UTF8String is not UTF-8, or which is a BIT STRING, loads, then
    ``cert.issuer`` / ``cert.subject`` raise ValueError ("error parsing asn1
    value: ... location: [\"issuer\"]") or TypeError ("oid must be
    X500_UNIQUE_IDENTIFIER for BitString type").  ``info`` reads subject,
    issuer and self_signed right after parse_certificate, outside its
    ``except ManifestError``: ``ovfconverter info`` and ``verify`` end in
    "internal error".  Found by the atheris target fuzz_certificate."""
    import base64

    which, replacement = MALFORMED_NAMES[case]
    lines = pem_certificates[0].strip().splitlines()
    der = base64.b64decode(b"".join(lines[1:-1]))
    name = b"\x0c\x04fuzz"  # UTF8String "fuzz": the issuer's comes first in the TBS, then the subject's
    assert der.count(name) == 2
    at = der.find(name) if which == "issuer" else der.rfind(name)
    der = der[:at] + replacement + der[at + len(name) :]
    pem = lines[0] + b"\n" + base64.encodebytes(der) + lines[-1] + b"\n"
    _certificate_checked(b"SHA256(x.mf)= 00\n" + pem)


def test_certificate_with_invalid_version(pem_certificates: list[bytes]) -> None:
    """A certificate whose version field is 66 (``a0 03 02 01 42``) makes
    ``x509.load_pem_x509_certificates`` raise
    ``cryptography.x509.InvalidVersion``, which is not a ValueError, so it
    escapes parse_certificate (which catches ValueError only).  Found by the
    atheris target fuzz_certificate."""
    import base64

    lines = pem_certificates[0].strip().splitlines()
    der = base64.b64decode(b"".join(lines[1:-1]))
    assert der.count(b"\xa0\x03\x02\x01\x02") == 1
    der = der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x42")
    pem = lines[0] + b"\n" + base64.encodebytes(der) + lines[-1] + b"\n"
    _certificate_checked(b"SHA256(x.mf)= 00\n" + pem)


# --------------------------------------------------------------------------
# config.ini read back and written again


INI_TOKENS = [
    "[export]\n",
    "[instance]\n",
    "[backend]\n",
    "[os]\n",
    "[DEFAULT]\n",
    "[Instance]\n",
    "name = vm1\n",
    "Name = vm2\n",
    "nic_count = 1\n",
    "NIC_COUNT = 1\n",
    "Disk_Count = 0\n",
    "disk_count = 1\n",
    "disk0_size = 5\n",
    "disk0_dump = d.raw\n",
    "nic0_mac = auto\n",
    "Nic0_Mac = auto\n",
    "version = 0\n",
    "Version = 0\n",
    "os = x\n",
    "tags = a b\n",
    "memory = 512\n",
    "x = %(y)s\n",
    "  continued\n",
    "; comment\n",
    "k: v\n",
    "\n",
]


@settings(deadline=None, max_examples=400)
@given(st.lists(st.sampled_from(INI_TOKENS), max_size=14).map("".join))
@example("[instance]\nNIC_COUNT = 1\n")
def test_read_then_write_config_stays_readable_by_ganeti(text: str) -> None:
    """What read_config accepts, write_config writes back (or refuses with
    ConfigError) as text Ganeti's ConfigParser reads."""
    try:
        config = read_config(text.encode("utf-8"), "config.ini")
    except ConfigError:
        return
    try:
        written = write_config(config)
    except ConfigError:
        return
    check_export_text(written)


def test_write_config_key_differing_from_a_count_only_in_case() -> None:
    """read_config keeps ``[instance] NIC_COUNT`` as an extra key (its names
    are case-sensitive); write_config then writes it and its own
    ``nic_count`` with ``parser.set``, bypassing the case-insensitive
    duplicate check of ``_put``: Ganeti's ConfigParser, which folds keys to
    lower case, refuses the result (DuplicateOptionError: option
    'nic_count' in section 'instance' already exists).  Same for
    ``disk_count``.  Found by the atheris target fuzz_config_ini."""
    for key in ("NIC_COUNT", "Disk_Count"):
        try:  # read as Ganeti reads it, Disk_Count = 1 without a disk0 is refused
            config = read_config(f"[instance]\n{key} = 1\n".encode(), "config.ini")
        except ConfigError:
            assert key == "Disk_Count"
            continue
        try:
            written = write_config(config)
        except ConfigError:
            continue
        check_export_text(written)


# --------------------------------------------------------------------------
# regular expressions that backtrack without bound (manifest, certificate)


def test_manifest_line_is_no_regex_bomb() -> None:
    """``_LINE_RE`` (``\\s*\\(\\s*(.+?)\\s*\\)``) backtracks cubically on a
    line with an opening parenthesis and a long run of white space and no
    closing one: ``"A(" + " " * 2000 + "x"`` takes about 9 s, and manifests
    of up to 4 MiB are read."""
    data = b"SHA1(" + b" " * 3000 + b"x"
    with time_limit(2.0, f"parse_manifest of a {len(data)}-byte line"), pytest.raises(ManifestError):
        parse_manifest(data, "x.mf")


def test_certificate_signature_line_is_no_regex_bomb() -> None:
    """The certificate's ``_SIGNATURE_RE`` is the manifest's line pattern
    searched over the whole file, with the same cubic backtracking (and a
    .cert file has no size limit)."""
    from ovfconverter.formats.certificate import parse_certificate

    data = b"SHA1(" + b" " * 3000 + b"x"
    with time_limit(2.0, f"parse_certificate of a {len(data)}-byte line"), pytest.raises(ManifestError):
        parse_certificate(data, "x.cert")


# --------------------------------------------------------------------------
# the OVA member table


def _ustar_header(name: bytes, size: int, typeflag: bytes) -> bytes:
    header = bytearray(512)
    header[0 : len(name)] = name
    header[100:124] = b"0000644\x000000000\x000000000\x00"
    header[124:136] = b"%011o\x00" % size
    header[136:148] = b"00000000000\x00"
    header[156:157] = typeflag
    header[257:265] = b"ustar\x0000"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def test_pax_header_of_many_records_is_no_cpu_bomb() -> None:
    """``_parse_pax`` tests ``data[pos:].strip(b"\\0") == b""`` before every
    record, copying the rest of the header each time: a 1 MiB PAX header
    (the most accepted) of 6-byte records ``6 a=b\\n`` takes about 9 s,
    and an OVA may hold thousands of such headers.  Reading a member table
    must not take seconds per MiB."""
    from ovfconverter.package.tar import MAX_EXTENDED_HEADER, read_member_table

    records = b"6 a=b\n" * (MAX_EXTENDED_HEADER // 6)
    pad = b"\0" * (-len(records) % 512)
    data = _ustar_header(b"pax", len(records), b"x") + records + pad
    data += _ustar_header(b"vm.ovf", 3, b"0") + b"abc".ljust(512, b"\0") + b"\0" * 1024
    with time_limit(2.0, f"read_member_table with a {len(records)}-byte PAX header"):
        members = read_member_table(io.BytesIO(data), len(data), "x.ova")
    assert [member.name for member in members] == ["vm.ovf"]


# --------------------------------------------------------------------------
# the streamOptimized reader's embedded descriptor


def test_vmdk_reader_descriptor_with_huge_sector_count(tmp_path: Path) -> None:
    """``vmdk_format.parse_descriptor`` calls ``int()`` on the extent's
    sector count (``\\d+``, unbounded, in a descriptor of up to 64 KiB):
    4301 digits raise ValueError out of read_stream_optimized."""
    from ovfconverter.io.ranges import ByteRange
    from ovfconverter.vmdk.format import SECTOR, SparseHeader
    from ovfconverter.vmdk.reader import read_stream_optimized
    from ovfconverter.vmdk.writer import write_stream_optimized

    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"data" * 16384)
    vmdk = tmp_path / "disk.vmdk"
    with open(vmdk, "wb") as out:
        write_stream_optimized(ByteRange(str(raw), 0, raw.stat().st_size, raw.name), out, vmdk.name)
    data = bytearray(vmdk.read_bytes())
    header = SparseHeader.unpack(bytes(data))
    room = header.descriptor_size * SECTOR
    text = b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="streamOptimized"\n'
    text += b"RW " + b"1" * 4301 + b' SPARSE "disk.vmdk"\n'
    assert len(text) <= room
    start = header.descriptor_offset * SECTOR
    data[start : start + room] = text.ljust(room, b"\0")
    vmdk.write_bytes(bytes(data))
    with pytest.raises(OVFConverterError):
        read_stream_optimized(ByteRange(str(vmdk), 0, len(data), vmdk.name), str(tmp_path / "out.raw"), vmdk.name)
    assert not os.path.exists(tmp_path / "out.raw")
