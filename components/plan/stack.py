"""The stack plan: every logical name, Azure name, grant and rendered document of a stack, decided once.

`plan_stack` reads the whole validated `StackConfig` (plus the provider's subscription, the stack's secret `nameKey`
and the sign-in settings the caller passes: this layer reads no environment) and returns plain frozen dataclasses;
the stack program (`__main__.py`) and `ImagePipeline` only declare what it says: every logical and Azure name, grant
scope, build and lifecycle input, warning. A pipeline used alone is planned by `plan_pipeline`, the same planner on a
one-image stack. `StackPlan.logical_names` lists every name the stack registers from its plan. No Pulumi here, so every naming rule is tested table-style (`tests/unit/test_plan.py`).

The rules, and why (the real engine creates a new URN before deleting an old one, and azure-native refuses to create
a resource whose Azure id already exists):
- A logical name says *what* a resource is, never where it sits in a list: per-scope grants carry a short hash of
  their scope (`ubuntu-2204-subnet-join-1a2b3c4d`), galleries and image definitions a short hash of their Azure id.
- Galleries and image definitions are declared once per stack, at the top level, whatever image names them first, so
  adding, removing or reordering images never moves them.
- A built-in role of an existing identity (`identityId`) on a scope no pipeline creates is declared once per stack,
  deduplicated by principal, role and scope: two images on one identity give one assignment (Azure refuses a second
  one for the same triple anyway).
- What belongs to one template content (the staging group, the template, its tags, trigger and build) carries the
  template's revision in its logical name (`ubuntu-2204-1a2b3c4d5e-template`): a change is a new resource beside the
  old one, deleted after, and a revert to content whose resources still wait for deletion (after a failed build)
  finds them in state instead of creating a second resource under the same Azure name.
- Wherever this naming differs from the one of earlier versions, the plan carries the old name (`OldName`) and the
  declaring code adds an alias, so existing stacks keep their resources.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Optional, Sequence

from components.plan import naming
from components.arm.render import render_template, template_hash
from components.plan.roles import (
    PRINCIPAL_TYPE, Grant, deployer_principal_type, grant_repository_files_reader, grant_script_uploader,
    grant_template_runner, number_keys, step_uris, template_identity_grants)
from components.model.distributors import SharedImageDistributor, VhdDistributor
from components.model.errors import Issue, SpecError
from components.model.lifecycle import lifecycle_issues
from components.model.local_files import has_local_files, local_steps
from components.model.platform import image_generation, image_os, os_issues
from components.model.stack import ImageConfig, StackConfig

RESOURCE_GROUP = "resource-group"
CREATED_BY_TAG = "aib-images-stack"
"""Tag of the resource group a stack creates, naming the stack (`<project>/<stack>`): a later run's lookup finds that
group too, and the tag tells it from one that existed before the stack (adopted, and kept on destroy)."""
GALLERY_DESCRIPTION = "Golden images built by Azure VM Image Builder"
PIPELINE_TYPE = "aib:index:ImagePipeline"
REVISION_KINDS = ("staging", "template", "tags", "trigger", "run", "build")
"""What a pipeline declares per template content (see `ImagePlan.revision_name`)."""
TRIGGER_NAME = "source-image"
"""The Azure name of a template's SourceImage trigger."""


@dataclasses.dataclass(frozen=True)
class OldName:
    """The logical name earlier versions gave a resource, for an alias that keeps its state."""

    name: str
    parent: Optional[str] = None
    """The `ImagePipeline` it was a child of, when that differs from its parent now (None: the same parent)."""


@dataclasses.dataclass(frozen=True)
class ResourceGroupPlan:
    logical_name: str
    name: str
    id: str
    location: Optional[str]
    retain_on_delete: bool
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """What the stack tags the group with when it creates it (`CREATED_BY_TAG`)."""


@dataclasses.dataclass(frozen=True)
class GalleryPlan:
    logical_name: str
    id: str
    resource_group: str
    name: str
    location: str
    tags: Mapping[str, str]
    retain_on_delete: bool
    image: str
    """The image (config key) whose settings it takes: the first that names it."""
    old_name: Optional[OldName] = None


@dataclasses.dataclass(frozen=True)
class ImageDefinitionPlan:
    logical_name: str
    id: str
    gallery_id: str
    resource_group: str
    gallery_name: str
    name: str
    location: str
    os_type: str
    os_state: str
    hyper_v_generation: str
    publisher: str
    offer: str
    sku: str
    features: tuple[tuple[str, str], ...]
    description: Optional[str]
    tags: Mapping[str, str]
    retain_on_delete: bool
    image: str
    """The image (config key) whose `gallery.imageDefinition` settings it takes: the first that names it."""
    old_name: Optional[OldName] = None
    gallery: Optional[str] = None
    """Logical name of the gallery (in the same `SharedPlan`) it is created in, after."""


@dataclasses.dataclass(frozen=True)
class RoleDefinitionPlan:
    """One custom role: what the stack declares (`customRoles: declare`) or an admin creates (`admin-roles`), with
    the same GUID either way."""

    logical_name: str
    guid: str
    grant: Grant
    owner: str
    old_name: Optional[OldName] = None

    @property
    def role_name(self) -> str:
        # Custom role names must be unique in the tenant; the GUID prefix keeps two pipelines apart.
        return f"AIB {self.grant.role} ({self.guid[:8]})"

    @property
    def description(self) -> str:
        return f"Azure VM Image Builder: {self.grant.reason}. Managed by Pulumi ({self.owner})."

    @property
    def role_definition_id(self) -> str:
        """The subscription-qualified id its assignments reference."""
        return self.grant.role_definition_id(self.owner)

    @property
    def resource_id(self) -> str:
        """Where the definition is written (a PUT at its assignable scope)."""
        return f"{self.grant.assignable_scope}/providers/Microsoft.Authorization/roleDefinitions/{self.guid}"


@dataclasses.dataclass(frozen=True)
class GrantPlan:
    """One role assignment: `grant` for a principal (`principal` names which one, see `ImagePlan`)."""

    logical_name: str
    grant: Grant
    owner: str
    principal: str
    """'identity' (the image's template identity), 'runner', or an existing identity's id (stack-level grants)."""
    definition: Optional[str] = None
    """Logical name of the custom role definition it assigns (None for built-in roles)."""
    old_name: Optional[OldName] = None
    principal_type: str = PRINCIPAL_TYPE
    """What the principal is (ServicePrincipal for identities; the runner's is configured)."""
    scope_resource: Optional[str] = None
    """Logical name of the planned resource its scope is (the staging group, the scripts container, an image
    definition the stack creates): the assignment is declared after it. None: a scope nothing here creates."""
    principal_identity: Optional[str] = None
    """Stack-level grants: logical name of the `IdentityPlan` (in `SharedPlan.identities`) whose principal it is."""

    @property
    def principal_type_may_change(self) -> bool:
        """Only the runner's type is configured: a change keeps principal, role and scope, and Azure holds one
        assignment per such triple, so the old one must go before the new one is created."""
        return self.principal == "runner"

    @property
    def role_definition_id(self) -> str:
        return self.grant.role_definition_id(self.owner)

    def assignment_name(self, principal_id: str) -> str:
        return self.grant.assignment_name(self.owner, principal_id)


@dataclasses.dataclass(frozen=True)
class ScriptStorage:
    """Where one image's repository files live (all known before anything is created)."""

    subscription_id: str
    resource_group: str
    account_name: str
    container_name: str
    created: bool
    """True when the pipeline creates the storage account (no scriptsStorageAccountId)."""
    deployer_principal_type: str = PRINCIPAL_TYPE
    """principalType of the deployer's upload role on the container (`roles.deployer_principal_type`)."""
    pipeline: str = ""
    """Logical name of the pipeline whose children these resources are (the base of their logical names)."""
    files: tuple[str, ...] = ()
    """Project paths of the repository files its template names (one blob each, `file_logical_name`)."""
    manage_roles: bool = True
    """Declare the deployer's upload role on the container (`manageRoles`)."""
    deny_public: bool = False
    """`scriptsNetwork.denyPublic` of a created account: only `subnet_ids` and `ip_ranges` reach it."""
    subnet_ids: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()

    @property
    def account_logical_name(self) -> str:
        return f"{self.pipeline}-scripts"

    @property
    def blob_service_logical_name(self) -> str:
        return f"{self.pipeline}-scripts-blob-service"

    @property
    def container_logical_name(self) -> str:
        return f"{self.pipeline}-scripts-container"

    @property
    def uploader(self) -> Grant:
        """The deployer's Storage Blob Data Contributor on the container (uploads use Entra ID, not keys)."""
        return grant_script_uploader(self.container_id)

    @property
    def uploader_logical_name(self) -> str:
        return f"{self.pipeline}-{self.uploader.key}"

    def file_logical_name(self, path: str) -> str:
        """The blob of one repository file, named by its path (an edited file is a replacement of the same name)."""
        return f"{self.pipeline}-file-{re.sub(r'[^A-Za-z0-9]+', '-', path).strip('-')}"

    def logical_names(self) -> list[str]:
        """What `declare_script_storage` registers."""
        own = [self.account_logical_name, self.blob_service_logical_name] if self.created else []
        return [*own, self.container_logical_name, *([self.uploader_logical_name] if self.manage_roles else []),
                *(self.file_logical_name(f) for f in self.files)]

    @property
    def account_id(self) -> str:
        return naming.storage_account_id(self.subscription_id, self.resource_group, self.account_name)

    @property
    def container_id(self) -> str:
        return naming.blob_container_id(self.account_id, self.container_name)

    @property
    def url(self) -> str:
        """The container URL the rendered template's scriptUri/sourceUri start with."""
        return f"{naming.blob_endpoint(self.account_name)}/{self.container_name}"


@dataclasses.dataclass(frozen=True)
class IdentityPlan:
    id: str
    existing: bool
    name: str
    resource_group: str
    subscription_id: str
    logical_name: str
    provider_name: Optional[str] = None
    """Logical name of the azure-native provider an existing identity in another subscription is looked up through
    (None: the deployment's own subscription)."""


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """The build of one template (`build_run.BuildArgs` without what only the engine knows: the template's output
    name and the ARM endpoint)."""

    start_name: str
    wait_name: str
    old_names: tuple[str, str]
    """The names versions before 0.4 gave the start and the wait (aliases)."""
    subscription_id: str
    resource_group_name: str
    image_template_name: str
    api_version: str
    build_timeout_minutes: float
    rebuild_trigger: Optional[str]
    run_output_names: tuple[str, ...]
    """Every runOutputName: each must exist after the build."""
    vhd_run_outputs: tuple[str, ...]
    """VHD outputs without a uri (kept only in the staging storage account): the build's delete refuses to lose them
    unless `allow_vhd_loss_on_delete`."""
    allow_vhd_loss_on_delete: bool
    build_mode: str
    """wait or start: whether `up` waits for the build."""
    on_customizer_error: Optional[str]
    on_validation_error: Optional[str]


@dataclasses.dataclass(frozen=True)
class LifecyclePlan:
    """The lifecycle run of the image's first SharedImage target (`providers.lifecycle.LifecycleArgs` without the
    build's outputs and the ARM endpoint)."""

    logical_name: str
    image_definition_id: str
    retention: Optional[Mapping[str, Any]]
    promotion_mode: Optional[str]
    promote_version_id: Optional[str]
    """The configured version to promote under `promotion.mode: manual` (a caller may pass another stack's output
    instead); None otherwise."""
    validated: bool
    """Whether the template has in-VM validations (the build then fails when one does)."""
    dry_run: bool

    @property
    def manual(self) -> bool:
        return self.promotion_mode == "manual"


@dataclasses.dataclass(frozen=True)
class PromotionSource:
    """The image version another stack exports, promoted here under `lifecycle.promotion.mode: manual`."""

    stack: str
    """`fromStack`: `org/project/stack`."""
    output: str
    """`fromOutput`, dotted: its first part is the stack output, the rest keys inside it (default
    `<image>.imageVersionId`, what the stack program exports)."""

    @property
    def reference_name(self) -> str:
        """Logical name of the `StackReference` that reads it (one per stack, shared by the images reading it)."""
        return f"promote-from-{self.stack.replace('/', '-')}"


@dataclasses.dataclass(frozen=True)
class ImagePlan:
    """Everything one `ImagePipeline` declares under its own name."""

    name: str
    """The component's logical name; its children are `<name>-<what>`."""
    image_name: str
    """The base of the image's Azure names (`<image_name>-<hash>`)."""
    owner: str
    subscription_id: str
    resource_group: str
    identity: IdentityPlan
    scripts: Optional[ScriptStorage]
    staging_group: Optional[str]
    """Name of the staging resource group the pipeline creates (None: an existing one, or the service's)."""
    staging_id: Optional[str]
    """The staging group the template uses and the identity is Contributor on (None: the service's IT_* group)."""
    content_digest: str
    """The digest in the template and staging names (keyed with the stack's nameKey when set)."""
    template_name: str
    template_id: str
    document: Mapping
    """The AIB JSON the service receives (inline commands in clear: treat as secret)."""
    role_definitions: tuple[RoleDefinitionPlan, ...]
    """Every custom role its grants assign (declared by the pipeline only with `customRoles: declare`)."""
    grants: tuple[GrantPlan, ...]
    """The template identity's grants this pipeline declares (stack-level ones are in `shared_grants`)."""
    shared_grants: tuple[str, ...]
    """Logical names of the stack-level grants the template needs before it is created."""
    runner_grant: Optional[GrantPlan]
    definition_ids: tuple[str, ...]
    """Gallery image definitions of its SharedImage targets, in config order (the first one is the image's output)."""
    custom_roles: str = "declare"
    """`customRoles` of the stack: `existing` when an admin created the custom roles."""
    location: str = ""
    """Region of what the pipeline creates (the template's)."""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Tags of what it creates besides the template (default: the template's tags)."""
    role_propagation_seconds: Optional[float] = None
    source_image_trigger: bool = False
    """Declare the SourceImage trigger (`revision_name("trigger")`, Azure name `TRIGGER_NAME`)."""
    runner_principal_id: Optional[str] = None
    """The principal `runner_grant` is for."""
    build: Optional[BuildPlan] = None
    lifecycle: Optional[LifecyclePlan] = None
    definition_names: tuple[str, ...] = ()
    """Logical names of the image definitions the plan creates (`SharedPlan`) among `definition_ids`: the pipeline
    and its lifecycle come after them."""
    output_definition: Optional[str] = None
    """Logical name of the created definition of `definition_ids[0]` (None: not created here)."""
    gallery_id: Optional[str] = None
    """The gallery of `definition_ids[0]`."""
    warnings: tuple[str, ...] = ()
    """What the pipeline logs as warnings (a plan is never refused for them)."""
    promotion_source: Optional[PromotionSource] = None
    """Where the version to promote comes from, when another stack exports it (`promotion.fromStack`)."""

    @property
    def definitions_settle_name(self) -> str:
        return f"{self.name}-role-definitions-settle"

    @property
    def roles_settle_name(self) -> str:
        return f"{self.name}-roles-settle"

    def logical_names(self) -> list[tuple[str, str]]:
        """(kind, logical name) of everything this pipeline declares as its own children (not `SharedPlan`'s)."""
        out = [(kind, self.revision_name(kind)) for kind in REVISION_KINDS]
        if not self.identity.existing:
            out.append(("identity", self.identity.logical_name))
        if self.identity.provider_name:
            out.append(("provider", self.identity.provider_name))
        if self.scripts is not None:
            out += [("scripts", n) for n in self.scripts.logical_names()]
        out += [("role-definition", d.logical_name) for d in self.declared_role_definitions]
        out += [("role-assignment", g.logical_name) for g in
                (*self.grants, *([self.runner_grant] if self.runner_grant else []))]
        out += [("role-settle", self.definitions_settle_name), ("role-settle", self.roles_settle_name)]
        if self.lifecycle is not None:
            out.append(("lifecycle", self.lifecycle.logical_name))
        return out

    @property
    def revision(self) -> str:
        """The template content's short digest: the same in the template's Azure name and in its resources' names."""
        return self.content_digest[:naming.HASH_CHARS]

    def revision_name(self, kind: str) -> str:
        """The logical name of this revision's `kind` (one of `REVISION_KINDS`)."""
        assert kind in REVISION_KINDS, kind
        return f"{self.name}-{self.revision}-{kind}"

    def revision_alias(self, kind: str) -> OldName:
        """The name versions before 0.4 gave `kind`, one per pipeline whatever the content."""
        return OldName(f"{self.name}-{kind}")

    @property
    def declared_role_definitions(self) -> tuple[RoleDefinitionPlan, ...]:
        """The custom roles the pipeline declares: none when an admin created them (`customRoles: existing`)."""
        return self.role_definitions if self.custom_roles == "declare" else ()


@dataclasses.dataclass(frozen=True)
class SharedPlan:
    """What several images may share, declared once: galleries, image definitions, existing identities' roles."""

    galleries: tuple[GalleryPlan, ...]
    image_definitions: tuple[ImageDefinitionPlan, ...]
    grants: tuple[GrantPlan, ...]
    identities: tuple[IdentityPlan, ...] = ()
    """The existing identities whose principals `grants` are for, each looked up once (`GrantPlan.principal_identity`)."""

    def adoptable(self) -> tuple["GalleryPlan | ImageDefinitionPlan", ...]:
        """What an adopting stack (`adoptExisting`) looks up before declaring it: the galleries, then the image
        definitions."""
        return (*self.galleries, *self.image_definitions)

    def logical_names(self) -> list[tuple[str, str]]:
        out = [("gallery", g.logical_name) for g in self.galleries]
        out += [("image-definition", d.logical_name) for d in self.image_definitions]
        out += [("role-assignment", g.logical_name) for g in self.grants]
        out += [("provider", i.provider_name) for i in self.identities if i.provider_name]
        return out


@dataclasses.dataclass(frozen=True)
class StackPlan:
    resource_group: Optional[ResourceGroupPlan]
    images: Mapping[str, ImagePlan]
    shared: SharedPlan

    def adoptable(self) -> tuple["ResourceGroupPlan | GalleryPlan | ImageDefinitionPlan", ...]:
        """What an adopting stack (`adoptExisting`) looks up before declaring it, in this order: the resource group
        it creates, then what the images share (`SharedPlan.adoptable`)."""
        return (*([self.resource_group] if self.resource_group else []), *self.shared.adoptable())

    def logical_names(self) -> list[tuple[str, str]]:
        """(kind, logical name) of everything the plan names, for uniqueness checks."""
        out = [("resource-group", self.resource_group.logical_name)] if self.resource_group else []
        out += self.shared.logical_names()
        for image in self.images.values():
            out += image.logical_names()
        sources = {i.promotion_source.stack: i.promotion_source for i in self.images.values() if i.promotion_source}
        out += [("stack-reference", s.reference_name) for s in sources.values()]
        return out


# ---- the whole stack --------------------------------------------------------------------------------------------

def plan_stack(stack: StackConfig, *, subscription_id: str, project: str, stack_name: str,
               name_key: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> StackPlan:
    """The plan of a whole stack: its resource group, one `ImagePlan` per image and what they share. `env`: the
    settings azure-native signs in with (the caller passes `os.environ`; None: none), which tell what the deployer is."""
    rg = None
    if stack.create_resource_group:
        first = next(iter(stack.images.values()))
        rg = ResourceGroupPlan(RESOURCE_GROUP, stack.resource_group_name,
                               naming.resource_group_id(subscription_id, stack.resource_group_name),
                               stack.location or first.template.location,
                               retain_on_delete=retains_gallery_in(stack.images, stack.resource_group_name),
                               tags={CREATED_BY_TAG: f"{project}/{stack_name}"})
    images, shared = plan_pipelines(stack.images, subscription_id=subscription_id,
                                    resource_group=stack.resource_group_name, project=project, stack_name=stack_name,
                                    name_key=name_key, custom_roles=stack.custom_roles,
                                    deployer_type=deployer_principal_type(stack.deployer_principal_type, env or {}))
    return StackPlan(rg, images, shared)


def stack_warnings(stack: StackConfig, *, images_secret: bool) -> list[str]:
    """What the stack program warns about before declaring (`images_secret`: `images` was set as secret config)."""
    if not stack.name_key and (images_secret or any(_has_inline(image) for image in stack.images.values())):
        return ["template names carry an unkeyed digest of secret content (inline commands, secret config): set a key "
                "with `pulumi config set --secret nameKey \"$(openssl rand -hex 32)\"` (renames every template once)"]
    return []


def _has_inline(image: ImageConfig) -> bool:
    props = image.template.properties
    steps = [*(props.customize or []), *((props.validate_.in_vm_validations or []) if props.validate_ else [])]
    return any(getattr(step, "inline", None) for step in steps)


def pipeline_image_name(name: str, image: ImageConfig, image_name: Optional[str] = None) -> str:
    """The base of a pipeline's Azure names: `image_name` when given, else `template.name`, else its logical name."""
    return image_name or image.template.name or name


def plan_pipeline(name: str, image: ImageConfig, *, subscription_id: str, resource_group: str, project: str,
                  stack_name: str, image_name: Optional[str] = None, name_key: Optional[str] = None,
                  retain_gallery_on_delete: Optional[bool] = None, tags: Optional[Mapping[str, str]] = None,
                  env: Optional[Mapping[str, str]] = None) -> tuple[ImagePlan, SharedPlan]:
    """The plan of one pipeline used without a stack: `plan_pipelines` of a one-image stack whose shared resources
    (galleries, image definitions, existing identities' roles) are the pipeline's own children (`<name>-...`).

    Checks first what a stack checks when it parses its config (the OS of a gallery image, the lifecycle section), since
    an `ImageConfig` built in code skipped that. `retain_gallery_on_delete`: overrides `gallery.retainOnDelete`.
    `tags`: of what it creates besides the template (default: the template's). `env`: as for `plan_stack`."""
    image_name = pipeline_image_name(name, image, image_name)
    issues = [*os_issues(image_name, image.template), *lifecycle_issues(image_name, image)]
    if issues:
        raise SpecError(issues)
    if retain_gallery_on_delete is not None:
        image = image.model_copy(update={"gallery": image.gallery.model_copy(
            update={"retain_on_delete": retain_gallery_on_delete})})
    plans, shared = plan_pipelines(
        {name: image}, subscription_id=subscription_id, resource_group=resource_group, project=project,
        stack_name=stack_name, name_key=name_key, image_names={name: image_name}, shared_prefix=f"{name}-",
        deployer_type=deployer_principal_type(None, env or {}))
    plan = plans[name]
    return (plan if tags is None else dataclasses.replace(plan, tags=dict(tags))), shared


def plan_pipelines(images: Mapping[str, ImageConfig], *, subscription_id: str, resource_group: str, project: str,
                   stack_name: str, name_key: Optional[str] = None, image_names: Optional[Mapping[str, str]] = None,
                   shared_prefix: str = "", custom_roles: str = "declare",
                   deployer_type: str = PRINCIPAL_TYPE) -> tuple[dict[str, ImagePlan], SharedPlan]:
    """Plans of pipelines named by the keys of `images`, and what they share.

    `image_names`: Azure name base per pipeline (default: its key). `shared_prefix`: prefix of the shared resources'
    logical names; "" at stack level, `<pipeline>-` when one `ImagePipeline` declares them as its own children.
    `custom_roles`: the stack's `customRoles`. `deployer_type`: the deployer's principalType
    (`roles.deployer_principal_type`).
    """
    names = dict(image_names or {})
    stack_level = not shared_prefix
    plans = {key: plan_image(key, image, image_name=names.get(key, key), subscription_id=subscription_id,
                             resource_group=resource_group, project=project, stack_name=stack_name,
                             name_key=name_key, custom_roles=custom_roles, deployer_type=deployer_type)
             for key, image in images.items()}
    shared_grants = _shared_grants(images, plans, shared_prefix, stack_level)
    by_image = _shared_names_by_image(shared_grants, images, plans)
    galleries, definitions = _galleries(images, names, shared_prefix, stack_level, stack_name)
    created = {d.id.lower(): d.logical_name for d in definitions}
    plans = {key: _with_created_definitions(dataclasses.replace(
                 p, grants=tuple(g for g in p.grants if g.logical_name not in by_image.skip),
                 shared_grants=tuple(by_image.names.get(key, ()))), created)
             for key, p in plans.items()}
    identities = _shared_identities(shared_grants, subscription_id, shared_prefix)
    shared_grants = tuple(dataclasses.replace(g, principal_identity=identities[g.principal.lower()].logical_name)
                          for g in shared_grants)
    return plans, SharedPlan(galleries, definitions, shared_grants,
                             tuple({i.logical_name: i for i in identities.values()}.values()))


def _with_created_definitions(plan: ImagePlan, created: Mapping[str, str]) -> ImagePlan:
    """`plan` with the image definitions the plan creates among its targets: their logical names, and the grants
    whose scope is one of them (declared after it)."""
    own = {i.lower(): created[i.lower()] for i in plan.definition_ids if i.lower() in created}
    first = own.get(plan.definition_ids[0].lower()) if plan.definition_ids else None
    grants = tuple(g if g.scope_resource or g.grant.scope.lower() not in own else
                   dataclasses.replace(g, scope_resource=own[g.grant.scope.lower()]) for g in plan.grants)
    names = tuple(own.values())
    return dataclasses.replace(plan, definition_names=names, output_definition=first, grants=grants)


def _shared_identities(grants: Sequence[GrantPlan], subscription_id: str, prefix: str) -> dict[str, IdentityPlan]:
    """The existing identity of each principal (by lowercase id) of the stack-level grants, named after the first
    grant for it."""
    out: dict[str, IdentityPlan] = {}
    for g in grants:
        if g.principal.lower() not in out:
            out[g.principal.lower()] = _existing_identity(g.principal, f"identity-{g.logical_name}", subscription_id)
    return out


def retains_gallery_in(images: Mapping[str, ImageConfig], resource_group: str) -> bool:
    """Whether a kept (retain-on-delete) gallery lives in `resource_group`: deleting the group would take the gallery
    and its image versions with it, so the group must be kept too."""
    return any(naming.parts(d.gallery_image_id)["resource_group"].lower() == resource_group.lower()
               for image in images.values() if image.gallery.create and image.gallery.retain_on_delete
               for d in shared_image_targets(image))


def shared_image_targets(image: ImageConfig) -> list[SharedImageDistributor]:
    return [d for d in image.template.properties.distribute if isinstance(d, SharedImageDistributor)]


# ---- one image ---------------------------------------------------------------------------------------------------

def plan_image(name: str, image: ImageConfig, *, image_name: str, subscription_id: str, resource_group: str,
               project: str, stack_name: str, name_key: Optional[str] = None, custom_roles: str = "declare",
               deployer_type: str = PRINCIPAL_TYPE) -> ImagePlan:
    """The names, document and own grants of one pipeline (`name`: its logical name)."""
    spec = image.template
    owner = f"{project}/{stack_name}/{name}"
    identity = identity_plan(name, image, image_name, subscription_id, resource_group)
    scripts = script_storage(image, image_name=image_name, subscription_id=subscription_id,
                               resource_group=resource_group, project=project, stack_name=stack_name,
                               deployer_type=deployer_type, pipeline=name)
    scripts_url = scripts.url if scripts else None
    existing_staging = spec.properties.staging_resource_group
    staging_group = None
    staging_id = existing_staging
    if existing_staging is None and image.staging == "create":
        # The group's name carries the content digest: a replaced template keeps its own group until it is deleted.
        content = template_hash(render_template(spec, identity_id=identity.id, scripts_url=scripts_url))
        staging_group = naming.staging_group_name(image_name, naming.keyed_digest(content, name_key))
        staging_id = naming.resource_group_id(subscription_id, staging_group)
    rendered_staging = staging_id if existing_staging is None else None
    digest = naming.keyed_digest(template_hash(render_template(
        spec, identity_id=identity.id, scripts_url=scripts_url, staging_resource_group=rendered_staging)), name_key)
    template_name = naming.template_name(image_name, digest)
    document = render_template(spec, name=template_name, identity_id=identity.id, scripts_url=scripts_url,
                               staging_resource_group=rendered_staging)
    grants = identity_grants(name, image, owner, staging_id, scripts)
    template_id = naming.template_id(subscription_id, resource_group, template_name)
    runner = None
    if image.runner_principal_id and image.manage_roles:
        runner = _grant_plan(name, grant_template_runner(template_id), owner, "runner", old_key="runner",
                             principal_type=image.runner_principal_type)
    definitions = role_definitions(name, [*grants, *([runner] if runner else [])])
    definition_ids = tuple(dict.fromkeys(naming.image_definition_id(d.gallery_image_id)
                                         for d in shared_image_targets(image)))
    plan = ImagePlan(
        name=name, image_name=image_name, owner=owner, subscription_id=subscription_id,
        resource_group=resource_group, identity=identity, scripts=scripts, staging_group=staging_group,
        staging_id=staging_id, content_digest=digest, template_name=template_name, template_id=template_id,
        document=document, role_definitions=tuple(definitions), grants=tuple(grants), shared_grants=(),
        runner_grant=runner, custom_roles=custom_roles, definition_ids=definition_ids,
        location=spec.location, tags=dict(spec.tags or {}), role_propagation_seconds=image.role_propagation_seconds,
        source_image_trigger=image.source_image_trigger,
        runner_principal_id=image.runner_principal_id if runner else None,
        gallery_id=naming.gallery_id(definition_ids[0]) if definition_ids else None,
        warnings=tuple(_warnings(image, image_name)), promotion_source=_promotion_source(name, image))
    plan = dataclasses.replace(plan, build=build_plan(plan, image), lifecycle=lifecycle_plan(plan, image),
                               grants=tuple(_scoped(g, plan) for g in plan.grants))
    return plan


def _promotion_source(name: str, image: ImageConfig) -> Optional[PromotionSource]:
    promotion = image.lifecycle.promotion if image.lifecycle else None
    if promotion is None or not promotion.from_stack:
        return None
    return PromotionSource(promotion.from_stack, promotion.from_output or f"{name}.imageVersionId")


def _scoped(grant: GrantPlan, plan: ImagePlan) -> GrantPlan:
    """The grant with the pipeline's own resource its scope is (the staging group or the scripts container)."""
    scope = grant.grant.scope.lower()
    if plan.staging_group and (plan.staging_id or "").lower() == scope:
        return dataclasses.replace(grant, scope_resource=plan.revision_name("staging"))
    if plan.scripts is not None and plan.scripts.container_id.lower() == scope:
        return dataclasses.replace(grant, scope_resource=plan.scripts.container_logical_name)
    return grant


def _warnings(image: ImageConfig, image_name: str) -> list[str]:
    if not image.scripts_storage_account_id and any(".blob." in u for u in step_uris(image.template)):
        return [f"{image_name}: scripts live in Azure Storage but scriptsStorageAccountId is not set; the template "
                "identity gets no read access to them"]
    return []


def build_plan(plan: ImagePlan, image: ImageConfig) -> Optional[BuildPlan]:
    """The build of the template (None with `build: false`). Every runOutputName must exist afterwards, and VHDs
    without a uri (kept only in the staging storage account) make the build's delete refuse unless
    `allowVhdLossOnDelete`. `buildMode` and the template's errorHandling go along: they decide whether `up` waits,
    and what a failure's message says was kept."""
    if not image.build:
        return None
    props = image.template.properties
    errors = props.error_handling
    return BuildPlan(
        start_name=plan.revision_name("run"), wait_name=plan.revision_name("build"),
        old_names=(plan.revision_alias("run").name, plan.revision_alias("build").name),
        subscription_id=plan.subscription_id, resource_group_name=plan.resource_group,
        image_template_name=plan.template_name, api_version=plan.document["apiVersion"],
        build_timeout_minutes=props.build_timeout_in_minutes or 0, rebuild_trigger=image.rebuild_trigger,
        run_output_names=tuple(d.run_output_name for d in props.distribute),
        vhd_run_outputs=tuple(d.run_output_name for d in props.distribute
                              if isinstance(d, VhdDistributor) and not d.uri),
        allow_vhd_loss_on_delete=image.allow_vhd_loss_on_delete, build_mode=image.build_mode,
        on_customizer_error=errors.on_customizer_error if errors else None,
        on_validation_error=errors.on_validation_error if errors else None)


def lifecycle_plan(plan: ImagePlan, image: ImageConfig) -> Optional[LifecyclePlan]:
    """The lifecycle run of the first SharedImage target's image definition; None without a `lifecycle` section (or
    without a gallery target): nothing is touched."""
    life = image.lifecycle
    if life is None or not plan.definition_ids:
        return None
    promotion = life.promotion
    validations = image.template.properties.validate_
    return LifecyclePlan(
        logical_name=f"{plan.name}-lifecycle", image_definition_id=plan.definition_ids[0],
        retention=life.retention.model_dump(by_alias=False, exclude_none=True) if life.retention else None,
        promotion_mode=promotion.mode if promotion else None,
        promote_version_id=promotion.version if promotion and promotion.mode == "manual" else None,
        validated=bool(validations and validations.in_vm_validations), dry_run=life.dry_run)


def identity_plan(name: str, image: ImageConfig, image_name: str, subscription_id: str,
                  resource_group: str) -> IdentityPlan:
    """An existing identity (config `identityId`, else `template.identity`) keeps its own subscription and group;
    otherwise the pipeline creates `id-aib-<image>` in the stack's group."""
    spec = image.template
    existing = image.identity_id or (spec.identity.identity_id if spec.identity else None)
    if existing:
        return _existing_identity(existing, f"{name}-identity", subscription_id)
    identity_name = naming.identity_name(image_name)
    return IdentityPlan(naming.identity_id(subscription_id, resource_group, identity_name), False, identity_name,
                        resource_group, subscription_id, f"{name}-identity")


def _existing_identity(identity_id: str, logical_name: str, subscription_id: str) -> IdentityPlan:
    """An existing identity, looked up through a provider of its own subscription when that is not `subscription_id`."""
    p = naming.parts(identity_id)
    other = p["subscription"].lower() != subscription_id.lower()
    return IdentityPlan(identity_id, True, p["name"], p["resource_group"], p["subscription"], logical_name,
                        provider_name=f"{logical_name}-subscription" if other else None)


def script_storage(image: ImageConfig, *, image_name: str, subscription_id: str, resource_group: str,
                   project: str, stack_name: str, deployer_type: str = PRINCIPAL_TYPE,
                   pipeline: str = "") -> Optional[ScriptStorage]:
    """Where repository files go: a container in `scriptsStorageAccountId`, or an account of the pipeline's own;
    None without repository files. `deployer_type`: what the principal uploading them is. `pipeline`: the logical
    name of the pipeline declaring them."""
    if not has_local_files(image.template):
        return None
    if image.scripts_storage_account_id:
        p = naming.parts(image.scripts_storage_account_id)
        subscription, group, account, created = p["subscription"], p["resource_group"], p["name"], False
        container = image.scripts_container or naming.scripts_container_name(project, stack_name, image_name)
    else:
        subscription, group, created = subscription_id, resource_group, True
        account = naming.scripts_account_name(subscription_id, resource_group, image_name)
        container = image.scripts_container or naming.SCRIPTS_CONTAINER
    network = image.scripts_network
    return ScriptStorage(subscription, group, account, container, created=created,
                         deployer_principal_type=deployer_type, pipeline=pipeline,
                         files=tuple(sorted({step.local_file for _, _, step in local_steps(image.template)})),
                         manage_roles=image.manage_roles, deny_public=network.deny_public,
                         subnet_ids=tuple(network.subnet_ids), ip_ranges=tuple(network.ip_ranges))


def identity_grants(name: str, image: ImageConfig, owner: str, staging_id: Optional[str],
                    scripts: Optional[ScriptStorage]) -> list[GrantPlan]:
    """The template identity's grants (none with `manageRoles: false`), named by what they grant, with the name the
    earlier, position-numbered keys gave them."""
    if not image.manage_roles:
        return []
    grants = template_identity_grants(image.template, staging_resource_group_id=staging_id,
                                      scripts_storage_account_id=image.scripts_storage_account_id)
    planned = [_grant_plan(name, g, owner, "identity", old_key=old.key) for g, old in zip(grants, number_keys(grants))]
    if scripts is not None:
        planned.append(_grant_plan(name, grant_repository_files_reader(scripts.container_id), owner, "identity",
                                   old_key="repo-files-reader"))
    return planned


def role_definitions(name: str, grants: Sequence[GrantPlan]) -> list[RoleDefinitionPlan]:
    """One custom role definition per kind and assignable scope (two subnets in one group share it)."""
    out: dict[str, RoleDefinitionPlan] = {}
    for g in grants:
        if g.definition is None or g.definition in out:
            continue
        old = OldName(g.old_name.name + "-role") if g.old_name else None
        out[g.definition] = RoleDefinitionPlan(g.definition, g.grant.role_definition_guid(g.owner), g.grant, g.owner,
                                               old)
    return list(out.values())


def _grant_plan(name: str, grant: Grant, owner: str, principal: str, *, old_key: Optional[str],
                principal_type: str = PRINCIPAL_TYPE) -> GrantPlan:
    logical = f"{name}-{grant.name_key}"
    old = f"{name}-{old_key}" if old_key else None
    return GrantPlan(logical, grant, owner, principal,
                     definition=f"{name}-{grant.definition_key}-role" if grant.custom else None,
                     old_name=OldName(old) if old and old != logical else None, principal_type=principal_type)


# ---- adopting what exists ----------------------------------------------------------------------------------------

def created_by_this_stack(plan: ResourceGroupPlan, found: Any) -> bool:
    """Whether the group a lookup `found` carries this stack's `CREATED_BY_TAG`: the stack made it (it is in the state,
    or a destroy kept it). Every later run's lookup finds that group, and taking it for one that existed before the
    stack made a routine `up` mark the stack's own group as kept on destroy."""
    tag = plan.tags.get(CREATED_BY_TAG)
    return found is not None and tag is not None and (getattr(found, "tags", None) or {}).get(CREATED_BY_TAG) == tag


def adoption_conflicts(plan: "ResourceGroupPlan | GalleryPlan | ImageDefinitionPlan", found: Any) -> list[Issue]:
    """What an existing resource (`found`: a getter invoke's result, None when absent) has that the plan cannot
    change: importing it would need a replacement, which the engine refuses for an imported resource."""
    if found is None:
        return []
    where = "location" if isinstance(plan, ResourceGroupPlan) else f"images.{plan.image}.gallery"
    issues = []
    if plan.location and _region(getattr(found, "location", None) or "") != _region(plan.location):
        issues.append(Issue(f"{where}.location" if not isinstance(plan, ResourceGroupPlan) else where,
                            f"{plan.id} exists in {getattr(found, 'location', None)!r}, not {plan.location!r}",
                            "use the existing region, or another name"))
    if isinstance(plan, ImageDefinitionPlan):
        identifier = getattr(found, "identifier", None)
        existing = {"osType": getattr(found, "os_type", None), "osState": getattr(found, "os_state", None),
                    "hyperVGeneration": getattr(found, "hyper_v_generation", None),
                    "publisher": getattr(identifier, "publisher", None), "offer": getattr(identifier, "offer", None),
                    "sku": getattr(identifier, "sku", None)}
        wanted = {"osType": plan.os_type, "osState": plan.os_state, "hyperVGeneration": plan.hyper_v_generation,
                  "publisher": plan.publisher, "offer": plan.offer, "sku": plan.sku}
        for key, value in wanted.items():
            if existing[key] is not None and str(existing[key]).lower() != str(value).lower():
                issues.append(Issue(f"{where}.imageDefinition.{key}",
                                    f"the existing image definition {plan.id} has {existing[key]!r}, not {value!r}",
                                    "an image definition cannot change: match it, or name another definition"))
    return issues


def _region(name: str) -> str:
    return name.replace(" ", "").lower()


# ---- what images share ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _SharedNames:
    names: Mapping[str, tuple[str, ...]]
    skip: frozenset[str]


def _moves_to_stack(grant: GrantPlan, plan: ImagePlan) -> bool:
    """A built-in role of an existing identity on a scope the pipeline does not create (scripts containers, build-VM
    identities): another image on the same identity would need the very same assignment."""
    created = {s.lower() for s in (plan.staging_id if plan.staging_group else None,
                                   plan.scripts.container_id if plan.scripts else None) if s}
    return plan.identity.existing and not grant.grant.custom and grant.grant.scope.lower() not in created


def _shared_grants(images: Mapping[str, ImageConfig], plans: Mapping[str, ImagePlan], prefix: str,
                   stack_level: bool) -> tuple[GrantPlan, ...]:
    out: dict[tuple[str, str, str], GrantPlan] = {}
    for key, plan in plans.items():
        for g in plan.grants:
            if not _moves_to_stack(g, plan):
                continue
            triple = (plan.identity.id.lower(), g.role_definition_id.lower(), g.grant.scope.lower())
            if triple in out:
                continue
            logical = f"{prefix}{g.grant.key}-{naming.short_hash(*triple)}"
            old_name = g.old_name.name if g.old_name else g.logical_name
            out[triple] = dataclasses.replace(
                g, logical_name=logical, principal=plan.identity.id,
                old_name=OldName(old_name, key if stack_level else None))
    return tuple(out.values())


def _shared_names_by_image(shared: Sequence[GrantPlan], images: Mapping[str, ImageConfig],
                           plans: Mapping[str, ImagePlan]) -> _SharedNames:
    names: dict[str, list[str]] = {}
    skip: set[str] = set()
    by_triple = {(g.principal.lower(), g.role_definition_id.lower(), g.grant.scope.lower()): g.logical_name
                 for g in shared}
    for key, plan in plans.items():
        for g in plan.grants:
            triple = (plan.identity.id.lower(), g.role_definition_id.lower(), g.grant.scope.lower())
            if _moves_to_stack(g, plan) and triple in by_triple:
                names.setdefault(key, []).append(by_triple[triple])
                skip.add(g.logical_name)
    return _SharedNames({k: tuple(v) for k, v in names.items()}, frozenset(skip))


def _galleries(images: Mapping[str, ImageConfig], image_names: Mapping[str, str], prefix: str, stack_level: bool,
               stack_name: str) -> tuple[tuple[GalleryPlan, ...], tuple[ImageDefinitionPlan, ...]]:
    """Every gallery and image definition a `gallery.create` image names, once, settings from the first image that
    names it (config order); retained when any image that names it asks for it."""
    old_galleries, old_definitions = legacy_gallery_names(images)
    galleries: dict[str, GalleryPlan] = {}
    definitions: dict[str, ImageDefinitionPlan] = {}
    retained = _retained(images)
    for key, image in images.items():
        if not image.gallery.create:
            continue
        spec = image.template
        location = image.gallery.location or spec.location
        tags = dict(spec.tags or {})
        for d in shared_image_targets(image):
            p = naming.parts(d.gallery_image_id)
            gallery_id = naming.gallery_id(d.gallery_image_id)
            definition_id = naming.image_definition_id(d.gallery_image_id)
            if gallery_id.lower() not in galleries:
                old = old_galleries.get(gallery_id.lower())
                galleries[gallery_id.lower()] = GalleryPlan(
                    f"{prefix}gallery-{p['name']}-{naming.short_hash(gallery_id)}", gallery_id, p["resource_group"],
                    p["name"], location, tags, retained[gallery_id.lower()], key, _old(old, stack_level))
            if definition_id.lower() not in definitions:
                old = old_definitions.get(definition_id.lower())
                definitions[definition_id.lower()] = dataclasses.replace(_definition_plan(
                    key, image, image_names.get(key, key), stack_name, definition_id, location,
                    f"{prefix}image-definition-{p['name']}-{p['child_name_1']}-{naming.short_hash(definition_id)}",
                    retained[gallery_id.lower()], _old(old, stack_level)),
                    gallery=galleries[gallery_id.lower()].logical_name)
    return tuple(galleries.values()), tuple(definitions.values())


def _definition_plan(key: str, image: ImageConfig, image_name: str, stack_name: str, definition_id: str,
                     location: str, logical_name: str, retain: bool, old: Optional[OldName]) -> ImageDefinitionPlan:
    spec = image.template
    os_type = image_os(spec)
    if os_type is None:  # never guessed: a definition's OS cannot change once it exists
        raise SpecError(os_issues(key, spec))
    options = image.gallery.image_definition
    generation = image_generation(spec)
    security = options.security_type or ("TrustedLaunchSupported" if generation == "V2" else None)
    features = [(f.name, f.value) for f in (options.features or [])]
    if security and not any(name == "SecurityType" for name, _ in features):
        features.append(("SecurityType", security))
    p = naming.parts(definition_id)
    return ImageDefinitionPlan(
        logical_name=logical_name, id=definition_id, gallery_id=naming.gallery_id(definition_id),
        resource_group=p["resource_group"], gallery_name=p["name"], name=p["child_name_1"], location=location,
        os_type=os_type, os_state=options.os_state, hyper_v_generation=generation,
        publisher=options.publisher, offer=options.offer or image_name, sku=options.sku or stack_name,
        features=tuple(features), description=options.description, tags=dict(spec.tags or {}),
        retain_on_delete=retain, image=key, old_name=old)


def _retained(images: Mapping[str, ImageConfig]) -> dict[str, bool]:
    retained: dict[str, bool] = {}
    for image in images.values():
        for d in shared_image_targets(image):
            gid = naming.gallery_id(d.gallery_image_id).lower()
            retained[gid] = retained.get(gid, False) or image.gallery.retain_on_delete
    return retained


def _old(old: Optional[OldName], stack_level: bool) -> Optional[OldName]:
    """Earlier versions made galleries children of an image's pipeline: at stack level the alias names that parent;
    inside a pipeline the parent is the same."""
    if old is None:
        return None
    return old if stack_level else OldName(old.name)


def legacy_gallery_names(images: Mapping[str, ImageConfig]) -> tuple[dict[str, OldName], dict[str, OldName]]:
    """The names earlier versions gave galleries and image definitions, by lowercase id: `<image>-gallery` and
    `<image>-image-definition` under the first image (config order) that named them, with `-<i>` (the target's
    position) when that image had several SharedImage targets."""
    galleries: dict[str, OldName] = {}
    definitions: dict[str, OldName] = {}
    for key, image in images.items():
        if not image.gallery.create:
            continue
        targets = list(dict.fromkeys(naming.image_definition_id(d.gallery_image_id).lower()
                                     for d in shared_image_targets(image)))
        for i, definition_id in enumerate(targets):
            suffix = f"-{i}" if len(targets) > 1 else ""
            galleries.setdefault(naming.gallery_id(definition_id).lower(), OldName(f"{key}-gallery{suffix}", key))
            definitions.setdefault(definition_id, OldName(f"{key}-image-definition{suffix}", key))
    return galleries, definitions
