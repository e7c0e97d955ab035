"""The examples of README.md and doc/*.rst, found and run as a reader would
run them (the tests are tests/docs/test_doc_examples.py and, for those that
need the Ganeti test cluster, tests/consumers/test_doc_examples_cluster.py).

What counts as an example is typed in the doc source: every literal block is
a ``.. code-block:: LANG`` (reStructuredText) or a fenced block with a
language (Markdown), and a bare ``::`` block or an indented Markdown block is
refused, so that nothing slips through untyped.  Languages run:

``console``
   a shell session: ``$ COMMAND`` lines (continued by a trailing ``\\``) and
   below each the output it prints, standard output and standard error
   merged in the order written.  A line ``...`` stands for any number of
   lines, ``...`` inside a line for any text.
``shell``
   commands shown without output: each must exit 0.
``python``
   a script: it must exit 0; a ``text`` block right after it, marked
   ``example-output``, is what it prints on standard output (same
   wildcards).
``pycon``
   an interactive session, run with :mod:`doctest` (``...`` is doctest's
   ellipsis).

Anything else (``text``, ``ini``, ``json``, ``xml``...) is shown, not run.
Markers are comments, invisible in the rendered page:

``.. example: SESSION`` / ``<!-- example: SESSION -->``
   the runnable blocks from here on, in this file, belong to SESSION until
   the next such marker; the blocks of a session run in order, in one
   working folder that the session's setup prepares (``SESSIONS`` in the
   test modules).
``.. illustrative: REASON`` / ``<!-- illustrative: REASON -->``
   the next runnable block is shown but not run, for REASON (a VMware or
   VirtualBox host, a DRBD cluster...): keep these few.
``.. example-output`` / ``<!-- example-output -->``
   the next block is the standard output of the previous ``python`` block.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pytest
from builders import (
    COT,
    GANETI,
    MIB,
    ROOT,
    SHARED,
    convert,
    ganeti_30_config,
    make_ova,
    make_pki,
    make_raw_disk,
    run_cli,
    write_ganeti_export,
)

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "doc").glob("*.rst"))]
"""Every page whose examples must run."""

RUNNABLE = frozenset({"console", "shell", "python", "pycon"})
SHOWN = frozenset({"text", "ini", "json", "xml", "yaml", "none"})


@dataclass
class Block:
    """One code block of a page.

    :ivar line: the 1-based line of the directive or fence.
    :ivar session: the session it runs in (``None``: not run).
    :ivar illustrative: why it is not run, for runnable blocks marked so.
    :ivar output_of_previous: this block is what the previous ``python``
        block prints.
    """

    path: Path
    line: int
    language: str
    text: str
    session: str | None = None
    illustrative: str | None = None
    output_of_previous: bool = False
    first: int = 0
    """0-based index in the page of the text's first line."""
    indent: str = ""
    """How far the text is indented in the page."""

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


_RST_CODE = re.compile(r"^(\s*)\.\. code-block::\s*(\S*)\s*$")
_RST_MARK = re.compile(r"^\s*\.\. (example|illustrative|example-output)(?::\s*(.*))?$")
_MD_FENCE = re.compile(r"^(\s*)```\s*(\S*)\s*$")
_MD_MARK = re.compile(r"^\s*<!--\s*(example|illustrative|example-output)(?::\s*(.*?))?\s*-->\s*$")


@dataclass
class _Marks:
    session: str | None = None
    illustrative: str | None = None
    output: bool = False

    def take(self, kind: str, value: str | None, where: str) -> None:
        if kind == "example":
            if not value:
                raise ValueError(f"{where}: 'example' names no session")
            self.session = value.strip()
        elif kind == "illustrative":
            if not value:
                raise ValueError(f"{where}: 'illustrative' gives no reason")
            self.illustrative = value.strip()
        else:
            self.output = True

    def block(self, path: Path, line: int, language: str, lines: list[str]) -> Block:
        """The block whose directive or fence is on ``line`` (1-based) and
        whose text is ``lines`` (its first one not blank)."""
        indent = lines[0][: _indent(lines[0])] if lines else ""
        block = Block(path, line, language, textwrap.dedent("\n".join(lines)).rstrip("\n"), indent=indent)
        if language in RUNNABLE:
            block.illustrative, self.illustrative = self.illustrative, None
            block.session = None if block.illustrative else self.session
        block.output_of_previous, self.output = self.output, False
        return block


def _rst_blocks(path: Path, lines: list[str]) -> Iterator[Block]:
    marks = _Marks()
    index = 0
    while index < len(lines):
        line = lines[index]
        mark = _RST_MARK.match(line)
        if mark:
            marks.take(mark.group(1), mark.group(2), f"{path}:{index + 1}")
        code = _RST_CODE.match(line)
        if code:
            indent, language = len(code.group(1)), code.group(2)
            start = index + 1
            while start < len(lines) and re.match(r"^\s+:[\w-]+:", lines[start]):
                start += 1
            end = start
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
                end += 1
            while start < end and not lines[start].strip():
                start += 1
            block = marks.block(path, index + 1, language, lines[start:end])
            block.first = start
            yield block
            index = end
            continue
        index += 1


def _md_blocks(path: Path, lines: list[str]) -> Iterator[Block]:
    marks = _Marks()
    index = 0
    while index < len(lines):
        line = lines[index]
        mark = _MD_MARK.match(line)
        if mark:
            marks.take(mark.group(1), mark.group(2), f"{path}:{index + 1}")
        fence = _MD_FENCE.match(line)
        if fence:
            end = index + 1
            while end < len(lines) and not _MD_FENCE.match(lines[end]):
                end += 1
            block = marks.block(path, index + 1, fence.group(2), lines[index + 1 : end])
            block.first = index + 1
            yield block
            index = end + 1
            continue
        index += 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def blocks(path: Path) -> list[Block]:
    """Every code block of one page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return list(_md_blocks(path, lines) if path.suffix == ".md" else _rst_blocks(path, lines))


def all_blocks() -> list[Block]:
    """Every code block of every page of :data:`DOCUMENTS`."""
    return [block for path in DOCUMENTS for block in blocks(path)]


def untyped_blocks(path: Path) -> list[str]:
    """Literal blocks without a language (``file:line``): a bare ``::``
    paragraph end in reStructuredText, an indented block in Markdown."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    if path.suffix == ".md":
        fenced = False
        for number, line in enumerate(lines, 1):
            if _MD_FENCE.match(line):
                fenced = not fenced
            elif not fenced and line.startswith("    ") and number > 1 and not lines[number - 2].strip():
                found.append(f"{path.relative_to(ROOT)}:{number}")
        return found
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.endswith("::") and not stripped.startswith(".. "):
            found.append(f"{path.relative_to(ROOT)}:{number}")
    return found


# -- running a console block ------------------------------------------------


@dataclass
class Step:
    """One ``$ COMMAND`` of a console block and the lines it prints."""

    command: str
    expected: list[str]
    line: int
    start: int = 0
    """Index, in the block's lines, of the first expected line."""


def console_steps(block: Block) -> list[Step]:
    """The commands of a ``console`` block, each with its expected output."""
    steps: list[Step] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            if not steps:
                raise ValueError(f"{block.where}: a console block starts with '$ COMMAND'")
            steps[-1].expected.append(line)
            index += 1
            continue
        command = [line[2:]]
        first = index
        while command[-1].endswith("\\") and index + 1 < len(lines):
            index += 1
            command.append(lines[index])
        steps.append(Step("\n".join(command), [], block.first + 1 + first, index + 1))
        index += 1
    for step in steps:
        while step.expected and not step.expected[-1].strip():
            step.expected.pop()
    return steps


def shell_commands(block: Block) -> list[str]:
    """The commands of a ``shell`` block (comments and blank lines left out,
    continuation lines joined)."""
    commands: list[str] = []
    pending: list[str] = []
    for line in block.text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append(line)
        if not line.endswith("\\"):
            commands.append("\n".join(pending))
            pending = []
    if pending:
        commands.append("\n".join(pending))
    return commands


def _line_pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.rstrip().split("...")) + r"\Z", re.DOTALL)


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` lines match ``expected`` (``...`` alone: any lines; inside
    a line: any text; trailing spaces ignored)."""
    patterns = [None if line.strip() == "..." else _line_pattern(line) for line in expected]
    actual = [line.rstrip() for line in actual]
    # reachable[j]: the first i patterns can match the first j lines
    reachable = [True] + [False] * len(actual)
    for pattern in patterns:
        following = [False] * (len(actual) + 1)
        for j, ok in enumerate(reachable):
            if not ok:
                continue
            if pattern is None:
                for k in range(j, len(actual) + 1):
                    following[k] = True
                break
            if j < len(actual) and pattern.match(actual[j]):
                following[j + 1] = True
        reachable = following
    return reachable[len(actual)]


def difference(expected: list[str], actual: list[str]) -> str:
    """Both sides, for a failure message."""
    return "expected (from the doc):\n" + "\n".join(expected) + "\n\nactual:\n" + "\n".join(actual)


# -- sessions: where the examples run ---------------------------------------


class Where(str, Enum):
    """Where a session's commands run."""

    LOCAL = "local"  # here, as if this machine were not a Ganeti node
    CLUSTER = "cluster"  # on the node of the Ganeti test cluster (tests/consumers)
    GLANCE = "glance"  # here, with the OS_* settings of the local Glance (tests/consumers)


@dataclass
class Session:
    """What a session's examples need.

    :ivar setup: puts into the working folder the files the examples name.
    :ivar substitutions: ``(regex, replacement)`` applied to what the
        commands print before comparing, for facts of this machine that the
        doc cannot know (the test cluster's node name).
    :ivar scratch: folders outside the working folder that the examples
        write (``/srv/ovf``): created empty, removed afterwards.
    :ivar shown_as: what the working folder is called in the page (its
        path in what commands print is replaced by this).
    """

    name: str
    where: Where
    setup: Callable[[Path], None]
    substitutions: list[tuple[str, str]] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    shown_as: str = "/srv/work"


Shell = Callable[[str, Path, dict[str, str]], tuple[int, str, str]]
"""Runs one command line through ``bash`` in a folder with extra
environment variables (an empty value unsets the variable): (exit status,
standard output, standard error)."""


def local_shell(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``command`` here, the project's virtualenv first on ``PATH``."""
    full = {key: value for key, value in dict(os.environ, **env).items() if value}
    full["PATH"] = f"{Path(sys.executable).parent}:{full.get('PATH', '')}"
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=full, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def session_blocks(name: str) -> list[Block]:
    """The blocks of session ``name`` in page order, with what follows
    each (for ``example-output``)."""
    found = []
    for path in DOCUMENTS:
        page = blocks(path)
        for index, block in enumerate(page):
            if block.session == name:
                found.append(block)
                following = page[index + 1] if index + 1 < len(page) else None
                if following is not None and following.output_of_previous:
                    found.append(following)
    return found


def _normalise(text: str, session: Session, workdir: Path) -> list[str]:
    text = text.replace(str(workdir), session.shown_as).expandtabs()
    for pattern, replacement in session.substitutions:
        text = re.sub(pattern, replacement, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_session(session: Session, workdir: Path, shell: Shell, env: dict[str, str]) -> int:
    """Run every block of ``session`` in order in ``workdir`` (also
    ``HOME``); raises AssertionError at the first difference.  Returns the
    number of commands, scripts and doctests run."""
    for folder in session.scratch:
        if os.path.lexists(folder):
            pytest.skip(f"{folder} exists: the {session.name} examples write there, and it is not ours to replace")
    try:
        for folder in session.scratch:
            os.makedirs(folder)
        session.setup(workdir)
        return _run_blocks(session, workdir, shell, dict(env, HOME=str(workdir)))
    finally:
        for folder in session.scratch:
            shutil.rmtree(folder, ignore_errors=True)


def _run_blocks(session: Session, workdir: Path, shell: Shell, env: dict[str, str]) -> int:
    import doctest

    count = 0
    last_stdout: str | None = None
    merged = dict(env, PYTHONUNBUFFERED="1")
    page = session_blocks(session.name)
    for index in range(len(page)):
        block = page[index]
        if block.output_of_previous:
            assert last_stdout is not None, f"{block.where}: example-output follows no python block"
            actual = _normalise(last_stdout, session, workdir)
            expected = block.text.splitlines()
            assert matches(expected, actual), f"{block.where}: the script prints otherwise\n" + difference(
                expected, actual
            )
            last_stdout = None
        elif block.language == "console":
            edits = []
            for step in console_steps(block):
                _, out, _ = shell(f"exec 2>&1\n{step.command}", workdir, merged)
                actual = _normalise(out, session, workdir)
                if UPDATE and not matches(step.expected, actual):
                    edits.append((step, actual))
                    continue
                assert matches(step.expected, actual), (
                    f"{block.where}: '$ {step.command}' prints otherwise\n" + difference(step.expected, actual)
                )
                count += 1
            for step, actual in reversed(edits):
                rewrite_output(block, step, actual)
            if edits:  # the lines of the blocks after it have moved
                page = session_blocks(session.name)
        elif block.language == "shell":
            for command in shell_commands(block):
                status, out, err = shell(command, workdir, env)
                assert status == 0, f"{block.where}: '{command}' exits {status}\n{out}\n{err}"
                count += 1
        elif block.language == "python":
            script = workdir / f"example-{block.line}.py"
            script.write_text(block.text + "\n", encoding="utf-8")
            status, last_stdout, err = shell(f"python {script.name}", workdir, env)
            assert status == 0, f"{block.where}: the script exits {status}\n{last_stdout}\n{err}"
            count += 1
        elif block.language == "pycon":
            test = doctest.DocTestParser().get_doctest(block.text, {}, block.where, str(block.path), block.line)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            report: list[str] = []
            cwd = os.getcwd()
            os.chdir(workdir)
            try:
                runner.run(test, out=report.append)
            finally:
                os.chdir(cwd)
            assert not runner.failures, f"{block.where}: the session prints otherwise\n" + "".join(report)
            count += 1
    return count


# -- the sessions the pages name --------------------------------------------

EXPORT_DIR = Path("/var/lib/ganeti/export")


def _copy(workdir: Path, source: Path, names: list[str], renames: dict[str, str] | None = None) -> None:
    """Copies (the fixtures are read in place and never copied into the
    repository; a test's folder is not the repository)."""
    for name in names:
        shutil.copyfile(source / name, workdir / (renames or {}).get(name, name))


def _cot_appliance(workdir: Path) -> None:
    """``appliance.ova``: COT's test appliance (three profiles, SHA1
    manifest, an ISO and a text file), packed as an OVA."""
    names = ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"]
    make_ova(workdir / "appliance.ova", [(name, COT / name) for name in names])


def _venv_link(workdir: Path) -> None:
    """``.venv/bin/ovfconverter`` as in a clone after ``make demo``."""
    (workdir / ".venv").symlink_to(Path(sys.executable).parent.parent)


def _readme(workdir: Path) -> None:
    _cot_appliance(workdir)
    _venv_link(workdir)


def _packages(workdir: Path) -> None:
    """What info-json.rst and the guide's info/verify part name: Ganeti's
    and COT's test packages as folders, the appliance as an OVA, and the
    DMTF schemas in ``~/dmtf/ovf-1.1`` (``HOME`` is the working folder)."""
    _copy(workdir, GANETI, ["ganeti.ovf", "ganeti.mf", "new_disk.vmdk", "second_disk.vmdk", "virtualbox.ovf"])
    _copy(workdir, GANETI, ["wrong_manifest.ovf", "wrong_manifest.mf"])
    _copy(workdir, COT, ["input.ovf", "input.mf", "input.vmdk", "input.iso", "sample_cfg.txt"])
    _cot_appliance(workdir)
    (workdir / "dmtf").mkdir()
    (workdir / "dmtf" / "ovf-1.1").symlink_to(SHARED / "schemas" / "ovf-1.1")
    _signed_appliance(workdir)


def _signed_appliance(workdir: Path) -> None:
    """``signed.ova``, signed by CN=Appliance Signing, whom CN=Company
    Issuing CA certified, whom ``company-ca.pem`` (CN=Company CA)
    certified: the ``.cert`` file carries the signer's and the issuing
    CA's certificates."""
    pki = make_pki(workdir / "pki", names=("Company CA", "Company Issuing CA", "Appliance Signing"))
    (workdir / "signing-chain.pem").write_bytes(pki.signer_cert.read_bytes() + pki.intermediate_cert.read_bytes())
    write_ganeti_export(workdir / "signed", "signed", 2 * MIB)
    proc = run_cli(
        "export", str(workdir / "signed" / "config.ini"), "--ova", "--output-dir", str(workdir),
        "--sign", str(pki.signer_key), "--certificate", str(workdir / "signing-chain.pem"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shutil.copyfile(pki.root_cert, workdir / "company-ca.pem")
    shutil.rmtree(workdir / "signed")
    shutil.rmtree(workdir / "pki")
    (workdir / "signing-chain.pem").unlink()


def _training_vm(workdir: Path) -> None:
    """The user guide's "Publish a VM for VirtualBox and VMware users": the
    training VM's export (a 6 MiB disk and a blank 32 MiB one) in the
    working folder, the seed's files (``user-data.yaml`` as the page shows
    it), and the course's key, certificate chain and CA."""
    write_ganeti_export(workdir, "training.example.com", 6 * MIB, blank_mib=32)
    page = blocks(ROOT / "doc" / "user-guide.rst")
    (user_data,) = [b.text for b in page if b.language == "yaml" and b.text.startswith("#cloud-config")]
    (workdir / "user-data.yaml").write_text(user_data + "\n", encoding="utf-8")
    (workdir / "network-config.yaml").write_text(
        "version: 2\nethernets:\n  nic0:\n    match: {name: 'e*'}\n    dhcp4: true\n", encoding="utf-8"
    )
    pki = make_pki(workdir / "pki", names=("Course CA", "Course Intermediate CA", "Course Signing"))
    shutil.copyfile(pki.signer_key, workdir / "signing-key.pem")
    (workdir / "signing-chain.pem").write_bytes(pki.signer_cert.read_bytes() + pki.intermediate_cert.read_bytes())
    shutil.copyfile(pki.root_cert, workdir / "course-ca.pem")
    shutil.rmtree(workdir / "pki")


def _virtualbox(workdir: Path) -> None:
    """The VirtualBox 2.2 export of Ganeti's test data, as ``Ubuntu.ovf``."""
    _copy(workdir, GANETI, ["virtualbox.ovf", "new_disk.vmdk", "second_disk.vmdk"], {"virtualbox.ovf": "Ubuntu.ovf"})


def _suse(workdir: Path) -> None:
    """The SUSE Studio descriptor of Ganeti's test data (``.ovd``) and a
    stand-in for its disk: a streamOptimized VMDK of the declared
    capacity holding 2 MiB of random bytes."""
    _copy(workdir, GANETI, ["wrong_extension.ovd"], {"wrong_extension.ovd": "AyertiennaSUSE.x86_64-0.0.2.ovd"})
    raw = workdir / "disk.raw"
    with open(raw, "wb") as stream:
        stream.truncate(16514 * MIB)
        stream.seek(1 * MIB)
        stream.write(random.Random(16514).randbytes(2 * MIB))
    convert(raw, workdir / "AyertiennaSUSE.x86_64-0.0.2-disk1.vmdk", "vmdk", "subformat=streamOptimized")
    raw.unlink()


WEB1_DUMP = "0c9f4a4e-2d4b-4b6e-9a53-1f0d3b5e7c21"


def _web1_export(folder: Path) -> None:
    """``gnt-backup export`` of the guide's web1.example.com: Ganeti 3.0's
    layout, 2 CPUs, maxmem 1024, minmem 512, one 1 GiB disk (an MBR and
    48 MiB of random bytes), KVM, DRBD, OS raw-image+default."""
    folder.mkdir(parents=True)
    config = ganeti_30_config(1024).replace("debootstrap+default", "raw-image+default")
    (folder / "config.ini").write_text(config, encoding="utf-8")
    with open(folder / WEB1_DUMP, "wb") as stream:
        stream.truncate(1 << 30)
        stream.seek(MIB)
        stream.write(random.Random(1).randbytes(48 * MIB))


def _exports(workdir: Path) -> None:
    _web1_export(EXPORT_DIR / "web1.example.com")


def _other_cluster(workdir: Path) -> None:
    """``/srv/ovf/web1.example.com.ova`` as exported on the first cluster
    (by the exports session's first command)."""
    _web1_export(workdir / "web1.example.com")
    proc = run_cli("export", str(workdir / "web1.example.com" / "config.ini"), "--ova", "--output-dir", "/srv/ovf")
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(workdir / "web1.example.com")


def _web1_for_openstack(workdir: Path) -> None:
    """The guide's "Ganeti instance to OpenStack": web1.example.com's
    export folder copied here, a kvm instance with virtio devices, the
    guest agent and two disks (24 and 6 MiB)."""
    folder = workdir / "web1.example.com"
    folder.mkdir()
    second = "7d1e6b0a-5f3c-4e8b-a2c4-9b8f0e1d2c3a"
    make_raw_disk(folder / WEB1_DUMP, 24 * MIB)
    make_raw_disk(folder / second, 6 * MIB, seed=5)
    config = ganeti_30_config(24).replace("disk_template = drbd", "disk_template = plain")
    config = config.replace(
        "disk0_name = None\ndisk_count = 1\n",
        f"disk0_name = None\ndisk1_ivname = disk/1\ndisk1_dump = {second}\ndisk1_size = 6\n"
        "disk1_name = None\ndisk_count = 2\n",
    )
    config = config.replace(
        "[hypervisor]\nboot_order = disk\nroot_path = /dev/vda1\nserial_console = True\n",
        "[hypervisor]\nboot_order = disk\ndisk_type = paravirtual\nnic_type = paravirtual\n"
        "use_guest_agent = True\nkernel_path =\n",
    )
    (folder / "config.ini").write_text(config, encoding="utf-8")


def _appliances(workdir: Path) -> None:
    """What ``make demo`` builds (tools/make-example): the oVirt OVA
    ``web1.ova`` and the vendor appliance ``monitor.ova``, among others."""
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make-example"), str(workdir)], check=True, capture_output=True
    )


def _manpage(workdir: Path) -> None:
    """The appliance, and a ``gnt-backup export`` in the working folder."""
    _cot_appliance(workdir)
    _web1_export(workdir / "web1")
    for path in (workdir / "web1").iterdir():
        path.rename(workdir / path.name)
    (workdir / "web1").rmdir()


# The test cluster's node is node1.ganeti.test; the pages call it what a
# real cluster's would be called.
NODE_NAME = [(r"node1\.ganeti\.test", "node1.example.com")]

SESSIONS: dict[str, Session] = {
    session.name: session
    for session in [
        Session("library", Where.LOCAL, _cot_appliance),
        Session("info-json", Where.LOCAL, _packages),
        Session("verify", Where.LOCAL, _packages),
        Session("completion", Where.LOCAL, lambda workdir: None),
        Session("appliances", Where.LOCAL, _appliances, scratch=["/srv/export"]),
        Session("publishing", Where.LOCAL, _training_vm, scratch=["/srv/publish"]),
        Session("readme", Where.CLUSTER, _readme, NODE_NAME),
        Session("manpage", Where.CLUSTER, _manpage, NODE_NAME, ["/srv/openstack"]),
        Session("virtualbox", Where.CLUSTER, _virtualbox, NODE_NAME),
        Session("vmware", Where.CLUSTER, _cot_appliance, NODE_NAME),
        Session("suse", Where.CLUSTER, _suse, NODE_NAME),
        Session("exports", Where.CLUSTER, _exports, NODE_NAME, ["/srv/ovf", "/srv/openstack"]),
        Session("other-cluster", Where.CLUSTER, _other_cluster, NODE_NAME, ["/srv/ovf"]),
        Session("openstack-vmware", Where.GLANCE, _cot_appliance, shown_as="/home/admin"),
        Session("openstack-ganeti", Where.GLANCE, _web1_for_openstack, shown_as="/home/admin"),
    ]
}
"""Every session a page names, by name."""


# -- bringing a page up to date ---------------------------------------------

UPDATE = os.environ.get("OVFCONVERTER_UPDATE_DOCS") == "1"
"""``OVFCONVERTER_UPDATE_DOCS=1``: instead of failing on a console output
that differs, write what the command printed into the page (then read the
diff: the prose around it may need the same change)."""


def rewrite_output(block: Block, step: Step, actual: list[str]) -> None:
    """Replace ``step``'s expected lines in the page by ``actual``."""
    lines = block.path.read_text(encoding="utf-8").split("\n")
    start = block.first + step.start
    end = start + len(step.expected)
    lines[start:end] = [f"{block.indent}{line}".rstrip() for line in actual]
    block.path.write_text("\n".join(lines), encoding="utf-8")
