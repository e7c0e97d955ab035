"""The command line spells the library's parameters as its flags.

The library's messages name parameters (``name``, ``nics[0]``, ``cloud``);
``cli/flags.py`` turns each into the flag the user typed, from the parser.
"""

from __future__ import annotations

import ast

import pytest
from builders import ROOT

from ovfconverter.cli.flags import FIELD_DESTS, spell, spelled
from ovfconverter.diagnostics import Diagnostic
from ovfconverter.errors import OptionError
from ovfconverter.parameters import Parameter


def _library_parameters() -> set[tuple[str, str | None]]:
    """(field, value) of every ``Parameter(...)`` the library (outside
    cli/) writes with literal arguments."""
    found: set[tuple[str, str | None]] = set()
    for path in (ROOT / "ovfconverter").rglob("*.py"):
        if "cli" in path.relative_to(ROOT / "ovfconverter").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Parameter":
                assert node.args and isinstance(node.args[0], ast.Constant), f"{path}:{node.lineno}"
                values = [k.value for k in node.keywords if k.arg == "value"]
                value = values[0].value if values and isinstance(values[0], ast.Constant) else None
                found.add((node.args[0].value, value))
    return found


def test_the_library_names_parameters_and_every_one_has_a_flag() -> None:
    named = _library_parameters()
    assert {"name", "nics", "disks", "properties", "force", "cloud", "output_dir"} <= {f for f, _ in named}
    for field, value in named:
        dest = FIELD_DESTS.get(field)
        values = [value] if value is not None or not isinstance(dest, dict) else list(dest)
        for one in values:
            flag = spell(Parameter(field, value=one))
            assert flag.startswith("-"), f"no flag sets the library's {field!r}"


def test_policy_values_are_switches() -> None:
    assert isinstance(FIELD_DESTS["policy"], dict)
    assert spell(Parameter("policy", value="virtio")) == "--virtio"
    assert spell(Parameter("policy", value="keep")) == "--keep-devices"
    assert str(Parameter("policy", value="virtio")) == "policy=virtio"


@pytest.mark.parametrize(
    ("parameter", "library", "flag"),
    [
        (Parameter("name"), "name", "-n/--name"),
        (Parameter("os_type"), "os_type", "-o/--os-type"),
        (Parameter("nics", 0), "nics[0]", "--net 0"),
        (Parameter("attachments", 2), "attachments[2]", "--net 2"),
        (Parameter("disks", 1), "disks[1]", "--disk 1"),
        (Parameter("properties", "port"), "properties['port']", "--property 'port'"),
        (Parameter("force"), "force", "--force"),
        (Parameter("cloud"), "cloud", "--os-cloud"),
        (Parameter("method", value="put"), "method=put", "--upload-method=put"),
        (Parameter("os_parameters", value="-a,-b"), "os_parameters=-a,-b", ["-O", "--os-parameters"][1] + "=-a,-b"),
        (Parameter("not_a_flag"), "not_a_flag", "not_a_flag"),
    ],
)
def test_spelling(parameter: Parameter, library: str, flag: str) -> None:
    assert str(parameter) == library
    assert spell(parameter) == flag


def test_errors_and_warnings_keep_their_parts() -> None:
    error = OptionError((Parameter("nics", 3), ": NIC 1 must be given first"), "t.ovf")
    assert str(error) == "t.ovf: nics[3]: NIC 1 must be given first"
    assert error.message == "nics[3]: NIC 1 must be given first"
    assert error.parameters == (Parameter("nics", 3),)
    assert spelled(error) == "t.ovf: --net 3: NIC 1 must be given first"

    warning = Diagnostic(("use ", Parameter("force"), " to replace it"), "out")
    assert warning == "out: use force to replace it"
    assert spelled(warning) == "out: use --force to replace it"
    wrapped = Diagnostic(warning, "VirtualSystem 'vm'")  # re-wrapped, the parts survive
    assert spelled(wrapped) == "VirtualSystem 'vm': out: use --force to replace it"
    assert spelled("plain text") == "plain text"


def test_no_library_message_spells_a_flag() -> None:
    """Outside cli/, string literals that are not docstrings never hold a
    flag of ours (``--force``): the library names parameters instead.
    qemu-img's, gnt-backup's and cloud-init's own command lines are theirs."""
    flags = {f for f in _parser_flags() if f.startswith("--")}
    offenders = []
    for path in (ROOT / "ovfconverter").rglob("*.py"):
        relative = path.relative_to(ROOT / "ovfconverter")
        if relative.parts[0] == "cli" or relative.name in (
            "qemu_img.py",
            "backup_command.py",
            "cloud_config_schema.py",
        ):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for flag in flags:
                    if flag in node.value.split() or f"{flag}=" in node.value or f"({flag}" in node.value:
                        offenders.append(f"{relative}:{node.lineno}: {flag}")
    assert offenders == []


def _parser_flags() -> set[str]:
    from ovfconverter.cli.flags import _flags

    return {option for strings, _ in _flags().values() for option in strings}
