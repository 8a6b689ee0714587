"""Spec-wide pre-flight rules: checks that span sections, run after every section validated.

Each rule is a small function yielding `Issue`s (path, problem, hint), so all of them are reported
together. Checks local to one section (exactly one of scriptUri/inline, proxyVmSize vs
containerInstanceSubnetId...) live on the section's model instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from .customizers import FileFields, LINUX_ONLY, WINDOWS_ONLY, ScriptStep
from .distributors import SharedImageDistributor
from .errors import Issue
from .models import ImageTemplateSpec
from .platform import image_os, source_os


@dataclass(frozen=True)
class RuleContext:
    """What the caller knows beyond the template, for example gallery regions the pipeline creates."""

    gallery_locations: Mapping[str, str] = field(default_factory=dict)
    """Gallery resource id (lowercase) -> region, for the galleries the pipeline creates."""
    subscription_id: Optional[str] = None
    """The subscription the deployment's provider works in (None: unknown, the checks that need it are skipped)."""


Rule = Callable[[ImageTemplateSpec, RuleContext], Iterable[Issue]]


def _steps(spec: ImageTemplateSpec):
    for i, step in enumerate(spec.properties.customize or []):
        yield f"properties.customize[{i}]", step
    validate = spec.properties.validate_
    for i, step in enumerate((validate.in_vm_validations or []) if validate else []):
        yield f"properties.validate.inVMValidations[{i}]", step


def build_timeout(spec, ctx):
    minutes = spec.properties.build_timeout_in_minutes
    if minutes is not None and 0 < minutes < 6:
        yield Issue("properties.buildTimeoutInMinutes", f"must be 0 or between 6 and 960, but {minutes} was given",
                    "builds under 6 minutes fail at the service (its token must live 5 minutes); 0 means 240")


def distribute_not_empty(spec, ctx):
    if not spec.properties.distribute:
        yield Issue("properties.distribute", "at least one distribution target is required",
                    "add a SharedImage, ManagedImage or VHD entry")


def unique_run_output_names(spec, ctx):
    counts = Counter(d.run_output_name for d in spec.properties.distribute)
    for i, d in enumerate(spec.properties.distribute):
        if counts[d.run_output_name] > 1:
            yield Issue(f"properties.distribute[{i}].runOutputName",
                        f"{d.run_output_name!r} is used by {counts[d.run_output_name]} targets",
                        "runOutputName must be unique across distribute")


def unique_step_names(spec, ctx):
    for section in ("properties.customize", "properties.validate.inVMValidations"):
        steps = [(p, s) for p, s in _steps(spec) if p.startswith(section + "[")]
        counts = Counter(s.name for _, s in steps if s.name)
        for path, step in steps:
            if step.name and counts[step.name] > 1:
                yield Issue(f"{path}.name", f"{step.name!r} is used by {counts[step.name]} steps",
                            "give each step its own name; logs are told apart by it")


def https_uris(spec, ctx):
    if spec.allow_http_uris:
        return
    for path, step in _steps(spec):
        key, uri = ("scriptUri", step.script_uri) if isinstance(step, ScriptStep) else \
            ("sourceUri", step.source_uri) if isinstance(step, FileFields) else ("", None)
        if uri and uri.lower().startswith("http://"):
            yield Issue(f"{path}.{key}", f"{uri!r} is plain http",
                        "use https, or set allowHttpUris: true if you must")
    workload = spec.properties.optimize.workload if spec.properties.optimize else None
    if workload and workload.script_uri and workload.script_uri.lower().startswith("http://"):
        yield Issue("properties.optimize.workload.scriptUri", f"{workload.script_uri!r} is plain http", "use https")


def os_specific_steps(spec, ctx):
    os_type = image_os(spec)
    if os_type is None:
        if any(isinstance(s, WINDOWS_ONLY) for _, s in _steps(spec)) and \
                any(isinstance(s, LINUX_ONLY) for _, s in _steps(spec)):
            yield Issue("osType", "the source does not tell the OS and the steps mix Shell with Windows-only types",
                        "state osType: Linux or osType: Windows")
        return
    stated, inferred = spec.os_type, source_os(spec.properties.source)
    if stated and inferred and stated != inferred:
        yield Issue("osType", f"says {stated}, but the source image is {inferred}", f"set osType: {inferred} or remove it")
    for path, step in _steps(spec):
        if os_type == "Linux" and isinstance(step, WINDOWS_ONLY):
            yield Issue(f"{path}.type", f"{step.type} runs only on Windows, and this image is Linux",
                        "use a Shell step")
        if os_type == "Windows" and isinstance(step, LINUX_ONLY):
            yield Issue(f"{path}.type", "Shell runs only on Linux, and this image is Windows", "use a PowerShell step")
        if os_type == "Linux" and isinstance(step, FileFields) and not (
                step.destination == "/tmp" or step.destination.startswith("/tmp/")):
            yield Issue(f"{path}.destination", f"{step.destination!r} is outside /tmp",
                        "on Linux the File step can only write under /tmp; move it later with a Shell step")


def source_validation_only(spec, ctx):
    validate = spec.properties.validate_
    if validate and validate.source_validation_only and spec.properties.customize:
        yield Issue("properties.validate.sourceValidationOnly",
                    "sourceValidationOnly validates the source as it is, so customize must be empty",
                    "remove customize, or set sourceValidationOnly: false")
    if validate and validate.source_validation_only and spec.deprovision is not None:
        # The override renders as a customizer, which the service then refuses.
        yield Issue("deprovision", "sourceValidationOnly builds nothing, so there is no deprovision step to override",
                    "remove deprovision, or set sourceValidationOnly: false")


def gallery_region_replicated(spec, ctx):
    for i, d in enumerate(spec.properties.distribute):
        if not isinstance(d, SharedImageDistributor):
            continue
        if d.versioning is not None and "/versions/" in d.gallery_image_id.lower():
            yield Issue(f"properties.distribute[{i}].versioning",
                        "versioning applies only when galleryImageId names an image definition, not a version",
                        "drop versioning, or remove /versions/<x.y.z> from galleryImageId")
        gallery = d.gallery_image_id.lower().split("/images/")[0]
        location = ctx.gallery_locations.get(gallery)
        regions = d.regions
        if location and regions and _norm(location) not in {_norm(r) for r in regions}:
            key = "targetRegions" if d.target_regions is not None else "replicationRegions"
            yield Issue(f"properties.distribute[{i}].{key}",
                        f"does not include the gallery's region {location!r} (given: {', '.join(regions)})",
                        f"add {location!r}")


def created_gallery_in_deployment_subscription(spec, ctx):
    """azure-native creates a gallery in its provider's subscription whatever the id says, so a gallery the pipeline
    creates must be named in that subscription (existing galleries elsewhere are fine: roles and the template use
    full ids)."""
    if not ctx.subscription_id:
        return
    for i, d in enumerate(spec.properties.distribute):
        if not isinstance(d, SharedImageDistributor):
            continue
        gallery = d.gallery_image_id.lower().split("/images/")[0]
        subscription = gallery.split("/")[2] if gallery.startswith("/subscriptions/") else ""
        if gallery in ctx.gallery_locations and subscription != ctx.subscription_id.lower():
            yield Issue(f"properties.distribute[{i}].galleryImageId",
                        f"names subscription {subscription!r}, but the deployment creates the gallery in "
                        f"{ctx.subscription_id!r}",
                        "use the deployment's subscription id, or set gallery.create: false for a gallery that exists")


def _norm(region: str) -> str:
    return region.replace(" ", "").lower()


RULES: tuple[Rule, ...] = (
    build_timeout, distribute_not_empty, unique_run_output_names, unique_step_names, https_uris,
    os_specific_steps, source_validation_only, gallery_region_replicated, created_gallery_in_deployment_subscription,
)


def check_rules(spec: ImageTemplateSpec, ctx: RuleContext | None = None) -> list[Issue]:
    ctx = ctx or RuleContext()
    return [issue for rule in RULES for issue in rule(spec, ctx)]
