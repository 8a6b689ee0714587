"""In-memory state of one emulator instance: resources, templates, operations, timers, request log.

This module owns every store and the clock. Nothing lives at module level: each `Emulator` builds its
own `State`. Time-driven transitions (template creation finishing, build phases, Canceling -> Canceled,
deletes) are queued as data events (`schedule`) and applied lazily by `advance()`, which the server calls
under `lock` before every request and which the inspection helpers call too. Because each event carries
the time it was due, a build keeps its timeline whether or not anyone polls, and the outcome is the same
however often clients poll. The stores are plain JSON-able dicts so `save()`/`load()` can persist them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from typing import Any, Callable

from components.emulator import ids, rbac
from components.emulator.faults import Faults

PERSISTED = ("resources", "created_at", "templates", "operations", "events", "logs", "runs", "platform_versions")


class State:
    def __init__(self, faults: Callable[[], Faults], phase_seconds: float, clock: Callable[[], float] = time.time):
        self.lock = threading.RLock()
        self.clock = clock
        self.phase_seconds = phase_seconds
        self._faults = faults
        #: Generic ARM resources (resource groups, identities, roles, galleries, images, vnets, ...), by `ids.key`.
        self.resources: dict[str, dict] = {}
        self.created_at: dict[str, float] = {}
        #: Image templates by `ids.key(template id)`; see `templates.py` for the record layout.
        self.templates: dict[str, dict] = {}
        #: Async operations by GUID (lower case); see `lro.py`.
        self.operations: dict[str, dict] = {}
        self.events: list[dict] = []
        #: Marketplace image versions published through the emulator, by "publisher/offer/sku" (lower case).
        self.platform_versions: dict[str, list[str]] = {}
        #: customization.log lines per log folder GUID.
        self.logs: dict[str, list[str]] = {}
        #: Number of runs started per template key (survives template deletion).
        self.runs: dict[str, int] = {}
        #: One entry per HTTP request: {"method", "path", "status", "time"} (status 0 = dropped).
        self.requests: list[dict] = []
        self._handlers: dict[str, Callable[[dict, float], None]] = {}
        self._seq = 0

    @property
    def faults(self) -> Faults:
        return self._faults()

    # ---- timers -------------------------------------------------------------------------------------------
    def on(self, kind: str, handler: Callable[[dict, float], None]) -> None:
        self._handlers[kind] = handler

    def schedule(self, at: float, kind: str, **data: Any) -> None:
        self._seq += 1
        self.events.append({"at": at, "seq": self._seq, "kind": kind, **data})

    def advance(self, now: float | None = None) -> None:
        """Apply every event due by `now`, oldest first, each at its own due time."""
        now = self.clock() if now is None else now
        with self.lock:
            while True:
                due = [e for e in self.events if e["at"] <= now]
                if not due:
                    return
                event = min(due, key=lambda e: (e["at"], e["seq"]))
                self.events.remove(event)
                self._handlers[event["kind"]](event, event["at"])

    # ---- generic resources --------------------------------------------------------------------------------
    def get(self, resource_id: str) -> dict | None:
        return self.resources.get(ids.key(resource_id))

    def put(self, resource_id: str, body: dict, now: float | None = None) -> None:
        k = ids.key(resource_id)
        if k not in self.resources:
            self.created_at[k] = self.clock() if now is None else now
        self.resources[k] = body

    def delete_tree(self, resource_id: str) -> int:
        """Delete a resource and everything whose id is below it; returns how many were removed."""
        k = ids.key(resource_id)
        doomed = [r for r in self.resources if r == k or r.startswith(k + "/")]
        for r in doomed:
            self.resources.pop(r, None)
            self.created_at.pop(r, None)
        return len(doomed)

    def contents_of_rg(self, rg_id: str) -> list[dict]:
        """Resources inside a resource group (role assignments/definitions are not contents)."""
        k = ids.key(rg_id) + "/providers/"
        return [r for key, r in self.resources.items()
                if key.startswith(k) and not key.startswith(k + "microsoft.authorization/")]

    def manages(self, resource_id: str) -> bool:
        """True when the resource's resource group is known here, so the emulator can judge access to it."""
        rg = ids.rg_id_of(resource_id)
        return rg is not None and self.get(rg) is not None

    # ---- RBAC ---------------------------------------------------------------------------------------------
    def principal_of(self, identity_id: str) -> tuple[str, str]:
        """(principalId, clientId) of a user-assigned identity; stable made-up GUIDs for unknown ones."""
        r = self.get(identity_id)
        if r:
            return r["properties"]["principalId"], r["properties"]["clientId"]
        seed = ids.key(identity_id)
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "p" + seed)), str(uuid.uuid5(uuid.NAMESPACE_URL, "c" + seed))

    def role_definition(self, role_definition_id: str) -> dict | None:
        guid = ids.name_of(role_definition_id).lower()
        if guid in rbac.BUILTIN_ROLES:
            return rbac.builtin_body(guid, ids.subscription_of(role_definition_id))
        for k, r in self.resources.items():
            if k.endswith("/microsoft.authorization/roledefinitions/" + guid):
                return r
        return None

    def role_assignments(self) -> list[dict]:
        return [r for k, r in self.resources.items() if "/providers/microsoft.authorization/roleassignments/" in k]

    def role_definitions(self) -> list[dict]:
        return [r for k, r in self.resources.items() if "/providers/microsoft.authorization/roledefinitions/" in k]

    def has_permission(self, principal_id: str, action: str, target: str, now: float) -> bool:
        window = self.faults.auth_propagation_seconds
        for a in self.role_assignments():
            p = a["properties"]
            if str(p.get("principalId", "")).lower() != principal_id.lower():
                continue
            if not ids.is_within(p["scope"], target):
                continue
            if self.created_at.get(ids.key(a["id"]), 0) + window > now:
                continue  # not propagated yet
            role = self.role_definition(p.get("roleDefinitionId", ""))
            if role and rbac.allows(role["properties"].get("permissions") or [], action):
                return True
        return False

    def missing_permission(self, principal_id: str, reqs: list[rbac.Requirement], now: float) -> str | None:
        """The first managed resource id the principal may not use as required, else None."""
        for req in reqs:
            if self.manages(req.scope) and not self.has_permission(principal_id, req.action, req.scope, now):
                return req.scope
        return None

    # ---- inspection helpers for tests ---------------------------------------------------------------------
    def request_count(self, method: str | None = None, path_contains: str | None = None,
                      status: int | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests
                       if (method is None or r["method"] == method.upper())
                       and (path_contains is None or path_contains.lower() in r["path"].lower())
                       and (status is None or r["status"] == status))

    def runs_started(self, template_id: str) -> int:
        with self.lock:
            return self.runs.get(ids.key(template_id), 0)

    def template(self, template_id: str) -> dict | None:
        """The template as GET would return it (after applying due transitions), or None."""
        self.advance()
        with self.lock:
            rec = self.templates.get(ids.key(template_id))
            return json.loads(json.dumps(rec["body"])) if rec else None

    def resource(self, resource_id: str) -> dict | None:
        self.advance()
        with self.lock:
            return self.get(resource_id)

    def image_versions(self, gallery_image_id: str) -> dict[str, dict]:
        """Image versions of a gallery image definition, by version name."""
        self.advance()
        prefix = ids.key(gallery_image_id) + "/versions/"
        with self.lock:
            return {r["name"]: r for k, r in self.resources.items()
                    if k.startswith(prefix) and "/" not in k[len(prefix):]}

    def log_lines(self, log_guid: str) -> list[str]:
        self.advance()
        with self.lock:
            return list(self.logs.get(log_guid.lower(), []))

    # ---- persistence --------------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        with self.lock:
            data = {name: getattr(self, name) for name in PERSISTED}
            text = json.dumps(data, indent=1, sort_keys=True)
        # Atomically, through a temporary file of this writer's own (a shared `.tmp` name lets two writers interleave):
        # a reader, or a restart after a kill, sees the old state or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".emulator.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        with self.lock:
            for name in PERSISTED:
                if name in data:
                    setattr(self, name, data[name])
            self._seq = max((e["seq"] for e in self.events), default=0)
