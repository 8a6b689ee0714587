"""A stand-in for the `azure-native` resource plugin, for local runs of the real Pulumi engine on the ARM emulator.

The real `pulumi-resource-azure-native` cannot be built from any package registry (its binary embeds generated
files that its module does not hold), so local runs put this one in the engine's path instead
(`scripts/pulumi.sh`, `components.local.engine`). It serves Pulumi's gRPC provider protocol for the types and invokes
the project uses (`arm_shapes.SHAPES`) and follows azure-native 3.x (pulumi/pulumi-azure-native,
provider/pkg/provider/provider.go and diff.go; each rule below cites its function):

- Check auto-names a missing name (`<logical name><8 hex>`, or a GUID) and marks it `__createBeforeDelete`, fills a
  missing location (old inputs, provider config, the resource group's), and sets `azureApiVersion`.
- Diff compares old and new inputs recursively (`__` keys ignored, location and resource group name as Azure compares
  them); a path parameter or a force-new property replaces, deleting first unless the name was auto-generated.
- Create checks existence at the type's built-in api-version (404: go on; an answer: `cannot create already
  existing resource`; any other status: `cannot check existence of resource`), PUTs and polls, then reads it back.
  Update PUTs the whole body.
- Read GETs the resource (gone: an empty id, so `refresh` drops it); a refresh copies into the inputs only what
  changed between the old and the new outputs; an import takes every writable property the GET returns.
- Delete DELETEs and polls; a resource already gone counts as deleted; a singleton is only forgotten.
- Preview of a create or an update returns the inputs with the service's own outputs unknown.
- Invokes: `getClientConfig`, and `get<Type>` for every type above (`request failed <id>: Status=404 ...`).
- GetSchema: those types and `getClientConfig`, as the installed azure-native SDK types them (`azure_schema.py`), for
  the YAML language host's type check.

It serves only a loopback ARM endpoint (`AIB_ARM_ENDPOINT`) and refuses to start otherwise, so it can never stand in
for the real plugin in a deployment to Azure. Secrets: it tells the engine it does not accept them, so the engine
strips them before each call and marks the outputs of secret inputs secret again, as it does for any such provider.
"""

from __future__ import annotations

import os
import sys
from concurrent import futures
from typing import Any, Callable, Mapping, Optional

import grpc
from google.protobuf import empty_pb2, struct_pb2
from google.protobuf.json_format import MessageToDict
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from components.providers.arm_client import is_loopback
from components.providers.parent_watch import exit_with_parent

from components.offline.arm_shapes import (
    CREATE_BEFORE_DELETE, SHAPES, ArmShape, arm_body, auto_name, auto_uuid, input_projection, inputs_of,
    output_inputs, path_values, resource_id, sdk_outputs)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a value not known yet (pulumi.runtime.rpc.UNKNOWN)."""
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
    if not is_loopback(endpoint):
        raise RefusedEndpoint(
            "pulumi-resource-azure-native here is the aib-images stand-in for local runs on the ARM emulator; it "
            f"serves only a loopback AIB_ARM_ENDPOINT (got {endpoint!r}). For Azure, take it off PATH and let Pulumi "
            "install the real azure-native plugin.")
    return endpoint.rstrip("/")


def arm_client(subscription: str, env: Mapping[str, str] = os.environ) -> Any:
    """azure-mgmt-resource's generic client on the emulator `env` names (this process's environment by default): it
    sends the requests and polls the operations."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    from components.emulator.credential import EmulatorCredential

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
    """The provider service. The engine configures one process per provider instance; its only state is that config
    (and, once asked for, its schema)."""

    def __init__(self) -> None:
        self.subscription = os.environ.get("ARM_SUBSCRIPTION_ID") or DEFAULT_SUBSCRIPTION
        self.tenant = os.environ.get("ARM_TENANT_ID") or DEFAULT_TENANT
        self.location: Optional[str] = None
        self._client: Any = None
        self._schema: Optional[str] = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = arm_client(self.subscription)
        return self._client

    # ---- plugin and configuration -----------------------------------------------------------------------------
    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=plugin_version())

    def GetSchema(self, request, context):
        """The schema of the types this stand-in serves, read from the installed SDK (`azure_schema`): a YAML program's
        language host type-checks each azure-native resource against it before running anything."""
        from components.local.azure_schema import package_schema

        if self._schema is None:  # the host may ask more than once; reading the SDK takes a second or two
            self._schema = package_schema(tuple(SHAPES), plugin_version())
        return provider_pb2.GetSchemaResponse(schema=self._schema)

    def CheckConfig(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request, context):
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request, context):
        variables = dict(request.variables)
        self.subscription = variables.get("azure-native:config:subscriptionId") or self.subscription
        self.tenant = variables.get("azure-native:config:tenantId") or self.tenant
        self.location = variables.get("azure-native:config:location") or self.location
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
        # provider.go `Invoke`: GET at the invoke's api-version; an error is wrapped as "request failed <id>: ..."
        # (a 404 included: the getter does not turn it into an empty answer).
        answer = self._request(rid, shape.api_version)
        if answer.status != 200:
            context.abort(grpc.StatusCode.UNKNOWN, f"request failed {rid}: {answer.error_text()}")
        return invoke_response(sdk_outputs(typ, answer.body))

    # ---- resources ----------------------------------------------------------------------------------------------
    def Check(self, request, context):
        """provider.go `Check` -> `applyDefaults`."""
        typ = _type_of(request)
        if typ not in SHAPES:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"the local azure-native stand-in does not manage {typ}")
        shape = SHAPES[typ]
        news, olds = to_dict(request.news), to_dict(request.olds)
        # Auto-naming (`getDefaultName`): the old name if there is one (randomly named as the old flag says), else
        # `<urn name><8 hex>` from the engine's seed, or a GUID; a random name adds `__createBeforeDelete: true`.
        key = shape.name_param
        if news.get(key) is None and key != "scope":
            if olds.get(key) is not None:
                news[key] = olds[key]
                random_name = olds.get(CREATE_BEFORE_DELETE) is True
            else:
                news[key] = auto_uuid(request.randomSeed, _name_of(request)) if shape.uuid_name \
                    else auto_name(_name_of(request), request.randomSeed)
                random_name = True
            if random_name:
                news[CREATE_BEFORE_DELETE] = True
        # Auto-location (`getDefaultLocation`): old inputs, then the provider's `location` config, then the resource
        # group's own location (GET at 2020-10-01, `apiVersionResources`).
        if news.get("location") is None and "location" in shape.top_level and not shape.generic:
            location = olds.get("location") or self.location or self._group_location(news.get("resourceGroupName"))
            if location is not None:
                news["location"] = location
        # v3 sets `azureApiVersion` to the type's built-in api-version.
        if news.get("azureApiVersion") is None and shape.api_version:
            news["azureApiVersion"] = shape.api_version
        return provider_pb2.CheckResponse(inputs=to_struct(news))

    def Diff(self, request, context):
        """provider.go `Diff`: old inputs against new inputs (diff.go `diff`, `calculateDetailedDiff`,
        `calculateChangesAndReplacements`)."""
        shape = SHAPES[_type_of(request)]
        old_state = to_dict(request.olds)
        olds = to_dict(request.old_inputs)
        if "azureApiVersion" not in olds and "azureApiVersion" in old_state:
            olds["azureApiVersion"] = old_state["azureApiVersion"]  # the v2-to-v3 migration: no spurious diff
        news = to_dict(request.news)
        detailed = detailed_diff(shape, olds, news, old_state)
        changes = sorted({k.split(".")[0] for k in detailed})
        replaces = sorted(k for k, kind in detailed.items() if kind.endswith("_REPLACE"))
        # "TODO: implement create-before-delete for children of randomly auto-named resources": a named resource is
        # deleted before its replacement is created, unless its name was generated (`__createBeforeDelete`).
        delete_before_replace = bool(replaces)
        if isinstance(olds.get(CREATE_BEFORE_DELETE), bool):
            delete_before_replace = not olds[CREATE_BEFORE_DELETE]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changes else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=replaces, diffs=changes, deleteBeforeReplace=delete_before_replace and bool(replaces),
            detailedDiff={k: provider_pb2.PropertyDiff(kind=getattr(provider_pb2.PropertyDiff, kind), inputDiff=True)
                          for k, kind in detailed.items()},
            hasDetailedDiff=True)

    def Create(self, request, context):
        """provider.go `Create` -> `defaultCreate`."""
        typ = _type_of(request)
        shape, inputs = SHAPES[typ], to_dict(request.properties)
        if request.preview:
            return provider_pb2.CreateResponse(id="", properties=to_struct(_preview_outputs(shape, inputs)))
        rid = resource_id(shape, inputs, self.subscription)
        refusal = self._can_create(rid, shape)
        if refusal:
            context.abort(grpc.StatusCode.UNKNOWN, refusal)
        arm = self._put(rid, shape, typ, inputs, context)
        # `readAfterWrite`: the answer of a GET replaces the PUT's (at the `apiVersion` input, pulumi-azure-native
        # #4692; a failed read only warns and keeps the PUT's answer).
        arm = self._get(rid, shape.api_version_for(inputs)) or arm
        return provider_pb2.CreateResponse(id=arm.get("id") or rid, properties=to_struct(sdk_outputs(typ, arm)))

    def Update(self, request, context):
        """provider.go `Update` -> `defaultUpdate`: the whole body, no existence check."""
        typ = _type_of(request)
        shape, news = SHAPES[typ], to_dict(request.news)
        if request.preview:
            outputs = _preview_outputs(shape, news)
            old_state = to_dict(request.olds)
            outputs.update({k: old_state[k] for k in ("name", "location") if k in old_state})  # stable outputs
            return provider_pb2.UpdateResponse(properties=to_struct(outputs))
        arm = self._put(request.id, shape, typ, news, context)
        arm = self._get(request.id, shape.api_version_for(to_dict(request.old_inputs) or news)) or arm
        return provider_pb2.UpdateResponse(properties=to_struct(sdk_outputs(typ, arm)))

    def Read(self, request, context):
        """provider.go `Read`."""
        typ = _type_of(request)
        shape = SHAPES[typ]
        if path_values(shape, request.id) is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"'{request.id}' is not an id of a {typ}")
        previous = to_dict(request.inputs) if request.HasField("inputs") else {}
        answer = self._request(request.id, shape.api_version_for(previous))  # `getApiVersion(res, previousInputs)`
        if answer.status == 404:
            return provider_pb2.ReadResponse(id="")  # deleted
        if answer.status != 200:
            context.abort(grpc.StatusCode.UNKNOWN, answer.error_text())
        outputs = sdk_outputs(typ, answer.body)
        if not previous:
            inputs = inputs_of(typ, request.id, answer.body)  # an import: `ResponseToSdkInputs`
        else:
            # A refresh: only what changed between the old and the new outputs (projected onto inputs) is copied
            # into the inputs; service defaults that did not change stay out of them (`applyDiff`).
            old_state = to_dict(request.properties)
            inputs = apply_diff(previous, input_projection(typ, old_state), input_projection(typ, outputs))
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(outputs), inputs=to_struct(inputs))

    def Delete(self, request, context):
        """provider.go `Delete`: at `getApiVersion(res, previousInputs)`; a singleton is not deleted."""
        from azure.core.exceptions import ResourceNotFoundError

        shape = SHAPES[_type_of(request)]
        if shape.singleton:
            return empty_pb2.Empty()
        values = to_dict(request.old_inputs) or to_dict(request.properties)
        try:
            self.client.resources.begin_delete_by_id(request.id, api_version=shape.api_version_for(values)).result()
        except ResourceNotFoundError:
            pass
        return empty_pb2.Empty()

    # ---- ARM ----------------------------------------------------------------------------------------------------
    def _request(self, rid: str, api_version: str) -> "Answer":
        from azure.core.exceptions import HttpResponseError

        try:
            return Answer(200, self.client.resources.get_by_id(rid, api_version=api_version).as_dict())
        except HttpResponseError as err:
            return Answer.of_error(err)

    def _get(self, rid: str, api_version: str) -> Optional[dict]:
        answer = self._request(rid, api_version)
        return answer.body if answer.status == 200 else None

    def _can_create(self, rid: str, shape: ArmShape) -> Optional[str]:
        """crud.go `CanCreate` -> azure/client_azcore.go `CanCreate`: a GET at the type's built-in api-version (the
        generic resource's too, not its `apiVersion` input). 404: it can be created; 200 with a body: it exists (a
        singleton always does, and may be PUT); any other status: the check itself failed."""
        answer = self._request(rid, shape.api_version)
        if answer.status == 404 or (answer.status == 200 and (shape.singleton or not answer.body)):
            return None
        if answer.status == 200:
            return f"cannot create already existing resource '{rid}'"
        return f"cannot check existence of resource '{rid}': status code {answer.status}, {answer.text}"

    def _group_location(self, group: Any) -> Optional[str]:
        if not isinstance(group, str) or not group or group == UNKNOWN:
            return UNKNOWN if group == UNKNOWN else None
        found = self._get(f"/subscriptions/{self.subscription}/resourceGroups/{group}", "2020-10-01")
        return (found or {}).get("location")

    def _put(self, rid: str, shape: ArmShape, typ: str, inputs: dict, context: Any) -> dict:
        from azure.core.exceptions import HttpResponseError

        try:
            poller = self.client.resources.begin_create_or_update_by_id(rid, arm_body(typ, inputs),
                                                                        api_version=shape.api_version_for(inputs))
            return poller.result().as_dict()  # hybrid models keep the wire (camelCase) names
        except HttpResponseError as err:
            context.abort(grpc.StatusCode.UNKNOWN, f"creating or updating '{rid}': {Answer.of_error(err).error_text()}")
            raise  # unreachable: abort raises


class Answer:
    """An ARM answer: status, JSON body, raw text, and the error code and message of a failure."""

    def __init__(self, status: int, body: Optional[dict] = None, text: str = "", code: str = "", message: str = ""):
        self.status, self.body, self.text, self.code, self.message = status, body or {}, text, code, message

    @classmethod
    def of_error(cls, err: Any) -> "Answer":
        response = getattr(err, "response", None)
        text = ""
        if response is not None:
            try:
                text = response.text()
            except Exception:  # a response without a readable body
                text = ""
        error = getattr(err, "error", None)
        return cls(int(getattr(err, "status_code", None) or 0), None, text,
                   getattr(error, "code", None) or "Error", getattr(error, "message", None) or str(err))

    def error_text(self) -> str:
        """azure-native's shape of a failed request (azure.AzureError): the status, the ARM code and message."""
        return f'Status={self.status} Code="{self.code}" Message="{self.message}"'


def _preview_outputs(shape: ArmShape, inputs: dict) -> dict:
    """provider.go `Create`/`Update` preview (convert `PreviewOutputs`): the inputs in output shape, everything only
    the service knows unknown, and the built-in `azureApiVersion`. Path parameters are not outputs."""
    dropped = set(shape.path_params) | {"apiVersion"} if shape.generic else set(shape.path_params)
    shown = {k: v for k, v in output_inputs(inputs).items() if k not in dropped and not k.startswith("__")}
    return {**shown, **{key: UNKNOWN for key in ("name", "type", "provisioningState", *shape.computed)},
            "azureApiVersion": shape.api_version}


# ---- diff (provider/pkg/provider/diff.go) --------------------------------------------------------------------------

def _ignored(key: str) -> bool:
    """diff.go `ignoreKey`: keys starting `__` (the provider's own flags) never differ."""
    return key.startswith("__")


def _object_diff(olds: dict, news: dict) -> Optional[dict]:
    """diff.go `objectDiff`: adds, deletes and updates of two input maps; an unknown new value is the same."""
    adds: dict[str, Any] = {}
    deletes: dict[str, Any] = {}
    updates: dict[str, tuple] = {}
    for key, old in olds.items():
        if _ignored(key):
            continue
        if key in news:
            new = news[key]
            if new == UNKNOWN:
                continue
            change = _value_diff(old, new)
            if change is None:
                continue
            if old is None:
                adds[key] = new
            elif new is None:
                deletes[key] = old
            else:
                updates[key] = change
        elif old is not None:
            deletes[key] = old
    for key, new in news.items():
        if not _ignored(key) and key not in olds and new is not None:
            adds[key] = new
    return {"adds": adds, "deletes": deletes, "updates": updates} if adds or deletes or updates else None


def _value_diff(old: Any, new: Any) -> Optional[tuple]:
    """diff.go `valueDiff`: arrays element by element, objects recursively, anything else by value."""
    if isinstance(old, list) and isinstance(new, list):
        adds = {i: new[i] for i in range(len(old), len(new))}
        deletes = {i: old[i] for i in range(len(new), len(old))}
        updates = {i: d for i in range(min(len(old), len(new))) if (d := _value_diff(old[i], new[i])) is not None}
        return ("array", {"adds": adds, "deletes": deletes, "updates": updates}) if adds or deletes or updates \
            else None
    if isinstance(old, dict) and isinstance(new, dict):
        inner = _object_diff(old, new)
        return ("object", inner) if inner else None
    return None if old == new else ("value", old, new)


def _normalized_location(location: str) -> str:
    """diff.go `normalizedLocation`: "West US 2" and "westus2" are the same region."""
    return location.replace(" ", "").lower()


def _azure_specific(diff: dict) -> None:
    """diff.go `applyAzureSpecificDiff`: top-level `location` ignoring case and spaces, `resourceGroupName` ignoring
    case."""
    for key in ("location", "resourceGroupName"):
        change = diff["updates"].get(key)
        if change and change[0] == "value" and isinstance(change[1], str) and isinstance(change[2], str):
            same = _normalized_location(change[1]) == _normalized_location(change[2]) if key == "location" \
                else change[1].lower() == change[2].lower()
            if same:
                del diff["updates"][key]


def _detailed_object(diff: dict, replace_keys: set[str], diff_base: str, replace_base: str) -> dict[str, str]:
    """diff.go `differ.calculateObjectDiff`."""
    out: dict[str, str] = {}
    for key, change in diff["updates"].items():
        out.update(_detailed_value(change, replace_keys, diff_base + key, replace_base + key))
    for key in diff["adds"]:
        out[diff_base + key] = "ADD_REPLACE" if replace_base + key in replace_keys else "ADD"
    for key in diff["deletes"]:
        out[diff_base + key] = "DELETE_REPLACE" if replace_base + key in replace_keys else "DELETE"
    return out


def _detailed_value(change: tuple, replace_keys: set[str], diff_base: str, replace_base: str) -> dict[str, str]:
    """diff.go `differ.calculateValueDiff`: a changed child of a force-new object replaces too."""
    out: dict[str, str] = {}
    if change[0] == "object":
        for key, kind in _detailed_object(change[1], replace_keys, diff_base + ".", replace_base + ".").items():
            out[key] = "UPDATE_REPLACE" if kind == "UPDATE" and replace_base in replace_keys else kind
    elif change[0] == "array":
        for i, item in change[1]["updates"].items():
            out.update(_detailed_value(item, replace_keys, f"{diff_base}[{i}]", replace_base + "[]"))
        out.update({f"{diff_base}[{i}]": "ADD" for i in change[1]["adds"]})
        out.update({f"{diff_base}[{i}]": "DELETE" for i in change[1]["deletes"]})
    else:
        out[diff_base] = "UPDATE_REPLACE" if replace_base in replace_keys else "UPDATE"
    return out


def detailed_diff(shape: ArmShape, olds: dict, news: dict, old_state: dict) -> dict[str, str]:
    """The detailed diff of old and new inputs (diff.go `diff` -> `calculateDetailedDiff`), as property path -> kind
    name, after `calculateChangesAndReplacements`: a property set for the first time to the value the service already
    reports is an in-place add, not a replacement."""
    diff = _object_diff(olds, news)
    if diff is None:
        return {}
    _azure_specific(diff)
    detailed = _detailed_object(diff, shape.replace_keys, "", "")
    for key, kind in detailed.items():
        if kind == "ADD_REPLACE" and key not in olds and key in news and old_state.get(key) == news[key]:
            detailed[key] = "ADD"
    return detailed


# ---- refresh (provider/pkg/provider/diff.go applyDiff) -------------------------------------------------------------

def apply_diff(values: dict, old: dict, new: dict) -> dict:
    """diff.go `applyDiff`: the inputs `values` with what changed between `old` and `new` (outputs projected onto
    inputs) copied in, recursively; whatever did not change stays as the inputs had it."""
    result = {k: v for k, v in values.items() if not (k in old and k not in new)}
    for key, value in new.items():
        if key not in old:
            result[key] = value
        elif old[key] != value:
            result[key] = _apply_value(values[key], old[key], value) if key in values else value
    return result


def _apply_value(base: Any, old: Any, new: Any) -> Any:
    """diff.go `applyValueDiff`."""
    if isinstance(base, dict) and isinstance(old, dict) and isinstance(new, dict):
        return apply_diff(base, old, new)
    if isinstance(base, list) and isinstance(old, list) and isinstance(new, list):
        return [el if i >= len(base) or i >= len(old) else _apply_value(base[i], old[i], el)
                for i, el in enumerate(new)]
    return new


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
    exit_with_parent()  # a killed CLI stops no plugin: do not outlive it
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
