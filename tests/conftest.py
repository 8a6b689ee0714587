"""Shared helpers for tests that run Pulumi programs under mocks (see `components.offline.synth`)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from components.offline.program import RecordingMonitor, reveal
from components.offline.synth import AibMocks, run_program

ROOT = Path(__file__).resolve().parents[1]
REVISION = re.compile(r"^(?P<pipeline>.+)-[0-9a-f]{10}-(?P<kind>staging|template|tags|trigger|run|build)$")
"""A per-revision logical name (`components.plan.stack.ImagePlan.revision_name`)."""


def kind_name(name: str) -> str:
    """`name` without its template revision (`ubuntu-2204-1a2b3c4d5e-template` -> `ubuntu-2204-template`), for tests
    that look a resource up by what it is whatever the content."""
    match = REVISION.match(name)
    return f"{match['pipeline']}-{match['kind']}" if match else name


class Run:
    """What one mocked program run registered, with lookups by logical name and type."""

    def __init__(self, monitor: RecordingMonitor, value: Any) -> None:
        self.monitor = monitor
        self.value = value
        self.registrations = monitor.registrations
        self.by_urn = {r["urn"]: r for r in self.registrations}

    def named(self, name: str) -> dict:
        """The resource called `name`, or (for a name without revision) this pipeline's one of that kind."""
        found = [r for r in self.registrations if r["name"] == name] or [
            r for r in self.registrations if kind_name(r["name"]) == name]
        assert len(found) == 1, f"expected one resource named {name!r}, found {[r['type'] for r in found]}"
        return found[0]

    def of_type(self, suffix: str) -> list[dict]:
        return [r for r in self.registrations if r["type"].endswith(suffix)]

    def inputs(self, name: str) -> dict:
        return reveal(self.named(name)["inputs"])

    def parent_name(self, reg: dict) -> Optional[str]:
        parent = self.by_urn.get(reg["parent_urn"] or "")
        return parent["name"] if parent else None

    def dependency_names(self, reg: dict) -> set[str]:
        return {kind_name(self.by_urn[u]["name"]) for u in reg["dependencies"] if u in self.by_urn}


@pytest.fixture
def run_pulumi() -> Callable[..., Run]:
    """`run_pulumi(program, stack=..., config=..., mocks=...)`: run `program` under fresh mocks (the offline
    `AibMocks` unless given, e.g. with another `MockRun`) and return a `Run`."""

    def run(program: Callable[[], Any], *, project: str = "aib-images", stack: str = "test",
            config: Optional[dict[str, str]] = None, mocks: Optional[AibMocks] = None) -> Run:
        monitor, value = run_program(program, project=project, stack=stack, config=config or {}, mocks=mocks)
        return Run(monitor, value)

    return run


def stack_images(stack: str) -> dict[str, Any]:
    """The `images` mapping of `stacks/Pulumi.<stack>.yaml` (a fresh deep copy, to edit freely)."""
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(doc["config"]["aib-images:images"])
