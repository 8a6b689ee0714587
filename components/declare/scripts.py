"""Scripts from the repository: where a pipeline's repository files go, and the resources that put them there.

A step may name a file next to the stack (`script: scripts/setup.sh`, `sourceFile: files/motd`).
`spec.local_files` checks and hashes those files; this module decides their blob container and declares:

- the storage account (unless the config names one in `scriptsStorageAccountId`): one per pipeline, named from the
  subscription, resource group and image (`naming.scripts_account_name`), so every blob URL is known at preview and
  goes into the rendered template (and its hash). Shared-key access off, public blob access off, cross-tenant
  object replication off, TLS 1.2, https only; blob soft delete and versioning on (`storage.BlobServiceProperties`),
  so a replaced or deleted script can be recovered and audited. `ScriptsNetwork` optionally denies public network
  access except from the listed subnets and IP ranges. Caveat: the build VM then reaches the account only through
  one of those subnets (a build in an existing VNet, `vmProfile.vnetConfig`), and the deployer uploading the files
  needs an allowed IP range or a network path too. Infrastructure (double) encryption is not set: it can only be
  chosen when an account is created, so existing stacks would have to replace their account;
  Per pipeline rather than per stack so the component stays self-contained (it needs nothing from the stack program)
  and each image's identity can read its own scripts and nothing else;
- the blob container (public access None): `scripts`, or `aib-<stack>-<image>` in a caller-named account;
- one `ScriptBlob` per distinct file, named `<sha256>/<file name>` (`script_blob.py`, uploads with Entra ID);
- the roles: Storage Blob Data Reader on that container for the template identity, and Storage Blob Data Contributor
  on it for the deploying principal (uploads cannot use keys), both unless `manageRoles: false`.

`resolve_local_files` is the pre-flight door for callers holding a whole stack config.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import pulumi
from pulumi_azure_native import authorization, storage

from components.plan.stack import ScriptStorage
from components.plan.roles import (
    PRINCIPAL_TYPE_CHANGE_REPLACES, Grant, grant_repository_files_reader)
from components.providers.script_blob import ScriptBlob
from components.model.errors import SpecError
from components.model.local_files import LocalAsset, has_local_files, resolve_images, resolve_template
from components.model.stack import StackConfig

__all__ = ["LocalAsset", "ScriptStorage", "ScriptsDeclared", "ScriptsNetwork", "declare_script_storage", "has_local_files",
           "resolve_local_files", "resolve_template"]


def resolve_local_files(stack: StackConfig, project_dir: str | Path) -> tuple[StackConfig, dict[str, list[LocalAsset]]]:
    """The stack with every repository file's checksum filled in, and the files of each image; `SpecError` naming
    the config path of every missing, oversized, directory or out-of-project file."""
    specs, assets, issues = resolve_images([(n, i.template) for n, i in stack.images.items()], project_dir)
    if issues:
        raise SpecError(issues)
    images = {n: i.model_copy(update={"template": specs[n]}) for n, i in stack.images.items()}
    return stack.model_copy(update={"images": images}), assets


#: Days a deleted blob (or blob version) and a deleted container stay recoverable.
SOFT_DELETE_DAYS = 7


@dataclasses.dataclass(frozen=True)
class ScriptsNetwork:
    """Network access to a created scripts storage account. Default: reachable from any network (with Entra ID)."""

    deny_public: bool = False
    """Deny every network except `subnet_ids` and `ip_ranges` (ARM networkAcls defaultAction Deny; trusted Azure
    services bypass). The build VM must then reach the account through one of the subnets."""
    subnet_ids: tuple[str, ...] = ()
    """Subnets allowed in (each needs the Microsoft.Storage service endpoint)."""
    ip_ranges: tuple[str, ...] = ()
    """Public IP addresses or CIDR ranges allowed in (for example the deployer's, which uploads the files)."""

    def rule_set(self) -> Optional[storage.NetworkRuleSetArgs]:
        if not self.deny_public:
            return None
        return storage.NetworkRuleSetArgs(
            default_action=storage.DefaultAction.DENY, bypass=storage.Bypass.AZURE_SERVICES,
            virtual_network_rules=[storage.VirtualNetworkRuleArgs(virtual_network_resource_id=s)
                                   for s in self.subnet_ids],
            ip_rules=[storage.IPRuleArgs(i_p_address_or_range=r) for r in self.ip_ranges])


def _declare_account(where: ScriptStorage, *, location: str, tags: dict[str, str],
                     network: ScriptsNetwork, opts: pulumi.ResourceOptions) -> storage.StorageAccount:
    """The scripts storage account, hardened, and its blob service's soft delete and versioning."""
    account = storage.StorageAccount(
        where.account_logical_name,
        storage.StorageAccountArgs(
            account_name=where.account_name, resource_group_name=where.resource_group, location=location,
            kind=storage.Kind.STORAGE_V2, sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            allow_shared_key_access=False, allow_blob_public_access=False, allow_cross_tenant_replication=False,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2, enable_https_traffic_only=True,
            network_rule_set=network.rule_set(), tags=tags),
        opts)
    retention = storage.DeleteRetentionPolicyArgs(enabled=True, days=SOFT_DELETE_DAYS)
    storage.BlobServiceProperties(
        where.blob_service_logical_name,
        storage.BlobServicePropertiesArgs(
            account_name=where.account_name, resource_group_name=where.resource_group, blob_services_name="default",
            is_versioning_enabled=True, delete_retention_policy=retention,
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=SOFT_DELETE_DAYS)),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[account])))
    return account


@dataclasses.dataclass
class ScriptsDeclared:
    account: Optional[storage.StorageAccount]
    container: storage.BlobContainer
    blobs: list[ScriptBlob]
    reader: Grant
    """The template identity's grant (declared by the pipeline with its other grants)."""
    uploader: Optional[authorization.RoleAssignment]


def declare_script_storage(name: str, where: ScriptStorage, assets: list[LocalAsset], *, location: str,
                           tags: dict[str, str], manage_roles: bool, opts: pulumi.ResourceOptions,
                           network: Optional[ScriptsNetwork] = None) -> ScriptsDeclared:
    """The storage account (when created, hardened: see the module docstring), the container, the deployer's upload
    role and one blob per file, under the logical names `where` plans (as children of pipeline `name`, when `where`
    names none). `network`: who may reach a created account (default: what `where` plans)."""
    if not where.pipeline:
        where = dataclasses.replace(where, pipeline=name)
    if network is None:
        network = ScriptsNetwork(where.deny_public, where.subnet_ids, where.ip_ranges)
    account: Optional[storage.StorageAccount] = None
    container_opts = opts
    if where.created:
        account = _declare_account(where, location=location, tags=tags, network=network, opts=opts)
        container_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[account]))
    container = storage.BlobContainer(
        where.container_logical_name,
        storage.BlobContainerArgs(account_name=where.account_name, resource_group_name=where.resource_group,
                                  container_name=where.container_name, public_access=storage.PublicAccess.NONE),
        container_opts)
    uploader: Optional[authorization.RoleAssignment] = None
    blob_deps: list[pulumi.Resource] = [container]
    if manage_roles:
        uploader = _declare_uploader(where, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[container])))
        blob_deps.append(uploader)
    blob_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=blob_deps))
    # Named by path, so synth reads well; an edited file is a replacement (create the new blob, then delete the old).
    blobs = [ScriptBlob(where.file_logical_name(asset.path),
                        account_name=where.account_name,
                        container_name=where.container_name, blob_name=asset.blob_name, sha256=asset.sha256,
                        source_path=asset.absolute_path, project_path=asset.path, opts=blob_opts)
             for asset in assets]
    return ScriptsDeclared(account, container, blobs, grant_repository_files_reader(where.container_id), uploader)


def _declare_uploader(where: ScriptStorage, opts: pulumi.ResourceOptions) -> authorization.RoleAssignment:
    """Storage Blob Data Contributor on the container for whoever runs the deployment, with the principal type the plan
    found for it (`deployerPrincipalType`: a user at a laptop, a service principal in CI). Assignments made before the
    type was sent are replaced, deleting first: Azure keeps one assignment per principal, role and scope."""
    grant = where.uploader
    deployer = authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=opts.parent)).object_id
    role_definition_id = grant.role_definition_id("")
    return authorization.RoleAssignment(
        where.uploader_logical_name,
        authorization.RoleAssignmentArgs(
            scope=grant.scope, role_definition_id=role_definition_id, principal_id=deployer,
            role_assignment_name=deployer.apply(lambda pid: grant.assignment_name("", pid)),
            principal_type=where.deployer_principal_type, description=grant.description),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(**PRINCIPAL_TYPE_CHANGE_REPLACES)))

