"""Least-privilege role grants for an image pipeline, computed from its spec.

Each `grant_*` function names one intent, lists the exact role and scope in its docstring, and returns a `Grant`
(plain data, testable without Pulumi; this module imports no Pulumi). `template_identity_grants` collects every grant
the template identity needs for one spec; `components.plan.stack` names them and `components.declare.pipeline.declare_grant` is the
one funnel that turns a planned grant into Azure resources (a custom `RoleDefinition` when the grant is not a built-in
role, and a `RoleAssignment`).

Rules this module keeps (reference: peers-and-pain-points §b3, aib-service-api §4):
- Contributor only on the template's dedicated staging resource group; nothing at subscription scope.
- Custom roles carry only the actions the scenario needs and are assigned at the narrowest scope (the gallery image
  definition, the subnet, the source image). Azure accepts only management groups, subscriptions and resource groups
  as `assignableScopes` (a resource id is refused), so each custom role's assignable scope is the resource group that
  holds the resource it is assigned on.
- Role definition ids and role assignment names are uuid5 GUIDs of what they grant, so the same spec gives the same
  names. `principalType` is sent with every assignment and says what the principal is: `ServicePrincipal` for the
  template identity (a managed identity, which can then be assigned at once), the configured type for the CI runner,
  and for the deployer's own upload role what `deployer_principal_type` finds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Optional

from components.plan.naming import (
    builtin_role_id, deterministic_guid, image_definition_id, parts, resource_group_of, short_hash,
    storage_container_scope)
from components.model.customizers import FileFields, ScriptStep
from components.model.distributors import ManagedImageDistributor, SharedImageDistributor
from components.model.models import ImageTemplateSpec
from components.model.sources import ManagedImageSource, SharedImageVersionSource

# Built-in role definition GUIDs (identical in every Azure tenant).
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BUILTIN_NAMES = {CONTRIBUTOR: "Contributor", STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
                 MANAGED_IDENTITY_OPERATOR: "Managed Identity Operator",
                 STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor"}

GALLERY_READ = ("Microsoft.Compute/galleries/read", "Microsoft.Compute/galleries/images/read",
                "Microsoft.Compute/galleries/images/versions/read")
GALLERY_WRITE = (*GALLERY_READ, "Microsoft.Compute/galleries/images/versions/write")
SOURCE_GALLERY_READ = ("Microsoft.Compute/galleries/read",)
SOURCE_VERSION_READ = ("Microsoft.Compute/galleries/images/read", "Microsoft.Compute/galleries/images/versions/read")
MANAGED_IMAGE_WRITE = ("Microsoft.Compute/images/read", "Microsoft.Compute/images/write",
                       "Microsoft.Compute/images/delete")
MANAGED_IMAGE_READ = ("Microsoft.Compute/images/read",)
VNET_READ = ("Microsoft.Network/virtualNetworks/read",)
SUBNET_JOIN = ("Microsoft.Network/virtualNetworks/subnets/join/action",)
TEMPLATE_RUNNER = ("Microsoft.VirtualMachineImages/imageTemplates/read",
                   "Microsoft.VirtualMachineImages/imageTemplates/run/action",
                   "Microsoft.VirtualMachineImages/imageTemplates/cancel/action",
                   "Microsoft.VirtualMachineImages/imageTemplates/runOutputs/read")

PRINCIPAL_TYPE = "ServicePrincipal"
"""The template identity's and every managed identity's principalType."""
USER = "User"
SERVICE_PRINCIPAL_SETTINGS = ("ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH")
SERVICE_PRINCIPAL_SWITCHES = ("ARM_USE_OIDC", "ARM_USE_MSI")


def deployer_principal_type(configured: Optional[str], env: Mapping[str, str]) -> str:
    """What the deploying principal (azure-native's client config objectId) is: `configured` when set; otherwise
    ServicePrincipal when azure-native signs in as an application or managed identity (its ARM_* settings in `env`),
    else User (azure-native falls back to the Azure CLI's `az login`). `configured` None or `auto`: find out."""
    if configured and configured != "auto":
        return configured
    if any(env.get(name) for name in SERVICE_PRINCIPAL_SETTINGS):
        return PRINCIPAL_TYPE
    if any((env.get(name) or "").strip().lower() in ("1", "true", "yes") for name in SERVICE_PRINCIPAL_SWITCHES):
        return PRINCIPAL_TYPE
    return USER


@dataclasses.dataclass(frozen=True)
class Grant:
    """One role on one scope. Either `builtin` (a built-in role GUID) or `actions` (a custom role) is set."""

    key: str
    """What the grant is for (`gallery-writer`); with `per_scope`, the logical name adds a hash of the scope."""
    role: str
    """Built-in role name, or what the custom role is for."""
    scope: str
    """Full resource id the role is assigned at."""
    actions: tuple[str, ...] = ()
    builtin: Optional[str] = None
    reason: str = ""
    per_scope: bool = False
    """True for kinds an image can need on several scopes (two subnets, two gallery targets): their logical names carry
    a hash of the scope, so a second one never renames the first."""

    @property
    def custom(self) -> bool:
        return self.builtin is None

    @property
    def name_key(self) -> str:
        """The logical-name suffix: `key`, plus `-<hash of scope>` for per-scope kinds (never a list position)."""
        return f"{self.key}-{short_hash(self.scope)}" if self.per_scope else self.key

    @property
    def definition_key(self) -> str:
        """The logical-name suffix of a custom role's definition: one definition per kind and assignable scope."""
        return f"{self.key}-{short_hash(self.assignable_scope)}" if self.per_scope else self.key

    @property
    def assignable_scope(self) -> str:
        """The resource group holding `scope` (the narrowest scope Azure accepts in a custom role's assignableScopes)."""
        return resource_group_of(self.scope)

    def role_definition_guid(self, owner: str) -> str:
        """GUID of the custom role: one role per pipeline (`owner`), purpose and scope."""
        return deterministic_guid("role-definition", owner, self.key, self.assignable_scope, *sorted(self.actions))

    @property
    def description(self) -> str:
        """What an assignment of it says it is for."""
        return f"{self.role}: {self.reason}"

    def role_definition_id(self, owner: str) -> str:
        """The subscription-qualified id a role assignment references (ARM's canonical form)."""
        guid = self.builtin or self.role_definition_guid(owner)
        return builtin_role_id(parts(self.scope)["subscription"], guid)

    def assignment_name(self, owner: str, principal_id: str) -> str:
        return deterministic_guid("role-assignment", self.scope, self.role_definition_id(owner), principal_id)


def grant_gallery_image_writer(gallery_image_id: str) -> Grant:
    """Custom role "image version writer" (galleries/read, galleries/images/read, galleries/images/versions/read and
    /write) at the gallery image definition a SharedImage target names; nothing on the rest of the gallery."""
    scope = image_definition_id(gallery_image_id)
    return Grant("gallery-writer", "image version writer", scope, GALLERY_WRITE,
                 reason="AIB writes the new image version into this gallery image definition", per_scope=True)


def grant_managed_image_writer(image_id: str) -> Grant:
    """Custom role "managed image writer" (images/read, /write, /delete) on the resource group a ManagedImage target
    writes to (the image does not exist before the first build, so the group is the narrowest scope)."""
    return Grant("managed-image-writer", "managed image writer", resource_group_of(image_id), MANAGED_IMAGE_WRITE,
                 reason="AIB creates the managed image in this resource group", per_scope=True)


def is_direct_shared(image_version_id: str) -> bool:
    """A Direct Shared Gallery version (`/subscriptions/.../providers/Microsoft.Compute/locations/<region>/
    sharedGalleries/...`), which is shared, not role-assigned."""
    return "/sharedgalleries/" in image_version_id.lower()


def grant_source_reader(spec: ImageTemplateSpec) -> list[Grant]:
    """Custom role "source image reader" on the source image: images/read on a ManagedImage source; for a
    SharedImageVersion source, galleries/images/read and galleries/images/versions/read on its image definition and,
    as a role of its own, galleries/read on its gallery (the service reads the gallery itself, which an assignment on
    a definition below it does not cover; nothing else of the gallery). Marketplace (PlatformImage) sources need
    nothing."""
    source = spec.properties.source
    if isinstance(source, ManagedImageSource):
        return [Grant("source-reader", "source image reader", source.image_id, MANAGED_IMAGE_READ,
                      reason="AIB reads the source managed image")]
    if isinstance(source, SharedImageVersionSource) and is_direct_shared(source.image_version_id):
        return []  # a Direct Shared Gallery is shared with the subscription or tenant: no role grants access to it
    if isinstance(source, SharedImageVersionSource):
        definition = image_definition_id(source.image_version_id)
        return [Grant("source-reader", "source image reader", definition, SOURCE_VERSION_READ,
                      reason="AIB reads the source gallery image version"),
                Grant("source-gallery-reader", "source gallery reader", definition.rsplit("/images/", 1)[0],
                      SOURCE_GALLERY_READ, reason="AIB reads the gallery of the source image version")]
    return []


def grant_vnet_reader(subnet_id: str) -> Grant:
    """Custom role "vnet reader" (virtualNetworks/read) on the virtual network holding the build subnet: the service
    reads the VNet itself, which an assignment on a subnet does not cover."""
    return Grant("vnet-reader", "vnet reader", subnet_id.rsplit("/subnets/", 1)[0], VNET_READ,
                 reason="AIB reads the virtual network the build subnet belongs to", per_scope=True)


def grant_subnet_join(subnet_id: str) -> Grant:
    """Custom role "subnet joiner" (virtualNetworks/subnets/join/action) on one subnet the build VM (subnetId) or
    the isolated-build container (containerInstanceSubnetId) joins."""
    return Grant("subnet-join", "subnet joiner", subnet_id, SUBNET_JOIN,
                 reason="the build VM or its build container joins this subnet", per_scope=True)


def grant_script_reader(container_scope: str) -> Grant:
    """Built-in Storage Blob Data Reader on one blob container that holds scripts or files the template downloads
    (the service downloads them as the template identity, even for public blobs)."""
    return Grant("scripts-reader", BUILTIN_NAMES[STORAGE_BLOB_DATA_READER], container_scope,
                 builtin=STORAGE_BLOB_DATA_READER, reason="customizers download scripts from this container", per_scope=True)


def grant_repository_files_reader(container_scope: str) -> Grant:
    """Built-in Storage Blob Data Reader on the one blob container the pipeline uploads repository files to (`script`,
    `sourceFile`); nothing else in that storage account."""
    return Grant("repo-files-reader", BUILTIN_NAMES[STORAGE_BLOB_DATA_READER], container_scope,
                 builtin=STORAGE_BLOB_DATA_READER, reason="customizers download repository files from this container")


PRINCIPAL_TYPE_CHANGE_REPLACES: dict[str, Any] = {"replace_on_changes": ["principalType"],
                                                  "delete_before_replace": True}
"""Options of an assignment whose principalType may change (the runner's, the deployer's upload role): azure-native
would PUT the change in place (its forceNewMap replaces a role assignment only on principalId and scope), and ARM
answers writes to an existing assignment with RoleAssignmentUpdateNotPermitted when they change it (e.g.
Azure/acs-engine#2916); so the engine replaces it, deleting the old one first, because ARM holds one assignment per
principal, role and scope."""


def grant_script_uploader(container_scope: str) -> Grant:
    """Built-in Storage Blob Data Contributor on the repository-files container, for the deploying principal: the
    storage account refuses shared keys, so uploads use Microsoft Entra ID and need a data role."""
    return Grant("repo-files-uploader", BUILTIN_NAMES[STORAGE_BLOB_DATA_CONTRIBUTOR], container_scope,
                 builtin=STORAGE_BLOB_DATA_CONTRIBUTOR, reason="the deployment uploads repository files here")


def grant_identity_operator(identity_id: str) -> Grant:
    """Built-in Managed Identity Operator on one identity attached to the build VM (vmProfile.userAssignedIdentities):
    the service must be allowed to assign it."""
    return Grant("identity-operator", BUILTIN_NAMES[MANAGED_IDENTITY_OPERATOR], identity_id,
                 builtin=MANAGED_IDENTITY_OPERATOR, reason="AIB attaches this identity to the build VM", per_scope=True)


def grant_staging_contributor(resource_group_id: str) -> Grant:
    """Built-in Contributor on the template's dedicated, empty staging resource group (the only Contributor the
    pipeline grants): AIB creates the build VM, its disks, network and storage account there. Per scope, because the
    group is per template revision: a revert finds the earlier revision's grant in state beside the later one."""
    return Grant("staging-contributor", BUILTIN_NAMES[CONTRIBUTOR], resource_group_id, builtin=CONTRIBUTOR,
                 reason="AIB creates its build resources in this staging resource group", per_scope=True)


def grant_template_runner(template_id: str) -> Grant:
    """Custom role "template runner" (imageTemplates/read, /run/action, /cancel/action, /runOutputs/read) on one image
    template, for a CI principal that starts and follows builds; it cannot change or delete the template."""
    return Grant("runner", "template runner", template_id, TEMPLATE_RUNNER,
                 reason="a CI principal starts, cancels and reads builds of this template")


def script_containers(spec: ImageTemplateSpec, storage_account_id: str) -> list[str]:
    """Container scopes of every script and file URI of `spec` that lives in `storage_account_id`."""
    return sorted({c for uri in step_uris(spec) if (c := storage_container_scope(storage_account_id, uri))})


def step_uris(spec: ImageTemplateSpec) -> list[str]:
    props = spec.properties
    steps = [*(props.customize or []), *((props.validate_.in_vm_validations or []) if props.validate_ else [])]
    uris = [s.script_uri if isinstance(s, ScriptStep) else s.source_uri if isinstance(s, FileFields) else None
            for s in steps]
    workload = props.optimize.workload if props.optimize else None
    return [u for u in [*uris, workload.script_uri if workload else None] if u]


def template_identity_grants(spec: ImageTemplateSpec, *, staging_resource_group_id: Optional[str] = None,
                             scripts_storage_account_id: Optional[str] = None) -> list[Grant]:
    """Every grant the template identity needs for `spec`, without repeats (same kind, same scope).

    `staging_resource_group_id`: the staging group the identity must be Contributor on (None when the service makes
    its own IT_* group and grants itself). `scripts_storage_account_id`: the account whose containers hold scripts.
    """
    props = spec.properties
    grants: list[Grant] = []
    for d in props.distribute:
        if isinstance(d, SharedImageDistributor):
            grants.append(grant_gallery_image_writer(d.gallery_image_id))
        elif isinstance(d, ManagedImageDistributor):
            grants.append(grant_managed_image_writer(d.image_id))
    grants += grant_source_reader(spec)
    vnet = props.vm_profile.vnet_config if props.vm_profile else None
    if vnet is not None:
        subnets = [s for s in (vnet.subnet_id, vnet.container_instance_subnet_id) if s]
        grants += [grant_vnet_reader(s) for s in subnets] + [grant_subnet_join(s) for s in subnets]
    if scripts_storage_account_id:
        grants += [grant_script_reader(c) for c in script_containers(spec, scripts_storage_account_id)]
    for identity in (props.vm_profile.user_assigned_identities or []) if props.vm_profile else []:
        grants.append(grant_identity_operator(identity))
    if staging_resource_group_id:
        grants.append(grant_staging_contributor(staging_resource_group_id))
    return unique_grants(grants)


def unique_grants(grants: Iterable[Grant]) -> list[Grant]:
    """`grants` without repeats (same kind, same scope, same role), first occurrence kept."""
    unique: dict[tuple, Grant] = {}
    for g in grants:
        unique.setdefault((g.key, g.scope.lower(), g.builtin, g.actions), g)
    return list(unique.values())


def number_keys(grants: Iterable[Grant]) -> list[Grant]:
    """The keys of earlier versions, only to alias their state: repeats dropped, and keys that occur more than once
    numbered by position (`subnet-join-0`, `-1`), which renamed a grant when a second one appeared."""
    unique = unique_grants(grants)
    counts: dict[str, int] = {}
    for g in unique:
        counts[g.key] = counts.get(g.key, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for g in unique:
        if counts[g.key] > 1:
            n = seen.get(g.key, 0)
            seen[g.key] = n + 1
            g = dataclasses.replace(g, key=f"{g.key}-{n}")
        out.append(g)
    return out
