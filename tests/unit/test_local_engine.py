"""What `scripts/pulumi.sh` hands the real CLI: a local run never sees a real Azure login or a real passphrase, and the
stand-in plugin is on its PATH only there."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.local.engine import PASSPHRASE, PLUGINS, cli_environment, option_value, verb_of


def test_nothing_of_a_real_deployment_reaches_a_local_run(tmp_path: Path):
    shell = {"PATH": "/usr/bin", "ARM_CLIENT_ID": "real-app", "ARM_USE_OIDC": "true", "AZURE_CLIENT_SECRET": "s",
             "PULUMI_CONFIG_PASSPHRASE": "the real one", "PULUMI_CONFIG_PASSPHRASE_FILE": "/secrets/p"}
    env = cli_environment({"AIB_ARM_ENDPOINT": "https://127.0.0.1:1"}, local=tmp_path, base=shell)
    assert not any(k in env for k in ("ARM_CLIENT_ID", "ARM_USE_OIDC", "AZURE_CLIENT_SECRET",
                                      "PULUMI_CONFIG_PASSPHRASE_FILE"))
    assert env["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'backend'}"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert str(PLUGINS) in env["PATH"].split(":") and env["AIB_ARM_ENDPOINT"] == "https://127.0.0.1:1"
    assert str(PLUGINS) not in shell["PATH"]


def test_the_verb_and_options_are_read_as_the_cli_reads_them():
    args = ["-C", "examples/platform", "--stack", "dev", "up", "--yes"]
    assert verb_of(args) == "up"
    assert option_value(args, "-s", "--stack") == "dev"
    assert option_value(["preview", "--stack=prod"], "-s", "--stack") == "prod"
    assert verb_of(["--non-interactive", "stack", "export"]) == "stack"


def _fake_pulumi(tmp_path: Path) -> str:
    """A `pulumi` that knows no stack (`stack select` fails) and records every other call."""
    script = tmp_path / "pulumi"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'calls'}\n[ \"$1 $2\" = 'stack select' ] && exit 255\nexit 0\n")
    script.chmod(0o755)
    return str(script)


def _project(tmp_path: Path, *stacks: str) -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: aib-images\nruntime: python\nstackConfigDir: stacks\n")
    for stack in stacks:
        (project / "stacks" / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    return project


def test_a_mistyped_stack_is_refused_not_created(tmp_path: Path):
    from components.local.engine import LocalEngineError, ensure_stack

    project = _project(tmp_path, "dev", "prod")
    with pytest.raises(LocalEngineError, match=r"no stack 'dve'.*known: dev, prod.*stack init dve"):
        ensure_stack(_fake_pulumi(tmp_path), "dve", project, {"PULUMI_BACKEND_URL": "file://x"})
    assert "stack init" not in (tmp_path / "calls").read_text()
    assert sorted(p.name for p in (project / "stacks").iterdir()) == ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]


def test_a_stack_with_its_file_or_a_project_without_stack_files_is_created(tmp_path: Path):
    from components.local.engine import ensure_stack

    ensure_stack(_fake_pulumi(tmp_path), "dev", _project(tmp_path, "dev"), {"PULUMI_BACKEND_URL": "file://x"})
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    ensure_stack(_fake_pulumi(tmp_path), "e2e", bare, {"PULUMI_BACKEND_URL": "file://x"})
    assert [line.split()[:3] for line in (tmp_path / "calls").read_text().splitlines() if "init" in line] == [
        ["stack", "init", "dev"], ["stack", "init", "e2e"]]


def test_a_stack_file_that_is_not_yaml_is_one_line_naming_file_and_line(tmp_path: Path):
    from components.local.engine import LocalEngineError, ensure_stack, stack_facts

    project = _project(tmp_path, "dev")
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  aib-images:location: westeurope\n  bad: [x\n  other: 1\n")
    assert stack_facts(project, "dev", tmp_path / "local") is None, "the cloud starts; the error comes once, below"
    with pytest.raises(LocalEngineError) as raised:
        ensure_stack(_fake_pulumi(tmp_path), "dev", project, {"PULUMI_BACKEND_URL": "file://x"})
    assert str(raised.value).startswith("stacks/Pulumi.dev.yaml: not valid YAML (line 4)"), raised.value


def _recording_pulumi(tmp_path: Path) -> str:
    """A `pulumi` that knows every stack and records each call's arguments."""
    script = tmp_path / "pulumi"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'calls'}\nexit 0\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("manifest, client", [
    ("name: p\nruntime: python\n", True),
    ("name: p\nruntime:\n  name: python\n  options: {virtualenv: venv}\n", True),
    ("name: p\nruntime: yaml\n", False),  # its own language plugin; --client would hand it to the Python host
])
def test_only_a_python_program_is_given_the_local_python_host(tmp_path: Path, monkeypatch, manifest: str,
                                                                client: bool):
    from components.local import engine

    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(manifest)
    monkeypatch.setattr(engine, "pulumi_executable", lambda: _recording_pulumi(tmp_path))
    monkeypatch.setattr(engine, "cloud_environment", lambda *_a, **_k: {"AIB_ARM_ENDPOINT": "https://127.0.0.1:1"})
    monkeypatch.setattr(engine, "seed_existing", lambda *_a: [])
    assert engine.run(["up", "--stack", "dev", "--yes", "-C", str(project)], local=tmp_path / "local") == 0
    up = [line for line in (tmp_path / "calls").read_text().splitlines() if line.startswith("up ")]
    assert len(up) == 1 and ("--client=127.0.0.1:" in up[0]) is client, up


def _image_stack(tmp_path: Path, storage: bool) -> Path:
    """A project of the dev stack's first image (`bench.stacks.project`); with `storage`, its customizers that take
    repository files (which go to a storage account), else without them."""
    from bench.stacks import project

    def without_repository_files(config: dict) -> None:
        for image in config["aib-images:images"].values():
            properties = image["template"]["properties"]
            properties["customize"] = [c for c in properties["customize"] if "script" not in c and "sourceFile" not in c]

    return project(tmp_path / "project", 1, stack="dev", edit=None if storage else without_repository_files)


def test_what_a_run_reads_from_its_stack_is_read_once_until_the_stack_or_the_code_changes(tmp_path: Path, monkeypatch):
    """Every command needs the stack's storage accounts and existing resources before the CLI starts; validating the
    stack for them built the spec models each time (0.4 s a command). The second command reads them back; an edit to
    the stack file, or to the code that reads it, reads the stack again."""
    from components.local import engine

    project = _image_stack(tmp_path, storage=True)
    local = tmp_path / "local"
    reads: list[str] = []
    real = engine.read_stack_spec
    monkeypatch.setattr(engine, "read_stack_spec", lambda *a: reads.append("read") or real(*a))
    first = engine.stack_facts(project, "dev", local)
    assert first is not None and first["accounts"], first
    assert engine.stack_facts(project, "dev", local) == json.loads(json.dumps(first)) and reads == ["read"]
    _image_stack(tmp_path, storage=False)
    assert engine.stack_facts(project, "dev", local) == {"accounts": [], "seeds": []} and len(reads) == 2
    module = Path(engine.__file__).resolve().parents[1] / "local" / "existing.py"
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    try:
        engine.stack_facts(project, "dev", local)
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert len(reads) == 3


def test_bad_stack_config_is_never_kept_so_the_fix_is_read(tmp_path: Path):
    from components.local.engine import stack_facts

    project = _image_stack(tmp_path, storage=False)
    stack_path = project / "stacks" / "Pulumi.dev.yaml"
    good = stack_path.read_text()
    stack_path.write_text(good.replace("aib-images:location:", "aib-images:lcation:"))
    assert stack_facts(project, "dev", tmp_path / "local") is None
    stack_path.write_text(good)
    assert stack_facts(project, "dev", tmp_path / "local") == {"accounts": [], "seeds": []}
