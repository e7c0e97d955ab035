"""Where export reads from and writes to, as a Ganeti operator expects:
the folder an import wrote exports again (it names no hypervisor), the
result lands in the current folder rather than in Ganeti's export folder
(whose contents ``gnt-backup remove`` and the next ``gnt-backup export``
delete), and a result put inside Ganeti's export folder is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import (
    DiskSpec,
    VmSpec,
    images_identical,
    ova_package,
    read_ini,
    run_cli,
    streamoptimized,
    write_ganeti_export,
)

from ovfconverter import ExportOptions, ImportOptions, export_instance, import_package

MIB = 1 << 20


def test_the_folder_import_wrote_exports_and_imports_back(tmp_path: Path) -> None:
    """A package without a Ganeti section imports with no hypervisor; its
    folder exports (the Ganeti section names none, with a warning) and
    imports back to the same config.ini and disk."""
    raw, vmdk = streamoptimized(tmp_path, "app", 6 * MIB + 4096, seed=11)
    vm = VmSpec(name="app1", cpus=2, memory=768, disks=[DiskSpec("app.vmdk", capacity=raw.stat().st_size)])
    package = ova_package(tmp_path / "app.ova", vm, {"app.vmdk": vmdk})
    first = import_package(str(package), ImportOptions(os_type="raw-image+default", output_dir=str(tmp_path / "one")))
    assert "hypervisor" not in read_ini(Path(first.path) / "config.ini")["instance"]

    exported = export_instance(
        str(Path(first.path) / "config.ini"), ExportOptions(ova=True, output_dir=str(tmp_path / "ova"))
    )
    assert exported.warnings == [
        "config.ini names no hypervisor ([instance] hypervisor): the Ganeti section names none, so an import "
        "into Ganeti takes the target cluster's default hypervisor"
    ]
    assert exported.envelope.ganeti is not None and exported.envelope.ganeti.hypervisor_name is None

    second = import_package(exported.path, ImportOptions(output_dir=str(tmp_path / "two")))
    assert read_ini(Path(second.path) / "config.ini") == read_ini(Path(first.path) / "config.ini")
    assert images_identical(raw, "raw", Path(second.path) / "disk0.raw", "raw")


def test_cli_export_writes_into_the_current_folder(tmp_path: Path) -> None:
    config = write_ganeti_export(tmp_path / "export" / "web1.example.com", "web1.example.com", 4 * MIB)
    before = sorted(p.name for p in config.parent.iterdir())
    here = tmp_path / "here"
    here.mkdir()
    for args, result in (([], "web1.example.com"), (["--ova"], "web1.example.com.ova")):
        proc = run_cli("export", str(config), "--quiet", *args, cwd=here)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{here / result}: ")
        assert proc.stderr == ""
    assert sorted(p.name for p in here.iterdir()) == ["web1.example.com", "web1.example.com.ova"]
    assert sorted(p.name for p in config.parent.iterdir()) == before, "nothing is added to Ganeti's export folder"


@pytest.mark.parametrize("where", ["beside config.ini", "in the export folder itself"])
def test_export_into_ganeti_export_folder_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    ganeti = tmp_path / "ganeti"
    monkeypatch.setenv("OVFCONVERTER_GANETI_DIR", str(ganeti))
    config = write_ganeti_export(ganeti / "export" / "web1.example.com", "web1.example.com", 4 * MIB)
    output = config.parent if where == "beside config.ini" else config.parent.parent
    result = export_instance(str(config), ExportOptions(ova=True, output_dir=str(output)))
    assert result.warnings == [
        f"{output / 'web1.example.com.ova'} is inside Ganeti's export folder {ganeti / 'export'}: gnt-backup remove, "
        "or the next gnt-backup export of the instance, deletes it with the export (give output_dir elsewhere)"
    ]
