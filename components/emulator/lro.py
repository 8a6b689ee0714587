"""Long-running operations: the async-operation status resource and the LRO response headers.

This module owns the records behind
`/subscriptions/{sub}/providers/Microsoft.VirtualMachineImages/locations/{loc}/operations/{id}` and the
headers that point clients at them, shaped so azure-core's `ARMPolling` works unchanged (reference §1.5):
PUT/PATCH/POST answer with `Azure-AsyncOperation` (and `Location` for run/cancel, as the service does),
whose status resource answers 200 `{name (upper-case GUID), status, startTime[, endTime][, error]}`;
DELETE answers with `Location` only, and that URL answers 202 while the delete runs and 200 when done.
"""

from __future__ import annotations

import datetime as dt

from components.emulator import ids

TERMINAL = ("Succeeded", "Failed", "Canceled")


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def new_operation(store: dict, *, sub: str, location: str, api_version: str, template: str | None,
                  style: str, now: float) -> dict:
    """Create an InProgress operation. `style` is "async" (Azure-AsyncOperation) or "location" (DELETE)."""
    op_id = ids.new_guid()
    op = {
        "id": op_id, "sub": sub, "location": location, "api_version": api_version, "template": template,
        "style": style, "status": "InProgress", "startTime": iso(now), "endTime": None, "error": None,
    }
    store[op_id] = op
    return op


def finish(op: dict, status: str, now: float, error: dict | None = None) -> None:
    if op["status"] in TERMINAL:
        return
    op["status"] = status
    op["endTime"] = iso(now)
    op["error"] = error


def url(base: str, op: dict) -> str:
    return (f"{base}/subscriptions/{op['sub']}/providers/Microsoft.VirtualMachineImages/locations/"
            f"{op['location']}/operations/{op['id']}?api-version={op['api_version']}")


def headers(base: str, op: dict, *, async_op: bool = True, location: bool = False,
            retry_after: int | None = None) -> dict[str, str]:
    h: dict[str, str] = {}
    if async_op:
        h["Azure-AsyncOperation"] = url(base, op)
    if location:
        h["Location"] = url(base, op)
    if retry_after is not None:
        h["Retry-After"] = str(retry_after)
    return h


def status_body(op: dict) -> dict:
    body = {"id": f"/subscriptions/{op['sub']}/providers/Microsoft.VirtualMachineImages/locations/"
                  f"{op['location']}/operations/{op['id']}",
            "name": op["id"].upper(), "status": op["status"], "startTime": op["startTime"]}
    if op["endTime"]:
        body["endTime"] = op["endTime"]
    if op["error"]:
        body["error"] = op["error"]
    return body


def status_code(op: dict) -> int:
    """Location-style (DELETE) polls see 202 until done; Azure-AsyncOperation polls always see 200."""
    return 202 if op["style"] == "location" and op["status"] not in TERMINAL else 200
