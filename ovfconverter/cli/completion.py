"""Shell completion for bash and zsh: ``ovfconverter completion bash|zsh``
prints a script that shtab generates from the argument parser itself, so it
completes every command, option and choice the parser knows, and file or
folder names where an argument is one.

Install it once, for example::

    ovfconverter completion bash > /etc/bash_completion.d/ovfconverter
    ovfconverter completion zsh > /usr/local/share/zsh/site-functions/_ovfconverter
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh")
"""The shells a script is written for."""

_FILE = "file"
_DIRECTORY = "directory"
# what each argument names, by its dest: completed as file or folder names
_PATHS = {
    "package": _FILE,
    "config": _FILE,
    "source": _FILE,
    "output_dir": _DIRECTORY,
    "schema": _DIRECTORY,
}


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``completion`` command to the parser's ``commands``."""
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a script that completes ovfconverter's commands, options and their values, and "
        "file names, in bash or zsh. Load it in the current shell with 'source <(ovfconverter completion bash)', "
        "or install it: 'ovfconverter completion bash > /etc/bash_completion.d/ovfconverter', or for zsh into a "
        "folder of $fpath as '_ovfconverter'.",
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (one of
    :data:`SHELLS`).

    :raises ValueError: ``shell`` is not one of :data:`SHELLS`.
    """
    import shtab

    if shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}")
    kinds = {_FILE: shtab.FILE, _DIRECTORY: shtab.DIRECTORY}
    for action in _actions(parser):
        kind = _PATHS.get(action.dest)
        if kind is not None:
            action.complete = kinds[kind]  # type: ignore[attr-defined]
    text: str = shtab.complete(parser, shell=shell)
    return text


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of ``parser`` and of its sub-commands' parsers."""
    found = []
    for action in parser._actions:
        found.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                found.extend(_actions(sub))
    return found
