"""The build providers against the AIB emulator over real HTTPS, driven the way the engine drives them.

Each test calls the providers' ``check``/``create``/``diff``/``delete`` directly (the engine would do the same in the
dynamic-provider process), with the real ``azure-mgmt-imagebuilder`` client underneath, so ARM polling, azure-core
retries and the emulator's build timeline are all exercised. Phases last 0.2 s and polls 0.05 s.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from components.providers import arm_client
import components.emulator as emulator_pkg
from components.providers.build_run import BuildError, ImageBuildProvider, ImageBuildStartProvider
from components.emulator.scope import BuildScope


SUB = "00000000-0000-0000-0000-0000000000aa"
RG = "rg-images"
LOCATION = "westeurope"
PHASE = 0.2
POLL = 0.05


# ---- fixtures and helpers ---------------------------------------------------------------------------------------

@pytest.fixture
def emu(monkeypatch):
    with emulator_pkg.Emulator(tls=True, phase_seconds=PHASE, faults=emulator_pkg.Faults()) as emu:
        for key, value in emu.client_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIB_POLL_SECONDS", str(POLL))
        yield emu


@pytest.fixture
def env(emu):
    """A subscription with the images RG, the template identity and a gallery image definition."""
    environment = _Env(emu)
    yield environment
    environment.client.close()


class _Env(BuildScope):
    def __init__(self, emu):
        super().__init__(emu, arm_client.image_builder_client(SUB, api_version="2024-02-01", poll_seconds=POLL),
                         subscription=SUB, resource_group=RG, location=LOCATION)

    def template(self, name: str, *, customizers=("install",), vhd: bool = False, timeout: int = 0) -> str:
        body = self.template_body(customizers=customizers, vhd=vhd, timeout=timeout)
        self.client.virtual_machine_image_templates.begin_create_or_update(RG, name, body).result()
        return f"{self.rg_id}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"

    def last_run(self, template_id: str) -> dict:
        return (self.emu.state.template(template_id) or {}).get("properties", {}).get("lastRunStatus") or {}


def _inputs(name: str, **over) -> dict:
    props = {"subscription_id": SUB, "resource_group_name": RG, "image_template_name": name,
             "api_version": "2024-02-01", "rebuild_trigger": "1", "run_output_names": ["gallery"],
             "vhd_run_outputs": [], "poll_seconds": POLL, "auth_retry_seconds": 5, "cancel_timeout_seconds": 10}
    props.update(over)
    return props


class _Lines(list):
    def __call__(self, line: str) -> None:
        self.append(line)


def _build(name: str, progress=None, **over) -> tuple[dict, dict]:
    """What the engine does for one image on first `up`: check + create of the start, then of the wait."""
    start_p, wait_p = ImageBuildStartProvider(progress), ImageBuildProvider(progress)
    start_in = start_p.check({}, _inputs(name, **over)).inputs
    start = start_p.create(start_in).outs
    wait_in = wait_p.check({}, dict(_inputs(name, **over), run_started_at=start["run_started_at"])).inputs
    return start, wait_p.create(wait_in).outs


# ---- tests --------------------------------------------------------------------------------------------------------

def test_build_succeeds_and_surfaces_run_outputs_and_progress(env):
    tid = env.template("tmpl-ok", customizers=("base", "harden"), vhd=True)
    lines = _Lines()
    start, outs = _build("tmpl-ok", lines, run_output_names=["gallery", "vhd"])

    assert outs["run_state"] == "Succeeded"
    assert set(outs["run_outputs"]) == {"gallery", "vhd"}
    assert outs["image_version_id"].startswith(env.image_def_id + "/versions/")
    assert outs["run_outputs"]["vhd"]["artifact_uri"].endswith(".vhd")
    assert outs["duration_seconds"] > 0 and outs["start_time"] == start["run_started_at"]
    assert env.emu.state.runs_started(tid) == 1
    phases = [line.split(": ", 1)[1].split(" (")[0] for line in lines if "(+" in line]
    assert phases[:4] == ["Queued", "Building", "Customizing", "Distributing"] or \
        {"Queued", "Building", "Customizing", "Distributing"} <= set(phases), lines
    assert all(line.startswith("[aib] tmpl-ok: ") for line in lines)


def test_failed_build_names_phase_message_log_and_shows_log_tail(env):
    env.emu.faults.failing_customizers = {"harden"}
    env.template("tmpl-bad", customizers=("base", "harden", "cleanup"))
    with pytest.raises(BuildError) as info:
        _build("tmpl-bad")
    text = str(info.value)
    assert "template 'tmpl-bad'" in text
    assert "failed in phase Customizing" in text
    assert "Packer build command has failed" in text
    assert "/packerlogs/" in text and "customization.log" in text
    # The emulator serves the log blob (components/emulator/server.py): its tail is read, never a skip.
    assert "could not be read" not in text, text
    tail = text.split("lines of customization.log:\n", 1)[1].split("\nRun `pulumi up` again", 1)[0].splitlines()
    assert tail and all(line.startswith("    [") for line in tail), text
    assert any("customizer 'harden' failed" in line for line in tail), tail
    assert "Failing step: 'harden' (shell)" in text, "the diagnosis reads the tail"
    assert info.value.__cause__ is None and info.value.__context__ is None or info.value.__suppress_context__


def test_interrupted_run_is_adopted_not_doubled(env):
    tid = env.template("tmpl-resume", customizers=("a", "b", "c"))
    # A previous `pulumi up` started the run and died before recording anything.
    env.client.virtual_machine_image_templates.begin_run(RG, "tmpl-resume", polling=False)
    assert env.last_run(tid)["runState"] == "Running"
    lines = _Lines()
    start, outs = _build("tmpl-resume", lines)
    assert outs["run_state"] == "Succeeded"
    assert env.emu.state.runs_started(tid) == 1
    assert any("adopting the build already running" in line for line in lines)

    # Created again with nothing recorded (e.g. state lost): the successful run is adopted, not rebuilt.
    start_again, outs_again = _build("tmpl-resume")
    assert start_again["adopted"] is True and outs_again["run_outputs"] == outs["run_outputs"]
    assert env.emu.state.runs_started(tid) == 1


def test_diff_is_no_op_but_trigger_bump_builds_again(env):
    tid = env.template("tmpl-trigger")
    start, outs = _build("tmpl-trigger")
    start_p = ImageBuildStartProvider(_Lines())
    same = start_p.check(_inputs("tmpl-trigger"), _inputs("tmpl-trigger")).inputs
    assert start_p.diff(start["template_id"], start, same).changes is False

    bumped = start_p.check(_inputs("tmpl-trigger"), _inputs("tmpl-trigger", rebuild_trigger="2")).inputs
    diff = start_p.diff(start["template_id"], start, bumped)
    assert diff.changes and diff.replaces == []
    # The engine updates the start (which knows the run it supersedes), then replaces the wait (its run changed).
    new_start = start_p.update(start["template_id"], start, bumped).outs
    assert new_start["adopted"] is False and new_start["run_started_at"] != start["run_started_at"]
    wait_p = ImageBuildProvider(_Lines())
    assert wait_p.diff("w", outs, dict(_inputs("tmpl-trigger"), run_started_at=new_start["run_started_at"])).replaces
    new_outs = wait_p.create(dict(_inputs("tmpl-trigger"), run_started_at=new_start["run_started_at"])).outs
    assert new_outs["run_state"] == "Succeeded" and env.last_run(tid)["runState"] == "Succeeded"
    assert env.emu.state.runs_started(tid) == 2
    # An update interrupted after its POST runs again: it adopts the newer run instead of starting a third.
    again = start_p.update(start["template_id"], start, bumped).outs
    assert again["run_started_at"] == new_start["run_started_at"] and env.emu.state.runs_started(tid) == 2


def test_twelve_builds_run_at_once_through_four_workers(env):
    names = [f"tmpl-par-{i:02d}" for i in range(12)]
    ids = [env.template(n) for n in names]
    solo_id = env.template("tmpl-solo")

    t0 = time.monotonic()
    _build("tmpl-solo")
    one_build = time.monotonic() - t0
    assert env.last_run(solo_id)["runState"] == "Succeeded"

    # The engine: 12 starts (no dependencies), then each wait once all starts are done (wait_after / barrier),
    # through the dynamic-provider's ThreadPoolExecutor(max_workers=4).
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        starts = list(pool.map(lambda n: ImageBuildStartProvider(_Lines()).create(_inputs(n)).outs, names))
        running = [env.last_run(t).get("runState") for t in ids]
        waits = list(pool.map(
            lambda pair: ImageBuildProvider(_Lines()).create(
                dict(_inputs(pair[0]), run_started_at=pair[1]["run_started_at"])).outs,
            zip(names, starts)))
    twelve = time.monotonic() - t0

    assert running == ["Running"] * 12, running  # all 12 builds in flight at the same moment
    assert [w["run_state"] for w in waits] == ["Succeeded"] * 12
    assert all(env.emu.state.runs_started(t) == 1 for t in ids)
    # Serialised 4 at a time it would take ~3 build-lengths; overlapped it takes about one.
    assert twelve < 2.0 * one_build + 1.0, (twelve, one_build)
    print(f"one build {one_build:.2f}s, twelve builds {twelve:.2f}s")


def test_delete_cancels_a_running_build_and_waits_out_canceling(env):
    env.emu.faults.cancel_polls = 3
    tid = env.template("tmpl-cancel", customizers=("a", "b", "c", "d"))
    lines = _Lines()
    start = ImageBuildStartProvider(lines).create(_inputs("tmpl-cancel")).outs
    assert env.last_run(tid)["runState"] == "Running"
    ImageBuildStartProvider(lines).delete(start["template_id"], start)
    assert env.last_run(tid)["runState"] == "Canceled"
    assert any("Canceled" in line for line in lines)


def test_deadline_exceeded_cancels_and_explains(env):
    tid = env.template("tmpl-slow", customizers=("a", "b", "c", "d", "e"))
    with pytest.raises(BuildError) as info:
        # 0.005 min = 0.3 s, no margin: the run is still customizing when the deadline passes.
        _build("tmpl-slow", _Lines(), build_timeout_minutes=0.005, deadline_margin_minutes=0)
    text = str(info.value)
    assert "template 'tmpl-slow'" in text and "exceeded the provider's deadline" in text
    assert "the build was canceled" in text
    assert env.last_run(tid)["runState"] == "Canceled"


def test_throttling_server_errors_and_dropped_connections_are_survived(env):
    tid = env.template("tmpl-flaky")
    env.emu.faults.seed = 7
    env.emu.faults.throttle_rate = 0.15
    env.emu.faults.server_error_rate = 0.15
    env.emu.faults.drop_rate = 0.1
    env.emu.faults.max_transport_faults = 8  # each 429 costs its Retry-After (1 s): keep the test short
    start, outs = _build("tmpl-flaky", _Lines())
    assert outs["run_state"] == "Succeeded"
    assert env.emu.faults.injected > 0
    assert env.emu.state.runs_started(tid) == 1  # ambiguous POSTs were checked, never blindly repeated


def test_role_assignment_propagation_is_waited_out(env):
    env.emu.faults.auth_propagation_seconds = 1.0
    # A fresh identity whose only grant was just made: AIB says "Not authorized" until it propagates.
    env.identity_id = f"{env.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fresh"
    env.principal_id = env.put(env.identity_id, {"location": LOCATION}, "2023-01-31")["properties"]["principalId"]
    env.grant(env.rg_id)
    tid = env.template("tmpl-auth")
    lines = _Lines()
    start, outs = _build("tmpl-auth", lines, auth_retry_seconds=10)
    assert outs["run_state"] == "Succeeded"
    assert env.emu.state.runs_started(tid) >= 2
    assert any("not authorized yet" in line for line in lines)


def test_missing_permission_is_reported_after_the_retry_window(env):
    env.identity_id = f"{env.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nobody"
    env.put(env.identity_id, {"location": LOCATION}, "2023-01-31")
    env.template("tmpl-denied")
    with pytest.raises(BuildError) as info:
        _build("tmpl-denied", _Lines(), auth_retry_seconds=0.3)
    assert "Not authorized to access the resource" in str(info.value)
    assert "template 'tmpl-denied'" in str(info.value)


def test_delete_refuses_to_lose_a_vhd_unless_allowed(env):
    tid = env.template("tmpl-vhd", vhd=True)
    start, outs = _build("tmpl-vhd", _Lines(), run_output_names=["gallery", "vhd"], vhd_run_outputs=["vhd"])
    wait_p = ImageBuildProvider(_Lines())
    with pytest.raises(BuildError) as info:
        wait_p.delete("w", outs)
    text = str(info.value)
    assert "REFUSING TO DELETE" in text and "'vhd'" in text and outs["run_outputs"]["vhd"]["artifact_uri"] in text
    # The emulator is loopback: the refusal names the local commands (tests/unit/test_vhd_refusal.py has both forms).
    assert "allowVhdLossOnDelete" in text and "bash scripts/pulumi.sh config set --stack" in text and "uri" in text

    # The user opts in (an update stores the flag), then delete goes through.
    allowed = wait_p.update("w", outs, dict(_inputs("tmpl-vhd", run_output_names=["gallery", "vhd"],
                                                     vhd_run_outputs=["vhd"], allow_vhd_loss_on_delete=True),
                                            run_started_at=outs["run_started_at"])).outs
    wait_p.delete("w", allowed)
    assert env.last_run(tid)["runState"] == "Succeeded"
