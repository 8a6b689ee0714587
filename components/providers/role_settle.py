"""Give new role assignments time to take effect before the image template is created.

Azure RBAC is eventually consistent: an assignment answers "created" before every service sees it, and
Image Builder checks the template identity's access (the staging resource group, the gallery) when the
template is *created*, a PUT that azure-native does not retry. `principalType: ServicePrincipal` avoids
the missing-principal error, not this delay. So the template depends on `RoleSettle`, which returns once
`seconds` have passed since the newest of the assignments was created (a replaced or added assignment
starts the wait again; an unchanged stack waits for nothing). No check can tell from outside when the
identity itself sees the role, so this is a bounded wait; the build provider still retries "Not
authorized" at run time.

The wait happens in `create`, on one of the provider host's four threads, and never exceeds `seconds` (it counts from
`createdOn`, so waits queued behind each other do not add up); `diff` only compares ids and never waits. At preview a
replaced assignment's id is unknown, which `diff` answers with a replacement (a new wait).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Optional, Sequence

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.providers.build_run.inputs import is_unknown
from components.plan.lifecycle import parse_time

DEFAULT_SECONDS = 90.0
"""RBAC changes for service principals usually reach Image Builder within a minute or two."""
ENV_SECONDS = "AIB_ROLE_SETTLE_SECONDS"
"""Provider-process override of the default (the local run sets it to its emulator's propagation window)."""


def settle_seconds(seconds: Optional[float]) -> float:
    if seconds is not None:
        return float(seconds)
    return float(os.environ.get(ENV_SECONDS) or DEFAULT_SECONDS)


def remaining_seconds(created_on: Sequence[Optional[str]], seconds: float, now: float) -> float:
    """How long to wait so that `seconds` have passed since the newest assignment (now when a time is unknown)."""
    newest = now
    stamps = [_timestamp(c) for c in created_on]
    if stamps and all(s is not None for s in stamps):
        newest = max(s for s in stamps if s is not None)
    return max(0.0, newest + seconds - now)


def _timestamp(value: Optional[str]) -> Optional[float]:
    """ARM's `createdOn` in seconds; `parse_time` copes with its 7 fractional digits on every supported Python."""
    parsed = parse_time(value)
    return parsed.timestamp() if parsed is not None else None


class RoleSettleProvider(ResourceProvider):
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        wait = remaining_seconds(props.get("created_on") or [], settle_seconds(props.get("seconds")), time.time())
        time.sleep(wait)
        return CreateResult(str(uuid.uuid4()), {**props, "waited_seconds": round(wait, 1)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # At preview a replaced assignment's id is unknown: that is a new assignment, hence a new wait.
        new_ids = news.get("assignment_ids")
        changed = is_unknown(new_ids) or sorted(olds.get("assignment_ids") or []) != sorted(new_ids or [])
        return DiffResult(changes=changed, replaces=["assignment_ids"] if changed else [],
                          delete_before_replace=False)


class RoleSettle(Resource, module="aib", name="RoleSettle"):
    """Completes `seconds` (default 90, env AIB_ROLE_SETTLE_SECONDS) after the newest of `assignments` was created."""

    waited_seconds: pulumi.Output[float]

    def __init__(self, name: str, assignments: Sequence[pulumi.CustomResource], seconds: Optional[float] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {
            "assignment_ids": [a.id for a in assignments],
            "created_on": [a.created_on for a in assignments],  # type: ignore[attr-defined]
            "seconds": seconds,
            "waited_seconds": None,
        }
        super().__init__(RoleSettleProvider(), name, props, opts)
