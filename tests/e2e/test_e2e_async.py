"""`buildMode: start` under the real engine: `pulumi up` returns while the build runs, and a later `up` (or `refresh`
then `up`) collects the run and exports the image version id, without building again."""

from __future__ import annotations

import time

from e2e_helpers import LocalStack, e2e_config, minimal_image

#: Seconds per build phase: a minimal image's run (Queued, Building, one step, Distributing) lasts about 8 s, far
#: longer than the start of `pulumi up` takes to create the build resources.
PHASE = 2.0


def started_stack(local_stack) -> LocalStack:
    """A stack whose one image builds in `start` mode, after its first `up`."""
    image = minimal_image("web")
    image["buildMode"] = "start"
    stack = local_stack(e2e_config({"web": image}), phase=PHASE)
    stack.up()
    return stack


def run_state(stack: LocalStack) -> str:
    """The run's state in the emulator now (its timeline advances when asked, as on every request)."""
    stack.cloud.state.advance()
    (template,) = stack.templates().values()
    return template["body"]["properties"]["lastRunStatus"]["runState"]


def wait_for_the_run(stack: LocalStack, timeout: float = 60) -> None:
    until = time.monotonic() + timeout
    while run_state(stack) == "Running":
        assert time.monotonic() < until, "the emulator's build did not end"
        time.sleep(0.5)


def test_up_returns_while_the_build_runs_and_the_next_up_exports_the_version(local_stack):
    stack = started_stack(local_stack)
    assert run_state(stack) == "Running", "up returned before the build ended"
    outputs = stack.outputs()["web"]
    assert outputs["runState"] == "Running" and outputs.get("imageVersionId") is None

    wait_for_the_run(stack)
    stack.up()
    outputs = stack.outputs()["web"]
    assert outputs["runState"] == "Succeeded"
    assert "/galleries/gal_e2e/images/web/versions/" in outputs["imageVersionId"]
    assert stack.runs(stack.outputs()["web"]["templateName"]) == 1, "collected, not built again"


def test_refresh_collects_the_run_and_up_exports_it(local_stack):
    stack = started_stack(local_stack)
    wait_for_the_run(stack)
    stack.pulumi("refresh", "--yes", "--non-interactive", "--skip-preview")
    (build,) = stack.resources(":ImageBuild")
    assert build["outputs"]["run_state"] == "Succeeded"
    assert "/versions/" in build["outputs"]["image_version_id"]

    result = stack.up()
    assert "/versions/" in stack.outputs()["web"]["imageVersionId"], result.stdout[-2000:]
    assert stack.runs(stack.outputs()["web"]["templateName"]) == 1
