"""Build watching, side by side on one emulator: our providers versus the plain SDK pattern.

The same template shape (the dev image's phases: Queued, Building, 4 customizers, Validating, Distributing) is built
once per round by each contender, one build at a time, so every Image Builder request in a build's window is that
build's. Ours: `ImageBuildStartProvider.create` then `ImageBuildProvider.create` (progress on), polling every
`POLL_SECONDS`. Plain: `begin_run(...).result()` then `list_run_outputs`, with the SDK's ARM poller at
`polling_interval=POLL_SECONDS` (the emulator sends `Retry-After: 0`, so the interval is the client's, as for ours).
Detection delay: the moment the caller returned minus the run's `lastRunStatus.endTime` (both on this machine's
clock).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from components.emulator.scope import BuildScope

PHASE_SECONDS = 1.0
POLL_SECONDS = 0.7
"""Both contenders poll every 0.7 s: not a divisor of the phase length, so a build ends between two polls."""
SUB = "00000000-0000-0000-0000-0000000000bb"
RG = "rg-bench"
LOCATION = "westeurope"
AIB_PATH = "/providers/microsoft.virtualmachineimages/"


class Subscription(BuildScope):
    """An emulator with a resource group, an identity with Contributor on it, and a gallery image definition."""

    def __init__(self, emu: Any) -> None:
        from components.providers import arm_client

        super().__init__(emu, arm_client.image_builder_client(SUB, api_version="2024-02-01", poll_seconds=POLL_SECONDS),
                         subscription=SUB, resource_group=RG, location=LOCATION)

    def template(self, name: str) -> str:
        body = self.template_body(customizers=("baseline", "setup", "packages", "motd"), validators=("smoke",))
        self.client.virtual_machine_image_templates.begin_create_or_update(RG, name, body).result()
        return f"{self.rg_id}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"

    def end_time(self, template_id: str) -> float:
        last = (self.emu.state.template(template_id) or {})["properties"]["lastRunStatus"]
        return dt.datetime.fromisoformat(last["endTime"].replace("Z", "+00:00")).timestamp()


def ours(sub: Subscription, name: str) -> None:
    from components.providers.build_run import ImageBuildProvider, ImageBuildStartProvider

    lines: list[str] = []
    props = {"subscription_id": SUB, "resource_group_name": RG, "image_template_name": name,
             "api_version": "2024-02-01", "run_output_names": ["gallery"], "poll_seconds": POLL_SECONDS}
    start = ImageBuildStartProvider(lines.append).create(ImageBuildStartProvider().check({}, props).inputs).outs
    outs = ImageBuildProvider(lines.append).create(dict(props, run_started_at=start["run_started_at"])).outs
    assert outs["run_state"] == "Succeeded" and any("Customizing" in line for line in lines), lines


def plain(sub: Subscription, name: str) -> None:
    from azure.mgmt.imagebuilder import ImageBuilderClient

    from components.providers import arm_client

    # The SDK's defaults except the polling interval, which is the same as ours.
    with ImageBuilderClient(sub.emu.credential(), SUB, base_url=sub.emu.base_url,
                            credential_scopes=[sub.emu.base_url + "/.default"], polling_interval=POLL_SECONDS,
                            connection_verify=arm_client.connection_verify(), api_version="2024-02-01") as client:
        client.virtual_machine_image_templates.begin_run(RG, name).result()
        outputs = list(client.virtual_machine_image_templates.list_run_outputs(RG, name))
    assert [o.name for o in outputs] == ["gallery"]


def measure(rounds: int = 2) -> dict:
    """Run `rounds` builds per contender, alternating; return requests and delays per build and their ratios."""
    import os

    from components.emulator import Emulator

    results: dict[str, dict[str, list[float]]] = {"ours": {"requests": [], "delay": []},
                                                  "plain": {"requests": [], "delay": []}}
    with Emulator(phase_seconds=PHASE_SECONDS, retry_after=0) as emu:
        saved = {k: os.environ.get(k) for k in emu.client_env()}
        os.environ.update(emu.client_env())
        try:
            sub = Subscription(emu)
            for i in range(rounds):
                for who, fn in (("ours", ours), ("plain", plain)) if i % 2 == 0 else (("plain", plain), ("ours", ours)):
                    name = f"watch-{who}-{i}"
                    tid = sub.template(name)
                    before = len(emu.state.requests)
                    fn(sub, name)
                    returned = time.time()
                    with emu.state.lock:
                        window = emu.state.requests[before:]
                    results[who]["requests"].append(sum(1 for r in window if AIB_PATH in r["path"].lower()))
                    results[who]["delay"].append(returned - sub.end_time(tid))
                    assert emu.state.runs_started(tid) == 1
            sub.client.close()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    mean = {who: {k: statistics.mean(v) for k, v in r.items()} for who, r in results.items()}
    return {
        "phase_seconds": PHASE_SECONDS, "ours_poll_seconds": POLL_SECONDS,
        "plain_poll_seconds": POLL_SECONDS,
        "builds_each": rounds,
        "ours_requests": mean["ours"]["requests"], "plain_requests": mean["plain"]["requests"],
        "ours_delay_s": round(mean["ours"]["delay"], 3), "plain_delay_s": round(mean["plain"]["delay"], 3),
        "requests_ratio": round(mean["ours"]["requests"] / mean["plain"]["requests"], 3),
        "delay_ratio": round(mean["ours"]["delay"] / mean["plain"]["delay"], 3),
    }


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(measure(), indent=1))
