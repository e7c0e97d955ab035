"""doc/library.rst documents every field of the option classes, each with
its real type and default, and the progress steps the library really sends
(the events themselves are checked in tests/cli/test_cli_experience.py)."""

from __future__ import annotations

import ast
import dataclasses
import re

import pytest
from builders import ROOT
from docutils import nodes
from docutils.core import publish_doctree

import ovfconverter

LIBRARY = ROOT / "doc" / "library.rst"


def _tables() -> dict[str, dict[str, str]]:
    """Each table of library.rst under its section title: field name ->
    the text of its second column (type and default)."""
    tree = publish_doctree(
        LIBRARY.read_text(encoding="utf-8"), settings_overrides={"report_level": 5, "syntax_highlight": "none"}
    )
    found: dict[str, dict[str, str]] = {}
    for section in tree.findall(nodes.section):
        title = section.next_node(nodes.title).astext()
        for table in section.findall(nodes.table):
            for body in table.findall(nodes.tbody):
                for row in body.findall(nodes.row):
                    cells = [entry.astext().replace("\n", " ") for entry in row.findall(nodes.entry)]
                    if len(cells) >= 2:
                        found.setdefault(title, {})[cells[0]] = cells[1]
    return found


@pytest.mark.parametrize("name", ["ImportOptions", "ExportOptions"])
def test_every_option_field_is_documented_with_its_default(name: str) -> None:
    cls = getattr(ovfconverter, name)
    table = _tables()[name]
    fields = {field.name: field for field in dataclasses.fields(cls)}
    assert set(table) == set(fields), f"library.rst's {name} table: {sorted(set(table) ^ set(fields))}"
    for field_name, field in fields.items():
        text = re.sub(r"\s+", " ", table[field_name])
        assert " = " in text, f"{name}.{field_name}: no default in {text!r}"
        type_text, default_text = text.split(" = ", 1)
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        assert ast.literal_eval(default_text) == default, f"{name}.{field_name}: documented {default_text}"
        assert type_text.replace(" ", "") == str(field.type).replace(" ", ""), f"{name}.{field_name}: {type_text}"


def test_documented_progress_steps_are_the_ones_sent() -> None:
    """The steps library.rst lists are those the library's Meters are made
    with (found in the source), and those ProgressBars labels."""
    from ovfconverter.cli.progress import _LABELS

    text = LIBRARY.read_text(encoding="utf-8")
    section = text.split("\nProgress\n========\n", 1)[1].split("\n``subject: str``", 1)[0]
    documented = set(re.findall(r'^   ``"(\w+)"``$', section, re.M))
    sent = set()
    for path in (ROOT / "ovfconverter").rglob("*.py"):
        sent |= set(re.findall(r'Meter\(\s*\w+,\s*"(\w+)"', path.read_text(encoding="utf-8")))
    assert documented == sent
    assert set(_LABELS) == sent
