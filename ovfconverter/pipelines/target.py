"""What every target is: options checked first, a pure plan from the
machine, then a write.

A target module defines a :class:`Target` subclass and registers it in
:data:`ovfconverter.targets.TARGETS`; nothing else changes for a new
target.  :func:`~ovfconverter.pipelines.convert.convert` calls, in order:
:meth:`Target.check` (before the source is read), :meth:`Target.needs`
(what the source must state), :meth:`Target.output_dir`,
:meth:`Target.plan` (pure: decides every value, refuses with every
problem), and :meth:`Target.write` (the only step that writes, in the
run's staging folder, committed at its end).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ovfconverter.hub.provenance import Decision
from ovfconverter.model.machine import Machine, Needs
from ovfconverter.pipelines.run import Run
from ovfconverter.pipelines.source import Source


class Plan(Protocol):
    """A target's plan: whatever it decided, plus the warnings deciding it
    gave (in order; the run records them against the source's file) and its
    decisions: each value the result will hold and where it comes from."""

    warnings: list[str]
    decisions: list[Decision]


OptionsT = TypeVar("OptionsT")
PlanT = TypeVar("PlanT", bound=Plan)
ResultT = TypeVar("ResultT")


class Target(abc.ABC, Generic[OptionsT, PlanT, ResultT]):
    """A kind of result a machine can be written as.

    :cvar name: the registry name (``ganeti``, ``ovf``, ``ova``...).
    :cvar label: names the run's temporary folder.
    :ivar options: the caller's options (the target's own options class).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = "ovfconverter"

    def __init__(self, options: OptionsT) -> None:
        self.options = options

    @classmethod
    @abc.abstractmethod
    def default_options(cls) -> OptionsT:
        """The options used when the caller gives none."""

    @classmethod
    def with_options(cls, options: OptionsT | None) -> Target[OptionsT, PlanT, ResultT]:
        """The target with ``options``, or with its defaults."""
        return cls(options if options is not None else cls.default_options())

    @property
    def threads(self) -> int | None:
        """Disks converted at once (``None``: one per CPU)."""
        return None

    def check(self) -> None:
        """Refuse options that cannot be honoured, before any input is read.

        :raises OptionError: an option value is invalid.
        """
        return None  # nothing to do unless a subclass says otherwise

    def needs(self) -> Needs:
        """What the source must state for this target (default: nothing)."""
        return Needs()

    @abc.abstractmethod
    def output_dir(self, source_path: str) -> str:
        """The folder the result goes into (``source_path``: what the
        source was opened from, for targets that write beside it)."""

    @abc.abstractmethod
    def plan(self, machine: Machine) -> PlanT:
        """Decide everything the result holds, without writing.

        :raises OVFConverterError: the machine cannot be written so (every
            problem listed where the target can).
        """

    def destination(self, plan: PlanT, output_dir: str) -> str:
        """Where :meth:`write` puts the result of ``plan`` in ``output_dir``
        (for ``--dry-run``, which writes nothing)."""
        raise NotImplementedError(f"target {self.name!r} cannot say where it writes")

    @abc.abstractmethod
    def write(self, plan: PlanT, source: Source, run: Run) -> ResultT:
        """Write the result: read the images from ``source``, build
        everything in ``run``'s staging folder, move it into place.

        :raises OVFConverterError: a write or a check failed; nothing is
            left behind.
        """


AnyTarget = Target[Any, Any, Any]
