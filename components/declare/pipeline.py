"""`ImagePipeline`: one golden image, from its validated spec to an image template (and, optionally, its build).

The component declares, as its children: the template identity (or uses an existing one), the least-privilege role
grants computed from the spec (`roles.py`), a dedicated staging resource group, the gallery and image definition the
SharedImage target names, the `VirtualMachineImageTemplate` (typed args from the rendered AIB JSON,
`template_args.py`), a dynamic resource that PATCHes the template's tags (`providers/template_tags.py`), an optional
SourceImage trigger, the CI runner's role, and the build start/wait pair (`build_run`).

Why the names look the way they do: AIB rejects any PUT to an existing template and azure-native updates with PUT, so
the template name is `<image>-<hash[:10]>` over everything the service cannot PATCH (`arm.render.template_hash`, which
leaves out tags). A changed customizer is a new name, hence a new template created before the old one is deleted; an
unchanged spec gives the same names and no diff; tags change in place through PATCH. Every value that goes into the
template is a plain string known at construction (the subscription comes from the provider's client config), so
previews show real names and the rendered document the service receives is available as `template_document`.

Every decision comes from the pipeline's `ImagePlan` (`components.plan.stack`): each logical and Azure name, grant and
scope, the build's and the lifecycle's inputs, the warnings. The stack program passes each pipeline its part of
`plan_stack` and the resources the stack shares; a pipeline used on its own gets its plan from the same planner in one
call (`plan_pipeline`, a one-image stack whose shared resources are its own children). This module only declares: one
small function per kind of resource, each taking its plan. What it still decides is what only the engine knows: the
subscription of a pipeline used alone (the provider's), the repository files' bytes to upload, and the outputs
(template name, principal ids, build results) its resources wait on.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Optional, Sequence, Union

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import authorization, compute, managedidentity, resources
from pulumi_azure_native import virtualmachineimages as vmi

from components.providers.build_run import BuildArgs, BuildBarrier, ImageBuild, ImageBuildStart, declare_build
from components.providers.lifecycle import ImageVersionLifecycle, LifecycleArgs
from components.plan.stack import (
    GALLERY_DESCRIPTION, PIPELINE_TYPE, TRIGGER_NAME, BuildPlan, GalleryPlan, GrantPlan, IdentityPlan,
    ImageDefinitionPlan, ImagePlan, OldName, RoleDefinitionPlan, SharedPlan, adoption_conflicts, pipeline_image_name,
    plan_pipeline)
from components.plan.roles import PRINCIPAL_TYPE_CHANGE_REPLACES
# Kept importable from here for stack programs written when `adopted` lived in this module (its home is adoption).
from components.declare.adoption import adopted as adopted
from components.declare.adoption import import_option, look_up_existing
from components.declare.scripts import LocalAsset, ScriptsDeclared, ScriptStorage, declare_script_storage
from components.model.local_files import has_local_files, resolve_template
from components.model.errors import Issue, SpecError
from components.model.stack import ImageConfig
from components.declare.template_args import API_VERSION as TYPED_API_VERSION
from components.declare.template_args import template_args, template_inputs
from components.providers.role_settle import RoleSettle
from components.providers.versioned_template import VersionedTemplate, template_body
from components.providers.template_tags import TemplateTags

TYPE_TOKEN = PIPELINE_TYPE
TEMPLATE_NAME_INPUTS = ("image_template_name", "resource_group_name")
"""The only template inputs the engine diffs: the name carries a digest of everything else (see the module doc)."""


@dataclasses.dataclass
class SharedResources:
    """What a stack declares once for several pipelines (`plan.SharedPlan`), each by its planned logical name:
    galleries, image definitions, role assignments of existing identities."""

    galleries: dict[str, pulumi.Resource] = dataclasses.field(default_factory=dict)
    image_definitions: dict[str, pulumi.Resource] = dataclasses.field(default_factory=dict)
    grants: dict[str, authorization.RoleAssignment] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ImagePipelineArgs:
    """Inputs of one image pipeline. Only `image` and `resource_group_name` are required."""

    image: ImageConfig
    """The image's stack config entry: its AIB template spec plus pipeline options (gallery, staging, build...)."""
    resource_group_name: str
    """Existing (or stack-created, see `wait_for`) resource group for the template and the identity."""
    image_name: Optional[str] = None
    """Name of the image; the template name is `<image_name>-<hash>`. Default: `template.name`, else the component's
    name."""
    subscription_id: Optional[str] = None
    """Subscription of the template. Default: the azure-native provider's (`authorization.get_client_config`)."""
    wait_for: Sequence[pulumi.Resource] = ()
    """Resources every child waits for, such as the stack's `ResourceGroup`. Default: none."""
    build_barrier: Optional[BuildBarrier] = None
    """Shared by every pipeline of a stack so that no build wait starts before every build start was issued (the
    dynamic provider serves four calls at a time). Default None: this build's wait follows only its own start."""
    plan: Optional[ImagePlan] = None
    """This pipeline's part of the stack plan (`plan.plan_stack`). Default: the pipeline gets its plan from
    `plan.stack.plan_pipeline` (with `image_name`, `subscription_id`, `name_key`, `retain_gallery_on_delete` and `tags`) and
    declares its galleries, image definitions and existing-identity roles as its own children."""
    shared: Optional[SharedResources] = None
    """What the stack declared once for every pipeline (with `plan`). Default: none."""
    retain_gallery_on_delete: Optional[bool] = None
    """Keep the gallery and image definition in Azure when they leave the stack (their image versions belong to the
    user). Default: the config's `gallery.retainOnDelete` (True unless set). Only for a pipeline planning itself."""
    adopt_existing: bool = True
    """Import the gallery and image definition when they already exist (a previous destroy keeps them). Only for a
    pipeline planning itself; the stack program adopts its shared resources itself."""
    secret_config: bool = False
    """The image's config was set as a secret (`pulumi config set --secret`): customize, validate and distribute are
    stored as secrets. Default False (inline commands are secret anyway)."""
    name_key: Optional[str] = None
    """The stack's secret `nameKey` (HMAC key of the name digests). Only for a pipeline planning itself."""
    arm_endpoint: Optional[str] = None
    """ARM base URL for the tag PATCH and the build (the local emulator). Default: env AIB_ARM_ENDPOINT, else Azure."""
    tags: Optional[Mapping[str, str]] = None
    """Tags for the resources the pipeline creates besides the template (the template takes `template.tags`).
    Default: the template's tags. Only for a pipeline planning itself (a stack's plan carries its own)."""
    project_dir: Optional[str] = None
    """Folder that repository files (`script`, `sourceFile`) are relative to. Default: the working directory (where
    Pulumi runs the program: the project folder)."""
    promote_version_id: Optional[pulumi.Input[str]] = None
    """Image version id to promote under `lifecycle.promotion.mode: manual`, typically another stack's output read
    through a `StackReference` (`lifecycle.promotion.fromStack`). Default: `lifecycle.promotion.version`."""


class ImagePipeline(pulumi.ComponentResource):
    """One golden image: identity, roles, staging group, gallery definition, image template, and its build.

    Outputs: `template_id`, `template_name`, `identity_id`, `identity_principal_id`, `identity_client_id`,
    `gallery_id`, `image_definition_id` (the first SharedImage target's, else None), `staging_resource_group` (id,
    None when the service makes its own), and once built: `run_state`, `run_outputs` (runOutputName →
    {artifact_id, artifact_uri}), `image_version_id`, `log_location`; with a `lifecycle` section, `lifecycle_report`
    (`{dryRun, kept, excluded, deleted, promoted, endOfLife, notes}`, see `components.providers.lifecycle`).
    """

    template_id: pulumi.Output[str]
    template_name: pulumi.Output[str]
    identity_id: pulumi.Output[str]
    identity_principal_id: pulumi.Output[str]
    identity_client_id: pulumi.Output[str]
    gallery_id: pulumi.Output[Optional[str]]
    image_definition_id: pulumi.Output[Optional[str]]
    staging_resource_group: pulumi.Output[Optional[str]]
    run_state: pulumi.Output[Optional[str]]
    run_outputs: pulumi.Output[Optional[dict]]
    image_version_id: pulumi.Output[Optional[str]]
    log_location: pulumi.Output[Optional[str]]
    lifecycle_report: pulumi.Output[Optional[dict]]

    def __init__(self, name: str, args: ImagePipelineArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        if args.plan is not None:
            plan, shared = args.plan, args.shared or SharedResources()
            self._resolve_local_files(args.image, plan.image_name, args)
        else:
            plan, shared = self._plan_alone(name, args)
        self.plan: ImagePlan = plan
        self.shared = shared
        self.image_name = plan.image_name
        self.subscription_id = plan.subscription_id
        self.tags = dict(plan.tags)
        self.template_document: dict[str, Any] = dict(plan.document)
        """The AIB JSON the service receives (inline commands in clear: treat as secret)."""
        self.template_hash = plan.content_digest

        self._declare_scripts()
        self._declare_identity()
        self._declare_staging()
        self.galleries = self.shared.galleries
        self.image_definitions = {n: self.shared.image_definitions[n] for n in plan.definition_names
                                  if n in self.shared.image_definitions}
        for warning in plan.warnings:
            pulumi.log.warn(warning, self)
        self._declare_roles()
        self._declare_template(args)
        self._declare_runner()
        self._declare_build(args)
        self.lifecycle = self._declare_lifecycle(args)
        self._set_outputs()

    # ---- repository files, and the plan of a pipeline used on its own ------------------------------------------

    def _resolve_local_files(self, image: ImageConfig, image_name: str, args: ImagePipelineArgs) -> ImageConfig:
        """Repository files (script, sourceFile) checked and hashed: each checksum is part of the rendered template."""
        self.local_files: list[LocalAsset] = []
        if not has_local_files(image.template):
            return image
        spec, self.local_files = resolve_template(image.template, args.project_dir or os.getcwd(),
                                                  prefix=f"images.{image_name}.template")
        return image.model_copy(update={"template": spec})

    def _plan_alone(self, name: str, args: ImagePipelineArgs) -> tuple[ImagePlan, SharedResources]:
        """The plan of a one-image stack (`plan.stack.plan_pipeline`, the planner of stacks), whose shared resources
        this pipeline declares as its own children."""
        image_name = pipeline_image_name(name, args.image, args.image_name)
        image = self._resolve_local_files(args.image, image_name, args)
        subscription_id = args.subscription_id or authorization.get_client_config(
            opts=pulumi.InvokeOptions(parent=self)).subscription_id
        plan, shared = plan_pipeline(
            name, image, subscription_id=subscription_id, resource_group=args.resource_group_name,
            project=pulumi.get_project(), stack_name=pulumi.get_stack(), image_name=image_name,
            name_key=args.name_key, retain_gallery_on_delete=args.retain_gallery_on_delete, tags=args.tags,
            env=os.environ)
        return plan, declare_shared(shared, adopt=args.adopt_existing, opts=self._child)

    # ---- declarations, one per kind ---------------------------------------------------------------------------

    def _declare_scripts(self) -> None:
        """Repository files go to a private container whose URL is in the rendered template, so an edited script is
        a new template (and build)."""
        self.scripts_storage: Optional[ScriptStorage] = None
        self.scripts: Optional[ScriptsDeclared] = None
        where = self.plan.scripts
        if where is None or not self.local_files:
            return
        self.scripts_storage = where
        self.scripts = declare_script_storage(
            self.plan.name, where, self.local_files, location=self.plan.location, tags=self.tags,
            manage_roles=where.manage_roles, opts=self._child)

    def _declare_identity(self) -> None:
        """An existing identity (looked up in its own subscription), or one per pipeline."""
        identity = self.plan.identity
        self.identity: Optional[managedidentity.UserAssignedIdentity] = None
        if identity.existing:
            found = existing_identity(identity, parent=self)
            self.principal_id: pulumi.Output[str] = found.principal_id
            self.client_id: pulumi.Output[str] = found.client_id
            return
        # Keyword form: UserAssignedIdentityArgs.resource_name collides with the resource's own name parameter.
        self.identity = managedidentity.UserAssignedIdentity(
            identity.logical_name, self._child, resource_group_name=identity.resource_group,
            resource_name_=identity.name, location=self.plan.location, tags=self.tags)
        self.principal_id, self.client_id = self.identity.principal_id, self.identity.client_id

    def _declare_staging(self) -> None:
        """A fresh empty group per template revision (its Azure name carries the content digest, because a replaced
        template still holds its own group until it is deleted); none for an existing group or the service's IT_* group."""
        self.staging_group: Optional[resources.ResourceGroup] = None
        if self.plan.staging_group:
            self.staging_group = resources.ResourceGroup(
                self.plan.revision_name("staging"),
                resources.ResourceGroupArgs(resource_group_name=self.plan.staging_group,
                                            location=self.plan.location, tags=self.tags),
                pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(aliases=self._revision_aliases("staging"))))

    def _declare_roles(self) -> None:
        """Custom role definitions (none when an admin created them: `customRoles: existing`), a wait while they
        replicate, then the identity's assignments, each after the scope it names when this pipeline creates it; then
        a wait while the assignments take effect."""
        definitions = {d.logical_name: declare_role_definition(d, self._child)
                       for d in self.plan.declared_role_definitions}
        # A role definition answers "created" before Azure RBAC knows it everywhere; an assignment referring to it
        # too early fails with RoleDefinitionDoesNotExist, which azure-native does not retry.
        self.definitions_settle: Optional[RoleSettle] = RoleSettle(
            self.plan.definitions_settle_name, list(definitions.values()), self.plan.role_propagation_seconds,
            pulumi.ResourceOptions(parent=self)) if definitions else None
        self._definitions = definitions
        self.role_assignments: list[authorization.RoleAssignment] = [
            declare_grant(g, self.principal_id, opts=self._child,
                          depends_on=[*self._scope_resources(g), *self._definition_of(g)])
            for g in self.plan.grants]
        shared = [self.shared.grants[n] for n in self.plan.shared_grants if n in self.shared.grants]
        # The service checks the identity's access when the template is created, and nothing retries that PUT.
        waited = [*self.role_assignments, *shared]
        self.settled: list[pulumi.Resource] = [
            RoleSettle(self.plan.roles_settle_name, waited, self.plan.role_propagation_seconds,
                       pulumi.ResourceOptions(parent=self))] if waited else []
        self._shared_assignments = shared

    def _declare_template(self, args: ImagePipelineArgs) -> None:
        """The template, its tags and trigger, one set per revision: a content change declares new ones (the old are
        deleted after the new build) and a revert finds the earlier ones still in state. Every input but the name is in
        ignore_changes, so refresh noise or new SDK defaults never turn into an in-place PUT, which AIB refuses."""
        document = self.template_document
        options = pulumi.ResourceOptions(
            depends_on=[*self.role_assignments, *self._shared_assignments, *self.settled, *self._own_dependencies()],
            delete_before_replace=False)
        self.template: Union[vmi.VirtualMachineImageTemplate, VersionedTemplate]
        if document["apiVersion"] == TYPED_API_VERSION:
            self.template = vmi.VirtualMachineImageTemplate(
                self.plan.revision_name("template"),
                template_args(document, resource_group_name=self.plan.resource_group, secret=args.secret_config),
                pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(
                    aliases=self._revision_aliases("template"),
                    ignore_changes=[k for k in template_inputs() if k not in TEMPLATE_NAME_INPUTS],
                    additional_secret_outputs=["customize", "validate",
                                               *(["distribute"] if args.secret_config else [])]))))
        else:
            # Fields only a newer api-version has: azure-native's typed resource creates templates at 2024-02-01
            # only, and its generic one cannot create an image template at all (versioned_template.py says why).
            # Same name, roles, tag PATCH, build and outputs.
            self.template = VersionedTemplate(
                self.plan.revision_name("template"), subscription_id=self.plan.subscription_id,
                resource_group_name=self.plan.resource_group, image_template_name=document["name"],
                api_version=document["apiVersion"], body=template_body(document), arm_endpoint=args.arm_endpoint,
                opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions.merge(
                    options, pulumi.ResourceOptions(aliases=self._revision_aliases("template")))))
        self.tags_patch = TemplateTags(
            self.plan.revision_name("tags"), subscription_id=self.plan.subscription_id,
            resource_group_name=self.plan.resource_group, image_template_name=self.template.name,
            tags=document.get("tags") or {}, api_version=document["apiVersion"], arm_endpoint=args.arm_endpoint,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.template],
                                        aliases=self._revision_aliases("tags")))
        self.trigger: Optional[vmi.Trigger] = None
        if self.plan.source_image_trigger:
            self.trigger = vmi.Trigger(
                self.plan.revision_name("trigger"),
                vmi.TriggerArgs(image_template_name=self.template.name, kind="SourceImage",
                                resource_group_name=self.plan.resource_group, trigger_name=TRIGGER_NAME),
                pulumi.ResourceOptions(parent=self, depends_on=[self.template],
                                       aliases=self._revision_aliases("trigger")))

    def _revision_aliases(self, kind: str) -> list[pulumi.Alias]:
        return aliases(self.plan.revision_alias(kind))

    def _declare_runner(self) -> None:
        runner = self.plan.runner_grant
        if runner is None or not self.plan.runner_principal_id:
            return
        self.role_assignments.append(declare_grant(
            runner, self.plan.runner_principal_id, opts=pulumi.ResourceOptions(parent=self),
            depends_on=[self.template, *self._definition_of(runner)]))

    def _declare_build(self, args: ImagePipelineArgs) -> None:
        self.build_start: Optional[ImageBuildStart] = None
        self.build: Optional[ImageBuild] = None
        build = self.plan.build
        if build is None:
            return
        self.build_start, self.build = declare_build(
            (build.start_name, build.wait_name), build_args(build, self.template.name, args.arm_endpoint),
            # After the tag PATCH too: AIB refuses any template write while a run is going.
            pulumi.ResourceOptions(parent=self, depends_on=[self.template, self.tags_patch, *self.role_assignments]),
            wait_after=args.build_barrier, old_names=build.old_names)

    def _declare_lifecycle(self, args: ImagePipelineArgs) -> Optional[ImageVersionLifecycle]:
        """The lifecycle run of the first SharedImage target's image definition, after the build (every new build
        changes its inputs, so the policy runs again). None without a `lifecycle` section: nothing is touched."""
        life = self.plan.lifecycle
        if life is None:
            return None
        deps: list[pulumi.Resource] = [*self.image_definitions.values()]
        if self.build is not None:
            deps.append(self.build)
        promote = args.promote_version_id if args.promote_version_id is not None else life.promote_version_id
        return ImageVersionLifecycle(life.logical_name, LifecycleArgs(
            image_definition_id=life.image_definition_id,
            retention=dict(life.retention) if life.retention is not None else None,
            promotion_mode=life.promotion_mode,
            promote_version_id=promote if life.manual else None,
            just_built_version_id=self.build.image_version_id if self.build else None,
            build_run_state=self.build.run_state if self.build else None,
            build_started_at=self.build.start_time if self.build else None,
            validated=life.validated,
            dry_run=life.dry_run,
            arm_endpoint=args.arm_endpoint,
        ), pulumi.ResourceOptions(parent=self, depends_on=deps))

    def _set_outputs(self) -> None:
        first = self.plan.definition_ids[0] if self.plan.definition_ids else None
        none: pulumi.Output[Any] = pulumi.Output.from_input(None)
        self.template_id = self.template.id
        self.template_name = self.template.name
        self.identity_id = pulumi.Output.from_input(self.plan.identity.id)
        self.identity_principal_id = self.principal_id
        self.identity_client_id = self.client_id
        self.gallery_id = pulumi.Output.from_input(self.plan.gallery_id)
        self.image_definition_id = self._definition_output(first)
        self.staging_resource_group = (self.staging_group.id if self.staging_group is not None
                                       else pulumi.Output.from_input(self.plan.staging_id))
        self.run_state = self.build.run_state if self.build else none
        self.run_outputs = self.build.run_outputs if self.build else none
        self.image_version_id = self.build.image_version_id if self.build else none
        self.log_location = self.build.log_location if self.build else none
        self.lifecycle_report = lifecycle_report(self.lifecycle) if self.lifecycle else none
        self.register_outputs({
            "template_id": self.template_id, "template_name": self.template_name, "identity_id": self.identity_id,
            "identity_principal_id": self.identity_principal_id, "identity_client_id": self.identity_client_id,
            "gallery_id": self.gallery_id, "image_definition_id": self.image_definition_id,
            "staging_resource_group": self.staging_resource_group, "run_state": self.run_state,
            "run_outputs": self.run_outputs, "image_version_id": self.image_version_id,
            "log_location": self.log_location, "lifecycle": self.lifecycle_report,
        })

    # ---- dependencies -----------------------------------------------------------------------------------------

    def _definition_of(self, grant: GrantPlan) -> list[pulumi.Resource]:
        """A custom role's assignment waits for its definition to replicate (nothing to wait for when an admin created
        it beforehand)."""
        if grant.definition not in self._definitions:
            return []
        return [self.definitions_settle] if self.definitions_settle is not None else \
            [self._definitions[grant.definition]]

    def _scope_resources(self, grant: GrantPlan) -> list[pulumi.Resource]:
        """The resource the grant's scope is, when this pipeline (or the stack, for image definitions) declares it."""
        declared: dict[str, pulumi.Resource] = dict(self.image_definitions)
        if self.staging_group is not None:
            declared[self.plan.revision_name("staging")] = self.staging_group
        if self.scripts is not None and self.scripts_storage is not None:
            declared[self.scripts_storage.container_logical_name] = self.scripts.container
        found = declared.get(grant.scope_resource) if grant.scope_resource else None
        return [found] if found is not None else []

    def _own_dependencies(self) -> list[pulumi.Resource]:
        deps: list[pulumi.Resource] = [*self.image_definitions.values()]
        if self.identity is not None:
            deps.append(self.identity)
        if self.staging_group is not None:
            deps.append(self.staging_group)
        if self.scripts is not None:
            deps += self.scripts.blobs  # the service downloads them while building
            if self.scripts.uploader is not None:
                deps.append(self.scripts.uploader)
        return deps

    def _definition_output(self, first: Optional[str]) -> pulumi.Output[Optional[str]]:
        if first is None:
            return pulumi.Output.from_input(None)
        created = self.image_definitions.get(self.plan.output_definition or "")
        if isinstance(created, compute.GalleryImage):
            return created.id.apply(lambda _: first)
        return pulumi.Output.from_input(first)


# ---- what a stack declares once -----------------------------------------------------------------------------

def declare_shared(shared: SharedPlan, *, adopt: bool, opts: Optional[pulumi.ResourceOptions] = None,
                   subscription_id: Optional[str] = None,
                   existing: Optional[Mapping[str, Optional[Any]]] = None) -> SharedResources:
    """Galleries, image definitions and existing identities' roles, each once (`adopt`: import what already
    exists, see `adoption.adopted`). `existing`: what the stack's lookups found, by resource id
    (`adoption.look_up_existing`, all of a stack's at once); without it, an adopting call looks up its own galleries
    and definitions, again all at once. `subscription_id`: unused (the plan says which identity needs a provider of
    its own)."""
    found = ((existing if existing is not None else look_up_existing(shared.adoptable())) if adopt else {})
    out = SharedResources()
    for g in shared.galleries:
        out.galleries[g.logical_name] = declare_gallery(g, found=found.get(g.id), opts=opts)
    for d in shared.image_definitions:
        out.image_definitions[d.logical_name] = declare_image_definition(
            d, found=found.get(d.id), opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                depends_on=[out.galleries[d.gallery]] if d.gallery in out.galleries else [])))
    identities = {i.logical_name: i for i in shared.identities}
    principals: dict[str, pulumi.Output[str]] = {}
    for grant in shared.grants:
        identity = identities[grant.principal_identity or ""]
        if identity.logical_name not in principals:
            principals[identity.logical_name] = existing_identity(
                identity, parent=opts.parent if opts else None).principal_id
        out.grants[grant.logical_name] = declare_grant(grant, principals[identity.logical_name], opts=opts)
    return out


def declare_gallery(plan: GalleryPlan, *, found: Optional[Any], opts: Optional[pulumi.ResourceOptions]
                    ) -> compute.Gallery:
    """The gallery `plan` names; `found`: the existing one to adopt (`adoption.look_up_existing`), else None."""
    # retain_on_delete rather than protect: a routine `pulumi destroy` still succeeds (templates, identities and
    # roles go), while the gallery and definition stay in Azure with the user's image versions.
    _refuse_conflicts(plan.id, adoption_conflicts(plan, found))
    return compute.Gallery(
        plan.logical_name,
        compute.GalleryArgs(gallery_name=plan.name, resource_group_name=plan.resource_group, location=plan.location,
                            description=GALLERY_DESCRIPTION, tags=dict(plan.tags)),
        _kept(plan.retain_on_delete, plan.old_name, found, opts))


def declare_image_definition(plan: ImageDefinitionPlan, *, found: Optional[Any],
                             opts: Optional[pulumi.ResourceOptions]) -> compute.GalleryImage:
    """The image definition `plan` names; `found`: the existing one to adopt, else None."""
    _refuse_conflicts(plan.id, adoption_conflicts(plan, found))
    return compute.GalleryImage(
        plan.logical_name,
        compute.GalleryImageArgs(
            gallery_name=plan.gallery_name, gallery_image_name=plan.name, resource_group_name=plan.resource_group,
            location=plan.location, os_type=compute.OperatingSystemTypes(plan.os_type),
            os_state=compute.OperatingSystemStateTypes(plan.os_state), hyper_v_generation=plan.hyper_v_generation,
            identifier=compute.GalleryImageIdentifierArgs(publisher=plan.publisher, offer=plan.offer, sku=plan.sku),
            features=[compute.GalleryImageFeatureArgs(name=n, value=v) for n, v in plan.features] or None,
            description=plan.description, tags=dict(plan.tags)),
        _kept(plan.retain_on_delete, plan.old_name, found, opts))


def declare_role_definition(plan: RoleDefinitionPlan, opts: Optional[pulumi.ResourceOptions]
                            ) -> authorization.RoleDefinition:
    grant = plan.grant
    return authorization.RoleDefinition(
        plan.logical_name,
        authorization.RoleDefinitionArgs(
            scope=grant.assignable_scope,
            role_definition_id=plan.guid,
            role_name=plan.role_name,
            description=plan.description,
            role_type="CustomRole",
            permissions=[authorization.PermissionArgs(actions=list(grant.actions))],
            assignable_scopes=[grant.assignable_scope],
        ),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases(plan.old_name))))


def declare_grant(plan: GrantPlan, principal_id: pulumi.Input[str], *, opts: Optional[pulumi.ResourceOptions] = None,
                  depends_on: Sequence[pulumi.Resource] = ()) -> authorization.RoleAssignment:
    """The role assignment `plan` names for `principal_id`, with the principalType the plan gives (its custom role
    definition is declared apart, see `declare_role_definition`); `depends_on`: resources its scope or role must
    exist after."""
    grant = plan.grant
    return authorization.RoleAssignment(
        plan.logical_name,
        authorization.RoleAssignmentArgs(
            scope=grant.scope,
            role_definition_id=plan.role_definition_id,
            principal_id=principal_id,
            principal_type=plan.principal_type,
            role_assignment_name=pulumi.Output.from_input(principal_id).apply(plan.assignment_name),
            description=grant.description,
        ),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            depends_on=list(depends_on), aliases=aliases(plan.old_name),
            **(PRINCIPAL_TYPE_CHANGE_REPLACES if plan.principal_type_may_change else {}))))


def existing_identity(identity: IdentityPlan, *, parent: Optional[pulumi.Resource]) -> Any:
    """The principal and client ids of an existing identity, looked up in the identity's own subscription (through
    the provider the plan names when it is not the deployment's)."""
    provider = None
    if identity.provider_name:
        provider = azure_native.Provider(identity.provider_name, subscription_id=identity.subscription_id,
                                         opts=pulumi.ResourceOptions(parent=parent))
    return managedidentity.get_user_assigned_identity_output(
        resource_group_name=identity.resource_group, resource_name=identity.name,
        opts=pulumi.InvokeOptions(parent=parent, provider=provider))


def aliases(old: Optional[OldName]) -> list[pulumi.Alias]:
    """The alias that keeps the state of a resource earlier versions named `old` (under another parent, when
    `old.parent` names the `ImagePipeline` it belonged to)."""
    if old is None:
        return []
    if old.parent is None:
        return [pulumi.Alias(name=old.name)]
    parent_urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{TYPE_TOKEN}::{old.parent}"
    return [pulumi.Alias(name=old.name, parent=parent_urn)]


def _kept(retain: bool, old: Optional[OldName], found: Optional[Any], opts: Optional[pulumi.ResourceOptions]
          ) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
        retain_on_delete=retain, aliases=aliases(old), import_=import_option(found)))


def _refuse_conflicts(resource_id: str, conflicts: list[Issue]) -> None:
    if conflicts:
        raise SpecError(conflicts, f"existing {resource_id}")


def build_args(build: BuildPlan, template_name: pulumi.Input[str], arm_endpoint: Optional[str]) -> BuildArgs:
    """The build's inputs as planned (`plan.stack.build_plan`), with the template's name as an output of the
    template (so the build follows it) and the ARM endpoint of this run."""
    return BuildArgs(
        subscription_id=build.subscription_id,
        resource_group_name=build.resource_group_name,
        image_template_name=template_name,
        api_version=build.api_version,
        build_timeout_minutes=build.build_timeout_minutes,
        rebuild_trigger=build.rebuild_trigger,
        run_output_names=list(build.run_output_names),
        vhd_run_outputs=list(build.vhd_run_outputs),
        allow_vhd_loss_on_delete=build.allow_vhd_loss_on_delete,
        arm_endpoint=arm_endpoint,
        build_mode=build.build_mode,
        on_customizer_error=build.on_customizer_error,
        on_validation_error=build.on_validation_error,
    )


def lifecycle_report(lifecycle: ImageVersionLifecycle) -> pulumi.Output[dict]:
    """The stack-output summary of a lifecycle run (camelCase, like the other exports)."""
    return pulumi.Output.all(
        lifecycle.applied, lifecycle.kept, lifecycle.excluded, lifecycle.deleted, lifecycle.promoted,
        lifecycle.end_of_life, lifecycle.notes,
    ).apply(lambda v: {"dryRun": not v[0], "kept": v[1] or [], "excluded": v[2] or [], "deleted": v[3] or [],
                       "promoted": v[4] or [], "endOfLife": v[5] or {}, "notes": v[6] or []})
