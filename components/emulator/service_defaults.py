"""What Azure adds to a resource beside its PUT body: read-only properties and the defaults the service fills in.

This module owns the table `SERVICE_ADDS`: per resource type, each property the official REST API examples show in
a response that a PUT of the minimal body would come back with, and the example it comes from (a path in the public
repository Azure/azure-rest-api-specs). `generic.py` applies it to every PUT, so the PUT's answer and every later GET
carry it, and adoption (import) and refresh are exercised against what Azure answers, not an echo of the request.

Two kinds of entry:
- read-only (the service's own value: ids, times, endpoints): set at creation and kept across later PUTs;
- default (a writable property the request may leave out): a PUT that leaves it out keeps what the resource had,
  else gets the service's default.

Not here, and why: a gallery image's `architecture` (no official GalleryImage example response shows it, though the
portal and CLI report `x64`); a role assignment's `roleDefinitionId` shortened to `/providers/...` as the
2022-04-01 examples show (the emulator keeps the form it was given: rbac.py compares them); resource groups (no
example for 2024-03-01; `properties.provisioningState` is set by generic.py); virtual networks and subnets.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from components.emulator import lro

_SPECS = "Azure/azure-rest-api-specs: specification/"
_GALLERY = _SPECS + "compute/resource-manager/Microsoft.Compute/GalleryRP/stable/2024-03-03/examples/galleryExamples/"
_MSI = _SPECS + "msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31/examples/"
_AUTHZ = _SPECS + "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/"
_AUTHZ_PREVIEW = _SPECS + "authorization/resource-manager/Microsoft.Authorization/preview/2022-05-01-preview/examples/"
_STORAGE = _SPECS + "storage/resource-manager/Microsoft.Storage/stable/2024-01-01/examples/"


@dataclass(frozen=True)
class Context:
    """What a value may depend on: the resource's id, name, subscription and location, and the time of the PUT."""

    path: str
    name: str
    subscription: str
    location: Optional[str]
    now: float
    sku_name: Optional[str] = None
    blob_endpoint: Optional[str] = None


Value = Union[Callable[[Context], Any], Any]


@dataclass(frozen=True)
class Added:
    """One property the service adds: where in the ARM body (`path`), its value (a constant, or a function of the
    `Context`; None: not added for this resource), the example that shows it, and whether it is read-only."""

    path: tuple[str, ...]
    value: Value
    source: str
    read_only: bool = True
    kept: bool = True
    """A read-only value made once and kept across PUTs (False: made again on each PUT)."""

    def value_for(self, ctx: Context) -> Any:
        return copy.deepcopy(self.value(ctx) if callable(self.value) else self.value)


def _default(path: tuple[str, ...], value: Value, source: str) -> Added:
    return Added(path, value, source, read_only=False)


def _storage_endpoints(ctx: Context) -> dict[str, str]:
    # The blob endpoint may be a local blob service (Azurite, path-style): builds download from it.
    blob = f"{ctx.blob_endpoint.rstrip('/')}/{ctx.name}/" if ctx.blob_endpoint else \
        f"https://{ctx.name}.blob.core.windows.net/"
    return {"blob": blob, **{svc: f"https://{ctx.name}.{svc}.core.windows.net/"
                             for svc in ("dfs", "file", "queue", "table", "web")}}


def _encryption(ctx: Context) -> dict[str, Any]:
    service = {"enabled": True, "keyType": "Account", "lastEnabledTime": lro.iso(ctx.now)}
    return {"keySource": "Microsoft.Storage", "services": {"blob": dict(service), "file": dict(service)}}


def _sku_tier(ctx: Context) -> Optional[str]:
    if not ctx.sku_name:
        return None
    return "Premium" if ctx.sku_name.lower().startswith("premium") else "Standard"


def _etag(ctx: Context) -> str:
    return '"0x' + hashlib.sha256(f"{ctx.path}{ctx.now}".encode()).hexdigest()[:15].upper() + '"'


def _new_guid(ctx: Context) -> str:
    import uuid

    return str(uuid.uuid4())


SUCCEEDED = "Succeeded"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
"""The tenant the emulator's identities belong to."""

SERVICE_ADDS: dict[str, tuple[Added, ...]] = {
    "microsoft.compute/galleries": (
        # Gallery_Create.json: the request has only location and description; every response adds these.
        Added(("properties", "identifier", "uniqueName"), lambda c: f"{c.subscription}-{c.name.upper()}",
              _GALLERY + "Gallery_Get.json"),
        Added(("properties", "provisioningState"), SUCCEEDED, _GALLERY + "Gallery_Get.json"),
    ),
    "microsoft.compute/galleries/images": (
        Added(("properties", "provisioningState"), SUCCEEDED, _GALLERY + "GalleryImage_Get.json"),
        # Every GalleryImage example response carries hyperVGeneration (V1 in all of them); the service reports V1
        # for a definition created without it.
        _default(("properties", "hyperVGeneration"), "V1", _GALLERY + "GalleryImage_Get.json"),
    ),
    "microsoft.managedidentity/userassignedidentities": (
        # IdentityCreate.json: the request has location and tags only; the 201 answer adds the three ids.
        Added(("properties", "principalId"), _new_guid, _MSI + "IdentityGet.json"),
        Added(("properties", "clientId"), _new_guid, _MSI + "IdentityGet.json"),
        Added(("properties", "tenantId"), TENANT_ID, _MSI + "IdentityGet.json"),
    ),
    "microsoft.authorization/roledefinitions": (
        # PutRoleDefinition.json: the request has no `type`; the answer has one.
        _default(("properties", "type"), "CustomRole", _AUTHZ_PREVIEW + "PutRoleDefinition.json"),
    ),
    "microsoft.authorization/roleassignments": (
        # RoleAssignments_CreateForResourceGroup.json: the request has roleDefinitionId, principalId and
        # principalType; the answer adds the scope (the path's).
        Added(("properties", "scope"), lambda c: c.path.split("/providers/Microsoft.Authorization/")[0] or "/",
              _AUTHZ + "RoleAssignments_CreateForResourceGroup.json"),
    ),
    "microsoft.storage/storageaccounts": (
        # StorageAccountCreate.json (request vs its 200 answer) and StorageAccountGetProperties.json.
        Added(("properties", "provisioningState"), SUCCEEDED, _STORAGE + "StorageAccountCreate.json"),
        Added(("properties", "creationTime"), lambda c: lro.iso(c.now), _STORAGE + "StorageAccountCreate.json"),
        Added(("properties", "primaryEndpoints"), _storage_endpoints, _STORAGE + "StorageAccountCreate.json",
              kept=False),
        Added(("properties", "primaryLocation"), lambda c: c.location, _STORAGE + "StorageAccountCreate.json"),
        Added(("properties", "statusOfPrimary"), "available", _STORAGE + "StorageAccountCreate.json"),
        Added(("properties", "keyCreationTime"), lambda c: {"key1": lro.iso(c.now), "key2": lro.iso(c.now)},
              _STORAGE + "StorageAccountCreate.json"),
        Added(("properties", "isSkuConversionBlocked"), False, _STORAGE + "StorageAccountGetProperties.json"),
        Added(("properties", "accountMigrationInProgress"), False, _STORAGE + "StorageAccountGetProperties.json"),
        Added(("sku", "tier"), _sku_tier, _STORAGE + "StorageAccountCreate.json"),
        # Not in StorageAccountCreate.json's request, true in its answer.
        _default(("properties", "supportsHttpsTrafficOnly"), True, _STORAGE + "StorageAccountCreate.json"),
        # The encryption and network rules an account has when the request names none.
        _default(("properties", "encryption"), _encryption, _STORAGE + "StorageAccountGetProperties.json"),
        _default(("properties", "networkAcls", "bypass"), "AzureServices",
                 _STORAGE + "StorageAccountGetProperties.json"),
        _default(("properties", "networkAcls", "defaultAction"), "Allow",
                 _STORAGE + "StorageAccountGetProperties.json"),
        _default(("properties", "networkAcls", "ipRules"), [], _STORAGE + "StorageAccountGetProperties.json"),
        _default(("properties", "networkAcls", "virtualNetworkRules"), [],
                 _STORAGE + "StorageAccountGetProperties.json"),
    ),
    "microsoft.storage/storageaccounts/blobservices/containers": (
        # BlobContainersGet.json (a container with policies: a new one has none, so the two flags are false).
        Added(("etag",), _etag, _STORAGE + "BlobContainersGet.json"),
        _default(("properties", "publicAccess"), "None", _STORAGE + "BlobContainersGet.json"),
        Added(("properties", "leaseStatus"), "Unlocked", _STORAGE + "BlobContainersGet.json"),
        Added(("properties", "leaseState"), "Available", _STORAGE + "BlobContainersGet.json"),
        Added(("properties", "lastModifiedTime"), lambda c: lro.iso(c.now), _STORAGE + "BlobContainersGet.json"),
        Added(("properties", "hasImmutabilityPolicy"), False, _STORAGE + "BlobContainersGet.json"),
        Added(("properties", "hasLegalHold"), False, _STORAGE + "BlobContainersGet.json"),
    ),
}


_MISSING = object()


def _get(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict) or key not in body:
            return _MISSING
        body = body[key]
    return body


def _set(body: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        child = body.get(key)
        if not isinstance(child, dict):
            child = body[key] = {}
        body = child
    body[path[-1]] = value


def apply(rtype: str, stored: dict, existing: Optional[dict], ctx: Context) -> dict:
    """`stored` (the resource as the PUT gave it, ARM-shaped) with what the service adds for `rtype`: read-only values
    kept from `existing` (the resource before this PUT) or made now; defaults where the PUT left them out (what the
    resource had, else the service's default)."""
    out = copy.deepcopy(stored)
    for added in SERVICE_ADDS.get(rtype.lower(), ()):
        given = _get(out, added.path)
        if not added.read_only and given is not _MISSING:
            continue
        before = _get(existing, added.path) if existing and added.kept else _MISSING
        value = before if before is not _MISSING else added.value_for(ctx)
        if value is None:
            continue
        _set(out, added.path, value)
    return out
