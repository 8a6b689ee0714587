"""How each azure-native type the project declares maps to an ARM request, and an ARM answer back to outputs.

This is the part of azure-native's own metadata that the local stand-in plugin (`azure_native.py`) needs: the resource
id template (path parameters are azure-native inputs), the built-in api-version, which body properties sit at the top
of the ARM body (the rest go under `properties`, which the REST spec flattens with `x-ms-client-flatten`), the inputs
whose ARM name differs (nested too), the outputs only the service knows, and the properties that force a replacement.

Sources (pulumi/pulumi-azure-native at v3.x; the locked SDK is 3.29.0):
- request body: provider/pkg/convert/sdkInputsToRequestBody.go `SdkInputsToRequestBody` walks the metadata's body
  properties by their wire name, reads each input by its SDK name and writes it into its `containers` (`properties`
  for a flattened one); an input the metadata does not know is dropped (path parameters, `apiVersion` of a typed
  resource, `azureApiVersion`, `__createBeforeDelete`).
- SDK names: provider/pkg/gen/properties.go `genProperties` names a property after its `x-ms-client-name`, first
  letter lowered (`IPAddressOrRange` -> `iPAddressOrRange`).
- answers: provider/pkg/convert/responseBodyToSdkOutputs.go `ResponseBodyToSdkOutputs` (the reverse mapping);
  imports: provider/pkg/convert/responseToSdkInputs.go `ResponseToSdkInputs` (writable properties only, empty
  collections removed).
- replacement: provider/pkg/gen/properties.go `propChangeForcesRecreate` (x-ms-mutability without update, e.g. a
  tracked resource's `location`) and provider/pkg/gen/forceNew.go `forceNewMap`; path parameters always replace
  (provider/pkg/provider/diff.go `calculateDetailedDiff`).
- default api-versions: the SDK's own docstrings ("Uses Azure REST API version ..." in
  pulumi_azure_native/<module>/<type>.py, 3.29.0).
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional, Union

_RG = "/subscriptions/{subscription}/resourceGroups/{resourceGroupName}"
_PATH_PARAM = {"scope": ".+", "parentResourcePath": "(?:[^/]+/[^/]+(?:/[^/]+/[^/]+)*)?"}
"""Path parameters that span segments (a scope; a generic resource's parent path, which may be empty)."""
READ_ONLY = ("provisioningState", "systemData", "name", "type", "etag", "id")
"""Output properties the service writes: never inputs (an imported resource's inputs leave them out)."""
CREATE_BEFORE_DELETE = "__createBeforeDelete"
"""azure-native's input flag on a randomly auto-named resource (provider/pkg/provider/provider.go
`createBeforeDeleteFlag`, set in `applyDefaults`): such a resource can be created before the old one is deleted."""

Rename = Union[str, "tuple[str, dict[str, Any]]", "tuple[str, dict[str, Any], tuple[str, ...]]"]
"""An input's ARM name, or (ARM name, renames inside it: an object's properties, or each element's of an array), and
for a nested type the SDK flattens (x-ms-client-flatten) the keys that stay outside its `properties`."""

_TRACKED = ("location", "tags")
"""ARM's TrackedResource (common-types v*/types.json): `location` and `tags` at the body's top level."""


@dataclass(frozen=True)
class ArmShape:
    """How one azure-native type maps to ARM."""

    path: str
    api_version: str
    """azure-native's built-in api-version of the type (its metadata `APIVersion`)."""
    top_level: tuple[str, ...] = ()
    """Writable body properties outside `properties` (the REST definition's own, and its base's); every other input
    goes under `properties` (x-ms-client-flatten)."""
    renames: dict[str, Rename] = field(default_factory=dict)
    """azure-native input name -> ARM name where they differ (nested renames inside)."""
    computed: tuple[str, ...] = ()
    """Outputs only the service knows: unknown in a preview of a create or an update."""
    force_new: tuple[str, ...] = ()
    """Inputs besides the path parameters (and `location` of a tracked resource) whose change replaces it."""
    read_only: tuple[str, ...] = ()
    """Further service-written properties of this type (see READ_ONLY)."""
    singleton: bool = False
    """A settings child that exists as long as its parent (`blobServices/default`): azure-native creates it with a PUT
    whether or not it exists, and deleting it only forgets it."""
    generic: bool = False
    """azure-native's generic `resources.Resource`: any type at the api-version its `apiVersion` input names, its
    `properties` input sent as the ARM properties (not spread out of them)."""
    uuid_name: bool = False
    """The name is auto-named as a GUID (role definitions and assignments: metadata AutoName "uuid")."""

    def api_version_for(self, values: dict) -> str:
        """The api-version of a PUT, GET or DELETE: the generic resource's `apiVersion` input, else the built-in one
        (provider/pkg/provider/provider.go `getApiVersion`)."""
        return str(values.get("apiVersion") or self.api_version) if self.generic else self.api_version

    @property
    def path_params(self) -> list[str]:
        return [str(name) for _, name, _, _ in string.Formatter().parse(self.path) if name and name != "subscription"]

    @property
    def name_param(self) -> str:
        """The path parameter azure-native auto-names (the resource's own name, the last one)."""
        return self.path_params[-1]

    @property
    def replace_keys(self) -> set[str]:
        """provider/pkg/provider/diff.go `calculateDetailedDiff`: every path parameter, then the force-new body
        properties (nested ones as `parent.child` or `parent[].child`)."""
        keys = set(self.path_params) | set(self.force_new)
        if "location" in self.top_level:
            keys.add("location")  # TrackedResource.location is x-ms-mutability [read, create]: propChangeForcesRecreate
        return keys


_STORAGE_RENAMES: dict[str, Rename] = {
    # specification/storage/resource-manager/Microsoft.Storage/stable/2024-01-01/storage.json
    # StorageAccountPropertiesCreateParameters: supportsHttpsTrafficOnly (x-ms-client-name EnableHttpsTrafficOnly),
    # networkAcls (x-ms-client-name NetworkRuleSet); NetworkRuleSet.ipRules[] IPRule.value (x-ms-client-name
    # IPAddressOrRange), virtualNetworkRules[] VirtualNetworkRule.id (x-ms-client-name VirtualNetworkResourceId).
    # The SDK's inputs: storage.StorageAccountArgs(enable_https_traffic_only, network_rule_set),
    # storage.IPRuleArgs(i_p_address_or_range), storage.VirtualNetworkRuleArgs(virtual_network_resource_id).
    "enableHttpsTrafficOnly": "supportsHttpsTrafficOnly",
    "networkRuleSet": ("networkAcls", {"ipRules": ("ipRules", {"iPAddressOrRange": "value"}),
                                       "virtualNetworkRules": ("virtualNetworkRules",
                                                               {"virtualNetworkResourceId": "id"})}),
}

_VMSS_RENAMES: dict[str, Rename] = {
    # specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-11-01/virtualMachineScaleSet.json:
    # VirtualMachineScaleSetNetworkConfiguration {name, properties (x-ms-client-flatten)},
    # VirtualMachineScaleSetIPConfiguration {name, properties (flatten)},
    # VirtualMachineScaleSetPublicIPAddressConfiguration {name, sku, properties (flatten)}: the SDK's args carry
    # `primary`, `ipConfigurations`, `subnet` beside `name`, and SdkInputsToRequestBody puts them back in `properties`.
    "virtualMachineProfile": ("virtualMachineProfile", {"networkProfile": ("networkProfile", {
        "networkInterfaceConfigurations": ("networkInterfaceConfigurations", {
            "ipConfigurations": ("ipConfigurations", {
                "publicIPAddressConfiguration": ("publicIPAddressConfiguration", {}, ("name", "sku"))}, ("name",))},
            ("name",))})}),
}

SHAPES: dict[str, ArmShape] = {
    # ResourceGroup (resources.json): location, managedBy, tags at the top; properties are read-only.
    "azure-native:resources:ResourceGroup": ArmShape(_RG, "2024-03-01", top_level=(*_TRACKED, "managedBy")),
    # GenericResource (resources.json): the Resource base plus plan, properties (any), kind, managedBy, sku,
    # identity. Its own api-version is the resources module's (2024-03-01), used by the existence check.
    "azure-native:resources:Resource": ArmShape(
        _RG + "/providers/{resourceProviderNamespace}/{parentResourcePath}/{resourceType}/{resourceName}",
        "2024-03-01", generic=True,
        top_level=(*_TRACKED, "identity", "sku", "kind", "plan", "managedBy", "extendedLocation")),
    "azure-native:managedidentity:UserAssignedIdentity": ArmShape(
        _RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}", "2023-01-31",
        top_level=_TRACKED,
        computed=("principalId", "clientId", "tenantId"), read_only=("principalId", "clientId", "tenantId")),
    # RoleDefinition (authorization RoleDefinitionsCalls.json): everything under properties; `type` there is the SDK's
    # `roleType` (x-ms-client-name).
    "azure-native:authorization:RoleDefinition": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", "2022-05-01-preview",
        renames={"roleType": "type"}, uuid_name=True,
        read_only=("createdOn", "updatedOn", "createdBy", "updatedBy")),
    # RoleAssignmentCreateParameters: everything under properties. forceNewMap replaces only on principalId and scope
    # (provider/pkg/gen/forceNew.go); a changed principalType, roleDefinitionId or condition is an in-place PUT.
    "azure-native:authorization:RoleAssignment": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", "2022-04-01",
        computed=("createdOn", "updatedOn", "createdBy", "updatedBy"), force_new=("principalId",), uuid_name=True,
        read_only=("createdOn", "updatedOn", "createdBy", "updatedBy")),
    "azure-native:compute:Gallery": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}", "2024-03-03",
        top_level=(*_TRACKED, "identity"),
        computed=("identifier",), read_only=("identifier", "sharingStatus")),
    "azure-native:compute:GalleryImage": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}/images/{galleryImageName}", "2024-03-03",
        top_level=_TRACKED),
    "azure-native:virtualmachineimages:VirtualMachineImageTemplate": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}", "2024-02-01",
        top_level=(*_TRACKED, "identity"),
        computed=("lastRunStatus", "exactStagingResourceGroup", "provisioningError"),
        read_only=("lastRunStatus", "exactStagingResourceGroup", "provisioningError")),
    # Trigger (imagebuilder.json): a ProxyResource whose `properties` (TriggerProperties) hold the discriminator
    # `kind`, so kind goes under properties; kind has no update (x-ms-mutability) -> force new.
    "azure-native:virtualmachineimages:Trigger": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}/triggers/{triggerName}",
        "2024-02-01", force_new=("kind",), computed=("status",), read_only=("status",)),
    "azure-native:network:VirtualNetwork": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}", "2024-05-01",
        top_level=(*_TRACKED, "id", "extendedLocation")),
    # Subnet is a SubResource (id) with name at the top; not tracked (no location).
    "azure-native:network:Subnet": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", "2024-05-01",
        top_level=("id", "name", "type")),
    "azure-native:compute:VirtualMachineScaleSet": ArmShape(
        _RG + "/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}", "2024-11-01",
        top_level=(*_TRACKED, "sku", "plan", "identity", "zones", "extendedLocation"), renames=_VMSS_RENAMES),
    # StorageAccountCreateParameters: sku, kind, location, extendedLocation, tags, identity at the top.
    # forceNewMap: isHnsEnabled (and location, create-only).
    "azure-native:storage:StorageAccount": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}", "2024-01-01",
        top_level=(*_TRACKED, "sku", "kind", "extendedLocation", "identity"), renames=_STORAGE_RENAMES,
        force_new=("isHnsEnabled",),
        # read-only (readOnly in storage.json StorageAccountProperties; the service's answers, e.g. examples/
        # StorageAccountCreate.json and StorageAccountGetProperties.json, carry them).
        computed=("primaryEndpoints",), read_only=("primaryEndpoints", "creationTime", "primaryLocation",
                                                   "statusOfPrimary", "secondaryLocation", "statusOfSecondary",
                                                   "keyCreationTime", "isSkuConversionBlocked",
                                                   "accountMigrationInProgress")),
    "azure-native:storage:BlobServiceProperties": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/{blobServicesName}",
        "2024-01-01", singleton=True, read_only=("sku",)),
    "azure-native:storage:BlobContainer": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "2024-01-01",
        # readOnly in blob.json ContainerProperties (examples/BlobContainersGet.json shows them).
        read_only=("leaseStatus", "leaseState", "leaseDuration", "lastModifiedTime", "hasImmutabilityPolicy",
                   "hasLegalHold", "deleted", "deletedTime", "remainingRetentionDays", "version")),
}


def auto_name(logical: str, seed: bytes) -> str:
    """azure-native names a resource whose name input is missing `<logical name><8 random hex>` (no separator), seeded
    by the engine's per-resource random seed so the same resource keeps its name (provider/pkg/provider/provider.go
    `getDefaultName`, AutoNameRandom: resource.NewUniqueName(randomSeed, name, 8, ...))."""
    return f"{logical}{hashlib.sha256(seed or logical.encode()).hexdigest()[:8]}"


def auto_uuid(seed: bytes, logical: str) -> str:
    """`getDefaultName`, AutoNameUuid: a GUID from 32 hex of the seed."""
    return str(uuid.UUID(hashlib.sha256(seed or logical.encode()).hexdigest()[:32]))


def resource_id(shape: ArmShape, inputs: dict, subscription: str) -> str:
    values = {"subscription": subscription, **{name: str(inputs.get(name) or "") for name in shape.path_params}}
    return re.sub(r"/{2,}", "/", shape.path.format(**values))  # an empty parentResourcePath


def _is_dropped(shape: ArmShape, key: str) -> bool:
    """Inputs SdkInputsToRequestBody never sends: path parameters, `__`-prefixed flags, `azureApiVersion`, and the
    generic resource's `apiVersion` (a query parameter)."""
    return key in shape.path_params or key.startswith("__") or key == "azureApiVersion" \
        or (shape.generic and key == "apiVersion")


def rename(value: Any, renames: dict[str, Rename]) -> Any:
    """`value` (SDK shape) in ARM's shape per `renames`: keys renamed, recursively into objects and each element of
    arrays; a nested type flattened in the SDK (x-ms-client-flatten) gets its `properties` container back."""
    if isinstance(value, list):
        return [rename(v, renames) for v in value]
    if not isinstance(value, dict) or not renames:
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        entry = renames.get(key)
        if entry is None:
            out[key] = v
        elif isinstance(entry, str):
            out[entry] = v
        else:
            nested, top = entry[1], (entry[2] if len(entry) > 2 else None)
            out[entry[0]] = _each(v, lambda o: _contain(rename(o, nested), top))
    return out


def unrename(value: Any, renames: dict[str, Rename]) -> Any:
    """The reverse of `rename`: an ARM answer in the SDK's shape (ResponseBodyToSdkOutputs)."""
    if isinstance(value, list):
        return [unrename(v, renames) for v in value]
    if not isinstance(value, dict) or not renames:
        return value
    by_wire = {(e if isinstance(e, str) else e[0]): (sdk, e) for sdk, e in renames.items()}
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key not in by_wire:
            out[key] = v
            continue
        sdk, entry = by_wire[key]
        if isinstance(entry, str):
            out[sdk] = v
        else:
            nested, top = entry[1], (entry[2] if len(entry) > 2 else None)
            out[sdk] = _each(v, lambda o: unrename(_uncontain(o, top), nested))
    return out


def _each(value: Any, f: Any) -> Any:
    return [f(v) for v in value] if isinstance(value, list) else f(value)


def _contain(obj: Any, top: Optional[tuple[str, ...]]) -> Any:
    """A flattened nested object with everything but its `top` keys put under `properties`."""
    if top is None or not isinstance(obj, dict):
        return obj
    out = {k: v for k, v in obj.items() if k in top}
    inner = {k: v for k, v in obj.items() if k not in top}
    if inner:
        out["properties"] = inner
    return out


def _uncontain(obj: Any, top: Optional[tuple[str, ...]]) -> Any:
    if top is None or not isinstance(obj, dict) or not isinstance(obj.get("properties"), dict):
        return obj
    return {**{k: v for k, v in obj.items() if k != "properties"}, **obj["properties"]}


def arm_body(typ: str, inputs: dict) -> dict:
    """The ARM request body for azure-native `inputs` of type `typ` (provider/pkg/convert/sdkInputsToRequestBody.go
    `SdkInputsToRequestBody`): top-level properties at the top, the rest in `properties` (sent only when non-empty),
    ARM names (nested too), an identity's id list as ARM's map, whole numbers as integers."""
    shape = SHAPES[typ]
    body: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in rename({k: v for k, v in inputs.items() if not _is_dropped(shape, k) and v is not None},
                             shape.renames).items():
        if shape.generic and key == "properties":
            properties = dict(value)  # the generic resource's properties are type `any`: sent as given
        elif key in shape.top_level:
            body[key] = value
        else:
            properties[key] = value
    if "identity" in body:  # a string set (isStringSet) -> {id: {}}
        body["identity"] = output_inputs(body)["identity"]
    if properties:
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


def sdk_outputs(typ: str, arm: dict) -> dict:
    """An ARM answer in the SDK's output shape (provider/pkg/convert/responseBodyToSdkOutputs.go
    `ResponseBodyToSdkOutputs`): `properties` flattened (the generic resource keeps it as one object), SDK names,
    and `azureApiVersion`, the built-in api-version (provider/pkg/provider/provider.go `checkpointObjectVersioned`)."""
    shape = SHAPES[typ]
    flat: dict[str, Any] = {}
    for key, value in arm.items():
        if key == "properties" and isinstance(value, dict) and not shape.generic:
            flat.update(value)
        else:
            flat[key] = value
    outputs = unrename(flat, shape.renames)
    if shape.api_version:
        outputs["azureApiVersion"] = shape.api_version
    return outputs


def input_projection(typ: str, outputs: dict) -> dict:
    """Outputs projected onto the inputs' shape: what is writable (provider/pkg/convert `SdkOutputsToSdkInputs`)."""
    shape = SHAPES[typ]
    skip = set(READ_ONLY) | set(shape.read_only) | set(shape.path_params) | {"azureApiVersion"}
    return {k: v for k, v in outputs.items() if k not in skip}


def inputs_of(typ: str, rid: str, arm: dict) -> dict:
    """The inputs of an imported resource (provider/pkg/convert/responseToSdkInputs.go `ResponseToSdkInputs`): its
    path parameters, then every writable property the GET returns (service defaults included), minus `id`, empty
    collections removed."""
    shape = SHAPES[typ]
    inputs: dict[str, Any] = {**(path_values(shape, rid) or {})}
    writable = input_projection(typ, sdk_outputs(typ, arm))
    if "identity" in writable:
        writable["identity"] = _identity_input(writable["identity"])
    inputs.update(writable)
    return remove_empty_collections(inputs)


def remove_empty_collections(value: Any) -> Any:
    """provider/pkg/convert/responseToSdkInputs.go `removeEmptyCollections`: no empty maps or arrays in inputs."""
    if isinstance(value, dict):
        cleaned = {k: remove_empty_collections(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if not (isinstance(v, (dict, list)) and not v)}
    if isinstance(value, list):
        return [remove_empty_collections(v) for v in value]
    return value


def _identity_input(identity: Any) -> Any:
    """An identity answer as the input azure-native takes: the type and the user-assigned ids as a list."""
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
