"""The local run end to end: the real stack program on the emulator over HTTPS, builds included."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.ops.cli import Env, main
from components.emulator import Faults
from components.local import run_local

ROOT = Path(__file__).resolve().parents[2]


def project_with(tmp_path: Path, stack: str, edit=None) -> Path:
    """A copy of the project's program and one stack file, optionally edited, in tmp_path."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    for folder in ("scripts/linux", "files"):  # repository files the dev stack uploads
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    if edit:
        edit(doc["config"])
    (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def run(project: Path, stack: str, **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_local(stack, project_dir=project, as_json=True, stdout=out, stderr=err, phase_seconds=0.2, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack,image", [("dev", "ubuntu-2204"), ("prod", "win2022")])
def test_stack_builds_and_exports_its_artifacts(stack, image):
    code, out, err = run(ROOT, stack)
    assert code == 0, err
    outputs = json.loads(out)[image]
    assert outputs["runState"] == "Succeeded"
    assert "/images/" in outputs["imageVersionId"] and "/versions/" in outputs["imageVersionId"]
    assert outputs["templateName"].startswith(image + "-")
    # Progress of the build was shown while it ran.
    assert f"[aib] {outputs['templateName']}: Customizing" in err


def test_dev_vhd_output_has_its_uri():
    code, out, err = run(ROOT, "dev")
    assert code == 0, err
    run_outputs = json.loads(out)["ubuntu-2204"]["runOutputs"]
    assert run_outputs["ubuntu-2204-vhd"]["artifact_uri"].endswith(".vhd")


def test_failed_customizer_exits_non_zero_with_phase_and_log(tmp_path):
    code, out, err = run(ROOT, "dev", faults=Faults(failing_customizers={"packages"}))
    assert code == 1
    assert out == ""
    assert "Customizing" in err and "customization.log" in err


# The program of a project whose component has a least-privilege mistake: the gallery writer role lacks
# versions/write. It runs in the real engine's program process, so the mistake is made there, not in this one.
BROKEN_ROLES_MAIN = """
import dataclasses, runpy
import components.plan.roles as roles
original = roles.grant_gallery_image_writer
roles.grant_gallery_image_writer = lambda gallery_image_id: dataclasses.replace(
    original(gallery_image_id), actions=roles.GALLERY_READ)
runpy.run_path("real_main.py", run_name="__main__")
"""


def test_a_missing_role_fails_the_build_locally(tmp_path):
    """A least-privilege mistake in the component shows up as the service's 'Not authorized' text."""
    project = project_with(tmp_path, "dev")
    (project / "real_main.py").write_text((ROOT / "__main__.py").read_text())
    (project / "__main__.py").write_text(BROKEN_ROLES_MAIN)
    code, out, err = run(project, "dev")
    assert code == 1
    assert "Not authorized to access the resource" in err


def test_bad_stack_config_is_exit_2_with_paths(tmp_path):
    def break_it(config):
        config["aib-images:images"]["ubuntu-2204"]["template"]["properties"]["buildTimeoutInMinutes"] = 3

    project = project_with(tmp_path, "dev", break_it)
    out, err = io.StringIO(), io.StringIO()
    code = main(["local", "--stack", "dev"], Env(stdout=out, stderr=err, project_dir=project))
    assert code == 2
    assert "images.ubuntu-2204.template.properties.buildTimeoutInMinutes" in err.getvalue()
    assert "Traceback" not in err.getvalue()
