"""SourceImage triggers that fire: a newer platform image version starts a build of every template watching it.

The service rebuilds a template whose SourceImage trigger is active when its `latest` source gets a new version,
and "automatic image creation through triggers is deactivated if the image template build fails multiple times
consecutively (either manually or automatically triggered) ... Once a manual build succeeds, the automatic
triggers are reactivated" (https://learn.microsoft.com/azure/virtual-machines/image-builder-triggers-how-to,
MicrosoftDocs/azure-compute-docs articles/virtual-machines/image-builder-triggers-how-to.md; in the docs since the
September 2024 release notes). The docs give no number; the emulator deactivates after
`FAILURES_TO_DEACTIVATE`. Each trigger's `status` says which state it is in.
"""

from __future__ import annotations

from typing import Optional

from components.emulator import lro
from components.emulator.builds import Builds
from components.emulator.state import State

FAILURES_TO_DEACTIVATE = 3
ACTIVE = {"code": "Healthy", "message": "Trigger is active."}


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def _image_key(publisher: str, offer: str, sku: str) -> str:
    return "/".join(p.lower() for p in (publisher, offer, sku))


class SourceImageTriggers:
    def __init__(self, state: State, builds: Builds):
        self.state = state
        self.builds = builds
        builds.on_finish.append(self.run_finished)

    # ---- the publisher's side -------------------------------------------------------------------------------
    def publish_platform_image(self, publisher: str, offer: str, sku: str, version: str, now: float) -> list[str]:
        """Record a new marketplace image version; start a build of each template whose active SourceImage trigger
        watches that image at `latest` and which last resolved an older version. Returns their ids."""
        key = _image_key(publisher, offer, sku)
        versions = self.state.platform_versions.setdefault(key, [])
        if version not in versions:
            versions.append(version)
        return [rec["id"] for rec in list(self.state.templates.values()) if self._fire(rec, key, version, now)]

    def _fire(self, rec: dict, key: str, version: str, now: float) -> bool:
        source = rec["body"]["properties"]["source"]
        watching = source["type"] == "PlatformImage" and (source.get("version") or "").lower() == "latest" \
            and _image_key(source.get("publisher", ""), source.get("offer", ""), source.get("sku", "")) == key
        trigger = self._active_trigger(rec)
        if not watching or trigger is None or rec["body"]["properties"].get("provisioningState") != "Succeeded":
            return False
        if _version_key(version) <= _version_key(source.get("exactVersion") or "0"):
            return False
        if rec["run"] and rec["run"]["state"] in ("Running", "Canceling"):
            return False
        source["exactVersion"] = version
        op = lro.new_operation(self.state.operations, sub=rec["sub"], location=rec["location"],
                               api_version=rec["api_version"], template=rec["key"], style="async", now=now)
        self.builds.start(rec, op, now)
        rec["run"]["trigger"] = trigger["name"]
        return True

    # ---- health ---------------------------------------------------------------------------------------------
    def run_finished(self, rec: dict, run_state: str, t: float) -> None:
        """Count consecutive failed builds; deactivate the template's triggers at the limit, reactivate them when a
        manual build succeeds."""
        if run_state == "Succeeded":
            rec["consecutive_failures"] = 0
            if not (rec["run"] or {}).get("trigger"):
                self._set_status(rec, ACTIVE, t, only_inactive=True)
            return
        if run_state != "Failed":
            return
        rec["consecutive_failures"] = rec.get("consecutive_failures", 0) + 1
        if rec["consecutive_failures"] >= FAILURES_TO_DEACTIVATE:
            self._set_status(rec, {"code": "Disabled", "message": (
                f"Trigger is deactivated after {rec['consecutive_failures']} consecutive failed builds; a successful "
                "manual build reactivates it.")}, t)

    def _active_trigger(self, rec: dict) -> Optional[dict]:
        return next((t for t in rec.get("triggers", {}).values()
                     if t["properties"]["kind"] == "SourceImage"
                     and t["properties"]["status"]["code"] == ACTIVE["code"]), None)

    def _set_status(self, rec: dict, status: dict, t: float, only_inactive: bool = False) -> None:
        for trigger in rec.get("triggers", {}).values():
            current = trigger["properties"]["status"]
            if only_inactive and current["code"] == ACTIVE["code"]:
                continue
            trigger["properties"]["status"] = {**status, "time": lro.iso(t)}
