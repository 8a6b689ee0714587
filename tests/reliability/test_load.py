"""Load: 20 image pipelines in one stack building at once under the real Pulumi CLI, 10% of Image Builder calls
throttled.

Twenty, not fifty: under the real engine every image is ~19 resources through the CLI, the azure-native stand-in and
the dynamic-provider host, about 2 s of this 2-core machine per image (50 images took the whole suite's budget).
"""

from __future__ import annotations

from components.emulator import Faults

from reliability_helpers import local_run, project, succeeded_once_each

IMAGES = 20
PHASE = 0.5
"""Seconds per build phase: a build (~8 phases) outlasts the few seconds over which the CLI starts the twenty runs."""


def test_twenty_pipelines_build_at_once_under_throttling(tmp_path):
    faults = Faults(seed=11, throttle_rate=0.1, throttle_retry_after=0)
    run = local_run(project(tmp_path / "project", IMAGES), tmp_path / "state", faults=faults, phase_seconds=PHASE)
    succeeded_once_each(run)
    assert len(run.outputs) == IMAGES
    assert len({o["imageVersionId"] for o in run.outputs.values()}) == IMAGES  # no build's artifact was lost
    assert faults.injected >= 20
    # The builds overlapped: many were in flight at the same moment (the four dynamic-provider workers did not
    # serialise them; template creation ahead of them is what spreads the starts).
    events = sorted([(t["last"]["startTime"], 1) for t in run.templates().values()] +
                    [(t["last"]["endTime"], -1) for t in run.templates().values()])
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak >= 3 * 4, peak  # far more than the 4 worker threads could hold
