"""The failure catalog and the log analysis, without a server: each entry's own text is diagnosed as that entry,
the failing step is named from the template, and unreadable logs say which role would allow reading them."""

from __future__ import annotations

import re

import pytest

from components.ops.diagnose import CATALOG, diagnose, explain_failure, failing_step
from components.ops.diagnose.run import log_access_problem

LOG = [
    "[op] PACKER OUT (telemetry) Starting provisioner powershell",
    "[op] PACKER OUT (telemetry) ending powershell",
    "[op] PACKER OUT (telemetry) Starting provisioner windows-update",
    "[op] PACKER ERR azure-arm: ERROR: Exception from HRESULT: 0x80240016",
]
STEPS = [{"name": "baseline", "type": "PowerShell"}, {"name": "updates", "type": "WindowsUpdate"}]


def test_catalog_is_big_enough_unique_and_cited():
    assert len(CATALOG) >= 20
    assert len({e.id for e in CATALOG}) == len(CATALOG)
    for entry in CATALOG:
        assert re.match(r"^https://(learn\.microsoft\.com|github\.com|aka\.ms)/", entry.source), entry.id
        assert entry.cause and entry.fix and entry.patterns


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.id)
def test_each_entry_diagnoses_its_own_text_first(entry):
    lines = [f"[op] PACKER ERR {line}" for line in entry.sample.splitlines()]
    result = diagnose("", lines)
    assert result.primary is not None and result.primary.entry.id == entry.id, \
        [f.entry.id for f in result.findings]


def test_failing_step_is_named_from_the_template():
    assert failing_step(LOG, STEPS) == "customize[1] 'updates' (WindowsUpdate)"
    assert failing_step(LOG) == "provisioner windows-update (step 2)"
    assert failing_step(LOG[:2]) is None


def test_a_start_beyond_the_customizers_is_the_services_deprovisioning():
    log = LOG[:2] + ["[op] PACKER ERR (telemetry) Starting provisioner powershell"]
    assert "deprovisioning step" in failing_step(log, STEPS[:1])


def test_the_message_alone_is_diagnosed():
    result = diagnose("Not authorized to access the resource: /subscriptions/x. Please check ...")
    assert result.primary.entry.id == "identity-not-authorized" and result.step is None


def test_explain_failure_adds_cause_fix_and_source_or_nothing():
    text = explain_failure("Packer build command has failed", LOG)
    assert "Likely cause [windows-update-pending-restart]" in text and "fix: Add a WindowsRestart" in text
    assert "source: https://github.com/danielsollondon/azvmimagebuilder/issues/66" in text
    assert explain_failure("", []) == ""


def test_unreadable_log_names_the_role():
    url = "https://abc123.blob.core.windows.net/packerlogs/g/customization.log"
    text = log_access_problem(url, 403, "AuthorizationPermissionMismatch", "/subscriptions/s/resourceGroups/IT_x")
    assert "Storage Blob Data Reader" in text and "'abc123'" in text and "IT_x" in text
    assert "no longer exists" in log_access_problem(url, 404, None, None)
