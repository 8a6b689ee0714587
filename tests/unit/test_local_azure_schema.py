"""GetSchema of the azure-native stand-in (issue 25): the YAML language host type-checks a program's azure-native
resources against it, so it must list what the stand-in serves, typed as the installed azure-native SDK types it."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from components.local.azure_native import AzureNativeStandIn, plugin_version
from components.offline.arm_shapes import SHAPES


@pytest.fixture(scope="module")
def schema() -> dict:
    answer = AzureNativeStandIn().GetSchema(SimpleNamespace(version=0, subpackage_name="", subpackage_version=""), None)
    return json.loads(answer.schema)


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for inner in value.values():
            yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def test_it_lists_exactly_the_types_the_stand_in_serves_at_the_sdk_version(schema: dict) -> None:
    assert schema["name"] == "azure-native" and schema["version"] == plugin_version()
    assert sorted(schema["resources"]) == sorted(SHAPES)
    assert list(schema["functions"]) == ["azure-native:authorization:getClientConfig"]
    assert sorted(schema["functions"]["azure-native:authorization:getClientConfig"]["outputs"]["properties"]) == [
        "clientId", "objectId", "subscriptionId", "tenantId"]


def test_every_reference_resolves(schema: dict) -> None:
    missing = {ref for ref in _refs(schema) if ref != "pulumi.json#/Any"
               and ref.removeprefix("#/types/") not in schema["types"]}
    assert not missing


def test_inputs_and_outputs_are_the_sdks(schema: dict) -> None:
    """pulumi_azure_native.network.VirtualNetworkInitArgs / AddressSpaceArgs, VirtualNetwork's getters, and
    compute's Union[str, CachingTypes] (any string)."""
    vnet = schema["resources"]["azure-native:network:VirtualNetwork"]
    assert vnet["requiredInputs"] == ["resourceGroupName"]
    assert vnet["inputProperties"]["addressSpace"] == {"$ref": "#/types/azure-native:network:AddressSpace"}
    assert vnet["inputProperties"]["flowTimeoutInMinutes"] == {"type": "integer"}
    assert vnet["inputProperties"]["tags"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert schema["types"]["azure-native:network:AddressSpace"]["properties"]["addressPrefixes"] == {
        "type": "array", "items": {"type": "string"}}
    assert vnet["properties"]["name"] == {"type": "string"}
    assert vnet["properties"]["addressSpace"] == {"$ref": "#/types/azure-native:network:AddressSpaceResponse"}
    os_disk = schema["types"]["azure-native:compute:VirtualMachineScaleSetOSDisk"]
    assert os_disk["properties"]["caching"] == {"type": "string"}
    assert "createOption" in os_disk["required"]
    template = schema["resources"]["azure-native:virtualmachineimages:VirtualMachineImageTemplate"]
    assert {r["$ref"] for r in template["inputProperties"]["source"]["oneOf"]} == {
        f"#/types/azure-native:virtualmachineimages:ImageTemplate{kind}Source"
        for kind in ("ManagedImage", "PlatformImage", "SharedImageVersion")}
