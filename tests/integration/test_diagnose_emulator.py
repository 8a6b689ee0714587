"""Every catalog entry produced by the emulator (its failure text injected where the service writes it) and diagnosed
from the run status and the customization.log: by `diagnose_template`, in the build provider's failure message, and
by `python -m components diagnose --local`."""

from __future__ import annotations

import io

import pytest
from azure.core.exceptions import HttpResponseError

from components.providers import arm_client
from components.providers.build_run import BuildError, ImageBuildProvider, ImageBuildStartProvider
from components.ops.cli import Env, main
from components.ops.diagnose import CATALOG
from components.ops.diagnose.run import diagnose_template
from components.emulator import Emulator, Faults
from components.emulator.scope import BuildScope
from components.local.cloud import SUBSCRIPTION

RG = "rg-images"
PHASE = 0.05


@pytest.fixture
def scope(monkeypatch):
    with Emulator(phase_seconds=PHASE, faults=Faults()) as emu:
        for key, value in emu.client_env().items():
            monkeypatch.setenv(key, value)
        client = arm_client.image_builder_client(SUBSCRIPTION, api_version="2024-02-01", poll_seconds=PHASE)
        yield BuildScope(emu, client, subscription=SUBSCRIPTION, resource_group=RG)
        client.close()


def _failed_run(scope: BuildScope, name: str, entry) -> object:
    scope.emu.faults.failure_text = entry.sample
    scope.emu.faults.failure_at = "install" if entry.phase == "Customizing" else entry.phase
    templates = scope.client.virtual_machine_image_templates
    templates.begin_create_or_update(RG, name, scope.template_body(customizers=("setup", "install"))).result()
    with pytest.raises(HttpResponseError):
        templates.begin_run(RG, name).result()
    return templates.get(RG, name)


def _read_log(url: str) -> list[str]:
    return arm_client.read_blob_tail(url, lines=5000)


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.id)
def test_each_catalog_entry_is_diagnosed_from_an_emulated_failure(scope, entry):
    template = _failed_run(scope, "tmpl-diag", entry)
    assert template.properties.last_run_status.run_state == "Failed"
    result = diagnose_template(template, _read_log)
    assert result.primary is not None and result.primary.entry.id == entry.id, result.lines()
    if entry.phase == "Customizing":
        assert result.step == "customize[1] 'install' (Shell)"


def test_the_build_failure_message_carries_the_diagnosis(scope):
    entry = next(e for e in CATALOG if e.id == "checksum-mismatch")
    scope.emu.faults.failure_text, scope.emu.faults.failure_at = entry.sample, "install"
    templates = scope.client.virtual_machine_image_templates
    templates.begin_create_or_update(RG, "tmpl-msg", scope.template_body(customizers=("setup", "install"))).result()
    inputs = {"subscription_id": SUBSCRIPTION, "resource_group_name": RG, "image_template_name": "tmpl-msg",
              "api_version": "2024-02-01", "rebuild_trigger": "1", "run_output_names": ["gallery"],
              "vhd_run_outputs": [], "poll_seconds": PHASE, "auth_retry_seconds": 1, "cancel_timeout_seconds": 5}
    start = ImageBuildStartProvider().create(inputs).outs
    with pytest.raises(BuildError) as info:
        ImageBuildProvider().create(dict(inputs, run_started_at=start["run_started_at"]))
    text = str(info.value)
    assert "Likely cause [checksum-mismatch]" in text and "fix: Update sha256Checksum" in text
    assert "Failing step: provisioner shell" in text or "Failing step: 'install' (shell)" in text


def test_diagnose_verb_finds_the_stacks_template_and_explains_its_last_run(scope):
    rg = "rg-golden-images-dev"
    dev = BuildScope(scope.emu, scope.client, subscription=SUBSCRIPTION, resource_group=rg)
    entry = next(e for e in CATALOG if e.id == "windows-update-pending-restart")
    dev.emu.faults.failure_text, dev.emu.faults.failure_at = entry.sample, "install"
    templates = scope.client.virtual_machine_image_templates
    templates.begin_create_or_update(rg, "ubuntu-2204-0123456789", dev.template_body(customizers=("setup", "install"))
                                     ).result()
    with pytest.raises(HttpResponseError):
        templates.begin_run(rg, "ubuntu-2204-0123456789").result()
    out = io.StringIO()
    assert main(["diagnose", "--stack", "dev", "--local"], Env(stdout=out, stderr=io.StringIO())) == 0
    text = out.getvalue()
    assert "ubuntu-2204: template ubuntu-2204-0123456789" in text
    assert "Failing step: customize[1] 'install' (Shell)" in text
    assert "Likely cause [windows-update-pending-restart]" in text


def test_diagnose_verb_reports_an_image_without_template(scope):
    out = io.StringIO()
    assert main(["diagnose", "--stack", "dev", "--local"], Env(stdout=out, stderr=io.StringIO())) == 1
    assert "no image template in resource group 'rg-golden-images-dev'" in out.getvalue()
