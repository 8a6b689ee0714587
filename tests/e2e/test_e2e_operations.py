"""What happens around a build under the real engine: interruption, failure, secrets, another project."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from components.emulator import Faults
from e2e_helpers import REPO, e2e_config, minimal_image


def _checkpoint(path) -> dict:
    try:
        return json.loads(path.read_text()).get("checkpoint") or {}
    except (OSError, ValueError):  # being written at this moment: look again
        return {}


def wait_while_waiting_for_the_build(stack, timeout: float = 120) -> None:
    """Return once the engine's checkpoint records the build wait as a pending create and the emulator has the run
    going: the moment a Ctrl-C or a job timeout usually hits (the build takes several 1 s phases)."""
    checkpoints = stack.state / "backend" / ".pulumi" / "stacks"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [op for path in checkpoints.rglob(f"{stack.stack}.json")
                   for op in _checkpoint(path).get("latest", {}).get("pending_operations") or []]
        if any(re.search(r"ImageBuild::one-[0-9a-f]{10}-build$", op["resource"]["urn"]) for op in pending):
            with stack.cloud.state.lock:
                assert sum(stack.cloud.state.runs.values()) == 1, "the wait starts after the build was posted"
            return
        time.sleep(0.05)
    raise AssertionError("the engine never recorded the build wait as pending")


def test_an_up_killed_mid_build_is_resumed_by_the_runbook_without_a_second_build(local_stack):
    """Ctrl-C or a job timeout mid-build: `pulumi cancel` (the lock), then `pulumi up` adopts the running build."""
    stack = local_stack(e2e_config({"one": minimal_image("one")}), phase=1.0)
    up = stack.start("up", "--yes", "--non-interactive", "--skip-preview")
    wait_while_waiting_for_the_build(stack)
    os.killpg(up.pid, signal.SIGKILL)
    up.wait()

    locked = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False)
    assert locked.returncode != 0 and "pulumi cancel" in locked.stdout + locked.stderr
    stack.pulumi("cancel", "--yes", "--non-interactive")
    resumed = stack.up()
    assert "pending operations" in resumed.stdout
    [name] = stack.templates()
    assert stack.runs(name) == 1, "the running build was adopted, not started again"
    assert stack.outputs()["one"]["runState"] == "Succeeded"


def test_a_failed_build_is_built_again_by_the_next_up_as_its_message_says(local_stack):
    faults = Faults(failing_customizers={"hello"})
    stack = local_stack(e2e_config({"one": minimal_image("one")}), faults=faults)
    failed = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "Run `pulumi up` again" in failed.stdout and "customization.log" in failed.stdout
    [name] = stack.templates()
    assert stack.runs(name) == 1

    faults.failing_customizers = set()  # the cause is fixed (a flaky mirror, say)
    stack.up()
    assert stack.runs(name) == 2
    assert stack.outputs()["one"]["runState"] == "Succeeded"


def test_secret_config_and_inline_commands_never_reach_plaintext_state(local_stack):
    secret_line = "echo token-6f1d9c2e-never-in-state"
    image = minimal_image("one")
    image["template"]["properties"]["customize"][0]["inline"] = [secret_line]
    stack = local_stack(e2e_config({"one": image}))
    sas = "https://example.blob.core.windows.net/s/setup.sh?sv=2024&sig=c2VjcmV0LXNpZ25hdHVyZQ"
    stack.pulumi("config", "set", "--secret", "--path",
                 "aib-images:images.one.template.properties.customize[1].scriptUri", sas)
    stack.pulumi("config", "set", "--path", "aib-images:images.one.template.properties.customize[1].type", "Shell")
    stack.pulumi("config", "set", "--path", "aib-images:images.one.template.properties.customize[1].name", "sas")
    stack.pulumi("config", "set", "--path",
                 "aib-images:images.one.template.properties.customize[1].sha256Checksum", "0" * 64)
    assert "c2VjcmV0LXNpZ25hdHVyZQ" not in stack.stack_file.read_text(), "the stack file holds it encrypted"
    stack.up()

    exported = stack.pulumi("stack", "export").stdout
    assert "c2VjcmV0LXNpZ25hdHVyZQ" not in exported
    assert "token-6f1d9c2e" not in exported
    assert "token-6f1d9c2e" in json.dumps(stack.templates()), "the template Azure holds has the command"
    revealed = stack.pulumi("stack", "export", "--show-secrets").stdout
    assert "c2VjcmV0LXNpZ25hdHVyZQ" in revealed and "token-6f1d9c2e" in revealed


def test_plain_config_is_not_recorded_as_the_dynamic_provider_inputs(local_stack):
    """The engine hands the default dynamic provider the whole stack config, which state then records in plaintext:
    the program gives its dynamic resources an explicit provider with no inputs instead."""
    stack = local_stack(e2e_config({"one": minimal_image("one")}))  # inline "echo hello", plain config
    stack.up()
    exported = stack.pulumi("stack", "export").stdout
    assert "echo hello" not in exported
    providers = [r for r in stack.resources() if r["type"] == "pulumi:providers:pulumi-python"]
    assert [p["urn"].rsplit("::", 1)[-1] for p in providers] == ["aib-dynamic-resources"]
    assert not providers[0].get("inputs")


def test_the_platform_example_deploys_and_destroys_as_its_own_project(tmp_path, local_stack):
    """examples/platform consumes the package as a dependency, and its dynamic providers import from its own folder
    (the provider host runs there), under the real engine."""
    cloud = local_stack(e2e_config({"one": minimal_image("one")}), name="cloud")  # its emulator and backend
    project = tmp_path / "platform"
    shutil.copytree(REPO / "examples" / "platform", project)
    (project / "Pulumi.yaml").write_text((project / "Pulumi.yaml").read_text().replace(
        "../../.venv", str(REPO / ".venv")))

    def pulumi(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "components.local.engine", *args, "--stack", "dev"],
                              cwd=project, env=cloud.env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        return done

    up = pulumi("up", "--yes", "--non-interactive", "--skip-preview")
    assert "ModuleNotFoundError" not in up.stdout
    outputs = json.loads(pulumi("stack", "output", "--json").stdout)
    assert "/versions/" in outputs["imageVersionId"]
    scale_set = cloud.cloud.state.resource(outputs["scaleSetId"])
    assert scale_set["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["id"] == \
        outputs["imageVersionId"], "the scale set runs the version this stack built"
    pulumi("destroy", "--yes", "--non-interactive", "--skip-preview")
    assert cloud.cloud.state.resource(outputs["scaleSetId"]) is None
    # The group (it holds the kept gallery) outlived the destroy: the next up adopts it instead of failing with
    # "cannot create already existing resource".
    again = pulumi("up", "--yes", "--non-interactive", "--skip-preview")
    assert "cannot create already existing" not in again.stdout
