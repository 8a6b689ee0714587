"""`python -m components local --stack NAME`: the main job on the embedded default.

Starts the ARM emulator on loopback, points the build-run providers at it (the same environment a
real provider process would read), runs the stack's real `__main__.py` with `ArmMocks` as the engine
(every azure-native resource is PUT to the emulator, every dynamic resource runs its provider), shows
each build's progress as it happens and prints the stack outputs as `pulumi stack output` would.
Exits 0 when every build succeeded, 1 with the error when one failed, 2 for bad stack config.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, TextIO

from ..build_run.inputs import ENV_AUTH_RETRY_SECONDS
from ..spec import SpecError
from ..spec.stack import PROJECT, config_from_stack_file, parse_stack_config
from ..synth import mask, pulumi_config, run_program, stack_config
from .arm_mocks import ArmMocks
from .existing import seed

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
PHASE_SECONDS = 0.4
"""Real seconds per build phase on the emulator: a 45-minute build takes a few seconds."""


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set provider-process variables for the run, and put the old ones back afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def format_outputs(outputs: Mapping[str, Any]) -> str:
    """The stack outputs as `pulumi stack output` prints them (secrets shown as [secret])."""
    masked = mask(dict(outputs))
    lines = [f"Current stack outputs ({len(masked)}):", f"    {'OUTPUT':<24}VALUE"]
    for key in sorted(masked):
        value = masked[key]
        text = value if isinstance(value, str) else json.dumps(value, indent=None, sort_keys=True)
        lines.append(f"    {key:<24}{text}")
    return "\n".join(lines) + "\n"


def deploy(stack: str, *, project_dir: Path, emulator: Any, stderr: TextIO) -> tuple[dict, list[dict]]:
    """Run the stack program against a started emulator; return (stack outputs, registered resources)."""
    project, config, path = stack_config(project_dir, stack)
    stack_spec = parse_stack_config(config_from_stack_file({"config": config}), source=str(path)) \
        if project == PROJECT else None
    flat, secret_keys = pulumi_config(project, config)
    created: list[dict] = []

    def on_created(typ: str, name: str, rid: str) -> None:
        created.append({"type": typ, "name": name, "id": rid})
        stderr.write(f"  + {typ.split(':')[-1]:<28} {name}\n")
        stderr.flush()

    mocks = ArmMocks(base_url=emulator.base_url, credential=emulator.credential(), subscription=SUBSCRIPTION,
                     tenant=TENANT, connection_verify=emulator.ca_bundle or True, on_created=on_created)
    if stack_spec is not None:
        for rid in seed(stack_spec, mocks.client):
            print(f"  = existing {rid}", file=stderr, flush=True)
    env = {**emulator.client_env(), "AIB_POLL_SECONDS": str(max(0.05, emulator.phase_seconds / 4)),
           # No role propagation delay here unless a test injects one: a denial is real, so fail fast.
           ENV_AUTH_RETRY_SECONDS: str(max(2.0, emulator.phase_seconds * 10))}
    main = project_dir / "__main__.py"
    sys.path.insert(0, str(project_dir))
    try:
        with _environment(env):
            monitor, _ = run_program(lambda: runpy.run_path(str(main), run_name="__main__"), project=project,
                                     stack=stack, config=flat, secret_keys=secret_keys, mocks=mocks)
    finally:
        sys.path.remove(str(project_dir))
    return monitor.stack_outputs, created


def run_local(stack: str, *, project_dir: Path, as_json: bool = False, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, phase_seconds: float = PHASE_SECONDS, faults: Any = None) -> int:
    """Deploy `stack` to a fresh emulator (with `faults`, an `emulator.Faults`, if given); 0 when all went well."""
    from ..emulator import Emulator

    out: TextIO = stdout or sys.stdout
    err: TextIO = stderr or sys.stderr
    started = time.monotonic()
    with Emulator(phase_seconds=phase_seconds, faults=faults) as emulator:
        print(f"Local run of stack '{stack}' on the ARM emulator at {emulator.base_url}", file=err, flush=True)
        try:
            # Build providers report progress on the process's stderr, as in the provider process.
            with redirect_stderr(err):
                outputs, created = deploy(stack, project_dir=project_dir, emulator=emulator, stderr=err)
        except SpecError:
            raise
        except Exception as exc:  # the program or a provider failed: say what, not where in our code
            print(f"error: {_first_line_of_interest(exc)}", file=err, flush=True)
            return 1
    elapsed = time.monotonic() - started
    print(f"Resources: {len(created)} created in {elapsed:.1f}s", file=err, flush=True)
    if as_json:
        out.write(json.dumps(mask(dict(outputs)), indent=2, sort_keys=True) + "\n")
    else:
        out.write(format_outputs(outputs))
    return 0


def _first_line_of_interest(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
