"""Issue 22: what the build providers' diffs cost in ARM calls, against the emulator over real HTTPS.

A no-op preview of N images in one resource group made N template GETs from the starts' diffs (63 ms each locally);
now the diffs of a process share one LIST of the group (``run_snapshot``), and a template whose run this process
may have changed is read by itself, so the failed-run rule (a failed build is built again) still sees the truth.
The providers share one credential per process (``credentials.shared_credential``), which no pickle carries.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest
from pulumi.dynamic.dynamic import serialize_provider

import components.emulator as emulator_pkg
from components.emulator.scope import BuildScope
from components.providers import arm_client, credentials
from components.providers.build_run import ImageBuildProvider, ImageBuildStartProvider, run_snapshot
from components.providers.build_run.session import BuildSession

SUB, RG, POLL = "00000000-0000-0000-0000-0000000000ac", "rg-perf", 0.05
TEMPLATES = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.VirtualMachineImages/imageTemplates"


@pytest.fixture
def scope(monkeypatch):
    run_snapshot.clear()
    with emulator_pkg.Emulator(tls=True, phase_seconds=0.05, faults=emulator_pkg.Faults()) as emu:
        for key, value in emu.client_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIB_POLL_SECONDS", str(POLL))
        client = arm_client.image_builder_client(SUB, api_version="2024-02-01", poll_seconds=POLL)
        try:
            yield BuildScope(emu, client, subscription=SUB, resource_group=RG, location="westeurope")
        finally:
            client.close()
            run_snapshot.clear()


def _inputs(name: str, **over) -> dict:
    props = {"subscription_id": SUB, "resource_group_name": RG, "image_template_name": name,
             "api_version": "2024-02-01", "rebuild_trigger": "1", "run_output_names": ["gallery"],
             "vhd_run_outputs": [], "poll_seconds": POLL, "auth_retry_seconds": 5, "cancel_timeout_seconds": 10}
    props.update(over)
    return props


def _built(scope, names, **over) -> list[tuple[str, dict]]:
    start_p, wait_p = ImageBuildStartProvider(), ImageBuildProvider()
    out = []
    for name in names:
        scope.client.virtual_machine_image_templates.begin_create_or_update(
            RG, name, scope.template_body(customizers=("install",))).result()
        start = start_p.create(start_p.check({}, _inputs(name, **over)).inputs).outs
        wait_p.create(wait_p.check({}, dict(_inputs(name, **over), run_started_at=start["run_started_at"])).inputs)
        out.append((name, start))
    return out


def _template_reads(emu, since: int) -> tuple[int, int]:
    """(LISTs of the group, GETs of single templates) the emulator served since request number ``since``."""
    done = [r for r in emu.state.requests[since:] if r["method"] == "GET"]
    lists = sum(1 for r in done if r["path"].split("?")[0].rstrip("/").lower() == TEMPLATES.lower())
    gets = sum(1 for r in done if r["path"].split("?")[0].lower().startswith(TEMPLATES.lower() + "/"))
    return lists, gets


def test_the_diffs_of_a_fresh_process_read_the_group_once(scope):
    starts = _built(scope, [f"img{i}-0123456789" for i in range(6)])
    run_snapshot.clear()  # a new provider process: what `pulumi preview` starts
    provider = ImageBuildStartProvider()
    since = len(scope.emu.state.requests)
    with ThreadPoolExecutor(4) as pool:  # the host's four threads
        results = list(pool.map(lambda s: provider.diff("id", s[1], provider.check(s[1], _inputs(s[0])).inputs),
                                starts))
    assert all(r.changes is False for r in results)
    assert _template_reads(scope.emu, since) == (1, 0)


def test_a_template_this_process_changed_is_read_by_itself(scope):
    """The failed-run rule: the run failed in this process (the provider host of the tests lives on), so the next
    diff must not answer from a list taken before; it reads the template and replaces the start."""
    [(name, start)] = _built(scope, ["ok-0123456789"])
    run_snapshot.clear()
    provider = ImageBuildStartProvider()
    assert provider.diff("id", start, _inputs(name)).changes is False  # lists the group
    scope.emu.faults.failing_customizers = {"install"}
    try:
        rerun = provider.update("id", start, _inputs(name, rebuild_trigger="2")).outs  # starts a run here
        with pytest.raises(Exception):
            ImageBuildProvider().create(dict(_inputs(name, rebuild_trigger="2"), run_started_at=rerun["run_started_at"]))
    finally:
        scope.emu.faults.failing_customizers = set()
    since = len(scope.emu.state.requests)
    diff = provider.diff("id", rerun, _inputs(name, rebuild_trigger="2"))
    assert diff.replaces == ["run_started_at"]
    assert _template_reads(scope.emu, since) == (0, 1)


def test_an_unreadable_list_falls_back_to_reading_the_template(scope, monkeypatch):
    [(name, start)] = _built(scope, ["fb-0123456789"])
    run_snapshot.clear()

    def refused(_self):
        raise RuntimeError("AuthorizationFailed on the group")

    monkeypatch.setattr(BuildSession, "group_statuses", refused)
    since = len(scope.emu.state.requests)
    provider = ImageBuildStartProvider()
    for _ in range(2):
        assert provider.diff("id", start, _inputs(name)).changes is False
    assert _template_reads(scope.emu, since) == (0, 2)  # the failed list is not tried again in the snapshot's life


def test_a_failed_run_found_in_the_list_replaces_the_start(scope):
    scope.emu.faults.failing_customizers = {"install"}
    try:
        name = "bad-0123456789"
        scope.client.virtual_machine_image_templates.begin_create_or_update(
            RG, name, scope.template_body(customizers=("install",))).result()
        start = ImageBuildStartProvider().create(_inputs(name)).outs
        with pytest.raises(Exception):
            ImageBuildProvider().create(dict(_inputs(name), run_started_at=start["run_started_at"]))
    finally:
        scope.emu.faults.failing_customizers = set()
    run_snapshot.clear()  # the next `pulumi up`: a new provider process
    since = len(scope.emu.state.requests)
    assert ImageBuildStartProvider().diff("id", start, _inputs(name)).replaces == ["run_started_at"]
    assert _template_reads(scope.emu, since) == (1, 0)


def test_one_credential_per_process_and_settings_never_pickled(monkeypatch):
    monkeypatch.delenv(arm_client.ENV_TOKEN, raising=False)
    env = {"ARM_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "ARM_TENANT_ID": "22222222-2222-2222-2222-222222222222",
           "ARM_CLIENT_SECRET": "s3cr3t-never-pickled"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    first = arm_client.arm_credential()
    assert arm_client.arm_credential() is first
    monkeypatch.setenv("ARM_CLIENT_SECRET", "another-secret")
    assert arm_client.arm_credential() is not first
    assert credentials.shared_credential(env) is first
    for provider in (ImageBuildStartProvider(), ImageBuildProvider()):
        blob = base64.b64decode(serialize_provider(provider))  # what the engine records in __provider
        assert b"s3cr3t" not in blob and b"another-secret" not in blob and b"Credential" not in blob
    assert not any("s3cr3t" in k for k in credentials._shared)  # keyed by a digest
