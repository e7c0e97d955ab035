# ovfconverter: the two commands of the README's quick start.
#   make demo   import the example OVA that tools/make-example builds
#   make test   run the linters, build the docs and run the whole test suite
#   make docs   the HTML documentation and API reference in build/docs
#               (warnings are errors)
#   make man    doc/ovfconverter.1 from doc/ovfconverter.rst
# All set everything up first (tools/setup-env): qemu-utils, .venv, extras.

VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup demo test lint docs man clean

all: test

setup:
	@tools/setup-env

demo: setup
	@$(PY) tools/make-example examples/build
	@tools/run-demo

test: setup lint docs
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check ovfconverter tests tools doc
	$(PY) -m ruff format --check ovfconverter tests tools doc
	$(PY) -m mypy

docs: setup
	$(PY) -m sphinx -E -W --keep-going -q -b html doc build/docs

man: setup
	$(VENV)/bin/pip install -q docutils
	$(PY) tools/make-man

clean:
	rm -rf build examples/build demo-output .pytest_cache .hypothesis .mypy_cache .ruff_cache
