"""The README's commands, run as a newcomer runs them: scripts/pulumi.sh and scripts/local.sh on the dev stack, with
the background local cloud (not an emulator of the test's own)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from e2e_helpers import REPO


@pytest.fixture
def clone(tmp_path: Path):
    """The tracked files of the repository in a fresh folder, sharing the venv and the built tools."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            target.write_bytes((REPO / name).read_bytes())
            target.chmod((REPO / name).stat().st_mode)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / ".local").mkdir()
    for tool in ("bin", "node_modules", "package.json", "package-lock.json"):  # installed tools, not run output
        if (REPO / ".local" / tool).exists():
            (tmp_path / ".local" / tool).symlink_to(REPO / ".local" / tool)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIB_")}
    yield tmp_path, env
    subprocess.run(["bash", "scripts/pulumi.sh", "cloud", "stop"], cwd=tmp_path, env=env, capture_output=True)


def run(clone, *args: str) -> subprocess.CompletedProcess:
    folder, env = clone
    done = subprocess.run(["bash", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout[-5000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_main_job_then_a_customizer_change_then_destroy(clone):
    folder, _ = clone
    first = run(clone, "scripts/local.sh", "--json")
    # --json: stdout is the outputs alone (a program reads it), the progress of `up` is on stderr.
    assert "ubuntu-2204" in json.loads(first.stdout) and "created" in first.stderr

    stack_file = folder / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["aib-images:images"]["ubuntu-2204"]["template"]["properties"]["customize"][1]["inline"].append(
        "sudo apt-get install -y curl")
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    preview = run(clone, "scripts/pulumi.sh", "preview", "--stack", "dev", "--diff", "--non-interactive")
    # A new revision: the new template is created beside the old one, which is deleted after the new build.
    assert "+ azure-native:virtualmachineimages:VirtualMachineImageTemplate: (create)" in preview.stdout
    assert "- azure-native:virtualmachineimages:VirtualMachineImageTemplate: (delete)" in preview.stdout
    run(clone, "scripts/pulumi.sh", "up", "--stack", "dev", "--yes", "--non-interactive")
    no_op = run(clone, "scripts/pulumi.sh", "up", "--stack", "dev", "--yes", "--non-interactive")
    summary = no_op.stdout[no_op.stdout.rfind("Resources:"):]
    assert "unchanged" in summary and "to " not in summary.replace("unchanged", ""), summary
    # The dev stack's VHD lives only in the template's staging storage: destroy refuses to lose it, and says how to
    # accept the loss, which then works.
    refused = subprocess.run(["bash", "scripts/pulumi.sh", "destroy", "--stack", "dev", "--yes", "--non-interactive"],
                             cwd=folder, env=clone[1], capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "REFUSING TO DELETE" in refused.stdout
    opt_in = "aib-images:images.ubuntu-2204.allowVhdLossOnDelete"
    # Through scripts/pulumi.sh, so the refusal names that, with the stack (a bare `pulumi` reaches no local backend).
    assert f"`bash scripts/pulumi.sh config set --stack dev --path '{opt_in}' true`" in refused.stdout
    run(clone, "scripts/pulumi.sh", "config", "set", "--stack", "dev", "--path", opt_in, "true")
    run(clone, "scripts/pulumi.sh", "up", "--stack", "dev", "--yes", "--non-interactive")
    run(clone, "scripts/pulumi.sh", "destroy", "--stack", "dev", "--yes", "--non-interactive")
    assert (folder / ".local" / "cloud" / "emulator.json").exists(), "the cloud kept its state on disk"
    written = [p for p in (folder / ".local").rglob("*") if p.is_file() and not p.is_symlink()
               and not str(p.relative_to(folder / ".local")).startswith(("bin", "node_modules", "package"))]
    assert written and all(p.stat().st_mode & 0o077 == 0 for p in written), \
        [str(p) for p in written if p.stat().st_mode & 0o077]
