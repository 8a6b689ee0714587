"""check/diff rules of the build resources, without Azure: what is a new build, what is a setting, and preview."""

from __future__ import annotations

import pytest
from pulumi.runtime.rpc import UNKNOWN

from components.providers.build_run import ImageBuildProvider, ImageBuildStartProvider
from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.progress import format_elapsed

BASE = {"subscription_id": "sub", "resource_group_name": "rg", "image_template_name": "tmpl-abc123",
        "rebuild_trigger": "1", "run_output_names": ["gallery"], "vhd_run_outputs": []}


def _start_outs(**over):
    # What the engine passes as olds to diff: the recorded outputs (inputs echoed + computed).
    outs = dict(BASE, template_id="/x", run_started_at="t0", adopted=False, adopt_succeeded_run=True)
    outs.update(over)
    return outs


def test_unknown_sentinel_matches_pulumi():
    from components.providers.build_run import inputs

    assert inputs.UNKNOWN == UNKNOWN


def test_diff_nothing_changed_is_no_op():
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, adopt_succeeded_run=False))
    assert result.changes is False and result.replaces == []


def test_diff_defaults_spelled_out_are_no_change():
    news = dict(BASE, api_version="2024-02-01", build_timeout_minutes=0, allow_vhd_loss_on_delete=False)
    assert ImageBuildStartProvider().diff("id", _start_outs(), news).changes is False


@pytest.mark.parametrize("key,value", [("image_template_name", "tmpl-def456"), ("resource_group_name", "rg2")])
def test_diff_another_template_means_replace(key, value):
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, **{key: value}))
    assert result.changes is True and result.replaces == [key]


def test_diff_bumped_rebuild_trigger_is_an_update_that_knows_the_run_it_supersedes():
    # A replacement would be re-checked by the engine with no olds, and create would not know which run to leave.
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, rebuild_trigger="2"))
    assert result.changes is True and result.replaces == []


@pytest.mark.parametrize("key,value", [("poll_seconds", 5), ("allow_vhd_loss_on_delete", True),
                                       ("arm_endpoint", "https://arm.example")])
def test_diff_settings_update_in_place(key, value):
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, **{key: value}))
    assert result.changes is True and result.replaces == []


def test_diff_unknown_during_preview():
    # The template name is unknown while its template is being replaced: that is a new build.
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, image_template_name=UNKNOWN))
    assert result.replaces == ["image_template_name"]
    # An unknown setting is an update, not a rebuild.
    result = ImageBuildStartProvider().diff("id", _start_outs(), dict(BASE, poll_seconds=UNKNOWN))
    assert result.changes is True and result.replaces == []


def test_wait_is_replaced_when_its_start_started_another_run():
    olds = dict(BASE, run_started_at="t0", run_state="Succeeded", run_outputs={})
    provider = ImageBuildProvider()
    assert provider.diff("id", olds, dict(BASE, run_started_at="t0")).changes is False
    assert provider.diff("id", olds, dict(BASE, run_started_at="t1")).replaces == ["run_started_at"]
    assert provider.diff("id", olds, dict(BASE, run_started_at=UNKNOWN)).replaces == ["run_started_at"]


def test_check_reports_every_problem_and_skips_unknowns():
    news = {"subscription_id": "", "resource_group_name": UNKNOWN, "image_template_name": "bad name!",
            "build_timeout_minutes": 2000, "run_output_names": ["a"], "vhd_run_outputs": ["b"]}
    failures = ImageBuildStartProvider().check({}, news).failures
    reasons = {f.property: f.reason for f in failures}
    assert set(reasons) == {"subscription_id", "image_template_name", "build_timeout_minutes", "vhd_run_outputs"}
    assert "must be between 0 and 960, but 2000 was provided" in reasons["build_timeout_minutes"]


def test_deadline_is_timeout_plus_margin_and_zero_means_240():
    assert BuildSettings.from_props(BASE).deadline_seconds == (240 + 15) * 60
    assert BuildSettings.from_props(dict(BASE, build_timeout_minutes=60,
                                         deadline_margin_minutes=5)).deadline_seconds == 65 * 60


@pytest.mark.parametrize("seconds,text", [(9, "+9s"), (252, "+4m12s"), (3720, "+1h02m")])
def test_elapsed_format(seconds, text):
    assert format_elapsed(seconds) == text
