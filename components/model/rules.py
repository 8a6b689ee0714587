"""Spec-wide pre-flight rules: checks that span sections, run after every section validated.

Each rule is a small function yielding `Issue`s (path, problem, hint), so all of them are reported
together. Checks local to one section (exactly one of scriptUri/inline, proxyVmSize vs
containerInstanceSubnetId...) live on the section's model instead.

A rule is an error only when the service documents it (each cites its source: a doc, the REST spec, or a seed in
`/work/shared/seeds/`) or when it guards a project extension or the pipeline; a rule the service does not have
is a warning (`WARNINGS`, `check_warnings`): reported, never refused.
Seeds cited: 001 and 003 are the template reference ("Create an Azure Image Builder template", 2022),
https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-json.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

import re

from components.model.redact import redact_text
from components.model.customizers import FileFields, LINUX_ONLY, WINDOWS_ONLY, ScriptStep
from components.model.distributors import SharedImageDistributor
from components.model.errors import Issue
from components.model.formats import build_timeout_problem
from components.model.models import ImageTemplateSpec
from components.model.platform import image_os, source_os


@dataclass(frozen=True)
class RuleContext:
    """What the caller knows beyond the template, for example gallery regions the pipeline creates."""

    gallery_locations: Mapping[str, str] = field(default_factory=dict)
    """Gallery resource id (lowercase) -> region, for the galleries the pipeline creates."""
    subscription_id: Optional[str] = None
    """The subscription the deployment's provider works in (None: unknown, the checks that need it are skipped)."""


Rule = Callable[[ImageTemplateSpec, RuleContext], Iterable[Issue]]


CHECKSUM_OPT_OUT_TAG = "aib-images.checksumOptOut."
"""Prefix of the template tags that carry each step's `checksumOptOut` reason (key: prefix + `customize[0]` or
`validate.inVMValidations[0]`, the step's path as the policy pack names it)."""
MAX_TAGS = 50
"""ARM: "Each resource, resource group, and subscription can have a maximum of 50 tag name-value pairs"
(https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations)."""

_FETCH = (r"(?:\bcurl|\bwget|\biwr|\birm|Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer"
          r"|\(?\s*New-Object\s+(?:System\.)?Net\.WebClient\s*\)?\s*\.\s*Download(?:String|Data))")
_RUN = (r"(?:(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k|c|tc)?sh|pwsh|powershell(?:\.exe)?|iex|Invoke-Expression)"
        r"(?![\w.-])")
FETCH_AND_RUN = re.compile(
    rf"{_FETCH}[^\n|;]*\|\s*{_RUN}"                          # curl -fsSL URL | sudo bash;  iwr URL | iex
    rf"|{_RUN}\s+(?:-\S+\s+)*<\(\s*{_FETCH}"                 # bash <(curl -s URL)
    rf"|{_RUN}\s+(?:-\S+\s+)*-c\s+[\"']?\$\(\s*{_FETCH}"     # sh -c "$(wget -qO- URL)"
    rf"|(?:\biex|Invoke-Expression)\s*[( ]\s*[(\s]*{_FETCH}"   # iex (New-Object Net.WebClient).DownloadString(URL)
    rf"|\[scriptblock\]::Create\([(\s]*{_FETCH}",             # & ([scriptblock]::Create((irm URL)))
    re.IGNORECASE)
"""Inline commands that download code and run it in one go, with nothing checking what was downloaded."""


def _steps(spec: ImageTemplateSpec):
    for i, step in enumerate(spec.properties.customize or []):
        yield f"properties.customize[{i}]", step
    validate = spec.properties.validate_
    for i, step in enumerate((validate.in_vm_validations or []) if validate else []):
        yield f"properties.validate.inVMValidations[{i}]", step


def step_tag_path(path: str) -> str:
    """`properties.customize[0]` -> `customize[0]`: a step's path as the policy pack and the tags name it."""
    return path.removeprefix("properties.")


def fetches_and_runs(step) -> bool:
    """Whether a step's inline commands download code and run it unpinned (`curl ... | sh`, `iwr ... | iex`)."""
    return isinstance(step, ScriptStep) and bool(FETCH_AND_RUN.search("\n".join(step.inline or [])))


def _opt_out(step) -> Optional[str]:
    """The step's checksumOptOut reason, if it has one."""
    return step.checksum_opt_out if isinstance(step, (ScriptStep, FileFields)) else None


def unpinned_download(step) -> bool:
    """Whether a step downloads a URL without sha256Checksum."""
    return isinstance(step, (ScriptStep, FileFields)) and bool(step.remote_uri) and not step.sha256_checksum


def checksum_opt_outs(spec: ImageTemplateSpec) -> dict[str, str]:
    """Tag key -> reason for every step with `checksumOptOut` (what render adds to the template's tags)."""
    return {CHECKSUM_OPT_OUT_TAG + step_tag_path(path): reason for path, step in _steps(spec)
            if (reason := _opt_out(step))}


def unpinned_remote_content(spec, ctx):
    """Warning (the policy pack's aib-pinned-downloads refuses it at preview). The service downloads scriptUri and
    sourceUri without a checksum, and runs whatever inline commands fetch; pinning is the project's rule ("every
    remote byte that reaches the image is pinned"), waived per step by checksumOptOut with a reason."""
    for path, step in _steps(spec):
        if _opt_out(step) or not isinstance(step, (ScriptStep, FileFields)):
            continue
        if unpinned_download(step):
            key = "scriptUri" if isinstance(step, ScriptStep) else "sourceUri"
            yield Issue(f"{path}.{key}", f"{redact_text(step.remote_uri or '')!r} is downloaded without "
                        "sha256Checksum", "add sha256Checksum (sha256sum of the file), or state why not with "
                        "checksumOptOut: \"<reason>\"")
        if fetches_and_runs(step):
            yield Issue(f"{path}.inline", "downloads code and runs it unpinned (a pipe or eval of curl, wget, "
                        "Invoke-WebRequest or WebClient output)", "download to a file and check its SHA-256 before "
                        "running it (or use scriptUri with sha256Checksum), or state why not with checksumOptOut")


def opt_out_without_effect(spec, ctx):
    """Warning. checksumOptOut waives pinning; on a step that is pinned or fetches nothing it waives nothing."""
    for path, step in _steps(spec):
        if _opt_out(step) and not (unpinned_download(step) or fetches_and_runs(step)):
            yield Issue(f"{path}.checksumOptOut", "the step has no unpinned remote content to opt out for",
                        "remove checksumOptOut")


def opt_out_tags_fit(spec, ctx):
    """Error. Each checksumOptOut becomes a template tag, and ARM allows at most 50 tags on a resource (MAX_TAGS)."""
    count = len({**(spec.tags or {}), **checksum_opt_outs(spec)})
    if count > MAX_TAGS:
        yield Issue("tags", f"the template would carry {count} tags (its own plus one per checksumOptOut), more than "
                    f"the {MAX_TAGS} ARM allows", "pin some steps with sha256Checksum, or drop tags")


def build_timeout(spec, ctx):
    """Error. "Using values 1 through 5 will fail" (seed 003, line 304)."""
    problem = build_timeout_problem(spec.properties.build_timeout_in_minutes)
    if problem:
        yield Issue("properties.buildTimeoutInMinutes", problem,
                    "builds under 6 minutes fail at the service (its token must live 5 minutes); 0 means 240")


def distribute_not_empty(spec, ctx):
    """Warning. The spec requires `distribute` but sets no minimum; an empty list builds and publishes nothing."""
    if not spec.properties.distribute:
        yield Issue("properties.distribute", "no distribution target: the build publishes nothing",
                    "add a SharedImage, ManagedImage or VHD entry")


def unique_run_output_names(spec, ctx):
    """Error. "runOutputName - unique name for identifying the distribution" (seed 003, lines 752, 793, 828)."""
    counts = Counter(d.run_output_name for d in spec.properties.distribute)
    for i, d in enumerate(spec.properties.distribute):
        if counts[d.run_output_name] > 1:
            yield Issue(f"properties.distribute[{i}].runOutputName",
                        f"{d.run_output_name!r} is used by {counts[d.run_output_name]} targets",
                        "runOutputName must be unique across distribute")


def unique_step_names(spec, ctx):
    """Warning. Nothing in the spec or the docs asks for unique step names, and every official Windows Create example
    (2021-10-01 .. 2025-10-01) repeats one; a repeated name only makes the build log harder to read."""
    for section in ("properties.customize", "properties.validate.inVMValidations"):
        steps = [(p, s) for p, s in _steps(spec) if p.startswith(section + "[")]
        counts = Counter(s.name for _, s in steps if s.name)
        for path, step in steps:
            if step.name and counts[step.name] > 1:
                yield Issue(f"{path}.name", f"{step.name!r} is used by {counts[step.name]} steps",
                            "give each step its own name; logs are told apart by it")


def checksum_without_uri(spec, ctx):
    """Warning. sha256Checksum is the checksum "of the ... script provided in the scriptUri field" (imagebuilder.json);
    beside inline commands the service has nothing to check it against."""
    for path, step in _steps(spec):
        if isinstance(step, ScriptStep) and step.sha256_checksum and step.script_uri is None and step.script is None:
            yield Issue(f"{path}.sha256Checksum", "applies only to 'scriptUri' or 'script', and neither is set",
                        "remove it, or set scriptUri")


def empty_target_regions(spec, ctx):
    """Warning. The spec sets no minimum on targetRegions; an empty list replicates nowhere."""
    for i, d in enumerate(spec.properties.distribute):
        if isinstance(d, SharedImageDistributor) and d.target_regions is not None and not d.target_regions:
            yield Issue(f"properties.distribute[{i}].targetRegions", "'targetRegions' is empty",
                        "list at least the gallery's region")


def proxy_without_subnet(spec, ctx):
    """Warning. proxyVmSize sizes the proxy VM of a build in an existing VNet; without subnetId there is none."""
    vnet = spec.properties.vm_profile.vnet_config if spec.properties.vm_profile else None
    if vnet is not None and vnet.proxy_vm_size and not vnet.subnet_id:
        yield Issue("properties.vmProfile.vnetConfig.proxyVmSize", "has no effect without 'subnetId'",
                    "add the build VM's subnetId, or drop proxyVmSize")


def https_uris(spec, ctx):
    """Warning (the policy pack refuses it at preview). The service downloads http URLs as well; plain http is a
    project security rule, silenced by allowHttpUris."""
    if spec.allow_http_uris:
        return
    for path, step in _steps(spec):
        key, uri = ("scriptUri", step.script_uri) if isinstance(step, ScriptStep) else \
            ("sourceUri", step.source_uri) if isinstance(step, FileFields) else ("", None)
        if uri and uri.lower().startswith("http://"):
            yield Issue(f"{path}.{key}", f"{redact_text(uri)!r} is plain http",
                        "use https, or set allowHttpUris: true if you must")
    workload = spec.properties.optimize.workload if spec.properties.optimize else None
    if workload and workload.script_uri and workload.script_uri.lower().startswith("http://"):
        yield Issue("properties.optimize.workload.scriptUri", f"{workload.script_uri!r} is plain http", "use https")


def os_specific_steps(spec, ctx):
    """Error. Shell: "OS Support: Linux"; PowerShell, WindowsRestart, WindowsUpdate: "OS support: Windows"
    (seed 001, lines 383, 433, 466, 533); File on Linux: "the only path Image builder can write to is /tmp"
    (seed 003, line 494). `osType` is a project extension that decides the gallery image definition's OS, so a
    stated osType that contradicts the source is an error too."""
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
    """Warning. With sourceValidationOnly "No separate build will be run to generate and then validate a customized
    image" (seed 003, line 585): customizers (and the deprovision override, rendered as one) would never run."""
    validate = spec.properties.validate_
    if validate and validate.source_validation_only and spec.properties.customize:
        yield Issue("properties.validate.sourceValidationOnly",
                    "sourceValidationOnly validates the source as it is, so customize is never run",
                    "remove customize, or set sourceValidationOnly: false")
    if validate and validate.source_validation_only and spec.deprovision is not None:
        yield Issue("deprovision", "sourceValidationOnly builds nothing, so there is no deprovision step to override",
                    "remove deprovision, or set sourceValidationOnly: false")


def versioning_with_explicit_version(spec, ctx):
    """Warning. versioning picks the next version number, so it has nothing to do when galleryImageId names one."""
    for i, d in enumerate(spec.properties.distribute):
        if isinstance(d, SharedImageDistributor) and d.versioning is not None \
                and "/versions/" in d.gallery_image_id.lower():
            yield Issue(f"properties.distribute[{i}].versioning",
                        "versioning applies only when galleryImageId names an image definition, not a version",
                        "drop versioning, or remove /versions/<x.y.z> from galleryImageId")


def gallery_region_replicated(spec, ctx):
    """Error. "One of the regions must be the region where the Gallery is deployed" (seed 003, line 797)."""
    for i, d in enumerate(spec.properties.distribute):
        if not isinstance(d, SharedImageDistributor):
            continue
        gallery = d.gallery_image_id.lower().split("/images/")[0]
        location = ctx.gallery_locations.get(gallery)
        regions = d.regions
        if location and regions and _norm(location) not in {_norm(r) for r in regions}:
            key = "targetRegions" if d.target_regions is not None else "replicationRegions"
            yield Issue(f"properties.distribute[{i}].{key}",
                        f"does not include the gallery's region {location!r} (given: {', '.join(regions)})",
                        f"add {location!r}")


def created_gallery_in_deployment_subscription(spec, ctx):
    """Error (pipeline rule, only for galleries the pipeline creates). azure-native creates a gallery in its provider's
    subscription whatever the id says, so a gallery the pipeline creates must be named in that subscription
    (existing galleries elsewhere are fine: roles and the template use full ids)."""
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
    build_timeout, unique_run_output_names, os_specific_steps, gallery_region_replicated,
    created_gallery_in_deployment_subscription, opt_out_tags_fit,
)
"""Errors: the template is refused."""
WARNINGS: tuple[Rule, ...] = (
    distribute_not_empty, unique_step_names, checksum_without_uri, empty_target_regions, proxy_without_subnet,
    https_uris, source_validation_only, versioning_with_explicit_version, unpinned_remote_content,
    opt_out_without_effect,
)
"""Warnings: reported by `validate` (exit 0), never refused; the service accepts these templates."""


def check_rules(spec: ImageTemplateSpec, ctx: RuleContext | None = None) -> list[Issue]:
    """Every error rule's issues (the template is invalid when there is any)."""
    return _run(RULES, spec, ctx)


def check_warnings(spec: ImageTemplateSpec, ctx: RuleContext | None = None) -> list[Issue]:
    """Every warning rule's issues (the template stays valid)."""
    return _run(WARNINGS, spec, ctx)


def _run(rules: tuple[Rule, ...], spec: ImageTemplateSpec, ctx: RuleContext | None) -> list[Issue]:
    ctx = ctx or RuleContext()
    return [issue for rule in rules for issue in rule(spec, ctx)]
