"""Generic ARM resources the Pulumi component declares around an image template.

This module owns PUT/GET/PATCH/DELETE/list for resource groups, user-assigned identities, role
definitions and assignments (at any scope, plus the built-in roles), compute galleries, gallery image
definitions and versions, managed images, virtual networks and subnets, and any other
`.../providers/<ns>/<type>/<name>` resource (stored as given). Bodies are ARM-shaped (`id`, `name`,
`type`, `location`, `tags`, `properties.provisioningState: Succeeded`), answers are synchronous, and any
api-version is accepted. Enough ARM rules are kept to catch client bugs: the resource group (and the
parent of a nested resource) must exist, role assignments must name an existing role definition and may
not duplicate (principal, role, scope), and a gallery image definition needs osType/osState/identifier.
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Callable

from components.emulator import ids, lro, rbac, service_defaults
from components.emulator.errors import ArmError, not_found, rg_not_found
from components.emulator.messages import Reply, Req
from components.emulator.state import State

TENANT_ID = service_defaults.TENANT_ID
_RG_PATH = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)$", re.I)
_RG_LIST = re.compile(r"^/subscriptions/([^/]+)/resourcegroups$", re.I)


def _type_and_collection(path: str) -> tuple[str, bool]:
    """(resource type, is-a-collection-path) for a `.../providers/...` path."""
    parts = path.strip("/").split("/")
    p = max(i for i, s in enumerate(parts) if s.lower() == "providers")
    tail = parts[p + 1 :]
    ns, rest = tail[0], tail[1:]
    collection = len(rest) % 2 == 1
    types = rest[::2]
    return "/".join([ns, *types]), collection


def _is(rtype: str, suffix: str) -> bool:
    return rtype.lower() == suffix.lower()


class GenericResources:
    def __init__(self, state: State, on_rg_deleted: Callable[[str, float], None]):
        self.state = state
        self.on_rg_deleted = on_rg_deleted
        #: Where storage accounts say their blobs are (`primaryEndpoints.blob`): None for the public
        #: `https://<account>.blob.core.windows.net/`, or a path-style base such as Azurite's `http://127.0.0.1:<port>`.
        self.blob_endpoint: str | None = None
        #: Called with (account, container) when a blob container is PUT, so the blob service has it too.
        self.on_blob_container: Callable[[str, str], None] | None = None

    # ---- dispatch -----------------------------------------------------------------------------------------
    def handle(self, req: Req) -> Reply:
        path = req.path.rstrip("/")
        if _RG_LIST.match(path) and req.method == "GET":
            rgs = [r for k, r in self.state.resources.items() if _RG_PATH.match(k)
                   and k.startswith(ids.key(path))]
            return Reply(200, {"value": rgs})
        if m := _RG_PATH.match(path):
            return self._resource_group(req, m.group(1), m.group(2))
        if "/providers/" not in path.lower():
            raise ArmError(404, "NotFound", f"No route for {req.method} {req.path}.")
        rtype, collection = _type_and_collection(path)
        if collection:
            if req.method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on a collection.")
            return self._list(path, rtype, req)
        return {"PUT": self._put, "GET": self._get, "PATCH": self._patch, "DELETE": self._delete,
                "HEAD": self._head}.get(req.method, self._unsupported)(req, path, rtype)

    def _head(self, req: Req, path: str, rtype: str) -> Reply:
        """Resources_CheckExistenceById: 204 when the resource exists, 404 when not."""
        return Reply(204 if self.state.get(path) else 404)

    def _unsupported(self, req: Req, path: str, rtype: str) -> Reply:
        raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on {rtype}.")

    # ---- resource groups ----------------------------------------------------------------------------------
    def _resource_group(self, req: Req, sub: str, name: str) -> Reply:
        rid = f"/subscriptions/{sub}/resourceGroups/{name}"
        existing = self.state.get(rid)
        if req.method == "GET":
            if not existing:
                raise rg_not_found(name)
            return Reply(200, existing)
        if req.method == "HEAD":
            return Reply(204 if existing else 404)
        if req.method == "PUT":
            body = req.body or {}
            if not body.get("location"):
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            if existing and existing["location"].lower() != body["location"].lower():
                raise ArmError(409, "InvalidResourceGroupLocation",
                               f"Invalid resource group location '{body['location']}'. The Resource group already "
                               f"exists in location '{existing['location']}' in resource group '{name}'.")
            rg = {"id": existing["id"] if existing else rid, "name": existing["name"] if existing else name,
                  "type": "Microsoft.Resources/resourceGroups", "location": body["location"],
                  "tags": body.get("tags") or {}, "properties": {"provisioningState": "Succeeded"}}
            if body.get("managedBy"):
                rg["managedBy"] = body["managedBy"]
            self.state.put(rid, rg, req.now)
            return Reply(200 if existing else 201, rg)
        if req.method == "PATCH":
            if not existing:
                raise rg_not_found(name)
            if "tags" in (req.body or {}):
                existing["tags"] = req.body["tags"] or {}
            return Reply(200, existing)
        if req.method == "DELETE":
            if not existing:
                return Reply(204)
            self.delete_rg(rid, req.now)
            return Reply(200)
        raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on resource groups.")

    def delete_rg(self, rg_id: str, now: float) -> None:
        self.on_rg_deleted(rg_id, now)
        self.state.delete_tree(rg_id)

    # ---- provider resources -------------------------------------------------------------------------------
    def _check_container(self, path: str, rtype: str) -> None:
        rg = ids.rg_id_of(path)
        if rg and not self.state.get(rg):
            raise rg_not_found(ids.rg_name_of(path) or rg)
        parent = ids.parent_resource(path)
        if parent and re.search(r"/blobServices/default$", parent, re.I):
            parent = ids.parent_resource(parent)  # the account's blob service exists with the account
        if parent and not self.state.get(parent):
            raise ArmError(404, "ParentResourceNotFound",
                           f"Can not perform requested operation on nested resource. Parent resource "
                           f"'{ids.name_of(parent)}' not found.")

    def _put(self, req: Req, path: str, rtype: str) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        self._check_container(path, rtype)
        existing = self.state.get(path)
        props = copy.deepcopy(body.get("properties") or {})
        out = {"id": existing["id"] if existing else path, "name": ids.name_of(path), "type": rtype}
        lowered = rtype.lower()
        if not lowered.startswith("microsoft.authorization/") and not _is(rtype, "Microsoft.Network/virtualNetworks/subnets"):
            if not body.get("location") and not ids.parent_resource(path):
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            if body.get("location") or existing:
                out["location"] = body.get("location") or (existing or {}).get("location")
            out["tags"] = body.get("tags") or {}
        if _is(rtype, "Microsoft.ManagedIdentity/userAssignedIdentities"):
            props = {}  # every property is the service's (service_defaults)
        elif _is(rtype, "Microsoft.Authorization/roleDefinitions"):
            props = self._role_definition(path, props)
        elif _is(rtype, "Microsoft.Authorization/roleAssignments"):
            props = self._role_assignment(path, props, existing)
        elif _is(rtype, "Microsoft.Compute/galleries/images"):
            for f in ("osType", "osState", "identifier"):
                if not props.get(f):
                    raise ArmError(400, "InvalidParameter", f"Required parameter '{f}' is missing (null).")
        elif _is(rtype, "Microsoft.Compute/galleries/images/versions"):
            # publishedDate is the service's (read-only): set at creation, kept across PUTs; excludeFromLatest
            # defaults to false as in Azure.
            old_profile = ((existing or {}).get("properties") or {}).get("publishingProfile") or {}
            profile = props.setdefault("publishingProfile", {})
            profile["publishedDate"] = old_profile.get("publishedDate") or lro.iso(req.now)
            profile.setdefault("excludeFromLatest", False)
        elif _is(rtype, "Microsoft.Storage/storageAccounts/blobServices/containers"):
            if self.on_blob_container is not None:
                self.on_blob_container(ids.name_of(ids.parent_resource(ids.parent_resource(path) or "") or ""),
                                       ids.name_of(path))
        elif _is(rtype, "Microsoft.Network/virtualNetworks"):
            for sn in props.pop("subnets", None) or []:
                sid = f"{path}/subnets/{sn['name']}"
                self.state.put(sid, {"id": sid, "name": sn["name"], "type": "Microsoft.Network/virtualNetworks/subnets",
                                     "properties": {**(sn.get("properties") or {}), "provisioningState": "Succeeded"}},
                               req.now)
        if not lowered.startswith("microsoft.authorization/"):
            props["provisioningState"] = "Succeeded"
        out["properties"] = props
        if body.get("identity"):
            out["identity"] = body["identity"]
        for extra in ("sku", "kind", "plan", "zones"):
            if extra in body:
                out[extra] = body[extra]
        # What the service adds beside the body (read-only properties, defaults), from the official examples.
        out = service_defaults.apply(rtype, out, existing, service_defaults.Context(
            path=path, name=ids.name_of(path), subscription=ids.subscription_of(path) or "",
            location=out.get("location"), now=req.now, sku_name=(out.get("sku") or {}).get("name"),
            blob_endpoint=self.blob_endpoint))
        self.state.put(path, out, req.now)
        return Reply(200 if existing else 201, self._render(path, out))

    def _role_definition(self, path: str, props: dict) -> dict:
        guid = ids.name_of(path)
        try:
            uuid.UUID(guid)
        except ValueError:
            raise ArmError(400, "RoleDefinitionIdInvalid", f"The role definition ID '{guid}' is not valid.")
        if guid.lower() in rbac.BUILTIN_ROLES:
            raise ArmError(400, "RoleDefinitionUpdateNotAllowed", "Built-in role definitions cannot be modified.")
        if not props.get("roleName"):
            raise ArmError(400, "RoleDefinitionNameNullOrEmpty", "The role definition name cannot be null or empty.")
        for other in self.state.role_definitions():
            if other["name"].lower() != guid.lower() and other["properties"]["roleName"].lower() == props["roleName"].lower():
                raise ArmError(409, "RoleDefinitionWithSameNameExists",
                               "A custom role with the same name already exists in this directory.")
        props.setdefault("permissions", [])
        props.setdefault("assignableScopes", [path.split("/providers/")[0] or "/"])
        for block in props["permissions"]:
            for f in ("actions", "notActions", "dataActions", "notDataActions"):
                block.setdefault(f, [])
        return props

    def _role_assignment(self, path: str, props: dict, existing: dict | None) -> dict:
        scope = re.split(r"/providers/Microsoft\.Authorization/roleAssignments/", path, flags=re.I)[0] or "/"
        rd, principal = props.get("roleDefinitionId"), props.get("principalId")
        if not rd or not principal:
            raise ArmError(400, "InvalidRoleAssignmentRequest", "roleDefinitionId and principalId are required.")
        if self.state.role_definition(rd) is None:
            raise ArmError(400, "RoleDefinitionDoesNotExist",
                           f"The specified role definition with ID '{ids.name_of(rd)}' does not exist.")
        if existing:
            old = existing["properties"]
            if old["roleDefinitionId"].lower() != rd.lower() or old["principalId"].lower() != principal.lower():
                raise ArmError(400, "RoleAssignmentUpdateNotPermitted",
                               "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        for other in self.state.role_assignments():
            p = other["properties"]
            if (other["id"].lower() != path.lower() and ids.key(p["scope"]) == ids.key(scope)
                    and ids.name_of(p["roleDefinitionId"]).lower() == ids.name_of(rd).lower()
                    and p["principalId"].lower() == principal.lower()):
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        return {**props, "scope": scope, "principalType": props.get("principalType") or "ServicePrincipal"}

    def _render(self, path: str, r: dict) -> dict:
        if _is(r["type"], "Microsoft.Network/virtualNetworks"):
            r = copy.deepcopy(r)
            prefix = ids.key(path) + "/subnets/"
            r["properties"]["subnets"] = [s for k, s in self.state.resources.items()
                                          if k.startswith(prefix) and "/" not in k[len(prefix):]]
        return r

    def _get(self, req: Req, path: str, rtype: str) -> Reply:
        if _is(rtype, "Microsoft.Authorization/roleDefinitions") and ids.name_of(path).lower() in rbac.BUILTIN_ROLES:
            return Reply(200, rbac.builtin_body(ids.name_of(path).lower(), ids.subscription_of(path)))
        r = self.state.get(path)
        if not r:
            rg = ids.rg_id_of(path)
            if rg and not self.state.get(rg):
                raise rg_not_found(ids.rg_name_of(path) or rg)
            raise not_found(rtype, ids.name_of(path), ids.rg_name_of(path))
        return Reply(200, self._render(path, r))

    def _patch(self, req: Req, path: str, rtype: str) -> Reply:
        r = self.state.get(path)
        if not r:
            raise not_found(rtype, ids.name_of(path), ids.rg_name_of(path))
        body = req.body if isinstance(req.body, dict) else {}
        if "tags" in body:
            r["tags"] = body["tags"] or {}
        _merge(r.setdefault("properties", {}), body.get("properties") or {})
        return Reply(200, self._render(path, r))

    def _delete(self, req: Req, path: str, rtype: str) -> Reply:
        r = self.state.get(path)
        if not r:
            return Reply(204)
        self.state.delete_tree(path)
        return Reply(200, r if rtype.lower().startswith("microsoft.authorization/") else None)

    def _list(self, path: str, rtype: str, req: Req) -> Reply:
        prefix = ids.key(path) + "/"
        items = [self._render(k, r) for k, r in self.state.resources.items()
                 if k.startswith(prefix) and "/" not in k[len(prefix):]]
        if _is(rtype, "Microsoft.Authorization/roleDefinitions"):
            sub = ids.subscription_of(path)
            builtins = [rbac.builtin_body(g, sub) for g in rbac.BUILTIN_ROLES]
            items = builtins + self.state.role_definitions()
            flt = req.query.get("$filter", "")
            if m := re.search(r"roleName\s+eq\s+'([^']*)'", flt):
                items = [i for i in items if i["properties"]["roleName"].lower() == m.group(1).lower()]
        elif _is(rtype, "Microsoft.Authorization/roleAssignments"):
            scope = path.rsplit("/providers/", 1)[0]
            items = [a for a in self.state.role_assignments()
                     if ids.is_within(scope, a["properties"]["scope"]) or ids.is_within(a["properties"]["scope"], scope)]
            if m := re.search(r"principalId\s+eq\s+'([^']*)'", req.query.get("$filter", "")):
                items = [a for a in items if a["properties"]["principalId"].lower() == m.group(1).lower()]
        return Reply(200, {"value": items})


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v
