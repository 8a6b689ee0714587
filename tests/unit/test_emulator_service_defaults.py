"""The emulator's answers carry what Azure adds beside a PUT body, judged by the official REST examples.

Each case PUTs a minimal body to the emulator and compares the answer (and a later GET) with the response of an
official example (tests/fixtures/service-examples, copied from Azure/azure-rest-api-specs): every key
the example's response has and its request had not (or, for a GET example, every key but those its account was
created with) must be in the emulator's answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.emulator import service_defaults
from components.emulator.generic import GenericResources
from components.emulator.messages import Req
from components.emulator.state import State

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "service-examples"
SUB = "/subscriptions/00000000-0000-0000-0000-00000000abcd"
RG = SUB + "/resourceGroups/rg"
ROLE = SUB + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"  # Reader


def keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON object (`properties.identifier.uniqueName`); arrays are leaves."""
    if not isinstance(value, dict):
        return set()
    out = set()
    for k, v in value.items():
        out.add(prefix + k)
        out |= keys(v, prefix + k + ".")
    return out


def emulator() -> GenericResources:
    generic = GenericResources(State(lambda: None, 1.0), lambda rg, now: None)
    generic.handle(Req("PUT", RG, {}, {"location": "westus"}, "https://emulator", 1000.0))
    return generic


def put_then_get(generic: GenericResources, path: str, body: dict) -> tuple[dict, dict]:
    put = generic.handle(Req("PUT", path, {}, body, "https://emulator", 1000.0))
    assert put.status in (200, 201), put.body
    got = generic.handle(Req("GET", path, {}, None, "https://emulator", 2000.0))
    assert got.status == 200
    return put.body, got.body


# (example file, the emulator path, the minimal body the project's kind of request sends, keys of the example's
# response that a minimal PUT does not get, with why)
CASES = [
    ("Gallery_Create.json", RG + "/providers/Microsoft.Compute/galleries/gal", {"location": "westus"},
     {"properties.description": "the request's"}),
    ("GalleryImage_Create.json", RG + "/providers/Microsoft.Compute/galleries/gal/images/img",
     {"location": "westus", "properties": {"osType": "Linux", "osState": "Generalized",
                                           "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}}, {}),
    ("IdentityCreate.json", RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", {"location": "westus"},
     {}),
    ("RoleAssignments_CreateForResourceGroup.json",
     RG + "/providers/Microsoft.Authorization/roleAssignments/05c5a614-a7d6-4502-b150-c2fb455033ff",
     {"properties": {"roleDefinitionId": ROLE, "principalId": "ce2ce14e-85d7-4629-bdbc-454d0519d987",
                     "principalType": "User"}}, {}),
    ("PutRoleDefinition.json", SUB + "/providers/Microsoft.Authorization/roleDefinitions/6f1e8a0e-0b3c-4c55-9d2e-1a2b3c4d5e6f",
     {"properties": {"roleName": "Role name", "permissions": [{"actions": ["a"]}], "assignableScopes": [SUB]}}, {}),
    ("StorageAccountCreate.json", RG + "/providers/Microsoft.Storage/storageAccounts/acct",
     {"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_GRS"}},
     {"properties.primaryEndpoints.internetEndpoints": "routingPreference's (not requested)",
      "properties.primaryEndpoints.microsoftEndpoints": "routingPreference's (not requested)",
      "properties.secondaryLocation": "a geo-replicated account's paired region (not served)",
      "properties.statusOfSecondary": "a geo-replicated account's paired region (not served)",
      "properties.encryption.requireInfrastructureEncryption": "the request's"}),
    ("StorageAccountGetProperties.json", RG + "/providers/Microsoft.Storage/storageAccounts/acct2",
     {"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
     {"properties.geoReplicationStats": "only with expand=geoReplicationStats on a geo-replicated account",
      "properties.isHnsEnabled": "the account's own setting", "properties.routingPreference": "the account's own",
      "properties.networkAcls.resourceAccessRules": "the account's own rules",
      "properties.secondaryLocation": "geo-replicated only", "properties.statusOfSecondary": "geo-replicated only",
      "tags": "the account's own"}),
    ("BlobContainersGet.json", RG + "/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default/containers/c",
     {}, {}),
]


@pytest.mark.parametrize("example,path,body,exempt", CASES, ids=[c[0] for c in CASES])
def test_a_minimal_put_comes_back_with_what_the_example_response_adds(example, path, body, exempt):
    data = json.loads((EXAMPLES / example).read_text(encoding="utf-8"))
    generic = emulator()
    if "/storageAccounts/acct/" in path:
        put_then_get(generic, RG + "/providers/Microsoft.Storage/storageAccounts/acct",
                     {"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})
    if "/galleries/gal/" in path:
        put_then_get(generic, RG + "/providers/Microsoft.Compute/galleries/gal", {"location": "westus"})
    put, got = put_then_get(generic, path, body)
    added = {k for k in keys(data["response"]) - keys(data.get("request") or {})
             if not any(k == e or k.startswith(e + ".") for e in exempt)}
    for answer in (put, got):
        missing = sorted(added - keys(answer))
        assert not missing, f"{example}: the emulator's answer lacks {missing}"


def test_every_added_property_cites_an_official_example_fixture_or_file():
    for rtype, entries in service_defaults.SERVICE_ADDS.items():
        for added in entries:
            assert added.source.startswith("Azure/azure-rest-api-specs: specification/"), (rtype, added)
            assert "/examples/" in added.source and added.source.endswith(".json"), (rtype, added)


def test_read_only_values_are_kept_across_puts_and_defaults_yield_to_the_request():
    generic = emulator()
    path = RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
    first, _ = put_then_get(generic, path, {"location": "westus"})
    again, _ = put_then_get(generic, path, {"location": "westus", "tags": {"a": "b"}})
    assert again["properties"]["principalId"] == first["properties"]["principalId"]
    account = RG + "/providers/Microsoft.Storage/storageAccounts/acct"
    created, _ = put_then_get(generic, account, {"location": "westus", "kind": "StorageV2", "sku": {"name": "Premium_LRS"},
                                                 "properties": {"networkAcls": {"defaultAction": "Deny"}}})
    assert created["properties"]["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [],
                                                    "virtualNetworkRules": []}
    assert created["sku"]["tier"] == "Premium"
    assert created["properties"]["supportsHttpsTrafficOnly"] is True
    updated, _ = put_then_get(generic, account, {"location": "westus", "kind": "StorageV2", "sku": {"name": "Premium_LRS"},
                                                 "properties": {"supportsHttpsTrafficOnly": False}})
    assert updated["properties"]["supportsHttpsTrafficOnly"] is False
    assert updated["properties"]["creationTime"] == created["properties"]["creationTime"]
    assert updated["properties"]["encryption"] == created["properties"]["encryption"]
