"""Render a validated spec into the AIB JSON template the Image Builder service takes.

Pure and deterministic: the same spec gives byte-identical JSON (`dumps`). Project extensions are
resolved here (the deprovision override becomes its customizer) and never sent as such. The API
version is the one pulumi-azure-native speaks (2024-02-01) unless a field only 2025-10-01 has is used.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from ..spec import DEFAULT_API_VERSION, TEMPLATE_TYPE, ImageTemplateSpec
from ..spec.customizers import PowerShellCustomizer, ShellCustomizer
from ..spec.platform import image_os

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


def render_properties(spec: ImageTemplateSpec, *, staging_resource_group: Optional[str] = None) -> dict[str, Any]:
    props = spec.properties
    extra = deprovision_customizer(spec)
    if extra is not None:
        props = props.model_copy(update={"customize": [*(props.customize or []), extra]})
    if staging_resource_group is not None:
        props = props.model_copy(update={"staging_resource_group": staging_resource_group})
    return props.to_aib()


def render_identity(spec: ImageTemplateSpec, identity_id: Optional[str]) -> dict[str, Any]:
    chosen = identity_id or (spec.identity.identity_id if spec.identity else None)
    if not chosen:
        raise ValueError("the template has no identity: set template.identity or pass identity_id")
    return {"type": "UserAssigned", "userAssignedIdentities": {chosen: {}}}


def render_template(spec: ImageTemplateSpec, *, name: Optional[str] = None, identity_id: Optional[str] = None,
                    staging_resource_group: Optional[str] = None) -> dict[str, Any]:
    """The AIB JSON template for `spec` (type, apiVersion, name, location, tags, identity, properties)."""
    out: dict[str, Any] = {"type": TEMPLATE_TYPE, "apiVersion": required_api_version(spec)}
    if name or spec.name:
        out["name"] = name or spec.name
    out["location"] = spec.location
    if spec.tags is not None:
        out["tags"] = dict(sorted(spec.tags.items()))
    out["identity"] = render_identity(spec, identity_id)
    out["properties"] = render_properties(spec, staging_resource_group=staging_resource_group)
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
