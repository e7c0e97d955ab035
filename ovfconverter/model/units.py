"""Units of storage: DSP0004 programmatic units and Ganeti sizes.

OVF states sizes as a number plus an allocation unit.  DSP0004 (CIM
Infrastructure, Annex C "Programmatic units") spells a unit as a base unit
followed by modifiers, e.g. ``byte * 2^20`` (MiB) or ``byte * 10^3``; OVF
(DSP0243 section 9.2) uses that form for ``ovf:capacityAllocationUnits`` and
``rasd:AllocationUnits``.  Older producers write legacy names instead:
VirtualBox and Ganeti ``MegaBytes``, others ``KB``, ``MB``, ``GB`` or
``KiloBytes``; these binary multiples are read as powers of 1024, which is
what every known producer means by them.

Ganeti states disk sizes and memory in MiB (``disk0_size``, ``maxmem``).
"""

from __future__ import annotations

import re
from fractions import Fraction

from ovfconverter.errors import OptionError

MIB = 1 << 20
"""Bytes in one MiB (``byte * 2^20``)."""

GIB = 1 << 30
"""Bytes in one GiB (``byte * 2^30``)."""

MAX_EXPONENT = 80
"""Largest exponent accepted in a ``base^exponent`` modifier (2^80 bytes is
already a yottabyte; anything larger is hostile or a typo)."""

MAX_MODIFIERS = 4
"""Most ``* N`` / ``/ N^E`` modifiers in one unit (real ones have one)."""

MAX_FACTOR = Fraction(1 << 80)
"""Largest unit accepted, in bytes (and 1/MAX_FACTOR the smallest)."""

MAX_SIZE = 1 << 56
"""Largest size accepted anywhere, in bytes (64 PiB)."""


class UnitError(ValueError):
    """An allocation unit string that cannot be read as a unit of bytes."""


# Base units, as multiples of one byte.  Keys are lower case.
_BASE_UNITS: dict[str, Fraction] = {
    "bit": Fraction(1, 8),
    "bits": Fraction(1, 8),
    "byte": Fraction(1),
    "bytes": Fraction(1),
    "b": Fraction(1),
    "octet": Fraction(1),
    "octets": Fraction(1),
    # Legacy names seen in the wild (VirtualBox, Ganeti, old VMware): binary.
    "kb": Fraction(1 << 10),
    "kib": Fraction(1 << 10),
    "kilobyte": Fraction(1 << 10),
    "kilobytes": Fraction(1 << 10),
    "mb": Fraction(1 << 20),
    "mib": Fraction(1 << 20),
    "megabyte": Fraction(1 << 20),
    "megabytes": Fraction(1 << 20),
    "gb": Fraction(1 << 30),
    "gib": Fraction(1 << 30),
    "gigabyte": Fraction(1 << 30),
    "gigabytes": Fraction(1 << 30),
    "tb": Fraction(1 << 40),
    "tib": Fraction(1 << 40),
    "terabyte": Fraction(1 << 40),
    "terabytes": Fraction(1 << 40),
}

_BASE_RE = re.compile(r"\s*([A-Za-z]+)\s*")
_MODIFIER_RE = re.compile(r"([*/])\s*(\d{1,20})\s*(?:\^\s*([+-]?\d{1,4})\s*)?")


def allocation_unit_factor(units: str) -> Fraction:
    """Return how many bytes one ``units`` is.

    :param units: a DSP0004 programmatic unit of bytes (``byte``,
        ``byte * 2^20``, ``byte*2^30``, ``byte * 10^6``, ``bit * 2^13``...)
        or a legacy name (``MegaBytes``, ``KB``, ``GB``...); case-insensitive,
        spaces optional.
    :returns: bytes per unit, exact.
    :raises UnitError: the string is not a unit of bytes (``hertz * 10^6``),
        is malformed, or has an absurd exponent.
    """
    match = _BASE_RE.match(units)
    if not match:
        raise UnitError(f"allocation unit {units!r} is not a unit of bytes")
    base = match.group(1).lower()
    if base not in _BASE_UNITS:
        raise UnitError(f"allocation unit {units!r} is not a unit of bytes")
    factor = _BASE_UNITS[base]
    pos = match.end()
    modifiers = 0
    while pos < len(units):
        modifiers += 1
        if modifiers > MAX_MODIFIERS:
            raise UnitError(f"allocation unit {units[:40]!r}... has too many modifiers")
        mod = _MODIFIER_RE.match(units, pos)
        if not mod or mod.end() == pos:
            raise UnitError(f"allocation unit {units!r} is malformed")
        op, number, exponent = mod.groups()
        value = Fraction(int(number))
        if value == 0:
            raise UnitError(f"allocation unit {units!r} has a zero factor")
        if exponent is not None:
            exp = int(exponent)
            if abs(exp) > MAX_EXPONENT or value > 1 << 20:
                raise UnitError(f"allocation unit {units!r} is out of range")
            value = value**exp
        elif value > 1 << 64:
            raise UnitError(f"allocation unit {units!r} is out of range")
        if value == 0:
            raise UnitError(f"allocation unit {units!r} is zero")
        factor = factor * value if op == "*" else factor / value
        if not 1 / MAX_FACTOR <= factor <= MAX_FACTOR:
            raise UnitError(f"allocation unit {units[:40]!r} is out of range")
        pos = mod.end()
    return factor


def quantity_to_bytes(quantity: int, units: str | None, default: str = "byte") -> int:
    """Convert ``quantity`` in ``units`` to bytes, rounding up to whole bytes.

    :param quantity: a non-negative count of ``units``.
    :param units: the allocation unit, or ``None`` for ``default``.
    :param default: the unit assumed when ``units`` is missing or blank.
    :returns: bytes.
    :raises UnitError: as :func:`allocation_unit_factor`, a negative
        quantity, or more than :data:`MAX_SIZE` bytes.
    """
    if quantity < 0:
        raise UnitError(f"negative quantity {quantity}")
    unit = units if units and units.strip() else default
    total = quantity * allocation_unit_factor(unit)
    size = int(-(-total.numerator // total.denominator))
    if size > MAX_SIZE:
        raise UnitError(f"{quantity} {unit} is more than {MAX_SIZE} bytes")
    return size


def bytes_to_mib_ceil(size: int) -> int:
    """Return ``size`` bytes as whole MiB, rounded **up** (a 50 KiB disk
    needs 1 MiB, not 0)."""
    return -(-size // MIB)


_SIZE_RE = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*([a-zA-Z]*)\s*$")
_SIZE_SUFFIXES = {
    "": MIB,
    "m": MIB,
    "mb": MIB,
    "mib": MIB,
    "g": GIB,
    "gb": GIB,
    "gib": GIB,
    "t": 1 << 40,
    "tb": 1 << 40,
    "tib": 1 << 40,
}


def parse_size(text: str) -> int:
    """Parse a size as Ganeti's command line spells it (``512``, ``10G``,
    ``1.5t``; no suffix means MiB) and return it in bytes, rounded up to a
    whole MiB.

    :raises OptionError: not a positive size in those units.
    """
    match = _SIZE_RE.match(text)
    if not match or match.group(2).lower() not in _SIZE_SUFFIXES:
        raise OptionError(f"invalid size {text!r}: expected a number with an optional unit m, g or t")
    value = Fraction(match.group(1)) * _SIZE_SUFFIXES[match.group(2).lower()]
    size = bytes_to_mib_ceil(int(-(-value.numerator // value.denominator))) * MIB
    if size <= 0:
        raise OptionError(f"invalid size {text!r}: must be larger than zero")
    if size > MAX_SIZE:
        raise OptionError(f"invalid size {text!r}: more than {MAX_SIZE} bytes")
    return size


def format_bytes(size: int) -> str:
    """Return ``size`` bytes in a short human form (``512 B``, ``50.0 KiB``,
    ``8.0 GiB``), for messages."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
