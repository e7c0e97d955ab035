"""``ovfconverter completion bash|zsh``: the script completes in a real
shell what the argument parser accepts (commands, options, choices, file
names), and a shell that is not supported is a usage error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from builders import run_cli


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    proc = run_cli("completion", "bash")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    path = tmp_path_factory.mktemp("completion") / "ovfconverter.bash"
    path.write_text(proc.stdout, encoding="utf-8")
    return path


def complete(script: Path, line: str, cwd: Path) -> list[str]:
    """What bash offers after ``line`` (the cursor at its end), as a user
    pressing TAB would get it: COMP_* set as bash sets them, then the
    function the script registers for ``ovfconverter``."""
    words = line.split(" ")
    program = f"""
source {script}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
function=$(complete -p ovfconverter | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
"$function" ovfconverter '{words[-1]}' '{words[-2]}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return sorted(w.strip() for w in proc.stdout.splitlines() if w.strip())


def test_bash_completes_commands(bash_script: Path, tmp_path: Path) -> None:
    assert complete(bash_script, "ovfconverter ", tmp_path) == [
        "completion",
        "convert",
        "export",
        "import",
        "info",
        "verify",
    ]
    assert complete(bash_script, "ovfconverter ver", tmp_path) == ["verify"]


def test_bash_completes_options_and_choices(bash_script: Path, tmp_path: Path) -> None:
    assert complete(bash_script, "ovfconverter import x.ova --deploy", tmp_path) == ["--deployment-option"]
    assert complete(bash_script, "ovfconverter export config.ini --format ", tmp_path) == sorted(
        ["vmdk", "raw", "qcow2", "cow", "vdi", "vhd", "vhdx"]
    )
    assert complete(bash_script, "ovfconverter export config.ini --digest sha", tmp_path) == [
        "sha1",
        "sha256",
        "sha512",
    ]
    assert complete(bash_script, "ovfconverter completion ", tmp_path) == ["bash", "zsh"]


def test_bash_completes_file_and_folder_names(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "appliance.ova").write_bytes(b"")
    (tmp_path / "exports").mkdir()
    assert "appliance.ova" in complete(bash_script, "ovfconverter info app", tmp_path)
    assert complete(bash_script, "ovfconverter import appliance.ova --output-dir ex", tmp_path) == ["exports"]


def test_zsh_script_defines_the_completion() -> None:
    proc = run_cli("completion", "zsh")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("#compdef ovfconverter")
    for word in ("import", "export", "info", "verify", "--deployment-option", "qcow2", "_files -/"):
        assert word in proc.stdout, word
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed here (tools/setup-env installs it as root): syntax not checked")
    check = subprocess.run([zsh, "-n"], input=proc.stdout, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    proc = run_cli("completion", "fish")
    assert proc.returncode == 2
    assert "invalid choice: 'fish' (choose from 'bash', 'zsh')" in proc.stderr
