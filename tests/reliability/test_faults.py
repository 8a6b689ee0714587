"""Faults against the emulator, through the real stack program (component + providers + emulator together).

Each scenario checks the end state Azure would hold afterwards (the emulator's own record): every build produced its
artifacts or failed with a clear message, exactly one run per template (unless the service itself refused a run),
nothing left running, nothing lost. Provider-level fault handling is covered in tests/integration/test_build_run.py.
"""

from __future__ import annotations

import pytest

from components.build_run import ImageBuildProvider, ImageBuildStartProvider
from components.build_run import inputs as build_inputs
from components.emulator import Faults

from reliability_helpers import local_run, project, settled, succeeded_once_each


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


def test_deadline_exceeded_with_a_long_canceling_cancels_and_says_so(tmp_path, monkeypatch):
    # buildTimeoutInMinutes 6 minus a margin of -5.99 min: the provider's deadline is 0.6 s, mid-build. Canceling
    # then lasts 6 status reads before the service reports Canceled.
    monkeypatch.setitem(build_inputs.DEFAULTS, "deadline_margin_minutes", -5.99)

    def edit(config):
        for image in config["aib-images:images"].values():
            image["template"]["properties"]["buildTimeoutInMinutes"] = 6

    proj = project(tmp_path / "project", 1, edit=edit)
    run = local_run(proj, tmp_path / "state", faults=Faults(cancel_polls=6))
    assert run.code == 1
    assert "exceeded the provider's deadline" in run.stderr and "the build was canceled" in run.stderr
    (template,) = run.templates().values()
    assert template["runs"] == 1 and template["last"]["runState"] == "Canceled"
    settled(run)


class _EngineDied(Exception):
    pass


def test_run_interrupted_while_waiting_is_resumed_without_a_second_build(tmp_path, monkeypatch):
    proj = project(tmp_path / "project", 2)
    state = tmp_path / "state"

    def die(self, props):
        raise _EngineDied("the engine was interrupted while waiting")

    with monkeypatch.context() as m:
        m.setattr(ImageBuildProvider, "create", die)
        first = local_run(proj, state)
    assert first.code == 1 and "interrupted" in first.stderr
    started = {n: t["runs"] for n, t in first.templates().items()}
    assert sorted(started.values()) == [1, 1]  # both builds are under way in "Azure"

    resumed = local_run(proj, state)
    succeeded_once_each(resumed)
    assert resumed.changes().get("ImageBuildStart.same") == 2  # the recorded starts were kept, not redone
    assert not any(k.endswith(".replace") for k in resumed.changes())


def test_run_interrupted_after_posting_the_run_adopts_it(tmp_path, monkeypatch):
    """The POST went out but the engine died before recording the start: the next run adopts the running build."""
    proj = project(tmp_path / "project", 1)
    state = tmp_path / "state"
    original = ImageBuildStartProvider.create

    def post_then_die(self, props):
        original(self, props)
        raise _EngineDied("the engine was interrupted after starting the build")

    with monkeypatch.context() as m:
        m.setattr(ImageBuildStartProvider, "create", post_then_die)
        first = local_run(proj, state)
    assert first.code == 1
    resumed = local_run(proj, state)
    succeeded_once_each(resumed)
    assert resumed.changes().get("ImageBuildStart.create") == 1
