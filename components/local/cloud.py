"""The local cloud: the ARM emulator and, for stacks that upload repository files, Azurite, with their state on disk.

Successive local commands (`scripts/pulumi.sh preview`, `up`, `refresh`, `destroy`) act on one cloud, as they would on
Azure: the first one starts a background `python -m components.local.cloud serve --dir DIR` and every later one
attaches to it through `DIR/endpoint.json` (owner-only: it holds the emulator's bearer token). The emulator keeps its
resources in `DIR/emulator.json` and Azurite its blobs in `DIR/azurite/`, so a restarted cloud has what it had.
`LocalCloud.env()` is what a process needs to reach it: the variables the build providers and the azure-native
stand-in read (`AIB_ARM_*`, `AIB_BLOB_*`).

One cloud per folder: the serving process holds an exclusive `flock` on `DIR/serve.lock` (its pid inside) for its whole
life, and a second one on the same folder refuses to start, since two emulators on one state file overwrite each
other's resources. Starting is serialised by `DIR/start.lock`, so two commands at once start one cloud. An unreadable
`endpoint.json` with a live holder of `serve.lock` stops that holder (its state is saved) and starts a fresh one. State
files are written atomically (a temporary file, then `os.replace`); a state file that is not JSON (a killed write, a
full disk) is one error line naming the file and the way out (`LocalCloudError`).

Tests that inject faults run the emulator in their own process instead (`Emulator(faults=...)`) and hand the same
variables to the CLI (`components.local.engine`).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional
from urllib.parse import urlparse

from components.local.azurite import ACCOUNT_KEY, Azurite

PHASE_SECONDS = 0.4
"""Real seconds per build phase on the emulator: a 45-minute build takes a few seconds."""
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
START_TIMEOUT = 60.0


class LocalCloudError(RuntimeError):
    """The local cloud cannot start or be reached; the message is one line naming the file and the way out."""


def check_state_file(path: Path) -> None:
    """Raise `LocalCloudError` when the emulator's state file exists but is not a JSON object (a truncated write)."""
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        where = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise LocalCloudError(f"{path}: the local cloud's state is not valid JSON ({where}); move it aside to start an "
                              f"empty cloud (mv {path} {path}.corrupt), then `bash scripts/pulumi.sh refresh --stack "
                              f"<stack> --yes` drops what it held from the stack") from None
    if not isinstance(data, dict):
        raise LocalCloudError(f"{path}: the local cloud's state is not a JSON object; move it aside to start an empty "
                              f"cloud (mv {path} {path}.corrupt)")


@dataclass
class Endpoint:
    """How to reach a running local cloud (the content of `endpoint.json`)."""

    pid: int
    arm_endpoint: str
    token: str
    ca_bundle: str
    phase_seconds: float
    blob_endpoint: str = ""
    accounts: list[str] = field(default_factory=list)
    code: str = ""
    """`code_digest()` of the emulator that serves: a cloud started by older code is restarted (its state is kept)."""

    def env(self) -> dict[str, str]:
        env = {"AIB_ARM_ENDPOINT": self.arm_endpoint, "AIB_ARM_TOKEN": self.token, "AIB_ARM_CA_BUNDLE": self.ca_bundle,
               **provider_timing(self.phase_seconds)}
        if self.blob_endpoint:
            env.update({"AIB_BLOB_ENDPOINT": self.blob_endpoint, "AIB_BLOB_ACCOUNT_KEY": ACCOUNT_KEY})
        return env

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        url = urlparse(self.arm_endpoint)
        try:
            with socket.create_connection((url.hostname or "127.0.0.1", url.port or 443), timeout=2):
                return True
        except OSError:
            return False


def provider_timing(phase_seconds: float, propagation_seconds: float = 0.0) -> dict[str, str]:
    """The build providers' clocks scaled to the emulator's: poll a few times a phase, wait out role propagation
    only as long as the emulator makes it last (none unless a test injects it), retry a denial briefly."""
    from components.providers.build_run.inputs import ENV_AUTH_RETRY_SECONDS
    from components.providers.role_settle import ENV_SECONDS as ENV_ROLE_SETTLE_SECONDS

    return {"AIB_POLL_SECONDS": str(max(0.05, phase_seconds / 4)),
            ENV_ROLE_SETTLE_SECONDS: str(propagation_seconds),
            ENV_AUTH_RETRY_SECONDS: str(max(2.0, phase_seconds * 10))}


class LocalCloud:
    """The background cloud of one state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.endpoint_file = self.folder / "endpoint.json"
        self.serve_lock = self.folder / "serve.lock"

    def serving_pid(self) -> Optional[int]:
        """The pid of the process that holds this folder's serve lock (a cloud serving it), else None."""
        if not self.serve_lock.exists():
            return None
        with open(self.serve_lock, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    @contextmanager
    def _starting(self) -> Iterator[None]:
        """Serialise start-ups of this folder's cloud across processes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "start.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def running(self) -> Optional[Endpoint]:
        if not self.endpoint_file.exists():
            return None
        try:
            endpoint = Endpoint(**json.loads(self.endpoint_file.read_text()))
        except (ValueError, TypeError):
            return None
        return endpoint if endpoint.alive() else None

    def ensure(self, accounts: Iterable[str] = (), phase_seconds: float = PHASE_SECONDS) -> Endpoint:
        """The running cloud, started (or restarted, with more storage accounts or newer code) when needed."""
        wanted = sorted(set(accounts))
        with self._starting():
            endpoint = self.running()
            if endpoint is not None and set(wanted) <= set(endpoint.accounts) and endpoint.code == code_digest():
                return endpoint
            if endpoint is not None:
                wanted = sorted(set(wanted) | set(endpoint.accounts))
                self.stop()
            elif self.serving_pid() is not None:
                self._stop_holder()  # a cloud serves this folder but its endpoint.json is unreadable: never a second
            return self._start(wanted, phase_seconds)

    def _stop_holder(self) -> None:
        """Stop the process holding the serve lock (SIGTERM: it saves its state and exits), waiting for the lock."""
        pid = self.serving_pid()
        if pid is not None and pid > 0:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.serving_pid() is not None:
            time.sleep(0.1)
        if self.serving_pid() is not None:
            raise LocalCloudError(f"{self.serve_lock}: another local cloud (pid {pid}) still serves this folder and its "
                                  f"endpoint.json is unreadable; stop it (kill {pid}) and run the command again")

    def _start(self, accounts: list[str], phase_seconds: float) -> Endpoint:
        self.folder.mkdir(parents=True, exist_ok=True)
        check_state_file(self.folder / "emulator.json")
        self.endpoint_file.unlink(missing_ok=True)
        log = open(self.folder / "cloud.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "components.local.cloud", "serve", "--dir", str(self.folder),
             "--phase-seconds", str(phase_seconds), *(["--accounts", ",".join(accounts)] if accounts else [])],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalCloudError(f"the local cloud did not start: {_last_line(self.folder / 'cloud.log')} "
                                      f"(all of it in {self.folder / 'cloud.log'})")
            endpoint = self.running()
            if endpoint is not None and endpoint.pid == process.pid:
                return endpoint
            time.sleep(0.1)
        process.terminate()
        raise LocalCloudError(f"the local cloud did not start within {START_TIMEOUT:.0f} s; see {self.folder / 'cloud.log'}")

    def stop(self) -> bool:
        """Stop the background cloud (its state stays on disk); False when none was running."""
        endpoint = self.running()
        if endpoint is None:
            if self.serving_pid() is None:
                return False
            self._stop_holder()  # serving, but its endpoint.json is unreadable
            self.endpoint_file.unlink(missing_ok=True)
            return True
        os.kill(endpoint.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        # Until it has saved its state and released the folder (it closes its port first).
        while time.monotonic() < deadline and (endpoint.alive() or self.serving_pid() == endpoint.pid):
            time.sleep(0.1)
        self.endpoint_file.unlink(missing_ok=True)
        return True


def code_digest() -> str:
    """A digest of the emulator's code, so that a background cloud started before a `git pull` is not reused."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((Path(__file__).resolve().parents[1] / "emulator").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no log"


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` owner-only and atomically: a reader sees the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def serving_lock(folder: Path) -> Iterator[None]:
    """Hold `folder/serve.lock` (exclusive, with this pid inside) while serving; LocalCloudError when another process
    serves the folder already."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / "serve.lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            raise LocalCloudError(f"{folder / 'serve.lock'}: another local cloud (pid {handle.read().strip() or '?'}) "
                                  f"serves this folder; stop it first (bash scripts/pulumi.sh cloud stop)") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


@contextmanager
def emulator_in(folder: Path, accounts: Iterable[str] = (), *, phase_seconds: float = PHASE_SECONDS,
                faults: Any = None) -> Iterator[Any]:
    """A started emulator whose state lives in `folder`, with Azurite (blobs in `folder/azurite`) serving the
    storage accounts `accounts` when there are any; both stopped on exit."""
    from components.emulator import Emulator

    folder.mkdir(parents=True, exist_ok=True)
    accounts = list(accounts)
    with Azurite(accounts, location=str(folder / "azurite")) if accounts else nullcontext() as azurite, Emulator(
            phase_seconds=phase_seconds, faults=faults, state_file=str(folder / "emulator.json"),
            blob_endpoint=azurite.endpoint if azurite else None,
            blob_account_key=azurite.key if azurite else None) as emulator:
        yield emulator


def serve(folder: Path, accounts: list[str], phase_seconds: float) -> int:
    """Run the emulator (and Azurite for `accounts`) until SIGTERM, state kept in `folder`."""
    os.umask(0o077)  # the emulator's state holds template bodies, inline commands included
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        with serving_lock(folder):
            check_state_file(folder / "emulator.json")
            return _serve_locked(folder, accounts, phase_seconds, stop)
    except LocalCloudError as err:
        print(f"local cloud: error: {err}", file=sys.stderr, flush=True)
        return 2


def _serve_locked(folder: Path, accounts: list[str], phase_seconds: float, stop: threading.Event) -> int:
    with emulator_in(folder, accounts, phase_seconds=phase_seconds) as emulator:
        endpoint = Endpoint(pid=os.getpid(), arm_endpoint=emulator.base_url, token=emulator.token,
                            ca_bundle=emulator.ca_bundle or "", phase_seconds=phase_seconds,
                            blob_endpoint=emulator.blob_endpoint or "", accounts=accounts, code=code_digest())
        _write_private(folder / "endpoint.json", json.dumps(asdict(endpoint), indent=2))
        print(f"local cloud: ARM at {emulator.base_url}" + (f", blobs at {endpoint.blob_endpoint}"
                                                           if endpoint.blob_endpoint else ""), flush=True)
        stop.wait()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.local.cloud",
                                     description="The local cloud: the ARM emulator and Azurite, state on disk.")
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("serve", help="run the cloud in the foreground")
    run.add_argument("--dir", required=True, type=Path)
    run.add_argument("--phase-seconds", type=float, default=PHASE_SECONDS)
    run.add_argument("--accounts", default="")
    stop = sub.add_parser("stop", help="stop the background cloud of a folder")
    stop.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.verb == "serve":
        return serve(args.dir, [a for a in args.accounts.split(",") if a], args.phase_seconds)
    print("stopped" if LocalCloud(args.dir).stop() else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
