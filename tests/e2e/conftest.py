"""The `local_stack` fixture: `LocalStack`s (e2e_helpers.py) made in the test's folder, their emulators stopped after.

After each scenario, every PUT and PATCH body its emulator(s) received is judged against the official definitions
(tests/judge.py): a body the REST definition of its type and api-version does not accept fails the scenario, naming
the type, api-version, request path, path in the body and the problem; so does a body of a type with no definition.
`AIB_JUDGE_STRICT=0` only reports them (in the test's report sections). Counts per type and api-version are written
to `.local/judged-bodies.json` at the end of the session.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from components.emulator import Faults
from e2e_helpers import PHASE, REPO, LocalStack
from tests.judge import WRITES, NoDefinition, arm_type, problems

JUDGED = REPO / ".local" / "judged-bodies.json"
INTERNAL_PREFIXES = ("/_emulator/", "/packerlogs/")
"""Requests to the emulator's own endpoints, not to ARM: never judged."""
_judged: Counter = Counter()
_failed: Counter = Counter()
_failures: list[str] = []


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    made: list[LocalStack] = []

    def make(config: dict, *, stack: str = "e2e", faults: Optional[Faults] = None, name: str = "a",
             phase: float = PHASE) -> LocalStack:
        made.append(LocalStack(tmp_path / name, stack, config, faults, phase))
        return made[-1]

    make.made = made  # type: ignore[attr-defined]  # read by the judge below
    yield make
    for stack in made:
        stack.close()


def _recorded_bodies(item: pytest.Item) -> list[dict]:
    """The bodies the scenario's emulators received: in this process (local_stack), or a background local cloud's
    (the clone of test_e2e_scripts), read from its GET /_emulator/bodies while it still runs."""
    bodies: list[dict] = []
    make = item.funcargs.get("local_stack") if hasattr(item, "funcargs") else None  # type: ignore[attr-defined]
    for stack in getattr(make, "made", []):
        with stack.cloud.state.lock:
            bodies += list(stack.cloud.bodies)
    clone = item.funcargs.get("clone") if hasattr(item, "funcargs") else None  # type: ignore[attr-defined]
    if clone:
        for endpoint_file in Path(clone[0]).glob(".local/cloud/endpoint.json"):
            bodies += _fetch_bodies(json.loads(endpoint_file.read_text()))
    return bodies


def _fetch_bodies(endpoint: dict) -> list[dict]:
    import requests

    try:
        answer = requests.get(endpoint["arm_endpoint"] + "/_emulator/bodies", timeout=30,
                              headers={"Authorization": f"Bearer {endpoint['token']}"},
                              verify=endpoint.get("ca_bundle") or True)
    except requests.RequestException:
        return []  # the cloud has stopped: its bodies are gone
    return answer.json()["value"] if answer.ok else []


def judge_bodies(bodies: list[dict]) -> list[str]:
    """Every problem of every PUT/PATCH body, each line naming type, api-version, method and request path."""
    found = []
    for record in bodies:
        method, path, version = record["method"].upper(), record["path"], record.get("apiVersion") or ""
        if method not in WRITES or path.startswith(INTERNAL_PREFIXES):
            continue
        resource_type = arm_type(path) or f"(no resource type: {path})"
        key = f"{resource_type} {version}"
        _judged[key] += 1
        try:
            issues = problems(resource_type, version, record["body"], method)
        except NoDefinition as e:
            issues = [f"(no definition) {e}"]
        if issues:
            _failed[key] += 1
            found += [f"{resource_type} {version} {method} {path}: {issue}" for issue in issues]
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        result = yield
    except BaseException:
        _judge(item, fail=False)  # counted and reported; the scenario's own failure stays the one shown
        raise
    _judge(item, fail=os.environ.get("AIB_JUDGE_STRICT", "1") != "0")
    return result


def _judge(item: pytest.Item, fail: bool) -> None:
    found = judge_bodies(_recorded_bodies(item))
    if not found:
        return
    unique = list(dict.fromkeys(found))
    _failures.extend(f"{item.nodeid}: {line}" for line in unique)
    text = "\n".join(unique)
    item.add_report_section("call", "judged bodies", text)
    if fail:
        raise AssertionError(f"{len(unique)} problem(s) in request bodies judged against the official ARM "
                             f"definitions (AIB_JUDGE_STRICT=0 only reports them):\n{text}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _judged:
        return
    JUDGED.parent.mkdir(parents=True, exist_ok=True)
    JUDGED.write_text(json.dumps({
        "judged": sum(_judged.values()), "failed": sum(_failed.values()),
        "byTypeAndApiVersion": {key: {"judged": n, "failed": _failed[key]} for key, n in sorted(_judged.items())},
        "problems": _failures,
    }, indent=2) + "\n")
