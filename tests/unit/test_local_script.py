"""`scripts/local.sh --json`: stdout is the stack outputs' JSON alone, Pulumi's progress goes to stderr (issue 24: the
`up` progress was mixed into stdout, so `bash scripts/local.sh --json | jq` failed). The script runs against a stand-in
`scripts/pulumi.sh` that prints progress as the real one does; tests/e2e/test_e2e_scripts.py runs the real one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = """#!/usr/bin/env bash
# What scripts/pulumi.sh prints: progress of `up` on stdout, the outputs on `stack output`.
echo "pulumi.sh $*" >> "$(dirname "$0")/calls.log"
case "$1" in
  up) echo "Updating (dev):"; echo "    + 25 created"; echo "Duration: 12s" ;;
  stack) if [ "${@: -1}" = "--json" ]; then echo '{"ubuntu-2204": {"runState": "Succeeded"}}';
         else echo "Current stack outputs (1):"; fi ;;
esac
"""


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "local.sh", tmp_path / "scripts" / "local.sh")
    (tmp_path / "scripts" / "pulumi.sh").write_text(STAND_IN)
    return tmp_path


def _local(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(project / "scripts" / "local.sh"), *args], capture_output=True, text=True,
                          timeout=60, check=True)


def test_json_mode_prints_only_the_json_on_stdout(project):
    done = _local(project, "--stack", "prod", "--json")
    assert json.loads(done.stdout) == {"ubuntu-2204": {"runState": "Succeeded"}}
    assert "+ 25 created" in done.stderr and "Updating" in done.stderr
    calls = (project / "scripts" / "calls.log").read_text().splitlines()
    assert calls == ["pulumi.sh up --stack prod --yes", "pulumi.sh stack output --stack prod --json"]


def test_text_mode_keeps_the_progress_on_stdout(project):
    done = _local(project)
    assert "+ 25 created" in done.stdout and "Current stack outputs" in done.stdout
