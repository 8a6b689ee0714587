"""RoleSettle: the wait between new role assignments and the template's creation."""

from __future__ import annotations

import pytest

from components.role_settle import DEFAULT_SECONDS, ENV_SECONDS, RoleSettleProvider, remaining_seconds, settle_seconds

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
