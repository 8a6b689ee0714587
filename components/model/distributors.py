"""`properties.distribute[]`: where a build's image goes (ManagedImage, SharedImage, VHD)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from components.model.base import SpecModel
from components.model.errors import rule_error
from components.model.ids import GalleryImageId, ManagedImageId

NAME_PATTERN = r"^[A-Za-z0-9-_.]{1,64}$"
RunOutputName = Annotated[str, Field(pattern=NAME_PATTERN, examples=["ubuntu-sig"])]
StorageAccountType = Literal["Standard_LRS", "Standard_ZRS", "Premium_LRS"]


class Distributor(SpecModel):
    run_output_name: RunOutputName
    """Name of the run output that reports this artifact; unique across distribute."""
    artifact_tags: Optional[dict[str, str]] = None
    """Tags set on the distributed artifact."""


class ManagedImageDistributor(Distributor):
    """A managed image in an existing resource group."""

    type: Literal["ManagedImage"] = "ManagedImage"
    image_id: ManagedImageId
    location: str = Field(min_length=1)


class TargetRegion(SpecModel):
    name: str = Field(min_length=1)
    replica_count: int = Field(default=1, ge=1)
    storage_account_type: Optional[StorageAccountType] = None


class LatestVersioning(SpecModel):
    """Next version after the newest one: `major` pins the major number (-1: the newest major)."""

    scheme: Literal["Latest"] = "Latest"
    major: int = Field(default=-1, ge=-1)


class SourceVersioning(SpecModel):
    """Version taken from the source image version."""

    scheme: Literal["Source"] = "Source"


Versioning = Annotated[Union[LatestVersioning, SourceVersioning], Field(discriminator="scheme")]


class SharedImageDistributor(Distributor):
    """A new image version in an Azure Compute Gallery image definition."""

    type: Literal["SharedImage"] = "SharedImage"
    gallery_image_id: GalleryImageId
    """Image definition id (version chosen by `versioning`), or `.../versions/x.y.z` for an explicit version."""
    target_regions: Optional[list[TargetRegion]] = None
    """Regions to replicate to, each with a replica count and storage type. Must include the gallery's region."""
    replication_regions: Optional[list[str]] = None
    """Deprecated: use targetRegions."""
    storage_account_type: Optional[StorageAccountType] = None
    """Deprecated: only beside replicationRegions."""
    exclude_from_latest: Optional[bool] = None
    """Keep the new version out of `latest` (default false)."""
    versioning: Optional[Versioning] = None
    replication_mode: Optional[Literal["Full", "Shallow"]] = None
    """API 2025-10-01 and later. Default Full."""

    @model_validator(mode="after")
    def _regions(self):
        # imagebuilder.json, ImageTemplateSharedImageDistributor: replicationRegions "can be specified only if
        # targetRegions is not specified"; storageAccountType "can be specified only if replicationRegions is specified".
        if self.target_regions is not None and self.replication_regions is not None:
            raise rule_error("'replicationRegions' and 'targetRegions' cannot be mixed", field="replicationRegions",
                             hint="move each region to targetRegions")
        if self.storage_account_type is not None and self.replication_regions is None:
            raise rule_error("'storageAccountType' is allowed only beside 'replicationRegions'",
                             field="storageAccountType", hint="set storageAccountType on each targetRegions entry")
        return self

    @property
    def regions(self) -> list[str]:
        if self.target_regions is not None:
            return [r.name for r in self.target_regions]
        return list(self.replication_regions or [])


class VhdDistributor(Distributor):
    """A VHD blob: at `uri`, or in the staging resource group's storage account (deleted with the template)."""

    type: Literal["VHD"] = "VHD"
    uri: Optional[str] = None


Distribute = Annotated[
    Union[ManagedImageDistributor, SharedImageDistributor, VhdDistributor], Field(discriminator="type")
]
