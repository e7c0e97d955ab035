"""The JSON that ``info --json`` and ``verify --json`` print conforms to the
JSON Schemas shipped in the package (``ovfconverter/schemas/*.schema.json``,
every field required, no other field allowed), for every package of the
shared fixtures and of tests/data, and for OVAs; so a field added to the
output without its schema fails here."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from builders import COT, DATA, GANETI, make_ova, run_cli

PACKAGES = [
    *(GANETI / name for name in ("ganeti.ovf", "virtualbox.ovf", "wrong_manifest.ovf", "gzip_disk.ovf", "empty.ovf")),
    *(GANETI / name for name in ("no_disk_in_ref.ovf", "ova.ova", "corrupted_resources.ovf")),
    *(COT / name for name in ("input.ovf", "iosv.ovf", "csr1000v.ovf", "minimal.ovf")),
    *sorted(DATA.glob("*.ovf")),
]


def schema(name: str) -> dict:  # type: ignore[type-arg]
    text = resources.files("ovfconverter").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict = json.loads(text)  # type: ignore[type-arg]
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def printed(command: str, path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    proc = run_cli(command, str(path), "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    if not proc.stdout:
        pytest.skip(f"{path.name}: {command} refuses it ({proc.stderr.strip()}): no JSON to check")
    data: dict = json.loads(proc.stdout)  # type: ignore[type-arg]
    return data


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("command", ["info", "verify"])
def test_json_conforms_to_the_shipped_schema(command: str, package: Path, shared: Path) -> None:
    jsonschema.validate(printed(command, package), schema(command), cls=jsonschema.Draft202012Validator)


def test_an_ova_with_a_certificate_conforms(tmp_path: Path, shared: Path) -> None:
    names = ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"]
    ova = make_ova(tmp_path / "appliance.ova", [(name, COT / name) for name in names])
    for command in ("info", "verify"):
        jsonschema.validate(printed(command, ova), schema(command), cls=jsonschema.Draft202012Validator)


def test_the_schema_refuses_what_it_does_not_describe(shared: Path) -> None:
    """The check above can fail: an unknown field, a wrong type, a status
    outside the enumeration."""
    data = printed("verify", COT / "input.ovf")
    verify = schema("verify")
    jsonschema.validate(data, verify)
    for broken in (
        {**data, "extra": 1},
        {**data, "ok": "yes"},
        {**data, "files": [{**data["files"][0], "status": "fine"}]},
        {key: value for key, value in data.items() if key != "problems"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, verify)
