"""The build resources through the real provider host against the ARM emulator: reruns after a failed build, the VHD
guard on replacement versus destroy, and refresh of resources deleted outside Pulumi."""

from __future__ import annotations

import grpc
import pytest
from dynamic_host import is_replace, urn, with_provider

from components.providers.build_run import ImageBuildProvider, ImageBuildStartProvider
from components.providers.lifecycle.provider import ImageVersionLifecycleProvider
from components.providers.template_tags import TemplateTagsProvider

SUB, RG, POLL = "00000000-0000-0000-0000-0000000000bb", "rg-host", 0.05  # the `arm` fixture's scope
START, WAIT = urn("aib:ImageBuildStart", "img-run"), urn("aib:ImageBuild", "img-build")


def _inputs(name: str, provider, **over) -> dict:
    props = {"subscription_id": SUB, "resource_group_name": RG, "image_template_name": name,
             "api_version": "2024-02-01", "rebuild_trigger": "1", "run_output_names": ["gallery"],
             "vhd_run_outputs": [], "poll_seconds": POLL, "auth_retry_seconds": 2, "cancel_timeout_seconds": 10}
    props.update(over)
    return with_provider(provider, props)


def _start(host, name: str, olds: dict | None = None, **over) -> dict:
    """Check + Create of the start, as the engine sends them; its outputs."""
    checked, failures = host.call("Check", START, olds or {}, _inputs(name, ImageBuildStartProvider(), **over))
    assert failures == []
    return host.call("Create", START, news=checked)[1]


def _wait(host, name: str, start: dict, **over) -> dict:
    news = _inputs(name, ImageBuildProvider(), run_started_at=start["run_started_at"], **over)
    checked, failures = host.call("Check", WAIT, {}, news)
    assert failures == []
    return host.call("Create", WAIT, news=checked)[1]


def test_a_failed_build_is_built_again_by_the_next_up(arm):
    tid = arm.template("fail-0123456789", customizers=("boom",))
    arm.emu.faults.failing_customizers = {"boom"}
    try:
        start = _start(arm.host, "fail-0123456789")
        with pytest.raises(grpc.RpcError) as failed:
            _wait(arm.host, "fail-0123456789", start)
    finally:
        arm.emu.faults.failing_customizers = set()
    assert "Run `pulumi up` again: it sees that this run ended Failed and starts a new build" in failed.value.details()
    # The message is the whole report: no Python frames of the provider above it (it once printed a traceback).
    assert "Traceback (most recent call last)" not in failed.value.details()

    # The next `up` (the cause fixed): the recorded start is replaced, so a new run starts and the wait follows it.
    olds_inputs = _inputs("fail-0123456789", ImageBuildStartProvider())
    checked, _ = arm.host.call("Check", START, olds_inputs, olds_inputs)
    diff = arm.host.call("Diff", START, start, checked, "id")
    assert is_replace(diff), diff
    again = arm.host.call("Create", START, news=checked)[1]
    assert again["run_started_at"] != start["run_started_at"]
    assert _wait(arm.host, "fail-0123456789", again)["run_state"] == "Succeeded"
    assert arm.emu.state.runs_started(tid) == 2


def test_vhd_guard_lets_a_replacement_delete_the_old_build_but_refuses_the_last(arm):
    vhd = {"run_output_names": ["gallery", "vhd"], "vhd_run_outputs": ["vhd"]}
    arm.template("disk-aaaaaaaaaa", vhd=True)
    old = _wait(arm.host, "disk-aaaaaaaaaa", _start(arm.host, "disk-aaaaaaaaaa", **vhd), **vhd)
    # A template change: the new template (same image, other hash) is built, then the old build is deleted.
    arm.template("disk-bbbbbbbbbb", vhd=True, customizers=("install", "more"))
    new = _wait(arm.host, "disk-bbbbbbbbbb", _start(arm.host, "disk-bbbbbbbbbb", **vhd), **vhd)
    arm.host.call("Delete", WAIT, old, id_="old")

    # Destroy: the newest VHD would be lost.
    with pytest.raises(grpc.RpcError) as refused:
        arm.host.call("Delete", WAIT, new, id_="new")
    assert "REFUSING TO DELETE" in refused.value.details()


def test_vhd_guard_ignores_other_images(arm):
    vhd = {"run_output_names": ["gallery", "vhd"], "vhd_run_outputs": ["vhd"]}
    arm.template("solo-cccccccccc", vhd=True)
    mine = _wait(arm.host, "solo-cccccccccc", _start(arm.host, "solo-cccccccccc", **vhd), **vhd)
    arm.template("else-dddddddddd", vhd=True)  # another image's newer build does not keep my VHD
    _wait(arm.host, "else-dddddddddd", _start(arm.host, "else-dddddddddd", **vhd), **vhd)
    with pytest.raises(grpc.RpcError) as refused:
        arm.host.call("Delete", WAIT, mine, id_="mine")
    assert "REFUSING TO DELETE" in refused.value.details()


def test_refresh_drops_build_tags_and_lifecycle_deleted_outside_pulumi(arm):
    name = "gone-0123456789"
    arm.template(name)
    start = _start(arm.host, name)
    wait = _wait(arm.host, name, start)
    tags_urn = urn("aib:TemplateTags", "img-tags")
    tags = arm.host.call("Create", tags_urn, news=with_provider(TemplateTagsProvider(), {
        "subscription_id": SUB, "resource_group_name": RG, "image_template_name": name, "tags": {"owner": "me"},
        "api_version": "2024-02-01", "arm_endpoint": None}))[1]
    life_urn = urn("aib:ImageVersionLifecycle", "img-lifecycle")
    life = arm.host.call("Create", life_urn, news=with_provider(ImageVersionLifecycleProvider(), {
        "image_definition_id": arm.image_def_id, "retention": {"keep_latest": 5},
        "just_built_version_id": wait["image_version_id"], "poll_seconds": POLL}))[1]

    # Still there: refresh keeps them, and sees the tags as they are in Azure.
    arm.client.virtual_machine_image_templates.begin_update(RG, name, {"tags": {"owner": "someone"}}).result()
    assert arm.host.call("Read", START, start, id_="s")[0] == "s"
    assert arm.host.call("Read", WAIT, wait, id_="w")[0] == "w"
    tags_id, tags_now = arm.host.call("Read", tags_urn, tags, id_="t")
    assert tags_id == "t" and tags_now["tags"] == {"owner": "someone"}
    life_id, life_now = arm.host.call("Read", life_urn, life, id_="l")
    assert life_id == "l" and life_now["kept"] == life["kept"]

    # Deleted outside Pulumi: refresh drops each resource, so the next `up` recreates and rebuilds.
    arm.client.virtual_machine_image_templates.begin_delete(RG, name).result()
    for resource_urn, outs in ((START, start), (WAIT, wait), (tags_urn, tags)):
        assert arm.host.call("Read", resource_urn, outs, id_="x")[0] == "", resource_urn
    for version in life["kept"]:
        arm.delete(f"{arm.image_def_id}/versions/{version}", "2023-07-03")
    arm.delete(arm.image_def_id, "2023-07-03")
    assert arm.host.call("Read", life_urn, life, id_="l")[0] == ""
