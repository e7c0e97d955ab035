"""Every example of README.md and doc/*.rst runs, and prints what the page
says it prints (the harness: tests/docexamples.py).  The examples that need
the Ganeti test cluster run in tests/consumers/test_doc_examples_cluster.py;
this module runs the others and checks that no example escapes: every
literal block is typed, every runnable block belongs to a session that a
test runs, or says why it is only illustrative."""

from __future__ import annotations

from pathlib import Path

import pytest
from docexamples import (
    DOCUMENTS,
    RUNNABLE,
    SESSIONS,
    SHOWN,
    Block,
    Where,
    all_blocks,
    console_steps,
    local_shell,
    matches,
    run_session,
    untyped_blocks,
)

LOCAL = sorted(name for name, session in SESSIONS.items() if session.where is Where.LOCAL)


def test_every_literal_block_is_typed() -> None:
    untyped = [where for path in DOCUMENTS for where in untyped_blocks(path)]
    assert not untyped, "give these blocks a language (.. code-block:: LANG, or a fenced block): " + ", ".join(untyped)


def test_every_block_language_is_known() -> None:
    unknown = [f"{b.where} ({b.language or 'none'})" for b in all_blocks() if b.language not in RUNNABLE | SHOWN]
    assert not unknown, f"languages are {sorted(RUNNABLE | SHOWN)}: " + ", ".join(unknown)


def test_every_runnable_block_runs_or_says_why() -> None:
    orphans = [b.where for b in all_blocks() if b.language in RUNNABLE and not b.session and not b.illustrative]
    assert not orphans, "name a session (.. example: NAME) or a reason (.. illustrative: WHY): " + ", ".join(orphans)


def test_every_session_is_defined_and_used() -> None:
    named = {b.session for b in all_blocks() if b.session}
    assert named - set(SESSIONS) == set(), "sessions named by a page but not defined in tests/docexamples.py"
    assert set(SESSIONS) - named == set(), "sessions defined but named by no page"


def test_outputs_are_typed_text_after_python() -> None:
    for path in DOCUMENTS:
        previous: Block | None = None
        for block in [b for b in all_blocks() if b.path == path]:
            if block.output_of_previous:
                assert previous is not None and previous.language == "python", f"{block.where}: no python before"
            previous = block


def test_illustrative_blocks_stay_few() -> None:
    illustrative = [b for b in all_blocks() if b.illustrative]
    runnable = [b for b in all_blocks() if b.language in RUNNABLE]
    assert len(illustrative) * 3 <= len(runnable), "\n".join(f"{b.where}: {b.illustrative}" for b in illustrative)


@pytest.mark.parametrize("name", LOCAL)
def test_session_runs_as_written(name: str, tmp_path: Path, shared: Path) -> None:
    ran = run_session(SESSIONS[name], tmp_path, local_shell, {})
    assert ran > 0


# -- the harness itself can fail ---------------------------------------------


def test_matching_rules() -> None:
    assert matches(["a", "b"], ["a", "b  "])
    assert not matches(["a", "b"], ["a", "c"])
    assert not matches(["a"], ["a", "b"])
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b"])
    assert matches(["size 12 ... done"], ["size 12 MiB, done"])
    assert not matches(["size 12 ... done"], ["size 13 MiB, done"])
    assert matches(["x.y"], ["x.y"]) and not matches(["x.y"], ["xzy"])


def test_console_steps_split_commands_and_output() -> None:
    block = Block(
        Path("doc/x.rst"),
        1,
        "console",
        "$ ovfconverter a \\\n      --b\nout 1\n\nout 2\n\n$ ovfconverter c\n",
    )
    steps = console_steps(block)
    assert [s.command for s in steps] == ["ovfconverter a \\\n      --b", "ovfconverter c"]
    assert [s.expected for s in steps] == [["out 1", "", "out 2"], []]


def test_a_wrong_output_fails(tmp_path: Path) -> None:
    from docexamples import Session, session_blocks

    page = tmp_path / "page.rst"
    page.write_text(".. example: probe\n\n.. code-block:: console\n\n    $ echo one\n    two\n", encoding="utf-8")
    import docexamples

    saved = docexamples.DOCUMENTS[:]
    docexamples.DOCUMENTS[:] = [page]
    try:
        assert [b.text for b in session_blocks("probe")] == ["$ echo one\ntwo"]
        with pytest.raises(AssertionError, match="prints otherwise"):
            run_session(Session("probe", Where.LOCAL, lambda _: None), tmp_path, local_shell, {})
    finally:
        docexamples.DOCUMENTS[:] = saved


def test_man_page_is_built_from_its_source(tmp_path: Path) -> None:
    """doc/ovfconverter.1 is what ``make man`` (tools/make-man) makes of
    doc/ovfconverter.rst (the comment lines naming the docutils version
    aside)."""
    import subprocess
    import sys

    from builders import ROOT

    built = tmp_path / "ovfconverter.1"
    args = [str(ROOT / "tools" / "make-man"), str(ROOT / "doc" / "ovfconverter.rst"), str(built)]
    subprocess.run([sys.executable, *args], check=True)

    def lines(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith('.\\"')]

    assert lines(ROOT / "doc" / "ovfconverter.1") == lines(built), "run 'make man' and commit doc/ovfconverter.1"
