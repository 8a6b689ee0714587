"""The body judge (tests/judge.py) against the official definitions: the official examples pass, and the bodies the
issue found wrong (a trigger's top-level `kind`, azure-native's storage network names) fail with their path."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.judge import NoDefinition, arm_type, known, problems

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests" / "fixtures" / "rest-examples"
TEMPLATES = "Microsoft.VirtualMachineImages/imageTemplates"
TRIGGERS = "Microsoft.VirtualMachineImages/imageTemplates/triggers"
STORAGE = "Microsoft.Storage/storageAccounts"
SOURCE_IMAGE_TRIGGER = {"properties": {"kind": "SourceImage"}}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_official_examples_pass(path: Path) -> None:
    example = json.loads(path.read_text())
    response = example.get("responses", {}).get("200", {}).get("body")
    method, body = ("GET", response) if response else ("PUT", example["parameters"]["parameters"])
    assert problems(TEMPLATES, path.parent.name, body, method) == []


def test_a_read_only_property_fails_a_put_but_not_a_get() -> None:
    body = json.loads((EXAMPLES / "2023-07-01" / "GetImageTemplate.json").read_text())["responses"]["200"]["body"]
    found = problems(TEMPLATES, "2023-07-01", body, "PUT")
    assert "id: read-only in ImageTemplate: the service sets it, a PUT must not send it" in found
    assert any(p.startswith('identity.userAssignedIdentities["/subscriptions/') and
               p.endswith('"].principalId: read-only in UserAssignedIdentity: the service sets it, a PUT must not '
                          'send it') for p in found)
    assert problems(TEMPLATES, "2023-07-01", body, "GET") == []


@pytest.mark.parametrize("version", ["2022-07-01", "2024-02-01", "2025-10-01"])
def test_a_trigger_takes_kind_under_properties(version: str) -> None:
    assert problems(TRIGGERS, version, SOURCE_IMAGE_TRIGGER) == []
    found = problems(TRIGGERS, version, {"kind": "SourceImage", "properties": {}})
    assert found[0].startswith("kind: not a property of Trigger")
    assert "properties.kind: required by TriggerProperties, but missing" in found


def test_an_unknown_discriminator_value_is_named_with_the_known_ones() -> None:
    assert problems(TRIGGERS, "2024-02-01", {"properties": {"kind": "Schedule"}}) == [
        "properties.kind: unknown kind 'Schedule' of TriggerProperties (known: SourceImage)"]
    body = json.loads((EXAMPLES / "2024-02-01" / "CreateImageTemplateLinux.json").read_text())["parameters"]["parameters"]
    body["properties"]["customize"][0]["type"] = "Bash"
    assert problems(TEMPLATES, "2024-02-01", body) == [
        "properties.customize[0].type: unknown type 'Bash' of ImageTemplateCustomizer "
        "(known: File, PowerShell, Shell, WindowsRestart, WindowsUpdate)"]


def test_variant_properties_are_judged_by_their_variant() -> None:
    body = json.loads((EXAMPLES / "2024-02-01" / "CreateImageTemplateLinux.json").read_text())["parameters"]["parameters"]
    body["properties"]["customize"][0]["runElevated"] = True  # a PowerShell field on a Shell customizer
    body["properties"]["buildTimeoutInMinutes"] = "60"
    assert problems(TEMPLATES, "2024-02-01", body) == [
        "properties.customize[0].runElevated: not a property of ImageTemplateShellCustomizer "
        "(its properties: type, name, scriptUri, sha256Checksum, inline)",
        "properties.buildTimeoutInMinutes: must be an integer, but a string \"60\" was sent"]


def storage_body(network: dict) -> dict:
    return {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
            "properties": {"supportsHttpsTrafficOnly": True, "allowBlobPublicAccess": False, "minimumTlsVersion":
                           "TLS1_2", **network}}


def test_storage_network_rules_take_the_rest_names() -> None:
    good = {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
                            "ipRules": [{"value": "203.0.113.7", "action": "Allow"}],
                            "virtualNetworkRules": [{"id": "/subscriptions/s/resourceGroups/r/providers/"
                                                            "Microsoft.Network/virtualNetworks/v/subnets/s"}]}}
    assert problems(STORAGE, "2024-01-01", storage_body(good)) == []
    azure_native = {"networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"iPAddressOrRange": "203.0.113.7"}],
                                       "virtualNetworkRules": [{"virtualNetworkResourceId": "/subscriptions/s"}]}}
    assert problems(STORAGE, "2024-01-01", storage_body(azure_native)) == [
        "properties.networkRuleSet: not a property of StorageAccountCreateParameters.properties (its properties: "
        + ", ".join(json.loads((REPO / "tests/fixtures/arm-definitions/Microsoft.Storage/storageAccounts/2024-01-01.json")
                               .read_text())["definitions"]["StorageAccountCreateParameters"]["properties"]
                    ["properties"]["properties"]) + ")"]
    misnamed = {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"iPAddressOrRange": "203.0.113.7"}],
                                "virtualNetworkRules": [{"virtualNetworkResourceId": "/subscriptions/s"}]}}
    found = problems(STORAGE, "2024-01-01", storage_body(misnamed))
    assert [p.split(":")[0] for p in found] == [
        "properties.networkAcls.ipRules[0].iPAddressOrRange", "properties.networkAcls.ipRules[0].value",
        "properties.networkAcls.virtualNetworkRules[0].virtualNetworkResourceId",
        "properties.networkAcls.virtualNetworkRules[0].id"]
    assert found[1].endswith("required by IPRule, but missing")


def test_required_properties_and_json_types() -> None:
    assert problems(STORAGE, "2024-01-01", {"properties": {"isHnsEnabled": "yes"}}) == [
        "properties.isHnsEnabled: must be a boolean, but a string \"yes\" was sent",
        "sku: required by StorageAccountCreateParameters, but missing",
        "kind: required by StorageAccountCreateParameters, but missing",
        "location: required by StorageAccountCreateParameters, but missing"]


def test_a_type_or_version_without_definition_raises() -> None:
    with pytest.raises(NoDefinition, match="2019-05-01-preview"):
        problems(TEMPLATES, "2019-05-01-preview", {})
    with pytest.raises(NoDefinition, match="Microsoft.Web/sites"):
        problems("Microsoft.Web/sites", "2024-01-01", {})
    with pytest.raises(NoDefinition, match="no PATCH body"):
        problems(TRIGGERS, "2024-02-01", {}, "PATCH")


def test_definitions_cover_the_new_defaults_and_every_version_the_emulator_serves() -> None:
    from components.emulator.schema import SUPPORTED_API_VERSIONS

    have = set(known())
    assert {("Microsoft.Authorization/roleDefinitions", "2022-05-01-preview"),
            ("Microsoft.Compute/virtualMachineScaleSets", "2024-11-01")} <= have
    assert {(TEMPLATES, v) for v in SUPPORTED_API_VERSIONS} <= have


@pytest.mark.parametrize("path, expected", [
    ("/subscriptions/s/resourceGroups/rg", "Microsoft.Resources/resourceGroups"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i",
     "Microsoft.Compute/galleries/images"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/a",
     "Microsoft.Authorization/roleAssignments"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/providers/"
     "Microsoft.Authorization/roleAssignments/a", "Microsoft.Authorization/roleAssignments"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/t/run", None),
    ("/subscriptions/s/resourcegroups", None),
])
def test_arm_type(path: str, expected: str) -> None:
    assert arm_type(path) == expected


def test_the_emulator_imports_no_product_code() -> None:
    """The emulator stands for Azure: its validation may not come from the code it judges."""
    emulator = REPO / "components" / "emulator"
    product = ("components.model", "components.plan.stack", "components.declare.pipeline", "components.arm", "components.local")
    found = []
    for path in sorted(emulator.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                absolute = module if not node.level else ".".join(
                    ["components", "emulator"][:max(0, 2 - (node.level - 1))] + ([module] if module else []))
                names = [absolute] if module else [f"{absolute}.{a.name}" for a in node.names]
                found += [f"{path.name}: {n}" for n in names if n.startswith(product)]
            elif isinstance(node, ast.Import):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith(product)]
    assert found == []
