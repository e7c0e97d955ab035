"""Naming the caller's parameters in messages.

The library speaks of its parameters, not of command-line flags: a message
that tells the caller what to set names the field of the options it takes
(``name``, ``nics[0]``, ``force``, ``cloud``) as a :class:`Parameter`, one
part of the message beside its text.  :func:`render` spells the message with
the library's names; a front end spells each parameter its own way instead
(the command line prints the flag the user typed: ``-n/--name``, ``--net 0``,
``--force``, ``--os-cloud``), with no parsing of the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """A parameter the caller sets, or may set, named in a message.

    :ivar field: the field of the options object (``ImportOptions.nics``:
        ``nics``; ``CloudOptions.cloud``: ``cloud``).
    :ivar item: for a field holding one value per item, which one: a NIC or
        disk index (:class:`int`), a property key (:class:`str`); ``None``
        for the field as a whole.
    :ivar value: a value to set it to, where the message suggests one
        (``policy=virtio``); ``None`` when it only names the parameter.
    """

    field: str
    item: int | str | None = None
    value: str | None = None

    def __str__(self) -> str:
        """The library's spelling: ``name``, ``nics[0]``,
        ``properties['k']``, ``policy=virtio``."""
        text = self.field if self.item is None else f"{self.field}[{self.item!r}]"
        return text if self.value is None else f"{text}={self.value}"


Part = str | Parameter
"""One part of a message: text, or a parameter named in it."""


def parts_of(message: str | Sequence[Part]) -> tuple[Part, ...]:
    """A message as its parts (a plain string is one part)."""
    return (message,) if isinstance(message, str) else tuple(message)


def render(parts: Iterable[Part], spell: Callable[[Parameter], str] = str) -> str:
    """The message's text, each :class:`Parameter` spelled by ``spell``
    (default: the library's names)."""
    return "".join(part if isinstance(part, str) else spell(part) for part in parts)
