"""Render a validated spec into the AIB JSON template the Image Builder service takes.

Pure and deterministic: the same spec gives byte-identical JSON (`dumps`). Project extensions are
resolved here (the deprovision override becomes its customizer; a repository `script`/`sourceFile` becomes the
`scriptUri`/`sourceUri` of its blob under `scripts_url`, with its sha256Checksum; a step's `checksumOptOut` becomes
the template tag `aib-images.checksumOptOut.<step>`, where the policy pack reads it) and never sent as such. The API
version is the one pulumi-azure-native speaks (2024-02-01) unless a field only 2025-10-01 has is used.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional
from urllib.parse import quote

from components.model import DEFAULT_API_VERSION, TEMPLATE_TYPE, ImageTemplateSpec
from components.model.customizers import FileFields, PowerShellCustomizer, ScriptStep, ShellCustomizer
from components.model.errors import Issue, SpecError
from components.model.local_files import blob_name
from components.model.platform import image_os
from components.model.rules import checksum_opt_outs

NEWEST_API_VERSION = "2025-10-01"
_EXTENSIONS = {"os_type", "hyper_v_generation", "allow_http_uris", "deprovision", "type", "api_version", "name",
               "identity", "properties"}
LINUX_DEPROVISION_FILE = "/tmp/DeprovisioningScript.sh"
WINDOWS_DEPROVISION_FILE = "c:\\DeprovisioningScript.ps1"


def required_api_version(spec: ImageTemplateSpec) -> str:
    """2025-10-01 when a field only that version has is used, else the azure-native default."""
    props = spec.properties
    newer = (
        props.additional_data_disks is not None
        or (props.optimize is not None and props.optimize.workload is not None)
        or any(getattr(d, "replication_mode", None) is not None for d in props.distribute)
    )
    return NEWEST_API_VERSION if newer else DEFAULT_API_VERSION


def deprovision_customizer(spec: ImageTemplateSpec):
    """The customizer that writes the service's deprovision command file, or None."""
    if spec.deprovision is None:
        return None
    if image_os(spec) == "Windows":
        lines = ["Set-Content -Path '%s' -Value @'" % WINDOWS_DEPROVISION_FILE, *spec.deprovision.commands, "'@"]
        return PowerShellCustomizer(name="deprovision-override", inline=["\n".join(lines)], run_elevated=True)
    script = "\n".join(["#!/bin/bash", *spec.deprovision.commands])
    return ShellCustomizer(name="deprovision-override",
                           inline=[f"cat > {LINUX_DEPROVISION_FILE} <<'AIB_DEPROVISION'\n{script}\nAIB_DEPROVISION",
                                   f"chmod +x {LINUX_DEPROVISION_FILE}"])


def blob_uri(scripts_url: str, sha256: str, path: str) -> str:
    """`<container url>/<sha256>/<file name>` (the file name percent-encoded)."""
    return f"{scripts_url.rstrip('/')}/{quote(blob_name(sha256, path))}"


def _uploaded(step: Any, path: str, scripts_url: Optional[str]) -> Any:
    """A step naming a repository file, turned into the AIB step that downloads its uploaded blob."""
    if scripts_url is None:
        raise SpecError([Issue(path, "names a file in the repository, but no blob container was given to upload it to",
                               "render it through the stack (render --stack NAME or synth), which knows the container")])
    if not step.sha256_checksum:
        raise SpecError([Issue(path, "the file's sha256 is not known yet",
                               "resolve the template first (components.model.local_files.resolve_template)")])
    if isinstance(step, ScriptStep):
        return step.model_copy(update={"script": None, "script_uri": blob_uri(scripts_url, step.sha256_checksum,
                                                                              step.script or "")})
    return step.model_copy(update={"source_file": None, "source_uri": blob_uri(scripts_url, step.sha256_checksum,
                                                                               step.source_file or "")})


def _without_opt_out(step: Any) -> Any:
    """The step without `checksumOptOut` (carried as a template tag instead, see `render_tags`)."""
    if getattr(step, "checksum_opt_out", None) is None:
        return step
    return step.model_copy(update={"checksum_opt_out": None})


def _steps_with_uris(steps: Optional[list], section: str, scripts_url: Optional[str]) -> Optional[list]:
    if steps is None:
        return None
    return [_without_opt_out(_uploaded(s, f"{section}[{i}]", scripts_url)
                             if (isinstance(s, ScriptStep) and s.script is not None)
                             or (isinstance(s, FileFields) and s.source_file is not None) else s)
            for i, s in enumerate(steps)]


def render_tags(spec: ImageTemplateSpec) -> Optional[dict[str, str]]:
    """The template's tags plus one `aib-images.checksumOptOut.<step>` tag per opted-out step, sorted; None when
    there are none. Tags stay out of `template_hash`, so an opt-out does not rename the template."""
    tags = {**(spec.tags or {}), **checksum_opt_outs(spec)}
    return dict(sorted(tags.items())) if spec.tags is not None or tags else None


def render_properties(spec: ImageTemplateSpec, *, staging_resource_group: Optional[str] = None,
                      scripts_url: Optional[str] = None) -> dict[str, Any]:
    props = spec.properties
    customize = _steps_with_uris(props.customize, "properties.customize", scripts_url)
    validate = props.validate_
    if validate is not None and validate.in_vm_validations:
        validate = validate.model_copy(update={"in_vm_validations": _steps_with_uris(
            validate.in_vm_validations, "properties.validate.inVMValidations", scripts_url)})
    props = props.model_copy(update={"customize": customize, "validate_": validate})
    extra = deprovision_customizer(spec)
    if extra is not None:
        props = props.model_copy(update={"customize": [*(props.customize or []), extra]})
    if staging_resource_group is not None:
        props = props.model_copy(update={"staging_resource_group": staging_resource_group})
    return props.to_aib()


def render_identity(spec: ImageTemplateSpec, identity_id: Optional[str]) -> dict[str, Any]:
    chosen = identity_id or (spec.identity.identity_id if spec.identity else None)
    if not chosen:
        raise SpecError([Issue("identity", "the template has no user-assigned identity, which the service requires",
                               "set template.identity (type UserAssigned), or render it through a stack, which "
                               "creates one")])
    return {"type": "UserAssigned", "userAssignedIdentities": {chosen: {}}}


def render_template(spec: ImageTemplateSpec, *, name: Optional[str] = None, identity_id: Optional[str] = None,
                    staging_resource_group: Optional[str] = None, scripts_url: Optional[str] = None) -> dict[str, Any]:
    """The AIB JSON template for `spec` (type, apiVersion, name, location, tags, identity, properties).

    `scripts_url`: the blob container URL repository files are uploaded to (required when the spec names any)."""
    out: dict[str, Any] = {"type": TEMPLATE_TYPE, "apiVersion": required_api_version(spec)}
    if name or spec.name:
        out["name"] = name or spec.name
    out["location"] = spec.location
    tags = render_tags(spec)
    if tags is not None:
        out["tags"] = tags
    out["identity"] = render_identity(spec, identity_id)
    out["properties"] = render_properties(spec, staging_resource_group=staging_resource_group,
                                          scripts_url=scripts_url)
    return out


def dumps(rendered: dict[str, Any]) -> str:
    """Canonical text of a rendered template (stable key order as rendered, 2-space indent)."""
    return json.dumps(rendered, indent=2, ensure_ascii=False) + "\n"


def template_hash(rendered: dict[str, Any]) -> str:
    """Hash of everything the service cannot PATCH: a change here needs a new template.

    Tags are left out (PATCHable in place); so is the name, which this hash goes into.
    """
    content = {k: v for k, v in rendered.items() if k not in ("tags", "name")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
