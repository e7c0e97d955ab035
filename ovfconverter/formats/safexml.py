"""Parsing untrusted XML without letting it reach the host.

OVF descriptors come from strangers.  The parser here never resolves
entities, never loads a DTD, never touches the network and refuses documents
with a DOCTYPE at all (an OVF descriptor has no use for one; DTDs carry XXE
and entity-expansion bombs), as well as documents larger than
:data:`MAX_DESCRIPTOR_SIZE`.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from ovfconverter.errors import DescriptorError, UnsafeInputError

MAX_DESCRIPTOR_SIZE = 16 << 20
"""Largest descriptor accepted, in bytes (16 MiB; real ones are a few KiB)."""

_DOCTYPE_MARKERS = tuple(
    marker
    for text in ("<!DOCTYPE", "<!ENTITY")
    for marker in (text.encode("ascii"), text.encode("utf-16-le"), text.encode("utf-16-be"))
)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse ``data`` (a whole XML document) and return its root element.

    :param data: the document's bytes.
    :param name: the file or member name, for messages.
    :raises UnsafeInputError: too large, or has a DOCTYPE or entity
        declaration.
    :raises DescriptorError: not well-formed XML (the message gives the line).
    """
    if len(data) > MAX_DESCRIPTOR_SIZE:
        raise UnsafeInputError(
            f"descriptor is {len(data)} bytes, more than the {MAX_DESCRIPTOR_SIZE} bytes allowed; refusing",
            name,
        )
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise UnsafeInputError("XML document type declarations (DOCTYPE/ENTITY) are not allowed; refusing", name)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        msg = re.sub(r",? *(\(?line \d+.*)?$", "", str(exc.msg or "syntax error")).strip()
        raise DescriptorError(f"not well-formed XML at line {line}: {msg}", name) from None
    except ValueError as exc:  # lxml: unicode strings with encoding declarations etc.
        raise DescriptorError(f"cannot be parsed as XML: {exc}", name) from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeInputError("XML document type declarations are not allowed; refusing", name)
    return root
