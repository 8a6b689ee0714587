"""Helpers of the scenarios under the real Pulumi engine: the CLI `scripts/bootstrap.sh` builds, on an emulator in this process.

`LocalStack` is one copy of the project in a temporary folder with its own Pulumi backend and its own emulator (and
Azurite when the stack uploads repository files). `stack.pulumi("up", "--yes")` runs the real CLI through
`components.local.engine`, exactly what `scripts/pulumi.sh` runs; assertions read `pulumi stack export` and the
emulator's own state (`stack.cloud`), what Azure would hold, not what our code says it did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from components.emulator import Emulator, Faults
from components.local.azurite import accounts_for, unavailable_reason
from components.local.cloud import SUBSCRIPTION, emulator_in, provider_timing
from components.local.tools import BIN, ROOT as TOOLS
from tests.processes import kill_processes_in

REPO = Path(__file__).resolve().parents[2]
PHASE = 0.15
IMAGES = "aib-images:images"
TEMPLATE_TYPE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate"

if not (BIN / "pulumi").exists():
    pytest.skip("the Pulumi CLI is not built: run `bash scripts/bootstrap.sh`", allow_module_level=True)


def minimal_image(name: str, gallery: str = "gal_e2e", *, definition: Optional[str] = None) -> dict:
    """A Linux image with one inline step and a gallery target: no repository files, so no Azurite."""
    definition = definition or name
    return {
        "rebuildTrigger": "1",
        "gallery": {"imageDefinition": {"publisher": "contoso", "offer": definition, "sku": "e2e"}},
        "template": {
            "tags": {"owner": "e2e"},
            "properties": {
                "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                           "sku": "22_04-lts-gen2", "version": "latest"},
                "buildTimeoutInMinutes": 60,
                "customize": [{"type": "Shell", "name": "hello", "inline": ["echo hello"]}],
                "distribute": [{
                    "type": "SharedImage", "runOutputName": f"{name}-sig",
                    "galleryImageId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-e2e/providers/"
                                      f"Microsoft.Compute/galleries/{gallery}/images/{definition}",
                    "targetRegions": [{"name": "westeurope", "replicaCount": 1}]}],
            },
        },
    }


class LocalStack:
    """One project copy, one backend, one emulator; the real CLI in between."""

    def __init__(self, folder: Path, stack: str, config: dict, faults: Optional[Faults] = None,
                 phase: float = PHASE) -> None:
        self.folder = folder
        self.phase = phase
        self.project = folder / "project"
        self.state = folder / "state"
        self.stack = stack
        self.faults = faults or Faults()
        self._resources = ExitStack()
        self.project.mkdir(parents=True)
        self.state.mkdir()
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / name, self.project / name)
        for assets in ("scripts/linux", "files"):
            shutil.copytree(REPO / assets, self.project / assets)
        (self.project / "stacks").mkdir()
        self.write_config(config)
        self.cloud = self._start_cloud(config)

    # ---- config ------------------------------------------------------------------------------------------------
    @property
    def stack_file(self) -> Path:
        return self.project / "stacks" / f"Pulumi.{self.stack}.yaml"

    def write_config(self, config: dict) -> None:
        doc = yaml.safe_load(self.stack_file.read_text()) if self.stack_file.exists() else {}
        doc["config"] = config
        self.stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    def config(self) -> dict:
        return yaml.safe_load(self.stack_file.read_text())["config"]

    def edit(self, change: Callable[[dict], Any]) -> None:
        config = self.config()
        change(config)
        self.write_config(config)

    # ---- the cloud ---------------------------------------------------------------------------------------------
    def _start_cloud(self, config: dict) -> Emulator:
        from components.model.stack import config_from_stack_file, parse_stack_config

        spec = parse_stack_config(config_from_stack_file({"config": config}), source="e2e", project_dir=self.project)
        accounts = accounts_for(spec, SUBSCRIPTION)
        if accounts and unavailable_reason():
            pytest.skip(unavailable_reason())
        return self._resources.enter_context(emulator_in(self.state, accounts, phase_seconds=self.phase,
                                                         faults=self.faults))

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.cloud.client_env(), **provider_timing(self.phase, self.faults.auth_propagation_seconds),
                "AIB_LOCAL_STATE_DIR": str(self.state), "AIB_TOOLS_DIR": str(TOOLS), "PULUMI_CONFIG_PASSPHRASE":
                "aib-images-local"}

    def close(self) -> None:
        kill_processes_in(self.project)  # plugins an interrupted CLI left behind
        self._resources.close()

    # ---- the CLI -----------------------------------------------------------------------------------------------
    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "components.local.engine", *args, "--stack", self.stack]

    def pulumi(self, *args: str, check: bool = True, timeout: float = 300,
               env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
        """`pulumi ARGS` as a user runs it (`env`: variables the user sets for this command only)."""
        done = subprocess.run(self.command(*args), cwd=self.project, env={**self.env(), **(env or {})},
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} exited {done.returncode}:\n{done.stdout[-6000:]}"
                                 f"\n{done.stderr[-3000:]}")
        return done

    def start(self, *args: str) -> subprocess.Popen:
        """Start `pulumi ARGS` in a session of its own (so a test can kill it and everything it started)."""
        return subprocess.Popen(self.command(*args), cwd=self.project, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--non-interactive", "--skip-preview", *extra)

    def preview(self, *extra: str) -> subprocess.CompletedProcess:
        return self.pulumi("preview", "--non-interactive", *extra)

    def export(self) -> dict:
        return json.loads(self.pulumi("stack", "export").stdout)

    def outputs(self) -> dict:
        return json.loads(self.pulumi("stack", "output", "--json").stdout)

    def resources(self, type_suffix: str = "") -> list[dict]:
        """Resources in the stack's state (not pending deletes), optionally of types ending with `type_suffix`."""
        deployment = self.export()["deployment"]
        return [r for r in deployment.get("resources") or []
                if r["type"].endswith(type_suffix) and not r.get("delete")]

    # ---- the emulator ------------------------------------------------------------------------------------------
    def templates(self) -> dict[str, dict]:
        """Image templates the emulator holds, by name."""
        with self.cloud.state.lock:
            return {t["body"]["name"]: t for t in self.cloud.state.templates.values()}

    def runs(self, template_name: str) -> int:
        with self.cloud.state.lock:
            return sum(n for key, n in self.cloud.state.runs.items() if key.lower().endswith("/" + template_name.lower()))

    def arm(self):
        """azure-mgmt-resource's generic client on this stack's emulator: what a user does outside Pulumi."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(
            self.cloud.credential(), SUBSCRIPTION, base_url=self.cloud.base_url,
            credential_scopes=[self.cloud.base_url + "/.default"], connection_verify=self.cloud.ca_bundle,
            polling_interval=0.05)

    def holds(self, resource_id: str) -> bool:
        return self.cloud.state.resource(resource_id) is not None


def changes(result: subprocess.CompletedProcess) -> str:
    """The `Resources:` summary of a CLI run (for messages)."""
    text = result.stdout
    return text[text.rfind("Resources:"):] if "Resources:" in text else text[-800:]


def e2e_config(images: dict[str, dict]) -> dict:
    return {"azure-native:location": "westeurope", "aib-images:location": "westeurope",
            "aib-images:resourceGroupName": "rg-e2e", IMAGES: images}
