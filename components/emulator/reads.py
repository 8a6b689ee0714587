"""Read-only subscription APIs `python -m components preflight` asks: resource providers, Compute resource SKUs and
usages, Container Instances usages, the caller's permissions at a scope, and Azure Policy states.

What they answer comes from `SubscriptionFacts` (on `emu.faults.subscription`, editable while the emulator runs), so a
test can make a provider unregistered, a size restricted, a quota used up, a role-assignment write denied or a policy
deny its resources. By default everything is registered, offered and allowed, with 100 vCPUs of quota per family and
no policy states. Networking reads (subnets, NSGs, NAT gateways, route tables) are generic resources (`generic.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from components.emulator import ids
from components.emulator.messages import Reply, Req

#: (size, family, vCPUs, Hyper-V generations) of the VM sizes the emulator offers in every region.
VM_SIZES: tuple[tuple[str, str, int, str], ...] = (
    ("Standard_A1_v2", "standardAv2Family", 1, "V1"), ("Standard_A2_v2", "standardAv2Family", 2, "V1"),
    ("Standard_B2s", "standardBSFamily", 2, "V1,V2"), ("Standard_B2ms", "standardBSFamily", 2, "V1,V2"),
    ("Standard_D1_v2", "standardDv2Family", 1, "V1"), ("Standard_D2_v2", "standardDv2Family", 2, "V1"),
    ("Standard_D2s_v3", "standardDSv3Family", 2, "V1,V2"), ("Standard_D4s_v3", "standardDSv3Family", 4, "V1,V2"),
    ("Standard_D2ds_v4", "standardDDSv4Family", 2, "V1,V2"), ("Standard_D4ds_v4", "standardDDSv4Family", 4, "V1,V2"),
    ("Standard_D2s_v5", "standardDSv5Family", 2, "V1,V2"), ("Standard_D4s_v5", "standardDSv5Family", 4, "V1,V2"),
    ("Standard_D2ds_v5", "standardDDSv5Family", 2, "V1,V2"), ("Standard_D4ds_v5", "standardDDSv5Family", 4, "V1,V2"),
    ("Standard_D8ds_v5", "standardDDSv5Family", 8, "V1,V2"), ("Standard_E4ds_v5", "standardEDSv5Family", 4, "V1,V2"),
    ("Standard_F4s_v2", "standardFSv2Family", 4, "V1,V2"),
)
DEFAULT_LIMIT = 100

_PROVIDER = re.compile(r"^/subscriptions/[^/]+/providers/([^/]+)$", re.I)
_SKUS = re.compile(r"^/subscriptions/[^/]+/providers/Microsoft\.Compute/skus$", re.I)
_USAGES = re.compile(r"^/subscriptions/[^/]+/providers/(Microsoft\.Compute|Microsoft\.ContainerInstance)/locations/"
                     r"([^/]+)/usages$", re.I)
_PERMISSIONS = re.compile(r"^(.*)/providers/Microsoft\.Authorization/permissions$", re.I)
_POLICY = re.compile(r"^(.*)/providers/Microsoft\.PolicyInsights/policyStates/latest/queryResults$", re.I)


@dataclass
class SubscriptionFacts:
    """What the subscription's read APIs answer (see the module docstring)."""

    #: Provider namespaces that are NotRegistered (any case).
    unregistered_providers: set[str] = field(default_factory=set)
    #: Regions where Microsoft.ContainerInstance/containerGroups is offered (None: every region).
    aci_locations: list[str] | None = None
    #: VM size -> regions where it is restricted for the subscription (NotAvailableForSubscription); an empty set
    #: means every region.
    restricted_sizes: dict[str, set[str]] = field(default_factory=dict)
    #: Usage name ('cores', a family such as 'standardDDSv4Family', or the ACI 'StandardCores') -> (in use, limit);
    #: the others are (0, DEFAULT_LIMIT).
    usages: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Actions the caller may not perform at any scope (its permissions' notActions), e.g.
    #: 'Microsoft.Authorization/roleAssignments/write'.
    denied_actions: list[str] = field(default_factory=list)
    #: Policy state records as PolicyInsights returns them (resourceId, policyAssignmentId, policyAssignmentScope,
    #: policyDefinitionAction, resourceType, complianceState, ...).
    policy_states: list[dict] = field(default_factory=list)


def handles(req: Req) -> bool:
    path = req.path.rstrip("/")
    if req.method == "POST":
        return bool(_POLICY.match(path))
    return req.method == "GET" and any(p.match(path) for p in (_PROVIDER, _SKUS, _USAGES, _PERMISSIONS))


def answer(req: Req, facts: SubscriptionFacts) -> Reply:
    path = req.path.rstrip("/")
    if m := _POLICY.match(path):
        return Reply(200, {"value": _policy_states(facts, m.group(1))})
    if m := _PROVIDER.match(path):
        return Reply(200, _provider(facts, path, m.group(1)))
    if _SKUS.match(path):
        return Reply(200, {"value": _skus(facts, _location_filter(req.query.get("$filter", "")))})
    if m := _USAGES.match(path):
        return Reply(200, {"value": _usages(facts, m.group(1))})
    return Reply(200, {"value": [{"actions": ["*"], "notActions": list(facts.denied_actions),
                                  "dataActions": ["*"], "notDataActions": []}]})


def _provider(facts: SubscriptionFacts, path: str, namespace: str) -> dict:
    registered = namespace.lower() not in {n.lower() for n in facts.unregistered_providers}
    types = []
    if namespace.lower() == "microsoft.containerinstance":
        types = [{"resourceType": "containerGroups", "locations": facts.aci_locations or ["*"]}]
    return {"id": path, "namespace": namespace, "registrationState": "Registered" if registered else "NotRegistered",
            "resourceTypes": types}


def _location_filter(text: str) -> str | None:
    m = re.search(r"location\s+eq\s+'([^']+)'", text, re.I)
    return m.group(1) if m else None


def _skus(facts: SubscriptionFacts, location: str | None) -> list[dict]:
    where = location or "westeurope"
    restricted = {k.lower(): v for k, v in facts.restricted_sizes.items()}
    out = []
    for name, family, vcpus, generations in VM_SIZES:
        regions = restricted.get(name.lower())
        restrictions = []
        if regions is not None and (not regions or where.lower() in {r.lower() for r in regions}):
            restrictions = [{"type": "Location", "values": [where], "restrictionInfo": {"locations": [where]},
                             "reasonCode": "NotAvailableForSubscription"}]
        out.append({"resourceType": "virtualMachines", "name": name, "tier": "Standard", "family": family,
                    "size": name.split("_", 1)[1], "locations": [where], "locationInfo": [{"location": where}],
                    "capabilities": [{"name": "vCPUs", "value": str(vcpus)},
                                     {"name": "HyperVGenerations", "value": generations}],
                    "restrictions": restrictions})
    return out


def _usages(facts: SubscriptionFacts, namespace: str) -> list[dict]:
    names = ["StandardCores"] if namespace.lower() == "microsoft.containerinstance" else \
        ["cores", *dict.fromkeys(f for _, f, _, _ in VM_SIZES)]
    out = []
    for name in names:
        used, limit = facts.usages.get(name, (0, DEFAULT_LIMIT))
        out.append({"unit": "Count", "currentValue": used, "limit": limit,
                    "name": {"value": name, "localizedValue": name}})
    return out


def _policy_states(facts: SubscriptionFacts, scope: str) -> list[dict]:
    """Records of resources under `scope`, or of assignments made at or above it (they apply to it)."""
    return [r for r in facts.policy_states
            if ids.is_within(scope, r.get("resourceId") or "/nothing")
            or ids.is_within(r.get("policyAssignmentScope") or "/nothing", scope)]
