"""Resources a stack refers to but does not create (an existing subnet, source image, gallery, identity),
put into the emulator before the local run, as they would already exist in the subscription.

Without them the emulator answers as Azure would (ResourceGroupNotFound on a role assignment scoped to
a missing VNet), and with them its permission checks cover those scopes too.
"""

from __future__ import annotations

from typing import Any, Iterator

from azure.mgmt.core.tools import parse_resource_id

from ..spec.formats import is_direct_shared_image_version
from ..spec.distributors import ManagedImageDistributor, SharedImageDistributor
from ..spec.platform import image_generation, image_os
from ..spec.sources import ManagedImageSource, SharedImageVersionSource
from ..spec.stack import StackConfig

API_VERSION = "2024-03-01"


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
    for image in stack.images.values():
        spec = image.template
        props = spec.properties
        image_props = {"osType": image_os(spec) or "Linux", "osState": "Generalized",
                       "hyperVGeneration": image_generation(spec)}
        vnet = props.vm_profile.vnet_config if props.vm_profile else None
        for subnet in [s for s in ((vnet.subnet_id, vnet.container_instance_subnet_id) if vnet else ()) if s]:
            yield subnet, {"addressPrefix": "10.0.0.0/24"}
        if isinstance(props.source, ManagedImageSource):
            yield props.source.image_id, {"storageProfile": {"osDisk": {"osType": image_props["osType"]}}}
        if isinstance(props.source, SharedImageVersionSource) and not is_direct_shared_image_version(
                props.source.image_version_id):
            # The definition first, with the OS the build reads from it; then the version (unless 'latest').
            version = props.source.image_version_id
            yield version.split("/versions/")[0], _definition_properties(version, image_props)
            if not version.lower().endswith("/latest"):
                yield version, {"publishingProfile": {}, "storageProfile": {"osDiskImage": {
                    "osType": image_props["osType"]}}}
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


def _definition_properties(definition: str, image_props: dict) -> dict:
    return {**image_props, "identifier": {"publisher": "existing", "offer": "existing",
                                          "sku": parse_resource_id(definition.split("/versions/")[0])["resource_name"]}}


def seed(stack: StackConfig, client: Any) -> list[str]:
    """PUT every referenced resource (and its parents) that the emulator does not have; return their ids."""
    location = next(iter(stack.images.values())).template.location
    created: list[str] = []
    for rid, properties in referenced(stack):
        chain = _parents(rid) if "/providers/" in rid else [rid]
        for i, parent in enumerate(chain):
            if parent.lower() in (c.lower() for c in created):
                continue
            if client.resources.check_existence_by_id(parent, api_version=API_VERSION):
                continue
            body = {"location": location, "properties": properties if i == len(chain) - 1 else {}}
            client.resources.begin_create_or_update_by_id(parent, body, api_version=API_VERSION).result()
            created.append(parent)
    return created
