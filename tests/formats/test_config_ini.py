"""Ganeti's config.ini (ovfconverter.formats.config_ini): writing, reading,
round trips, refusals, and the example layouts of Ganeti before and after
2.6."""

from __future__ import annotations

import configparser
import copy
import re

import builders
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ovfconverter.errors import ConfigError
from ovfconverter.formats.config_ini import MAX_CONFIG_SIZE, read_config, write_config
from ovfconverter.model.ganeti import (
    DISK_TEMPLATES,
    HYPERVISORS,
    MAX_DISKS,
    MAX_NICS,
    NIC_MODES,
    GanetiDisk,
    GanetiNic,
    InstanceExport,
)

# --------------------------------------------------------------------------
# Ganeti's own layouts, written out by hand

# Ganeti before 2.6 (backend.FinalizeExport of 2.5): memory and vcpus in
# [backend] and copies in [instance]; NIC parameters written with "%s", so an
# unset value is the string "None".
GANETI_25_CONFIG = """\
[export]
version = 0
timestamp = 1300000000
source = node1.example.com
os = debootstrap+default
compression = none

[instance]
name = old1.example.com
memory = 512
vcpus = 1
disk_template = plain
hypervisor = xen-pvm
tags =
nic0_mac = aa:00:00:11:22:33
nic0_ip = None
nic0_mode = bridged
nic0_link = xen-br0
nic_count = 1
disk0_ivname = disk/0
disk0_dump = 3e1f2c4a-6d5b-4e7f-8a9b-0c1d2e3f4a5b.disk0_data.snap
disk0_size = 5120
disk1_ivname = disk/1
disk1_dump = 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d.disk1_data.snap
disk1_size = 1024
disk_count = 2

[hypervisor]
kernel_path = /boot/vmlinuz-2.6-xenU
root_path = /dev/sda1

[backend]
auto_balance = True
memory = 512
vcpus = 1

[os]
"""

# Ganeti 2.6 and later (2.16/3.0): maxmem/minmem in [backend], a memory copy
# in [instance], UUID dump names, [os_private].
GANETI_30_CONFIG = builders.GANETI_30_CONFIG


def read(text: str | bytes) -> InstanceExport:
    return read_config(text.encode("utf-8") if isinstance(text, str) else text, "config.ini")


def sections_of(text: str) -> list[str]:
    return re.findall(r"^\[([^\]]*)\]$", text, flags=re.MULTILINE)


def test_ganeti_pre_26_layout() -> None:
    config = read(GANETI_25_CONFIG)
    assert config.name == "old1.example.com"
    assert config.os == "debootstrap+default"
    assert config.hypervisor == "xen-pvm"
    assert config.disk_template == "plain"
    assert config.tags == []
    assert config.export_version == "0"
    assert config.export_extra == {"timestamp": "1300000000", "source": "node1.example.com", "compression": "none"}
    assert config.maxmem == 512
    assert config.minmem == 512  # no minmem anywhere: falls back to maxmem
    assert config.vcpus == 1
    assert config.backend == {"auto_balance": "True", "memory": "512", "vcpus": "1"}
    assert config.hypervisor_params == {"kernel_path": "/boot/vmlinuz-2.6-xenU", "root_path": "/dev/sda1"}
    assert config.os_params == {}
    assert config.os_private == {}
    assert config.instance_extra == {"memory": "512", "vcpus": "1"}
    assert config.nics == [GanetiNic(mac="aa:00:00:11:22:33", mode="bridged", link="xen-br0")]
    assert config.disks == [
        GanetiDisk(size=5120, dump="3e1f2c4a-6d5b-4e7f-8a9b-0c1d2e3f4a5b.disk0_data.snap", ivname="disk/0"),
        GanetiDisk(size=1024, dump="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d.disk1_data.snap", ivname="disk/1"),
    ]


def test_ganeti_26_and_later_layout() -> None:
    config = read(GANETI_30_CONFIG)
    assert config.name == "web1.example.com"
    assert config.os == "debootstrap+default"
    assert config.hypervisor == "kvm"
    assert config.disk_template == "drbd"
    assert config.tags == ["prod", "web"]
    assert config.maxmem == 1024
    assert config.minmem == 512
    assert config.vcpus == 2
    assert config.backend["maxmem"] == "1024" and "memory" not in config.backend
    assert config.instance_extra == {"maxmem": "1024", "minmem": "512", "memory": "1024", "vcpus": "2"}
    assert config.hypervisor_params == {"boot_order": "disk", "root_path": "/dev/vda1", "serial_console": "True"}
    assert config.os_params == {"variant": "bookworm"}
    assert config.os_private == {}
    assert config.nics == [GanetiNic(mac="aa:00:00:35:d1:9e", mode="bridged", link="br0")]
    assert config.disks == [GanetiDisk(size=10240, dump="0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21", ivname="disk/0")]


def test_memory_precedence() -> None:
    # [backend] maxmem wins over every memory copy.
    text = GANETI_30_CONFIG.replace("memory = 1024", "memory = 4096")
    assert read(text).maxmem == 1024
    # Only an [instance] memory (and vcpus): still found.
    only_instance = """\
[export]
version = 0
[instance]
name = a
memory = 768
vcpus = 3
disk_count = 0
nic_count = 0
[backend]
"""
    config = read(only_instance)
    assert (config.maxmem, config.minmem, config.vcpus) == (768, 768, 3)
    # Nothing at all.
    config = read("[export]\nversion = 0\n[instance]\nname = a\n")
    assert (config.maxmem, config.minmem, config.vcpus) == (None, None, None)
    # [backend] memory (pre-2.6) wins over [instance] memory.
    config = read("[instance]\nmemory = 100\n[backend]\nmemory = 200\nminmem = 50\n")
    assert (config.maxmem, config.minmem) == (200, 50)


def test_ganeti_layout_survives_write_and_read() -> None:
    for text in (GANETI_25_CONFIG, GANETI_30_CONFIG):
        config = read(text)
        again = read(write_config(config))
        assert again == config


# --------------------------------------------------------------------------
# examples: reading


def test_values_are_not_interpolated() -> None:
    config = read("[export]\nversion = 0\nos = a%(b)s\n[instance]\nname = x%y\n[os]\np = 100%\n")
    assert config.os == "a%(b)s"
    assert config.name == "x%y"
    assert config.os_params == {"p": "100%"}


def test_counts_inferred_when_missing() -> None:
    config = read("[instance]\ndisk0_size = 1\ndisk1_size = 2\nnic0_mac = auto\n")
    assert [d.size for d in config.disks] == [1, 2]
    assert config.nics == [GanetiNic(mac="auto")]


def test_nic_count_larger_than_described_nics() -> None:
    config = read("[instance]\nnic_count = 2\nnic0_mac = auto\n")
    assert config.nics == [GanetiNic(mac="auto"), GanetiNic()]


def test_missing_disk_size_is_zero() -> None:
    assert read("[instance]\ndisk_count = 1\ndisk0_dump = d.raw\n").disks == [GanetiDisk(size=0, dump="d.raw")]


def test_unknown_keys_are_kept() -> None:
    config = read("[export]\nversion = 0\nfoo = 1\n[instance]\nname = a\nnic9_mac = x\nnic0_foo = y\nbar = z\n")
    assert config.export_extra == {"foo": "1"}
    assert config.instance_extra == {"nic9_mac": "x", "nic0_foo": "y", "bar": "z"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just text",
        "[other]\na = 1\n",  # neither [export] nor [instance]
        "a = 1\n[export]\n",  # no section header first
        "[export]\nversion = 0\n[export]\n",  # duplicate section
        "[instance]\nname = a\nname = b\n",  # duplicate key
        "[instance]\nno delimiter here\n",
        "[instance]\n= 1\n",
        "[instance]\ndisk_count = 1\ndisk0_size = abc\n",
        "[instance]\ndisk_count = 1\ndisk0_size = 1.5\n",
        "[instance]\ndisk_count = 1\ndisk0_size = -1\n",
        "[instance]\ndisk_count = 2\ndisk0_size = 1\n",  # disk1 not described
        "[instance]\ndisk_count = x\n",
        f"[instance]\ndisk_count = {MAX_DISKS + 1}\n",
        "[instance]\ndisk_count = -1\n",
        "[instance]\nnic_count = many\n",
        f"[instance]\nnic_count = {MAX_NICS + 1}\n",
    ],
)
def test_read_refusals(text: str) -> None:
    with pytest.raises(ConfigError):
        read(text)


def test_read_refuses_non_utf8_and_oversized() -> None:
    with pytest.raises(ConfigError):
        read(b"[instance]\nname = \xff\n")
    with pytest.raises(ConfigError):
        read(b"[instance]\n" + b"#" * MAX_CONFIG_SIZE)


@pytest.mark.parametrize("prefix", ["disk", "nic"])
def test_read_huge_index_is_config_error(prefix: str) -> None:
    """A key such as ``disk<5000 digits>_size`` must be refused or kept as an
    unknown key, not crash: int() of more than 4300 digits raises ValueError
    on Python 3.11+ (and 3.10.7+)."""
    key = f"{prefix}{'1' * 5000}_{'size' if prefix == 'disk' else 'mac'}"
    try:
        config = read(f"[instance]\nname = a\n{key} = 1\n")
    except ConfigError:
        return
    assert config.instance_extra == {key: "1"}


# --------------------------------------------------------------------------
# examples: writing


def test_write_minimal() -> None:
    text = write_config(InstanceExport(name="vm1"))
    assert sections_of(text) == ["export", "instance", "hypervisor", "backend", "os"]
    assert "version = 0\n" in text
    assert "name = vm1\n" in text
    assert "nic_count = 0\n" in text and "disk_count = 0\n" in text
    assert "os =" not in text  # None values are left out
    assert "tags" not in text


def test_write_nic_rules() -> None:
    config = InstanceExport(
        name="vm1",
        nics=[
            GanetiNic(),
            GanetiNic(mac="aa:00:00:00:00:01", mode="routed", link="100", ip="192.0.2.1"),
            GanetiNic(network="net1", mode="bridged", link="br0"),
            GanetiNic(network="net2"),
        ],
    )
    lines = write_config(config).splitlines()
    assert "nic0_mac = auto" in lines
    assert "nic0_mode = none" in lines and "nic0_link = none" in lines
    assert not any(line.startswith(("nic0_ip", "nic0_network", "nic0_vlan", "nic0_name")) for line in lines)
    assert "nic1_mac = aa:00:00:00:00:01" in lines and "nic1_ip = 192.0.2.1" in lines
    assert "nic1_mode = routed" in lines and "nic1_link = 100" in lines
    # A NIC with a network keeps the mode and link it has (Ganeti ignores
    # them then), and gets no "none" placeholders when it has none.
    assert "nic2_network = net1" in lines
    assert "nic2_mode = bridged" in lines and "nic2_link = br0" in lines
    assert "nic3_network = net2" in lines
    assert not any(line.startswith(("nic3_mode", "nic3_link")) for line in lines)
    assert "nic_count = 4" in lines


def test_write_disks_and_tags() -> None:
    config = InstanceExport(
        name="vm1",
        tags=["a", "b.c"],
        disks=[GanetiDisk(size=10, dump="disk0.raw", ivname="disk/0"), GanetiDisk(size=0)],
    )
    lines = write_config(config).splitlines()
    assert "tags = a b.c" in lines
    assert "disk0_dump = disk0.raw" in lines and "disk0_size = 10" in lines and "disk0_ivname = disk/0" in lines
    assert "disk1_size = 0" in lines and not any(line.startswith("disk1_dump") for line in lines)
    assert "disk_count = 2" in lines


def test_write_os_private_only_when_set() -> None:
    assert "[os_private]" not in write_config(InstanceExport(name="a"))
    text = write_config(InstanceExport(name="a", os_private={"secret": "x"}))
    assert sections_of(text) == ["export", "instance", "hypervisor", "backend", "os", "os_private"]
    assert read(text).os_private == {"secret": "x"}


@pytest.mark.parametrize(
    "change",
    [
        lambda c: setattr(c, "name", "a%b"),
        lambda c: setattr(c, "name", "a\nb"),
        lambda c: setattr(c, "name", " a"),
        lambda c: setattr(c, "name", "a "),
        lambda c: setattr(c, "os", "deb\tian"),
        lambda c: setattr(c, "os", "x\x7f"),
        lambda c: setattr(c, "os", "x" * 4097),
        lambda c: c.backend.update({"memory": "100%"}),
        lambda c: c.hypervisor_params.update({"bad key": "1"}),
        lambda c: c.hypervisor_params.update({"a=b": "1"}),
        lambda c: c.hypervisor_params.update({"[x]": "1"}),
        lambda c: c.hypervisor_params.update({"": "1"}),
        lambda c: c.os_params.update({"k": "v\r"}),
        lambda c: c.nics.append(GanetiNic(link="br0\n[backend]")),
        lambda c: c.disks.append(GanetiDisk(size=1, dump="d\n.raw")),
        lambda c: c.tags.append("t\nx"),
    ],
)
def test_write_refusals(change) -> None:
    config = InstanceExport(name="vm1")
    change(config)
    with pytest.raises(ConfigError):
        write_config(config)


# --------------------------------------------------------------------------
# properties

label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
instance_names = st.lists(label, min_size=1, max_size=3).map(".".join).filter(lambda s: s != "none")
os_names = st.from_regex(r"[A-Za-z0-9_.+-]{1,20}", fullmatch=True).filter(lambda s: s.lower() != "none")
tags = st.from_regex(r"[\w.+*/:@-]{1,20}", fullmatch=True)
# Parameter names that configparser reads back as written: the writer also
# accepts ':' in names, which is tested separately below.
# Lower case: Ganeti's reader folds the case of keys, so the writer refuses
# two keys that differ only in case (tested below).
param_keys = st.from_regex(r"[a-z0-9_][a-z0-9_.-]{0,20}", fullmatch=True)
# Values that may be written: no control characters, no '%', no white space
# at either end; "none" (any case) is how Ganeti spells None.
safe_values = (
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="%"), max_size=30)
    .map(str.strip)
    .filter(lambda s: s.strip() == s)
)
optional_values = st.none() | safe_values.filter(lambda s: s and s.lower() != "none")
macs = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
ips = st.lists(st.integers(0, 255), min_size=4, max_size=4).map(lambda b: ".".join(map(str, b)))

_STRUCTURED = re.compile(r"^(disk|nic)\d+_")
_INSTANCE_KNOWN = {"name", "hypervisor", "disk_template", "tags", "disk_count", "nic_count"}
instance_extra_keys = param_keys.filter(lambda k: not _STRUCTURED.match(k) and k not in _INSTANCE_KNOWN)
export_extra_keys = param_keys.filter(lambda k: k not in ("version", "os"))

nics = st.builds(
    GanetiNic,
    mac=st.none() | macs | st.sampled_from(["auto", "generate"]),
    ip=st.none() | ips,
    mode=st.none() | st.sampled_from(sorted(NIC_MODES)),
    link=st.none() | st.sampled_from(["br0", "xen-br0", "100", "ovs0"]) | optional_values,
    network=st.none()
    | st.from_regex(r"[A-Za-z0-9_.:+-][A-Za-z0-9_.:+ -]{0,10}[A-Za-z0-9_.:+-]", fullmatch=True).filter(
        lambda s: s.lower() != "none"
    ),
    name=optional_values,
    vlan=st.none() | st.from_regex(r"[.:]?[0-9]{1,4}", fullmatch=True),
)
disks = st.builds(
    GanetiDisk,
    size=st.integers(0, 1 << 40),
    dump=st.none() | st.uuids().map(str) | st.sampled_from(["disk0.raw", "disk1.raw"]) | optional_values,
    ivname=st.none() | st.integers(0, 15).map(lambda i: f"disk/{i}"),
    name=optional_values,
)
exports = st.builds(
    InstanceExport,
    name=st.none() | instance_names,
    os=st.none() | os_names,
    hypervisor=st.none() | st.sampled_from(sorted(HYPERVISORS)),
    disk_template=st.none() | st.sampled_from(sorted(DISK_TEMPLATES)),
    tags=st.lists(tags, max_size=5),
    disks=st.lists(disks, max_size=MAX_DISKS),
    nics=st.lists(nics, max_size=MAX_NICS),
    backend=st.dictionaries(param_keys, safe_values, max_size=5),
    hypervisor_params=st.dictionaries(param_keys, safe_values, max_size=5),
    os_params=st.dictionaries(param_keys, safe_values, max_size=5),
    os_private=st.dictionaries(param_keys, safe_values, max_size=3),
    export_version=st.sampled_from(["0", "1"]),
    export_extra=st.dictionaries(export_extra_keys, safe_values, max_size=3),
    instance_extra=st.dictionaries(instance_extra_keys, safe_values, max_size=3),
)


def expected_after_round_trip(config: InstanceExport) -> InstanceExport:
    """What reading back written ``config`` must give, by the writer's
    documented NIC rules: ``nicN_mac`` is ``auto`` when unknown; an unknown
    mode or link of a NIC without network is written ``none``, which reads
    back as unknown; a NIC with a network keeps its mode and link."""
    expected = copy.deepcopy(config)
    expected.nics = [
        GanetiNic(
            mac=nic.mac or "auto",
            ip=nic.ip,
            mode=nic.mode,
            link=nic.link,
            network=nic.network,
            name=nic.name,
            vlan=nic.vlan,
        )
        for nic in config.nics
    ]
    return expected


@settings(deadline=None)
@given(exports)
def test_write_then_read_round_trips(config: InstanceExport) -> None:
    text = write_config(config)
    assert read(text) == expected_after_round_trip(config)


@settings(deadline=None)
@given(exports)
def test_sections_in_ganeti_order(config: InstanceExport) -> None:
    text = write_config(config)
    expected = ["export", "instance", "hypervisor", "backend", "os"] + (["os_private"] if config.os_private else [])
    assert sections_of(text) == expected
    # and the standard library reads the same sections
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    assert parser.sections() == expected


# Every place a free-form string of the model ends up in config.ini.
_FIELDS = {
    "name": lambda c, v: setattr(c, "name", v),
    "os": lambda c, v: setattr(c, "os", v),
    "hypervisor": lambda c, v: setattr(c, "hypervisor", v),
    "disk_template": lambda c, v: setattr(c, "disk_template", v),
    "export_version": lambda c, v: setattr(c, "export_version", v),
    "disk_dump": lambda c, v: c.disks.append(GanetiDisk(size=1, dump=v)),
    "disk_ivname": lambda c, v: c.disks.append(GanetiDisk(size=1, ivname=v)),
    "disk_name": lambda c, v: c.disks.append(GanetiDisk(size=1, name=v)),
    "nic_mac": lambda c, v: c.nics.append(GanetiNic(mac=v)),
    "nic_ip": lambda c, v: c.nics.append(GanetiNic(ip=v)),
    "nic_mode": lambda c, v: c.nics.append(GanetiNic(mode=v)),
    "nic_link": lambda c, v: c.nics.append(GanetiNic(link=v)),
    "nic_network": lambda c, v: c.nics.append(GanetiNic(network=v)),
    "nic_name": lambda c, v: c.nics.append(GanetiNic(name=v)),
    "nic_vlan": lambda c, v: c.nics.append(GanetiNic(vlan=v)),
    "backend": lambda c, v: c.backend.update({"vcpus": v}),
    "hypervisor_params": lambda c, v: c.hypervisor_params.update({"kernel_args": v}),
    "os_params": lambda c, v: c.os_params.update({"variant": v}),
    "os_private": lambda c, v: c.os_private.update({"password": v}),
    "export_extra": lambda c, v: c.export_extra.update({"source": v}),
    "instance_extra": lambda c, v: c.instance_extra.update({"memory": v}),
}

injections = st.tuples(
    safe_values,
    st.sampled_from(["\n", "\r", "\r\n", "\n\n", "\n ", "\n\t"]),
    st.sampled_from(["[backend]", "[evil]", "name = evil", "disk0_dump = /etc/shadow", "nic_count = 8", "x"]),
    st.sampled_from(["", "\n", "\nkey = 1"]),
).map("".join)


@settings(deadline=None)
@given(exports, st.sampled_from(sorted(_FIELDS)), injections)
def test_newline_can_never_inject(config: InstanceExport, field: str, value: str) -> None:
    _FIELDS[field](config, value)
    with pytest.raises(ConfigError):
        write_config(config)


@settings(deadline=None)
@given(st.sampled_from(sorted(_FIELDS)), st.text(max_size=40))
def test_any_value_is_refused_or_read_back_unchanged(field: str, value: str) -> None:
    config = InstanceExport(name="vm1")
    _FIELDS[field](config, value)
    try:
        text = write_config(config)
    except ConfigError:
        return
    assert value == value.strip() and "%" not in value and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    assert sections_of(text) == ["export", "instance", "hypervisor", "backend", "os"] + (
        ["os_private"] if config.os_private else []
    )
    got = read(text)
    expected = expected_after_round_trip(config)
    # Ganeti writes None as "None": those fields read "none" and "" as None.
    none_spelling = field in ("name", "os", "hypervisor", "disk_template") or field.startswith(("disk_", "nic_"))
    assume(not (none_spelling and value.lower() in ("none", "")))
    if field == "export_version":
        expected.export_version = value
    assert got == expected


@settings(deadline=None)
@given(
    st.sampled_from(["backend", "hypervisor_params", "os_params", "os_private", "export_extra"]),
    st.text(alphabet="aZ09_.:-", min_size=1, max_size=12),
    safe_values,
)
def test_any_accepted_key_reads_back_in_lower_case(section: str, key: str, value: str) -> None:
    """A key that write_config accepts (its rule is ``[A-Za-z0-9_.:-]+``)
    must be read back as that same key, in lower case as Ganeti reads it,
    with that value."""
    assume(not (section == "export_extra" and key in ("version", "os")))
    config = InstanceExport(name="vm1")
    getattr(config, section)[key] = value
    try:
        text = write_config(config)
    except ConfigError:
        return
    assert getattr(read(text), section) == {key.lower(): value}


def test_colon_in_parameter_name() -> None:
    """Minimal case of the property above: ``foo:bar`` is a valid parameter
    name for the writer, but configparser (Ganeti's reader too) takes ':' as
    a key/value delimiter."""
    config = InstanceExport(name="vm1", hypervisor_params={"foo:bar": "1"})
    try:
        text = write_config(config)
    except ConfigError:
        return  # refusing such a name is also correct
    assert read(text).hypervisor_params == {"foo:bar": "1"}


_INI_FRAGMENTS = [
    "[export]",
    "[instance]",
    "[backend]",
    "[os]",
    "[DEFAULT]",
    "[",
    "]",
    "version = 0",
    "name = a",
    "disk_count = 1",
    "disk_count = 99",
    "disk_count = x",
    "nic_count = 2",
    "nic_count = -1",
    "disk0_size = 10",
    "disk0_size = -5",
    "disk0_size = ten",
    "disk1_dump = d",
    "nic0_mac = auto",
    "nic7_link = br0",
    "nic8_mode = x",
    "tags = a b",
    "maxmem = 1",
    "= 1",
    "a",
    "a:b",
    "  indented",
    "# comment",
    "; comment",
    "%(x)s",
    "",
    " ",
    "\t",
    "\r",
    "\x00",
    "\ufeff",
    "é",
]
ini_texts = st.lists(st.sampled_from(_INI_FRAGMENTS) | st.text(max_size=10), max_size=15).map("\n".join)


@settings(deadline=None)
@given(st.one_of(st.binary(max_size=300), ini_texts.map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_arbitrary_input_gives_export_or_config_error(data: bytes) -> None:
    try:
        config = read_config(data, "config.ini")
    except ConfigError:
        return
    assert isinstance(config, InstanceExport)
    assert len(config.disks) <= MAX_DISKS and len(config.nics) <= MAX_NICS
    assert all(isinstance(d.size, int) and d.size >= 0 for d in config.disks)


def test_keys_differing_only_in_case_are_refused() -> None:
    config = InstanceExport(hypervisor_params={"Boot_Order": "disk", "boot_order": "cdrom"})
    with pytest.raises(ConfigError, match="given twice"):
        write_config(config)


def test_keys_are_read_in_lower_case_as_ganeti_reads_them() -> None:
    """Ganeti's ConfigParser folds keys to lower case: ``Name`` is the
    instance name, ``NIC_COUNT`` the NIC count, and the same key in two
    cases is a duplicate."""
    config = read(
        "[export]\nVersion = 0\nOS = debian\n[instance]\nName = vm1\nNIC_COUNT = 1\nNIC0_MAC = aa:00:00:00:00:01\n"
    )
    assert config.name == "vm1" and config.os == "debian" and config.export_version == "0"
    assert [nic.mac for nic in config.nics] == ["aa:00:00:00:00:01"]
    assert config.instance_extra == {}
    with pytest.raises(ConfigError, match="already exists"):
        read("[instance]\nname = vm1\nNAME = vm2\n")
