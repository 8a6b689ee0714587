"""Offline synthesis: run a stack's real `__main__.py` under Pulumi mocks and report what it would declare.

No Azure and no Pulumi CLI are involved. `synth(stack, project_dir=...)` reads the project's `Pulumi.yaml` and the
stack's config file, validates the config (a `SpecError` names the path before anything runs), runs the program
in-process under `pulumi.runtime.set_mocks`, and returns every registered resource (type token, logical name,
parent, inputs, dependencies, options), the stack outputs and the rendered AIB template of each `ImagePipeline`.
The mocks answer the way Azure would shape things: ids built from the ARM path, principal and client ids as GUIDs,
the template identity as a map (pulumi-facts §4 pitfall), the client-config invoke, and plausible build outputs.
Secret values are shown as `[secret]`. Each call resets the runtime state it uses, so `synth` can run repeatedly in
one process; tests use `AibMocks` and `RecordingMonitor` directly.
"""

from __future__ import annotations

import contextlib
import gc
import json
import runpy
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .spec.stack import PROJECT, config_from_stack_file, parse_stack_config

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "[secret]"
_MOCK_NS = uuid.UUID("0c9d7d8e-5a5e-4a55-8f65-2f0d1c3b7a10")

# type token -> (ARM path under the resource group (or the scope), input keys holding the names)
_ARM_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "azure-native:managedidentity:UserAssignedIdentity":
        ("providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}", ("resourceName",)),
    "azure-native:compute:Gallery": ("providers/Microsoft.Compute/galleries/{}", ("galleryName",)),
    "azure-native:compute:GalleryImage":
        ("providers/Microsoft.Compute/galleries/{}/images/{}", ("galleryName", "galleryImageName")),
    "azure-native:compute:VirtualMachineScaleSet":
        ("providers/Microsoft.Compute/virtualMachineScaleSets/{}", ("vmScaleSetName",)),
    "azure-native:network:VirtualNetwork": ("providers/Microsoft.Network/virtualNetworks/{}", ("virtualNetworkName",)),
    "azure-native:network:Subnet":
        ("providers/Microsoft.Network/virtualNetworks/{}/subnets/{}", ("virtualNetworkName", "subnetName")),
    "azure-native:virtualmachineimages:VirtualMachineImageTemplate":
        ("providers/Microsoft.VirtualMachineImages/imageTemplates/{}", ("imageTemplateName",)),
    "azure-native:storage:StorageAccount": ("providers/Microsoft.Storage/storageAccounts/{}", ("accountName",)),
    "azure-native:storage:BlobContainer":
        ("providers/Microsoft.Storage/storageAccounts/{}/blobServices/default/containers/{}",
         ("accountName", "containerName")),
    "azure-native:virtualmachineimages:Trigger":
        ("providers/Microsoft.VirtualMachineImages/imageTemplates/{}/triggers/{}", ("imageTemplateName", "triggerName")),
}
_SCOPED: dict[str, tuple[str, str]] = {
    "azure-native:authorization:RoleDefinition": ("roleDefinitions", "roleDefinitionId"),
    "azure-native:authorization:RoleAssignment": ("roleAssignments", "roleAssignmentName"),
}


def mock_guid(*parts: str) -> str:
    return str(uuid.uuid5(_MOCK_NS, "|".join(parts).lower()))


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def reveal(value: Any) -> Any:
    """`value` with secret wrappers removed (the plain values)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """`value` with every secret replaced by `[secret]`, JSON-friendly."""
    if is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AibMocks(pulumi.runtime.Mocks):
    """Echo inputs and add the outputs Azure would: ids from the ARM path, GUIDs, identity maps, build results."""

    def __init__(self, subscription_id: str = SUBSCRIPTION_ID) -> None:
        self.subscription_id = subscription_id
        self.templates: dict[str, dict] = {}

    def resource_id(self, args: MockResourceArgs) -> str:
        inputs = reveal(args.inputs)
        rg_path = f"/subscriptions/{self.subscription_id}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"
        if args.typ == "azure-native:resources:ResourceGroup":
            return rg_path
        if args.typ in _SCOPED:
            kind, key = _SCOPED[args.typ]
            return f"{inputs.get('scope')}/providers/Microsoft.Authorization/{kind}/{inputs.get(key) or args.name}"
        if args.typ in _ARM_PATHS:
            path, keys = _ARM_PATHS[args.typ]
            return f"{rg_path}/{path.format(*(inputs.get(k) or args.name for k in keys))}"
        return f"{rg_path}/providers/mock/{args.typ.split(':')[-1]}/{args.name}"

    def new_resource(self, args: MockResourceArgs) -> tuple[Optional[str], dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            # A read, not a registration. Offline there is no other stack: its outputs are empty.
            return args.resource_id or args.name, {**dict(args.inputs), "outputs": {}, "secret_output_names": []}
        if not args.custom:
            return None, {}
        rid = self.resource_id(args)
        outputs = dict(args.inputs)
        inputs = reveal(args.inputs)
        outputs.setdefault("name", rid.rsplit("/", 1)[-1])
        short = args.typ.split("/")[-1].split(":")[-1]
        if short == "ImageBuild":
            outputs.update(_build_outputs(inputs, self.templates))
        elif short == "ImageVersionLifecycle":
            from .lifecycle.provider import offline_outputs

            outputs.update(offline_outputs(inputs))
        elif short in _OUTPUTS:
            outputs.update(_OUTPUTS[short](rid, inputs))
        if args.typ == "azure-native:virtualmachineimages:VirtualMachineImageTemplate":
            self.templates[str(inputs.get("imageTemplateName"))] = inputs
        return rid, outputs

    def call(self, args: MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        return self.invoke(args), []

    def invoke(self, args: MockCallArgs) -> dict:
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": self.subscription_id, "tenantId": TENANT_ID,
                    "clientId": mock_guid("client"), "objectId": mock_guid("object")}
        if args.token == "azure-native:managedidentity:getUserAssignedIdentity":
            rid = (f"/subscriptions/{self.subscription_id}/resourceGroups/{args.args.get('resourceGroupName')}"
                   f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{args.args.get('resourceName')}")
            return {"id": rid, "name": args.args.get("resourceName"), "location": "westeurope",
                    "principalId": mock_guid(rid, "principal"), "clientId": mock_guid(rid, "client"),
                    "tenantId": TENANT_ID, "type": "Microsoft.ManagedIdentity/userAssignedIdentities"}
        return {}


def _identity_outputs(rid: str, inputs: dict) -> dict:
    return {"principalId": mock_guid(rid, "principal"), "clientId": mock_guid(rid, "client"), "tenantId": TENANT_ID}


def _template_outputs(rid: str, inputs: dict) -> dict:
    # Input identities are a list of ids; the service answers with a map id -> {principalId, clientId}.
    ids = (inputs.get("identity") or {}).get("userAssignedIdentities") or []
    return {"identity": {"type": "UserAssigned", "userAssignedIdentities": {
        i: {"principalId": mock_guid(i, "principal"), "clientId": mock_guid(i, "client")} for i in ids}},
        "provisioningState": "Succeeded", "type": "Microsoft.VirtualMachineImages/imageTemplates"}


def _script_blob_outputs(rid: str, inputs: dict) -> dict:
    return {"url": f"https://{inputs.get('account_name')}.blob.core.windows.net/{inputs.get('container_name')}/"
                   f"{inputs.get('blob_name')}", "size": 0}


def _start_outputs(rid: str, inputs: dict) -> dict:
    return {"template_id": (f"/subscriptions/{inputs.get('subscription_id')}/resourceGroups/"
                            f"{inputs.get('resource_group_name')}/providers/Microsoft.VirtualMachineImages/"
                            f"imageTemplates/{inputs.get('image_template_name')}"),
            "run_started_at": "2026-01-01T00:00:00Z", "adopted": False}


def _build_outputs(inputs: dict, templates: Mapping[str, dict]) -> dict:
    template = templates.get(str(inputs.get("image_template_name"))) or {}
    run_outputs: dict[str, dict] = {}
    version_id = None
    for d in template.get("distribute") or []:
        name = d.get("runOutputName")
        if d.get("type") == "SharedImage":
            artifact = d["galleryImageId"] if "/versions/" in d["galleryImageId"] else d["galleryImageId"] + "/versions/1.0.0"
            version_id = version_id or artifact
            run_outputs[name] = {"artifact_id": artifact, "artifact_uri": None}
        elif d.get("type") == "ManagedImage":
            run_outputs[name] = {"artifact_id": d.get("imageId"), "artifact_uri": None}
        else:
            run_outputs[name] = {"artifact_id": None,
                                 "artifact_uri": d.get("uri") or f"https://mockstaging.blob.core.windows.net/vhds/{name}.vhd"}
    return {"run_state": "Succeeded", "run_sub_state": None, "message": "", "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2026-01-01T00:42:00Z", "duration_seconds": 2520.0, "run_outputs": run_outputs,
            "image_version_id": version_id, "log_location": "mock://packerlogs/customization.log"}


_OUTPUTS: dict[str, Callable[[str, dict], dict]] = {
    "UserAssignedIdentity": _identity_outputs,
    "VirtualMachineImageTemplate": _template_outputs,
    "ImageBuildStart": _start_outputs,
    "ScriptBlob": _script_blob_outputs,
}


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps what `new_resource` cannot see: parent, dependencies and resource options."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[dict[str, Any]] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append({
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent_urn": request.parent or None,
                "custom": bool(request.custom),
                "inputs": rpc.deserialize_properties(request.object),
                "dependencies": sorted(set(request.dependencies)),
                "property_dependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
                "options": {
                    "protect": bool(request.protect),
                    "retain_on_delete": bool(request.retainOnDelete),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "ignore_changes": list(request.ignoreChanges),
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                },
            })
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def run_program(program: Callable[[], Any], *, project: str, stack: str, config: Mapping[str, str],
                secret_keys: Optional[list[str]] = None, mocks: Optional[pulumi.runtime.Mocks] = None
                ) -> tuple[RecordingMonitor, Any]:
    """Run `program` under fresh mocks with `config` (full `ns:key` names, string values); return the monitor and
    what `program` returned."""
    mocks = mocks or AibMocks()
    monitor = RecordingMonitor(mocks)
    # A previous run leaves its root stack resource and config behind; both are per-run. A failed run also leaves
    # its outstanding RPCs and errored outputs, which the next run would otherwise report as its own failure (as
    # `pulumi.runtime.test` clears them too).
    ROOT.set(None)
    settings: Any = SETTINGS  # context properties the type checker cannot follow
    settings.rpc_manager.clear()
    settings.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    result: dict[str, Any] = {}

    def run() -> None:
        result["value"] = program()

    with _no_cyclic_gc():
        _sync_await(run_pulumi_func(run))
    # The mock root stack registers its outputs before the program runs, so exports are read off the stack itself.
    root = ROOT.get()
    exported = getattr(root, "outputs", None) or {}
    monitor.stack_outputs = _sync_await(_resolve(dict(exported)))
    return monitor, result.get("value")


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the program registers its resources.

    Every resource leaves hundreds of Outputs, futures and tasks alive until the program ends, so each collection
    rescans a heap that only grows and finds almost nothing (~1,600 objects in a 60-image run): with the collector on,
    a 100-image stack spends about two thirds of its time in it, and the share grows with the stack. Afterwards the
    run's objects are frozen (left out of later collections) rather than scanned once more: they are freed by
    reference counting when the caller drops the result, and the few cycles they hold are not worth a full scan.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


async def _resolve(value: Any) -> Any:
    """Plain values of (nested) Outputs, with secret ones wrapped the way the RPC layer marks them."""
    if isinstance(value, pulumi.Output):
        plain = await _resolve(await value.future())
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": plain} if await value.is_secret() else plain
    if isinstance(value, dict):
        return {k: await _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolve(v) for v in value]
    return value


def stack_config(project_dir: Path, stack: str, config_file: Optional[Path] = None
                 ) -> tuple[str, dict[str, Any], Path]:
    """Project name, the stack file's `config:` mapping (`config_file`, else the project's
    `<stackConfigDir>/Pulumi.<stack>.yaml`), and that file's path."""
    project_doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    project = str(project_doc.get("name") or project_dir.name)
    config_dir = project_dir / str(project_doc.get("stackConfigDir") or ".")
    path = Path(config_file) if config_file is not None else config_dir / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    # Project-level config (plain values, `value:` or a declaration's `default:`) applies under the stack's, as the
    # CLI would apply it.
    merged: dict[str, Any] = {}
    for key, value in (project_doc.get("config") or {}).items():
        if isinstance(value, Mapping) and ("default" in value or "value" in value or "type" in value):
            if "value" in value or "default" in value:
                merged[key] = value.get("value", value.get("default"))
        else:
            merged[key] = value
    doc = doc or {}
    # A whole stack file has `config:`; `import-arm` output is the bare `aib-images:` keys.
    merged.update(doc.get("config") or {} if "config" in doc else doc)
    return project, merged, path


def pulumi_config(project: str, config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: `ns:key` names, strings (objects as JSON), secure values unknown
    offline (replaced by a placeholder and listed as secret)."""
    flat: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            flat[full] = "synth-secret-placeholder"
            secrets.append(full)
        else:
            flat[full] = value if isinstance(value, str) else json.dumps(value)
    return flat, secrets


def synth(stack_name: str, *, project_dir: str | Path, config_file: Optional[str | Path] = None) -> dict[str, Any]:
    """Run `project_dir/__main__.py` for `stack_name` offline; return `{"resources", "outputs", "templates"}`.

    `resources`: one entry per registered resource in registration order: `type`, `name`, `parent` (the parent's
    logical name, None at the top), `inputs` (camelCase as sent, secrets as `[secret]`), `dependencies` (logical
    names), `options` (the non-default resource options). `templates`: image name → the AIB JSON its
    `ImagePipeline` renders. `config_file`: a stack file to use instead of the project's `Pulumi.<stack>.yaml`.
    Raises `SpecError` for an invalid stack config, before the program runs.
    """
    project_dir = Path(project_dir).resolve()
    project, config, path = stack_config(project_dir, stack_name,
                                         Path(config_file) if config_file is not None else None)
    if project == PROJECT:
        parse_stack_config(config_from_stack_file({"config": config}), source=str(path), project_dir=project_dir)
    flat, secret_keys = pulumi_config(project, config)
    main = project_dir / "__main__.py"
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    try:
        monitor, program_globals = run_program(lambda: runpy.run_path(str(main), run_name="__main__"),
                                               project=project, stack=stack_name, config=flat,
                                               secret_keys=secret_keys)
    finally:
        if added:
            sys.path.remove(str(project_dir))
    return {"resources": resources_of(monitor), "outputs": mask(monitor.stack_outputs),
            "templates": templates_of(program_globals or {}), "files": files_of(program_globals or {})}


def resources_of(monitor: RecordingMonitor) -> list[dict[str, Any]]:
    names = {r["urn"]: r["name"] for r in monitor.registrations}
    out = []
    for r in monitor.registrations:
        options = {k: v for k, v in r["options"].items() if v}
        out.append({"type": r["type"], "name": r["name"], "parent": names.get(r["parent_urn"] or ""),
                    "inputs": mask(r["inputs"]), "dependencies": sorted(names.get(u, u) for u in r["dependencies"]),
                    "options": options})
    return out


def templates_of(program_globals: Mapping[str, Any]) -> dict[str, dict]:
    """Rendered templates of every `ImagePipeline` the program keeps in a global (directly or in a dict/list)."""
    from .pipeline import ImagePipeline

    found: dict[str, dict] = {}
    for value in program_globals.values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, ImagePipeline):
                found[item.image_name] = item.template_document
    return dict(sorted(found.items()))


def files_of(program_globals: Mapping[str, Any]) -> dict[str, list[dict]]:
    """Repository files each `ImagePipeline` uploads: path, the blob URL its template names, sha256, config paths."""
    from .arm.render import blob_uri
    from .pipeline import ImagePipeline

    found: dict[str, list[dict]] = {}
    for value in program_globals.values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, ImagePipeline) and item.local_files and item.scripts_storage is not None:
                found[item.image_name] = [
                    {"path": a.path, "uri": blob_uri(item.scripts_storage.url, a.sha256, a.path), "sha256": a.sha256,
                     "size": a.size, "configPaths": list(a.config_paths)} for a in item.local_files]
    return dict(sorted(found.items()))


# Inputs worth a line in the text listing, per type token suffix.
_SHOWN = {
    "ResourceGroup": ("resourceGroupName", "location"),
    "UserAssignedIdentity": ("resourceName", "location"),
    "Gallery": ("galleryName", "resourceGroupName", "location"),
    "GalleryImage": ("galleryImageName", "osType", "hyperVGeneration", "identifier", "features"),
    "RoleDefinition": ("roleName", "permissions", "assignableScopes"),
    "RoleAssignment": ("roleDefinitionId", "scope", "principalType"),
    "VirtualMachineImageTemplate": ("imageTemplateName", "resourceGroupName", "stagingResourceGroup", "source"),
    "Trigger": ("triggerName", "kind"),
    "StorageAccount": ("accountName", "allowSharedKeyAccess", "allowBlobPublicAccess", "minimumTlsVersion"),
    "BlobContainer": ("containerName", "publicAccess"),
    "ScriptBlob": ("project_path", "sha256", "blob_name"),
    "TemplateTags": ("image_template_name", "tags"),
    "ImageBuildStart": ("image_template_name", "rebuild_trigger"),
    "ImageBuild": ("image_template_name", "run_output_names", "vhd_run_outputs"),
    "ImageVersionLifecycle": ("image_definition_id", "retention", "promotion_mode", "promote_version_id", "dry_run"),
}


def format_text(result: Mapping[str, Any]) -> str:
    """A readable listing: one block per resource (type, logical name, parent, the inputs that matter, options)."""
    lines: list[str] = []
    for r in result["resources"]:
        short = r["type"].split(":")[-1]
        parent = f"  (parent: {r['parent']})" if r["parent"] else ""
        lines.append(f"{r['type']}  {r['name']}{parent}")
        for key in _SHOWN.get(short, ()):
            if r["inputs"].get(key) is not None:
                lines.append(f"    {key}: {json.dumps(r['inputs'][key], sort_keys=True)}")
        if r.get("options"):
            lines.append("    options: " + ", ".join(f"{k}={v}" for k, v in sorted(r["options"].items())))
    if result.get("outputs"):
        lines.append("")
        lines.append("Outputs:")
        for key, value in sorted(result["outputs"].items()):
            lines.append(f"    {key}: {json.dumps(value, sort_keys=True)}")
    if result.get("templates"):
        lines.append("")
        lines.append("Templates: " + ", ".join(f"{k} -> {v.get('name')}" for k, v in result["templates"].items()))
    for image, files in (result.get("files") or {}).items():
        lines.append("")
        lines.append(f"Repository files of {image} (uploaded; the template downloads them and checks the sha256):")
        for f in files:
            lines.append(f"    {f['path']}  ({f['size']} bytes)")
            lines.append(f"        uri:    {f['uri']}")
            lines.append(f"        sha256: {f['sha256']}")
    return "\n".join(lines) + "\n"
