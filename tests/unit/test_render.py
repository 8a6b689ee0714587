"""Rendering specs into AIB JSON: determinism, API version, extensions, deprovision, identity, template hash."""

from __future__ import annotations

import json

import pytest

from components.arm.render import (
    LINUX_DEPROVISION_FILE, WINDOWS_DEPROVISION_FILE, dumps, render_template, required_api_version, template_hash)
from components.model import SpecError, parse_template
from tests.unit.spec_samples import (
    IDENTITY, IDENTITY_2, MANAGED_SOURCE, STAGING_RG, linux_template, load_fixture, set_at, windows_template,
)


def _render(doc, **kw):
    return render_template(parse_template(doc), **kw)


def test_render_is_deterministic_and_canonical():
    doc = linux_template(tags={"b": "2", "a": "1"})
    first, second = dumps(_render(doc)), dumps(_render(linux_template(tags={"a": "1", "b": "2"})))
    assert first == second
    assert first.endswith("}\n")
    rendered = json.loads(first)
    assert list(rendered) == ["type", "apiVersion", "name", "location", "tags", "identity", "properties"]
    assert list(rendered["tags"]) == ["a", "b"]
    # the discriminator leads every union object, as the template reference writes them
    assert [list(c)[0] for c in rendered["properties"]["customize"]] == ["type", "type"]
    assert list(rendered["properties"]["distribute"][0]["versioning"])[0] == "scheme"


def test_render_matches_the_input_document():
    doc = load_fixture("rest_2024-02-01_create_linux.json")
    rendered = _render(doc)
    assert rendered == doc


@pytest.mark.parametrize("path,value,expected", [
    (None, None, "2024-02-01"),
    ("properties.additionalDataDisks", [{"sizeGB": 64}], "2025-10-01"),
    ("properties.optimize", {"workload": {"state": "Enabled"}}, "2025-10-01"),
    ("properties.optimize", {"vmBoot": {"state": "Enabled"}}, "2024-02-01"),
    ("properties.distribute[0].replicationMode", "Shallow", "2025-10-01"),
    ("apiVersion", "2022-07-01", "2024-02-01"),
])
def test_api_version(path, value, expected):
    doc = linux_template()
    if path:
        set_at(doc, path, value)
    spec = parse_template(doc)
    assert required_api_version(spec) == expected
    assert render_template(spec)["apiVersion"] == expected


EXTENSIONS = {"osType": "Linux", "hyperVGeneration": "V2", "allowHttpUris": True,
              "deprovision": {"commands": ["/usr/sbin/waagent -force -deprovision+user"]}}


def test_extensions_never_in_output():
    doc = set_at(linux_template(**EXTENSIONS), "properties.source", MANAGED_SOURCE)
    text = dumps(_render(doc))
    for key in [*EXTENSIONS, "os_type", "hyper_v_generation", "allow_http_uris"]:
        assert f'"{key}"' not in text


@pytest.mark.parametrize("builder,file,kind", [
    (linux_template, LINUX_DEPROVISION_FILE, "Shell"),
    (windows_template, WINDOWS_DEPROVISION_FILE, "PowerShell"),
])
def test_deprovision_override_becomes_last_customizer(builder, file, kind):
    doc = builder(deprovision={"commands": ["first command", "second command"]})
    customize = _render(doc)["properties"]["customize"]
    assert len(customize) == len(doc["properties"]["customize"]) + 1
    last = customize[-1]
    assert last["type"] == kind and last["name"] == "deprovision-override"
    script = "\n".join(last["inline"])
    assert file in script
    assert script.index("first command") < script.index("second command")
    if kind == "PowerShell":
        assert last["runElevated"] is True
    # the input spec is untouched (render is pure)
    assert _render(doc) == _render(doc)


def test_deprovision_os_follows_ostype_for_managed_sources():
    doc = windows_template(osType="Windows", deprovision={"commands": ["Write-Output done"]})
    set_at(doc, "properties.source", MANAGED_SOURCE)
    set_at(doc, "properties.customize", [])
    assert _render(doc)["properties"]["customize"][-1]["type"] == "PowerShell"


def test_no_deprovision_no_extra_customizer():
    doc = linux_template()
    assert _render(doc)["properties"]["customize"] == doc["properties"]["customize"]


def test_identity_override_and_default():
    doc = linux_template()
    assert _render(doc)["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert _render(doc, identity_id=IDENTITY_2)["identity"]["userAssignedIdentities"] == {IDENTITY_2: {}}
    doc.pop("identity")
    assert _render(doc, identity_id=IDENTITY_2)["identity"]["userAssignedIdentities"] == {IDENTITY_2: {}}
    with pytest.raises(SpecError, match="no user-assigned identity"):
        _render(doc)
    doc["identity"] = {"type": "None"}
    with pytest.raises(SpecError, match="no user-assigned identity"):
        _render(doc)
    assert _render(doc, identity_id=IDENTITY_2)["identity"]["userAssignedIdentities"] == {IDENTITY_2: {}}


def test_name_and_staging_overrides():
    rendered = _render(linux_template(), name="ubuntu-golden-1a2b3c", staging_resource_group=STAGING_RG)
    assert rendered["name"] == "ubuntu-golden-1a2b3c"
    assert rendered["properties"]["stagingResourceGroup"] == STAGING_RG
    doc = linux_template()
    doc.pop("name")
    assert "name" not in _render(doc)


@pytest.mark.parametrize("path,value,changes", [
    ("properties.customize[0].inline", ["sudo apt-get upgrade -y"], True),
    ("properties.customize[1].destination", "/tmp/other", True),
    ("properties.buildTimeoutInMinutes", 120, True),
    ("properties.distribute[0].targetRegions[0].replicaCount", 3, True),
    ("location", "northeurope", True),
    ("tags", {"owner": "platform"}, False),
    ("name", "renamed", False),
])
def test_template_hash(path, value, changes):
    before = template_hash(_render(linux_template()))
    after = template_hash(_render(set_at(linux_template(), path, value)))
    assert (before != after) is changes
    assert len(before) == 64


def test_template_hash_follows_identity_override():
    spec = parse_template(linux_template())
    assert template_hash(render_template(spec)) != template_hash(render_template(spec, identity_id=IDENTITY_2))


def test_unset_optional_fields_left_out():
    rendered = _render(linux_template())
    props = rendered["properties"]
    assert "vmProfile" not in props and "optimize" not in props and "stagingResourceGroup" not in props
    assert "sha256Checksum" not in props["customize"][1]
    # defaults the model fills in are rendered explicitly
    assert props["distribute"][0]["targetRegions"][1] == {"name": "northeurope", "replicaCount": 1}


def test_fields_only_2025_10_01_has_render_at_that_api_version_even_without_their_optional_values():
    doc = linux_template()
    doc["properties"].update(additionalDataDisks=[{}, {"sizeGB": 32}], optimize={"workload": {}})
    rendered = _render(doc)
    assert rendered["apiVersion"] == "2025-10-01"
    assert rendered["properties"]["additionalDataDisks"] == [{}, {"sizeGB": 32}]
    assert rendered["properties"]["optimize"] == {"workload": {}}
