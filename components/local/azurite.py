"""Azurite (the Azure Storage emulator, from npm) for the local run: the blob service repository files go to.

`scripts/bootstrap.sh` installs it once into `.local/` when npm exists (`npm ci --ignore-scripts` from `tools/azurite/package-lock.json`).
`Azurite(accounts)` starts `azurite-blob` on a free loopback port in a temporary folder (or `location`), with one
storage account per name (Azurite serves path-style URLs, `http://127.0.0.1:<port>/<account>/<container>/<blob>`, and
only for accounts it was started with) sharing one key, and stops it on exit. The local run hands the endpoint and
key to the emulator, which maps `https://<account>.blob.core.windows.net/...` there, and to the upload provider.

`accounts_for(stack, subscription)` lists the accounts a stack's pipelines upload to, the same names the pipeline
derives (`components.plan.stack.script_storage`).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING, Optional

from components.local.tools import AZURITE as LOCAL_BIN

if TYPE_CHECKING:  # the local engine imports this module on every command; the spec models only when it reads a stack
    from components.model.stack import StackConfig

ACCOUNT_KEY = base64.b64encode(b"aib-images-local-run-azurite-key").decode()
"""One made-up key for every account: Azurite needs one per account, and nothing here is secret."""
_LISTENING = re.compile(r"listens on (https?://[\d.]+:\d+)")


def executable() -> Optional[str]:
    """The azurite-blob command: the project's `.local` install, else one on PATH; None when neither exists."""
    if LOCAL_BIN.exists():
        return str(LOCAL_BIN)
    return shutil.which("azurite-blob")


def unavailable_reason() -> Optional[str]:
    """Why Azurite cannot run here (None when it can)."""
    if executable() is None:
        if shutil.which("node") is None:
            return "Azurite needs Node.js, and `node` is not installed"
        return "Azurite is not installed: run `bash scripts/bootstrap.sh` (npm ci --ignore-scripts from tools/azurite/package-lock.json)"
    if shutil.which("node") is None:
        return "Azurite needs Node.js, and `node` is not on PATH"
    return None


def accounts_for(stack: StackConfig, subscription_id: str) -> list[str]:
    """Storage accounts the stack's pipelines upload repository files to (the plan's `script_storage`; the container
    it also names, which the project and stack names decide, does not matter here)."""
    from components.plan.stack import script_storage

    places = (script_storage(image, image_name=name, subscription_id=subscription_id,
                             resource_group=stack.resource_group_name, project="", stack_name="")
              for name, image in stack.images.items())
    return sorted({place.account_name for place in places if place is not None})


class Azurite:
    """A running `azurite-blob` with the given accounts; use as a context manager."""

    def __init__(self, accounts: list[str], *, location: Optional[str] = None, start_timeout: float = 30.0) -> None:
        self.accounts = list(accounts) or ["devstoreaccount1"]
        self.key = ACCOUNT_KEY
        self.location = location
        self.start_timeout = start_timeout
        self.endpoint: Optional[str] = None
        self._tmpdir: Optional[str] = None
        self._process: Optional[subprocess.Popen] = None
        self._output: list[str] = []

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "Azurite":
        reason = unavailable_reason()
        command = executable()
        if reason or command is None:
            raise RuntimeError(reason or "Azurite is not installed")
        folder = self.location
        if folder is None:
            folder = self._tmpdir = tempfile.mkdtemp(prefix="aib-azurite-")
        os.makedirs(folder, exist_ok=True)
        env = {**os.environ, "AZURITE_ACCOUNTS": ";".join(f"{a}:{self.key}" for a in self.accounts)}
        self._process = subprocess.Popen(
            [command, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", folder, "--skipApiVersionCheck",
             "--loose", "--disableTelemetry", "--silent"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        found = threading.Event()
        threading.Thread(target=self._read, args=(self._process.stdout, found), daemon=True,
                         name="azurite-output").start()
        deadline = time.monotonic() + self.start_timeout
        while not found.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = "".join(self._output).strip()
                self.stop()
                raise RuntimeError(f"Azurite did not start: {output or 'no output'}")
        return self

    def _read(self, stream: Optional[IO[str]], found: threading.Event) -> None:
        for line in stream or []:
            self._output.append(line)
            if not found.is_set() and (m := _LISTENING.search(line)):
                self.endpoint = m.group(1)
                found.set()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class AzuriteUnavailable(RuntimeError):
    """The stack uploads repository files, and Azurite cannot run here."""
