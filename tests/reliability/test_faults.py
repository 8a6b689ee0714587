"""Faults against the emulator, through the real stack program under the real Pulumi CLI (component, providers, engine
and emulator together).

Each scenario checks the end state Azure would hold afterwards (the emulator's own record): every build produced its
artifacts or failed with a clear message, exactly one run per template (unless the service itself refused a run),
nothing left running, nothing lost. Provider-level fault handling is covered in tests/integration/test_build_run.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from components.emulator import Faults

from reliability_helpers import cancel, interrupted_run, local_run, project, settled, succeeded_once_each

RUN_POST = re.compile(r"/imageTemplates/[^/]+/run$", re.I)


@pytest.fixture
def two_images(tmp_path):
    return project(tmp_path / "project", 2)


def test_throttling_storm_on_every_image_builder_call(two_images, tmp_path):
    # 30% of all Image Builder calls answer 429 + Retry-After (0 s: azure-core then backs off on its own).
    faults = Faults(seed=3, throttle_rate=0.3, throttle_retry_after=0)
    run = local_run(two_images, tmp_path / "state", faults=faults)
    succeeded_once_each(run)
    assert faults.injected >= 10


def test_throttled_and_dropped_run_posts_never_start_a_second_run(two_images, tmp_path):
    """azure-core does not retry a POST after a 429 or a dropped connection: the provider re-reads lastRunStatus
    before posting again, so each template still gets exactly one run."""
    faults = Faults(seed=1, throttle_rate=0.5, drop_rate=0.5, paths=(r"/imageTemplates/[^/]+/run$",),
                    methods=frozenset({"POST"}), max_transport_faults=3, throttle_retry_after=0)
    run = local_run(two_images, tmp_path / "state", faults=faults)
    succeeded_once_each(run)
    assert faults.injected == 3


def test_server_errors_and_dropped_connections(two_images, tmp_path):
    faults = Faults(seed=5, server_error_rate=0.1, drop_rate=0.05, methods=frozenset({"GET", "PUT", "DELETE"}),
                    max_transport_faults=10)
    run = local_run(two_images, tmp_path / "state", faults=faults)
    succeeded_once_each(run)
    assert faults.injected >= 5


def test_role_propagation_window_is_waited_out(tmp_path):
    # Fresh role assignments grant nothing for 1.5 s: the run is refused ("Not authorized") or fails, and the provider
    # starts it again until the grants propagate. With `staging: service` the template's creation needs no grant,
    # and rolePropagationSeconds: 0 turns the pipeline's own wait off, so the provider's retry is what is tested.
    def edit(config):
        for image in config["aib-images:images"].values():
            image["staging"] = "service"
            image["rolePropagationSeconds"] = 0

    proj = project(tmp_path / "project", 2, edit=edit)
    run = local_run(proj, tmp_path / "state", faults=Faults(auth_propagation_seconds=1.5))
    assert run.code == 0, run.stderr[-3000:]
    for image, out in run.outputs.items():
        assert out["runState"] == "Succeeded" and "/versions/" in out["imageVersionId"]
        template = run.templates()[out["templateName"]]
        # Refused runs end at once; the retries are bounded by the window over the provider's back-off.
        assert 1 <= template["runs"] <= 10 and template["last"]["runState"] == "Succeeded"
    assert "not authorized yet" in run.stderr
    settled(run)


def test_dedicated_staging_group_waits_for_its_contributor_grant(tmp_path):
    # The service checks the identity's Contributor on a dedicated staging group when the template's creation ends,
    # and azure-native does not retry that PUT: the pipeline's RoleSettle waits out the propagation window first.
    proj = project(tmp_path / "project", 2)
    run = local_run(proj, tmp_path / "state", faults=Faults(auth_propagation_seconds=1.5))
    assert run.code == 0, run.stderr[-3000:]
    for out in run.outputs.values():
        assert out["runState"] == "Succeeded"
        assert run.templates()[out["templateName"]]["runs"] == 1  # no refused run: the grants were in effect
    assert "not authorized yet" not in run.stderr
    settled(run)


def test_without_the_wait_a_dedicated_staging_group_fails_creation(tmp_path):
    def edit(config):
        for image in config["aib-images:images"].values():
            image["rolePropagationSeconds"] = 0

    proj = project(tmp_path / "project", 1, edit=edit)
    run = local_run(proj, tmp_path / "state", faults=Faults(auth_propagation_seconds=1.5))
    assert run.code == 1 and "Not authorized to access the resource" in run.stderr


def test_a_build_failing_in_customization_fails_clearly_and_settles(tmp_path):
    proj = project(tmp_path / "project", 1)
    run = local_run(proj, tmp_path / "state", faults=Faults(failing_customizers={"packages"}))
    assert run.code == 1 and run.stdout == ""
    assert "img-0000-" in run.stderr and "Customizing" in run.stderr and "customization.log" in run.stderr
    (template,) = run.templates().values()
    assert template["runs"] == 1 and template["last"]["runState"] == "Failed"
    settled(run)


SHORT_DEADLINE = """\
# The stack program with the provider's deadline cut to 0.6 s (build_timeout_minutes 0.01 + margin 0) for every
# build, while the templates keep their own buildTimeoutInMinutes (so the service does not time out first).
import dataclasses
import runpy
from pathlib import Path

import components.declare.pipeline as pipeline

_build_args = pipeline.build_args


def build_args(*args, **kwargs):
    return dataclasses.replace(_build_args(*args, **kwargs), build_timeout_minutes=0.01, deadline_margin_minutes=0)


pipeline.build_args = build_args
runpy.run_path(str(Path(__file__).with_name("stack_program.py")), run_name="__main__")
"""


def wrap_program(proj: Path, wrapper: str) -> None:
    """The project's `__main__.py` becomes `stack_program.py`, run unchanged by a `__main__.py` that patches first."""
    shutil.move(proj / "__main__.py", proj / "stack_program.py")
    (proj / "__main__.py").write_text(wrapper)


def test_deadline_exceeded_with_a_long_canceling_cancels_and_says_so(tmp_path):
    # The provider's deadline is 0.6 s after the run's start, mid-build (the program passes it to the ImageBuild
    # resource, which runs in the provider host: a wrapper __main__.py sets it, as a user's program could). Canceling
    # then lasts 6 status reads before the service reports Canceled.
    proj = project(tmp_path / "project", 1)
    wrap_program(proj, SHORT_DEADLINE)
    run = local_run(proj, tmp_path / "state", faults=Faults(cancel_polls=6))
    assert run.code == 1
    assert "exceeded the provider's deadline" in run.stderr and "the build was canceled" in run.stderr
    (template,) = run.templates().values()
    assert template["runs"] == 1 and template["last"]["runState"] == "Canceled"
    settled(run)


def test_run_interrupted_while_waiting_is_resumed_without_a_second_build(tmp_path):
    """The engine (CLI, program, provider hosts) is killed while both builds run: after `pulumi cancel` (the dead
    run's lock), the next `pulumi up` keeps the recorded starts and waits for the builds already running."""
    proj = project(tmp_path / "project", 2)
    state = tmp_path / "state"

    def both_customizing(output: str) -> bool:
        return len(set(re.findall(r"\[aib\] (img-\d+)-\w+: Customizing", output))) == 2

    first = interrupted_run(proj, state, phase_seconds=0.5, on_output=both_customizing)
    assert first.code != 0
    started = {n: t["runs"] for n, t in first.templates().items()}
    assert sorted(started.values()) == [1, 1]  # both builds are under way in "Azure"
    assert {t["last"]["runState"] for t in first.templates().values()} == {"Running"}

    cancel(first)
    resumed = local_run(proj, state)
    succeeded_once_each(resumed)
    assert "pending operations" in resumed.stderr  # the CLI saw the interrupted waits
    changes = resumed.changes()
    assert changes.get("ImageBuildStart.same") == 2, changes  # the recorded starts were kept, not redone
    assert changes.get("ImageBuild.create") == 2, changes  # the interrupted waits, done again
    assert not any(k.endswith(".replace") for k in changes), changes


def test_run_interrupted_after_posting_the_run_adopts_it(tmp_path):
    """The POST went out but the engine died before recording the start (killed while the service answered it):
    the next run adopts the running build."""
    proj = project(tmp_path / "project", 1)
    state = tmp_path / "state"
    first = interrupted_run(proj, state, phase_seconds=0.5,
                            on_request=lambda method, path, status: method == "POST" and bool(RUN_POST.search(path))
                            and status < 300)
    assert first.code != 0
    (template,) = first.templates().values()
    assert template["runs"] == 1
    # The start was never recorded (its logical name carries the template revision).
    assert not re.search(r"ImageBuildStart img-0000-[0-9a-f]{10}-run created", first.stderr)

    cancel(first)
    resumed = local_run(proj, state)
    assert re.search(r"ImageBuildStart img-0000-[0-9a-f]{10}-run created", resumed.stderr), "the pattern above fits"
    succeeded_once_each(resumed)  # one run: adopted, not started again
    assert "pending operations" in resumed.stderr  # the CLI saw the interrupted start
    assert resumed.changes().get("ImageBuildStart.create") == 1
