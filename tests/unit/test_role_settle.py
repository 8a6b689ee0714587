"""RoleSettle: the wait between new role assignments and the template's creation."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest

from components.providers import role_settle
from components.plan import lifecycle as plan
from components.providers.role_settle import (
    DEFAULT_SECONDS, ENV_SECONDS, RoleSettleProvider, remaining_seconds, settle_seconds)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize("created_on, seconds, expected", [
    (["2027-01-15T08:00:00Z"], 90, 90.0),                               # just created: the whole wait
    (["2027-01-15T07:59:00Z", "2027-01-15T07:59:30Z"], 90, 60.0),       # counted from the newest
    (["2027-01-15T07:50:00Z"], 90, 0.0),                                # long ago: no wait
    (["2027-01-15T07:59:30+00:00", None], 90, 90.0),                    # an unknown time: assume now
    ([], 90, 90.0),
    (["2027-01-15T08:00:00Z"], 0, 0.0),                                 # turned off
])
def test_remaining_seconds(created_on, seconds, expected):
    assert remaining_seconds(created_on, seconds, NOW) == pytest.approx(expected)


def test_seconds_default_env_and_explicit(monkeypatch):
    monkeypatch.delenv(ENV_SECONDS, raising=False)
    assert settle_seconds(None) == DEFAULT_SECONDS
    monkeypatch.setenv(ENV_SECONDS, "2.5")
    assert settle_seconds(None) == 2.5
    assert settle_seconds(0) == 0.0


def test_only_changed_assignments_wait_again():
    provider = RoleSettleProvider()
    same = provider.diff("id", {"assignment_ids": ["a", "b"]}, {"assignment_ids": ["b", "a"]})
    assert not same.changes and not same.replaces
    added = provider.diff("id", {"assignment_ids": ["a"]}, {"assignment_ids": ["a", "c"]})
    assert added.changes and added.replaces == ["assignment_ids"]


def test_create_reports_the_wait(monkeypatch):
    monkeypatch.setenv(ENV_SECONDS, "0")
    result = RoleSettleProvider().create({"assignment_ids": ["a"], "created_on": [None], "seconds": None})
    assert result.outs["waited_seconds"] == 0.0


class _Python310DateTime(dt.datetime):
    """`datetime.fromisoformat` as Python 3.10 has it: at most 6 fractional digits (3.11 accepts more)."""

    parsed: list[str] = []

    @classmethod
    def fromisoformat(cls, text: str) -> dt.datetime:  # type: ignore[override]
        cls.parsed.append(text)
        if re.search(r"\.\d{7,}", text):
            raise ValueError(f"Invalid isoformat string: {text!r}")
        return dt.datetime.fromisoformat(text)


@pytest.fixture
def python_310(monkeypatch):
    """`datetime` as 3.10 has it, where `remaining_seconds` parses: `role_settle._timestamp` calls
    `components.plan.lifecycle.parse_time`, which reads `dt` of that module (role_settle has no `dt` of its own)."""
    _Python310DateTime.parsed = []
    monkeypatch.setattr(plan, "dt", SimpleNamespace(datetime=_Python310DateTime, timezone=dt.timezone,
                                                    timedelta=dt.timedelta))
    assert role_settle.parse_time is plan.parse_time, "role_settle parses elsewhere now: patch that module"
    return _Python310DateTime.parsed


def test_arm_seven_digit_fractions_count_on_python_3_10(python_310):
    """ARM's `createdOn` has 7 fractional digits; on 3.10 a parse failure silently meant the full wait."""
    assert remaining_seconds(["2027-01-15T07:59:00.1234567Z"], 90, NOW) == pytest.approx(30.123, abs=1e-3)
    assert python_310 == ["2027-01-15T07:59:00.123456+00:00"], "the 3.10 parser saw the time, cut to 6 digits"


def test_the_3_10_stand_in_catches_an_uncut_fraction(python_310, monkeypatch):
    """The stand-in is in effect: with the cut to 6 digits broken, the 7-digit time fails to parse and the whole
    wait comes back (what 3.10 did), so the test above fails when the cut is lost."""
    uncut = SimpleNamespace(sub=lambda *args: args[-1])  # re.sub(pattern, repl, text) -> text, unchanged
    monkeypatch.setattr(plan, "re", uncut)
    assert remaining_seconds(["2027-01-15T07:59:00.1234567Z"], 90, NOW) == pytest.approx(90.0)
    assert python_310 == ["2027-01-15T07:59:00.1234567+00:00"]
