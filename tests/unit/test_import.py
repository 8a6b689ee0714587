"""Import: round trips, older API versions upgraded with notices, strictness from 2024-02-01, ARM documents."""

from __future__ import annotations

import copy

import pytest

from components.arm.import_arm import import_document, import_template
from components.arm.render import dumps, render_template
from components.model import SpecError, check_warnings, parse_template
from tests.unit.spec_samples import (
    ACI_SUBNET, DELETE, FILE_WINDOWS, GALLERY_IMAGE, GALLERY_VERSION, IDENTITY, MANAGED_SOURCE, MANAGED_TARGET,
    POWERSHELL_URI, RHEL, SHA, SHELL_URI, SIG_SOURCE, STAGING_RG, SUBNET, VHD_TARGET, WINDOWS, linux_template,
    load_fixture, set_at, windows_template,
)


def _with(builder, *edits, **top):
    doc = builder(**top)
    for path, value in edits:
        set_at(doc, path, value if value is DELETE else copy.deepcopy(value))
    return doc


ROUND_TRIP = {
    "linux-platform-sig": linux_template(),
    "linux-rhel-plan": _with(linux_template, ("properties.source", dict(RHEL, planInfo={
        "planName": "rhel-lvm9", "planProduct": "rhel-byos", "planPublisher": "redhat"}))),
    "linux-managed-source": _with(linux_template, ("properties.source", MANAGED_SOURCE)),
    "linux-gallery-source": _with(linux_template, ("properties.source", SIG_SOURCE),
                                  ("properties.customize[0]", SHELL_URI)),
    "windows-every-customizer": _with(windows_template, ("properties.customize[3]", FILE_WINDOWS),
                                      ("properties.customize[4]", POWERSHELL_URI)),
    "windows-validators": _with(windows_template, ("properties.validate", {
        "continueDistributeOnFailure": True,
        "inVMValidations": [POWERSHELL_URI, dict(FILE_WINDOWS, name="v-file"),
                            {"type": "PowerShell", "inline": ["exit 0"], "validExitCodes": [0]}]})),
    "every-distributor": _with(linux_template, ("properties.distribute[1]", MANAGED_TARGET),
                               ("properties.distribute[2]", dict(VHD_TARGET, uri="https://sa.blob.core.windows.net/c/x.vhd")),
                               ("properties.distribute[3]", {"type": "SharedImage", "galleryImageId": GALLERY_VERSION,
                                                             "runOutputName": "explicit", "excludeFromLatest": True})),
    "replication-regions": _with(linux_template, ("properties.distribute[0].targetRegions", DELETE),
                                 ("properties.distribute[0].replicationRegions", ["westeurope", "eastus"]),
                                 ("properties.distribute[0].storageAccountType", "Premium_LRS")),
    "source-versioning": _with(linux_template, ("properties.distribute[0].versioning", {"scheme": "Source"})),
    "everything-2024": _with(linux_template, ("properties.vmProfile", {
        "vmSize": "Standard_D4s_v5", "osDiskSizeGB": 0, "userAssignedIdentities": [IDENTITY],
        "vnetConfig": {"subnetId": SUBNET, "containerInstanceSubnetId": ACI_SUBNET}}),
        ("properties.stagingResourceGroup", STAGING_RG), ("properties.optimize", {"vmBoot": {"state": "Enabled"}}),
        ("properties.errorHandling", {"onCustomizerError": "abort", "onValidationError": "cleanup"}),
        ("properties.autoRun", {"state": "Disabled"}), ("properties.managedResourceTags", {"cost": "img"}),
        ("properties.buildTimeoutInMinutes", 0), ("tags", {"z": "1", "a": "2"})),
    "everything-2025": _with(linux_template, ("properties.additionalDataDisks", [{"sizeGB": 0}, {"sizeGB": 128}]),
                             ("properties.optimize", {"workload": {"state": "Enabled", "scriptUri": "https://e.com/w",
                                                                   "sha256Checksum": SHA}}),
                             ("properties.distribute[0].replicationMode", "Shallow")),
    "deprovision-linux": linux_template(deprovision={"commands": ["waagent -force -deprovision && sync"]}),
    "deprovision-windows": windows_template(deprovision={"commands": ["Write-Output 'sysprep'"]}),
    "unnamed": _with(linux_template, ("name", DELETE)),
    "minimal": {"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
                "properties": {"source": WINDOWS, "distribute": [VHD_TARGET]}},
}


@pytest.mark.parametrize("doc", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_round_trip(doc):
    rendered = render_template(parse_template(doc))
    imported = import_template(rendered)
    assert dumps(render_template(imported.spec)) == dumps(rendered)
    assert imported.notices == []
    assert imported.api_version == rendered["apiVersion"]


def test_import_of_rest_api_create_example_is_unchanged():
    doc = load_fixture("rest_2024-02-01_create_linux.json")
    imported = import_template(doc)
    assert (imported.name, imported.api_version, imported.notices) == ("myImageTemplate", "2024-02-01", [])
    assert render_template(imported.spec) == doc


def test_rest_api_windows_example_duplicate_customizer_names_are_accepted():
    # The published example reuses one customizer name; nothing in the spec or the docs forbids it (a warning).
    (imported,) = import_document(load_fixture("rest_2024-02-01_create_windows.json"))
    assert [w.path for w in check_warnings(imported.spec) if w.path.endswith(".name")] == ["properties.customize[4].name",
                                                               "properties.customize[5].name"]


def test_service_response_read_only_fields_dropped_with_notices():
    imported = import_template(load_fixture("rest_2024-02-01_get_linux_response.json"))
    assert sorted(str(n) for n in imported.notices) == sorted([
        "id: dropped (read-only or ARM-only)",
        "properties.provisioningState: dropped (read-only)",
        "properties.lastRunStatus: dropped (read-only)",
        "properties.exactStagingResourceGroup: dropped (read-only)",
        "properties.stagingResourceGroup: empty default dropped",
        "properties.source.exactVersion: dropped (read-only)",
    ])
    rendered = render_template(imported.spec)
    assert "id" not in rendered and "provisioningState" not in rendered["properties"]
    assert "exactVersion" not in rendered["properties"]["source"]
    assert rendered["properties"]["buildTimeoutInMinutes"] == 0


def test_legacy_2020_template_upgraded_with_a_notice_each():
    imported = import_template(load_fixture("legacy_2020-02-14_linux.json"))
    assert imported.api_version == "2020-02-14"
    assert [str(n) for n in imported.notices] == [
        "dependsOn: dropped (read-only or ARM-only)",
        "properties.source.Type: renamed to 'type' (case)",
        "properties.source.Publisher: renamed to 'publisher' (case)",
        "properties.customize[0].type: 'shell' read as 'Shell' (case)",
        "properties.distribute[0].type: 'sharedImage' read as 'SharedImage' (case)",
        "properties.customize[0].script: renamed to 'scriptUri'",
        "properties.distribute[0].tags: renamed to 'artifactTags'",
        "properties.distribute[0].replicationRegions: deprecated; upgraded to 'targetRegions' (1 replica each)",
        "properties.vmProfile.vnetConfig: name/subnetName/resourceGroupName upgraded to 'subnetId'",
    ]
    props = render_template(imported.spec)["properties"]
    assert props["source"]["publisher"] == "Canonical"
    assert props["customize"][0] == {"type": "Shell", "name": "RunScriptFromSource", "scriptUri":
                                     "https://raw.githubusercontent.com/danielsollondon/azvmimagebuilder/master/"
                                     "quickquickstarts/customizeScript.sh"}
    target = props["distribute"][0]
    assert target["artifactTags"] == {"source": "azVmImageBuilder", "baseosimg": "ubuntu1804"}
    assert target["targetRegions"] == [{"name": "westus2", "replicaCount": 1, "storageAccountType": "Standard_LRS"},
                                       {"name": "eastus", "replicaCount": 1, "storageAccountType": "Standard_LRS"}]
    assert "replicationRegions" not in target and "storageAccountType" not in target
    assert props["vmProfile"]["vnetConfig"] == {"subnetId": "/subscriptions/11111111-1111-1111-1111-111111111111/"
                                                "resourceGroups/netRG/providers/Microsoft.Network/virtualNetworks/"
                                                "aibVnet/subnets/aibSubnet"}


LEGACY_BODY = {
    "location": "westus2",
    "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
    "properties": {
        "source": {"type": "SharedImageVersion", "imageVersionID": GALLERY_VERSION},
        "customize": [{"type": "Shell", "name": "s", "script": "https://e.com/s.sh"}],
        "distribute": [{"type": "VHD", "runOutputName": "vhd", "tags": {"k": "v"}},
                       {"type": "SharedImage", "galleryImageId": GALLERY_IMAGE, "runOutputName": "sig",
                        "replicationRegions": ["westus2"]}],
    },
}


@pytest.mark.parametrize("api_version", ["2019-05-01-preview", "2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01"])
def test_older_api_versions_upgraded(api_version):
    imported = import_template(dict(copy.deepcopy(LEGACY_BODY), apiVersion=api_version))
    assert imported.api_version == api_version
    assert [n.path for n in imported.notices] == [
        "properties.source.imageVersionID", "properties.customize[0].script", "properties.distribute[0].tags",
        "properties.distribute[1].replicationRegions"]
    spec = imported.spec
    assert spec.properties.source.image_version_id == GALLERY_VERSION
    assert spec.properties.customize[0].script_uri == "https://e.com/s.sh"
    assert spec.properties.distribute[0].artifact_tags == {"k": "v"}
    assert spec.properties.distribute[1].regions == ["westus2"]
    assert spec.properties.distribute[1].replication_regions is None


def test_2024_is_strict_wrong_case_and_retired_names_are_errors():
    with pytest.raises(SpecError) as info:
        import_template(dict(copy.deepcopy(LEGACY_BODY), apiVersion="2024-02-01"))
    issues = {i.path: i for i in info.value.issues}
    assert issues["properties.source.imageVersionID"].hint == \
        "field names are case-sensitive: did you mean 'imageVersionId'?"
    assert issues["properties.customize[0].script"].message == "unknown field 'script'"
    assert issues["properties.distribute[0].tags"].message == "unknown field 'tags'"
    assert "properties.distribute[1].replicationRegions" not in issues  # still a (deprecated) 2024 field


def test_2024_replication_regions_kept_as_written():
    doc = dict(copy.deepcopy(ROUND_TRIP["replication-regions"]), apiVersion="2024-02-01")
    imported = import_template(doc)
    assert imported.notices == []
    assert imported.spec.properties.distribute[0].replication_regions == ["westeurope", "eastus"]


def test_unknown_api_version_read_as_2024_with_a_notice():
    imported = import_template(dict(linux_template(), apiVersion="2030-01-01"))
    assert [str(n) for n in imported.notices] == ["apiVersion: '2030-01-01' is not a known AIB API version; "
                                                  "read as 2024-02-01"]


def test_legacy_vnet_without_subscription_is_reported():
    doc = {"apiVersion": "2020-02-14", "location": "westus2",
           "properties": {"source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "o", "sku": "s"},
                          "vmProfile": {"vnetConfig": {"name": "v", "subnetName": "s"}},
                          "distribute": [{"type": "VHD", "runOutputName": "vhd"}]}}
    with pytest.raises(SpecError) as info:
        import_template(doc)
    assert [i.path for i in info.value.issues] == ["properties.vmProfile.vnetConfig.subnetId"]


def test_arm_deployment_with_two_templates():
    imported = import_document(load_fixture("arm_deployment_two_templates.json"))
    assert [(t.path, t.name, t.api_version) for t in imported] == [
        ("resources[1]", "linuxTemplate", "2024-02-01"), ("resources[2]", "windowsTemplate", "2022-07-01")]
    assert [str(n) for n in imported[0].notices] == ["resources[1].dependsOn: dropped (read-only or ARM-only)"]
    assert imported[1].spec.properties.customize[1].type == "WindowsRestart"


def test_arm_deployment_errors_prefixed_by_resource_and_reported_together():
    doc = load_fixture("arm_deployment_two_templates.json")
    doc["resources"][1]["properties"]["buildTimeoutInMinutes"] = 3
    doc["resources"][2]["properties"]["customize"][0]["runElevated"] = "maybe"
    with pytest.raises(SpecError) as info:
        import_document(doc)
    assert [i.path for i in info.value.issues] == ["resources[1].properties.buildTimeoutInMinutes",
                                                   "resources[2].properties.customize[0].runElevated"]


@pytest.mark.parametrize("path,expression,reported", [
    ("location", "[parameters('location')]", "location"),
    ("properties.customize[0].inline[0]", "[concat('echo ', parameters('x'))]", "properties.customize[0].inline[0]"),
    ("identity.userAssignedIdentities", {"[parameters('identityId')]": {}}, None),
])
def test_arm_expression_reported_by_path(path, expression, reported):
    doc = load_fixture("arm_deployment_two_templates.json")
    set_at(doc, f"resources[1].{path}", expression)
    with pytest.raises(SpecError) as info:
        import_document(doc)
    issue = info.value.issues[0]
    if reported:
        assert issue.path == f"resources[1].{reported}"
        assert issue.message.startswith(f"ARM expression {expression!r} cannot be evaluated (parameters): ")
        assert "declares no parameter" in issue.message
    else:  # an expression as a key is no value to evaluate: it fails as a malformed id, still under its path
        assert issue.path.startswith("resources[1].identity.userAssignedIdentities.")


@pytest.mark.parametrize("command,arm_expression", [
    ("[ -f /etc/os-release ] && echo ok", False), ("[ -d /opt ]", True), ("[]", True)])
def test_shell_tests_are_not_expressions_outside_a_deployment(command, arm_expression):
    doc = set_at(linux_template(), "properties.customize[0].inline", [command])
    rendered = render_template(parse_template(doc))
    assert render_template(import_template(rendered).spec) == rendered
    try:  # inside a deployment ARM evaluates any "[...]" string, so there it is reported
        import_document({"resources": [dict(rendered)]})
    except SpecError as exc:
        assert arm_expression and [i.path for i in exc.issues] == ["resources[0].properties.customize[0].inline[0]"]
    else:
        assert not arm_expression


def test_escaped_brackets_are_not_expressions():
    doc = set_at(linux_template(), "properties.customize[0].inline", ["[[ -f /etc/os-release ]] && echo ok"])
    assert import_template(doc).spec.properties.customize[0].inline == ["[[ -f /etc/os-release ]] && echo ok"]


@pytest.mark.parametrize("type_key", ["type", "Type"])
def test_iso_source_refused(type_key):
    doc = {"apiVersion": "2019-05-01-preview", "location": "westus2",
           "properties": {"source": {type_key: "ISO", "sourceURI": "https://rh/iso", "sha256Checksum": SHA},
                          "distribute": [VHD_TARGET]}}
    with pytest.raises(SpecError) as info:
        import_template(doc)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("properties.source.type", "ISO sources were retired by the service")]
    assert "PlatformImage" in info.value.issues[0].hint


@pytest.mark.parametrize("doc", [{}, [], "x", {"resources": [{"type": "Microsoft.Storage/storageAccounts"}]}])
def test_document_without_templates(doc):
    with pytest.raises(SpecError, match="no Microsoft.VirtualMachineImages/imageTemplates found"):
        import_document(doc, source="empty.json")


def test_empty_identity_dropped_with_notice():
    doc = linux_template(identity={})
    imported = import_template(doc)
    assert [str(n) for n in imported.notices] == ["identity: empty identity dropped; the pipeline creates one"]
    assert imported.spec.identity is None


def test_import_does_not_mutate_its_input():
    doc = load_fixture("legacy_2020-02-14_linux.json")
    before = copy.deepcopy(doc)
    import_template(doc)
    assert doc == before
