"""`python -m components local --stack NAME`: the main job on the embedded default.

Starts the ARM emulator on loopback, points the build-run providers at it (the same environment a
real provider process would read), runs the stack's real `__main__.py` with `ArmMocks` as the engine
(every azure-native resource is PUT to the emulator, every dynamic resource runs its provider), shows
each build's progress as it happens and prints the stack outputs as `pulumi stack output` would.
Exits 0 when every build succeeded, 1 with the error when one failed, 2 for bad stack config.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, redirect_stderr
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, TextIO

from ..build_run.inputs import ENV_AUTH_RETRY_SECONDS
from ..role_settle import ENV_SECONDS as ENV_ROLE_SETTLE_SECONDS
from ..spec import SpecError
from ..spec.stack import PROJECT, config_from_stack_file, parse_stack_config
from ..program import mask, pulumi_config, run_program, stack_config
from .arm_mocks import ArmMocks
from .azurite import AzuriteUnavailable, blob_service_for
from .existing import seed
from .state import EngineState

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
PHASE_SECONDS = 0.4
ENGINE_PARALLELISM = 16
"""Resource operations the local engine runs at once (`pulumi up --parallel`; dynamic providers stay at four)."""
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


def deploy(stack: str, *, project_dir: Path, emulator: Any, stderr: TextIO, state: Optional[EngineState] = None
           ) -> tuple[dict, list[dict]]:
    """Run the stack program against a started emulator; return (stack outputs, resources created).

    `state`: the engine state of earlier runs on this emulator; the run is then an update (unchanged resources are left
    alone, replaced and removed ones deleted at the end) and `state` is saved, also when the run fails half-way.
    """
    project, config, path = stack_config(project_dir, stack)
    stack_spec = parse_stack_config(config_from_stack_file({"config": config}), source=str(path),
                                    project_dir=project_dir) if project == PROJECT else None
    flat, secret_keys = pulumi_config(project, config)
    created: list[dict] = []

    def on_created(typ: str, name: str, rid: str) -> None:
        created.append({"type": typ, "name": name, "id": rid})
        stderr.write(f"  + {typ.split(':')[-1]:<28} {name}\n")
        stderr.flush()

    mocks = ArmMocks(base_url=emulator.base_url, credential=emulator.credential(), subscription=SUBSCRIPTION,
                     tenant=TENANT, connection_verify=emulator.ca_bundle or True, on_created=on_created,
                     state=state)
    if stack_spec is not None:
        for rid in seed(stack_spec, mocks.client):
            print(f"  = existing {rid}", file=stderr, flush=True)
    env = {**emulator.client_env(), "AIB_POLL_SECONDS": str(max(0.05, emulator.phase_seconds / 4)),
           # No role propagation delay here unless a test injects one: a denial is real, so fail fast.
           ENV_AUTH_RETRY_SECONDS: str(max(2.0, emulator.phase_seconds * 10)),
           # Role assignments take effect after the emulator's propagation window (none unless a test sets one).
           ENV_ROLE_SETTLE_SECONDS: str(emulator.faults.auth_propagation_seconds)}
    main = project_dir / "__main__.py"
    sys.path.insert(0, str(project_dir))
    # The SDK sends each registration to the engine from the event loop's default executor (min(32, cpus + 4)
    # threads); here every registration is a blocking ARM request, so give it the engine's parallelism instead.
    asyncio.get_event_loop().set_default_executor(ThreadPoolExecutor(ENGINE_PARALLELISM, "local-engine"))
    try:
        with _environment(env):
            monitor, _ = run_program(lambda: runpy.run_path(str(main), run_name="__main__"), project=project,
                                     stack=stack, config=flat, secret_keys=secret_keys, mocks=mocks)
            if state is not None:
                state.note_options(monitor.registrations)
                state.finish(mocks.delete)
    finally:
        sys.path.remove(str(project_dir))
        if state is not None:
            state.save()  # what completed is recorded, as the engine checkpoints an interrupted update
    return monitor.stack_outputs, created


def run_local(stack: str, *, project_dir: Path, as_json: bool = False, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, phase_seconds: float = PHASE_SECONDS, faults: Any = None,
              state_dir: Optional[Path] = None) -> int:
    """Deploy `stack` to a fresh emulator (with `faults`, an `emulator.Faults`, if given); 0 when all went well.

    `state_dir`: keep the emulator's state and the engine's state there (`emulator.json`, `engine.json`), so the next
    run with the same directory is an update of this one, as a second `pulumi up` is. Default: a fresh, stateless run.
    """
    from ..emulator import Emulator

    out: TextIO = stdout or sys.stdout
    err: TextIO = stderr or sys.stderr
    started = time.monotonic()
    state = None
    emulator_file = None
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        state = EngineState(Path(state_dir) / "engine.json")
        emulator_file = str(Path(state_dir) / "emulator.json")
    # Repository files (script/sourceFile) are uploaded to Azurite, which the emulator's builds download them from.
    try:
        azurite = blob_service_for(stack, project_dir=project_dir, subscription_id=SUBSCRIPTION, state_dir=state_dir)
    except AzuriteUnavailable as exc:
        print(f"error: {exc}", file=err, flush=True)
        return 1
    with azurite or nullcontext(), Emulator(
            phase_seconds=phase_seconds, faults=faults, state_file=emulator_file,
            blob_endpoint=azurite.endpoint if azurite else None,
            blob_account_key=azurite.key if azurite else None) as emulator:
        print(f"Local run of stack '{stack}' on the ARM emulator at {emulator.base_url}", file=err, flush=True)
        try:
            # Build providers report progress on the process's stderr, as in the provider process.
            with redirect_stderr(err):
                outputs, created = deploy(stack, project_dir=project_dir, emulator=emulator, stderr=err, state=state)
        except SpecError:
            raise
        except Exception as exc:  # the program or a provider failed: say what, not where in our code
            print(f"error: {_first_line_of_interest(exc)}", file=err, flush=True)
            return 1
    elapsed = time.monotonic() - started
    print(f"Resources: {len(created)} created in {elapsed:.1f}s", file=err, flush=True)
    if state is not None:
        print(f"Changes: {state.summary()}", file=err, flush=True)
    if as_json:
        out.write(json.dumps(mask(dict(outputs)), indent=2, sort_keys=True) + "\n")
    else:
        out.write(format_outputs(outputs))
    return 0


def _first_line_of_interest(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
