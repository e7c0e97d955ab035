"""Metadata lives in pyproject.toml, except the licence, which is set here so
that both Debian 12's setuptools (66, before PEP 639 licence expressions) and
current setuptools (77 and later, which want one) build the package."""

import setuptools
from setuptools import setup

_MAJOR = int(setuptools.__version__.split(".")[0])

if _MAJOR >= 77:
    setup(license_expression="BSD-2-Clause")
else:
    setup(license="BSD-2-Clause")
