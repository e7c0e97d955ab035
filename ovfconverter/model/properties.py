"""ProductSection properties: their types and qualifiers, the values a
deployment gives them, and how those values reach a Ganeti OS definition.

DSP0243 (section 9.5 in 1.x and 2.x) types a Property with a CIM type
(``ovf:type``: ``uint8`` ... ``sint64``, ``real32``, ``real64``, ``boolean``,
``string``) and constrains it with CIM qualifiers (``ovf:qualifiers``):
``MinLen(n)`` and ``MaxLen(n)`` for strings, ``MinValue(n)`` and
``MaxValue(n)`` for numbers, ``ValueMap{...}`` for a closed list of values
(numbers may list ranges, ``"1..4"``, as DSP0004 allows).  A ``Value`` child
with ``ovf:configuration`` gives another default under those profiles.

A deployment sets user-configurable properties (``--property KEY=VALUE``, as
ovftool's ``--prop:KEY=VALUE``); the others keep their defaults.  The
effective values travel to the Ganeti OS definition as two OS parameters
(:data:`OS_PARAMETER`, :data:`OS_PRIVATE_PARAMETER`): a JSON object each,
full key to value, the second holding the ``ovf:password`` properties and
written to ``[os_private]``.  Ganeti accepts only OS parameters its OS
definition declares (``parameters.list``), so fixed names are the only ones
a generic OS can declare; ``doc/mapping.rst`` documents them.

Pure functions; no I/O.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OptionError
from ovfconverter.model.envelope import ProductProperty, VirtualDisk
from ovfconverter.model.machine import Product
from ovfconverter.model.units import UnitError, quantity_to_bytes
from ovfconverter.parameters import Parameter

OS_PARAMETER = "ovf_properties"
"""The ``[os]`` parameter holding the non-password properties."""
OS_PRIVATE_PARAMETER = "ovf_private_properties"
"""The ``[os_private]`` parameter holding the ``ovf:password`` ones."""
MAX_PARAMETER_SIZE = 32 << 10
"""Largest JSON text one OS parameter may carry, in bytes (Ganeti hands OS
parameters to the OS scripts as environment variables; Linux caps one at
128 KiB)."""


class PropertyType(enum.Enum):
    """CIM types a Property may have (DSP0243 table "Property types")."""

    UINT8 = "uint8"
    SINT8 = "sint8"
    UINT16 = "uint16"
    SINT16 = "sint16"
    UINT32 = "uint32"
    SINT32 = "sint32"
    UINT64 = "uint64"
    SINT64 = "sint64"
    REAL32 = "real32"
    REAL64 = "real64"
    BOOLEAN = "boolean"
    STRING = "string"

    @property
    def range(self) -> tuple[int, int] | None:
        """The values an integer type holds, ``None`` for other types."""
        match = re.fullmatch(r"([us])int(\d+)", self.value)
        if match is None:
            return None
        bits = int(match.group(2))
        if match.group(1) == "u":
            return (0, (1 << bits) - 1)
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def property_type(name: str | None) -> PropertyType | None:
    """The :class:`PropertyType` called ``name`` (any case; absent means
    ``string``), ``None`` for a name DSP0243 does not define."""
    try:
        return PropertyType((name or "string").strip().lower())
    except ValueError:
        return None


@dataclass(frozen=True)
class Qualifiers:
    """``ovf:qualifiers``, parsed.

    :ivar value_map: the ValueMap entries, ``None`` without one.
    :ivar unknown: qualifiers this module does not check, as written.
    """

    min_len: int | None = None
    max_len: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    value_map: tuple[str, ...] | None = None
    unknown: tuple[str, ...] = ()


_QUALIFIER = re.compile(r"\s*,?\s*([A-Za-z_]\w*)\s*(?:\(([^()]*)\)|\{([^{}]*)\})")
_MAP_ENTRY = re.compile(r"\s*(?:\"([^\"]*)\"|'([^']*)'|([^,\"']+?))\s*(?:,|$)")


def parse_qualifiers(text: str | None) -> Qualifiers:
    """Parse ``ovf:qualifiers`` (``MinLen(1) MaxLen(63)``,
    ``ValueMap{"a","b"}``; separated by spaces, commas or nothing).

    :raises OptionError: a qualifier whose argument is not what it takes,
        or text that is not a list of qualifiers.
    """
    result = Qualifiers()
    rest = (text or "").strip()
    pos = 0
    while pos < len(rest):
        match = _QUALIFIER.match(rest, pos)
        if match is None or match.end() == pos:
            raise OptionError(f"ovf:qualifiers {text!r} cannot be read at {rest[pos:]!r}")
        pos = match.end()
        name, arg, entries = match.group(1), match.group(2), match.group(3)
        if name in ("MinLen", "MaxLen") and arg is not None:
            number = arg.strip()
            if not number.isdigit():
                raise OptionError(f"ovf:qualifiers {text!r}: {name} takes a whole number")
            bound = int(number)
            result = replace(result, min_len=bound) if name == "MinLen" else replace(result, max_len=bound)
        elif name in ("MinValue", "MaxValue") and arg is not None:
            value = _number(arg)
            if value is None:
                raise OptionError(f"ovf:qualifiers {text!r}: {name} takes a number")
            result = replace(result, min_value=value) if name == "MinValue" else replace(result, max_value=value)
        elif name == "ValueMap" and entries is not None:
            result = replace(result, value_map=_value_map(entries, text))
        else:
            result = replace(result, unknown=(*result.unknown, match.group(0).strip(" ,")))
    return result


def _value_map(entries: str, text: str | None) -> tuple[str, ...]:
    values: list[str] = []
    pos = 0
    entries = entries.strip()
    while pos < len(entries):
        match = _MAP_ENTRY.match(entries, pos)
        if match is None or match.end() == pos:
            raise OptionError(f"ovf:qualifiers {text!r}: ValueMap entries cannot be read")
        values.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return tuple(values)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _in_value_map(value: str, kind: PropertyType, entries: tuple[str, ...]) -> bool:
    if kind.range is None and kind not in (PropertyType.REAL32, PropertyType.REAL64):
        return value in entries
    number = float(value)
    for entry in entries:
        low, dots, high = entry.partition("..")
        if not dots:
            if _number(entry) == number:
                return True
            continue
        low_value = _number(low) if low.strip() else -math.inf
        high_value = _number(high) if high.strip() else math.inf
        if low_value is not None and high_value is not None and low_value <= number <= high_value:
            return True
    return False


def check_value(prop: ProductProperty, value: str) -> str:
    """Check ``value`` against ``prop``'s type and qualifiers.

    :returns: the value normalised (``true``/``false`` for booleans, integers
        without sign or leading zeros noise, others as given).
    :raises OptionError: the value does not fit, saying why.
    """
    kind = property_type(prop.type) or PropertyType.STRING
    qualifiers = parse_qualifiers(prop.qualifiers)
    what = f"property {prop.key!r} ({kind.value})"
    shown = "the value" if prop.password else repr(value)  # never echo a secret
    if kind is PropertyType.BOOLEAN:
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise OptionError(f"{what}: {shown} is not true or false")
        value = "true" if lowered in ("true", "1") else "false"
    elif kind.range is not None:
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,20}", text):
            raise OptionError(f"{what}: {shown} is not a whole number")
        low, high = kind.range
        if not low <= int(text) <= high:
            raise OptionError(f"{what}: {shown} is outside {low}..{high}")
        value = str(int(text))
    elif kind in (PropertyType.REAL32, PropertyType.REAL64):
        if _number(value) is None:
            raise OptionError(f"{what}: {shown} is not a number")
        value = value.strip()
    if kind is PropertyType.STRING:
        if qualifiers.min_len is not None and len(value) < qualifiers.min_len:
            raise OptionError(f"{what}: {shown} is shorter than MinLen({qualifiers.min_len})")
        if qualifiers.max_len is not None and len(value) > qualifiers.max_len:
            raise OptionError(f"{what}: a value of {len(value)} characters is longer than MaxLen({qualifiers.max_len})")
    elif kind is not PropertyType.BOOLEAN:
        number = float(value)
        if qualifiers.min_value is not None and number < qualifiers.min_value:
            raise OptionError(f"{what}: {shown} is below MinValue({_show(qualifiers.min_value)})")
        if qualifiers.max_value is not None and number > qualifiers.max_value:
            raise OptionError(f"{what}: {shown} is above MaxValue({_show(qualifiers.max_value)})")
    if qualifiers.value_map is not None and not _in_value_map(value, kind, qualifiers.value_map):
        choices = ", ".join(repr(v) for v in qualifiers.value_map)
        raise OptionError(f"{what}: {shown} is not one of the ValueMap: {choices}")
    return value


def _show(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


class ValueSource(enum.Enum):
    """Where a property's effective value comes from."""

    OPTION = "option"  # --property
    DEFAULT = "default"  # ovf:value, or a Value for the profile
    UNSET = "unset"  # neither: the empty string, as an OVF environment has it


@dataclass(frozen=True)
class PropertySetting:
    """A property with the value a deployment gives it."""

    property: ProductProperty
    value: str
    source: ValueSource


@dataclass
class PropertyValues:
    """The effective values of a VirtualSystem's properties.

    :ivar settings: one per property (the first of any with the same full
        key), in document order.
    :ivar warnings: defaults that do not fit their own qualifiers,
        user-configurable properties left without a value, duplicates,
        types and qualifiers not understood.
    """

    settings: list[PropertySetting] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def value(self, key: str) -> str | None:
        """The effective value of the property with full key (or unique
        bare key) ``key``, ``None`` when there is none."""
        for setting in self.settings:
            if setting.property.key == key:
                return setting.value
        found = [s.value for s in self.settings if s.property.bare_key == key]
        return found[0] if len(found) == 1 else None


def _find(props: Sequence[ProductProperty], key: str) -> ProductProperty:
    for prop in props:
        if prop.key == key:
            return prop
    matches = [prop for prop in props if prop.bare_key == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(repr(p.key) for p in matches)
        raise OptionError((Parameter("properties", key), f" names several properties ({names}): give the full key"))
    known = ", ".join(repr(p.key) for p in props[:12]) + (", ..." if len(props) > 12 else "")
    raise OptionError(
        (
            Parameter("properties", key),
            " is not a property of the package"
            + (f" (its properties: {known}; 'ovfconverter info' lists them)" if props else " (it has none)"),
        )
    )


def resolve_properties(
    props: Sequence[ProductProperty], profile: str | None, given: Mapping[str, str]
) -> PropertyValues:
    """The value each of ``props`` takes under deployment ``profile`` with
    the ``--property`` values ``given`` (key: full key, or bare ``ovf:key``
    when only one property has it).

    :raises OptionError: a given key names no property, several, a property
        that is not user-configurable (``ovf:userConfigurable`` false, as
        ovftool refuses too), or the same property twice; a given value does
        not fit its property's type and qualifiers.
    """
    result = PropertyValues()
    unique: list[ProductProperty] = []
    for prop in props:
        if any(p.key == prop.key for p in unique):
            result.warnings.append(f"property {prop.key!r} is declared twice; the first one counts")
        else:
            unique.append(prop)
    chosen: dict[str, str] = {}
    for key, value in given.items():
        prop = _find(unique, key)
        if not prop.user_configurable:
            raise OptionError(
                (Parameter("properties", key), ": the package does not let users set it (ovf:userConfigurable)")
            )
        if prop.key in chosen:
            raise OptionError((Parameter("properties", key), f": property {prop.key!r} is given twice"))
        chosen[prop.key] = check_value(prop, value)
    for prop in unique:
        result.warnings.extend(_declaration_warnings(prop))
        if prop.key in chosen:
            result.settings.append(PropertySetting(prop, chosen[prop.key], ValueSource.OPTION))
            continue
        default = prop.default_for(profile)
        source = ValueSource.UNSET if default is None else ValueSource.DEFAULT
        value = default or ""
        try:
            value = check_value(prop, value)
        except OptionError as exc:
            what = "has no value" if source is ValueSource.UNSET else "has a default that does not fit"
            text = f"property {prop.key!r} {what} ({exc.message.split(': ', 1)[-1]}); "
            result.warnings.append(
                Diagnostic((text, "give one with ", Parameter("properties"), f" {prop.key}=..."))
                if prop.user_configurable
                else Diagnostic(text + "not user-configurable")
            )
        result.settings.append(PropertySetting(prop, value, source))
    return result


def _declaration_warnings(prop: ProductProperty) -> list[str]:
    warnings = []
    if property_type(prop.type) is None:
        warnings.append(f"property {prop.key!r}: ovf:type {prop.type!r} is not a DSP0243 type; checked as a string")
    try:
        unknown = parse_qualifiers(prop.qualifiers).unknown
    except OptionError as exc:
        return [*warnings, f"property {prop.key!r}: {exc.message}; not checked"]
    if unknown:
        warnings.append(f"property {prop.key!r}: qualifiers {', '.join(unknown)} are not checked")
    return warnings


def effective_products(products: Sequence[Product], values: PropertyValues) -> tuple[Product, ...]:
    """``products`` (a Machine's, defaults per profile) with each
    property's value replaced by its effective value in ``values``."""
    effective = {setting.property.key: setting.value for setting in values.settings}
    return tuple(
        replace(
            product,
            properties=tuple(replace(prop, value=effective.get(prop.key, prop.value)) for prop in product.properties),
        )
        for product in products
    )


def os_parameters(products: Sequence[Product]) -> tuple[dict[str, str], dict[str, str]]:
    """The OS parameters carrying the property values of ``products`` (a
    Machine's, values already effective): ``({OS_PARAMETER: json},
    {OS_PRIVATE_PARAMETER: json})``, each empty when it would hold nothing.

    The JSON is one line of printable ASCII without ``%`` (written
    ``\\u0025``), which ``config.ini`` and Ganeti's ConfigParser carry as is.

    :raises OptionError: a JSON text larger than :data:`MAX_PARAMETER_SIZE`.
    """
    props = [prop for product in products for prop in product.properties]
    public = {prop.key: prop.value or "" for prop in props if not prop.password}
    private = {prop.key: prop.value or "" for prop in props if prop.password}
    return _as_parameter(OS_PARAMETER, public), _as_parameter(OS_PRIVATE_PARAMETER, private)


def _as_parameter(name: str, values: dict[str, str]) -> dict[str, str]:
    if not values:
        return {}
    text = json.dumps(values, ensure_ascii=True, separators=(",", ":")).replace("%", "\\u0025")
    if len(text) > MAX_PARAMETER_SIZE:
        raise OptionError(
            f"the package's property values take {len(text)} bytes as the OS parameter {name}; "
            f"Ganeti's OS scripts get at most {MAX_PARAMETER_SIZE}"
        )
    return {name: text}


def disk_capacity(disk: VirtualDisk, values: PropertyValues) -> int | None:
    """``disk``'s capacity in bytes, with an ``ovf:capacity`` of
    ``${key}`` (DSP0243 section 9.1) read from the effective property
    values; ``disk.capacity`` otherwise.

    :raises OptionError: the property's value is not a whole number, or the
        size it makes is not allowed.
    """
    if disk.capacity_property is None:
        return disk.capacity
    value = values.value(disk.capacity_property)
    if value is None or not value.strip():
        return disk.capacity
    text = value.strip()
    if not text.isdigit():
        raise OptionError(f"Disk {disk.disk_id!r}: property {disk.capacity_property!r} = {value!r} is not a size")
    try:
        return quantity_to_bytes(int(text), disk.capacity_units, default="byte")
    except UnitError as exc:
        raise OptionError(f"Disk {disk.disk_id!r}: {exc}") from None
