"""The pre-flight checks: each takes the `Context` (stack, plan, subscription reader) and returns rows.

One function per concern, each row `ok`, `warn` or `fail` with the fix. Sources of the rules: the AIB networking
and permissions docs (NSG ports 60000/60001 from AzureLoadBalancer, privateLinkServiceNetworkPolicies disabled, the
ACI subnet delegated to Microsoft.ContainerInstance/containerGroups), the troubleshooting guide's prerequisites
(providers, ACI quota of 4 cores per build, Azure Policy), the overview (TrustedLaunch/ConfidentialVM are not
supported as sources) and the March 2026 release note (new subnets have no default outbound access).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Optional

from components.plan.naming import resource_group_of
from components.model.platform import build_vm_size, image_generation, image_os
from components.model.sources import ManagedImageSource, SharedImageVersionSource
from components.model.stack import ImageConfig
from components.ops.diagnose.target import Target
from components.ops.preflight.reader import Reader

OK, WARN, FAIL = "ok", "warn", "fail"
PROVIDERS = ("Microsoft.VirtualMachineImages", "Microsoft.Compute", "Microsoft.Storage", "Microsoft.Network",
             "Microsoft.ManagedIdentity")
ACI = "Microsoft.ContainerInstance"
ACI_CORES_PER_BUILD = 4
DEFAULT_PROXY_SIZE = "Standard_A1_v2"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
ROLE_DEFINITION_WRITE = "Microsoft.Authorization/roleDefinitions/write"
NOT_A_SOURCE = ("TrustedLaunch", "ConfidentialVM")
#: Resource types the build creates in the staging resource group (or writes as its output).
BUILD_TYPES = {t.lower() for t in (
    "Microsoft.Compute/virtualMachines", "Microsoft.Compute/disks", "Microsoft.Compute/images",
    "Microsoft.Compute/galleries/images/versions", "Microsoft.Network/networkInterfaces",
    "Microsoft.Network/publicIPAddresses", "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/loadBalancers", "Microsoft.Network/privateLinkServices", "Microsoft.Network/privateEndpoints",
    "Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.ContainerInstance/containerGroups",
    "Microsoft.Resources/resourceGroups")}
DEFAULT_INBOUND = (
    {"name": "AllowVnetInBound", "priority": 65000, "access": "Allow", "sourceAddressPrefix": "VirtualNetwork"},
    {"name": "AllowAzureLoadBalancerInBound", "priority": 65001, "access": "Allow",
     "sourceAddressPrefix": "AzureLoadBalancer"},
    {"name": "DenyAllInBound", "priority": 65500, "access": "Deny", "sourceAddressPrefix": "*"},
)


@dataclass(frozen=True)
class Row:
    check: str
    subject: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Context:
    target: Target
    reader: Reader
    _cache: dict = field(default_factory=dict)

    @property
    def images(self) -> dict[str, ImageConfig]:
        return self.target.stack.images

    def cached(self, key: Any, read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def resource(self, rid: str) -> Optional[dict]:
        return self.cached(("get", rid.lower()), lambda: self.reader.get(rid))

    @cached_property
    def plan(self):
        from components.plan.stack import plan_stack

        t = self.target
        return plan_stack(t.stack, subscription_id=t.subscription_id, project=t.project, stack_name=t.stack_name)


def region(image: ImageConfig) -> str:
    return image.template.location.replace(" ", "").lower()


def vnet(image: ImageConfig):
    profile = image.template.properties.vm_profile
    return profile.vnet_config if profile and profile.vnet_config and profile.vnet_config.subnet_id else None


def proxy_size(image: ImageConfig) -> Optional[str]:
    """The proxy VM of a VNet build without an ACI subnet (None for other topologies)."""
    config = vnet(image)
    if config is None or config.container_instance_subnet_id:
        return None
    return config.proxy_vm_size or DEFAULT_PROXY_SIZE


# ---- providers -------------------------------------------------------------------------------------------------

def providers(ctx: Context) -> list[Row]:
    isolated = any(getattr(vnet(i), "container_instance_subnet_id", None) for i in ctx.images.values())
    rows = []
    for namespace in (*PROVIDERS, ACI):
        state = ctx.reader.provider(namespace).get("registrationState", "")
        fix = f"az provider register -n {namespace}"
        if state == "Registered":
            rows.append(Row("provider", namespace, OK, "Registered"))
        elif namespace == ACI and not isolated:
            rows.append(Row("provider", namespace, WARN, f"{state}: isolated builds run in Container Instances", fix))
        else:
            rows.append(Row("provider", namespace, FAIL, state or "unknown", fix))
    return rows


# ---- sizes and quota -------------------------------------------------------------------------------------------

def _sizes(ctx: Context, location: str) -> dict[str, dict]:
    return ctx.cached(("sizes", location), lambda: ctx.reader.vm_sizes(location))


def _capability(sku: dict, name: str) -> str:
    return next((c["value"] for c in sku.get("capabilities") or [] if c["name"] == name), "")


def _restriction(sku: dict, location: str) -> Optional[str]:
    for r in sku.get("restrictions") or []:
        where = [x.lower() for x in (r.get("restriction_info") or {}).get("locations") or r.get("values") or []]
        if r.get("type") == "Location" and (not where or location in where):
            return r.get("reason_code") or "restricted"
    return None


def vm_sizes(ctx: Context) -> list[Row]:
    rows = []
    for name, image in ctx.images.items():
        location = region(image)
        wanted: list[tuple[str, str, Optional[str]]] = [
            ("build VM", build_vm_size(image.template), image_generation(image.template))]
        if proxy := proxy_size(image):
            wanted.append(("proxy VM", proxy, None))
        for role, size, generation in wanted:
            rows.append(_size_row(name, role, size, generation, location, _sizes(ctx, location).get(size.lower())))
        rows.append(_aci_row(ctx, name, location))
    return rows


def _size_row(image: str, role: str, size: str, generation: Optional[str], location: str,
              sku: Optional[dict]) -> Row:
    subject = f"{image}: {role} {size}"
    fix = f"pick another size offered in {location} (az vm list-skus -l {location} --resource-type virtualMachines)"
    if sku is None:
        return Row("vm size", subject, FAIL, f"not offered in {location}", fix)
    if reason := _restriction(sku, location):
        return Row("vm size", subject, FAIL, f"restricted in {location}: {reason}", fix)
    generations = _capability(sku, "HyperVGenerations")
    if generation and generations and generation not in generations.split(","):
        return Row("vm size", subject, FAIL, f"supports {generations} only; the image is {generation}",
                   "use a size that supports the image's generation (e.g. a Dsv5/Ddsv5 size for V2)")
    return Row("vm size", subject, OK, f"available in {location} ({_capability(sku, 'vCPUs')} vCPUs)")


def _aci_row(ctx: Context, image: str, location: str) -> Row:
    provider = ctx.cached(("provider", ACI), lambda: ctx.reader.provider(ACI))
    types = {t["resourceType"].lower(): t.get("locations") or [] for t in provider.get("resourceTypes") or []}
    locations = [x.replace(" ", "").lower() for x in types.get("containergroups", ["*"])]
    if "*" in locations or location in locations:
        return Row("container instances", f"{image}: {location}", OK, "containerGroups offered")
    return Row("container instances", f"{image}: {location}", FAIL, "Container Instances not offered in the region",
               "build in a region that offers Azure Container Instances (isolated builds need it)")


def quota(ctx: Context) -> list[Row]:
    need: dict[tuple[str, str], int] = {}
    for image in ctx.images.values():
        location = region(image)
        for size in filter(None, (build_vm_size(image.template), proxy_size(image))):
            sku = _sizes(ctx, location).get(size.lower())
            if sku:
                cores = int(_capability(sku, "vCPUs") or 0)
                for key in ((location, sku.get("family") or ""), (location, "cores")):
                    need[key] = need.get(key, 0) + cores
        need[(location, "aci:StandardCores")] = need.get((location, "aci:StandardCores"), 0) + ACI_CORES_PER_BUILD
    rows = []
    for (location, name), cores in sorted(need.items()):
        aci = name.startswith("aci:")
        usages = ctx.cached(("usages", aci, location),
                            lambda: (ctx.reader.aci_usages if aci else ctx.reader.usages)(location))
        used, limit = usages.get(name.removeprefix("aci:"), (0, 0))
        subject = f"{location}: {name.removeprefix('aci:')}" + (" (Container Instances)" if aci else " vCPUs")
        detail = f"{limit - used} free of {limit}, builds need {cores}"
        status = OK if limit - used >= cores else FAIL
        rows.append(Row("quota", subject, status, detail,
                        "" if status == OK else "request more quota (Portal: Quotas) or build fewer images at once"))
    return rows


# ---- network ---------------------------------------------------------------------------------------------------

def network(ctx: Context) -> list[Row]:
    rows = []
    for name, image in ctx.images.items():
        config = vnet(image)
        if config is None:
            continue
        windows = image_os(image.template) == "Windows"
        subnet = _subnet_rows(ctx, name, "build subnet", str(config.subnet_id), rows)
        aci = _subnet_rows(ctx, name, "ACI subnet", config.container_instance_subnet_id, rows) \
            if config.container_instance_subnet_id else None
        if subnet is None:
            continue
        if config.container_instance_subnet_id:
            rows.append(_delegation_row(name, aci))
            source = {"VirtualNetwork", *(_prefixes(aci) if aci else [])}
            rows.append(_nsg_row(ctx, name, subnet, source, 5986 if windows else 22, "from the ACI subnet"))
        else:
            rows.append(_private_link_row(name, subnet))
            rows.append(_nsg_row(ctx, name, subnet, {"AzureLoadBalancer"}, 60000 if windows else 60001,
                                 "from AzureLoadBalancer to the proxy VM"))
    return rows


def _subnet_rows(ctx: Context, image: str, role: str, subnet_id: str, rows: list[Row]) -> Optional[dict]:
    subnet = ctx.resource(subnet_id)
    subject = f"{image}: {role} {subnet_id.rsplit('/', 1)[-1]}"
    if subnet is None:
        fix = "create it, or fix vnetConfig"
        if ctx.target.local:  # the local cloud has what a stack names as existing once a local run put it there
            fix += f" (local cloud: `bash scripts/pulumi.sh preview --stack {ctx.target.stack_name}` puts it there)"
        rows.append(Row("subnet", subject, FAIL, f"{subnet_id} does not exist", fix))
        return None
    rows.append(Row("subnet", subject, OK, "exists"))
    rows.append(_outbound_row(ctx, subject, subnet))
    return subnet


def _props(resource: Optional[dict]) -> dict:
    return (resource or {}).get("properties") or {}


def _prefixes(subnet: dict) -> list[str]:
    props = _props(subnet)
    return [p for p in [props.get("addressPrefix"), *(props.get("addressPrefixes") or [])] if p]


def _outbound_row(ctx: Context, subject: str, subnet: dict) -> Row:
    props = _props(subnet)
    fix = "attach a NAT gateway to the subnet, or route 0.0.0.0/0 through a firewall"
    if (props.get("natGateway") or {}).get("id"):
        return Row("outbound", subject, OK, "NAT gateway attached")
    table = ctx.resource(props["routeTable"]["id"]) if (props.get("routeTable") or {}).get("id") else None
    for route in _props(table).get("routes") or []:
        r = _props(route) or route
        if r.get("addressPrefix") == "0.0.0.0/0" and r.get("nextHopType") in ("VirtualAppliance", "Internet"):
            return Row("outbound", subject, OK, f"0.0.0.0/0 routed to {r['nextHopType']}")
    if props.get("defaultOutboundAccess") is False:
        return Row("outbound", subject, FAIL, "no outbound path (private subnet, no NAT gateway or default route)", fix)
    return Row("outbound", subject, WARN, "relies on default outbound access (none for subnets created since March "
                                          "2026; a load balancer with outbound rules also counts)", fix)


def _delegation_row(image: str, aci: Optional[dict]) -> Row:
    services = [_props(d).get("serviceName") for d in _props(aci).get("delegations") or []]
    if "Microsoft.ContainerInstance/containerGroups" in services:
        return Row("subnet", f"{image}: ACI subnet delegation", OK, "delegated to Container Instances")
    return Row("subnet", f"{image}: ACI subnet delegation", FAIL, "not delegated to Container Instances",
               "delegate the subnet to Microsoft.ContainerInstance/containerGroups")


def _private_link_row(image: str, subnet: dict) -> Row:
    state = _props(subnet).get("privateLinkServiceNetworkPolicies") or "Enabled"
    if state == "Disabled":
        return Row("subnet", f"{image}: private link policies", OK, "privateLinkServiceNetworkPolicies Disabled")
    return Row("subnet", f"{image}: private link policies", FAIL, f"privateLinkServiceNetworkPolicies {state}",
               "az network vnet subnet update --disable-private-link-service-network-policies true ...")


def _nsg_row(ctx: Context, image: str, subnet: dict, sources: set[str], port: int, what: str) -> Row:
    subject = f"{image}: NSG port {port} {what}"
    nsg_id = (_props(subnet).get("networkSecurityGroup") or {}).get("id")
    if not nsg_id:
        return Row("nsg", subject, OK, "no NSG on the subnet")
    rule = first_inbound_rule(_props(ctx.resource(nsg_id)), sources, port)
    if rule.get("access") == "Allow":
        return Row("nsg", subject, OK, f"allowed by {rule.get('name')}")
    return Row("nsg", subject, FAIL, f"denied by {rule.get('name')} (priority {rule.get('priority')})",
               f"add an inbound Allow rule for TCP {port} {what} with a lower priority number")


def first_inbound_rule(nsg: dict, sources: set[str], port: int) -> dict:
    """The inbound rule (custom or default) that decides TCP traffic from any of `sources` to `port`."""
    rules = [{**_props(r), "name": r.get("name")} for r in nsg.get("securityRules") or []]
    rules += [{**_props(r), "name": r.get("name")} for r in nsg.get("defaultSecurityRules") or []] \
        or [{**r, "direction": "Inbound"} for r in DEFAULT_INBOUND]
    inbound = sorted((r for r in rules if r.get("direction", "Inbound") == "Inbound"
                      and r.get("protocol", "*") in ("*", "Tcp")), key=lambda r: r.get("priority", 65535))
    return next((r for r in inbound if _source_matches(r, sources) and _port_matches(r, port)), DEFAULT_INBOUND[-1])


def _source_matches(rule: dict, sources: set[str]) -> bool:
    given = [rule.get("sourceAddressPrefix"), *(rule.get("sourceAddressPrefixes") or [])]
    return any(g == "*" or g in sources or _within(s, g) for g in given if g for s in sources)


def _within(prefix: str, network: str) -> bool:
    try:
        inner, outer = ipaddress.ip_network(prefix, strict=False), ipaddress.ip_network(network, strict=False)
        return inner.version == outer.version and inner.subnet_of(outer)  # pyright: ignore[reportArgumentType]
    except (ValueError, TypeError):
        return False


def _port_matches(rule: dict, port: int) -> bool:
    ranges = [rule.get("destinationPortRange", "*"), *(rule.get("destinationPortRanges") or [])]
    for r in filter(None, ranges):
        low, _, high = str(r).partition("-")
        if r == "*" or int(low) <= port <= int(high or low):
            return True
    return False


# ---- permissions -----------------------------------------------------------------------------------------------

def permissions(ctx: Context) -> list[Row]:
    rows = []
    for name, image in ctx.images.items():
        if not image.manage_roles:
            rows.append(Row("permissions", f"{name}: role assignments", OK,
                            "manageRoles: false (grant the identity's roles yourself)"))
            continue
        plan = ctx.plan.images[name]
        grants = [*plan.grants, *([plan.runner_grant] if plan.runner_grant else []),
                  *(g for g in ctx.plan.shared.grants if g.logical_name in plan.shared_grants)]
        needs: dict[str, set[str]] = {}
        for g in grants:
            needs.setdefault(g.grant.scope, set()).add(ROLE_ASSIGNMENT_WRITE)
            if g.grant.custom:
                needs.setdefault(g.grant.assignable_scope, set()).add(ROLE_DEFINITION_WRITE)
        rows += [_permission_row(ctx, name, scope, actions) for scope, actions in needs.items()]
    return rows


def _permission_row(ctx: Context, image: str, scope: str, actions: set[str]) -> Row:
    asked = _existing_ancestor(ctx, scope)
    blocks = ctx.cached(("permissions", asked.lower()), lambda: ctx.reader.permissions(asked))
    missing = sorted(a for a in actions if not allows(blocks, a))
    subject = f"{image}: {_short(scope)}"
    if missing:
        return Row("permissions", subject, FAIL, f"the deployer may not {', '.join(missing)}",
                   "grant it User Access Administrator (or Owner) on the scope, or set manageRoles: false and "
                   "assign the roles yourself")
    return Row("permissions", subject, OK, "the deployer may create the role assignments")


def _existing_ancestor(ctx: Context, scope: str) -> str:
    """The scope itself when it exists, else its resource group when that exists, else the subscription."""
    if "/resourcegroups/" not in scope.lower():
        return scope
    rg = resource_group_of(scope)
    for candidate in (scope, rg):
        if ctx.resource(candidate) is not None:
            return candidate
    return f"/subscriptions/{ctx.target.subscription_id}"


def allows(blocks: Iterable[dict], action: str) -> bool:
    """ARM's rule: some block has a matching action and no matching notAction (wildcards `*`)."""
    return any(any(_wild(p, action) for p in b.get("actions") or []) and
               not any(_wild(p, action) for p in b.get("notActions") or []) for b in blocks)


def _wild(pattern: str, action: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action, re.I) is not None


def _short(rid: str) -> str:
    parts = rid.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else rid


# ---- resources the stack names ---------------------------------------------------------------------------------

def existing(ctx: Context) -> list[Row]:
    rows = []
    for name, image in ctx.images.items():
        spec = image.template
        props = spec.properties
        identities = [image.identity_id or (spec.identity.identity_id if spec.identity else None),
                      *((props.vm_profile.user_assigned_identities or []) if props.vm_profile else [])]
        rows += [_exists_row(ctx, name, "identity", i) for i in identities if i]
        if props.staging_resource_group:
            rows.append(_exists_row(ctx, name, "staging resource group", props.staging_resource_group))
        if isinstance(props.source, (ManagedImageSource, SharedImageVersionSource)):
            rows += _source_rows(ctx, name, props.source)
        rows += _definition_rows(ctx, name, image)
    return rows


def _exists_row(ctx: Context, image: str, what: str, rid: str) -> Row:
    if ctx.resource(rid) is None:
        return Row("exists", f"{image}: {what} {_short(rid)}", FAIL, f"{rid} does not exist",
                   "create it, or fix the id in the stack config")
    return Row("exists", f"{image}: {what} {_short(rid)}", OK, "exists")


def _source_rows(ctx: Context, image: str, source) -> list[Row]:
    rid = getattr(source, "image_id", None) or source.image_version_id
    if rid.lower().endswith("/versions/latest"):
        rid = rid.rsplit("/versions/", 1)[0]
    rows = [_exists_row(ctx, image, "source", rid)]
    if isinstance(source, SharedImageVersionSource):
        definition = ctx.resource(rid.split("/versions/")[0])
        security = _security_type(definition)
        if security in NOT_A_SOURCE:
            rows.append(Row("image definition", f"{image}: source security type", FAIL,
                            f"{security} images are not supported as a source",
                            "use a TrustedLaunchSupported / ConfidentialVmSupported source"))
    return rows


def _security_type(definition: Optional[dict]) -> Optional[str]:
    features = _props(definition).get("features") or []
    return next((f.get("value") for f in features if str(f.get("name")).lower() == "securitytype"), None)


def _definition_rows(ctx: Context, name: str, image: ImageConfig) -> list[Row]:
    rows = []
    planned = image.gallery.image_definition.security_type
    if image.gallery.create and planned in NOT_A_SOURCE:
        rows.append(Row("image definition", f"{name}: gallery.imageDefinition.securityType", FAIL,
                        f"{planned}: AIB distributes only to *Supported security types",
                        "use TrustedLaunchSupported (or TrustedLaunchAndConfidentialVmSupported)"))
    for d in image.template.properties.distribute:
        if d.type != "SharedImage":
            continue
        rid = d.gallery_image_id.split("/versions/")[0]
        definition = ctx.resource(rid)
        if definition is None:
            rows.append(Row("exists", f"{name}: image definition {_short(rid)}", OK, "will be created")
                        if image.gallery.create else _exists_row(ctx, name, "image definition", rid))
            continue
        rows.append(_fit_row(name, rid, definition, image))
    return rows


def _fit_row(name: str, rid: str, definition: dict, image: ImageConfig) -> Row:
    props = _props(definition)
    wanted = {"osType": image_os(image.template), "hyperVGeneration": image_generation(image.template)}
    wrong = [f"{k} {props.get(k)} (the image is {v})" for k, v in wanted.items()
             if v and props.get(k) and str(props[k]).lower() != v.lower()]
    security = _security_type(definition)
    if security in NOT_A_SOURCE:
        wrong.append(f"securityType {security} (use {security}Supported)".replace("ConfidentialVMSupported",
                                                                                   "ConfidentialVmSupported"))
    subject = f"{name}: image definition {_short(rid)}"
    if wrong:
        return Row("image definition", subject, FAIL, "; ".join(wrong),
                   "distribute to a definition that matches the source (or fix osType/hyperVGeneration)")
    return Row("image definition", subject, OK, f"exists; {props.get('osType')} {props.get('hyperVGeneration')}"
                                                f"{', ' + security if security else ''}")


# ---- policy ----------------------------------------------------------------------------------------------------

def policy(ctx: Context) -> list[Row]:
    scopes = {f"/subscriptions/{ctx.target.subscription_id}/resourceGroups/{ctx.target.stack.resource_group_name}"}
    for image in ctx.images.values():
        config = vnet(image)
        if config:
            scopes.add(resource_group_of(str(config.subnet_id)))
        if image.template.properties.staging_resource_group:
            scopes.add(image.template.properties.staging_resource_group)
    rows = []
    for scope in sorted(scopes):
        if ctx.resource(scope) is None:
            rows.append(Row("policy", _short(scope), OK, "resource group does not exist yet (nothing assigned on it)"))
            continue
        rows += _policy_rows(scope, ctx.reader.policy_states(scope))
    return rows


def _policy_rows(scope: str, states: list[dict]) -> list[Row]:
    denies: dict[str, set[str]] = {}
    for s in states:
        if str(s.get("policyDefinitionAction", "")).lower() == "deny":
            name = s.get("policyAssignmentName") or s.get("policyAssignmentId", "?")
            denies.setdefault(name, set()).add(str(s.get("resourceType") or "").lower())
    if not denies:
        return [Row("policy", _short(scope), OK, f"no deny assignment in {len(states)} policy states")]
    rows = []
    for name, types in sorted(denies.items()):
        hit = sorted(types & BUILD_TYPES)
        status = FAIL if hit else WARN
        rows.append(Row("policy", f"{_short(scope)}: {name}", status,
                        f"denies {', '.join(hit or sorted(t for t in types if t) or ['resources'])}",
                        "exempt the build's resource groups, or make sure the build does not create that"))
    return rows


CHECKS: tuple[Callable[[Context], list[Row]], ...] = (providers, vm_sizes, quota, network, permissions, existing,
                                                     policy)
