"""The azure-native stand-in (`components/local/azure_native.py`, `arm_shapes.py`) follows azure-native 3.x's rules:
request bodies, replacement, delete-before-replace, Check defaults, the existence check, refresh and import, invoke
errors. The servicer is called with protobuf requests against a fake ARM client that records what it is asked."""

from __future__ import annotations

import importlib
import inspect
import re
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from pulumi.runtime.proto import provider_pb2

from components.offline.arm_shapes import SHAPES, arm_body, inputs_of, sdk_outputs
from components.local.azure_native import AzureNativeStandIn, to_dict, to_struct

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
TEMPLATE_ID = RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/t1"
ACCOUNT_ID = RG + "/providers/Microsoft.Storage/storageAccounts/acct"


class Aborted(Exception):
    pass


class Context:
    def abort(self, code: Any, message: str) -> None:
        raise Aborted(message)


CTX: Any = Context()  # a grpc.ServicerContext as far as the servicer uses one (abort)


def http_error(status: int, code: str, message: str) -> HttpResponseError:
    err: HttpResponseError = (ResourceNotFoundError if status == 404 else HttpResponseError)(message=message)
    err.status_code = status
    body = f'{{"error":{{"code":"{code}","message":"{message}"}}}}'
    err.response = SimpleNamespace(text=lambda: body)  # type: ignore[assignment]
    err.error = SimpleNamespace(code=code, message=message)  # type: ignore[assignment]
    return err


class FakeArm:
    """`resources` of azure-mgmt-resource's client: GETs answer from `answers` by (id, api-version), else 404."""

    def __init__(self, answers: Optional[dict[tuple[str, str], Any]] = None):
        self.answers = answers or {}
        self.calls: list[tuple] = []
        self.resources = self

    def get_by_id(self, rid: str, api_version: str) -> Any:
        self.calls.append(("GET", rid, api_version))
        answer = self.answers.get((rid, api_version))
        if answer is None:
            raise http_error(404, "ResourceNotFound", f"The Resource '{rid}' was not found.")
        if isinstance(answer, HttpResponseError):
            raise answer
        return SimpleNamespace(as_dict=lambda: answer)

    def begin_create_or_update_by_id(self, rid: str, body: dict, api_version: str) -> Any:
        self.calls.append(("PUT", rid, api_version, body))
        self.answers[(rid, api_version)] = {"id": rid, **body}
        return SimpleNamespace(result=lambda: SimpleNamespace(as_dict=lambda: {"id": rid, **body}))


def stand_in(arm: FakeArm) -> AzureNativeStandIn:
    servicer = AzureNativeStandIn()
    servicer.subscription = SUB
    servicer._client = arm
    return servicer


def urn(typ: str, name: str = "res") -> str:
    return f"urn:pulumi:dev::aib::{typ}::{name}"


# ---- request bodies ---------------------------------------------------------------------------------------------

def test_a_trigger_sends_its_kind_under_properties():
    body = arm_body("azure-native:virtualmachineimages:Trigger",
                    {"resourceGroupName": "rg", "imageTemplateName": "t1", "triggerName": "source", "kind": "SourceImage",
                     "azureApiVersion": "2024-02-01"})
    assert body == {"properties": {"kind": "SourceImage"}}


def test_storage_network_rules_go_by_their_rest_names():
    inputs = {"resourceGroupName": "rg", "accountName": "acct", "location": "westeurope", "kind": "StorageV2",
              "sku": {"name": "Standard_LRS"}, "enableHttpsTrafficOnly": True, "allowSharedKeyAccess": False,
              "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices",
                                 "ipRules": [{"iPAddressOrRange": "203.0.113.7"}],
                                 "virtualNetworkRules": [{"virtualNetworkResourceId": RG + "/subnets/a"}]}}
    body = arm_body("azure-native:storage:StorageAccount", inputs)
    assert body == {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {
        "supportsHttpsTrafficOnly": True, "allowSharedKeyAccess": False,
        "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [{"value": "203.0.113.7"}],
                        "virtualNetworkRules": [{"id": RG + "/subnets/a"}]}}}
    # and back: the answer's REST names are the SDK's again, nested too
    outputs = sdk_outputs("azure-native:storage:StorageAccount", {"id": ACCOUNT_ID, **body})
    assert outputs["networkRuleSet"]["ipRules"] == [{"iPAddressOrRange": "203.0.113.7"}]
    assert outputs["networkRuleSet"]["virtualNetworkRules"] == [{"virtualNetworkResourceId": RG + "/subnets/a"}]
    assert outputs["enableHttpsTrafficOnly"] is True and "networkAcls" not in outputs


def test_a_scale_sets_flattened_network_configurations_get_their_properties_back():
    nic = {"name": "web-nic", "primary": True,
           "ipConfigurations": [{"name": "web-ip", "subnet": {"id": RG + "/subnets/app"}}]}
    inputs = {"resourceGroupName": "rg", "vmScaleSetName": "vmss", "location": "westeurope",
              "sku": {"name": "Standard_D2s_v5", "capacity": 2},
              "virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": [nic]}}}
    body = arm_body("azure-native:compute:VirtualMachineScaleSet", inputs)
    assert body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"] == [
        {"name": "web-nic", "properties": {"primary": True, "ipConfigurations": [
            {"name": "web-ip", "properties": {"subnet": {"id": RG + "/subnets/app"}}}]}}]
    outputs = sdk_outputs("azure-native:compute:VirtualMachineScaleSet", {"id": "x", **body})
    assert outputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"] == [nic]


def test_inputs_azure_native_does_not_send_are_dropped():
    body = arm_body("azure-native:resources:Resource", {
        "resourceGroupName": "rg", "resourceProviderNamespace": "Microsoft.VirtualMachineImages",
        "parentResourcePath": "", "resourceType": "imageTemplates", "resourceName": "t1", "apiVersion": "2025-10-01",
        "azureApiVersion": "2024-03-01", "__createBeforeDelete": True, "location": "westeurope",
        "properties": {"source": {"type": "PlatformImage"}}})
    assert body == {"location": "westeurope", "properties": {"source": {"type": "PlatformImage"}}}
    assert arm_body("azure-native:resources:ResourceGroup",
                    {"resourceGroupName": "rg", "location": "westeurope", "azureApiVersion": "2024-03-01"}) \
        == {"location": "westeurope"}


def _sdk_docstring_version(typ: str) -> str:
    _, module, name = typ.split(":")
    cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    source = open(inspect.getsourcefile(cls) or "").read()
    match = re.search(r"Uses Azure REST API version (\S+?)\.?\s", source)
    assert match, typ
    return match.group(1)


@pytest.mark.parametrize("typ", sorted(SHAPES))
def test_each_type_uses_the_api_version_its_sdk_says(typ: str):
    assert SHAPES[typ].api_version == _sdk_docstring_version(typ)


# ---- Diff ---------------------------------------------------------------------------------------------------------

ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ASSIGNMENT_INPUTS = {"scope": RG, "roleAssignmentName": "a1", "principalId": "p1", "principalType": "User",
                     "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/r1",
                     "azureApiVersion": "2022-04-01"}


def diff(typ: str, olds: dict, news: dict, state: Optional[dict] = None) -> provider_pb2.DiffResponse:
    return stand_in(FakeArm()).Diff(provider_pb2.DiffRequest(
        urn=urn(typ), id="x", olds=to_struct(state or {}), old_inputs=to_struct(olds), news=to_struct(news)),
        CTX)


def test_a_role_assignment_is_updated_in_place_when_its_principal_type_changes():
    response = diff(ASSIGNMENT, ASSIGNMENT_INPUTS, {**ASSIGNMENT_INPUTS, "principalType": "ServicePrincipal"})
    assert list(response.diffs) == ["principalType"] and not response.replaces
    assert response.detailedDiff["principalType"].kind == provider_pb2.PropertyDiff.UPDATE


def test_a_role_assignment_is_replaced_when_its_principal_changes_and_the_old_one_goes_first():
    response = diff(ASSIGNMENT, ASSIGNMENT_INPUTS, {**ASSIGNMENT_INPUTS, "principalId": "p2"})
    assert list(response.replaces) == ["principalId"] and response.deleteBeforeReplace


def test_an_auto_named_resource_is_created_before_the_old_one_is_deleted():
    olds = {**ASSIGNMENT_INPUTS, "__createBeforeDelete": True}
    response = diff(ASSIGNMENT, olds, {**olds, "principalId": "p2"})
    assert list(response.replaces) == ["principalId"] and not response.deleteBeforeReplace


def test_flags_location_spelling_and_group_case_are_no_change():
    typ = "azure-native:managedidentity:UserAssignedIdentity"
    olds = {"resourceGroupName": "RG", "resourceName": "id", "location": "West Europe", "__createBeforeDelete": True}
    news = {"resourceGroupName": "rg", "resourceName": "id", "location": "westeurope"}
    response = diff(typ, olds, news)
    assert response.changes == provider_pb2.DiffResponse.DIFF_NONE and not response.diffs


def test_a_nested_change_is_reported_by_its_path():
    typ = "azure-native:storage:StorageAccount"
    olds = {"resourceGroupName": "rg", "accountName": "acct", "networkRuleSet": {"defaultAction": "Allow"}}
    news = {**olds, "networkRuleSet": {"defaultAction": "Deny"}}
    response = diff(typ, olds, news)
    assert dict(response.detailedDiff) == {"networkRuleSet.defaultAction": provider_pb2.PropertyDiff(
        kind=provider_pb2.PropertyDiff.UPDATE, inputDiff=True)}
    assert list(response.diffs) == ["networkRuleSet"]


# ---- Check --------------------------------------------------------------------------------------------------------

def test_a_missing_name_is_auto_named_and_marked_create_before_delete():
    typ = "azure-native:managedidentity:UserAssignedIdentity"
    response = stand_in(FakeArm()).Check(provider_pb2.CheckRequest(
        urn=urn(typ, "ident"), news=to_struct({"resourceGroupName": "rg", "location": "westeurope"}),
        randomSeed=b"seed"), CTX)
    inputs = to_dict(response.inputs)
    assert re.fullmatch(r"ident[0-9a-f]{8}", inputs["resourceName"])
    assert inputs["__createBeforeDelete"] is True and inputs["azureApiVersion"] == "2023-01-31"


def test_a_given_name_is_not_marked():
    typ = "azure-native:managedidentity:UserAssignedIdentity"
    response = stand_in(FakeArm()).Check(provider_pb2.CheckRequest(
        urn=urn(typ, "ident"), news=to_struct({"resourceGroupName": "rg", "resourceName": "id", "location": "x"})),
        CTX)
    assert "__createBeforeDelete" not in to_dict(response.inputs)


# ---- Create: the existence check ----------------------------------------------------------------------------------

GENERIC = "azure-native:resources:Resource"
GENERIC_INPUTS = {"resourceGroupName": "rg", "resourceProviderNamespace": "Microsoft.VirtualMachineImages",
                  "parentResourcePath": "", "resourceType": "imageTemplates", "resourceName": "t1",
                  "apiVersion": "2025-10-01", "location": "westeurope", "properties": {"x": 1}}


def create(arm: FakeArm, typ: str, inputs: dict) -> provider_pb2.CreateResponse:
    return stand_in(arm).Create(provider_pb2.CreateRequest(urn=urn(typ), properties=to_struct(inputs)), CTX)


def test_the_generic_resource_checks_existence_at_its_own_api_version_not_its_input():
    arm = FakeArm({(TEMPLATE_ID, "2024-03-01"): http_error(
        400, "NoRegisteredProviderFound", "No registered resource provider found for API version '2024-03-01'")})
    with pytest.raises(Aborted) as err:
        create(arm, GENERIC, GENERIC_INPUTS)
    assert arm.calls[0] == ("GET", TEMPLATE_ID, "2024-03-01")
    assert str(err.value).startswith(f"cannot check existence of resource '{TEMPLATE_ID}': status code 400, {{")
    assert "NoRegisteredProviderFound" in str(err.value)


def test_an_existing_resource_is_not_created():
    arm = FakeArm({(TEMPLATE_ID, "2024-03-01"): {"id": TEMPLATE_ID, "name": "t1"}})
    with pytest.raises(Aborted, match=f"^cannot create already existing resource '{re.escape(TEMPLATE_ID)}'$"):
        create(arm, GENERIC, GENERIC_INPUTS)


def test_a_missing_resource_is_put_at_its_api_version_and_read_back():
    arm = FakeArm()
    response = create(arm, GENERIC, GENERIC_INPUTS)
    assert [c[:3] for c in arm.calls] == [("GET", TEMPLATE_ID, "2024-03-01"), ("PUT", TEMPLATE_ID, "2025-10-01"),
                                          ("GET", TEMPLATE_ID, "2025-10-01")]
    assert to_dict(response.properties)["azureApiVersion"] == "2024-03-01"


# ---- Read: refresh and import -------------------------------------------------------------------------------------

def read(arm: FakeArm, typ: str, rid: str, state: dict, inputs: Optional[dict]) -> provider_pb2.ReadResponse:
    request = provider_pb2.ReadRequest(urn=urn(typ), id=rid, properties=to_struct(state))
    if inputs is not None:
        request.inputs.CopyFrom(to_struct(inputs))
    return stand_in(arm).Read(request, CTX)


def test_refresh_copies_only_the_drift_into_the_inputs():
    typ = "azure-native:storage:StorageAccount"
    inputs = {"resourceGroupName": "rg", "accountName": "acct", "location": "westeurope",
              "allowSharedKeyAccess": False}
    old_state = {"id": ACCOUNT_ID, "location": "westeurope", "allowSharedKeyAccess": False, "accessTier": "Hot",
                 "minimumTlsVersion": "TLS1_2", "provisioningState": "Succeeded"}
    now = {"id": ACCOUNT_ID, "location": "westeurope", "properties": {
        "allowSharedKeyAccess": True, "accessTier": "Hot", "minimumTlsVersion": "TLS1_0",
        "provisioningState": "Succeeded"}}
    response = read(FakeArm({(ACCOUNT_ID, "2024-01-01"): now}), typ, ACCOUNT_ID, old_state, inputs)
    assert to_dict(response.inputs) == {**inputs, "allowSharedKeyAccess": True, "minimumTlsVersion": "TLS1_0"}


def test_import_takes_every_writable_property_but_the_id_and_empty_collections():
    typ = "azure-native:storage:StorageAccount"
    now = {"id": ACCOUNT_ID, "name": "acct", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
           "tags": {}, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
           "properties": {"accessTier": "Hot", "provisioningState": "Succeeded", "supportsHttpsTrafficOnly": True,
                          "networkAcls": {"defaultAction": "Allow", "ipRules": [], "bypass": "AzureServices"}}}
    response = read(FakeArm({(ACCOUNT_ID, "2024-01-01"): now}), typ, ACCOUNT_ID, {}, None)
    assert to_dict(response.inputs) == {
        "resourceGroupName": "rg", "accountName": "acct", "location": "westeurope", "sku": {"name": "Standard_LRS"},
        "kind": "StorageV2", "accessTier": "Hot", "enableHttpsTrafficOnly": True,
        "networkRuleSet": {"defaultAction": "Allow", "bypass": "AzureServices"}}
    assert inputs_of(typ, ACCOUNT_ID, now) == to_dict(response.inputs)


# ---- invokes ------------------------------------------------------------------------------------------------------

def test_a_getter_of_a_missing_resource_fails_as_azure_native_does_and_adoption_reads_it_as_absent():
    from components.declare.adoption import NOT_FOUND_MARKERS

    gallery = RG + "/providers/Microsoft.Compute/galleries/g"
    with pytest.raises(Aborted) as err:
        stand_in(FakeArm()).Invoke(provider_pb2.InvokeRequest(
            tok="azure-native:compute:getGallery", args=to_struct({"resourceGroupName": "rg", "galleryName": "g"})),
            CTX)
    assert re.fullmatch(rf'request failed {re.escape(gallery)}: Status=404 Code="ResourceNotFound" Message=".+"',
                        str(err.value))
    assert any(m in str(err.value) for m in NOT_FOUND_MARKERS)

