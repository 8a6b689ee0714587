"""The VHD refusal names the commands of the place the run is in: `bash scripts/pulumi.sh ... --stack S` for a local
run (a bare `pulumi` there reaches neither the local backend nor the local cloud), plain `pulumi` on Azure (issue 24).
"""

from __future__ import annotations

import pytest

from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.provider import _vhd_refusal

URI = "https://staging.blob.core.windows.net/vhds/ubuntu.vhd"


def _refusal(monkeypatch, endpoint, stack=None) -> str:
    monkeypatch.delenv("AIB_ARM_ENDPOINT", raising=False)
    if stack:
        monkeypatch.setenv("AIB_LOCAL_STACK", stack)
    else:
        monkeypatch.delenv("AIB_LOCAL_STACK", raising=False)
    settings = BuildSettings(subscription_id="00000000-0000-0000-0000-000000000000", resource_group_name="rg",
                             image_template_name="ubuntu-2204-0123456789", vhd_run_outputs=("vhd",),
                             arm_endpoint=endpoint)
    return _vhd_refusal(settings, {"vhd": {"artifact_uri": URI}})


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1:8443", "https://localhost:41234/", "https://[::1]:9000"])
def test_a_local_run_names_the_local_commands(monkeypatch, endpoint):
    text = _refusal(monkeypatch, endpoint, stack="dev")
    assert "REFUSING TO DELETE" in text and URI in text and "set `uri` on the VHD distributor" in text
    assert ("`bash scripts/pulumi.sh config set --stack dev --path "
            "'aib-images:images.ubuntu-2204.allowVhdLossOnDelete' true`") in text
    assert "run `bash scripts/pulumi.sh up --stack dev`" in text
    assert "`AIB_ACCEPT_VHD_LOSS=ubuntu-2204 bash scripts/pulumi.sh destroy --stack dev`" in text
    assert "`pulumi " not in text


def test_a_local_run_without_a_known_stack_says_where_it_goes(monkeypatch):
    text = _refusal(monkeypatch, "https://127.0.0.1:8443")
    assert "`bash scripts/pulumi.sh config set --stack <stack> --path" in text


@pytest.mark.parametrize("endpoint", [None, "https://management.azure.com", "https://management.usgovcloudapi.net"])
def test_azure_keeps_the_pulumi_commands(monkeypatch, endpoint):
    text = _refusal(monkeypatch, endpoint, stack="dev")
    assert "`pulumi config set --path 'aib-images:images.ubuntu-2204.allowVhdLossOnDelete' true`" in text
    assert "run `pulumi up`" in text and "`AIB_ACCEPT_VHD_LOSS=ubuntu-2204 pulumi destroy`" in text
    assert "scripts/pulumi.sh" not in text
