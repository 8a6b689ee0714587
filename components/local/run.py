"""`python -m components local --stack NAME` and the tests' local runs: a real `pulumi up` on an emulator of their own.

`run_local` starts an emulator in this process (so a caller can inject faults and read its state), Azurite when the
stack uploads repository files, then runs the real CLI through `components.local.engine` (`pulumi up --yes`), and
prints the stack outputs as `pulumi stack output` does. With `state_dir` the emulator's resources and the Pulumi
backend live there, so the next run with the same folder is an update of this one, as a second `pulumi up` is.
Exit status: 0 when the update succeeded, 1 when it failed (the CLI's own report is on stderr), 2 for bad stack config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Optional, TextIO

from components.model import SpecError
from components.local.azurite import AzuriteUnavailable, accounts_for, unavailable_reason
from components.local.cloud import PHASE_SECONDS, SUBSCRIPTION, emulator_in, provider_timing
from components.local.engine import read_stack_spec

UP_ARGS = ("up", "--yes", "--skip-preview", "--non-interactive")


def engine_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "components.local.engine", *args]


def check_stack(project_dir: Path, stack: str) -> list[str]:
    """Validate an aib-images stack before anything starts (SpecError with paths); its storage accounts."""
    spec = read_stack_spec(project_dir, stack)
    return accounts_for(spec, SUBSCRIPTION) if spec is not None else []


def _pump(stream: IO[str], sink: TextIO) -> None:
    for line in stream:
        sink.write(line)
        sink.flush()


def run_engine(args: list[str], *, project_dir: Path, env: dict[str, str], stderr: TextIO) -> subprocess.Popen:
    """Start `pulumi ARGS` through the local engine, its output streamed to `stderr` as it comes."""
    process = subprocess.Popen(engine_command(*args), cwd=project_dir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    threading.Thread(target=_pump, args=(process.stdout, stderr), daemon=True).start()
    return process


def stack_outputs(stack: str, *, project_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(engine_command("stack", "output", "--json", "--stack", stack), cwd=project_dir, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout or "{}")


def format_outputs(outputs: dict[str, Any]) -> str:
    """The stack outputs as `pulumi stack output` prints them."""
    lines = [f"Current stack outputs ({len(outputs)}):", f"    {'OUTPUT':<24}VALUE"]
    for key in sorted(outputs):
        value = outputs[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines.append(f"    {key:<24}{text}")
    return "\n".join(lines) + "\n"


def run_local(stack: str, *, project_dir: Path, as_json: bool = False, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, phase_seconds: float = PHASE_SECONDS, faults: Any = None,
              state_dir: Optional[Path] = None, args: tuple[str, ...] = UP_ARGS) -> int:
    """`pulumi ARGS --stack STACK` (default: `up`) on a fresh emulator (with `faults`, an `emulator.Faults`), then the
    stack outputs. `state_dir`: keep the cloud's and the backend's state there (default: a temporary folder)."""
    from components.emulator import Faults

    out: TextIO = stdout or sys.stdout
    err: TextIO = stderr or sys.stderr
    project_dir = Path(project_dir)
    accounts = check_stack(project_dir, stack)  # SpecError: the caller reports it (exit 2)
    if accounts and unavailable_reason():
        print(f"error: {AzuriteUnavailable(unavailable_reason())}", file=err, flush=True)
        return 1
    faults = faults or Faults()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aib-local-") as scratch:
        state = Path(state_dir) if state_dir is not None else Path(scratch)
        with emulator_in(state, accounts, phase_seconds=phase_seconds, faults=faults) as emulator:
            env = {**os.environ, **emulator.client_env(),
                   **provider_timing(phase_seconds, faults.auth_propagation_seconds),
                   "AIB_LOCAL_STATE_DIR": str(state)}
            print(f"Local run of stack '{stack}': the Pulumi CLI on the ARM emulator at {emulator.base_url}",
                  file=err, flush=True)
            process = run_engine([*args, "--stack", stack], project_dir=project_dir, env=env, stderr=err)
            code = process.wait()
            if code != 0:
                return 1
            outputs = stack_outputs(stack, project_dir=project_dir, env=env)
    print(f"Local run finished in {time.monotonic() - started:.1f}s", file=err, flush=True)
    out.write(json.dumps(outputs, indent=2, sort_keys=True) + "\n" if as_json else format_outputs(outputs))
    return 0


__all__ = ["run_local", "SpecError"]
