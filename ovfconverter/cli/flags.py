"""The flag that sets each library parameter, for the command line's messages.

The library names its parameters (:class:`~ovfconverter.parameters.Parameter`:
``name``, ``nics[0]``, ``force``, ``cloud``); the command line reports the
flag the user types instead (``-n/--name``, ``--net 0``, ``--force``,
``--os-cloud``).  The flags come from the parser itself (each argument's
``dest`` and option strings); :data:`FIELD_DESTS` lists only the fields whose
name differs from their argument's ``dest``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator, Mapping

from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OVFConverterError
from ovfconverter.parameters import Parameter

FIELD_DESTS: Mapping[str, str | Mapping[str, str]] = {
    "nics": "net",  # ImportOptions.nics: --net N:k=v
    "disks": "disk",  # ImportOptions.disks: --disk N:size=VAL
    "properties": "property",  # --property KEY=VALUE
    "cloud": "os_cloud",  # CloudOptions.cloud
    "method": "upload_method",  # OpenStackOptions.method
    "attachments": "net",  # DomainOptions.attachments: --net N:bridge=BR
    "target": "to",  # convert(source, target, ...): --to libvirt|xen...
    "policy": {"virtio": "virtio", "keep": "keep_devices"},  # DomainOptions.policy: one switch per value
    "device_policy": {"virtio": "virtio", "keep": "keep_devices"},  # ImportOptions.device_policy, likewise
}
"""Library field -> the parser's ``dest`` (or, for a field set by one switch
per value, value -> ``dest``), where they differ."""


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        else:
            yield action


@functools.cache
def _flags() -> dict[str, tuple[tuple[str, ...], bool]]:
    """``dest`` -> (option strings, whether it is a switch taking no value),
    from every command of the parser."""
    from ovfconverter.cli.parser import build_parser

    flags: dict[str, tuple[tuple[str, ...], bool]] = {}
    for action in _actions(build_parser()):
        if action.option_strings and action.dest != "help":
            flags.setdefault(action.dest, (tuple(action.option_strings), action.nargs == 0))
    return flags


def dest_of(parameter: Parameter) -> str:
    """The parser's ``dest`` for ``parameter``."""
    dest = FIELD_DESTS.get(parameter.field, parameter.field)
    if not isinstance(dest, str):
        return dest.get(parameter.value or "", parameter.field)
    return dest


def spell(parameter: Parameter) -> str:
    """``parameter`` as the command line's flag: ``-n/--name``, ``--net 0``,
    ``--property 'key'``, ``--os-parameters=VALUE``, ``--virtio``.  A
    parameter no flag sets keeps the library's spelling."""
    found = _flags().get(dest_of(parameter))
    if found is None:
        return str(parameter)
    strings, switch = found
    text = f"{strings[-1]}={parameter.value}" if parameter.value is not None and not switch else "/".join(strings)
    if parameter.item is None:
        return text
    return f"{text} {parameter.item!r}" if isinstance(parameter.item, str) else f"{text} {parameter.item}"


def spelled(text: object) -> str:
    """A message as the command line prints it: an error or warning with its
    parameters spelled as flags (:func:`spell`), anything else as it is."""
    if isinstance(text, OVFConverterError | Diagnostic):
        return text.describe(spell)
    return str(text)
