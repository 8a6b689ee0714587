"""Helpers for the reliability suite: the real stack program on the emulator, with state kept for inspection.

`local_run(project, state_dir, faults=...)` runs `components.local.run_local` with a state directory, so that after the
run the emulator's own record (`emulator.json`: templates, their last run, runs started per template, resources) and
the engine's (`engine.json`) can be checked: what Azure would hold, not what our code says it did.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stacks import project  # noqa: E402,F401  (re-exported for the tests)
from components.local import run_local  # noqa: E402

PHASE = 0.2


@dataclass
class LocalRun:
    code: int
    stdout: str
    stderr: str
    state_dir: Path

    @property
    def outputs(self) -> dict:
        return json.loads(self.stdout) if self.code == 0 else {}

    @property
    def emulator(self) -> dict:
        return json.loads((self.state_dir / "emulator.json").read_text())

    @property
    def engine(self) -> dict:
        return json.loads((self.state_dir / "engine.json").read_text())

    def templates(self) -> dict[str, dict]:
        """Image templates the emulator holds, by name: {'runs', 'last' (lastRunStatus), 'provisioning'}."""
        doc = self.emulator
        out = {}
        for key, rec in doc["templates"].items():
            props = rec["body"]["properties"]
            out[rec["body"]["name"]] = {"runs": doc["runs"].get(key, 0), "last": props.get("lastRunStatus") or {},
                                        "provisioning": props.get("provisioningState")}
        return out

    def changes(self) -> dict[str, int]:
        return self.engine.get("last_run", {})


def local_run(proj: Path, state_dir: Path, *, stack: str = "bench", faults: Any = None,
              phase_seconds: float = PHASE) -> LocalRun:
    out, err = io.StringIO(), io.StringIO()
    code = run_local(stack, project_dir=proj, as_json=True, stdout=out, stderr=err, phase_seconds=phase_seconds,
                     faults=faults, state_dir=state_dir)
    return LocalRun(code, out.getvalue(), err.getvalue(), state_dir)


def settled(run: LocalRun) -> None:
    """Nothing is left running or canceling, and no template is stuck mid-provisioning."""
    for name, t in run.templates().items():
        assert t["last"].get("runState") not in ("Running", "Canceling"), (name, t["last"])
        assert t["provisioning"] in ("Succeeded", "Failed", None), (name, t["provisioning"])


def succeeded_once_each(run: LocalRun, images: Optional[list[str]] = None) -> None:
    """Every image exported a gallery version and VHD from exactly one run of exactly one template."""
    assert run.code == 0, run.stderr[-3000:]
    outputs = run.outputs
    templates = run.templates()
    for image in images or list(outputs):
        out = outputs[image]
        assert out["runState"] == "Succeeded", out
        assert "/versions/" in (out["imageVersionId"] or ""), out
        assert templates[out["templateName"]]["runs"] == 1, (image, templates[out["templateName"]])
        assert templates[out["templateName"]]["last"]["runState"] == "Succeeded"
    settled(run)
