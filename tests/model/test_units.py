"""Units of storage (ovfconverter.model.units): DSP0004 programmatic units,
legacy unit names, byte/MiB rounding and Ganeti command-line sizes.

Expected values are computed here independently of the module (own table of
unit names, own ceiling arithmetic), so a wrong table entry or a wrong
rounding direction in the module makes these tests fail.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ovfconverter.errors import OptionError
from ovfconverter.model.units import (
    GIB,
    MAX_SIZE,
    MIB,
    UnitError,
    allocation_unit_factor,
    bytes_to_mib_ceil,
    parse_size,
    quantity_to_bytes,
)

KIB = 1 << 10
TIB = 1 << 40

# Our own table: unit name -> bytes per unit.
EXPECTED_BASES: dict[str, Fraction] = {
    "byte": Fraction(1),
    "bytes": Fraction(1),
    "bit": Fraction(1, 8),
    "bits": Fraction(1, 8),
    "octet": Fraction(1),
    "KB": Fraction(KIB),
    "KiloBytes": Fraction(KIB),
    "MB": Fraction(MIB),
    "MegaBytes": Fraction(MIB),
    "GB": Fraction(GIB),
    "GigaBytes": Fraction(GIB),
    "TB": Fraction(TIB),
}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def random_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(word, flips, strict=True))


spaces = st.text(alphabet=" \t", max_size=3)


# --------------------------------------------------------------------------
# allocation_unit_factor: examples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("byte", 1),
        ("bytes", 1),
        ("BYTE", 1),
        ("byte * 2^20", MIB),
        ("byte*2^30", GIB),
        ("byte * 2^10", KIB),
        ("byte * 10^6", 10**6),
        ("byte * 10^3", 1000),
        ("byte * 1024", KIB),
        ("bit", Fraction(1, 8)),
        ("bit * 2^13", KIB),
        ("bit * 8", 1),
        ("byte / 8", Fraction(1, 8)),
        ("byte * 2^20 / 2^10", KIB),
        ("byte * 2^-3", Fraction(1, 8)),
        ("byte * 2^+3", 8),
        ("byte * 2^0", 1),
        ("byte * 2^80", 1 << 80),
        ("  byte  *  2  ^  20  ", MIB),
        ("Byte * 2^20", MIB),
        ("MegaBytes", MIB),
        ("megabytes", MIB),
        ("MEGABYTES", MIB),
        ("KB", KIB),
        ("kb", KIB),
        ("KiloBytes", KIB),
        ("MB", MIB),
        ("GB", GIB),
        ("GigaBytes", GIB),
        ("TB", TIB),
        ("MB * 2^10", GIB),
    ],
)
def test_factor_examples(text: str, expected: int | Fraction) -> None:
    factor = allocation_unit_factor(text)
    assert isinstance(factor, Fraction)
    assert factor == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hertz * 10^6",
        "hertz",
        "second",
        "kilohertz",
        "2^20",
        "* 2^20",
        "byte *",
        "byte * ",
        "byte 2^20",
        "byte * 2^",
        "byte ** 2",
        "byte * * 2",
        "byte * 2^20 extra",
        "byte * 2^20^2",
        "byte * x",
        "byte, 2^20",
        "byte * 0",
        "byte * 0^5",
        "byte * 2^81",
        "byte * 2^-81",
        "byte * 1048577^2",
        "byte * 99999999999999999999",
        "byte * 2^99999",
        "megabytes per second",
    ],
)
def test_factor_refusals(text: str) -> None:
    with pytest.raises(UnitError):
        allocation_unit_factor(text)


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


def test_factor_zero_base_negative_exponent_is_unit_error() -> None:
    """``0^-1`` is a division by zero: it must be refused as a malformed unit,
    not crash with ZeroDivisionError."""
    with pytest.raises(UnitError):
        allocation_unit_factor("byte * 0^-1")


# --------------------------------------------------------------------------
# allocation_unit_factor: properties


@given(st.integers(min_value=0, max_value=80))
def test_byte_times_two_power(n: int) -> None:
    assert allocation_unit_factor(f"byte * 2^{n}") == 2**n
    assert allocation_unit_factor(f"byte*2^{n}") == 2**n


@given(st.integers(min_value=0, max_value=24))
def test_byte_times_ten_power(n: int) -> None:
    assert allocation_unit_factor(f"byte * 10^{n}") == 10**n


@given(st.integers(min_value=-80, max_value=80), spaces, spaces, spaces, spaces, spaces, spaces, st.data())
def test_spacing_and_case_do_not_matter(n, s0, s1, s2, s3, s4, s5, data) -> None:
    base = random_case(data.draw, "byte")
    text = f"{s0}{base}{s1}*{s2}2{s3}^{s4}{n}{s5}"
    assert allocation_unit_factor(text) == allocation_unit_factor(f"byte * 2^{n}") == Fraction(2) ** n


@st.composite
def unit_expressions(draw):
    """A well-formed unit string and its expected factor, computed here."""
    name = draw(st.sampled_from(sorted(EXPECTED_BASES)))
    expected = EXPECTED_BASES[name]
    parts = [draw(spaces), random_case(draw, name), draw(spaces)]
    out_of_range = False
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from("*/"))
        base = draw(st.integers(1, 1 << 20))
        if draw(st.booleans()):
            exp = draw(st.integers(-8, 8))
            value = Fraction(base) ** exp
            parts += [op, draw(spaces), str(base), draw(spaces), "^", draw(spaces), str(exp), draw(spaces)]
        else:
            value = Fraction(base)
            parts += [op, draw(spaces), str(base), draw(spaces)]
        expected = expected * value if op == "*" else expected / value
        # A unit outside 2^-80..2^80 bytes at any step is refused.
        out_of_range = out_of_range or not Fraction(1, 1 << 80) <= expected <= 1 << 80
    return "".join(parts), None if out_of_range else expected


@given(unit_expressions())
def test_factor_matches_independent_model(case) -> None:
    text, expected = case
    if expected is None:
        with pytest.raises(UnitError):
            allocation_unit_factor(text)
        return
    assert allocation_unit_factor(text) == expected


# Text built from the tokens units are made of, so that near-misses of the
# grammar (and not only random noise) are tried.
_UNIT_TOKENS = [
    "byte",
    "bit",
    "MB",
    "KiloBytes",
    "hertz",
    "b",
    "*",
    "/",
    "^",
    "-",
    "+",
    " ",
    "\t",
    "0",
    "1",
    "2",
    "8",
    "10",
    "20",
    "80",
    "81",
    "1048576",
    "x",
    ".",
    "(",
    ")",
]


@st.composite
def unit_shaped_texts(draw):
    """Text shaped like a unit (name, then ``op number [^ exponent]``
    modifiers) with numbers and exponents drawn from anywhere, in or out of
    range."""
    parts = [draw(st.sampled_from(["byte", "bit", "MB", "hertz", "KiloBytes"]))]
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(st.sampled_from(["*", "/", " * ", " / "])))
        parts.append(str(draw(st.sampled_from([0, 1, 2, 10, 1 << 20, (1 << 20) + 1, 1 << 64, (1 << 64) + 1]))))
        if draw(st.booleans()):
            parts.append("^" + str(draw(st.sampled_from([0, 1, -1, -3, 80, 81, -80, -81]) | st.integers(-100, 100))))
    return "".join(parts)


unit_texts = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_UNIT_TOKENS), max_size=12).map("".join),
    unit_shaped_texts(),
    unit_shaped_texts(),
)


@settings(max_examples=300)
@given(unit_texts)
@example("byte * 0^-1")
def test_factor_any_text_gives_fraction_or_unit_error(text: str) -> None:
    try:
        factor = allocation_unit_factor(text)
    except UnitError:
        return
    assert isinstance(factor, Fraction)
    assert factor > 0


# --------------------------------------------------------------------------
# quantity_to_bytes


@pytest.mark.parametrize(
    ("quantity", "units", "expected"),
    [
        (512, "MegaBytes", 512 * MIB),
        (512, "byte * 2^20", 512 * MIB),
        (8, "byte * 2^30", 8 * GIB),
        (1, "bit", 1),  # 1/8 byte rounds up to 1
        (9, "bit", 2),
        (16, "bit", 2),
        (0, "GB", 0),
        (100, None, 100),
        (100, "", 100),
        (100, "   ", 100),
        (3, "byte / 2", 2),
    ],
)
def test_quantity_examples(quantity: int, units: str | None, expected: int) -> None:
    assert quantity_to_bytes(quantity, units) == expected


def test_quantity_default_unit() -> None:
    assert quantity_to_bytes(4, None, default="byte * 2^20") == 4 * MIB
    assert quantity_to_bytes(4, " ", default="MegaBytes") == 4 * MIB
    assert quantity_to_bytes(4, "byte", default="MegaBytes") == 4


def test_quantity_refusals() -> None:
    with pytest.raises(UnitError):
        quantity_to_bytes(-1, "byte")
    with pytest.raises(UnitError):
        quantity_to_bytes(1, "hertz * 10^6")
    with pytest.raises(UnitError):
        quantity_to_bytes(1, None, default="hertz")


@given(st.integers(min_value=0, max_value=1 << 50), st.integers(min_value=0, max_value=40))
def test_quantity_round_trips_through_power_of_two_units(quantity: int, n: int) -> None:
    if quantity * 2**n > MAX_SIZE:
        with pytest.raises(UnitError):
            quantity_to_bytes(quantity, f"byte * 2^{n}")
        return
    size = quantity_to_bytes(quantity, f"byte * 2^{n}")
    assert size == quantity * 2**n
    assert size % 2**n == 0 and size // 2**n == quantity


@example(1, ("byte * 2^56", Fraction(1 << 56)))  # exactly MAX_SIZE
@example(2, ("byte * 2^56", Fraction(1 << 56)))  # one unit past it
@given(st.integers(min_value=0, max_value=1 << 50), unit_expressions())
def test_quantity_is_ceiling_of_exact_product(quantity: int, case) -> None:
    text, factor = case
    if factor is None or math.ceil(quantity * factor) > MAX_SIZE:
        with pytest.raises(UnitError):
            quantity_to_bytes(quantity, text)
        return
    exact = quantity * factor
    size = quantity_to_bytes(quantity, text)
    assert size == math.ceil(exact)
    assert size >= exact > size - 1 or (exact == 0 and size == 0)


@given(st.integers(min_value=1, max_value=1 << 40))
def test_quantity_negative_always_refused(quantity: int) -> None:
    with pytest.raises(UnitError):
        quantity_to_bytes(-quantity, "byte")


# --------------------------------------------------------------------------
# bytes_to_mib_ceil


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, 0), (1, 1), (50 * KIB, 1), (MIB - 1, 1), (MIB, 1), (MIB + 1, 2), (10 * GIB, 10240), (10 * GIB + 1, 10241)],
)
def test_mib_ceil_examples(size: int, expected: int) -> None:
    assert bytes_to_mib_ceil(size) == expected


@given(st.integers(min_value=0, max_value=1 << 70))
def test_mib_ceil_is_least_sufficient_count(size: int) -> None:
    k = bytes_to_mib_ceil(size)
    assert k * MIB >= size
    assert k == 0 or (k - 1) * MIB < size


# --------------------------------------------------------------------------
# parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512", 512 * MIB),
        ("1", MIB),
        ("512m", 512 * MIB),
        ("512M", 512 * MIB),
        ("512mb", 512 * MIB),
        ("512MiB", 512 * MIB),
        ("10G", 10 * GIB),
        ("10g", 10 * GIB),
        ("10GB", 10 * GIB),
        ("10gib", 10 * GIB),
        ("1.5t", 3 * TIB // 2),
        ("1.5T", 3 * TIB // 2),
        ("2tb", 2 * TIB),
        (" 512 ", 512 * MIB),
        ("10 G", 10 * GIB),
        ("0.5", MIB),  # half a MiB rounds up to one
        ("1.5", 2 * MIB),
        ("0.001g", 2 * MIB),  # 1.048576 MiB rounds up to 2
        ("65536t", MAX_SIZE),  # the largest size accepted
    ],
)
def test_parse_size_examples(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "0",
        "0.0",
        "0g",
        "-1",
        "-1g",
        "+1",
        "10x",
        "10k",
        "10kb",
        "10 kb",
        "1e3",
        "1,5g",
        "abc",
        "g",
        ".5",
        "5.",
        "1.2.3",
        "10 G B",
        "65537t",  # just past MAX_SIZE (64 PiB)
        "1048577t",
        "99999999999999999999t",
    ],
)
def test_parse_size_refusals(text: str) -> None:
    with pytest.raises(OptionError):
        parse_size(text)


def test_parse_size_huge_number_is_option_error() -> None:
    """A number of thousands of digits is "too large", not a crash: Python
    refuses int() of strings longer than sys.get_int_max_str_digits() (4300
    digits) with a plain ValueError."""
    with pytest.raises(OptionError):
        parse_size("9" * 5000)


SIZE_UNITS = {"": MIB, "m": MIB, "M": MIB, "mb": MIB, "MiB": MIB, "g": GIB, "G": GIB, "GB": GIB, "t": TIB, "TiB": TIB}


@given(
    st.integers(min_value=0, max_value=10**6),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**6).map(str)),
    st.sampled_from(sorted(SIZE_UNITS)),
    spaces,
    spaces,
)
def test_parse_size_is_mib_ceiling(whole, fraction, suffix, s1, s2) -> None:
    number = str(whole) if fraction is None else f"{whole}.{fraction}"
    value = Fraction(number) * SIZE_UNITS[suffix]
    text = f"{s1}{number}{suffix}{s2}"
    if value == 0:
        with pytest.raises(OptionError):
            parse_size(text)
        return
    assume(value <= MAX_SIZE)
    size = parse_size(text)
    assert size % MIB == 0
    assert size >= value
    assert size - MIB < value
    assert size == ceil_div(math.ceil(value), MIB) * MIB


size_texts = st.one_of(
    st.text(),
    st.lists(st.sampled_from(["1", "0", "5", "12", ".", "-", "g", "T", "mb", "k", " ", "e", "x"]), max_size=8).map(
        "".join
    ),
)


@given(size_texts)
def test_parse_size_any_text_gives_mib_multiple_or_option_error(text: str) -> None:
    try:
        size = parse_size(text)
    except OptionError:
        return
    assert isinstance(size, int)
    assert 0 < size <= MAX_SIZE
    assert size % MIB == 0
