"""Resolving package-relative names (``ovf:href``) without escaping the
package.

An href must be a plain relative name: no URL, no absolute path, no ``..``,
no backslash or control character.  In a folder package it must also, once
every symbolic link is resolved (``realpath``), still lie inside the
package's folder (``os.path.commonpath``), be a regular file, and have one
link only: a file with several hard links may be a link to a secret
elsewhere on the same file system (only ``fs.protected_hardlinks`` stops
an unprivileged user from making one), unless the caller allows them.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat

from ovfconverter.errors import MissingFileError, PackageError, UnsafeInputError
from ovfconverter.parameters import Parameter

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def check_href(href: str, where: str) -> str:
    """Check that ``href`` is a safe package-relative name and return it
    normalised (``./a/b`` becomes ``a/b``).

    :param where: the descriptor's name, for messages.
    :raises UnsafeInputError: a URL, an absolute path, ``..``, a backslash
        or control character, or an empty name.
    """
    if not href or any(ord(ch) < 32 or ord(ch) == 127 for ch in href):
        raise UnsafeInputError(f"href {href!r} is empty or contains control characters; refusing", where)
    if _SCHEME_RE.match(href):
        raise UnsafeInputError(
            f"href {href!r} is a URL; ovfconverter reads only files inside the package (download it first)", where
        )
    if href.startswith("/") or "\\" in href:
        raise UnsafeInputError(f"href {href!r} is an absolute path; hrefs must be relative to the package", where)
    parts = [part for part in href.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise UnsafeInputError(f"href {href!r} climbs out of the package with '..'; refusing", where)
    return posixpath.join(*parts)


def check_links(info: os.stat_result, what: str, where: str, allow_hardlinks: bool) -> None:
    """Refuse a file (``os.stat`` result ``info``) with more than one hard
    link, unless ``allow_hardlinks``.

    :param what: how to name it in the message (``href 'disk.vmdk'``).
    :raises UnsafeInputError: several links and not allowed.
    """
    if info.st_nlink > 1 and not allow_hardlinks:
        raise UnsafeInputError(
            (
                f"{what} has {info.st_nlink} hard links: it may be a link to a file elsewhere on this file system; "
                "refusing (",
                Parameter("allow_hardlinks"),
                " accepts it)",
            ),
            where,
        )


def resolve_in_folder(folder: str, href: str, where: str, allow_hardlinks: bool = False) -> str:
    """Return the real, absolute path of ``href`` inside ``folder``.

    :param folder: the package folder (the descriptor's folder).
    :param allow_hardlinks: accept a file with several hard links.
    :raises UnsafeInputError: ``href`` is unsafe (see :func:`check_href`),
        resolves, through symbolic links, outside ``folder``, or has several
        hard links (see :func:`check_links`).
    :raises PackageError: the file does not exist or is not a regular file.
    """
    name = check_href(href, where)
    base = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(base, *name.split("/")))
    if os.path.commonpath([base, real]) != base:
        raise UnsafeInputError(f"href {href!r} resolves to {real!r}, outside the package folder; refusing", where)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise MissingFileError(f"file {href!r} named in References is missing", where) from None
    except OSError as exc:
        raise PackageError(f"file {href!r} cannot be read: {exc.strerror}", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError(f"href {href!r} is not a regular file; refusing", where)
    check_links(info, f"href {href!r}", where, allow_hardlinks)
    return real
