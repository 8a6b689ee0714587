"""BuildSession's waits on a fake clock: every wait stops at its deadline, whatever ARM does meanwhile."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ServiceRequestError

from components.providers.build_run import BuildError
from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.progress import Progress
from components.providers.build_run.session import BuildSession

START = dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.timezone.utc)


class FakeClock:
    """Seconds since START; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.seconds += seconds

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.seconds)


def _running_template() -> SimpleNamespace:
    last = SimpleNamespace(run_state="Running", run_sub_state="Customizing", message="", start_time=START,
                           end_time=None)
    return SimpleNamespace(properties=SimpleNamespace(last_run_status=last, exact_staging_resource_group=None))


class ArmGoesAway:
    """Answers the first read with a running build, then never answers again."""

    def __init__(self) -> None:
        self.reads = 0

    def get(self, _rg: str, _name: str) -> SimpleNamespace:
        self.reads += 1
        if self.reads == 1:
            return _running_template()
        raise ServiceRequestError("connection refused")

    def begin_cancel(self, _rg: str, _name: str, **_kwargs) -> None:
        raise ServiceRequestError("connection refused")


def _session(templates, clock: FakeClock, **settings) -> BuildSession:
    built = BuildSettings.from_props({"subscription_id": "s", "resource_group_name": "rg",
                                      "image_template_name": "web-0123456789", **settings})
    return BuildSession(built, SimpleNamespace(virtual_machine_image_templates=templates),
                        Progress("web-0123456789", lambda _line: None), poll_seconds=5, sleep=clock.sleep,
                        now=clock.now, clock=clock.monotonic)


def test_wait_stops_at_its_deadline_while_arm_is_unreachable():
    clock = FakeClock()
    session = _session(ArmGoesAway(), clock, build_timeout_minutes=1, deadline_margin_minutes=0)
    with pytest.raises(BuildError):
        session.wait(START.isoformat())
    assert clock.seconds <= 60 + 5, f"the 60 s deadline was overrun: stopped after {clock.seconds:g} s"


def test_cancel_wait_stops_at_cancel_timeout_while_arm_is_unreachable():
    clock = FakeClock()
    session = _session(ArmGoesAway(), clock, cancel_timeout_seconds=30)
    with pytest.raises(BuildError):
        session.cancel_and_wait()
    assert clock.seconds <= 30 + 5
