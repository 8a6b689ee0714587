"""A stack made by an earlier version moves to this one without replacing anything: every rename carries an alias.

The earlier version is a commit of this repository, checked out beside the test; its program runs through the same
CLI: its own `__main__.py`, with its own `components` first on PYTHONPATH (the editable install is found after
PYTHONPATH). This version's program would import modules the earlier `components` does not have.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from e2e_helpers import REPO, changes, e2e_config, minimal_image

BEFORE_REVISION_NAMES = "9af5783"
"""The last commit whose template, staging group, tags and build had one logical name per pipeline."""


@pytest.fixture
def earlier_version(tmp_path: Path):
    where = tmp_path / "earlier"
    added = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(where),
                            BEFORE_REVISION_NAMES], capture_output=True, text=True)
    if added.returncode != 0:
        pytest.skip(f"commit {BEFORE_REVISION_NAMES} is not in this clone: {added.stderr.strip()}")
    yield where
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], capture_output=True)


def test_a_stack_of_the_earlier_naming_upgrades_without_a_replacement(local_stack, earlier_version):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    program = stack.project / "__main__.py"
    program.write_bytes((earlier_version / "__main__.py").read_bytes())
    stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", env={"PYTHONPATH": str(earlier_version)})
    program.write_bytes((REPO / "__main__.py").read_bytes())
    before = {r["urn"].rsplit("::", 1)[-1] for r in stack.resources()}
    assert "one-template" in before and "one-build" in before, before

    upgraded = stack.up()
    summary = changes(upgraded)
    assert "replace" not in summary and "created" not in summary and "deleted" not in summary, summary
    after = {r["urn"].rsplit("::", 1)[-1] for r in stack.resources()}
    assert "one-template" not in after and any(n.endswith("-template") for n in after), after
    [template] = stack.templates()
    assert stack.runs(template) == 1, "the build was kept"
