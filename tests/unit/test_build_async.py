"""build_mode `start` and errorHandling `abort` in the build providers, on a fake template (no engine, no HTTP).

`start`: create looks at the run once and returns with Running outputs; the next up's diff (a change once the run has
ended) and update, or a refresh's read, collect the outcome, each with quick reads only. `abort`: a failure's message
says the build VM was kept and what removes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from components.providers.build_run import BuildError, ImageBuildProvider
from components.providers.build_run import inputs
from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.progress import Progress
from components.providers.build_run.session import BuildSession
from pulumi.output import Unknown

START = dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(hours=3)
STAGING = "/subscriptions/s/resourceGroups/rg-staging-web"
VERSION_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web/versions/1.0.1"


class FakeTemplates:
    """One template whose last run the test moves along; counts reads, refuses sleeps."""

    def __init__(self, run_state: str = "Running", sub_state: str = "Customizing", message: str = "") -> None:
        self.run_state, self.sub_state, self.message = run_state, sub_state, message
        self.reads = 0
        self.after_read: list[tuple[str, str]] = []  # (run_state, sub_state) the next reads move to

    def end(self, run_state: str, sub_state: str = "Distributing", message: str = "") -> None:
        self.run_state, self.sub_state, self.message = run_state, sub_state, message

    def get(self, _rg: str, _name: str) -> SimpleNamespace:
        self.reads += 1
        last = SimpleNamespace(run_state=self.run_state, run_sub_state=self.sub_state, message=self.message,
                               start_time=START, end_time=None if self.run_state == "Running" else END)
        if self.after_read:
            self.end(*self.after_read.pop(0))
        return SimpleNamespace(properties=SimpleNamespace(last_run_status=last, exact_staging_resource_group=STAGING))

    def list_run_outputs(self, _rg: str, _name: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="web-sig", properties=SimpleNamespace(artifact_id=VERSION_ID, artifact_uri=None))]


class FakeProvider(ImageBuildProvider):
    """The real provider with its session on the fake template (and a clock that must never sleep in `start`)."""

    def __init__(self, templates: FakeTemplates, *, may_sleep: bool = False) -> None:
        super().__init__(progress=lambda _line: None)
        self.templates = templates
        self.may_sleep = may_sleep

    @contextlib.contextmanager
    def _session(self, settings: BuildSettings, *, quick: bool = False) -> Iterator[BuildSession]:
        yield BuildSession(settings, SimpleNamespace(virtual_machine_image_templates=self.templates),
                           Progress(settings.image_template_name, lambda _line: None), poll_seconds=5,
                           sleep=self._sleep, now=lambda: START + dt.timedelta(minutes=10), clock=lambda: 0.0)

    def _sleep(self, _seconds: float) -> None:
        assert self.may_sleep, "build_mode start must not wait"


def props(**over: Any) -> dict[str, Any]:
    return {"subscription_id": "s", "resource_group_name": "rg", "image_template_name": "web-0123456789",
            "run_output_names": ["web-sig"], "run_started_at": START.isoformat(), "build_mode": "start", **over}


def outs(result: Any) -> dict[str, Any]:
    """The outputs of a Create, Update or Read result (never None from these providers)."""
    assert result.outs is not None
    return result.outs


def started(templates: FakeTemplates) -> dict[str, Any]:
    """The state `create` records in build_mode start while the run is going."""
    return outs(FakeProvider(templates).create(props()))


def test_build_mode_must_be_wait_or_start_and_unknowns_are_skipped():
    failures = inputs.validate(props(build_mode="later"))
    assert [f.property for f in failures] == ["build_mode"]
    assert "must be one of ['wait', 'start'], but 'later' was provided" in failures[0].reason
    assert inputs.validate(props(build_mode=Unknown())) == []
    assert inputs.validate(props(on_customizer_error="keep"))[0].property == "on_customizer_error"


def test_start_mode_create_returns_at_once_with_the_run_still_running():
    templates = FakeTemplates()
    got = started(templates)
    assert got["run_state"] == "Running" and got["run_sub_state"] == "Customizing"
    assert got["image_version_id"] is None and got["run_outputs"] == {} and got["duration_seconds"] is None
    assert got["start_time"] == START.isoformat()
    assert templates.reads == 1


def test_start_mode_create_of_a_run_that_already_ended_collects_it():
    templates = FakeTemplates(run_state="Succeeded", sub_state="Distributing")
    got = started(templates)
    assert got["run_state"] == "Succeeded" and got["image_version_id"] == VERSION_ID


def test_diff_is_quiet_while_the_run_goes_on_and_a_change_once_it_ended():
    templates = FakeTemplates()
    olds = started(templates)
    provider = FakeProvider(templates)
    assert not provider.diff("id", olds, props()).changes
    templates.end("Succeeded")
    result = provider.diff("id", olds, props())
    assert result.changes and not result.replaces, "an update fills the outputs in; the build is not replaced"


def test_diff_of_collected_outputs_reads_nothing():
    templates = FakeTemplates(run_state="Succeeded")
    olds = started(templates)
    before = templates.reads
    assert not FakeProvider(templates).diff("id", olds, props()).changes
    assert templates.reads == before


def test_preview_with_an_unknown_run_replaces_without_reading():
    templates = FakeTemplates()
    olds = started(templates)
    before = templates.reads
    result = FakeProvider(templates).diff("id", olds, props(run_started_at=Unknown()))
    assert result.replaces == ["run_started_at"]
    assert templates.reads == before


def test_update_collects_the_outputs_of_a_run_that_succeeded():
    templates = FakeTemplates()
    olds = started(templates)
    templates.end("Succeeded")
    got = outs(FakeProvider(templates).update("id", olds, props()))
    assert got["run_state"] == "Succeeded" and got["image_version_id"] == VERSION_ID
    assert got["run_outputs"]["web-sig"]["artifact_id"] == VERSION_ID
    assert got["duration_seconds"] == 3 * 3600


def test_update_fails_with_the_build_error_when_the_run_failed():
    templates = FakeTemplates()
    olds = started(templates)
    templates.end("Failed", "Customizing", "customizer 'hello' failed")
    with pytest.raises(BuildError) as failure:
        FakeProvider(templates).update("id", olds, props())
    assert "failed in phase Customizing" in str(failure.value)
    assert "Run `pulumi up` again" in str(failure.value)


def test_switching_back_to_wait_with_running_outputs_waits_for_the_run():
    templates = FakeTemplates()
    olds = started(templates)
    templates.after_read = [("Succeeded", "Distributing")]
    got = outs(FakeProvider(templates, may_sleep=True).update("id", olds, props(build_mode="wait")))
    assert got["run_state"] == "Succeeded" and got["image_version_id"] == VERSION_ID


def test_refresh_collects_a_succeeded_run_and_keeps_the_inputs():
    templates = FakeTemplates()
    olds = started(templates)
    templates.end("Succeeded")
    result = FakeProvider(templates).read("id", olds)
    assert result.id == "id"
    assert outs(result)["image_version_id"] == VERSION_ID and outs(result)["build_mode"] == "start"


def test_refresh_records_a_failed_run_without_failing():
    templates = FakeTemplates()
    olds = started(templates)
    templates.end("Failed", "Customizing", "customizer 'hello' failed")
    got = outs(FakeProvider(templates).read("id", olds))
    assert got["run_state"] == "Failed" and got["message"] == "customizer 'hello' failed"
    assert got["image_version_id"] is None and STAGING in got["log_location"]


def test_refresh_of_a_running_build_changes_nothing():
    templates = FakeTemplates()
    olds = started(templates)
    assert outs(FakeProvider(templates).read("id", olds)) == olds


def failure_of(templates: FakeTemplates, **settings: Any) -> str:
    with pytest.raises(BuildError) as failure:
        FakeProvider(templates).create(props(build_mode="wait", **settings))
    return str(failure.value)


@pytest.mark.parametrize("phase, setting", [("Customizing", "on_customizer_error"),
                                            ("Validating", "on_validation_error")])
def test_abort_says_the_build_vm_was_kept_and_what_cleans_it_up(phase, setting):
    text = failure_of(FakeTemplates(run_state="Failed", sub_state=phase), **{setting: "abort"})
    assert "the build VM was kept for inspection" in text
    assert f"staging resource group '{STAGING}'" in text
    assert "`pulumi destroy`, or the next `pulumi up` that changes the template" in text


@pytest.mark.parametrize("phase, settings", [("Customizing", {}), ("Customizing", {"on_validation_error": "abort"}),
                                             ("Distributing", {"on_customizer_error": "abort"})])
def test_no_kept_vm_notice_when_the_setting_did_not_keep_it(phase, settings):
    assert "kept for inspection" not in failure_of(FakeTemplates(run_state="Failed", sub_state=phase), **settings)
