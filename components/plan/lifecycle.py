"""What a lifecycle policy does to the versions of one gallery image definition, as pure functions.

`plan_retention` takes the versions as listed, the policy, the current time and the versions that must not be
touched (the one just built, the one being promoted) and returns a `Plan`: which versions are kept as they are, which
are (or stay) excluded from `latest` with which end-of-life date, and which are deleted, with the reason for each.
`promotion_target` decides whether a version is promoted. Nothing here talks to Azure, so every rule is tested
table-style (`tests/unit/test_lifecycle_plan.py`) and the provider only lists, applies and reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Iterable, Mapping, Optional

#: Versions in these provisioning states are being written by someone (a build, a replication); never touch them.
BUSY_STATES = ("creating", "updating", "deleting", "migrating")
_NUMBERS = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Version:
    """One gallery image version as the plan needs it."""

    name: str
    """Version name, e.g. `1.0.7`."""
    id: str = ""
    published: Optional[dt.datetime] = None
    """`publishingProfile.publishedDate` (timezone-aware), None when the service did not report it."""
    exclude_from_latest: bool = False
    end_of_life: Optional[dt.datetime] = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    provisioning_state: str = "Succeeded"

    def matches(self, ref: str) -> bool:
        """Whether `ref` (a version name or a version id) names this version."""
        ref = ref.strip().rstrip("/").lower()
        return ref == self.name.lower() or (bool(self.id) and ref == self.id.lower())


@dataclasses.dataclass(frozen=True)
class Retention:
    """The retention policy (see `components.model.lifecycle.RetentionPolicy` for the documented config)."""

    keep_latest: int
    delete_older_than_days: Optional[int] = None
    end_of_life_days: Optional[int] = None
    pin_tag: str = "keep=true"

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> "Retention":
        def opt(key: str) -> Optional[int]:
            value = props.get(key)
            return None if value is None else int(value)

        return cls(keep_latest=int(props["keep_latest"]), delete_older_than_days=opt("delete_older_than_days"),
                   end_of_life_days=opt("end_of_life_days"), pin_tag=str(props.get("pin_tag") or "keep=true"))

    @property
    def eol_days(self) -> Optional[int]:
        return self.end_of_life_days if self.end_of_life_days is not None else self.delete_older_than_days

    def pins(self, version: Version) -> bool:
        name, sep, value = self.pin_tag.partition("=")
        for key, tag_value in (version.tags or {}).items():
            if key.strip().lower() == name.strip().lower() and (
                    not sep or str(tag_value).strip().lower() == value.strip().lower()):
                return True
        return False


@dataclasses.dataclass(frozen=True)
class Plan:
    """The outcome of a retention policy, by version name, newest first in each list."""

    kept: tuple[str, ...] = ()
    """Left as they are."""
    excluded: tuple[str, ...] = ()
    """Excluded from `latest` (already, or by this plan)."""
    deleted: tuple[str, ...] = ()
    end_of_life: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """End-of-life date (ISO 8601) of each excluded version that has or gets one."""
    updates: tuple[str, ...] = ()
    """Excluded versions that need a PATCH (flag not set yet, or end-of-life date missing)."""
    reasons: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Why each version is kept, excluded or deleted."""


def version_key(version: Version) -> tuple[dt.datetime, tuple[int, ...], str]:
    """Sort key, oldest first: publishedDate, then the version numbers, then the name."""
    m = _NUMBERS.match(version.name)
    numbers = tuple(int(x) for x in m.groups()) if m else ()
    return (_aware(version.published) or _OLDEST, numbers, version.name)


def plan_retention(versions: Iterable[Version], policy: Retention, now: dt.datetime,
                   protect: Iterable[str] = ()) -> Plan:
    """Apply `policy` to `versions` at time `now`.

    Newest first, a version is *kept* when it is protected (`protect`: names or ids, e.g. the version just built
    and the one being promoted), one of the newest `keep_latest`, pinned by `pin_tag`, or still being provisioned;
    otherwise it is *deleted* when `delete_older_than_days` is set and it was published longer ago than that, else
    *excluded* from `latest`, with an end-of-life date of publishedDate + `end_of_life_days` (default
    `delete_older_than_days`) unless it already has one. A version without a publishedDate is never deleted by age.
    """
    if policy.keep_latest < 1:
        raise ValueError(f"keep_latest must be at least 1, but {policy.keep_latest} was provided")
    now = _aware(now) or now
    guarded = [p for p in protect if p]
    ordered = sorted(versions, key=version_key, reverse=True)
    kept: list[str] = []
    excluded: list[str] = []
    deleted: list[str] = []
    updates: list[str] = []
    end_of_life: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for rank, v in enumerate(ordered):
        published = _aware(v.published)
        age_days = (now - published).total_seconds() / 86400 if published else None
        if any(v.matches(p) for p in guarded):
            kept.append(v.name)
            reasons[v.name] = "just built or being promoted"
        elif rank < policy.keep_latest:
            kept.append(v.name)
            reasons[v.name] = f"one of the newest {policy.keep_latest}"
        elif policy.pins(v):
            kept.append(v.name)
            reasons[v.name] = f"pinned by tag {policy.pin_tag}"
        elif v.provisioning_state.lower() in BUSY_STATES:
            kept.append(v.name)
            reasons[v.name] = f"provisioning state {v.provisioning_state}"
        elif policy.delete_older_than_days is not None and age_days is not None \
                and age_days > policy.delete_older_than_days:
            deleted.append(v.name)
            reasons[v.name] = (f"published {age_days:.0f} days ago, older than {policy.delete_older_than_days} "
                               f"days and not one of the newest {policy.keep_latest}")
        else:
            excluded.append(v.name)
            reasons[v.name] = f"not one of the newest {policy.keep_latest}"
            eol = _aware(v.end_of_life)
            if eol is None and policy.eol_days is not None and published is not None:
                eol = published + dt.timedelta(days=policy.eol_days)
                updates.append(v.name)
            elif not v.exclude_from_latest:
                updates.append(v.name)
            if eol is not None:
                end_of_life[v.name] = eol.isoformat()
    return Plan(tuple(kept), tuple(excluded), tuple(deleted), end_of_life, tuple(updates), reasons)


def promotion_target(mode: Optional[str], *, just_built: Optional[str], run_state: Optional[str],
                     validated: bool, version: Optional[str]) -> tuple[Optional[str], str]:
    """(version id to promote or None, why) for a promotion `mode`.

    `afterValidation` promotes `just_built` only when its run state is Succeeded and the template ran in-VM
    validations (`validated`): AIB fails the run (or, with continueDistributeOnFailure, ends it PartiallySucceeded)
    when a validator fails, so Succeeded with validators means they passed. `manual` promotes `version` when given.
    """
    if mode == "afterValidation":
        if not just_built:
            return None, "not promoted: no image version was built"
        if run_state != "Succeeded":
            return None, f"not promoted: the build ended {run_state or 'without a run state'}, not Succeeded"
        if not validated:
            return None, "not promoted: the template has no in-VM validations to pass"
        return just_built, "promoted: the build succeeded and its validators passed"
    if mode == "manual":
        if version:
            return version, "promoted: named by the promotion config (version or fromStack)"
        return None, "not promoted: manual promotion names no version"
    return None, "no promotion policy"


def parse_time(value: Any) -> Optional[dt.datetime]:
    """An ARM timestamp (ISO 8601 string or datetime) as an aware datetime; None when absent or unreadable."""
    if isinstance(value, dt.datetime):
        return _aware(value)
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # ARM may send 7 fractional digits; fromisoformat takes at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return _aware(dt.datetime.fromisoformat(text))
    except ValueError:
        return None


def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
