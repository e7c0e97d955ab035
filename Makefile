# ovfconverter: the two commands of the README's quick start.
#   make demo   import the example OVA that tools/make-example builds
#   make test   run the whole test suite
# Both set everything up first (tools/setup-env): qemu-utils, .venv, extras.

VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup demo test lint man clean

all: test

setup:
	@tools/setup-env

demo: setup
	@$(PY) tools/make-example examples/build
	@tools/run-demo

test: setup lint
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check ovfconverter tests tools
	$(PY) -m ruff format --check ovfconverter tests tools
	$(PY) -m mypy

man: setup
	$(VENV)/bin/pip install -q docutils
	$(PY) tools/make-man

clean:
	rm -rf examples/build demo-output .pytest_cache .hypothesis .mypy_cache .ruff_cache
