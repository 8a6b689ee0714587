"""The README's "Real Azure" path, command for command, against the local emulator: log in to a file backend, `stack
init` with a passphrase secrets provider, set the subscription (one key), adopt a resource group that already exists,
then `preview` and `up`. (`az provider register` and the deployer's roles are Azure CLI steps: the emulator has every
provider registered and the local deployer is Owner.)"""

from __future__ import annotations

import subprocess
import sys

import yaml

from e2e_helpers import SUBSCRIPTION, LocalStack, e2e_config, minimal_image

STACK = "azure"


def pulumi_without_stack(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    """`pulumi ARGS` as typed in the README (no `--stack` added), through the local engine."""
    done = subprocess.run([sys.executable, "-m", "components.local.engine", *args], cwd=stack.project, env=stack.env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_readme_commands_take_a_new_stack_to_an_image_adopting_an_existing_group(local_stack):
    stack = local_stack(e2e_config({"web": minimal_image("web")}), stack=STACK)
    stack.arm().resource_groups.create_or_update("rg-e2e", {"location": "westeurope", "tags": {"owner": "platform"}})

    pulumi_without_stack(stack, "login", f"file://{stack.state / 'backend'}")
    pulumi_without_stack(stack, "stack", "init", STACK, "--secrets-provider", "passphrase")
    assert "encryptionsalt" in yaml.safe_load(stack.stack_file.read_text()), "the passphrase provider's salt"
    stack.pulumi("config", "set", "azure-native:subscriptionId", SUBSCRIPTION)
    assert stack.config()["azure-native:subscriptionId"] == SUBSCRIPTION

    preview = stack.preview()
    # `=  azure-native:resources:ResourceGroup resource-group import`: the existing group is adopted, not created.
    imports = [line.split() for line in preview.stdout.splitlines() if "ResourceGroup" in line]
    assert ["=", "azure-native:resources:ResourceGroup", "resource-group", "import"] in imports, preview.stdout[-3000:]
    stack.up()

    outputs = stack.outputs()["web"]
    # azure-native records the id the PUT answers with (provider/pkg/provider/provider.go `defaultCreate`: "Read the
    # canonical ID from the response"), and the image builder writes `resourcegroups` in lower case.
    assert outputs["templateId"].lower().startswith(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg-e2e/")
    assert "/galleries/gal_e2e/images/web/versions/" in outputs["imageVersionId"]
    (group,) = [r for r in stack.resources(":resources:ResourceGroup") if r["outputs"]["name"] == "rg-e2e"]
    assert group.get("retainOnDelete"), "an adopted resource group is kept on destroy"
