"""`ImageTemplateSpec`: one Azure VM Image Builder template, typed and validated.

The sections mirror the AIB template document (type, apiVersion, location, tags, identity,
properties{...}), so the template reference reads as this model's documentation and an AIB JSON
template parses as-is. A few project extensions sit beside them (`osType`, `hyperVGeneration`,
`allowHttpUris`, `deprovision`); they steer pre-flight checks and rendering and are never sent to
Azure as such.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from components.model.base import SpecModel
from components.model.customizers import Customizer, InVMValidator
from components.model.distributors import NAME_PATTERN, Distribute
from components.model.errors import rule_error
from components.model.formats import SHA256_PATTERN
from components.model.ids import ResourceGroupId, SubnetId, UserAssignedIdentityId
from components.model.sources import Source

TEMPLATE_TYPE = "Microsoft.VirtualMachineImages/imageTemplates"
DEFAULT_API_VERSION = "2024-02-01"
KNOWN_API_VERSIONS = (
    "2019-05-01-preview", "2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01",
    "2023-07-01", "2024-02-01", "2025-10-01",
)
OnBuildError = Literal["cleanup", "abort"]
State = Literal["Enabled", "Disabled"]


class UserAssignedIdentityValue(SpecModel):
    """Read-only principalId/clientId, as returned by the service; ignored on input."""

    principal_id: Optional[str] = None
    client_id: Optional[str] = None


class Identity(SpecModel):
    """The one user-assigned identity the service uses to read sources and write artifacts.

    `type: None` (a spec value) means no identity here: the pipeline creates one, and a template rendered on its own
    needs one ("Required": seed 003, Identity)."""

    type: Literal["UserAssigned", "None"] = "UserAssigned"
    user_assigned_identities: Optional[dict[UserAssignedIdentityId, UserAssignedIdentityValue]] = None

    @model_validator(mode="after")
    def _exactly_one(self):
        count = len(self.user_assigned_identities or {})
        if self.type == "None" and count:
            raise rule_error(f"type 'None' takes no identities, {count} given", field="userAssignedIdentities",
                             hint="set type: UserAssigned, or drop userAssignedIdentities")
        if self.type == "UserAssigned" and count != 1:
            # "Supports a single identity only" (seed 003, Identity).
            raise rule_error(f"exactly one identity is required, {count} given",
                             field="userAssignedIdentities", hint="the service supports a single identity")
        return self

    @property
    def identity_id(self) -> Optional[str]:
        """The identity's resource id; None for type 'None'."""
        return next(iter(self.user_assigned_identities or {}), None)


class VnetConfig(SpecModel):
    """Build in an existing virtual network (isolated builds use a container-instance subnet)."""

    subnet_id: Optional[SubnetId] = None
    container_instance_subnet_id: Optional[SubnetId] = None
    """Subnet delegated to Azure Container Instances, same VNet as subnetId (API 2024-02-01)."""
    proxy_vm_size: Optional[str] = None
    """Size of the proxy VM for non-isolated builds. Default Standard_A1_v2."""

    @model_validator(mode="after")
    def _combination(self):
        # imagebuilder.json (2024-02-01+), VirtualNetworkConfig: proxyVmSize "must not be specified if
        # containerInstanceSubnetId is specified"; containerInstanceSubnetId "can be specified only if subnetId is
        # specified and must be on the same Virtual Network as the subnet specified in subnetId".
        if self.proxy_vm_size and self.container_instance_subnet_id:
            raise rule_error("'proxyVmSize' and 'containerInstanceSubnetId' cannot be used together",
                             field="proxyVmSize", hint="isolated builds need no proxy VM; drop proxyVmSize")
        if self.container_instance_subnet_id and not self.subnet_id:
            raise rule_error("'containerInstanceSubnetId' needs 'subnetId'", field="subnetId",
                             hint="add the build VM's subnetId")
        if self.subnet_id and self.container_instance_subnet_id:
            vnet = self.subnet_id.lower().rsplit("/subnets/", 1)[0]
            if self.container_instance_subnet_id.lower().rsplit("/subnets/", 1)[0] != vnet:
                raise rule_error("'containerInstanceSubnetId' must be in the same virtual network as 'subnetId'",
                                 field="containerInstanceSubnetId")
        return self


class VmProfile(SpecModel):
    vm_size: Optional[str] = None
    """Build VM size. Default: Standard_D1_v2 for Gen1 images, Standard_D2ds_v4 for Gen2."""
    os_disk_size_gb: Optional[int] = Field(default=None, ge=0, alias="osDiskSizeGB")
    """OS disk size in GB; 0 keeps the source's size. It can only grow."""
    user_assigned_identities: Optional[list[UserAssignedIdentityId]] = None
    """Identities attached to the build and validation VMs; the template identity needs Managed Identity Operator on each."""
    vnet_config: Optional[VnetConfig] = None


class Validate(SpecModel):
    continue_distribute_on_failure: Optional[bool] = None
    """Distribute even if validation fails (the run still reports failure). Default false."""
    source_validation_only: Optional[bool] = None
    """Validate the source image directly, without building; no customizers allowed. Default false."""
    in_vm_validations: Optional[list[InVMValidator]] = Field(default=None, alias="inVMValidations")


class VmBoot(SpecModel):
    state: Optional[State] = None
    """Enabled or Disabled (optional in the spec; the service's default is Enabled)."""


class WorkloadOptimization(SpecModel):
    """API 2025-10-01 and later."""

    state: Optional[State] = None
    script_uri: Optional[str] = None
    sha256_checksum: Optional[str] = Field(default=None, pattern=SHA256_PATTERN)


class Optimize(SpecModel):
    vm_boot: Optional[VmBoot] = None
    """Improve first-boot time of VMs created from the image."""
    workload: Optional[WorkloadOptimization] = None


class ErrorHandling(SpecModel):
    on_customizer_error: Optional[OnBuildError] = None
    """cleanup (default) removes the build VM; abort keeps it for debugging."""
    on_validation_error: Optional[OnBuildError] = None


class AutoRun(SpecModel):
    state: Optional[State] = None
    """Enabled starts a build when the template is created."""


class DataDisk(SpecModel):
    size_gb: Optional[int] = Field(default=None, ge=0, alias="sizeGB")


class DeprovisionOverride(SpecModel):
    """Project extension: replace the default deprovision (sysprep / waagent) commands.

    Rendered as a last customizer that writes /tmp/DeprovisioningScript.sh (Linux) or
    c:\\DeprovisioningScript.ps1 (Windows), the files the service reads.
    """

    commands: list[str] = Field(min_length=1)


class ImageTemplateProperties(SpecModel):
    source: Source
    customize: Optional[list[Customizer]] = None
    """Steps run on the build VM, in order."""
    validate_: Optional[Validate] = Field(default=None, alias="validate")
    distribute: list[Distribute]
    """The targets (an empty list is a warning: the build then publishes nothing); runOutputName unique across them."""
    build_timeout_in_minutes: Optional[int] = Field(default=None, ge=0, le=960)
    """0 (the service default, 240 minutes) or 6 to 960."""
    vm_profile: Optional[VmProfile] = None
    staging_resource_group: Optional[ResourceGroupId] = None
    """Existing empty resource group (same region, this template only) for build resources; default: one the service makes (IT_*)."""
    optimize: Optional[Optimize] = None
    error_handling: Optional[ErrorHandling] = None
    auto_run: Optional[AutoRun] = None
    managed_resource_tags: Optional[dict[str, str]] = None
    """Tags applied to the staging resource group and the resources the service creates in it."""
    additional_data_disks: Optional[list[DataDisk]] = None
    """API 2025-10-01 and later."""


class ImageTemplateSpec(SpecModel):
    """A complete Azure VM Image Builder template."""

    type: Optional[Literal["Microsoft.VirtualMachineImages/imageTemplates"]] = None
    api_version: Optional[Literal[KNOWN_API_VERSIONS]] = None  # type: ignore[valid-type]
    """API version of the document; rendering uses 2024-02-01 unless a newer field needs 2025-10-01."""
    name: Optional[str] = Field(default=None, pattern=NAME_PATTERN)
    """Template name. The pipeline component appends a content hash, because templates cannot be updated."""
    location: str = Field(min_length=1, examples=["westeurope"])
    tags: Optional[dict[str, str]] = None
    identity: Optional[Identity] = None
    """Exactly one user-assigned identity; the pipeline component creates one when this is omitted."""
    properties: ImageTemplateProperties

    # Project extensions (not AIB fields).
    os_type: Optional[Literal["Linux", "Windows"]] = None
    """Extension: the image's OS, when the source does not tell (managed image or gallery source)."""
    hyper_v_generation: Optional[Literal["V1", "V2"]] = Field(default=None, alias="hyperVGeneration")
    """Extension: VM generation, when the source does not tell. Gen2 SKUs are recognised by name."""
    allow_http_uris: bool = False
    """Extension: accept plain http script and file URIs (an error by default)."""
    deprovision: Optional[DeprovisionOverride] = None
