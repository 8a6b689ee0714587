"""The Azure side of a lifecycle run: list an image definition's versions, PATCH their publishing profile, delete.

A thin layer over ``azure-mgmt-compute``'s ``GalleryImageVersionsOperations`` (``list_by_gallery_image``,
``get``, ``begin_update`` with a ``GalleryImageVersionUpdate``, ``begin_delete``), so that the provider deals in
`plan.Version`s and ids. PATCH sends only the publishing-profile fields it changes (the service merges them), and a
delete of a version that is already gone counts as done (a retried ``pulumi up`` after a partial apply must succeed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Optional

from components.plan.lifecycle import Version, parse_time

_DEFINITION = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/galleries/"
                         r"([^/]+)/images/([^/]+)$", re.I)
_VERSION = re.compile(r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/[^/]+"
                      r"/images/[^/]+)/versions/([^/]+)$", re.I)


@dataclasses.dataclass(frozen=True)
class Definition:
    """A gallery image definition, taken apart from its id."""

    subscription_id: str
    resource_group: str
    gallery: str
    image: str

    @classmethod
    def parse(cls, image_definition_id: str) -> "Definition":
        m = _DEFINITION.match(image_definition_id.strip().rstrip("/"))
        if not m:
            raise ValueError(f"not a gallery image definition id: {image_definition_id!r}")
        return cls(*m.groups())

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.Compute/galleries/{self.gallery}/images/{self.image}")

    def args(self) -> tuple[str, str, str]:
        return self.resource_group, self.gallery, self.image


def split_version_id(version_id: str) -> tuple[Definition, str]:
    """(definition, version name) of a gallery image version id; ValueError when it is not one."""
    m = _VERSION.match(version_id.strip().rstrip("/"))
    if not m:
        raise ValueError(f"not a gallery image version id: {version_id!r}")
    return Definition.parse(m.group(1)), m.group(2)


def to_version(item: Any) -> Version:
    """A `plan.Version` from the SDK's ``GalleryImageVersion``."""
    profile = getattr(item, "publishing_profile", None)
    return Version(
        name=item.name, id=item.id or "",
        published=parse_time(getattr(profile, "published_date", None)),
        exclude_from_latest=bool(getattr(profile, "exclude_from_latest", False)),
        end_of_life=parse_time(getattr(profile, "end_of_life_date", None)),
        tags=dict(item.tags or {}),
        provisioning_state=str(getattr(item, "provisioning_state", None) or "Succeeded"),
    )


def list_versions(client: Any, definition: Definition) -> list[Version]:
    return [to_version(v) for v in client.gallery_image_versions.list_by_gallery_image(*definition.args())]


def get_version(client: Any, definition: Definition, name: str) -> Version:
    return to_version(client.gallery_image_versions.get(*definition.args(), name))


def set_publishing(client: Any, definition: Definition, name: str, *, exclude_from_latest: bool,
                   end_of_life: Optional[str] = None) -> None:
    """PATCH ``publishingProfile.excludeFromLatest`` (and ``endOfLifeDate`` when given) of one version."""
    from azure.mgmt.compute.models import GalleryImageVersionPublishingProfile, GalleryImageVersionUpdate

    eol: Optional[dt.datetime] = parse_time(end_of_life) if end_of_life else None
    profile = GalleryImageVersionPublishingProfile(exclude_from_latest=exclude_from_latest, end_of_life_date=eol)
    client.gallery_image_versions.begin_update(
        *definition.args(), name, GalleryImageVersionUpdate(publishing_profile=profile)).result()


def delete_version(client: Any, definition: Definition, name: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        client.gallery_image_versions.begin_delete(*definition.args(), name).result()
    except ResourceNotFoundError:
        pass
