"""ProductSection properties: types and qualifiers (DSP0243 9.5), the
values a deployment gives them, and the OS parameters that carry them
(ovfconverter/model/properties.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OptionError
from ovfconverter.model.envelope import ProductProperty, VirtualDisk
from ovfconverter.model.machine import Product, Property
from ovfconverter.model.properties import (
    MAX_PARAMETER_SIZE,
    OS_PARAMETER,
    OS_PRIVATE_PARAMETER,
    PropertyType,
    PropertyValues,
    Qualifiers,
    ValueSource,
    check_value,
    disk_capacity,
    effective_products,
    os_parameters,
    parse_qualifiers,
    resolve_properties,
)
from ovfconverter.model.units import GIB
from ovfconverter.parameters import Parameter


def prop(key: str = "p", **kwargs) -> ProductProperty:
    kwargs.setdefault("user_configurable", True)
    return ProductProperty(key=kwargs.pop("full", key), bare_key=key, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MinLen(1) MaxLen(63)", Qualifiers(min_len=1, max_len=63)),
        ("MinLen(0),MaxLen(65535)", Qualifiers(min_len=0, max_len=65535)),
        ("MinLen(2)MaxLen(4)", Qualifiers(min_len=2, max_len=4)),
        ('ValueMap{"dhcp", "static"}', Qualifiers(value_map=("dhcp", "static"))),
        ("ValueMap{'a','b c'}", Qualifiers(value_map=("a", "b c"))),
        ('ValueMap{"1..4","8"} MaxValue(8)', Qualifiers(value_map=("1..4", "8"), max_value=8)),
        ("MinValue(-5) MaxValue(2.5)", Qualifiers(min_value=-5, max_value=2.5)),
        ("Override(x) MaxLen(3)", Qualifiers(max_len=3, unknown=("Override(x)",))),
        ("", Qualifiers()),
        (None, Qualifiers()),
    ],
)
def test_qualifiers_are_parsed(text: str | None, expected: Qualifiers) -> None:
    assert parse_qualifiers(text) == expected


@pytest.mark.parametrize("text", ["MinLen(x)", "MaxValue(nan)", "MinLen(1) &&", 'ValueMap{"a"', "(3)"])
def test_qualifiers_that_cannot_be_read_are_refused(text: str) -> None:
    with pytest.raises(OptionError, match="ovf:qualifiers"):
        parse_qualifiers(text)


@pytest.mark.parametrize(
    ("kind", "qualifiers", "value", "expected"),
    [
        ("boolean", None, "TRUE", "true"),
        ("boolean", None, "0", "false"),
        ("uint8", None, "255", "255"),
        ("sint8", None, "-128", "-128"),
        ("uint16", "MinValue(1024) MaxValue(65535)", " 08080 ", "8080"),
        ("uint64", None, "18446744073709551615", "18446744073709551615"),
        ("real64", "MinValue(0) MaxValue(1)", "0.25", "0.25"),
        ("string", "MinLen(1) MaxLen(3)", "abc", "abc"),
        ("string", 'ValueMap{"dhcp","static"}', "static", "static"),
        ("uint8", 'ValueMap{"1..4","8"}', "3", "3"),
        ("uint8", 'ValueMap{"..2","8"}', "8", "8"),
        (None, "MaxLen(5)", "plain", "plain"),
        ("string", None, "keeps  spaces ", "keeps  spaces "),
    ],
)
def test_values_that_fit(kind: str | None, qualifiers: str | None, value: str, expected: str) -> None:
    assert check_value(prop(type=kind, qualifiers=qualifiers), value) == expected


@pytest.mark.parametrize(
    ("kind", "qualifiers", "value", "reason"),
    [
        ("boolean", None, "yes", "is not true or false"),
        ("uint8", None, "256", "outside 0..255"),
        ("uint8", None, "-1", "outside 0..255"),
        ("sint16", None, "1e3", "not a whole number"),
        ("uint16", "MinValue(1024)", "80", "below MinValue(1024)"),
        ("uint16", "MaxValue(9000)", "9001", "above MaxValue(9000)"),
        ("real32", None, "inf", "not a number"),
        ("string", "MinLen(2)", "a", "shorter than MinLen(2)"),
        ("string", "MaxLen(2)", "abc", "longer than MaxLen(2)"),
        ("string", 'ValueMap{"dhcp","static"}', "manual", "not one of the ValueMap: 'dhcp', 'static'"),
        ("uint8", 'ValueMap{"1..4","8"}', "5", "not one of the ValueMap"),
    ],
)
def test_values_that_do_not_fit_are_refused(kind: str, qualifiers: str | None, value: str, reason: str) -> None:
    with pytest.raises(OptionError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_value(prop(type=kind, qualifiers=qualifiers), value)


def test_a_password_is_never_echoed_in_a_message() -> None:
    secret = prop("pw", type="string", qualifiers="MinLen(12)", password=True)
    with pytest.raises(OptionError) as caught:
        check_value(secret, "hunter2")
    assert "hunter2" not in str(caught.value) and "the value is shorter than MinLen(12)" in str(caught.value)


@given(st.sampled_from([t for t in PropertyType if t.range]), st.integers(-(1 << 70), 1 << 70))
def test_integer_types_take_exactly_their_range(kind: PropertyType, number: int) -> None:
    assert kind.range is not None
    low, high = kind.range
    if low <= number <= high:
        assert check_value(prop(type=kind.value), str(number)) == str(number)
    else:
        with pytest.raises(OptionError):
            check_value(prop(type=kind.value), str(number))


def as_products(values: PropertyValues) -> tuple[Product, ...]:
    """A Machine's products holding ``values``' properties (defaults as the
    OVF source gives them), with the effective values put in."""
    machine_props = tuple(
        Property(key=s.property.key, type=s.property.type, value=s.property.value, password=s.property.password)
        for s in values.settings
    )
    return effective_products((Product(properties=machine_props),), values)


PROPS = [
    prop("hostname", full="org.example.hostname", type="string", qualifiers="MinLen(1)"),
    prop("port", full="org.example.port", type="uint16", value="8080"),
    prop("mode", full="org.example.mode", value="a", profile_values=(("big huge", "b"),)),
    prop("build", full="org.example.build", value="7", user_configurable=False),
    prop("secret", full="org.example.secret", password=True),
    prop("port", full="other.port", type="uint16", value="1"),
]


def test_effective_values_come_from_options_then_profile_defaults_then_defaults() -> None:
    values = resolve_properties(PROPS, "huge", {"hostname": "mon1", "org.example.port": "9000", "secret": "x%y"})
    assert [(s.property.key, s.value, s.source) for s in values.settings] == [
        ("org.example.hostname", "mon1", ValueSource.OPTION),
        ("org.example.port", "9000", ValueSource.OPTION),
        ("org.example.mode", "b", ValueSource.DEFAULT),
        ("org.example.build", "7", ValueSource.DEFAULT),
        ("org.example.secret", "x%y", ValueSource.OPTION),
        ("other.port", "1", ValueSource.DEFAULT),
    ]
    assert values.warnings == []
    public, private = os_parameters(as_products(values))
    assert set(public) == {OS_PARAMETER} and set(private) == {OS_PRIVATE_PARAMETER}
    assert "%" not in public[OS_PARAMETER] + private[OS_PRIVATE_PARAMETER]
    assert json.loads(private[OS_PRIVATE_PARAMETER]) == {"org.example.secret": "x%y"}
    assert json.loads(public[OS_PARAMETER]) == {
        "org.example.hostname": "mon1",
        "org.example.port": "9000",
        "org.example.mode": "b",
        "org.example.build": "7",
        "other.port": "1",
    }


def test_unset_values_are_empty_and_warned_about_when_they_do_not_fit() -> None:
    values = resolve_properties(PROPS, None, {})
    assert values.value("org.example.hostname") == "" and values.value("mode") == "a"
    assert values.settings[0].source is ValueSource.UNSET
    assert values.warnings == [
        "property 'org.example.hostname' has no value ('' is shorter than MinLen(1)); "
        "give one with properties org.example.hostname=..."
    ]
    # the parameter is a part of the warning: the command line spells it --property
    warning = values.warnings[0]
    assert isinstance(warning, Diagnostic) and Parameter("properties") in warning.parts


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"port": "1"}, "properties['port'] names several properties ('org.example.port', 'other.port')"),
        ({"nope": "1"}, "properties['nope'] is not a property of the package (its properties: 'org.example.hostname'"),
        ({"build": "8"}, "properties['build']: the package does not let users set it"),
        ({"hostname": "a", "org.example.hostname": "b"}, "property 'org.example.hostname' is given twice"),
        ({"org.example.port": "70000"}, "outside 0..65535"),
    ],
)
def test_bad_property_options_are_refused(given: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        resolve_properties(PROPS, None, given)
    assert message in caught.value.message


def test_property_values_with_any_character_survive_as_one_config_ini_line() -> None:
    text = "line1\nline2\t%s é \x00 ' \" \\"
    values = resolve_properties([prop("k")], None, {"k": text})
    (parameter,) = os_parameters(as_products(values))[0].values()
    assert parameter.isascii() and parameter.isprintable() and "%" not in parameter
    assert json.loads(parameter) == {"k": text}


def test_oversized_property_values_are_refused() -> None:
    values = resolve_properties([prop("k")], None, {"k": "x" * MAX_PARAMETER_SIZE})
    with pytest.raises(OptionError, match="Ganeti's OS scripts get at most"):
        os_parameters(as_products(values))


def test_disk_capacity_follows_the_property_it_names() -> None:
    disk = VirtualDisk("d", capacity=GIB, capacity_property="size", capacity_units="byte * 2^30")
    size = prop("size", type="uint16", value="1")
    assert disk_capacity(disk, resolve_properties([size], None, {})) == GIB
    assert disk_capacity(disk, resolve_properties([size], None, {"size": "3"})) == 3 * GIB
    assert disk_capacity(VirtualDisk("e", capacity=5), resolve_properties([size], None, {})) == 5
    text = prop("size", value="big")
    with pytest.raises(OptionError, match="is not a size"):
        disk_capacity(disk, resolve_properties([text], None, {}))
