"""Retention planning and the promotion decision, as pure functions: no Pulumi, no Azure."""

from __future__ import annotations

import datetime as dt

import pytest

from components.plan.lifecycle import Retention, Version, parse_time, plan_retention, promotion_target

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


def v(name: str, days_ago: float | None, **kw) -> Version:
    published = NOW - dt.timedelta(days=days_ago) if days_ago is not None else None
    return Version(name=name, id=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/"
                                 f"i/versions/{name}", published=published, **kw)


# Monthly rebuilds: 1.0.1 is the oldest (150 days), 1.0.6 the newest (0 days).
MONTHLY = [v(f"1.0.{i}", 30 * (6 - i)) for i in range(1, 7)]


@pytest.mark.parametrize("policy, protect, kept, excluded, deleted", [
    (Retention(keep_latest=3), (), ["1.0.6", "1.0.5", "1.0.4"], ["1.0.3", "1.0.2", "1.0.1"], []),
    (Retention(keep_latest=1), (), ["1.0.6"], ["1.0.5", "1.0.4", "1.0.3", "1.0.2", "1.0.1"], []),
    (Retention(keep_latest=10), (), ["1.0.6", "1.0.5", "1.0.4", "1.0.3", "1.0.2", "1.0.1"], [], []),
    # Age-based deletion applies only beyond the newest N: 1.0.3 (90 days) is not older than 90.
    (Retention(keep_latest=2, delete_older_than_days=90), (), ["1.0.6", "1.0.5"], ["1.0.4", "1.0.3"],
     ["1.0.2", "1.0.1"]),
    # The newest N are kept however old they are.
    (Retention(keep_latest=5, delete_older_than_days=1), (), ["1.0.6", "1.0.5", "1.0.4", "1.0.3", "1.0.2"], [],
     ["1.0.1"]),
    # A protected version (just built or being promoted) is kept even when old.
    (Retention(keep_latest=1, delete_older_than_days=60), ("1.0.1",), ["1.0.6", "1.0.1"], ["1.0.5", "1.0.4"],
     ["1.0.3", "1.0.2"]),
])
def test_retention_table(policy, protect, kept, excluded, deleted):
    plan = plan_retention(MONTHLY, policy, NOW, protect=protect)
    assert list(plan.kept) == kept
    assert list(plan.excluded) == excluded
    assert list(plan.deleted) == deleted
    assert set(plan.reasons) == {x.name for x in MONTHLY}


def test_order_is_by_published_date_then_version_not_by_listing_order():
    shuffled = [MONTHLY[2], MONTHLY[5], MONTHLY[0], MONTHLY[4], MONTHLY[1], MONTHLY[3]]
    assert plan_retention(shuffled, Retention(keep_latest=2), NOW).kept == ("1.0.6", "1.0.5")
    # Same publishedDate: the higher version number is newer (1.0.10 > 1.0.9, numerically).
    same_day = [v("1.0.9", 1), v("1.0.10", 1)]
    assert plan_retention(same_day, Retention(keep_latest=1), NOW).kept == ("1.0.10",)


def test_at_least_one_is_kept_and_keep_latest_zero_is_refused():
    assert plan_retention([v("1.0.1", 400)], Retention(keep_latest=1, delete_older_than_days=1), NOW).kept == \
        ("1.0.1",)
    with pytest.raises(ValueError, match="at least 1"):
        plan_retention(MONTHLY, Retention(keep_latest=0), NOW)


@pytest.mark.parametrize("tags, pin_tag, pinned", [
    ({"keep": "true"}, "keep=true", True),
    ({"Keep": "TRUE"}, "keep=true", True),           # tag names and values compare case-insensitively
    ({"keep": "false"}, "keep=true", False),
    ({"keep": "anything"}, "keep", True),             # a bare name pins whatever the value
    ({"retain": "yes"}, "retain=yes", True),
    ({}, "keep=true", False),
])
def test_pinned_versions_are_never_excluded_nor_deleted(tags, pin_tag, pinned):
    versions = [v("1.0.1", 400, tags=tags), v("1.0.2", 1)]
    plan = plan_retention(versions, Retention(keep_latest=1, delete_older_than_days=30, pin_tag=pin_tag), NOW)
    assert ("1.0.1" in plan.kept) is pinned
    assert ("1.0.1" in plan.deleted) is not pinned
    if pinned:
        assert "pinned" in plan.reasons["1.0.1"]


def test_busy_versions_and_unknown_age_are_not_deleted():
    versions = [v("1.0.3", 0), v("1.0.2", 400, provisioning_state="Creating"), v("1.0.1", None)]
    plan = plan_retention(versions, Retention(keep_latest=1, delete_older_than_days=30), NOW)
    assert "1.0.2" in plan.kept and plan.reasons["1.0.2"] == "provisioning state Creating"
    assert plan.excluded == ("1.0.1",) and plan.deleted == ()


@pytest.mark.parametrize("policy, expected_eol_days", [
    (Retention(keep_latest=1), None),                                         # no date asked for
    (Retention(keep_latest=1, end_of_life_days=45), 45),
    (Retention(keep_latest=1, delete_older_than_days=200), 200),              # default: the day it gets deleted
    (Retention(keep_latest=1, delete_older_than_days=200, end_of_life_days=100), 100),
])
def test_end_of_life_dates_on_excluded_versions(policy, expected_eol_days):
    old = v("1.0.1", 60)
    plan = plan_retention([old, v("1.0.2", 0)], policy, NOW)
    assert plan.excluded == ("1.0.1",)
    if expected_eol_days is None:
        assert plan.end_of_life == {}
    else:
        assert old.published is not None
        assert parse_time(plan.end_of_life["1.0.1"]) == old.published + dt.timedelta(days=expected_eol_days)
    assert plan.updates == ("1.0.1",)


def test_already_excluded_versions_need_no_update_and_keep_their_end_of_life():
    existing_eol = NOW + dt.timedelta(days=7)
    versions = [v("1.0.2", 0), v("1.0.1", 60, exclude_from_latest=True, end_of_life=existing_eol)]
    plan = plan_retention(versions, Retention(keep_latest=1, end_of_life_days=365), NOW)
    assert plan.excluded == ("1.0.1",) and plan.updates == ()
    assert parse_time(plan.end_of_life["1.0.1"]) == existing_eol
    # Excluded but without a date while one is asked for: PATCH it.
    versions = [v("1.0.2", 0), v("1.0.1", 60, exclude_from_latest=True)]
    assert plan_retention(versions, Retention(keep_latest=1, end_of_life_days=365), NOW).updates == ("1.0.1",)


def test_just_built_is_matched_by_id_or_name_and_never_deleted():
    versions = [v("2.0.0", 500), v("1.0.9", 1)]  # a rebuild of an old major, published long ago (odd, but allowed)
    by_id = plan_retention(versions, Retention(keep_latest=1, delete_older_than_days=30), NOW,
                           protect=[versions[0].id.upper()])
    assert "2.0.0" in by_id.kept and by_id.deleted == ()
    by_name = plan_retention(versions, Retention(keep_latest=1, delete_older_than_days=30), NOW, protect=["2.0.0"])
    assert "2.0.0" in by_name.kept


@pytest.mark.parametrize("mode, run_state, validated, version, promoted", [
    ("afterValidation", "Succeeded", True, None, "built"),
    ("afterValidation", "PartiallySucceeded", True, None, None),   # a validator failed (continueDistributeOnFailure)
    ("afterValidation", "Failed", True, None, None),
    ("afterValidation", "Succeeded", False, None, None),           # nothing was validated
    ("manual", "Succeeded", True, None, None),                     # manual never promotes its own build
    ("manual", "Succeeded", True, "dev-version", "dev-version"),
    (None, "Succeeded", True, None, None),
])
def test_promotion_target(mode, run_state, validated, version, promoted):
    target, why = promotion_target(mode, just_built="built", run_state=run_state, validated=validated,
                                   version=version)
    assert target == promoted
    assert why.startswith("promoted" if promoted else ("not promoted" if mode else "no promotion"))


def test_promotion_needs_a_build():
    assert promotion_target("afterValidation", just_built=None, run_state=None, validated=True, version=None)[0] \
        is None


@pytest.mark.parametrize("text, expected", [
    ("2026-05-01T10:00:00Z", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
    ("2026-05-01T10:00:00.1234567+00:00", dt.datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)),
    ("2026-05-01T10:00:00", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
    ("not a date", None),
    (None, None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected
