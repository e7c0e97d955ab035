"""The OpenStack examples of the user guide run against the real Glance the
tests bring up (../shared/tools/glance-local, the ``glance`` fixture: held
under /tmp/ovfconverter-glance.lock) and print what the guide says (the
harness: tests/docexamples.py).  What Glance then holds is checked in
tests/pipelines/test_openstack_walkthroughs.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from builders import LocalGlance
from docexamples import SESSIONS, Where, local_shell, run_session

GLANCE = sorted(name for name, session in SESSIONS.items() if session.where is Where.GLANCE)


@pytest.mark.parametrize("name", GLANCE)
def test_session_runs_as_written_against_glance(name: str, glance: LocalGlance, tmp_path: Path, shared: Path) -> None:
    # the cloud is Glance's, whatever this machine's environment says
    env = {key: "" for key in os.environ if key.startswith("OS_")}
    env.update(glance.env)
    assert run_session(SESSIONS[name], tmp_path, local_shell, env) > 0
