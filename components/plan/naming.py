"""Names and resource ids the pipeline derives: deterministic GUIDs, content-hashed template names, ARM id helpers.

Everything a pipeline names must come out the same for the same inputs, on every `pulumi up` and in every `synth`:
role definitions and role assignments are GUID-named in Azure, so their GUIDs are uuid5 of what they grant; image
templates cannot be updated, so their names carry a hash of their content. Ids are taken apart with the Azure SDK's
`parse_resource_id` rather than string splitting, so casing and nested types are handled the way ARM does.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Optional
from urllib.parse import urlsplit

from azure.mgmt.core.tools import parse_resource_id, resource_id

# A fixed namespace: changing it renames every role definition and assignment of every stack.
GUID_NAMESPACE = uuid.UUID("6f1f3c8e-3a4b-5b2e-9a57-0b7c1d2e4f60")

TEMPLATE_NAME_MAX = 64
HASH_CHARS = 10
RESOURCE_GROUP_NAME_MAX = 90
SHORT_HASH_CHARS = 8


def deterministic_guid(*parts: str) -> str:
    """uuid5 over the parts (case-insensitive: ARM ids are), so the same inputs always give the same GUID."""
    return str(uuid.uuid5(GUID_NAMESPACE, "|".join(p.lower() for p in parts)))


def short_hash(*parts: str) -> str:
    """8 hex characters of sha256 over the parts (case-insensitive, like ARM ids): a logical-name suffix that says
    *which* scope or Azure id a resource is about, so it never depends on a list position."""
    return hashlib.sha256("|".join(p.lower() for p in parts).encode()).hexdigest()[:SHORT_HASH_CHARS]


def keyed_digest(content_hash: str, key: Optional[str]) -> str:
    """The digest that goes into published names (template, staging group): HMAC-SHA256 of `content_hash` under the
    stack's secret `nameKey`, so a name no longer lets anyone test guesses of secret content (inline commands, SAS
    URLs) offline. Without a key: `content_hash` itself (the unkeyed names of earlier versions)."""
    if not key:
        return content_hash
    return hmac.new(key.encode(), content_hash.encode(), hashlib.sha256).hexdigest()


def template_name(image: str, content_hash: str) -> str:
    """`<image>-<hash[:10]>`, with the image part shortened so the whole stays within AIB's 64 characters."""
    return f"{image[:TEMPLATE_NAME_MAX - HASH_CHARS - 1]}-{content_hash[:HASH_CHARS]}"


def staging_group_name(image: str, content_hash: str) -> str:
    """A staging resource group per template: AIB needs it empty and used by that template alone, and a replaced
    template lives on beside its successor until the successor exists (create-before-delete)."""
    prefix = "rg-aib-staging-"
    keep = RESOURCE_GROUP_NAME_MAX - len(prefix) - HASH_CHARS - 1
    return f"{prefix}{image[:keep]}-{content_hash[:HASH_CHARS]}"


def identity_name(image: str) -> str:
    return f"id-aib-{image}"


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def identity_id(subscription_id: str, resource_group: str, name: str) -> str:
    return resource_id(subscription=subscription_id, resource_group=resource_group,
                       namespace="Microsoft.ManagedIdentity", type="userAssignedIdentities", name=name)


def template_id(subscription_id: str, resource_group: str, name: str) -> str:
    return resource_id(subscription=subscription_id, resource_group=resource_group,
                       namespace="Microsoft.VirtualMachineImages", type="imageTemplates", name=name)


def builtin_role_id(subscription_id: str, role_guid: str) -> str:
    """The id ARM expects in a role assignment's roleDefinitionId (subscription-qualified, for any scope)."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def parts(rid: str) -> dict[str, str]:
    return {k: str(v) for k, v in parse_resource_id(rid).items() if v is not None}


def subscription_of(rid: str) -> str:
    return parts(rid)["subscription"]


def resource_group_of(rid: str) -> str:
    """The resource group id that holds `rid` (or `rid` itself when it is a resource group id)."""
    p = parts(rid)
    return resource_group_id(p["subscription"], p["resource_group"])


def image_definition_id(gallery_image_id: str) -> str:
    """A gallery image definition id from a definition or version id (`.../images/<def>[/versions/<v>]`)."""
    p = parts(gallery_image_id)
    return resource_id(subscription=p["subscription"], resource_group=p["resource_group"],
                       namespace="Microsoft.Compute", type="galleries", name=p["name"],
                       child_type_1="images", child_name_1=p["child_name_1"])


def gallery_id(gallery_image_id: str) -> str:
    p = parts(gallery_image_id)
    return resource_id(subscription=p["subscription"], resource_group=p["resource_group"],
                       namespace="Microsoft.Compute", type="galleries", name=p["name"])


def storage_container_scope(storage_account_id: str, uri: str) -> Optional[str]:
    """The blob container scope `uri` lives in, when it is a blob URL of that storage account; else None."""
    account = parts(storage_account_id)["name"].lower()
    split = urlsplit(uri)
    host = (split.hostname or "").lower()
    if not host.startswith(account + ".blob."):
        return None
    container = split.path.lstrip("/").split("/", 1)[0]
    if not container:
        return None
    return f"{storage_account_id}/blobServices/default/containers/{container}"


STORAGE_ACCOUNT_NAME_MAX = 24
SCRIPTS_CONTAINER = "scripts"


def scripts_account_name(subscription_id: str, resource_group: str, image: str) -> str:
    """The storage account a pipeline creates for its repository files: `staib` + 19 hex characters of a hash of the
    subscription, resource group and image. Account names are global across Azure (3-24 lowercase alphanumerics), so
    the subscription is part of it; being derived, the blob URLs are known before anything exists."""
    digest = deterministic_guid("scripts-account", subscription_id, resource_group, image).replace("-", "")
    return ("staib" + digest)[:STORAGE_ACCOUNT_NAME_MAX]


def scripts_container_name(project: str, stack: str, image: str) -> str:
    """A container of its own for a pipeline in a storage account the caller names (several stacks may share it):
    `aib-<stack>-<image>` in container-name characters, with a hash when it had to be shortened or cleaned."""
    wanted = f"aib-{stack}-{image}".lower()
    clean = "-".join(p for p in "".join(c if c.isalnum() else "-" for c in wanted).split("-") if p)
    if clean == wanted and len(clean) <= 63:
        return clean
    return f"{clean[:52].rstrip('-')}-{deterministic_guid('container', project, stack, image).replace('-', '')[:10]}"


def storage_account_id(subscription_id: str, resource_group: str, name: str) -> str:
    return resource_id(subscription=subscription_id, resource_group=resource_group,
                       namespace="Microsoft.Storage", type="storageAccounts", name=name)


def blob_container_id(storage_account: str, container: str) -> str:
    """The container's resource id (the scope Storage Blob Data roles are assigned at)."""
    return f"{storage_account}/blobServices/default/containers/{container}"


def blob_endpoint(account_name: str) -> str:
    return f"https://{account_name}.blob.core.windows.net"
