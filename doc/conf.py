"""Sphinx configuration: the guide pages of doc/ and an API reference
generated from the docstrings (``make docs``, warnings are errors)."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

project = "ovfconverter"
author = "The ovfconverter developers"
copyright = "the ovfconverter developers"
release = importlib.metadata.version("ovfconverter")
version = release

extensions = ["sphinx.ext.autodoc"]
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_show_sourcelink = False
highlight_language = "none"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
# The man page (ovfconverter.rst) is also a page here.
man_pages = [("ovfconverter", "ovfconverter", "move VMs between Ganeti and OVF/OVA", [author], 1)]

# The package imports its pipelines on first use (PEP 562); load them all,
# so that the reference documents every name of ``ovfconverter.__all__``.
_package = importlib.import_module("ovfconverter")
for _name in _package.__all__:
    getattr(_package, _name)

_RST_LINK = re.compile(r"^([\w-]+)\.rst(#.*)?$")


def _rst_links_to_html(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """The pages link to each other as ``page.rst`` (so that they work
    where the sources are read as they are, on a code forge); in HTML the
    pages are ``page.html``."""
    if app.builder.format != "html":
        return
    for reference in doctree.findall(nodes.reference):
        match = _RST_LINK.match(reference.get("refuri", ""))
        if match:
            reference["refuri"] = f"{match.group(1)}.html{match.group(2) or ''}"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", _rst_links_to_html)
    return {"parallel_read_safe": True}
