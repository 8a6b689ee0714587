"""The pipeline from another Pulumi language (issue 25): examples/yaml-platform, a YAML program that uses the
`aib-images` component package (package/), under the real CLI, the YAML language host built from the Go module proxy
(tools/pulumi-yaml) and the local cloud: `up` builds two images and a scale set running the web image's built version,
a second `up` changes nothing, `destroy` leaves nothing.

It runs through `components.local.engine`, as `scripts/pulumi.sh` does in the example's folder, with the three local
pieces a YAML program using the package needs: the CLI starts the package (`runtime: python`) through the
`pulumi-language-python` it finds on PATH (`components/local/plugins/`, the local Python host's RunPlugin); the YAML
host type-checks every resource against its package's schema, azure-native's too (GetSchema of the stand-in,
`components/local/azure_schema.py`); and the engine gives its own Python host with `--client` only to Python programs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from components.emulator import Emulator
from components.local.cloud import SUBSCRIPTION, emulator_in, provider_timing
from components.local.tools import BIN, ROOT as TOOLS
from e2e_helpers import PHASE, REPO
from tests.judge import WRITES, NoDefinition, arm_type, problems
from tests.processes import kill_processes_in

EXAMPLE = REPO / "examples" / "yaml-platform"
STACK = "dev"
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-yaml-platform-{STACK}"

if not (BIN / "pulumi-language-yaml").exists():
    pytest.skip("the Pulumi YAML language host is not built: run `bash scripts/bootstrap.sh`", allow_module_level=True)


class Platform:
    """A copy of the example with its own backend and emulator."""

    def __init__(self, folder: Path, cloud: Emulator) -> None:
        self.project, self.state, self.cloud = folder / "project", folder / "state", cloud
        shutil.copytree(EXAMPLE, self.project)
        manifest = self.project / "Pulumi.yaml"  # the package by absolute path: the copy is not beside it
        manifest.write_text(manifest.read_text().replace("../../package", str(REPO / "package")))

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.cloud.client_env(), **provider_timing(PHASE),
               "AIB_LOCAL_STATE_DIR": str(self.state), "AIB_TOOLS_DIR": str(TOOLS),
               "PULUMI_CONFIG_PASSPHRASE": "aib-images-local"}
        done = subprocess.run([sys.executable, "-m", "components.local.engine", *args, "--stack", STACK],
                              cwd=self.project, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0 or not check, f"pulumi {' '.join(args)} exited {done.returncode}:\n{done.stdout[-6000:]}\n" \
                                     f"{done.stderr[-3000:]}"
        return done

    def up(self) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--non-interactive", "--skip-preview")

    def outputs(self) -> dict:
        return json.loads(self.pulumi("stack", "output", "--json").stdout)

    def resources(self) -> list[dict]:
        deployment = json.loads(self.pulumi("stack", "export").stdout)["deployment"]
        return [r for r in deployment.get("resources") or [] if not r.get("delete")]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    with emulator_in(tmp_path / "state", phase_seconds=PHASE) as cloud:
        made = Platform(tmp_path, cloud)
        try:
            yield made
        finally:
            kill_processes_in(made.project)  # plugins an interrupted CLI left behind
        with cloud.state.lock:
            bodies = list(cloud.bodies)
    found = [f"{arm_type(b['path'])} {b.get('apiVersion')} {b['path']}: {issue}" for b in bodies
             if b["method"].upper() in WRITES and not b["path"].startswith(("/_emulator/", "/packerlogs/"))
             for issue in _problems(b)]
    assert not found, "request bodies the official ARM definitions refuse:\n" + "\n".join(found)


def _problems(body: dict) -> list[str]:
    try:
        return problems(arm_type(body["path"]) or "", body.get("apiVersion") or "", body["body"],
                        body["method"].upper())
    except NoDefinition as e:
        return [f"(no definition) {e}"]


def test_yaml_program_builds_two_images_and_a_scale_set_then_no_op_then_destroy(platform: Platform) -> None:
    platform.up()
    outputs = platform.outputs()
    galleries = f"{RG}/providers/Microsoft.Compute/galleries"
    assert outputs["webImageVersionId"].startswith(f"{galleries}/gal_yaml_web/images/web-ubuntu/versions/")
    assert outputs["workerImageVersionId"].startswith(f"{galleries}/gal_yaml_worker/images/worker-ubuntu/versions/")
    # Each image is the Python component under the package's: the same children as from a Python program.
    types = [r["type"] for r in platform.resources()]
    assert types.count("aib-images:index:ImagePipeline") == 2
    assert types.count("azure-native:virtualmachineimages:VirtualMachineImageTemplate") == 2
    # The scale set runs the version the web image's build produced in this update (what the cloud holds).
    scale_set = platform.cloud.state.resource(outputs["scaleSetId"])
    assert scale_set is not None
    assert outputs["webImageVersionId"] in json.dumps(scale_set)

    again = platform.up()
    summary = again.stdout[again.stdout.rfind("Resources:"):]
    assert "unchanged" in summary and not any(w in summary for w in ("created", "updated", "replaced", "deleted")), \
        summary

    platform.pulumi("destroy", "--yes", "--non-interactive", "--skip-preview")
    assert platform.resources() == []
    assert platform.cloud.state.resource(outputs["scaleSetId"]) is None
    with platform.cloud.state.lock:
        assert not platform.cloud.state.templates


def test_a_misspelt_azure_native_property_is_refused_before_anything_runs(platform: Platform) -> None:
    """The YAML host checks azure-native resources against the stand-in's schema, as it does against the real
    plugin's: a property the type does not have fails the preview, named with the ones the type has."""
    manifest = platform.project / "Pulumi.yaml"
    manifest.write_text(manifest.read_text().replace("addressPrefixes:", "addressPrefixs:"))
    done = platform.pulumi("preview", "--non-interactive", check=False)
    assert done.returncode != 0
    assert "Property addressPrefixs does not exist on 'azure-native:network:AddressSpace'" in done.stdout, done.stdout
    assert "Existing properties are: addressPrefixes, ipamPoolPrefixAllocations" in done.stdout
    assert platform.resources() == []
