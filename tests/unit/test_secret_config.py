"""Secret config through every offline verb (issue 23): a stack that follows the README's own advice,
`pulumi config set --secret --path 'aib-images:images.<img>.template.properties.customize[N].scriptUri' URL`, holds
`scriptUri: {secure: v1:...}` in its file. validate, render, synth, preflight --local and diagnose read that file
without the passphrase: each treats the value as an opaque secret of the field's type (never decrypting it), and what
they print shows `[secret]`, never the ciphertext. They exited 2 with "Input should be a valid string (got {'secure':
...})" before."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.ops.cli import Env, main
from components.offline.program import pulumi_config
from components.model.secure import SECRET, SECRET_URI, has_secure, opaque, unmask
from components.model.stack import parse_stack_config
from tests.conftest import ROOT

CIPHERTEXT = "v1:Zm9vYmFyYmF6:dGhpcyBpcyBub3QgcmVhbGx5IGVuY3J5cHRlZA=="
SAS = {"secure": CIPHERTEXT}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The dev stack with its remote script URL set the README's way (a secret by --path), and a secret nameKey."""
    root = tmp_path_factory.mktemp("secret-project")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("scripts", "files"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    image = next(iter(doc["config"]["aib-images:images"].values()))
    steps = image["template"]["properties"]["customize"]
    step = next(s for s in steps if s.get("type") == "Shell" and "inline" in s)
    step.pop("inline")
    step["scriptUri"] = SAS
    step["sha256Checksum"] = "0" * 64
    doc["config"]["aib-images:nameKey"] = {"secure": CIPHERTEXT}
    (root / "stacks" / "Pulumi.secret.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def run(project: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, project_dir=project))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [
    ["validate", "stacks/Pulumi.secret.yaml"], ["render", "--stack", "secret"], ["render", "stacks/Pulumi.secret.yaml"],
    ["synth", "--stack", "secret"], ["synth", "--stack", "secret", "--json"],
    ["synth", "--stack", "secret", "--show-secrets"]])
def test_offline_verbs_accept_a_secret_set_by_path(project, argv, monkeypatch):
    monkeypatch.chdir(project)
    code, out, err = run(project, *argv)
    assert code == 0, err
    assert CIPHERTEXT not in out + err and "secure" not in out + err
    if argv[0] != "validate":
        assert SECRET in out and SECRET_URI not in out  # the placeholder is shown as Pulumi shows a secret


def test_render_shows_the_secret_step_as_secret(project, monkeypatch):
    monkeypatch.chdir(project)
    code, out, err = run(project, "render", "--stack", "secret")
    assert code == 0, err
    steps = json.loads(out)["properties"]["customize"]
    assert [s["scriptUri"] for s in steps if s.get("sha256Checksum") == "0" * 64] == [SECRET]


def test_preflight_and_diagnose_read_the_stack_past_its_secrets(project):
    """Both verbs (and their --local forms) read the stack through `load_target` first, where they exited 2; the
    subscription still comes from the ids the stack names (no local cloud is started here)."""
    from components.ops.diagnose.target import load_target

    target = load_target(project, "secret")
    assert target.subscription_id == "00000000-0000-0000-0000-000000000000"
    assert target.stack.name_key == SECRET


def test_nested_and_top_level_secrets_become_placeholders_of_their_type():
    config = {"nameKey": {"secure": CIPHERTEXT},
              "images": {"a": {"template": {"properties": {"customize": [
                  {"scriptUri": SAS, "inline": None},
                  {"inline": ["echo ok", {"secure": CIPHERTEXT}]}]}}}}}
    out = opaque(config)
    assert out["nameKey"] == SECRET
    steps = out["images"]["a"]["template"]["properties"]["customize"]
    assert steps[0]["scriptUri"] == SECRET_URI and steps[1]["inline"] == ["echo ok", SECRET]
    assert not has_secure(out) and has_secure(config)
    assert unmask(out)["images"]["a"]["template"]["properties"]["customize"][0]["scriptUri"] == SECRET
    assert opaque({"secure": 1}) == {"secure": 1}  # not what `config set --secret` writes: left to the model


def test_a_nested_secret_marks_its_top_level_key_secret_as_the_engine_does():
    flat, secrets = pulumi_config("aib-images", {"images": {"a": {"x": SAS}}, "location": "westeurope"})
    assert secrets == ["aib-images:images"]
    assert CIPHERTEXT not in flat["aib-images:images"]


def test_parse_stack_config_accepts_the_secret_uri():
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    keys = {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("aib-images:")}
    image = next(iter(keys["images"].values()))
    image["template"]["properties"]["customize"][0]["scriptUri"] = SAS
    stack = parse_stack_config(keys)
    step = next(iter(stack.images.values())).template.properties.customize[0]
    assert getattr(step, "script_uri") == SECRET_URI
