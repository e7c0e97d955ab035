"""Ganeti's ``key=val,key=val`` option syntax (ovfconverter.model.keyval)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ovfconverter.errors import OptionError
from ovfconverter.model.keyval import parse_ident_keyval, parse_index, parse_keyval, split_escaped


def escape(value: str) -> str:
    """Escape a value as a caller of Ganeti's command line must."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


# --------------------------------------------------------------------------
# split_escaped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [""]),
        ("a", ["a"]),
        ("a=1,b=2", ["a=1", "b=2"]),
        (r"a=1,b=x\,y", ["a=1", "b=x,y"]),
        ("a,,b", ["a", "", "b"]),
        (",", ["", ""]),
        (r"a\\,b", ["a\\", "b"]),  # escaped backslash, then a real separator
        (r"a\\\,b", ["a\\,b"]),  # escaped backslash, then an escaped comma
        (r"\x", ["x"]),
        ("a\\", ["a\\"]),  # a trailing lone backslash is kept
    ],
)
def test_split_escaped_examples(text: str, expected: list[str]) -> None:
    assert split_escaped(text) == expected


def test_split_escaped_other_separator() -> None:
    assert split_escaped(r"a:b\:c,d", sep=":") == ["a", "b:c,d"]


@given(st.lists(st.text(), min_size=1))
def test_split_escaped_inverts_escape_and_join(parts: list[str]) -> None:
    assert split_escaped(",".join(escape(p) for p in parts)) == parts


# --------------------------------------------------------------------------
# parse_keyval


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1,b=2", {"a": "1", "b": "2"}),
        ("a=b=c", {"a": "b=c"}),
        ("a=", {"a": ""}),
        ("key", {"key": "True"}),
        ("no_key", {"key": "False"}),
        ("-key", {"key": None}),
        ("acpi,no_usb,-kernel_path,vcpus=2", {"acpi": "True", "usb": "False", "kernel_path": None, "vcpus": "2"}),
        (r"a=x\,y", {"a": "x,y"}),
        (r"a=x\\,b=y", {"a": "x\\", "b": "y"}),
        (r"a=C:\\dir", {"a": "C:\\dir"}),
        ("no_a=1", {"no_a": "1"}),  # with '=', the prefix is part of the key
        ("-a=1", {"-a": "1"}),
        ("kernel_args=ro console=ttyS0", {"kernel_args": "ro console=ttyS0"}),
    ],
)
def test_parse_keyval_examples(text: str, expected: dict[str, str | None]) -> None:
    assert parse_keyval(text, "-B") == expected


@pytest.mark.parametrize(
    "text",
    [
        "a=1,a=2",
        "a,a",
        "a,no_a",
        "no_a,-a",
        "a=1,-a",
        "=1",
        "no_",
        "-",
        ",",
        "a=1,",
        ",a=1",
        " =1",
    ],
)
def test_parse_keyval_refusals(text: str) -> None:
    with pytest.raises(OptionError):
        parse_keyval(text, "-B")


def test_parse_keyval_names_option_in_message() -> None:
    with pytest.raises(OptionError, match="-H"):
        parse_keyval("a=1,a=2", "-H")


def test_parse_keyval_keeps_order() -> None:
    assert list(parse_keyval("z=1,a=2,m=3", "-B")) == ["z", "a", "m"]


keys = (
    st.text(min_size=1, max_size=20)
    .filter(lambda k: not any(c in k for c in "=,\\"))
    .filter(lambda k: k == k.strip() and k.strip())
    .filter(lambda k: not k.startswith(("no_", "-")))
)


@given(st.dictionaries(keys, st.text(), max_size=8))
@example({"a": "x,y\\", "b": "\\,", "c": "=", "d": ""})
def test_parse_keyval_round_trips_escaped_dicts(values: dict[str, str]) -> None:
    text = ",".join(f"{key}={escape(value)}" for key, value in values.items())
    assert parse_keyval(text, "-O") == values


@given(st.dictionaries(keys, st.sampled_from(["True", "False", None]), min_size=1, max_size=8))
def test_parse_keyval_bare_forms_round_trip(values: dict[str, str | None]) -> None:
    prefix = {"True": "", "False": "no_", None: "-"}
    text = ",".join(prefix[value] + escape(key) for key, value in values.items())
    assert parse_keyval(text, "-B") == values


@given(keys, st.text(), st.text())
def test_parse_keyval_duplicate_key_always_refused(key: str, first: str, second: str) -> None:
    with pytest.raises(OptionError):
        parse_keyval(f"{key}={escape(first)},{key}={escape(second)}", "-B")


keyval_texts = st.one_of(
    st.text(),
    st.lists(st.sampled_from(["a", "b", "=", ",", "\\", "no_", "-", " ", ":", "1"]), max_size=12).map("".join),
)


@given(keyval_texts)
def test_parse_keyval_any_text_gives_dict_or_option_error(text: str) -> None:
    try:
        result = parse_keyval(text, "-B")
    except OptionError:
        return
    assert isinstance(result, dict)
    for key, value in result.items():
        assert isinstance(key, str) and key and key == key.strip()
        assert value is None or isinstance(value, str)


# --------------------------------------------------------------------------
# parse_ident_keyval


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kvm:kernel_path=/vmlinuz", ("kvm", {"kernel_path": "/vmlinuz"})),
        ("kvm", ("kvm", {})),
        ("kvm:", ("kvm", {})),
        ("0:mode=bridged,link=br0", ("0", {"mode": "bridged", "link": "br0"})),
        ("1:mac=aa:00:00:35:d1:9e", ("1", {"mac": "aa:00:00:35:d1:9e"})),
        ("xen-pvm:acpi,no_pae", ("xen-pvm", {"acpi": "True", "pae": "False"})),
        ("no_kvm", ("kvm", None)),
        ("-kvm", ("kvm", None)),
        ("no_0", ("0", None)),
        ("-0", ("-0", {})),  # a negative index, not a removal
        ("-0:mode=routed", ("-0", {"mode": "routed"})),
        ("-12", ("-12", {})),
        ("-x0", ("x0", None)),
        (" kvm :a=1", ("kvm", {"a": "1"})),
    ],
)
def test_parse_ident_keyval_examples(text: str, expected) -> None:
    assert parse_ident_keyval(text, "-H") == expected


@pytest.mark.parametrize(
    "text",
    ["", ":", ":a=1", " :a=1", "no_", "-", "no_:", "-:", "no_kvm:a=1", "-kvm:a=1", "no_kvm:a", "kvm:a=1,a=2", "kvm:=1"],
)
def test_parse_ident_keyval_refusals(text: str) -> None:
    with pytest.raises(OptionError):
        parse_ident_keyval(text, "-H")


idents = st.text(min_size=1, max_size=12).filter(lambda s: ":" not in s and s == s.strip())


@given(idents, st.dictionaries(keys, st.text(), max_size=5))
def test_parse_ident_keyval_round_trips(ident: str, values: dict[str, str]) -> None:
    if ident.startswith("no_") or (ident.startswith("-") and not ident[1:2].isdigit()):
        return  # a removal form, checked below
    text = ident + ":" + ",".join(f"{key}={escape(value)}" for key, value in values.items())
    assert parse_ident_keyval(text, "--net") == (ident, values)


@given(idents.filter(lambda s: not s[0].isdigit()), st.sampled_from(["no_", "-"]), st.booleans())
def test_parse_ident_keyval_removal_forms(ident: str, prefix: str, colon: bool) -> None:
    text = prefix + ident + (":" if colon else "")
    assert parse_ident_keyval(text, "-H") == (ident, None)


@given(st.integers(min_value=0, max_value=10**6), st.booleans())
def test_parse_ident_keyval_minus_digits_is_not_removal(number: int, colon: bool) -> None:
    ident, params = parse_ident_keyval(f"-{number}" + (":a=1" if colon else ""), "--net")
    assert ident == f"-{number}"
    assert params == ({"a": "1"} if colon else {})


@given(keyval_texts)
def test_parse_ident_keyval_any_text_gives_pair_or_option_error(text: str) -> None:
    try:
        ident, params = parse_ident_keyval(text, "-H")
    except OptionError:
        return
    assert isinstance(ident, str) and ident
    assert params is None or isinstance(params, dict)


# --------------------------------------------------------------------------
# parse_index


@pytest.mark.parametrize(("ident", "limit", "expected"), [("0", 8, 0), ("7", 8, 7), ("15", 16, 15), ("007", 8, 7)])
def test_parse_index_examples(ident: str, limit: int, expected: int) -> None:
    assert parse_index(ident, "--net", limit) == expected


@pytest.mark.parametrize("ident", ["8", "16", "-1", "-0", "", " 1", "1 ", "a", "1.0", "+1", "0x1"])
def test_parse_index_refusals(ident: str) -> None:
    with pytest.raises(OptionError):
        parse_index(ident, "--net", 8)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=64))
def test_parse_index_range(number: int, limit: int) -> None:
    if number < limit:
        assert parse_index(str(number), "--disk", limit) == number
    else:
        with pytest.raises(OptionError):
            parse_index(str(number), "--disk", limit)


@pytest.mark.parametrize("ident", ["\u00b2", "1\u00b2", "\u2460", "9" * 5000])
def test_parse_index_digit_like_text_is_option_error(ident: str) -> None:
    """``str.isdigit`` is true for superscripts and circled digits, which
    ``int`` cannot read, and for numbers longer than Python's 4300-digit
    int() limit: both must be refused as a bad index, not crash."""
    with pytest.raises(OptionError):
        parse_index(ident, "--net", 8)


@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(categories=("Nd", "No", "Nl")), max_size=4),
    )
)
@example("\u00b2")
def test_parse_index_any_text_gives_index_or_option_error(ident: str) -> None:
    try:
        index = parse_index(ident, "--net", 8)
    except OptionError:
        return
    assert isinstance(index, int) and 0 <= index < 8
