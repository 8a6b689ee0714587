"""Template lints: each one warns on the pattern it names (with its public source) and stays quiet on the fix;
`validate` prints them with exit 0."""

from __future__ import annotations

import io
import json

import pytest

from components.ops.cli import Env, main
from components.model.lints import LINTS, lint_template
from components.model.models import ImageTemplateSpec

RESTART = {"type": "WindowsRestart", "name": "restart"}
UPDATE = {"type": "WindowsUpdate", "name": "updates"}


def _spec(customize, timeout=0, regions=("westeurope",)) -> ImageTemplateSpec:
    return ImageTemplateSpec.model_validate({"location": "westeurope", "properties": {
        "source": {"type": "PlatformImage", "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                   "sku": "2022-datacenter-g2", "version": "latest"},
        "customize": customize, "buildTimeoutInMinutes": timeout,
        "distribute": [{"type": "SharedImage", "runOutputName": "sig",
                        "galleryImageId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/"
                                          "providers/Microsoft.Compute/galleries/g/images/i",
                        "targetRegions": [{"name": r} for r in regions]}]}})


def _ps(*inline, elevated=True) -> dict:
    return {"type": "PowerShell", "name": "ps", "inline": list(inline), "runElevated": elevated}


CASES = [
    ("windows_update_restart", [UPDATE], [UPDATE, RESTART]),
    ("restart_between", [_ps("Install-WindowsFeature Web-Server"), UPDATE, RESTART],
     [_ps("Install-WindowsFeature Web-Server"), RESTART, UPDATE, RESTART]),
    ("deprovision_in_customizer", [_ps(r"C:\Windows\System32\Sysprep\sysprep.exe /oobe /generalize /quiet")],
     [_ps("Write-Host done")]),
    ("powershell_elevation", [_ps("Set-ItemProperty HKLM:\\SOFTWARE\\x -Name y -Value 1", elevated=False)],
     [_ps("Set-ItemProperty HKLM:\\SOFTWARE\\x -Name y -Value 1")]),
]


@pytest.mark.parametrize("lint,bad,good", CASES, ids=[c[0] for c in CASES])
def test_lint_warns_on_the_pattern_and_not_on_the_fix(lint, bad, good):
    check = next(f for f in LINTS if f.__name__ == lint)
    issues = check(_spec(bad))
    assert issues and all("https://" in i.hint for i in issues)
    assert check(_spec(good)) == []


def test_timeout_too_short_for_steps_and_regions():
    steps = [UPDATE, RESTART, UPDATE, RESTART]
    issues = lint_template(_spec(steps, timeout=120, regions=("westeurope", "northeurope", "eastus", "westus")))
    assert [i.path for i in issues] == ["properties.buildTimeoutInMinutes"]
    assert "4 region(s)" in issues[0].message
    assert lint_template(_spec(steps, timeout=300)) == []


def test_validate_prints_warnings_and_exits_0(tmp_path):
    path = tmp_path / "t.json"
    body = _spec([UPDATE]).model_dump(mode="json", by_alias=True, exclude_none=True)
    body["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id": {}}}
    path.write_text(json.dumps(body))
    out = io.StringIO()
    assert main(["validate", str(path)], Env(stdout=out, stderr=io.StringIO())) == 0
    assert "warning: " in out.getvalue() and "not followed by a WindowsRestart" in out.getvalue()
