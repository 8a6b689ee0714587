"""Preview through the real provider host: values unknown at preview reach Check and Diff as ``Unknown`` objects.

A new or replaced template's name and a replaced role assignment's id are unknown during ``pulumi preview``. Every
dynamic provider must accept them anywhere in its inputs (nested too) and answer "changes, maybe replace".
"""

from __future__ import annotations

import pytest
from dynamic_host import UNKNOWN, is_replace, urn, with_provider
from pulumi.runtime.proto import provider_pb2

from components.providers.build_run import ImageBuildProvider, ImageBuildStartProvider
from components.providers.lifecycle.provider import ImageVersionLifecycleProvider
from components.providers.role_settle import RoleSettleProvider
from components.providers.script_blob import ScriptBlobProvider
from components.providers.template_tags import TemplateTagsProvider

SUB = "00000000-0000-0000-0000-0000000000cc"
DEFINITION = (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/linux")
BUILD = {"subscription_id": SUB, "resource_group_name": "rg", "image_template_name": "web-0123456789",
         "api_version": "2024-02-01", "rebuild_trigger": "1", "run_output_names": ["gallery"], "vhd_run_outputs": []}
RECORDED_START = {**BUILD, "template_id": "t", "run_started_at": "2027-01-15T08:00:00+00:00", "adopted": False}


def _unknown_name(props: dict) -> dict:
    return {**props, "image_template_name": UNKNOWN}


@pytest.mark.parametrize("provider, type_name, extra", [
    (ImageBuildStartProvider(), "aib:ImageBuildStart", {}),
    (ImageBuildProvider(), "aib:ImageBuild", {"run_started_at": UNKNOWN}),
])
def test_build_check_accepts_an_unknown_template_name(host, provider, type_name, extra):
    news = with_provider(provider, _unknown_name({**BUILD, **extra}))
    inputs, failures = host.call("Check", urn(type_name), {}, news)
    assert failures == []
    assert inputs["image_template_name"] == UNKNOWN  # handed back to the engine as unknown


def test_build_start_diff_with_an_unknown_template_name_is_a_replacement(host):
    provider = ImageBuildStartProvider()
    olds = with_provider(provider, RECORDED_START)
    diff = host.call("Diff", urn("aib:ImageBuildStart"), olds, with_provider(provider, _unknown_name(BUILD)), "id")
    assert is_replace(diff) and "image_template_name" in diff.replaces


def test_build_check_accepts_unknowns_inside_lists(host):
    provider = ImageBuildProvider()
    news = with_provider(provider, {**BUILD, "run_output_names": ["gallery", UNKNOWN], "vhd_run_outputs": [UNKNOWN],
                                    "run_started_at": UNKNOWN})
    assert host.call("Check", urn("aib:ImageBuild"), {}, news)[1] == []


def test_role_settle_diff_with_an_unknown_assignment_id_is_a_replacement(host):
    provider = RoleSettleProvider()
    olds = with_provider(provider, {"assignment_ids": ["/a", "/b"], "created_on": ["x", "y"], "seconds": None,
                                    "waited_seconds": 0})
    news = with_provider(provider, {"assignment_ids": ["/a", UNKNOWN], "created_on": ["x", UNKNOWN],
                                    "seconds": None, "waited_seconds": None})
    diff = host.call("Diff", urn("aib:RoleSettle"), olds, news, "id")
    assert is_replace(diff) and list(diff.replaces) == ["assignment_ids"]


def test_lifecycle_check_and_diff_accept_unknowns(host):
    provider = ImageVersionLifecycleProvider()
    news = with_provider(provider, {"image_definition_id": UNKNOWN, "retention": {"keep_latest": UNKNOWN},
                                    "promotion_mode": UNKNOWN, "just_built_version_id": UNKNOWN})
    assert host.call("Check", urn("aib:ImageVersionLifecycle"), {}, news)[1] == []
    olds = with_provider(provider, {"image_definition_id": DEFINITION, "retention": {"keep_latest": 3},
                                    "promotion_mode": "manual", "just_built_version_id": DEFINITION + "/versions/1"})
    diff = host.call("Diff", urn("aib:ImageVersionLifecycle"), olds, news, "id")
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME


def test_template_tags_check_and_diff_accept_unknowns(host):
    provider = TemplateTagsProvider()
    known = {"subscription_id": SUB, "resource_group_name": "rg", "image_template_name": "web-0123456789",
             "tags": {"owner": "me"}, "api_version": "2024-02-01", "arm_endpoint": None}
    news = with_provider(provider, {**known, "image_template_name": UNKNOWN, "tags": {"owner": UNKNOWN}})
    assert host.call("Check", urn("aib:TemplateTags"), {}, news)[1] == []
    diff = host.call("Diff", urn("aib:TemplateTags"), with_provider(provider, known), news, "id")
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME


def test_script_blob_check_and_diff_accept_unknowns(host):
    provider = ScriptBlobProvider()
    known = {"account_name": "staibx", "container_name": "scripts", "blob_name": "setup-0123.sh",
             "sha256": "ab" * 32, "source_path": "/x/setup.sh", "project_path": "scripts/setup.sh"}
    news = with_provider(provider, {**known, "account_name": UNKNOWN, "container_name": UNKNOWN})
    assert host.call("Check", urn("aib:ScriptBlob"), {}, news)[1] == []
    diff = host.call("Diff", urn("aib:ScriptBlob"), with_provider(provider, known), news, "id")
    assert is_replace(diff) and set(diff.replaces) >= {"account_name", "container_name"}
