"""Pulumi mocks that deploy for real, to an ARM endpoint: the engine half of the local run.

Under `pulumi.runtime.set_mocks` the SDK hands every resource registration to `new_resource`. Here
each azure-native resource becomes the ARM request the real provider would make (PUT of the
resource id with its api-version; path parameters out of the body; location, tags and identity at
the top, everything else under `properties`), sent with the real Azure SDK (generic resources of
azure-mgmt-resource, which also polls the long-running operations). The answer is flattened back
into the provider's output shape. Dynamic resources run their real provider (`check`, then
`create`), at most four at a time as in the dynamic-provider process.
"""

from __future__ import annotations

import base64
import hashlib
import string
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import dill
import pulumi

from ..program import reveal

DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROVIDER_KEY = "__provider"
DYNAMIC_WORKERS = 4  # grpc.server(ThreadPoolExecutor(max_workers=4)) in pulumi/dynamic/__main__.py
_RG = "/subscriptions/{subscription}/resourceGroups/{resourceGroupName}"


@dataclass(frozen=True)
class ArmShape:
    """How one azure-native type maps to ARM: its id template and api-version."""

    path: str
    api_version: str
    renames: dict[str, str] = field(default_factory=dict)
    """azure-native input name -> ARM property name, where they differ."""


SHAPES: dict[str, ArmShape] = {
    "azure-native:resources:ResourceGroup": ArmShape(_RG, "2024-03-01"),
    "azure-native:managedidentity:UserAssignedIdentity": ArmShape(
        _RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}", "2023-01-31"),
    "azure-native:authorization:RoleDefinition": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", "2022-04-01",
        {"roleType": "type"}),
    "azure-native:authorization:RoleAssignment": ArmShape(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", "2022-04-01"),
    "azure-native:compute:Gallery": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}", "2024-03-03"),
    "azure-native:compute:GalleryImage": ArmShape(
        _RG + "/providers/Microsoft.Compute/galleries/{galleryName}/images/{galleryImageName}", "2024-03-03"),
    "azure-native:virtualmachineimages:VirtualMachineImageTemplate": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}", "2024-02-01"),
    "azure-native:virtualmachineimages:Trigger": ArmShape(
        _RG + "/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}/triggers/{triggerName}",
        "2024-02-01"),
    "azure-native:network:VirtualNetwork": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}", "2024-05-01"),
    "azure-native:network:Subnet": ArmShape(
        _RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", "2024-05-01"),
    "azure-native:storage:StorageAccount": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}", "2024-01-01",
        {"enableHttpsTrafficOnly": "supportsHttpsTrafficOnly"}),
    "azure-native:storage:BlobContainer": ArmShape(
        _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "2024-01-01"),
}
_TOP_LEVEL = ("location", "tags", "identity", "sku", "kind")
_ARM_READ_ONLY = ("id", "name", "type", "systemData")


def _auto_name(logical: str, urn: str) -> str:
    """azure-native appends a random suffix to auto-named resources; a stable one keeps runs repeatable."""
    return f"{logical}{hashlib.sha256(urn.encode()).hexdigest()[:8]}"


def _path_params(shape: ArmShape) -> list[str]:
    return [str(name) for _, name, _, _ in string.Formatter().parse(shape.path) if name and name != "subscription"]


def arm_request(typ: str, logical_name: str, urn: str, inputs: dict, subscription: str) -> tuple[str, ArmShape, dict]:
    """(resource id, shape, ARM body) for an azure-native registration."""
    shape = SHAPES[typ]
    params = _path_params(shape)
    values = {"subscription": subscription}
    for name in params:
        value = inputs.get(name)
        values[name] = str(value) if value is not None else _auto_name(logical_name, urn)
    resource_id = shape.path.format(**values)
    body: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in params or value is None:
            continue
        if key in _TOP_LEVEL:
            body[key] = value
        else:
            properties[shape.renames.get(key) or key] = value
    identity = body.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # azure-native takes a list of ids; ARM wants a map of id -> {}.
        body["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
    if properties or typ != "azure-native:resources:ResourceGroup":
        body["properties"] = properties
    return resource_id, shape, _whole_numbers(body)


def load_provider(serialized: str) -> Any:
    """The provider a dynamic resource carries, unpickled the way the dynamic-provider process does.

    (Importing `pulumi.dynamic.__main__` would start that process's gRPC server, so this is not shared.)
    """
    return dill.loads(base64.b64decode(serialized))


def _whole_numbers(value: Any) -> Any:
    """The engine carries every number as a float; the provider sends schema integers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def provider_outputs(typ: str, inputs: dict, arm: dict) -> dict:
    """An ARM GET answer in the provider's output shape: inputs, then top-level fields, then properties."""
    shape = SHAPES[typ]
    outputs = dict(inputs)
    for key, value in arm.items():
        if key == "properties" and isinstance(value, dict):
            reverse = {v: k for k, v in shape.renames.items()}
            outputs.update({reverse.get(k, k): v for k, v in value.items()})
        elif key not in ("id",):
            outputs[key] = value
    outputs["azureApiVersion"] = shape.api_version
    return outputs


class ArmMocks(pulumi.runtime.Mocks):
    """Mocks whose resources are real ARM resources on `base_url` (the local emulator)."""

    def __init__(self, *, base_url: str, credential: Any, subscription: str, tenant: str,
                 connection_verify: Any = True, on_created: Optional[Callable[[str, str, str], None]] = None,
                 dynamic_config: Optional[dict] = None, state: Any = None) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient

        self.subscription = subscription
        self.tenant = tenant
        self.client = ResourceManagementClient(
            credential, subscription, base_url=base_url, credential_scopes=[base_url + "/.default"],
            connection_verify=connection_verify, polling_interval=0.05)
        self.on_created = on_created or (lambda typ, name, rid: None)
        self.dynamic_slots = threading.BoundedSemaphore(DYNAMIC_WORKERS)
        self.dynamic_config = dynamic_config or {}
        self.registered: list[dict] = []
        #: A `state.EngineState` makes this run an update of the recorded one (None: always a first `up`).
        self.state = state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": self.subscription, "tenantId": self.tenant,
                    "clientId": "00000000-0000-0000-0000-00000000c1e7",
                    "objectId": "00000000-0000-0000-0000-0000000000b1"}, []
        raise NotImplementedError(f"the local run does not emulate the invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        urn = f"{args.typ}::{args.name}"
        self.registered.append({"type": args.typ, "name": args.name, "custom": args.custom})
        if args.typ == "pulumi:pulumi:StackReference":
            # No other stack exists in a local run: its outputs are empty (lifecycle.promotion.fromStack promotes
            # nothing and says so in the lifecycle notes).
            return args.resource_id or f"{args.name}_id", {**dict(args.inputs), "outputs": {},
                                                           "secret_output_names": []}
        if not args.custom or args.typ.startswith("pulumi:providers:"):
            return f"{args.name}_id", dict(args.inputs)
        if args.typ.startswith(DYNAMIC_PREFIX):
            return self._dynamic(args)
        if args.typ not in SHAPES:
            raise NotImplementedError(f"the local run does not know how to deploy {args.typ} ({args.name})")
        # Providers receive secrets unwrapped; only the engine's state keeps them marked.
        inputs = reveal(dict(args.inputs))
        resource_id, shape, body = arm_request(args.typ, args.name, urn, inputs, self.subscription)
        if self.state is not None and (known := self.state.unchanged(urn, args.typ, resource_id, dict(args.inputs))):
            return known
        result = self.client.resources.begin_create_or_update_by_id(
            resource_id, body, api_version=shape.api_version).result()
        arm = result.as_dict()  # hybrid models keep the wire (camelCase) names
        self.on_created(args.typ, args.name, resource_id)
        outputs = provider_outputs(args.typ, dict(args.inputs), arm)
        if self.state is not None:
            self.state.record(urn, args.typ, resource_id, dict(args.inputs), outputs)
        return resource_id, outputs

    def _dynamic(self, args: pulumi.runtime.MockResourceArgs):
        urn = f"{args.typ}::{args.name}"
        inputs = reveal(dict(args.inputs))
        with self.dynamic_slots:
            provider = load_provider(inputs[PROVIDER_KEY])
            props = {k: v for k, v in inputs.items() if k != PROVIDER_KEY}
            if self.state is not None and self.state.previous(urn) is not None:
                return self._update_dynamic(urn, args, provider, props)
            checked = provider.check({}, props)
            if checked.failures:
                raise ValueError("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
            created = provider.create(checked.inputs if checked.inputs is not None else props)
        outs = dict(created.outs or {})
        outs[PROVIDER_KEY] = inputs[PROVIDER_KEY]
        self.on_created(args.typ, args.name, created.id)
        if self.state is not None:
            self.state.record(urn, args.typ, created.id, dict(args.inputs), outs)
        return created.id, outs

    def _update_dynamic(self, urn: str, args: pulumi.runtime.MockResourceArgs, provider: Any, props: dict):
        """The engine's update of a recorded dynamic resource: check against the old inputs, diff against the old
        outputs, then nothing, `update`, or a replacement (create now, delete the old one after the run)."""
        state, raw = self.state, dict(args.inputs)
        old = state.previous(urn)
        olds = state.restore(old["outputs"], raw)
        checked = provider.check(state.restore(old["inputs"], raw), props)
        if checked.failures:
            raise ValueError("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        news = checked.inputs if checked.inputs is not None else props
        diff = provider.diff(old["id"], olds, news)
        if not diff.changes and not diff.replaces:
            rid, outs = state.keep(urn, raw)
            return rid, {**outs, PROVIDER_KEY: raw[PROVIDER_KEY]}
        if diff.replaces:
            created = provider.create(news)
            rid, outs, operation = created.id, dict(created.outs or {}), "replace"
            self.on_created(args.typ, args.name, rid)
        else:
            rid, outs, operation = old["id"], dict(provider.update(old["id"], olds, news).outs or {}), "update"
        outs[PROVIDER_KEY] = raw[PROVIDER_KEY]
        state.record(urn, args.typ, rid, raw, outs, operation)
        return rid, outs

    def delete(self, record: dict) -> None:
        """Delete a resource recorded by an earlier run (the engine's delete step, for `EngineState.finish`)."""
        if record["type"].startswith(DYNAMIC_PREFIX):
            outputs = reveal(record["outputs"])
            load_provider(outputs[PROVIDER_KEY]).delete(record["id"], outputs)
        else:
            self.client.resources.begin_delete_by_id(record["id"], api_version=SHAPES[record["type"]].api_version
                                                     ).result()

