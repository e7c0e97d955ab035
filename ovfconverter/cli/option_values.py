"""The values of the command's options: argparse ``type=`` converters for
Ganeti's ``key=value`` syntax (``-O``, ``-B``, ``-H``, ``--disk``,
``--net``), ``--property KEY=VALUE`` and bounded numbers, each refusing a
malformed value with a usage error that names the option.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ovfconverter.errors import OptionError
from ovfconverter.model.ganeti import MAX_DISKS, MAX_NICS
from ovfconverter.model.keyval import parse_ident_keyval, parse_index, parse_keyval
from ovfconverter.model.units import parse_size


def keyval(option: str) -> Callable[[str], dict[str, str | None]]:
    """An argparse type: ``K=V,...`` of ``option`` (``-O``, ``-B``)."""

    def parse(text: str) -> dict[str, str | None]:
        try:
            return parse_keyval(text, option)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return parse


def disk_option(text: str) -> tuple[int, int]:
    """``--disk N:size=VAL``: disk ``N`` and its size in bytes."""
    try:
        ident, params = parse_ident_keyval(text, "--disk")
        index = parse_index(ident, "--disk", MAX_DISKS)
        if not params or set(params) != {"size"} or params["size"] is None:
            raise OptionError(f"--disk {text!r}: expected N:size=VAL (VAL in MiB, or with a unit: 10G)")
        return index, parse_size(params["size"])
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def net_values(text: str) -> tuple[int, dict[str, str | None]]:
    """``--net N:K=V,...``: NIC ``N`` and its values.

    :raises OptionError: not of that form.
    """
    ident, params = parse_ident_keyval(text, "--net")
    index = parse_index(ident, "--net", MAX_NICS)
    if params is None:
        raise OptionError(f"--net {text!r}: expected N:key=value,...")
    return index, params


def net_option(text: str) -> tuple[int, dict[str, str | None]]:
    """An argparse type: :func:`net_values`."""
    try:
        return net_values(text)
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def ranged(option: str, low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{option} {text!r}: {what} is a whole number from {low} to {high}")
        return value

    return parse


def hypervisor_option(text: str) -> tuple[str, dict[str, str | None]]:
    """``-H NAME[:K=V,...]``: the hypervisor and its parameters."""
    try:
        ident, params = parse_ident_keyval(text, "-H")
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if params is None:
        raise argparse.ArgumentTypeError(f"-H {text!r}: expected NAME or NAME:key=value,...")
    return ident, params


def property_pair(text: str) -> tuple[str, str]:
    """``--property KEY=VALUE``: split at the first ``=`` (values may hold
    more)."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def property_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The ``--property`` pairs as a dict.

    :raises OptionError: a key given twice."""
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise OptionError(f"--property {key!r} is given twice")
        values[key] = value
    return values
