"""A stand-in for the `azure-native` resource plugin, for local runs of the real Pulumi engine on the ARM emulator.

The real `pulumi-resource-azure-native` cannot be built from any package registry (its binary embeds generated
files that its module does not hold), so local runs put this one in the engine's path instead
(`scripts/pulumi.sh`, `components.local.engine`). It serves Pulumi's gRPC provider protocol for the types and invokes
the project uses (`arm_shapes.SHAPES`) and behaves as azure-native does where the project depends on it:

- Check keeps the inputs (auto-naming a missing name from the engine's random seed).
- Diff: a changed path parameter (a name), `location` or a create-only property replaces; any other change updates.
- Create first reads the resource and refuses one that exists (`cannot create already existing resource '<id>'`),
  then PUTs it and polls the long-running operation; Update PUTs the new body.
- Read GETs the resource (gone: an empty id, so `refresh` drops it), and for `pulumi import` derives its inputs.
- Delete DELETEs and polls; a resource already gone counts as deleted.
- Preview of a create or an update returns the inputs with the service's own outputs unknown.
- Invokes: `getClientConfig`, and `get<Type>` for every type above.

It serves only a loopback ARM endpoint (`AIB_ARM_ENDPOINT`) and refuses to start otherwise, so it can never stand in
for the real plugin in a deployment to Azure. Secrets: it tells the engine it does not accept them, so the engine
strips them before each call and marks the outputs of secret inputs secret again, as it does for any such provider.
"""

from __future__ import annotations

import os
import sys
from concurrent import futures
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlparse

import grpc
from google.protobuf import empty_pb2, struct_pb2
from google.protobuf.json_format import MessageToDict
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from .arm_shapes import (SHAPES, ArmShape, arm_body, auto_name, inputs_of, output_inputs, outputs_of, path_values,
                         resource_id)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a value not known yet (pulumi.runtime.rpc.UNKNOWN)."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "00000000-0000-0000-0000-00000000c1e7"
OBJECT_ID = "00000000-0000-0000-0000-0000000000b1"
"""The deployer principal of local runs (what getClientConfig reports, and what role assignments may name)."""


class RefusedEndpoint(RuntimeError):
    pass


def plugin_version() -> str:
    """The version the azure-native SDK asks the engine for, so the engine takes this plugin for it."""
    from importlib.metadata import version

    return version("pulumi-azure-native")


def to_dict(struct: struct_pb2.Struct) -> dict:
    return MessageToDict(struct)


def to_struct(value: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def invoke_response(value: dict) -> provider_pb2.InvokeResponse:
    response = provider_pb2.InvokeResponse()
    getattr(response, "return").CopyFrom(to_struct(value))  # `return` is a Python keyword
    return response


def has_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def arm_endpoint(env: Mapping[str, str] = os.environ) -> str:
    endpoint = env.get("AIB_ARM_ENDPOINT", "")
    if urlparse(endpoint).hostname not in LOOPBACK:
        raise RefusedEndpoint(
            "pulumi-resource-azure-native here is the aib-images stand-in for local runs on the ARM emulator; it "
            f"serves only a loopback AIB_ARM_ENDPOINT (got {endpoint!r}). For Azure, take it off PATH and let Pulumi "
            "install the real azure-native plugin.")
    return endpoint.rstrip("/")


def arm_client(subscription: str, env: Mapping[str, str] = os.environ) -> Any:
    """azure-mgmt-resource's generic client on the emulator `env` names (this process's environment by default): it
    sends the requests and polls the operations."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    from ..emulator.credential import EmulatorCredential

    base_url = arm_endpoint(env)
    return ResourceManagementClient(
        EmulatorCredential(env.get("AIB_ARM_TOKEN", "")), subscription, base_url=base_url,
        credential_scopes=[base_url + "/.default"], connection_verify=env.get("AIB_ARM_CA_BUNDLE") or True,
        polling_interval=float(env.get("AIB_POLL_SECONDS", "0.1")))


def _type_of(request: Any) -> str:
    return request.type or request.urn.split("::")[2]


def _name_of(request: Any) -> str:
    return request.name or request.urn.split("::")[-1]


class AzureNativeStandIn(provider_pb2_grpc.ResourceProviderServicer):
    """The provider service. The engine configures one process per provider instance; its only state is that config."""

    def __init__(self) -> None:
        self.subscription = os.environ.get("ARM_SUBSCRIPTION_ID") or DEFAULT_SUBSCRIPTION
        self.tenant = os.environ.get("ARM_TENANT_ID") or DEFAULT_TENANT
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = arm_client(self.subscription)
        return self._client

    # ---- plugin and configuration -----------------------------------------------------------------------------
    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=plugin_version())

    def CheckConfig(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request, context):
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request, context):
        variables = dict(request.variables)
        self.subscription = variables.get("azure-native:config:subscriptionId") or self.subscription
        self.tenant = variables.get("azure-native:config:tenantId") or self.tenant
        return provider_pb2.ConfigureResponse(acceptSecrets=False, supportsPreview=True, acceptResources=False)

    def Cancel(self, request, context):
        return empty_pb2.Empty()

    # ---- invokes ------------------------------------------------------------------------------------------------
    def Invoke(self, request, context):
        args = to_dict(request.args)
        if request.tok == "azure-native:authorization:getClientConfig":
            return invoke_response({"subscriptionId": self.subscription, "tenantId": self.tenant,
                                    "clientId": CLIENT_ID, "objectId": OBJECT_ID})
        module, _, function = request.tok.rpartition(":")
        typ = f"{module}:{function[3:4].upper()}{function[4:]}" if function.startswith("get") else ""
        shape = SHAPES.get(typ)
        if shape is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"the local azure-native stand-in does not serve {request.tok}")
        rid = resource_id(shape, args, self.subscription)
        arm = self._get(rid, shape, args)
        if arm is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"resource '{rid}' not found (Code: ResourceNotFound)")
        return invoke_response({**outputs_of(typ, args, arm), "id": arm["id"]})

    # ---- resources ----------------------------------------------------------------------------------------------
    def Check(self, request, context):
        typ = _type_of(request)
        if typ not in SHAPES:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"the local azure-native stand-in does not manage {typ}")
        news, olds = to_dict(request.news), to_dict(request.olds)
        for name in SHAPES[typ].path_params:
            if news.get(name) is None and name != "scope":
                news[name] = olds.get(name) or auto_name(_name_of(request), request.randomSeed)
        return provider_pb2.CheckResponse(inputs=to_struct(news))

    def Diff(self, request, context):
        shape = SHAPES[_type_of(request)]
        olds = to_dict(request.old_inputs) or to_dict(request.olds)
        news = to_dict(request.news)
        ignored = set(request.ignoreChanges)
        detailed: dict[str, provider_pb2.PropertyDiff] = {}
        for key in sorted(set(olds) | set(news)):
            if key in ignored or key == "azureApiVersion":
                continue
            old, new = olds.get(key), news.get(key)
            if old == new and not has_unknown(new):
                continue
            replace = shape.replaces_on(key)
            kind = ("ADD" if old is None else "DELETE" if new is None else "UPDATE") + ("_REPLACE" if replace else "")
            detailed[key] = provider_pb2.PropertyDiff(kind=getattr(provider_pb2.PropertyDiff, kind), inputDiff=True)
        replaces = [k for k, d in detailed.items() if d.kind in (provider_pb2.PropertyDiff.ADD_REPLACE,
                                                                 provider_pb2.PropertyDiff.UPDATE_REPLACE,
                                                                 provider_pb2.PropertyDiff.DELETE_REPLACE)]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if detailed else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=replaces, diffs=sorted(detailed), detailedDiff=detailed, hasDetailedDiff=True)

    def Create(self, request, context):
        typ = _type_of(request)
        shape, inputs = SHAPES[typ], to_dict(request.properties)
        if request.preview:
            return provider_pb2.CreateResponse(id="", properties=to_struct(_preview_outputs(shape, inputs)))
        rid = resource_id(shape, inputs, self.subscription)
        if not shape.singleton and self._get(rid, shape, inputs) is not None:
            context.abort(grpc.StatusCode.UNKNOWN, f"cannot create already existing resource '{rid}'")
        arm = self._put(rid, shape, typ, inputs, context)
        return provider_pb2.CreateResponse(id=rid, properties=to_struct(outputs_of(typ, inputs, arm)))

    def Update(self, request, context):
        typ = _type_of(request)
        shape, news = SHAPES[typ], to_dict(request.news)
        if request.preview:
            return provider_pb2.UpdateResponse(properties=to_struct(_preview_outputs(shape, news)))
        arm = self._put(request.id, shape, typ, news, context)
        return provider_pb2.UpdateResponse(properties=to_struct(outputs_of(typ, news, arm)))

    def Read(self, request, context):
        typ = _type_of(request)
        shape = SHAPES[typ]
        if path_values(shape, request.id) is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"'{request.id}' is not an id of a {typ}")
        arm = self._get(request.id, shape, to_dict(request.inputs) or to_dict(request.properties))
        if arm is None:
            return provider_pb2.ReadResponse(id="")
        inputs = to_dict(request.inputs) or inputs_of(typ, request.id, arm, self.subscription)
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(outputs_of(typ, inputs, arm)),
                                         inputs=to_struct(inputs))

    def Delete(self, request, context):
        from azure.core.exceptions import ResourceNotFoundError

        shape = SHAPES[_type_of(request)]
        if shape.singleton:
            return empty_pb2.Empty()
        try:
            self.client.resources.begin_delete_by_id(
                request.id, api_version=shape.api_version_for(to_dict(request.properties))).result()
        except ResourceNotFoundError:
            pass
        return empty_pb2.Empty()

    # ---- ARM ----------------------------------------------------------------------------------------------------
    def _get(self, rid: str, shape: ArmShape, values: dict) -> Optional[dict]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.client.resources.get_by_id(rid, api_version=shape.api_version_for(values)).as_dict()
        except ResourceNotFoundError:
            return None

    def _put(self, rid: str, shape: ArmShape, typ: str, inputs: dict, context: Any) -> dict:
        from azure.core.exceptions import HttpResponseError

        try:
            poller = self.client.resources.begin_create_or_update_by_id(rid, arm_body(typ, inputs),
                                                                        api_version=shape.api_version_for(inputs))
            return poller.result().as_dict()  # hybrid models keep the wire (camelCase) names
        except HttpResponseError as err:
            context.abort(grpc.StatusCode.UNKNOWN, _arm_error(rid, err))
            raise  # unreachable: abort raises


def _arm_error(rid: str, err: Any) -> str:
    """azure-native's shape of a failed request: the status, the ARM code and message."""
    code = getattr(getattr(err, "error", None), "code", None) or "Error"
    message = getattr(getattr(err, "error", None), "message", None) or str(err)
    return f"creating or updating '{rid}': Status={err.status_code} Code=\"{code}\" Message=\"{message}\""


def _preview_outputs(shape: ArmShape, inputs: dict) -> dict:
    """What azure-native previews: the inputs, with everything only the service knows unknown."""
    return {**output_inputs(inputs), **{key: UNKNOWN for key in ("name", "type", "provisioningState", *shape.computed)},
            "azureApiVersion": shape.api_version_for(inputs)}


def serve(servicer_factory: Callable[[], Any] = AzureNativeStandIn) -> None:
    """Serve on a free loopback port and print it, as every Pulumi plugin does; stop when the engine ends us."""
    try:
        arm_endpoint()
    except RefusedEndpoint as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer_factory(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
