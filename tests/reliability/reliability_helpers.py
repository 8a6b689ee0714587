"""Helpers for the reliability suite: the real stack program under the real Pulumi CLI, on an emulator in this process.

`local_run(project, state_dir, faults=...)` is `components.local.run_local` (the emulator here, then a real
`pulumi up` through `components.local.engine`) with a state directory, so that after the run two records can be
checked: the emulator's own (`emulator.json`: templates, their last run, runs started per template, resources), what
Azure would hold; and the engine's (`pulumi stack export`, and the CLI's own report of what it did, on stderr).

`interrupted_run(...)` is the same run with the CLI and everything it started killed (SIGKILL, the whole process
group) at a chosen moment: an engine that died, as a cancelled CI job or a lost runner leaves it. `cancel(...)` is the
runbook's `pulumi cancel` that releases the dead run's lock on the stack.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import kill_processes_in  # noqa: E402
from bench.stacks import project  # noqa: E402,F401  (re-exported for the tests)
from components.local import run_local  # noqa: E402
from components.local.run import UP_ARGS, check_stack, engine_command  # noqa: E402

PHASE = 0.2
STACK = "bench"
OFFLINE_CLOUD = {"AIB_ARM_ENDPOINT": "https://127.0.0.1:9"}
"""For CLI verbs that touch no cloud (`stack export`, `cancel`): the engine uses the caller's emulator when this is set
instead of starting a background one. Nothing listens there, and nothing is asked of it."""

#: What the CLI prints when a step ends (`<symbol> <type> <name> <status> (<duration>)`), by status: the step's op.
_DONE = {"created replacement": "create-replacement", "deleted original": "delete-replaced", "created": "create",
         "updated": "update", "replaced": "replace", "deleted": "delete", "read": "read", "imported": "import"}
_STEP = re.compile(r"^\s*(?:\+-|\+\+|--|\+|~|-|>|=|<)\s+(?P<type>[\w./-]+:[\w./:-]+)\s+(?P<name>\S+)\s+"
                   r"(?P<status>" + "|".join(_DONE) + r")(?: \(|\s*$)")
#: The `Resources:` summary's words, by op (`+ 3 created`, `~ 1 updated`, `+-1 replaced`, `7 changes. 40 unchanged`).
_SUMMARY = {"created": "create", "updated": "update", "replaced": "replace", "deleted": "delete", "unchanged": "same",
            "imported": "import", "read": "read"}


def engine_env(state_dir: Path) -> dict[str, str]:
    return {**os.environ, **OFFLINE_CLOUD, "AIB_LOCAL_STATE_DIR": str(state_dir)}


def engine(state_dir: Path, proj: Path, *args: str, stack: str = STACK) -> subprocess.CompletedProcess:
    """`scripts/pulumi.sh ARGS --stack STACK` for a verb that needs no cloud, on the run's backend."""
    return subprocess.run(engine_command(*args, "--stack", stack), cwd=proj, env=engine_env(state_dir),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def cancel(run: "LocalRun") -> None:
    """`pulumi cancel`: what the runbook does after an engine died holding the stack's lock."""
    done = engine(run.state_dir, run.project, "cancel", "--yes", "--non-interactive")
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class LocalRun:
    code: int
    stdout: str
    stderr: str
    state_dir: Path
    project: Path

    @property
    def outputs(self) -> dict:
        return json.loads(self.stdout) if self.code == 0 else {}

    @property
    def emulator(self) -> dict:
        return json.loads((self.state_dir / "emulator.json").read_text())

    def export_text(self, *extra: str) -> str:
        """`pulumi stack export` of the run's stack, as the CLI prints it."""
        done = engine(self.state_dir, self.project, "stack", "export", *extra)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def export(self) -> dict:
        return json.loads(self.export_text())

    def templates(self) -> dict[str, dict]:
        """Image templates the emulator holds, by name: {'runs', 'last' (lastRunStatus), 'provisioning'}."""
        doc = self.emulator
        out = {}
        for key, rec in doc["templates"].items():
            props = rec["body"]["properties"]
            out[rec["body"]["name"]] = {"runs": doc["runs"].get(key, 0), "last": props.get("lastRunStatus") or {},
                                        "provisioning": props.get("provisioningState")}
        return out

    def summary(self) -> dict[str, int]:
        """The CLI's `Resources:` summary of this run, by op: {'create': 42} or {'same': 44}."""
        text = self.stderr[self.stderr.rfind("\nResources:"):]
        out: dict[str, int] = {}
        for line in text.splitlines()[1:]:
            if not line.strip():
                break
            for count, word in re.findall(r"(\d+) (\w+)", line):  # `7 changes. 35 unchanged` shares a line
                if word in _SUMMARY:
                    out[_SUMMARY[word]] = int(count)
        return out

    def changes(self) -> dict[str, int]:
        """What the engine did, per resource type and op (`ImageBuildStart.same`, `VirtualMachineImageTemplate.replace`,
        `...create-replacement`, `...delete-replaced`): every step the CLI reported as done, and `same` for every
        resource of the stack it did not touch. Checked against the CLI's own `Resources:` summary."""
        steps: set[tuple[str, str, str]] = set()  # (type, name, op): a replacement reports three ops
        for line in self.stderr.splitlines():
            m = _STEP.match(line)
            if m:
                steps.add((m.group("type"), m.group("name"), _DONE[m.group("status")]))
        counts: Counter[str] = Counter(f"{t.rsplit(':', 1)[-1]}.{op}" for t, _, op in steps)
        touched = {key[:2] for key in steps}
        for res in self.export()["deployment"].get("resources") or []:
            name = res["urn"].rsplit("::", 1)[-1]
            if res["type"].startswith("pulumi:providers:") and name.startswith("default"):
                continue  # default providers: state the engine keeps, not resources the summary counts
            if not res.get("delete") and (res["type"], name) not in touched:
                counts[f"{res['type'].rsplit(':', 1)[-1]}.same"] += 1
        summary = self.summary()
        for op in ("create", "update", "replace", "delete", "same"):
            found = sum(n for k, n in counts.items() if k.endswith("." + op))
            assert found == summary.get(op, 0), (op, found, summary, dict(counts))
        return dict(counts)


def local_run(proj: Path, state_dir: Path, *, stack: str = STACK, faults: Any = None,
              phase_seconds: float = PHASE, args: tuple[str, ...] = UP_ARGS) -> LocalRun:
    out, err = io.StringIO(), io.StringIO()
    code = run_local(stack, project_dir=proj, as_json=True, stdout=out, stderr=err, phase_seconds=phase_seconds,
                     faults=faults, state_dir=state_dir, args=args)
    return LocalRun(code, out.getvalue(), err.getvalue(), state_dir, proj)


Trigger = Callable[[str, str, int], bool]
"""(method, path, status) of a request the emulator just answered -> kill the engine before the answer goes out."""


def interrupted_run(proj: Path, state_dir: Path, *, stack: str = STACK, faults: Any = None,
                    phase_seconds: float = PHASE, on_request: Optional[Trigger] = None,
                    on_output: Optional[Callable[[str], bool]] = None, timeout: float = 240) -> LocalRun:
    """`run_local`'s `pulumi up`, in a session of its own, SIGKILLed with everything it started (CLI, language host,
    program, provider hosts) when the emulator has just handled a request `on_request` picks (its answer is never
    sent), or when the CLI's output so far satisfies `on_output`. Returns with the emulator stopped, its state saved."""
    from components.emulator import Faults
    from components.local.cloud import emulator_in, provider_timing

    faults = faults or Faults()
    accounts = check_stack(proj, stack)
    output: list[str] = []
    killed = threading.Event()
    holder: dict[str, subprocess.Popen] = {}

    def kill() -> None:
        if not killed.is_set() and "process" in holder:
            killed.set()
            os.killpg(holder["process"].pid, signal.SIGKILL)

    with emulator_in(state_dir, accounts, phase_seconds=phase_seconds, faults=faults) as emu:
        if on_request is not None:
            dispatch = emu._dispatch

            def dispatch_then_maybe_kill(req: Any) -> Any:
                reply = dispatch(req)
                if on_request(req.method, req.path, reply.status):
                    kill()
                return reply

            emu._dispatch = dispatch_then_maybe_kill  # type: ignore[method-assign]
        env = {**os.environ, **emu.client_env(), **provider_timing(phase_seconds, faults.auth_propagation_seconds),
               "AIB_LOCAL_STATE_DIR": str(state_dir)}
        process = subprocess.Popen(engine_command(*UP_ARGS, "--stack", stack), cwd=proj, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        holder["process"] = process
        assert process.stdout is not None
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            for line in process.stdout:
                output.append(line)
                if on_output is not None and on_output("".join(output)):
                    kill()
            code = process.wait()
        finally:
            timer.cancel()
            kill_processes_in(proj)  # the plugins the killed CLI started live on in groups of their own
    assert killed.is_set(), "the run ended before the moment it was to be interrupted:\n" + "".join(output)[-3000:]
    return LocalRun(code, "", "".join(output), state_dir, proj)


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
