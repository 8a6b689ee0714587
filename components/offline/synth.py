"""Offline synthesis: run a stack's real `__main__.py` under Pulumi mocks and report what it would declare.

No Azure and no Pulumi CLI are involved. `synth(stack, project_dir=...)` reads the project's `Pulumi.yaml` and the
stack's config file, validates the config (a `SpecError` names the path before anything runs), runs the program
in-process under `pulumi.runtime.set_mocks`, and returns every registered resource (type token, logical name,
parent, inputs, dependencies, options), the stack outputs and the rendered AIB template of each `ImagePipeline`.
The mocks answer the way Azure would shape things: ids built from the ARM path, principal and client ids as GUIDs,
the template identity as a map (pulumi-facts §4 pitfall), the client-config invoke, and plausible build outputs. What
the mocks invent rather than derive (the build's state, times, version, log) lives in one place, `MockRun`; the
stack outputs show it (e.g. `runState`) only because the program wires them from the build, which is what tests assert
by varying it (`synth(..., mocks=AibMocks(run=MockRun(...)))`).
Secret values are shown as `[secret]`; with `show_secrets=False` (the `synth` verb without `--show-secrets`), SAS
tokens anywhere in the result and the inline commands of the rendered templates are redacted too (`components.model.redact`). The program runs through `components.offline.program.run_program`, which resets the
runtime state it uses, so `synth` can run repeatedly in one process.
"""

from __future__ import annotations

import dataclasses
import json
import runpy
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from components.offline import program as engine
from components.offline.arm_shapes import output_inputs
from components.offline.program import RecordingMonitor, mask, pulumi_config, reveal
from components.offline.stack_files import stack_config
from components.model.redact import redact_value
from components.model.rules import CHECKSUM_OPT_OUT_TAG

from components.model.secure import unmask
from components.model.stack import images_config, parse_stack_config

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
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


@dataclasses.dataclass(frozen=True)
class MockRun:
    """What the offline mocks answer for every image build: invented values, not decisions of the product.

    Everything else a build answers offline is derived from the rendered template (its run outputs from the
    distributors, the image version id from the gallery image). Tests pass other values to see them come out of the
    program's outputs (wired from the build) rather than read back a constant.
    """

    run_state: str = "Succeeded"
    run_sub_state: Optional[str] = None
    message: str = ""
    started_at: str = "2026-01-01T00:00:00Z"
    """The start's `run_started_at` and the build's `start_time`."""
    end_time: str = "2026-01-01T00:42:00Z"
    duration_seconds: float = 2520.0
    adopted: bool = False
    version: str = "1.0.0"
    """The gallery image version a run creates when the distributor's `galleryImageId` names none."""
    log_location: str = "mock://packerlogs/customization.log"
    vhd_container: str = "https://mockstaging.blob.core.windows.net/vhds"
    """Where a VHD distributor without a `uri` leaves `<runOutputName>.vhd`."""


MOCK_RUN = MockRun()


def mock_guid(*parts: str) -> str:
    return str(uuid.uuid5(_MOCK_NS, "|".join(parts).lower()))


class AibMocks(pulumi.runtime.Mocks):
    """Echo inputs and add the outputs Azure would: ids from the ARM path, GUIDs, identity maps, build results."""

    def __init__(self, subscription_id: str = SUBSCRIPTION_ID, run: MockRun = MOCK_RUN) -> None:
        self.subscription_id = subscription_id
        self.run = run
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
        outputs = output_inputs(dict(args.inputs))  # azure-native answers with ARM's shapes (identity maps)
        inputs = reveal(args.inputs)
        outputs.setdefault("name", rid.rsplit("/", 1)[-1])
        short = args.typ.split("/")[-1].split(":")[-1]
        if short == "ImageBuild":
            outputs.update(_build_outputs(inputs, self.templates, self.run))
        elif short == "ImageVersionLifecycle":
            from components.providers.lifecycle.provider import offline_outputs

            outputs.update(offline_outputs(inputs))
        elif short == "ImageBuildStart":
            outputs.update(_start_outputs(inputs, self.run))
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


def _start_outputs(inputs: dict, run: MockRun) -> dict:
    return {"template_id": (f"/subscriptions/{inputs.get('subscription_id')}/resourceGroups/"
                            f"{inputs.get('resource_group_name')}/providers/Microsoft.VirtualMachineImages/"
                            f"imageTemplates/{inputs.get('image_template_name')}"),
            "run_started_at": run.started_at, "adopted": run.adopted}


def _build_outputs(inputs: dict, templates: Mapping[str, dict], run: MockRun) -> dict:
    template = templates.get(str(inputs.get("image_template_name"))) or {}
    run_outputs: dict[str, dict] = {}
    version_id = None
    for d in template.get("distribute") or []:
        name = d.get("runOutputName")
        if d.get("type") == "SharedImage":
            artifact = (d["galleryImageId"] if "/versions/" in d["galleryImageId"]
                        else f"{d['galleryImageId']}/versions/{run.version}")
            version_id = version_id or artifact
            run_outputs[name] = {"artifact_id": artifact, "artifact_uri": None}
        elif d.get("type") == "ManagedImage":
            run_outputs[name] = {"artifact_id": d.get("imageId"), "artifact_uri": None}
        else:
            run_outputs[name] = {"artifact_id": None, "artifact_uri": d.get("uri") or f"{run.vhd_container}/{name}.vhd"}
    return {"run_state": run.run_state, "run_sub_state": run.run_sub_state, "message": run.message,
            "start_time": run.started_at, "end_time": run.end_time, "duration_seconds": run.duration_seconds,
            "run_outputs": run_outputs, "image_version_id": version_id, "log_location": run.log_location}


_OUTPUTS: dict[str, Callable[[str, dict], dict]] = {
    "UserAssignedIdentity": _identity_outputs,
    "VirtualMachineImageTemplate": _template_outputs,
    "ScriptBlob": _script_blob_outputs,
}


def run_program(program: Callable[[], Any], *, mocks: Optional[pulumi.runtime.Mocks] = None, **kwargs: Any
                ) -> tuple[RecordingMonitor, Any]:
    """`program.run_program` with the offline `AibMocks` unless other mocks are given."""
    return engine.run_program(program, mocks=mocks or AibMocks(), **kwargs)


def synth(stack_name: str, *, project_dir: str | Path, config_file: Optional[str | Path] = None,
          show_secrets: bool = True, mocks: Optional[AibMocks] = None) -> dict[str, Any]:
    """Run `project_dir/__main__.py` for `stack_name` offline; return `{"resources", "outputs", "templates"}`.

    `resources`: one entry per registered resource in registration order: `type`, `name`, `parent` (the parent's
    logical name, None at the top), `inputs` (camelCase as sent, secrets as `[secret]`), `dependencies` (logical
    names), `options` (the non-default resource options). `templates`: image name → the AIB JSON its
    `ImagePipeline` renders. `config_file`: a stack file to use instead of the project's `Pulumi.<stack>.yaml`.
    `show_secrets`: keep SAS tokens and the templates' inline commands (default True: `render` prints the exact
    template; the `synth` verb passes False unless `--show-secrets`). Pulumi secrets stay `[secret]` either way.
    `mocks`: what answers the program (default `AibMocks()`, with the invented build values of `MOCK_RUN`). Raises
    `SpecError` for an invalid stack config, before the program runs.
    """
    project_dir = Path(project_dir).resolve()
    project, config, path = stack_config(project_dir, stack_name,
                                         Path(config_file) if config_file is not None else None)
    keys = images_config(project, config)
    if keys is not None:
        parse_stack_config(keys, source=str(path), project_dir=project_dir)
    flat, secret_keys = pulumi_config(project, config)
    main = project_dir / "__main__.py"
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    try:
        monitor, program_globals = run_program(lambda: runpy.run_path(str(main), run_name="__main__"),
                                               project=project, stack=stack_name, config=flat,
                                               secret_keys=secret_keys, mocks=mocks)
    finally:
        if added:
            sys.path.remove(str(project_dir))
    # Secret config values are opaque placeholders in the program (spec/secure.py): shown as `[secret]`.
    result = unmask({"resources": resources_of(monitor), "outputs": mask(monitor.stack_outputs),
                     "templates": templates_of(program_globals or {}), "files": files_of(program_globals or {})})
    return result if show_secrets else redact_value(result)


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
    from components.declare.pipeline import ImagePipeline

    found: dict[str, dict] = {}
    for value in program_globals.values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, ImagePipeline):
                found[item.image_name] = item.template_document
    return dict(sorted(found.items()))


def files_of(program_globals: Mapping[str, Any]) -> dict[str, list[dict]]:
    """Repository files each `ImagePipeline` uploads: path, the blob URL its template names, sha256, config paths."""
    from components.arm.render import blob_uri
    from components.declare.pipeline import ImagePipeline

    found: dict[str, list[dict]] = {}
    for value in program_globals.values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, ImagePipeline) and item.local_files and item.scripts_storage is not None:
                found[item.image_name] = [
                    {"path": a.path, "uri": blob_uri(item.scripts_storage.url, a.sha256, a.path), "sha256": a.sha256,
                     "size": a.size, "configPaths": list(a.config_paths)} for a in item.local_files]
    return dict(sorted(found.items()))


def opt_out_lines(templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The steps of each template that fetch remote content unpinned by `checksumOptOut`, with the reason."""
    lines: list[str] = []
    for image, template in templates.items():
        opt_outs = {k[len(CHECKSUM_OPT_OUT_TAG):]: v for k, v in (template.get("tags") or {}).items()
                    if k.startswith(CHECKSUM_OPT_OUT_TAG)}
        if opt_outs:
            lines += ["", f"Checksum opt-outs of {image} (remote content not pinned with sha256Checksum):"]
            lines += [f"    {step}: {reason}" for step, reason in sorted(opt_outs.items())]
    return lines


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
    for image, template in (result.get("templates") or {}).items():
        # The whole rendered template, as `render` prints it: what a reviewer reads (the caller redacted it already
        # unless --show-secrets).
        lines.append("")
        lines.append(f"Template of {image} ({template.get('name')}):")
        lines += ["    " + line for line in json.dumps(template, indent=2, ensure_ascii=False).splitlines()]
    lines += opt_out_lines(result.get("templates") or {})
    for image, files in (result.get("files") or {}).items():
        lines.append("")
        lines.append(f"Repository files of {image} (uploaded; the template downloads them and checks the sha256):")
        for f in files:
            lines.append(f"    {f['path']}  ({f['size']} bytes)")
            lines.append(f"        uri:    {f['uri']}")
            lines.append(f"        sha256: {f['sha256']}")
    return "\n".join(lines) + "\n"
