"""`ImagePipeline`: one golden image, from its validated spec to an image template (and, optionally, its build).

The component declares, as its children: the template identity (or uses an existing one), the least-privilege role
grants computed from the spec (`roles.py`), a dedicated staging resource group, the gallery and image definition the
SharedImage target names, the `VirtualMachineImageTemplate` (typed args from the rendered AIB JSON,
`template_args.py`), a dynamic resource that PATCHes the template's tags (`template_patch.py`), an optional
SourceImage trigger, the CI runner's role, and the build start/wait pair (`build_run`).

Why the names look the way they do: AIB rejects any PUT to an existing template and azure-native updates with PUT, so
the template name is `<image>-<hash[:10]>` over everything the service cannot PATCH (`arm.render.template_hash`, which
leaves out tags). A changed customizer is a new name, hence a new template created before the old one is deleted; an
unchanged spec gives the same names and no diff; tags change in place through PATCH. Every value that goes into the
template is a plain string known at construction (the subscription comes from the provider's client config), so
previews show real names and the rendered document the service receives is available as `template_document`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi_azure_native import authorization, compute, managedidentity, resources
from pulumi_azure_native import virtualmachineimages as vmi

from . import naming
from .arm.render import render_template, template_hash
from .build_run import BuildArgs, BuildBarrier, ImageBuild, ImageBuildStart, declare_build
from .lifecycle import ImageVersionLifecycle, LifecycleArgs
from .roles import Grant, declare_grant, grant_template_runner, step_uris, template_identity_grants
from .scripts import LocalAsset, ScriptsDeclared, ScriptStorage, declare_script_storage, script_storage
from .spec.local_files import has_local_files, resolve_template
from .spec.distributors import SharedImageDistributor, VhdDistributor
from .spec.errors import Issue, SpecError
from .spec.lifecycle import lifecycle_issues
from .spec.platform import image_generation, image_os
from .spec.stack import GalleryOptions, ImageConfig
from .template_args import has_inline, template_args
from .role_settle import RoleSettle
from .template_patch import TemplateTags

TYPE_TOKEN = "aib:index:ImagePipeline"
TRIGGER_NAME = "source-image"


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
    galleries: Optional[Mapping[str, pulumi.Resource]] = None
    """Galleries other pipelines of the stack already declare, by lowercase gallery id; this pipeline adds its image
    definition to them instead of declaring the gallery again. Default: none."""
    retain_gallery_on_delete: Optional[bool] = None
    """Keep the gallery and image definition in Azure when they leave the stack (their image versions belong to the
    user). Default: the config's `gallery.retainOnDelete` when the spec has it, else True."""
    arm_endpoint: Optional[str] = None
    """ARM base URL for the tag PATCH and the build (the local emulator). Default: env AIB_ARM_ENDPOINT, else Azure."""
    tags: Optional[Mapping[str, str]] = None
    """Tags for the resources the pipeline creates besides the template (the template takes `template.tags`).
    Default: the template's tags."""
    project_dir: Optional[str] = None
    """Folder that repository files (`script`, `sourceFile`) are relative to. Default: the working directory (where
    Pulumi runs the program: the project folder)."""
    promote_version_id: Optional[pulumi.Input[str]] = None
    """Image version id to promote under `lifecycle.promotion.mode: manual`, typically another stack's output read
    through a `StackReference` (`lifecycle.promotion.fromStack`). Default: `lifecycle.promotion.version`."""


@dataclasses.dataclass(frozen=True)
class GalleryTarget:
    """A SharedImage target's gallery and image definition, taken apart from its galleryImageId."""

    gallery_id: str
    image_definition_id: str
    resource_group: str
    gallery_name: str
    image_name: str

    @classmethod
    def of(cls, gallery_image_id: str) -> "GalleryTarget":
        p = naming.parts(gallery_image_id)
        return cls(naming.gallery_id(gallery_image_id), naming.image_definition_id(gallery_image_id),
                   p["resource_group"], p["name"], p["child_name_1"])


class ImagePipeline(pulumi.ComponentResource):
    """One golden image: identity, roles, staging group, gallery definition, image template, and its build.

    Outputs: `template_id`, `template_name`, `identity_id`, `identity_principal_id`, `identity_client_id`,
    `gallery_id`, `image_definition_id` (the first SharedImage target's, else None), `staging_resource_group` (id,
    None when the service makes its own), and once built: `run_state`, `run_outputs` (runOutputName →
    {artifact_id, artifact_uri}), `image_version_id`, `log_location`; with a `lifecycle` section, `lifecycle_report`
    (`{dryRun, kept, excluded, deleted, promoted, endOfLife, notes}`, see `components.lifecycle`).
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
        image = args.image
        spec = image.template
        self.image_name = args.image_name or spec.name or name
        check_os(spec, self.image_name)
        if lifecycle_issues(self.image_name, image):
            raise SpecError(lifecycle_issues(self.image_name, image))
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        rg = args.resource_group_name
        self.subscription_id = args.subscription_id or authorization.get_client_config(
            opts=pulumi.InvokeOptions(parent=self)).subscription_id
        sub = self.subscription_id
        tags = dict(args.tags if args.tags is not None else (spec.tags or {}))
        owner = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"

        # Repository files (script, sourceFile): checked and hashed, then uploaded to a private container whose URL is
        # known now, so each blob URL and checksum is in the rendered template and its hash: an edited script is a new
        # template (and build), an unchanged one changes nothing.
        self.local_files: list[LocalAsset] = []
        self.scripts_storage: Optional[ScriptStorage] = None
        self.scripts: Optional[ScriptsDeclared] = None
        if has_local_files(spec):
            spec, self.local_files = resolve_template(spec, args.project_dir or os.getcwd(),
                                                      prefix=f"images.{self.image_name}.template")
            self.scripts_storage = script_storage(image, image_name=self.image_name, subscription_id=sub,
                                                  resource_group=rg, project=pulumi.get_project(),
                                                  stack=pulumi.get_stack())
        scripts_url = self.scripts_storage.url if self.scripts_storage else None

        # Identity: an existing one (config identityId, else template.identity), or one per pipeline.
        self.identity: Optional[managedidentity.UserAssignedIdentity] = None
        existing_identity = image.identity_id or (spec.identity.identity_id if spec.identity else None)
        if existing_identity:
            identity_id = existing_identity
            p = naming.parts(existing_identity)
            found = managedidentity.get_user_assigned_identity_output(
                resource_group_name=p["resource_group"], resource_name=p["name"], opts=pulumi.InvokeOptions(parent=self))
            principal_id: pulumi.Output[str] = found.principal_id
            client_id: pulumi.Output[str] = found.client_id
        else:
            identity_name = naming.identity_name(self.image_name)
            identity_id = naming.identity_id(sub, rg, identity_name)
            # Keyword form: UserAssignedIdentityArgs.resource_name collides with the resource's own name parameter.
            self.identity = managedidentity.UserAssignedIdentity(
                f"{name}-identity", child, resource_group_name=rg, resource_name_=identity_name,
                location=spec.location, tags=tags)
            principal_id, client_id = self.identity.principal_id, self.identity.client_id

        # Staging: a fresh empty group per template (its name carries the content hash, because a replaced template
        # still holds its own group until it is deleted), an existing one from the spec, or the service's IT_* group.
        existing_staging = spec.properties.staging_resource_group
        self.staging_group: Optional[resources.ResourceGroup] = None
        staging_id: Optional[str] = existing_staging
        self._staging_id: Optional[str] = None
        if existing_staging is None and image.staging == "create":
            content = template_hash(render_template(spec, identity_id=identity_id, scripts_url=scripts_url))
            staging_name = naming.staging_group_name(self.image_name, content)
            staging_id = self._staging_id = naming.resource_group_id(sub, staging_name)
            self.staging_group = resources.ResourceGroup(
                f"{name}-staging",
                resources.ResourceGroupArgs(resource_group_name=staging_name, location=spec.location, tags=tags),
                child)

        self.template_hash = template_hash(render_template(
            spec, identity_id=identity_id, scripts_url=scripts_url,
            staging_resource_group=staging_id if existing_staging is None else None))
        name_in_azure = naming.template_name(self.image_name, self.template_hash)
        self.template_document: dict[str, Any] = render_template(
            spec, name=name_in_azure, identity_id=identity_id, scripts_url=scripts_url,
            staging_resource_group=staging_id if existing_staging is None else None)
        """The AIB JSON the service receives (inline commands in clear: treat as secret)."""
        template_resource_id = naming.template_id(sub, rg, name_in_azure)

        # Galleries and image definitions the SharedImage targets name.
        gallery_options: GalleryOptions = image.gallery
        retain = args.retain_gallery_on_delete
        if retain is None:
            retain = gallery_options.retain_on_delete
        targets = _unique([GalleryTarget.of(d.gallery_image_id) for d in spec.properties.distribute
                           if isinstance(d, SharedImageDistributor)])
        self.galleries: dict[str, pulumi.Resource] = {}
        self.image_definitions: dict[str, pulumi.Resource] = {}
        known = dict(args.galleries or {})
        if gallery_options.create:
            for i, target in enumerate(targets):
                suffix = f"-{i}" if len(targets) > 1 else ""
                self._declare_gallery(name, suffix, target, spec, gallery_options, known, tags, retain, child)

        if self.scripts_storage is not None:
            self.scripts = declare_script_storage(
                name, self.scripts_storage, self.local_files, location=spec.location, tags=tags,
                manage_roles=image.manage_roles, opts=child)

        # Roles of the template identity, each waiting for the scope it names when this pipeline creates it.
        self.role_assignments: list[authorization.RoleAssignment] = []
        self.grants: list[Grant] = template_identity_grants(
            spec, staging_resource_group_id=staging_id, scripts_storage_account_id=image.scripts_storage_account_id)
        if self.scripts is not None:
            self.grants.append(self.scripts.reader)  # the repository-files container only
        if not image.scripts_storage_account_id and any(".blob." in u for u in step_uris(spec)):
            pulumi.log.warn(f"{self.image_name}: scripts live in Azure Storage but scriptsStorageAccountId is not set; "
                            "the template identity gets no read access to them", self)
        if image.manage_roles:
            for grant in self.grants:
                self.role_assignments.append(declare_grant(
                    name, grant, owner=owner, principal_id=principal_id, opts=child,
                    depends_on=self._scope_resources(grant)))
        # The service checks the identity's access when the template is created, and nothing retries that PUT.
        settled: list[pulumi.Resource] = [
            RoleSettle(f"{name}-roles-settle", self.role_assignments, image.role_propagation_seconds,
                       pulumi.ResourceOptions(parent=self))] if self.role_assignments else []

        # The template. Everything non-PATCHable is in its name, so any such change is a replacement under a new name
        # (create, then delete the old one); replace_on_changes=["*"] makes sure no in-place PUT is ever attempted.
        inline = has_inline(self.template_document)
        self.template = vmi.VirtualMachineImageTemplate(
            f"{name}-template",
            template_args(self.template_document, resource_group_name=rg),
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[*self.role_assignments, *settled, *self._own_dependencies()],
                replace_on_changes=["*"],
                delete_before_replace=False,
                # Tags are PATCHed by the tags resource below; the template never sees a tag update.
                ignore_changes=["tags"],
                additional_secret_outputs=["customize", "validate"] if inline else None,
            )))
        self.tags_patch = TemplateTags(
            f"{name}-tags", subscription_id=sub, resource_group_name=rg, image_template_name=self.template.name,
            tags=spec.tags or {}, api_version=self.template_document["apiVersion"], arm_endpoint=args.arm_endpoint,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.template]))

        self.trigger: Optional[vmi.Trigger] = None
        if image.source_image_trigger:
            self.trigger = vmi.Trigger(
                f"{name}-trigger",
                vmi.TriggerArgs(image_template_name=self.template.name, kind="SourceImage",
                                resource_group_name=rg, trigger_name=TRIGGER_NAME),
                pulumi.ResourceOptions(parent=self, depends_on=[self.template]))

        if image.runner_principal_id and image.manage_roles:
            self.role_assignments.append(declare_grant(
                name, grant_template_runner(template_resource_id), owner=owner,
                principal_id=image.runner_principal_id,
                opts=pulumi.ResourceOptions(parent=self), depends_on=[self.template]))

        self.build_start: Optional[ImageBuildStart] = None
        self.build: Optional[ImageBuild] = None
        if image.build:
            self.build_start, self.build = declare_build(
                name, build_args(image, self.template_document, sub, rg, self.template.name, args.arm_endpoint),
                # After the tag PATCH too: AIB refuses any template write while a run is going.
                pulumi.ResourceOptions(parent=self, depends_on=[self.template, self.tags_patch,
                                                                *self.role_assignments]),
                wait_after=args.build_barrier)

        first = targets[0] if targets else None
        self.lifecycle = self._declare_lifecycle(name, image, args, first)
        self.template_id = self.template.id
        self.template_name = self.template.name
        self.identity_id = pulumi.Output.from_input(identity_id)
        self.identity_principal_id = principal_id
        self.identity_client_id = client_id
        self.gallery_id = pulumi.Output.from_input(first.gallery_id if first else None)
        self.image_definition_id = self._definition_output(first)
        self.staging_resource_group = (self.staging_group.id if self.staging_group is not None
                                       else pulumi.Output.from_input(staging_id))
        none: pulumi.Output[Any] = pulumi.Output.from_input(None)
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

    def _declare_lifecycle(self, name: str, image: ImageConfig, args: ImagePipelineArgs,
                           first: Optional["GalleryTarget"]) -> Optional[ImageVersionLifecycle]:
        """The lifecycle run of the first SharedImage target's image definition, after the build (every new build
        changes its inputs, so the policy runs again). None without a `lifecycle` section: nothing is touched."""
        life = image.lifecycle
        if life is None or first is None:
            return None
        promotion = life.promotion
        validations = image.template.properties.validate_
        deps: list[pulumi.Resource] = [*self.image_definitions.values()]
        if self.build is not None:
            deps.append(self.build)
        promote = args.promote_version_id if args.promote_version_id is not None else (
            promotion.version if promotion else None)
        return ImageVersionLifecycle(f"{name}-lifecycle", LifecycleArgs(
            image_definition_id=first.image_definition_id,
            retention=life.retention.model_dump(by_alias=False, exclude_none=True) if life.retention else None,
            promotion_mode=promotion.mode if promotion else None,
            promote_version_id=promote if promotion and promotion.mode == "manual" else None,
            just_built_version_id=self.build.image_version_id if self.build else None,
            build_run_state=self.build.run_state if self.build else None,
            build_started_at=self.build.start_time if self.build else None,
            validated=bool(validations and validations.in_vm_validations),
            dry_run=life.dry_run,
            arm_endpoint=args.arm_endpoint,
        ), pulumi.ResourceOptions(parent=self, depends_on=deps))

    def _declare_gallery(self, name: str, suffix: str, target: GalleryTarget, spec, options: GalleryOptions,
                         known: dict[str, pulumi.Resource], tags: dict[str, str], retain: bool,
                         child: pulumi.ResourceOptions) -> None:
        # retain_on_delete rather than protect: a routine `pulumi destroy` still succeeds (templates, identities and
        # roles go), while the gallery and definition stay in Azure with the user's image versions. protect=True
        # would fail the whole destroy instead. Opt out with retain_gallery_on_delete=False.
        kept = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=retain))
        location = options.location or spec.location
        key = target.gallery_id.lower()
        gallery = known.get(key)
        if gallery is None:
            gallery = compute.Gallery(
                f"{name}-gallery{suffix}",
                compute.GalleryArgs(gallery_name=target.gallery_name, resource_group_name=target.resource_group,
                                    location=location, description="Golden images built by Azure VM Image Builder",
                                    tags=tags),
                kept)
            known[key] = gallery
        self.galleries[key] = gallery
        definition = options.image_definition
        generation = image_generation(spec)
        security = definition.security_type or ("TrustedLaunchSupported" if generation == "V2" else None)
        features = [compute.GalleryImageFeatureArgs(name=f.name, value=f.value) for f in (definition.features or [])]
        if security and not any(f.name == "SecurityType" for f in (definition.features or [])):
            features.append(compute.GalleryImageFeatureArgs(name="SecurityType", value=security))
        self.image_definitions[target.image_definition_id.lower()] = compute.GalleryImage(
            f"{name}-image-definition{suffix}",
            compute.GalleryImageArgs(
                gallery_name=target.gallery_name, gallery_image_name=target.image_name,
                resource_group_name=target.resource_group, location=location,
                os_type=compute.OperatingSystemTypes(image_os(spec)),
                os_state=compute.OperatingSystemStateTypes(definition.os_state),
                hyper_v_generation=generation,
                identifier=compute.GalleryImageIdentifierArgs(
                    publisher=definition.publisher, offer=definition.offer or self.image_name,
                    sku=definition.sku or pulumi.get_stack()),
                features=features or None, description=definition.description, tags=tags),
            pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(depends_on=[gallery])))

    def _scope_resources(self, grant: Grant) -> list[pulumi.Resource]:
        """Resources this pipeline creates that `grant.scope` names (the assignment must come after them)."""
        scope = grant.scope.lower()
        found: list[pulumi.Resource] = [r for rid, r in self.image_definitions.items() if rid == scope]
        if self.staging_group is not None and (self._staging_id or "").lower() == scope:
            found.append(self.staging_group)
        if self.scripts is not None and self.scripts_storage is not None and \
                self.scripts_storage.container_id.lower() == scope:
            found.append(self.scripts.container)
        return found

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

    def _definition_output(self, first: Optional[GalleryTarget]) -> pulumi.Output[Optional[str]]:
        if first is None:
            return pulumi.Output.from_input(None)
        created = self.image_definitions.get(first.image_definition_id.lower())
        if isinstance(created, compute.GalleryImage):
            return created.id.apply(lambda _: first.image_definition_id)
        return pulumi.Output.from_input(first.image_definition_id)


def build_args(image: ImageConfig, document: Mapping[str, Any], subscription_id: str, resource_group_name: str,
               template_name: pulumi.Input[str], arm_endpoint: Optional[str]) -> BuildArgs:
    """The build of one template: every runOutputName must exist afterwards, and VHDs without a uri (kept only in the
    staging storage account) make the build's delete refuse unless `allowVhdLossOnDelete`."""
    props = image.template.properties
    return BuildArgs(
        subscription_id=subscription_id,
        resource_group_name=resource_group_name,
        image_template_name=template_name,
        api_version=document["apiVersion"],
        build_timeout_minutes=props.build_timeout_in_minutes or 0,
        rebuild_trigger=image.rebuild_trigger,
        run_output_names=[d.run_output_name for d in props.distribute],
        vhd_run_outputs=[d.run_output_name for d in props.distribute if isinstance(d, VhdDistributor) and not d.uri],
        allow_vhd_loss_on_delete=image.allow_vhd_loss_on_delete,
        arm_endpoint=arm_endpoint,
    )


def lifecycle_report(lifecycle: ImageVersionLifecycle) -> pulumi.Output[dict]:
    """The stack-output summary of a lifecycle run (camelCase, like the other exports)."""
    return pulumi.Output.all(
        lifecycle.applied, lifecycle.kept, lifecycle.excluded, lifecycle.deleted, lifecycle.promoted,
        lifecycle.end_of_life, lifecycle.notes,
    ).apply(lambda v: {"dryRun": not v[0], "kept": v[1] or [], "excluded": v[2] or [], "deleted": v[3] or [],
                       "promoted": v[4] or [], "endOfLife": v[5] or {}, "notes": v[6] or []})


def check_os(spec, image_name: str) -> None:
    """The gallery definition and the default build VM size need the OS; fail before any resource when unknown."""
    if image_os(spec) is None and any(isinstance(d, SharedImageDistributor) for d in spec.properties.distribute):
        raise SpecError([Issue(f"images.{image_name}.template.osType",
                               "the source does not tell the image's OS, and the gallery image definition needs it",
                               "add osType: Linux or osType: Windows")])


def _unique(targets: list[GalleryTarget]) -> list[GalleryTarget]:
    seen: dict[str, GalleryTarget] = {}
    for t in targets:
        seen.setdefault(t.image_definition_id.lower(), t)
    return list(seen.values())
