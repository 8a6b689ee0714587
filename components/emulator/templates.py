"""The Microsoft.VirtualMachineImages resource provider: image templates, triggers, run outputs, operations.

This module owns the control-plane semantics of reference §1 and §7: api-version gating, PUT (201 +
Azure-AsyncOperation, Creating -> Succeeded after one phase, 409 on an existing name), PATCH (only the
fields the api-version allows; removing a distribute target is refused), DELETE (202 + Location, 204 when
absent, 409 while Creating or while a run is active), run/cancel (delegated to `builds.py`), run outputs,
SourceImage triggers and the async-operation status resource. The deep checks a real service does during
provisioning - the staging resource group rules and the identity's Contributor on a user-supplied staging
group - run when the Creating phase ends and fail the operation, not the PUT.
"""

from __future__ import annotations

import copy
import re

from components.emulator import errors, ids, lro, rbac, schema
from components.emulator.builds import Builds, storage_account_name
from components.emulator.errors import ArmError
from components.emulator.messages import Reply, Req
from components.emulator.state import State

PROVIDER = "Microsoft.VirtualMachineImages"
TEMPLATE_TYPE = f"{PROVIDER}/imageTemplates"
_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/]+)"
_IT = _RG + r"/providers/microsoft\.virtualmachineimages/imagetemplates/(?P<name>[^/]+)"
ROUTES = [
    ("list_sub", _SUB + r"/providers/microsoft\.virtualmachineimages/imagetemplates$"),
    ("list_rg", _RG + r"/providers/microsoft\.virtualmachineimages/imagetemplates$"),
    ("template", _IT + r"$"),
    ("action", _IT + r"/(?P<action>run|cancel)$"),
    ("run_outputs", _IT + r"/runoutputs$"),
    ("run_output", _IT + r"/runoutputs/(?P<output>[^/]+)$"),
    ("triggers", _IT + r"/triggers$"),
    ("trigger", _IT + r"/triggers/(?P<trigger>[^/]+)$"),
    ("operation", _SUB + r"/providers/microsoft\.virtualmachineimages/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$"),
    ("operations", r"^/providers/microsoft\.virtualmachineimages/operations$"),
]
_ROUTES = [(n, re.compile(p, re.I)) for n, p in ROUTES]
_ACTIONS = [
    ("register/action", "Registers the subscription for the Virtual Machine Image Builder resource provider"),
    ("unregister/action", "Unregisters the subscription for the Virtual Machine Image Builder resource provider"),
    ("imageTemplates/read", "Get the Image Template"), ("imageTemplates/write", "Create or update an Image Template"),
    ("imageTemplates/delete", "Delete the Image Template"),
    ("imageTemplates/run/action", "Start an image build from the Image Template"),
    ("imageTemplates/runOutputs/read", "Get the specified Run Output"),
    ("operations/read", "Lists operations available for the Virtual Machine Image Builder resource provider"),
    ("locations/operations/read", "Get the status of an asynchronous operation"),
    ("imageTemplates/cancel/action", "Cancels an in-progress image build"),
    ("imageTemplates/triggers/write", "Create or update a trigger"),
    ("imageTemplates/triggers/read", "Get a trigger"), ("imageTemplates/triggers/delete", "Delete a trigger"),
]


def is_image_builder_path(path: str) -> bool:
    """Whether the innermost provider of `path` is Image Builder (a role assignment *on* a template is not)."""
    innermost = path.lower().rsplit("/providers/", 1)
    return len(innermost) == 2 and innermost[1].startswith("microsoft.virtualmachineimages/")


class ImageTemplates:
    def __init__(self, state: State, builds: Builds, delete_rg, retry_after: int):
        self.state = state
        self.builds = builds
        self.delete_rg = delete_rg
        self.retry_after = retry_after
        state.on("create_done", self._create_done)
        state.on("delete_done", self._delete_done)

    # ---- dispatch -----------------------------------------------------------------------------------------
    def handle(self, req: Req) -> Reply:
        path = req.path.rstrip("/")
        self._check_api_version(req)
        for name, rx in _ROUTES:
            if (m := rx.match(path)) and self._served(name, req.api_version):
                return getattr(self, f"_{name}")(req, **m.groupdict())
        raise ArmError(404, "InvalidResourceType",
                       f"The resource type could not be found in the namespace '{PROVIDER}' for api version "
                       f"'{req.api_version}'.")

    @staticmethod
    def _served(route: str, api_version: str) -> bool:
        """Triggers exist from 2022-07-01 on; older api-versions do not know the resource type."""
        return not route.startswith("trigger") or api_version >= schema.TRIGGERS_SINCE

    def _check_api_version(self, req: Req) -> None:
        v = req.api_version
        if not v:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if v not in schema.SUPPORTED_API_VERSIONS:
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{v}' is invalid. The supported versions are "
                           f"'{','.join(schema.SUPPORTED_API_VERSIONS)}'.")

    def _method(self, req: Req, *allowed: str) -> None:
        if req.method not in allowed:
            raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'.")

    def _rec(self, sub: str, rg: str, name: str) -> dict:
        rec = self.state.templates.get(ids.key(ids.template_id(sub, rg, name)))
        if not rec:
            raise errors.not_found(TEMPLATE_TYPE, name, rg)
        return rec

    def _read(self, rec: dict, now: float) -> dict:
        self.builds.note_read(rec, now)
        return copy.deepcopy(rec["body"])

    # ---- collections --------------------------------------------------------------------------------------
    def _list_sub(self, req: Req, sub: str) -> Reply:
        self._method(req, "GET")
        return Reply(200, {"value": [copy.deepcopy(r["body"]) for r in self.state.templates.values()
                                     if r["sub"].lower() == sub.lower()]})

    def _list_rg(self, req: Req, sub: str, rg: str) -> Reply:
        self._method(req, "GET")
        if not self.state.get(f"/subscriptions/{sub}/resourceGroups/{rg}"):
            raise errors.rg_not_found(rg)
        return Reply(200, {"value": [copy.deepcopy(r["body"]) for r in self.state.templates.values()
                                     if r["sub"].lower() == sub.lower() and r["rg"].lower() == rg.lower()]})

    def _operations(self, req: Req) -> Reply:
        self._method(req, "GET")
        return Reply(200, {"value": [
            {"name": f"{PROVIDER}/{a}", "isDataAction": False,
             "display": {"provider": "Virtual Machine Image Builder", "resource": a.split("/")[0],
                         "operation": a, "description": d}} for a, d in _ACTIONS]})

    def _operation(self, req: Req, sub: str, loc: str, op: str) -> Reply:
        self._method(req, "GET")
        rec_op = self.state.operations.get(op.lower())
        if not rec_op or rec_op["sub"].lower() != sub.lower():
            raise ArmError(404, "ResourceNotFound", f"The operation '{op}' was not found.")
        if rec_op["template"]:
            self.builds.note_read(self.state.templates.get(rec_op["template"]), req.now)
        return Reply(lro.status_code(rec_op), lro.status_body(rec_op),
                     {"Retry-After": str(self.retry_after)} if rec_op["status"] not in lro.TERMINAL else {})

    # ---- template CRUD ------------------------------------------------------------------------------------
    def _template(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        self._method(req, "GET", "PUT", "PATCH", "DELETE")
        return {"GET": self._get, "PUT": self._put, "PATCH": self._patch, "DELETE": self._delete}[req.method](
            req, sub, rg, name)

    def _get(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        return Reply(200, self._read(self._rec(sub, rg, name), req.now))

    def _put(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        if not schema.NAME_RE.match(name):
            raise errors.bad_value("ImageTemplate", "name", name, "must match ^[A-Za-z0-9-_.]{1,64}$")
        rg_body = self.state.get(f"/subscriptions/{sub}/resourceGroups/{rg}")
        if not rg_body:
            raise errors.rg_not_found(rg)
        tid = ids.template_id(sub, rg_body["name"], name)
        if ids.key(tid) in self.state.templates:
            raise errors.update_not_supported()
        t = schema.validate_template(req.body, req.api_version)
        schema.fill_defaults(t)
        props = t["properties"]
        props["provisioningState"] = "Creating"
        (uai,) = t["identity"]["userAssignedIdentities"]
        body = {"id": tid, "name": name, "type": TEMPLATE_TYPE, "location": t["location"], "tags": t.get("tags") or {},
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai: {}}},
                "properties": props,
                "systemData": {"createdBy": "emulator", "createdByType": "User", "createdAt": lro.iso(req.now),
                               "lastModifiedBy": "emulator", "lastModifiedByType": "User",
                               "lastModifiedAt": lro.iso(req.now)}}
        key = ids.key(tid)
        op = lro.new_operation(self.state.operations, sub=sub, location=t["location"], api_version=req.api_version,
                               template=key, style="async", now=req.now)
        self.state.templates[key] = {
            "id": tid, "key": key, "sub": sub, "rg": rg_body["name"], "name": name, "location": t["location"],
            "api_version": req.api_version, "body": body, "staging": None, "run": None, "run_outputs": {},
            "triggers": {}, "storage_account": storage_account_name(key), "create_op": op["id"],
        }
        self.state.schedule(req.now + self.state.phase_seconds, "create_done", template=key)
        return Reply(201, copy.deepcopy(body), lro.headers(req.base, op))

    def _create_done(self, event: dict, t: float) -> None:
        rec = self.state.templates.get(event["template"])
        if not rec:
            return
        op = self.state.operations[rec["create_op"]]
        props = rec["body"]["properties"]
        try:
            staging_id, created = self._claim_staging(rec, t)
        except ArmError as e:
            props["provisioningState"] = "Failed"
            code = "BadStagingResourceGroup" if e.code == "BadStagingResourceGroup" else "Other"
            props["provisioningError"] = {"provisioningErrorCode": code, "message": e.message}
            lro.finish(op, "Failed", t, {"code": e.code, "message": e.message})
            return
        rec["staging"] = {"id": staging_id, "service_created": created}
        props["exactStagingResourceGroup"] = staging_id
        for uai in rec["body"]["identity"]["userAssignedIdentities"]:
            principal, client = self.state.principal_of(uai)
            rec["body"]["identity"]["userAssignedIdentities"][uai] = {"principalId": principal, "clientId": client}
        props["provisioningState"] = "Succeeded"
        lro.finish(op, "Succeeded", t)
        if (props.get("autoRun") or {}).get("state") == "Enabled":
            run_op = lro.new_operation(self.state.operations, sub=rec["sub"], location=rec["location"],
                                       api_version=rec["api_version"], template=rec["key"], style="async", now=t)
            self.builds.start(rec, run_op, t)

    def _claim_staging(self, rec: dict, t: float) -> tuple[str, bool]:
        """Check or create the staging resource group (reference §3.1); returns (id, created-by-service)."""
        props = rec["body"]["properties"]
        wanted = props.get("stagingResourceGroup") or ""
        tags = {"imageTemplateName": rec["name"], "imageTemplateResourceGroupName": rec["rg"]}
        extra_tags = props.get("managedResourceTags") or {}

        def bad(msg: str) -> ArmError:
            return ArmError(400, "BadStagingResourceGroup", f"Validation failed: 'ImageTemplate.properties."
                                                            f"stagingResourceGroup': {msg}")

        if wanted:
            existing = self.state.get(wanted)
            if existing:
                for other in self.state.templates.values():
                    if other is not rec and other.get("staging") and ids.key(other["staging"]["id"]) == ids.key(wanted):
                        raise bad(f"The staging resource group '{wanted}' is already used by image template "
                                  f"'{other['id']}'. A staging resource group cannot be shared by image templates.")
                old = existing.get("tags") or {}
                if any(k in old for k in ("imageTemplateName", "imageTemplateResourceGroupName")):
                    raise bad(f"The staging resource group '{wanted}' is tagged as belonging to image template "
                              f"'{old.get('imageTemplateName')}' in resource group "
                              f"'{old.get('imageTemplateResourceGroupName')}'.")
                if existing["location"].replace(" ", "").lower() != rec["location"].replace(" ", "").lower():
                    raise bad(f"The staging resource group '{wanted}' is in location '{existing['location']}', but it "
                              f"must be in the image template's location '{rec['location']}'.")
                contents = self.state.contents_of_rg(wanted)
                if contents:
                    raise bad(f"The staging resource group '{wanted}' must be empty, but it contains "
                              f"{len(contents)} resource(s), e.g. '{contents[0]['id']}'.")
                (uai,) = rec["body"]["identity"]["userAssignedIdentities"]
                principal, _ = self.state.principal_of(uai)
                if self.state.missing_permission(principal, [rbac.Requirement(a, wanted) for a in rbac.STAGING_ACTIONS], t):
                    raise ArmError(403, "Unauthorized", errors.not_authorized_text(existing["id"]))
                existing["tags"] = {**old, **extra_tags, **tags, "usedBy": "AzureVMImageBuilder"}
                return existing["id"], False
            staging_id = wanted
        else:
            suffix = ids.new_guid()
            rg_name = f"IT_{rec['rg']}_{rec['name']}_{suffix}"
            if len(rg_name) > 90:
                rg_name = f"IT_{rec['rg'][:20]}_{rec['name'][:20]}_{suffix}"
            staging_id = f"/subscriptions/{rec['sub']}/resourceGroups/{rg_name}"
        self.state.put(staging_id, {
            "id": staging_id, "name": ids.name_of(staging_id), "type": "Microsoft.Resources/resourceGroups",
            "location": rec["location"], "tags": {**extra_tags, **tags, "createdBy": "AzureVMImageBuilder"},
            "properties": {"provisioningState": "Succeeded"}}, t)
        return staging_id, True

    def _patch(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        rec = self._rec(sub, rg, name)
        body, props = rec["body"], rec["body"]["properties"]
        if props["provisioningState"] in ("Creating", "Deleting"):
            raise errors.not_allowed_provisioning("PATCH", props["provisioningState"])
        if rec["run"] and rec["run"]["state"] in ("Running", "Canceling"):
            raise errors.not_allowed("write", rec["run"]["state"])
        u = schema.validate_update(req.body, req.api_version)
        new_identity = None
        if "identity" in u:
            new_identity = self._patched_identity(body.get("identity") or {}, u["identity"])
        up = u.get("properties") or {}
        if up.get("distribute") is not None:
            names = {d["runOutputName"].lower() for d in up["distribute"]}
            for d in props["distribute"]:
                if d["runOutputName"].lower() not in names:
                    raise errors.distribute_target_removed(d["runOutputName"])
        # all checks passed: apply
        if "tags" in u:
            body["tags"] = u["tags"] or {}
        if new_identity is not None:
            body["identity"] = new_identity
        if up.get("distribute") is not None:
            props["distribute"] = [{**d, "artifactTags": d.get("artifactTags") or {}} for d in up["distribute"]]
        if up.get("vmProfile"):
            vm = props.setdefault("vmProfile", {})
            new_vm = up["vmProfile"]
            for f in ("vmSize", "osDiskSizeGB", "userAssignedIdentities"):
                if f in new_vm:
                    vm[f] = new_vm[f]
            if "vnetConfig" in new_vm:
                vm.setdefault("vnetConfig", {}).update(new_vm["vnetConfig"] or {})
            schema.check_vm_profile(vm)
        body["systemData"]["lastModifiedAt"] = lro.iso(req.now)
        return Reply(200, copy.deepcopy(body))

    def _patched_identity(self, current: dict, patch: dict) -> dict:
        if patch.get("type") == "None":
            return {"type": "None"}
        merged = dict(current.get("userAssignedIdentities") or {})
        for k, v in (patch.get("userAssignedIdentities") or {}).items():
            match = next((m for m in merged if m.lower() == k.lower()), None)
            if v is None:
                merged.pop(match or k, None)
            elif match is None:
                principal, client = self.state.principal_of(k)
                merged[k] = {"principalId": principal, "clientId": client}
        if len(merged) != 1:
            raise errors.validation("'ImageTemplate.identity': exactly one user assigned identity is required, but "
                                    f"the update leaves {len(merged)}.")
        return {"type": "UserAssigned", "userAssignedIdentities": merged}

    def _delete(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        rec = self.state.templates.get(ids.key(ids.template_id(sub, rg, name)))
        if not rec:
            return Reply(204)
        state = rec["body"]["properties"]["provisioningState"]
        if state == "Creating":
            raise errors.not_allowed_provisioning("DELETE", state)
        if rec["run"] and rec["run"]["state"] in ("Running", "Canceling"):
            raise errors.not_allowed("delete", rec["run"]["state"])
        if state == "Deleting":
            op = self.state.operations[rec["delete_op"]]
        else:
            rec["body"]["properties"]["provisioningState"] = "Deleting"
            op = lro.new_operation(self.state.operations, sub=sub, location=rec["location"],
                                   api_version=req.api_version, template=rec["key"], style="location", now=req.now)
            rec["delete_op"] = op["id"]
            self.state.schedule(req.now + self.state.phase_seconds, "delete_done", template=rec["key"])
        return Reply(202, None, lro.headers(req.base, op, async_op=False, location=True, retry_after=self.retry_after))

    def _delete_done(self, event: dict, t: float) -> None:
        rec = self.state.templates.pop(event["template"], None)
        if not rec:
            return
        self.cleanup_staging(rec, t)
        lro.finish(self.state.operations[rec["delete_op"]], "Succeeded", t)

    def cleanup_staging(self, rec: dict, t: float) -> None:
        staging = rec.get("staging")
        if not staging:
            return
        if staging["service_created"]:
            if self.state.get(staging["id"]):
                self.delete_rg(staging["id"], t)
            return
        for r in self.state.contents_of_rg(staging["id"]):
            self.state.delete_tree(r["id"])
        rg = self.state.get(staging["id"])
        if rg:
            for tag in ("usedBy", "imageTemplateName", "imageTemplateResourceGroupName"):
                rg.get("tags", {}).pop(tag, None)

    def templates_in_rg_deleted(self, rg_id: str, t: float) -> None:
        """A resource group was deleted: its templates go with it (staging groups are cleaned up)."""
        for key, rec in list(self.state.templates.items()):
            if (rec["rg"].lower() == (ids.rg_name_of(rg_id) or "").lower()
                    and rec["sub"].lower() == (ids.subscription_of(rg_id) or "").lower()):
                self.state.templates.pop(key, None)
                self.cleanup_staging(rec, t)

    # ---- run / cancel -------------------------------------------------------------------------------------
    def _action(self, req: Req, sub: str, rg: str, name: str, action: str) -> Reply:
        self._method(req, "POST")
        rec = self._rec(sub, rg, name)
        prov = rec["body"]["properties"]["provisioningState"]
        run = rec["run"]
        run_state = run["state"] if run else None
        if action.lower() == "run":
            if prov != "Succeeded":
                raise errors.not_allowed_provisioning("POST", prov)
            if run_state in ("Running", "Canceling"):
                raise errors.not_allowed("run/action", run_state)
            op = lro.new_operation(self.state.operations, sub=sub, location=rec["location"],
                                   api_version=req.api_version, template=rec["key"], style="async", now=req.now)
            self.builds.start(rec, op, req.now)
        else:
            if run_state != "Running":
                raise errors.not_allowed("cancel/action", run_state or prov)
            op = lro.new_operation(self.state.operations, sub=sub, location=rec["location"],
                                   api_version=req.api_version, template=rec["key"], style="async", now=req.now)
            self.builds.begin_cancel(rec, op, req.now)
        return Reply(202, None, lro.headers(req.base, op, location=True, retry_after=self.retry_after))

    # ---- run outputs --------------------------------------------------------------------------------------
    def _run_outputs(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        self._method(req, "GET")
        rec = self._rec(sub, rg, name)
        return Reply(200, {"value": copy.deepcopy(list(rec["run_outputs"].values()))})

    def _run_output(self, req: Req, sub: str, rg: str, name: str, output: str) -> Reply:
        self._method(req, "GET")
        rec = self._rec(sub, rg, name)
        ro = rec["run_outputs"].get(output.lower())
        if not ro:
            raise errors.not_found(f"{TEMPLATE_TYPE}/runOutputs", f"{name}/{output}", rg)
        return Reply(200, copy.deepcopy(ro))

    # ---- triggers -----------------------------------------------------------------------------------------
    def _triggers(self, req: Req, sub: str, rg: str, name: str) -> Reply:
        self._method(req, "GET")
        rec = self._rec(sub, rg, name)
        return Reply(200, {"value": copy.deepcopy(list(rec["triggers"].values()))})

    def _trigger(self, req: Req, sub: str, rg: str, name: str, trigger: str) -> Reply:
        self._method(req, "GET", "PUT", "DELETE")
        rec = self.state.templates.get(ids.key(ids.template_id(sub, rg, name)))
        if req.method == "DELETE":
            if not rec or trigger.lower() not in rec["triggers"]:
                return Reply(204)
            del rec["triggers"][trigger.lower()]
            op = lro.new_operation(self.state.operations, sub=sub, location=rec["location"],
                                   api_version=req.api_version, template=None, style="location", now=req.now)
            lro.finish(op, "Succeeded", req.now)
            return Reply(202, None, lro.headers(req.base, op, async_op=False, location=True))
        if not rec:
            raise errors.not_found(TEMPLATE_TYPE, name, rg)
        if req.method == "GET":
            t = rec["triggers"].get(trigger.lower())
            if not t:
                raise errors.not_found(f"{TEMPLATE_TYPE}/triggers", f"{name}/{trigger}", rg)
            return Reply(200, copy.deepcopy(t))
        return self._put_trigger(req, rec, trigger)

    def _put_trigger(self, req: Req, rec: dict, trigger: str) -> Reply:
        if not schema.NAME_RE.match(trigger):
            raise errors.bad_value("Trigger", "name", trigger, "must match ^[A-Za-z0-9-_.]{1,64}$")
        body = req.body if isinstance(req.body, dict) else {}
        kind = (body.get("properties") or {}).get("kind")
        if not kind:
            raise errors.missing_field("Trigger.properties", "kind")
        if kind != "SourceImage":
            raise errors.bad_value("Trigger.properties", "kind", kind, "the only supported kind is 'SourceImage'")
        existing = rec["triggers"].get(trigger.lower())
        if existing is None:
            props = rec["body"]["properties"]
            others = [t for t in rec["triggers"].values() if t["properties"]["kind"] == "SourceImage"]
            if others:
                raise errors.validation(f"Image template '{rec['name']}' already has a SourceImage trigger "
                                        f"('{others[0]['name']}'); at most one is allowed per template.")
            if props["provisioningState"] != "Succeeded":
                raise errors.validation(f"A trigger can only be created for an image template in provisioning "
                                        f"state Succeeded, but '{rec['name']}' is {props['provisioningState']}.")
            src = props["source"]
            latest = (src["type"] == "PlatformImage" and (src.get("version") or "").lower() == "latest") or (
                src["type"] == "SharedImageVersion" and src["imageVersionId"].lower().endswith("/versions/latest"))
            if not latest:
                raise errors.validation("Source image triggers require a PlatformImage source with version 'latest' "
                                        "or a SharedImageVersion source ending in '/versions/latest'.")
            for d in props["distribute"]:
                if d["type"] != "SharedImage":
                    continue
                if re.search(r"/versions/[^/]+$", d["galleryImageId"], re.I):
                    raise errors.validation(f"Distribute target '{d['runOutputName']}' names an explicit image version; "
                                            "source image triggers need automatic versioning.")
                if src["type"] == "SharedImageVersion" and ids.key(
                        re.sub(r"/versions/latest$", "", src["imageVersionId"], flags=re.I)) == ids.key(d["galleryImageId"]):
                    raise errors.validation(f"Distribute target '{d['runOutputName']}' is the source image definition; "
                                            "source and destination image definitions must differ.")
            count = sum(len(r["triggers"]) for r in self.state.templates.values()
                        if r["sub"].lower() == rec["sub"].lower() and r["location"].lower() == rec["location"].lower())
            if count >= 100:
                raise ArmError(409, "QuotaExceeded", "The limit of 100 triggers per region per subscription is reached.")
        tid = f"{rec['id']}/triggers/{trigger}"
        out = {"id": tid, "name": trigger, "type": f"{TEMPLATE_TYPE}/triggers",
               "properties": {"kind": "SourceImage",
                              "status": {"code": "Healthy", "message": "Trigger is active.", "time": lro.iso(req.now)},
                              "provisioningState": "Succeeded"}}
        if existing:
            out["properties"]["status"] = existing["properties"]["status"]
        rec["triggers"][trigger.lower()] = out
        op = lro.new_operation(self.state.operations, sub=rec["sub"], location=rec["location"],
                               api_version=req.api_version, template=None, style="async", now=req.now)
        lro.finish(op, "Succeeded", req.now)
        return Reply(200 if existing else 201, copy.deepcopy(out), lro.headers(req.base, op))
