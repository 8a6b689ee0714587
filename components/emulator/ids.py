"""ARM resource-id arithmetic: parsing, case-insensitive keys, scopes and parents.

ARM ids are case-insensitive, and the segment `resourceGroups` appears in several casings on the wire,
so every store in the emulator is keyed by `key(id)` (lower case, no trailing slash) while the id as the
client first spelled it is kept for responses. This module owns that normalisation and the small helpers
that answer "which resource group / parent / scope is this id in".
"""

from __future__ import annotations

import re
import uuid

_RG_RE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)", re.I)


def key(resource_id: str) -> str:
    return "/" + resource_id.strip("/").lower()


def new_guid() -> str:
    return str(uuid.uuid4())


def subscription_of(resource_id: str) -> str | None:
    m = re.match(r"^/subscriptions/([^/]+)", resource_id, re.I)
    return m.group(1) if m else None


def rg_id_of(resource_id: str) -> str | None:
    """`/subscriptions/s/resourceGroups/rg` for any id inside a resource group."""
    m = _RG_RE.match(resource_id)
    return f"/subscriptions/{m.group(1)}/resourceGroups/{m.group(2)}" if m else None


def rg_name_of(resource_id: str) -> str | None:
    m = _RG_RE.match(resource_id)
    return m.group(2) if m else None


def is_within(scope: str, target: str) -> bool:
    """True when `scope` is `target` or one of its ancestors (case-insensitive)."""
    s, t = key(scope), key(target)
    return s == "/" or t == s or t.startswith(s + "/")


def parent_resource(resource_id: str) -> str | None:
    """The parent of a nested resource (`.../galleries/g/images/i` -> `.../galleries/g`), else None."""
    parts = resource_id.strip("/").split("/")
    try:
        p = max(i for i, s in enumerate(parts) if s.lower() == "providers")
    except ValueError:
        return None
    tail = parts[p + 2 :]
    if len(tail) >= 4 and len(tail) % 2 == 0:
        return "/" + "/".join(parts[: len(parts) - 2])
    return None


def resource_type_of(resource_id: str) -> str:
    """`Microsoft.Compute/galleries/images` for a gallery image id; `resourceGroups` for an RG."""
    parts = resource_id.strip("/").split("/")
    try:
        p = max(i for i, s in enumerate(parts) if s.lower() == "providers")
    except ValueError:
        return "Microsoft.Resources/resourceGroups" if len(parts) == 4 else "Microsoft.Resources/subscriptions"
    ns = parts[p + 1]
    types = parts[p + 2 :: 2]
    return "/".join([ns, *types])


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").split("/")[-1]


def template_id(sub: str, rg: str, name: str) -> str:
    """Template ids use lower-case `resourcegroups`, as the real service writes them (reference §7.10)."""
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"
