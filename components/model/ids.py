"""Azure resource ids as validated string types.

A template is full of resource ids (sources, galleries, subnets, identities). A malformed id, or an id
of the wrong type, fails at the service minutes after submission; here it fails at parse time. The
parsing itself is the Azure SDK's (`azure.mgmt.core.tools`).
"""

from __future__ import annotations

from typing import Annotated

from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id
from pydantic import AfterValidator

from components.model.formats import is_direct_shared_image_version


def resource_type_of(rid: str) -> str:
    """'Microsoft.Compute/galleries/images' for an image definition id; '' for a resource group id."""
    parts = parse_resource_id(rid)
    if "namespace" not in parts:
        return "resourceGroups" if parts.get("resource_group") else ""
    types = [str(parts["type"])]
    for n in range(1, int(parts.get("last_child_num") or 0) + 1):
        types.append(str(parts[f"child_type_{n}"]))
    return str(parts["namespace"]) + "/" + "/".join(types)


def _checker(*expected: str, direct_shared: bool = False):
    wanted = {e.lower(): e for e in expected}

    def check(value: str) -> str:
        if direct_shared and isinstance(value, str) and is_direct_shared_image_version(value):
            return value
        if not isinstance(value, str) or not value.startswith("/subscriptions/") or not is_valid_resource_id(value):
            raise ValueError(
                f"{value!r} is not an Azure resource id (hint: expected /subscriptions/<id>/resourceGroups/<rg>"
                f"/providers/{expected[0]}/...)" if expected[0] != "resourceGroups" else
                f"{value!r} is not a resource group id (hint: expected /subscriptions/<id>/resourceGroups/<name>)")
        actual = resource_type_of(value)
        if actual.lower() not in wanted:
            raise ValueError(f"{value!r} is a {actual or 'subscription'} id, not a {' or '.join(expected)} id "
                             f"(hint: check the resource type in the id)")
        return value

    return AfterValidator(check)


ResourceGroupId = Annotated[str, _checker("resourceGroups")]
ManagedImageId = Annotated[str, _checker("Microsoft.Compute/images")]
GalleryImageId = Annotated[str, _checker("Microsoft.Compute/galleries/images", "Microsoft.Compute/galleries/images/versions")]
SourceImageVersionId = Annotated[str, _checker("Microsoft.Compute/galleries/images/versions", direct_shared=True)]
"""A gallery image version id, or a Direct Shared Gallery one (`/sharedGalleries/<id>/images/<i>/versions/<v>`)."""
SubnetId = Annotated[str, _checker("Microsoft.Network/virtualNetworks/subnets")]
UserAssignedIdentityId = Annotated[str, _checker("Microsoft.ManagedIdentity/userAssignedIdentities")]
