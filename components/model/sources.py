"""`properties.source`: the image a build starts from (PlatformImage, ManagedImage, SharedImageVersion)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field

from components.model.base import SpecModel
from components.model.ids import ManagedImageId, SourceImageVersionId


class PlanInfo(SpecModel):
    """Marketplace plan of a PlatformImage that has one (all three fields are required)."""

    plan_name: str
    plan_product: str
    plan_publisher: str


class PlatformImageSource(SpecModel):
    """An Azure Marketplace image. `version: latest` is resolved at build time (see `exactVersion`)."""

    type: Literal["PlatformImage"] = "PlatformImage"
    publisher: str = Field(min_length=1, examples=["Canonical"])
    offer: str = Field(min_length=1, examples=["0001-com-ubuntu-server-jammy"])
    sku: str = Field(min_length=1, examples=["22_04-lts-gen2"])
    version: str = Field(default="latest", min_length=1)
    """A version such as 22.04.202310250, or `latest` (resolved when each build starts)."""
    plan_info: Optional[PlanInfo] = None


class ManagedImageSource(SpecModel):
    """A generalized managed image in the template's subscription and region."""

    type: Literal["ManagedImage"] = "ManagedImage"
    image_id: ManagedImageId


class SharedImageVersionSource(SpecModel):
    """An Azure Compute Gallery image version (may end in `/versions/latest`), or a Direct Shared Gallery one."""

    type: Literal["SharedImageVersion"] = "SharedImageVersion"
    image_version_id: SourceImageVersionId


Source = Annotated[
    Union[PlatformImageSource, ManagedImageSource, SharedImageVersionSource],
    Field(discriminator="type"),
]
