"""Resources a stack refers to but does not create (an existing subnet, source image, gallery, identity),
put into the emulator before the local run, as they would already exist in the subscription.

Without them the emulator answers as Azure would (ResourceGroupNotFound on a role assignment scoped to
a missing VNet), and with them its permission checks cover those scopes too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Optional

from azure.mgmt.core.tools import parse_resource_id

if TYPE_CHECKING:
    from components.model.stack import StackConfig

API_VERSIONS = {
    "microsoft.resources/resourcegroups": "2024-03-01",
    "microsoft.managedidentity/userassignedidentities": "2023-01-31",
    "microsoft.compute/galleries": "2024-03-03",
    "microsoft.compute/galleries/images": "2024-03-03",
    "microsoft.compute/galleries/images/versions": "2024-03-03",
    "microsoft.compute/images": "2024-07-01",
    "microsoft.network/virtualnetworks": "2024-05-01",
    "microsoft.network/virtualnetworks/subnets": "2024-05-01",
}
"""Each type at an api-version its service serves (azure-native 3.29.0's own where it declares the type; the Compute
RP's for managed images), as a user's own tooling would send it."""
UNLOCATED = ("microsoft.network/virtualnetworks/subnets",)
"""Child types without a location of their own."""


def arm_type(rid: str) -> str:
    """`Microsoft.Compute/galleries/images` for a gallery image definition's id (resource groups included)."""
    if "/providers/" not in rid:
        return "Microsoft.Resources/resourceGroups"
    parts = parse_resource_id(rid)
    children = [str(parts[f"child_type_{n}"]) for n in range(1, 4) if parts.get(f"child_type_{n}")]
    return "/".join([str(parts["namespace"]), str(parts["type"]), *children])


def api_version(rid: str) -> str:
    return API_VERSIONS[arm_type(rid).lower()]


def _resource_group(rid: str) -> str:
    parts = parse_resource_id(rid)
    return f"/subscriptions/{parts['subscription']}/resourceGroups/{parts['resource_group']}"


def _parents(rid: str) -> list[str]:
    """The resource group, then each parent resource down to `rid` itself."""
    rg = _resource_group(rid)
    provider_path = rid[len(rg):].split("/")  # ['', 'providers', ns, type, name, childtype, childname, ...]
    out, current = [rg], rg + "/providers/" + provider_path[2]
    for i in range(3, len(provider_path) - 1, 2):
        current += f"/{provider_path[i]}/{provider_path[i + 1]}"
        out.append(current)
    return out


def referenced(stack: StackConfig) -> Iterator[tuple[str, dict]]:
    """(resource id, ARM properties) of each existing resource the stack's templates name."""
    # Imported here: `put_missing` serves cached requests without building the spec models (engine.stack_facts).
    from components.model.distributors import ManagedImageDistributor, SharedImageDistributor
    from components.model.formats import is_direct_shared_image_version
    from components.model.platform import image_generation, image_os
    from components.model.sources import ManagedImageSource, SharedImageVersionSource

    for image in stack.images.values():
        spec = image.template
        props = spec.properties
        image_props = {"osType": image_os(spec) or "Linux", "osState": "Generalized",
                       "hyperVGeneration": image_generation(spec)}
        vnet = props.vm_profile.vnet_config if props.vm_profile else None
        if vnet is not None:
            yield from _subnets(vnet.subnet_id, vnet.container_instance_subnet_id)
        if isinstance(props.source, ManagedImageSource):
            yield props.source.image_id, {"storageProfile": {"osDisk": {"osType": image_props["osType"],
                                                                        "osState": "Generalized"}}}
        if isinstance(props.source, SharedImageVersionSource) and not is_direct_shared_image_version(
                props.source.image_version_id):
            # The definition first, with the OS the build reads from it; then the version (unless 'latest').
            version = props.source.image_version_id
            yield version.split("/versions/")[0], _definition_properties(version, image_props)
            if not version.lower().endswith("/latest"):
                yield version, {"publishingProfile": {}, "storageProfile": {}}  # the OS is the definition's
        for identity in (props.vm_profile.user_assigned_identities or []) if props.vm_profile else []:
            yield identity, {}
        if image.identity_id:
            yield image.identity_id, {}
        if props.staging_resource_group:
            yield props.staging_resource_group, {}
        for d in props.distribute:
            if isinstance(d, ManagedImageDistributor):
                yield _resource_group(d.image_id), {}
            if isinstance(d, SharedImageDistributor) and not image.gallery.create:
                definition = d.gallery_image_id.split("/versions/")[0]
                yield definition, _definition_properties(definition, image_props)


def _subnets(build: Optional[str], aci: Optional[str]) -> Iterator[tuple[str, dict]]:
    """The build subnet (and the Container Instances subnet) as AIB's networking docs say to prepare them, which is
    what `preflight` checks: without an ACI subnet the proxy VM sits behind a Private Link service, so the build subnet
    has privateLinkServiceNetworkPolicies Disabled (Azure's default is Enabled); an ACI subnet is delegated to
    Container Instances. https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-networking"""
    if build and not aci:
        yield build, {"addressPrefix": "10.0.0.0/24", "privateLinkServiceNetworkPolicies": "Disabled"}
        return
    if build:
        yield build, {"addressPrefix": "10.0.0.0/24"}
    if aci:
        yield aci, {"addressPrefix": "10.0.1.0/24", "delegations": [
            {"name": "aci", "properties": {"serviceName": "Microsoft.ContainerInstance/containerGroups"}}]}


def _definition_properties(definition: str, image_props: dict) -> dict:
    return {**image_props, "identifier": {"publisher": "existing", "offer": "existing",
                                          "sku": parse_resource_id(definition.split("/versions/")[0])["resource_name"]}}


def seed_body(rid: str, properties: dict, location: str) -> dict:
    body: dict[str, Any] = {} if arm_type(rid).lower() in UNLOCATED else {"location": location}
    return {**body, "properties": properties} if properties or "/providers/" in rid else body


def seed_requests(stack: StackConfig) -> list[tuple[str, dict]]:
    """(id, body) of every referenced resource and its parents, parents first, each once."""
    location = next(iter(stack.images.values())).template.location
    out: dict[str, tuple[str, dict]] = {}
    for rid, properties in referenced(stack):
        chain = _parents(rid) if "/providers/" in rid else [rid]
        for i, parent in enumerate(chain):
            if parent.lower() not in out:
                out[parent.lower()] = (parent, seed_body(parent, properties if i == len(chain) - 1 else {}, location))
    return list(out.values())


def put_missing(requests: list[tuple[str, dict]], client: Any) -> list[str]:
    """PUT each of `requests` (from `seed_requests`) that the emulator does not have; return their ids."""
    created: list[str] = []
    for rid, body in requests:
        if client.resources.check_existence_by_id(rid, api_version=api_version(rid)):
            continue
        client.resources.begin_create_or_update_by_id(rid, body, api_version=api_version(rid)).result()
        created.append(rid)
    return created
