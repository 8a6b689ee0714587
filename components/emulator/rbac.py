"""Role-based access control: built-in roles, action matching, and what a template's identity needs.

This module owns the permission model. `BUILTIN_ROLES` are the built-in role definitions the emulator
serves; `allows()` matches an action against a role's `actions`/`notActions` with ARM's `*` wildcards;
`requirements()` derives from an image template the (action, scope) pairs its identity must hold at run
time (reference §4). The check itself (principal -> assignments -> definitions) lives in `state.py`, which
owns the stores. A requirement is only enforced when its scope lies in a resource group the emulator
knows; ids in unknown resource groups are treated as external resources the emulator cannot judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.emulator import ids

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
MI_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


def _perm(actions=(), not_actions=(), data_actions=(), not_data_actions=()) -> list[dict]:
    return [
        {
            "actions": list(actions),
            "notActions": list(not_actions),
            "dataActions": list(data_actions),
            "notDataActions": list(not_data_actions),
        }
    ]


BUILTIN_ROLES: dict[str, dict] = {
    CONTRIBUTOR: {
        "roleName": "Contributor",
        "description": "Grants full access to manage all resources, but does not allow you to assign roles in "
        "Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        "permissions": _perm(
            ["*"],
            [
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action",
                "Microsoft.Purview/consents/write",
                "Microsoft.Purview/consents/delete",
            ],
        ),
    },
    OWNER: {
        "roleName": "Owner",
        "description": "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        "permissions": _perm(["*"]),
    },
    READER: {
        "roleName": "Reader",
        "description": "View all resources, but does not allow you to make any changes.",
        "permissions": _perm(["*/read"]),
    },
    BLOB_DATA_READER: {
        "roleName": "Storage Blob Data Reader",
        "description": "Allows for read access to Azure Storage blob containers and data",
        "permissions": _perm(
            ["Microsoft.Storage/storageAccounts/blobServices/containers/read",
             "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
            data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
        ),
    },
    BLOB_DATA_CONTRIBUTOR: {
        "roleName": "Storage Blob Data Contributor",
        "description": "Allows for read, write and delete access to Azure Storage blob containers and data",
        "permissions": _perm(
            ["Microsoft.Storage/storageAccounts/blobServices/containers/delete",
             "Microsoft.Storage/storageAccounts/blobServices/containers/read",
             "Microsoft.Storage/storageAccounts/blobServices/containers/write",
             "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
            data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
                          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
                          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
                          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"],
        ),
    },
    MI_OPERATOR: {
        "roleName": "Managed Identity Operator",
        "description": "Read and Assign User Assigned Identity",
        "permissions": _perm(
            ["Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
             "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
             "Microsoft.Authorization/*/read",
             "Microsoft.Insights/alertRules/*",
             "Microsoft.Resources/subscriptions/resourceGroups/read",
             "Microsoft.Resources/deployments/*",
             "Microsoft.Support/*"],
        ),
    },
}


def builtin_body(guid: str, sub: str | None) -> dict:
    role = BUILTIN_ROLES[guid]
    prefix = f"/subscriptions/{sub}" if sub else ""
    return {
        "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role["roleName"],
            "type": "BuiltInRole",
            "description": role["description"],
            "assignableScopes": ["/"],
            "permissions": role["permissions"],
        },
    }


def _pattern(action_glob: str) -> re.Pattern:
    # ARM lets `a/*/b` also match `a/b` (Managed Identity Operator's `userAssignedIdentities/*/assign/action`
    # grants `userAssignedIdentities/assign/action`), so a `/*/` may collapse to a single slash.
    rx = re.escape(action_glob).replace(r"/\*/", "/(?:.*/)?").replace(r"\*", ".*")
    return re.compile(f"^{rx}$", re.I)


def allows(permissions: list[dict], action: str) -> bool:
    """True when some permission block grants `action` through `actions` and does not exclude it."""
    for block in permissions or []:
        granted = any(_pattern(a).match(action) for a in block.get("actions") or [])
        denied = any(_pattern(a).match(action) for a in block.get("notActions") or [])
        if granted and not denied:
            return True
    return False


def allows_data(permissions: list[dict], data_action: str) -> bool:
    """True when some permission block grants `data_action` through `dataActions` (blob reads are data actions:
    Owner's or Contributor's `*` does not cover them)."""
    for block in permissions or []:
        granted = any(_pattern(a).match(data_action) for a in block.get("dataActions") or [])
        denied = any(_pattern(a).match(data_action) for a in block.get("notDataActions") or [])
        if granted and not denied:
            return True
    return False


@dataclass(frozen=True)
class Requirement:
    action: str
    scope: str  # the resource id the action must be allowed on; reported in the Not authorized text


#: Actions that stand for "Contributor-level write" on a user-supplied staging resource group.
STAGING_ACTIONS = (
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Network/virtualNetworks/write",
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.ContainerInstance/containerGroups/write",
)


def _definition_of(gallery_image_id: str) -> str:
    return re.sub(r"/versions/[^/]+$", "", gallery_image_id, flags=re.I)


def requirements(props: dict, staging_user_supplied: str | None) -> list[Requirement]:
    """The (action, scope) pairs the template identity needs to run this template (reference §4)."""
    reqs: list[Requirement] = []
    src = props.get("source") or {}
    if src.get("type") == "ManagedImage" and src.get("imageId"):
        reqs.append(Requirement("Microsoft.Compute/images/read", src["imageId"]))
    if src.get("type") == "SharedImageVersion" and src.get("imageVersionId"):
        vid = src["imageVersionId"]
        reqs += [
            Requirement("Microsoft.Compute/galleries/read", re.sub(r"/images/.*$", "", vid, flags=re.I)),
            Requirement("Microsoft.Compute/galleries/images/read", _definition_of(vid)),
            Requirement("Microsoft.Compute/galleries/images/versions/read", vid),
        ]
    for d in props.get("distribute") or []:
        if d.get("type") == "SharedImage" and d.get("galleryImageId"):
            definition = _definition_of(d["galleryImageId"])
            reqs += [
                Requirement("Microsoft.Compute/galleries/images/read", definition),
                Requirement("Microsoft.Compute/galleries/images/versions/write", definition),
            ]
        elif d.get("type") == "ManagedImage" and d.get("imageId"):
            rg = ids.rg_id_of(d["imageId"]) or d["imageId"]
            reqs += [Requirement(f"Microsoft.Compute/images/{a}", rg) for a in ("write", "read", "delete")]
    vm = props.get("vmProfile") or {}
    vnet = vm.get("vnetConfig") or {}
    if vnet.get("subnetId"):
        vnet_id = re.sub(r"/subnets/[^/]+$", "", vnet["subnetId"], flags=re.I)
        reqs += [
            Requirement("Microsoft.Network/virtualNetworks/read", vnet_id),
            Requirement("Microsoft.Network/virtualNetworks/subnets/join/action", vnet["subnetId"]),
        ]
    if vnet.get("containerInstanceSubnetId"):
        reqs.append(
            Requirement("Microsoft.Network/virtualNetworks/subnets/join/action", vnet["containerInstanceSubnetId"])
        )
    for uai in vm.get("userAssignedIdentities") or []:
        reqs.append(Requirement("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", uai))
    if staging_user_supplied:
        reqs += [Requirement(a, staging_user_supplied) for a in STAGING_ACTIONS]
    return reqs
