"""How each azure-native type the project declares maps to an ARM request, and an ARM answer back to outputs.

This is the part of azure-native's own metadata that the local stand-in plugin (`azure_native.py`) needs: the resource
id template (path parameters are azure-native inputs), the api-version, the inputs whose ARM name differs, the outputs
that only the service knows (unknown during preview), and the properties that force a replacement. Top-level fields
(location, tags, identity, sku, kind) stay at the top of the ARM body; everything else goes under `properties`.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from typing import Any, Optional

_RG = "/subscriptions/{subscription}/resourceGroups/{resourceGroupName}"
_PATH_PARAM = {"scope": ".+", "parentResourcePath": "(?:[^/]+/[^/]+(?:/[^/]+/[^/]+)*)?"}
"""Path parameters that span segments (a scope; a generic resource's parent path, which may be empty)."""
TOP_LEVEL = ("location", "tags", "identity", "sku", "kind", "plan", "managedBy", "extendedLocation")
READ_ONLY = ("provisioningState", "systemData", "name", "type", "etag")
"""Output properties the service writes: never inputs (an imported resource's inputs leave them out)."""


@dataclass(frozen=True)
class ArmShape:
    """How one azure-native type maps to ARM."""

    path: str
    api_version: str
    renames: dict[str, str] = field(default_factory=dict)
    """azure-native input name -> ARM property name, where they differ."""
    computed: tuple[str, ...] = ()
    """Outputs only the service knows: unknown in a preview of a create or an update."""
    force_new: tuple[str, ...] = ()
    """Inputs besides the path parameters and `location` whose change replaces the resource."""
    read_only: tuple[str, ...] = ()
    """Further service-written properties of this type (see READ_ONLY)."""
    singleton: bool = False
    """A settings child that exists as long as its parent (`blobServices/default`): azure-native creates it with a PUT
    whether or not it exists, and deleting it only forgets it."""
    generic: bool = False
    """azure-native's generic `resources.Resource`: any type at the api-version its `apiVersion` input names, its
    `properties` input sent as the ARM properties (not spread out of them)."""

    def api_version_for(self, values: dict) -> str:
        return str(values.get("apiVersion") or self.api_version) if self.generic else self.api_version

    @property
    def path_params(self) -> list[str]:
        return [str(name) for _, name, _, _ in string.Formatter().parse(self.path) if name and name != "subscription"]

    def replaces_on(self, key: str) -> bool:
        return key in self.path_params or key == "location" or key in self.force_new


SHAPES: dict[str, ArmShape] = {
    "azure-native:resources:ResourceGroup": ArmShape(_RG, "2024-03-01"),
    "azure-native:resources:Resource": ArmShape(
        _RG + "/providers/{resourceProviderNamespace}/{parentResourcePath}/{resourceType}/{resourceName}", "",
        generic=True),
    "azure-native:managedidentity:UserAssignedIdentity": ArmShape(
        _RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}", "2023-01-31",
        computed=("principalId", "clientId", "tenantId"), read_only=("principalId", "clientId", "tenantId")),
    "azure-native:authorization:RoleDefinition": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", "2022-04-01",
        {"roleType": "type"}),
    # Role assignments are immutable in ARM: any change of principal or role is a new assignment.
    "azure-native:authorization:RoleAssignment": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", "2022-04-01",
        computed=("createdOn", "updatedOn", "createdBy", "updatedBy"),
        force_new=("principalId", "roleDefinitionId", "principalType", "condition", "conditionVersion"),
        read_only=("createdOn", "updatedOn", "createdBy", "updatedBy")),
    "azure-native:compute:Gallery": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}", "2024-03-03",
        computed=("identifier",), read_only=("identifier", "sharingStatus")),
    "azure-native:compute:GalleryImage": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}/images/{galleryImageName}", "2024-03-03"),
    "azure-native:virtualmachineimages:VirtualMachineImageTemplate": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}", "2024-02-01",
        computed=("lastRunStatus", "exactStagingResourceGroup", "provisioningError"),
        read_only=("lastRunStatus", "exactStagingResourceGroup", "provisioningError")),
    "azure-native:virtualmachineimages:Trigger": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}/triggers/{triggerName}",
        "2024-02-01", computed=("status",), read_only=("status",)),
    "azure-native:network:VirtualNetwork": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}", "2024-05-01"),
    "azure-native:network:Subnet": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", "2024-05-01"),
    "azure-native:compute:VirtualMachineScaleSet": ArmShape(
        _RG + "/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}", "2024-07-01"),
    "azure-native:storage:StorageAccount": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}", "2024-01-01",
        {"enableHttpsTrafficOnly": "supportsHttpsTrafficOnly"},
        computed=("primaryEndpoints",), read_only=("primaryEndpoints", "creationTime", "primaryLocation",
                                                   "statusOfPrimary")),
    "azure-native:storage:BlobServiceProperties": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/{blobServicesName}",
        "2024-01-01", singleton=True),
    "azure-native:storage:BlobContainer": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "2024-01-01"),
}


def auto_name(logical: str, seed: bytes) -> str:
    """azure-native names a resource whose name input is missing `<logical name><8 random hex>`, seeded by the
    engine's per-resource random seed so the same resource keeps its name."""
    return f"{logical}{hashlib.sha256(seed or logical.encode()).hexdigest()[:8]}"


def resource_id(shape: ArmShape, inputs: dict, subscription: str) -> str:
    values = {"subscription": subscription, **{name: str(inputs.get(name) or "") for name in shape.path_params}}
    return re.sub(r"/{2,}", "/", shape.path.format(**values))  # an empty parentResourcePath


def arm_body(typ: str, inputs: dict) -> dict:
    """The ARM request body for azure-native `inputs` of type `typ` (path parameters left out)."""
    shape = SHAPES[typ]
    body: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in shape.path_params or value is None or shape.generic and key == "apiVersion":
            continue
        if shape.generic and key == "properties":
            properties = dict(value)
        elif key in TOP_LEVEL:
            body[key] = value
        else:
            properties[shape.renames.get(key) or key] = value
    if "identity" in body:  # azure-native takes a list of ids; ARM wants a map of id -> {}
        body["identity"] = output_inputs(body)["identity"]
    if properties or typ != "azure-native:resources:ResourceGroup":
        body["properties"] = properties
    return whole_numbers(body)


def whole_numbers(value: Any) -> Any:
    """The engine carries every number as a float; the provider sends schema integers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def output_inputs(inputs: dict) -> dict:
    """Inputs in the output shape: an identity's list of user-assigned ids becomes ARM's map of id -> details."""
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        return {**inputs, "identity": {**identity,
                                       "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}}
    return dict(inputs)


def outputs_of(typ: str, inputs: dict, arm: dict) -> dict:
    """An ARM GET answer in the provider's output shape: inputs, then top-level fields, then properties."""
    shape = SHAPES[typ]
    outputs = output_inputs(inputs)
    reverse = {v: k for k, v in shape.renames.items()}
    for key, value in arm.items():
        if key == "properties" and isinstance(value, dict) and not shape.generic:
            outputs.update({reverse.get(k, k): v for k, v in value.items()})
        elif key != "id":
            outputs[key] = value
    outputs["azureApiVersion"] = shape.api_version_for(inputs)
    return outputs


def inputs_of(typ: str, rid: str, arm: dict, subscription: str) -> dict:
    """The inputs that describe an existing resource (what `pulumi import` records): path parameters from its id,
    then every field the service does not write."""
    shape = SHAPES[typ]
    inputs: dict[str, Any] = {**(path_values(shape, rid) or {})}
    skip = set(READ_ONLY) | set(shape.read_only)
    reverse = {v: k for k, v in shape.renames.items()}
    for key, value in arm.items():
        if key == "properties" and isinstance(value, dict) and shape.generic:
            inputs["properties"] = {k: v for k, v in value.items() if k not in skip}
        elif key == "properties" and isinstance(value, dict):
            inputs.update({str(reverse.get(k, k)): v for k, v in value.items() if k not in skip})
        elif key in TOP_LEVEL:
            inputs[key] = _identity_input(value) if key == "identity" else value
    return inputs


def _identity_input(identity: Any) -> Any:
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), dict):
        return {"type": identity.get("type"), "userAssignedIdentities": sorted(identity["userAssignedIdentities"])}
    return identity


def path_values(shape: ArmShape, rid: str) -> Optional[dict[str, str]]:
    """The path parameters of `rid` under `shape` (None when it does not fit)."""
    pattern = re.escape(shape.path).replace(r"\{", "{").replace(r"\}", "}")
    regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{_PATH_PARAM.get(m.group(1), '[^/]+')})", pattern)
    regex = regex.replace("/(?P<parentResourcePath>", "/?(?P<parentResourcePath>")
    match = re.fullmatch(regex, rid, re.I)
    if not match:
        return None
    return {k: v for k, v in match.groupdict().items() if k != "subscription"}
