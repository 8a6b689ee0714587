"""The stack config: what `stacks/Pulumi.<stack>.yaml` holds under the project's namespace.

Each entry of `images` pairs one AIB template (the `template` key, shaped exactly like an AIB
template document) with the pipeline options that are not part of the template: where the gallery
and staging resource group come from, rebuild triggers, a CI runner principal. Stack-wide defaults
(`location`, `resourceGroupName`) are filled into each template before it is validated.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from pydantic import Field, ValidationError, model_validator

from components.model.base import SpecModel
from components.model.distributors import NAME_PATTERN
from components.model.errors import Issue, SpecError, from_validation_error, join_path, rule_error
from components.model.ids import SubnetId, UserAssignedIdentityId
from components.model.local_files import resolve_images
from components.model.lifecycle import LifecycleOptions, lifecycle_issues
from components.model.models import ImageTemplateSpec
from components.model.platform import os_issues
from components.model.rules import RuleContext, check_rules, check_warnings
from components.model.secure import opaque

PROJECT = "aib-images"
"""The project's name in this repository's Pulumi.yaml; a copy renamed there reads its keys under its own name
(`project_name`)."""


def project_name(project_dir: Optional[str | Path]) -> str:
    """The `name` in `<project_dir>/Pulumi.yaml`: Pulumi namespaces a project's config keys by it (`<name>:images`).
    PROJECT when there is no readable Pulumi.yaml."""
    import yaml

    if project_dir is None:
        return PROJECT
    try:
        doc = yaml.safe_load((Path(project_dir) / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return PROJECT
    name = doc.get("name") if isinstance(doc, dict) else None
    return name if isinstance(name, str) and name else PROJECT


class GalleryImageFeature(SpecModel):
    name: str
    value: str


class ImageDefinitionOptions(SpecModel):
    """The gallery image definition the pipeline creates for SharedImage targets."""

    publisher: str = Field(default="golden-images", min_length=1)
    offer: Optional[str] = None
    """Default: the image's name."""
    sku: Optional[str] = None
    """Default: the stack name."""
    os_state: Literal["Generalized", "Specialized"] = "Generalized"
    security_type: Optional[Literal["Standard", "TrustedLaunchSupported", "TrustedLaunch", "ConfidentialVmSupported",
                                    "TrustedLaunchAndConfidentialVmSupported", "ConfidentialVM"]] = None
    """Default: TrustedLaunchSupported for Gen2 images, none for Gen1."""
    features: Optional[list[GalleryImageFeature]] = None
    description: Optional[str] = None


class GalleryOptions(SpecModel):
    """The Azure Compute Gallery and image definition named by the SharedImage target's galleryImageId."""

    create: bool = True
    """Create the gallery and image definition; false uses existing ones by id."""
    location: Optional[str] = None
    """Gallery region. Default: the template's location."""
    retain_on_delete: bool = True
    """Keep the gallery and image definition in Azure when they leave the stack: their image versions belong to
    you, so a routine destroy must not take them. Set false to let destroy delete them."""
    image_definition: ImageDefinitionOptions = Field(default_factory=ImageDefinitionOptions)


class ScriptsNetworkOptions(SpecModel):
    """Who may reach the storage account the pipeline creates for repository files."""

    deny_public: bool = False
    """Deny every network but `subnetIds` and `ipRanges` (trusted Azure services pass). The build VM must then reach
    the account through one of the subnets (a VNet build), and the deployer, who uploads the files, from an allowed
    address."""
    subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Subnets allowed in (each needs the Microsoft.Storage service endpoint)."""
    ip_ranges: list[str] = Field(default_factory=list)
    """Public IP addresses or CIDR ranges allowed in (the deployer's, for the uploads)."""


class ImageConfig(SpecModel):
    template: ImageTemplateSpec
    identity_id: Optional[UserAssignedIdentityId] = None
    """An existing user-assigned identity for the template. Default: the pipeline creates one (unless template.identity is set)."""
    staging: Literal["create", "service"] = "create"
    """create: a dedicated empty staging resource group per template (default); service: the service makes IT_*.
    Ignored when template.properties.stagingResourceGroup names an existing one."""
    gallery: GalleryOptions = Field(default_factory=GalleryOptions)
    rebuild_trigger: Optional[str] = None
    """Change this string (for example a month) to build again without changing the template."""
    source_image_trigger: bool = False
    """Add a SourceImage trigger: the service rebuilds when the platform image gets a new version."""
    build: bool = True
    """Run a build on `pulumi up` and export its artifacts; false only declares the template."""
    build_mode: Literal["wait", "start"] = "wait"
    """wait: `pulumi up` waits for the build and exports its artifacts. start: `pulumi up` starts the build and returns
    while it runs (for builds of hours, e.g. Windows in CI); the next `pulumi up` or `pulumi refresh` collects the
    outcome (artifacts, or the failure; a failed build is started again by the next `pulumi up`)."""
    runner_principal_id: Optional[str] = None
    """Object id of a CI principal that gets the narrow runner role (read, run, cancel, runOutputs/read)."""
    runner_principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    """What `runnerPrincipalId` is, sent as the runner assignment's principalType. Default ServicePrincipal (a CI
    identity; managed identities are service principals). Changing it replaces the assignment."""
    scripts_storage_account_id: Optional[str] = None
    """Storage account holding scripts; the identity gets Storage Blob Data Reader on each container the URIs name.
    Repository files (`script`, `sourceFile`) are uploaded to a container of this account (see scriptsContainer)
    instead of a storage account the pipeline creates."""
    scripts_container: Optional[str] = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    """Blob container for repository files (the pipeline creates it). Default: `scripts` in the storage account the
    pipeline creates, or `aib-<stack>-<image>` (shortened with a hash) in scriptsStorageAccountId."""
    scripts_network: ScriptsNetworkOptions = Field(default_factory=ScriptsNetworkOptions)
    """Network access to the storage account the pipeline creates for repository files. Default: any network (access
    is by Microsoft Entra ID only; shared keys and public blob access are off)."""
    role_propagation_seconds: Optional[float] = Field(default=None, ge=0, le=3600)
    """Seconds to let new role assignments take effect before the template is created (the service checks the
    identity's access then). Default 90; 0 skips the wait (for roles granted long before)."""
    manage_roles: bool = True
    """Declare the identity's role assignments. False when they are granted elsewhere (the deployer then needs no
    User Access Administrator)."""
    allow_vhd_loss_on_delete: bool = False
    """Allow deleting a template whose VHD output lives only in the staging storage account."""
    lifecycle: Optional[LifecycleOptions] = None
    """Gallery image version retention and promotion (`components.providers.lifecycle`). Default: none, nothing in the gallery
    is touched."""

    @model_validator(mode="after")
    def _no_auto_run_with_build(self):
        auto_run = self.template.properties.auto_run
        if self.build and auto_run is not None and auto_run.state == "Enabled":
            # The service would start a run when the template is created, which collides with the tag PATCH and the
            # pipeline's own run (AIB refuses template writes during a run).
            raise rule_error("autoRun Enabled starts a second build beside the one the pipeline runs (build: true)",
                             field="template.properties.autoRun.state",
                             hint="remove autoRun (the pipeline builds), or set build: false to let the service run")
        return self

    @model_validator(mode="after")
    def _trigger_needs_latest(self):
        if self.source_image_trigger:
            source = self.template.properties.source
            version = getattr(source, "version", None) or getattr(source, "image_version_id", "")
            if not str(version).lower().endswith("latest"):
                raise rule_error("a SourceImage trigger needs a source at version 'latest'",
                                 field="sourceImageTrigger", hint="set the source version to latest")
        return self


class StackConfig(SpecModel):
    location: Optional[str] = None
    """Default region of every template."""
    resource_group_name: str = Field(default="rg-golden-images", pattern=r"^[-\w._()]{1,90}$")
    """Resource group the templates and identities live in (created by the stack)."""
    create_resource_group: bool = True
    """Create the resource group named by resourceGroupName; false uses an existing one."""
    images: dict[str, ImageConfig] = Field(min_length=1)
    """Image pipelines by name."""
    adopt_existing: bool = True
    """Import, rather than fail on, what already exists under the names the stack would create: the resource group
    (kept on destroy once adopted), and galleries and image definitions a previous destroy kept. Their settings must
    match (region, OS, identifier), or the run stops naming each difference. False: create, and fail on existing
    ones."""
    # Plain strings with a pattern, not Literal: Pulumi.yaml declares stack-level keys, and a declaration can only
    # type them as string.
    custom_roles: str = Field(default="declare", pattern="^(declare|existing)$")
    """declare: the stack creates its custom role definitions (the deployer needs roleDefinitions/write). existing:
    an admin created them once (`python -m components admin-roles --stack S`, same deterministic GUIDs) and the
    stack only assigns them, so the deployer needs no roleDefinitions/write."""
    deployer_principal_type: str = Field(default="auto", pattern="^(auto|ServicePrincipal|User)$")
    """What the deploying principal is, sent as principalType of its own assignment (Storage Blob Data Contributor
    on the repository-files container). auto (default): ServicePrincipal when azure-native's service-principal settings are
    set (ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_CLIENT_CERTIFICATE_PATH, ARM_USE_OIDC or ARM_USE_MSI), else User (az
    login). Set it when the Azure CLI is signed in as a service principal."""
    name_key: str = ""
    """Secret key of the digest in template and staging-group names (HMAC-SHA256), so the published names do not let
    anyone test guesses of inline commands or SAS URLs offline. Set once per stack with `pulumi config set --secret
    nameKey "$(openssl rand -hex 32)"`; setting or changing it renames (and rebuilds) every template once; a value
    not set as a secret is refused. Default: empty, names carry an unkeyed sha256 of the content."""

    @model_validator(mode="before")
    @classmethod
    def _defaults_into_templates(cls, data: Any):
        if isinstance(data, Mapping) and isinstance(data.get("images"), Mapping):
            location = data.get("location")
            images = {}
            for name, image in data["images"].items():
                if isinstance(image, Mapping) and isinstance(image.get("template"), Mapping):
                    template = dict(image["template"])
                    if location and "location" not in template:
                        template["location"] = location
                    if re.match(NAME_PATTERN, str(name)):
                        # A bad image name is reported once, at images.<name>, not again at template.name.
                        template.setdefault("name", name)
                    image = {**image, "template": template}
                images[name] = image
            data = {**data, "images": images}
        return data


def _image_names(images: Mapping) -> list[Issue]:
    return [Issue(f"images.{name}", f"{name!r} does not match {NAME_PATTERN}",
                  "image names become template names: letters, digits, '-', '_' and '.'")
            for name in images if not re.match(NAME_PATTERN, str(name))]


def gallery_context(stack: StackConfig, subscription_id: Optional[str] = None) -> RuleContext:
    """Regions of the galleries this stack creates (so rules can check replication covers them), and the
    subscription the provider deploys to (galleries it creates must be in it)."""
    locations = {}
    for image in stack.images.values():
        for d in image.template.properties.distribute:
            if d.type == "SharedImage" and image.gallery.create:
                locations[d.gallery_image_id.lower().split("/images/")[0]] = image.gallery.location or image.template.location
    return RuleContext(gallery_locations=locations, subscription_id=subscription_id)


def parse_stack_config(data: Any, *, source: str = "", project_dir: Optional[str | Path] = None,
                       subscription_id: Optional[str] = None) -> StackConfig:
    """Validate the project's config namespace (a mapping of keys without the `aib-images:` prefix).

    With `project_dir` (the folder holding `Pulumi.yaml`), repository files named by `script`/`sourceFile` are checked
    and hashed too (`local_files.resolve_template`), so a missing script is reported with the other problems and the
    returned templates carry each file's sha256Checksum. Without it they are left for the pipeline to resolve.
    `subscription_id`: the deployment's (azure-native provider's) subscription, for the checks that need it.
    """
    if not isinstance(data, Mapping):
        raise SpecError([Issue("", "the stack config must be a mapping")], source)
    # `pulumi config set --secret [--path]` values, as a stack file holds them: opaque placeholders, never decrypted.
    data = opaque(dict(data))
    images = data.get("images")
    name_issues = _image_names(images) if isinstance(images, Mapping) else []
    try:
        stack = StackConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(name_issues + from_validation_error(exc, StackConfig).issues, source) from None
    issues = name_issues
    ctx = gallery_context(stack, subscription_id)
    for name, image in stack.images.items():
        issues += [Issue(join_path(f"images.{name}.template", i.path), i.message, i.hint)
                   for i in check_rules(image.template, ctx)]
        issues += lifecycle_issues(name, image)
        issues += os_issues(name, image.template)
    if project_dir is not None:
        resolved, _, file_issues = resolve_images([(n, i.template) for n, i in stack.images.items()], project_dir)
        issues += file_issues
        stack = stack.model_copy(update={"images": {
            n: i.model_copy(update={"template": resolved.get(n, i.template)}) for n, i in stack.images.items()}})
    if issues:
        raise SpecError(issues, source)
    return stack


def stack_warnings(stack: StackConfig, subscription_id: Optional[str] = None) -> list[Issue]:
    """Every warning rule's issues across the stack's templates, at their config paths (the stack stays valid)."""
    ctx = gallery_context(stack, subscription_id)
    return [Issue(join_path(f"images.{name}.template", i.path), i.message, i.hint)
            for name, image in stack.images.items() for i in check_warnings(image.template, ctx)]


def images_config(project: str, config: Mapping) -> Optional[dict]:
    """A stack's keys in the project's namespace when they declare images (an image-pipeline stack, whatever the
    project is called); None for any other project's stack."""
    keys = config_from_stack_file({"config": config}, project)
    return keys if "images" in keys else None


def config_from_stack_file(doc: Mapping, project: str = PROJECT) -> dict:
    """The project's keys (namespace `project`) from a `Pulumi.<stack>.yaml` document, namespace stripped."""
    config = (doc or {}).get("config") if isinstance(doc, Mapping) else None
    out = {}
    for key, value in (config if isinstance(config, Mapping) else {}).items():
        namespace, _, name = str(key).partition(":")
        if namespace == project and name:
            out[name] = value
    return out
