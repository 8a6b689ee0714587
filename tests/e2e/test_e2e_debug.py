"""Debugging a failed build: `errorHandling.onCustomizerError: abort` reaches the template, and the failed `up` says
the build VM was kept for inspection and what removes it (the staging resource group goes with the template)."""

from __future__ import annotations

from components.emulator import Faults
from e2e_helpers import e2e_config, minimal_image


def test_abort_on_a_failing_customizer_says_the_build_vm_was_kept(local_stack):
    image = minimal_image("web")
    image["template"]["properties"]["errorHandling"] = {"onCustomizerError": "abort"}
    stack = local_stack(e2e_config({"web": image}), faults=Faults(failing_customizers={"hello"}))

    result = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False)

    assert result.returncode != 0
    (template,) = stack.templates().values()
    props = template["body"]["properties"]
    assert props["errorHandling"]["onCustomizerError"] == "abort", "the setting reaches the service"
    staging = props["exactStagingResourceGroup"]
    text = " ".join((result.stdout + result.stderr).split())
    assert "errorHandling.onCustomizerError is 'abort': the build VM was kept for inspection" in text
    assert f"in staging resource group '{staging}'" in text
    assert "`pulumi destroy`, or the next `pulumi up` that changes the template, deletes the template" in text
