"""Image builds: the run timeline, its outcome, the customization.log, and the artifacts a run creates.

This module owns what happens between POST .../run and a terminal `lastRunStatus`. `start()` lays out the
phases (Queued, Building, one Customizing step per customizer, Optimizing if `optimize.vmBoot` is Enabled,
Validating if there are in-VM validations, Distributing), each lasting `phase_seconds`, and schedules the
first step; `step()` is the timer handler that finishes the current phase (failing it when a fault or a
missing permission says so) and enters the next. Cancel moves the run to Canceling and then Canceled.
A successful Distributing phase writes one RunOutput per target and creates the artifact: an image
version in the gallery image definition, a managed image, or a VHD blob URL.

Downloads: when the emulator has a blob service (`Emulator(blob_endpoint=...)`, Azurite in the local run), each
Customizing step and each validator whose scriptUri/sourceUri is an Azure Storage blob URL downloads it, as the build
VM would: the template identity needs a data role that reads blobs on the container (when the emulator knows the
storage account), the blob must exist, and its sha256 must equal `sha256Checksum` when one is given; otherwise the
step fails the build with the service's kind of message. URLs elsewhere on the internet are not fetched.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Optional

from components.emulator import errors, ids, lro, rbac
from components.emulator.state import State

PROVISIONER = {"Shell": "shell", "PowerShell": "powershell", "File": "file",
               "WindowsRestart": "windows-restart", "WindowsUpdate": "windows-update"}
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_BLOB_URL_RE = re.compile(r"^https://([a-z0-9]+)\.blob\.core\.windows\.net/([^/?#]+)/([^?#]+)", re.I)


class BlobMissing(LookupError):
    """The blob service answered 404 for a URL."""


def storage_account_name(template_key: str) -> str:
    return hashlib.sha1(template_key.encode()).hexdigest()[:24]


def blob_host(account: str) -> str:
    return f"https://{account}.blob.core.windows.net"


def log_url(rec: dict, log_guid: str) -> str:
    return f"{blob_host(rec['storage_account'])}/packerlogs/{log_guid}/customization.log"


class Builds:
    def __init__(self, state: State):
        self.state = state
        #: Reads a `https://<account>.blob.core.windows.net/...` URL from the emulator's blob service (raising
        #: `BlobMissing`); None when there is none, and then nothing is downloaded.
        self.blob_reader: Optional[Callable[[str], bytes]] = None
        #: Called with (template record, run state, time) when a run ends (SourceImage trigger health).
        self.on_finish: list[Callable[[dict, str, float], None]] = []
        state.on("run_step", self.step)
        state.on("cancel_done", lambda e, t: self.finish_cancel(self.state.templates.get(e["template"]), t))

    # ---- starting ------------------------------------------------------------------------------------------
    def start(self, rec: dict, op: dict, now: float) -> None:
        props = rec["body"]["properties"]
        phases: list[dict] = [{"sub": "Queued"}, {"sub": "Building"}]
        phases += [{"sub": "Customizing", "customizer": i} for i in range(len(props.get("customize") or []))]
        if not props.get("customize"):
            phases.append({"sub": "Customizing"})
        if ((props.get("optimize") or {}).get("vmBoot") or {}).get("state") == "Enabled":
            phases.append({"sub": "Optimizing"})
        if (props.get("validate") or {}).get("inVMValidations"):
            phases.append({"sub": "Validating"})
        phases.append({"sub": "Distributing"})
        run = {"id": op["id"], "op": op["id"], "log": ids.new_guid(), "phases": phases, "index": 0,
               "state": "Running", "started": now, "precheck": self._precheck(rec, now), "validation_failed": False}
        rec["run"] = run
        self.state.runs[rec["key"]] = self.state.runs.get(rec["key"], 0) + 1
        self.state.logs[run["log"]] = []
        self._log(run, "PACKER OUT Build 'azure-arm' starting: /aib/packerInput/packer build")
        props["lastRunStatus"] = {"startTime": lro.iso(now), "endTime": lro.GO_ZERO_TIME, "runState": "Running",
                                  "runSubState": "Queued", "message": ""}
        self._ensure_storage_account(rec, now)
        self.state.schedule(now + self.state.phase_seconds, "run_step", template=rec["key"], run=run["id"])

    def _precheck(self, rec: dict, now: float) -> dict | None:
        """Identity and RBAC checks, done when the run is submitted; a failure ends the Queued phase."""
        identity = rec["body"].get("identity") or {}
        uais = list((identity.get("userAssignedIdentities") or {}).keys())
        if identity.get("type") != "UserAssigned" or not uais:
            return {"code": "InvalidIdentity", "message": (
                "The assigned managed identity cannot be used. Please remove the existing one and re-assign a new "
                f"identity. For more troubleshooting steps go to {errors.TS_LINK}.")}
        principal, _ = self.state.principal_of(uais[0])
        staging = rec["staging"]
        user_staging = staging["id"] if staging and not staging["service_created"] else None
        missing = self.state.missing_permission(principal, rbac.requirements(rec["body"]["properties"], user_staging), now)
        if missing:
            return {"code": "Unauthorized", "message": errors.not_authorized_text(missing)}
        return None

    def _ensure_storage_account(self, rec: dict, now: float) -> None:
        staging = rec.get("staging")
        if not staging or not self.state.get(staging["id"]):
            return
        sid = f"{staging['id']}/providers/Microsoft.Storage/storageAccounts/{rec['storage_account']}"
        if not self.state.get(sid):
            self.state.put(sid, {"id": sid, "name": rec["storage_account"], "type": "Microsoft.Storage/storageAccounts",
                                 "location": rec["location"], "tags": {}, "kind": "StorageV2",
                                 "properties": {"provisioningState": "Succeeded"}}, now)

    # ---- the timeline --------------------------------------------------------------------------------------
    def _log(self, run: dict, line: str) -> None:
        self.state.logs.setdefault(run["log"], []).append(f"[{run['op']}] {line}")

    def step(self, event: dict, t: float) -> None:
        rec = self.state.templates.get(event["template"])
        run = rec.get("run") if rec else None
        if rec is None or not run or run["id"] != event["run"] or run["state"] != "Running":
            return  # canceled, deleted, or superseded
        props = rec["body"]["properties"]
        phase = run["phases"][run["index"]]
        faults = self.state.faults
        if run["index"] == 0 and run["precheck"]:
            self._log(run, f"PACKER ERR {run['precheck']['message']}")
            return self.finish(rec, t, "Failed", run["precheck"]["message"], run["precheck"]["code"])
        if run["index"] == 0 and (text := faults.injected_failure("Queued")):
            self._log_error(run, text)
            return self.finish(rec, t, "Failed", " ".join(text.split()), "BuildFailed")
        if phase["sub"] in ("Building", "Validating") and (text := faults.injected_failure(phase["sub"])):
            return self._fail_step(rec, run, t, text, "BuildFailed" if phase["sub"] == "Building" else "ValidationFailed")
        if phase["sub"] == "Building" and 1 <= props.get("buildTimeoutInMinutes", 0) <= 5:
            msg = "client_jwt will expire within 5 minutes, please use a JWT that is valid for at least 5 minutes"
            self._log(run, f"PACKER ERR {msg}")
            return self.finish(rec, t, "Failed", self._packer_failure(rec, run), "BuildFailed")
        if phase["sub"] == "Customizing" and "customizer" in phase:
            c = props["customize"][phase["customizer"]]
            label = c.get("name") or c["type"]
            if not self._download(rec, run, c, t):
                return self.finish(rec, t, "Failed", self._packer_failure(rec, run), "BuildFailed")
            if text := faults.injected_failure("Customizing", c):
                return self._fail_step(rec, run, t, text, "BuildFailed")
            if faults.customizer_fails(c):
                self._log(run, "PACKER ERR ==> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]")
                self._log(run, f"PACKER ERR Build 'azure-arm' errored: customizer '{label}' failed")
                return self.finish(rec, t, "Failed", self._packer_failure(rec, run), "BuildFailed")
            self._log(run, f"PACKER OUT (telemetry) ending {PROVISIONER[c['type']]}")
        if phase["sub"] == "Validating":
            validate = props["validate"]
            for v in validate["inVMValidations"]:
                if not self._download(rec, run, v, t):
                    return self.finish(rec, t, "Failed", self._packer_failure(rec, run), "ValidationFailed")
                if faults.validator_fails(v):
                    self._log(run, f"PACKER ERR validator '{v.get('name') or v['type']}' failed")
                    if not validate.get("continueDistributeOnFailure"):
                        return self.finish(rec, t, "Failed", self._packer_failure(rec, run), "ValidationFailed")
                    run["validation_failed"] = True
        if phase["sub"] == "Distributing":
            return self._distribute(rec, run, t)
        run["index"] += 1
        nxt = run["phases"][run["index"]]
        props["lastRunStatus"]["runSubState"] = nxt["sub"]
        if nxt["sub"] == "Customizing" and "customizer" in nxt:
            c = props["customize"][nxt["customizer"]]
            self._log(run, f"PACKER OUT (telemetry) Starting provisioner {PROVISIONER[c['type']]}")
            self._log(run, f"PACKER OUT ==> azure-arm: Provisioning with {PROVISIONER[c['type']]} "
                           f"(customizer '{c.get('name') or c['type']}')...")
        else:
            self._log(run, f"PACKER OUT ==> azure-arm: {nxt['sub']}...")
        self.state.schedule(t + self.state.phase_seconds, "run_step", template=rec["key"], run=run["id"])

    # ---- downloads ------------------------------------------------------------------------------------------
    def _download(self, rec: dict, run: dict, step: dict, t: float) -> bool:
        """Fetch and check the step's blob as the build VM would; False (with log lines) when that fails."""
        uri = step.get("scriptUri") or step.get("sourceUri")
        m = _BLOB_URL_RE.match(uri or "")
        if not uri or not m or self.blob_reader is None:
            return True  # inline, or somewhere the emulator cannot reach
        account, container, _ = m.groups()
        account_id = self._storage_account(account)
        if account_id is not None:
            uais = list(((rec["body"].get("identity") or {}).get("userAssignedIdentities") or {}).keys())
            principal = self.state.principal_of(uais[0])[0] if uais else ""
            scope = f"{account_id}/blobServices/default/containers/{container}"
            if not self._can_read_blobs(principal, scope, t):
                self._log(run, f"PACKER ERR ==> azure-arm: Error downloading '{uri}': 403 This request is not "
                               "authorized to perform this operation using this permission. "
                               "(AuthorizationPermissionMismatch)")
                return False
        try:
            data = self.blob_reader(uri)
        except BlobMissing:
            self._log(run, f"PACKER ERR ==> azure-arm: Error downloading '{uri}': 404 The specified blob does not "
                           "exist. (BlobNotFound)")
            return False
        except Exception as e:  # the blob service is down: the VM would fail to download too
            self._log(run, f"PACKER ERR ==> azure-arm: Error downloading '{uri}': {e}")
            return False
        expected = (step.get("sha256Checksum") or "").lower()
        actual = hashlib.sha256(data).hexdigest()
        if expected and expected != actual:
            self._log(run, f"PACKER ERR ==> azure-arm: Error downloading '{uri}': Checksums did not match. "
                           f"Expected: {expected} Got: {actual}")
            return False
        self._log(run, f"PACKER OUT ==> azure-arm: Downloaded '{uri}' ({len(data)} bytes"
                       f"{', sha256 verified' if expected else ''})")
        return True

    def _storage_account(self, account: str) -> Optional[str]:
        """The id of the storage account named `account`, when the emulator holds it."""
        suffix = "/providers/microsoft.storage/storageaccounts/" + account.lower()
        for k, r in self.state.resources.items():
            if k.endswith(suffix):
                return r["id"]
        return None

    def _can_read_blobs(self, principal: str, scope: str, now: float) -> bool:
        window = self.state.faults.auth_propagation_seconds
        for a in self.state.role_assignments():
            p = a["properties"]
            if str(p.get("principalId", "")).lower() != principal.lower() or not ids.is_within(p["scope"], scope):
                continue
            if self.state.created_at.get(ids.key(a["id"]), 0) + window > now:
                continue
            role = self.state.role_definition(p.get("roleDefinitionId", ""))
            if role and rbac.allows_data(role["properties"].get("permissions") or [], rbac.BLOB_READ):
                return True
        return False

    def _log_error(self, run: dict, text: str) -> None:
        for line in text.splitlines():
            self._log(run, f"PACKER ERR {line}")

    def _fail_step(self, rec: dict, run: dict, t: float, text: str, code: str) -> None:
        """Fail the current phase as Packer does: the error lines, `errored`, the packerizer message."""
        self._log_error(run, text)
        self._log(run, "PACKER OUT ==> Some builds didn't complete successfully and had errors:")
        self._log(run, f"PACKER OUT --> azure-arm: {text.splitlines()[-1]}")
        self.finish(rec, t, "Failed", self._packer_failure(rec, run), code)

    def _packer_failure(self, rec: dict, run: dict) -> str:
        return errors.packer_failure_text(log_url(rec, run["log"]), run["op"])

    def finish(self, rec: dict, t: float, run_state: str, message: str, code: str | None = None) -> None:
        run = rec["run"]
        run["state"] = run_state
        self._log(run, "PACKER OUT (telemetry) Finalizing.")
        self._log(run, "PACKER OUT Done exporting Packer logs to Azure Storage.")
        last = rec["body"]["properties"]["lastRunStatus"]
        last.update({"endTime": lro.iso(t), "runState": run_state, "message": message})
        op = self.state.operations[run["op"]]
        if run_state == "Succeeded":
            lro.finish(op, "Succeeded", t)
        else:
            lro.finish(op, "Failed", t, {"code": code or run_state, "message": message})
        for handler in self.on_finish:
            handler(rec, run_state, t)

    # ---- distribution --------------------------------------------------------------------------------------
    def _distribute(self, rec: dict, run: dict, t: float) -> None:
        props = rec["body"]["properties"]
        failed: list[str] = []
        for d in props["distribute"]:
            name = d["runOutputName"]
            try:
                if text := self.state.faults.injected_failure("Distributing"):
                    raise errors.ArmError(500, "DistributeFailed", " ".join(text.split()))
                if self.state.faults.distribute_fails(name):
                    raise errors.ArmError(500, "DistributeFailed", "context deadline exceeded")
                artifact = self._artifact(rec, d, t)
            except errors.ArmError as e:
                failed.append(f"[Distribute {len(failed)}] Error distributing '{name}': {e.message}")
                self._log(run, f"PACKER ERR distribution of '{name}' failed: {e.message}")
                continue
            rec["run_outputs"][name.lower()] = {
                "id": f"{rec['id']}/runOutputs/{name}", "name": name,
                "type": "Microsoft.VirtualMachineImages/imageTemplates/runOutputs",
                "properties": {**artifact, "provisioningState": "Succeeded"},
            }
        total = len(props["distribute"])
        if failed:
            msg = (f"Deployment failed. Correlation ID: {run['op']}. Failed in distributing {len(failed)} images out "
                   f"of total {total}: {{{' '.join(failed)}}}")
            state = "Failed" if len(failed) == total else "PartiallySucceeded"
            return self.finish(rec, t, state, msg, "DistributeFailed")
        if run["validation_failed"]:
            return self.finish(rec, t, "PartiallySucceeded",
                               "Validation failed, but the image was distributed because continueDistributeOnFailure "
                               "is set. " + self._packer_failure(rec, run), "ValidationFailed")
        self.finish(rec, t, "Succeeded", "")

    def _artifact(self, rec: dict, d: dict, t: float) -> dict:
        if d["type"] == "VHD":
            uri = d.get("uri") or (f"{blob_host(rec['storage_account'])}/vhds/"
                                   f"{rec['name']}_{int(t)}.vhd")
            return {"artifactUri": uri}
        if d["type"] == "ManagedImage":
            image_id = d["imageId"]
            if self.state.manages(image_id):
                self.state.put(image_id, {
                    "id": image_id, "name": ids.name_of(image_id), "type": "Microsoft.Compute/images",
                    "location": d["location"], "tags": dict(d.get("artifactTags") or {}),
                    "properties": {"sourceVirtualMachine": None, "hyperVGeneration": "V2",
                                   "storageProfile": {"osDisk": {"osState": "Generalized"}},
                                   "provisioningState": "Succeeded"}}, t)
            return {"artifactId": image_id}
        return {"artifactId": self._image_version(rec, d, t)}

    def _image_version(self, rec: dict, d: dict, t: float) -> str:
        gid = d["galleryImageId"]
        m = re.search(r"/versions/([^/]+)$", gid, re.I)
        definition = gid[: m.start()] if m else gid
        managed = self.state.manages(definition)
        existing = self._versions(definition)
        if managed and not self.state.get(definition):
            raise errors.ArmError(404, "NotFound", "Error publishing MDI to Azure Compute Gallery: gallery image "
                                                   f"definition '{definition}' was not found.")
        if m:
            version = m.group(1)
            if version in existing:
                raise errors.ArmError(409, "Conflict", f"Error publishing MDI to Azure Compute Gallery: image version "
                                                       f"'{version}' already exists.")
        else:
            version = self._next_version(rec, d, existing)
        vid = f"{definition}/versions/{version}"
        if managed:
            regions = d.get("targetRegions") or [{"name": r} for r in (d.get("replicationRegions") or [rec["location"]])]
            definition_body = self.state.get(definition) or {}
            self.state.put(vid, {
                "id": vid, "name": version, "type": "Microsoft.Compute/galleries/images/versions",
                "location": definition_body.get("location", rec["location"]),
                "tags": dict(d.get("artifactTags") or {}),
                "properties": {
                    "publishingProfile": {
                        "excludeFromLatest": bool(d.get("excludeFromLatest", False)),
                        "targetRegions": [{"name": r["name"], "regionalReplicaCount": r.get("replicaCount", 1),
                                           "storageAccountType": r.get("storageAccountType") or "Standard_LRS"}
                                          for r in regions],
                        "replicaCount": 1, "publishedDate": lro.iso(t),
                        **({"replicationMode": d["replicationMode"]} if d.get("replicationMode") else {}),
                    },
                    "storageProfile": {"source": {"id": f"{rec['id']}"}},
                    "provisioningState": "Succeeded",
                }}, t)
        return vid

    def _versions(self, definition: str) -> list[str]:
        prefix = ids.key(definition) + "/versions/"
        return [r["name"] for k, r in self.state.resources.items() if k.startswith(prefix) and "/" not in k[len(prefix):]]

    def _next_version(self, rec: dict, d: dict, existing: list[str]) -> str:
        parsed = sorted(tuple(int(x) for x in mm.groups()) for v in existing if (mm := _VERSION_RE.match(v)))
        versioning = d.get("versioning") or {"scheme": "Latest", "major": -1}
        if versioning["scheme"] == "Source":
            exact = rec["body"]["properties"]["source"].get("exactVersion", "")
            if _VERSION_RE.match(exact):
                return exact
        major = versioning.get("major", -1)
        pool = [v for v in parsed if major < 0 or v[0] == major]
        if not pool:
            return f"{max(major, 0)}.0.1"
        a, b, c = pool[-1]
        return f"{a}.{b}.{c + 1}"

    # ---- cancel --------------------------------------------------------------------------------------------
    def begin_cancel(self, rec: dict, cancel_op: dict, now: float) -> None:
        run = rec["run"]
        run["state"] = "Canceling"
        run["cancel_op"] = cancel_op["id"]
        polls = self.state.faults.cancel_polls
        run["cancel_reads_left"] = polls
        rec["body"]["properties"]["lastRunStatus"] = {
            "startTime": rec["body"]["properties"]["lastRunStatus"]["startTime"], "endTime": lro.GO_ZERO_TIME,
            "runState": "Canceling", "message": "Canceling image build"}
        self._log(run, "PACKER OUT Cancelling build: received cancellation request")
        if polls is None:
            self.state.schedule(now + self.state.phase_seconds, "cancel_done", template=rec["key"])

    def note_read(self, rec: dict | None, now: float) -> None:
        """A client read the template or one of its operations; counts down a poll-based Canceling."""
        run = rec.get("run") if rec else None
        if rec is None or not run or run["state"] != "Canceling" or run.get("cancel_reads_left") is None:
            return
        if run["cancel_reads_left"] <= 0:
            self.finish_cancel(rec, now)
        else:
            run["cancel_reads_left"] -= 1

    def finish_cancel(self, rec: dict | None, t: float) -> None:
        run = rec.get("run") if rec else None
        if rec is None or not run or run["state"] != "Canceling":
            return
        run["state"] = "Canceled"
        self._log(run, "PACKER OUT Build was cancelled.")
        last = rec["body"]["properties"]["lastRunStatus"]
        last.update({"endTime": lro.iso(t), "runState": "Canceled", "message": "Image build was canceled"})
        lro.finish(self.state.operations[run["op"]], "Canceled", t,
                   {"code": "Canceled", "message": "The image build was canceled by the user."})
        lro.finish(self.state.operations[run["cancel_op"]], "Succeeded", t)
