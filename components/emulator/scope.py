"""A place to build in: what a test or benchmark puts into the emulator before it can create and run templates.

`BuildScope` PUTs a resource group, a user-assigned identity holding Contributor on it (so every run-time
permission check passes), and a gallery with one image definition, through the caller's Azure SDK client
(any client with `send_request`). `template_body` gives a runnable template for that scope.
"""

from __future__ import annotations

import uuid
from typing import Any, Sequence

from azure.core.rest import HttpRequest

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


class BuildScope:
    def __init__(self, emu: Any, client: Any, *, subscription: str, resource_group: str,
                 location: str = "westeurope") -> None:
        self.emu, self.client = emu, client
        self.subscription, self.location = subscription, location
        self.rg_id = f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        self.put(self.rg_id, {"location": location}, "2021-04-01")
        self.identity_id = f"{self.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib"
        self.principal_id = self.put(self.identity_id, {"location": location}, "2023-01-31")["properties"]["principalId"]
        self.gallery_id = f"{self.rg_id}/providers/Microsoft.Compute/galleries/gal"
        self.put(self.gallery_id, {"location": location, "properties": {}}, "2023-07-03")
        self.image_def_id = f"{self.gallery_id}/images/linux"
        self.put(self.image_def_id, {"location": location, "properties": {
            "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
            "identifier": {"publisher": "me", "offer": "golden", "sku": "linux"}}}, "2023-07-03")
        self.grant(self.rg_id)

    def put(self, rid: str, body: dict, api_version: str) -> dict:
        response = self.client.send_request(
            HttpRequest("PUT", f"{self.emu.base_url}{rid}?api-version={api_version}", json=body))
        response.raise_for_status()
        return response.json() if response.content else {}

    def grant(self, scope: str, role: str = CONTRIBUTOR) -> None:
        """Assign `role` (a built-in role GUID) on `scope` to the current identity."""
        self.put(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", {"properties": {
            "roleDefinitionId": f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/"
                                f"roleDefinitions/{role}",
            "principalId": self.principal_id, "principalType": "ServicePrincipal"}}, "2022-04-01")

    def template_body(self, *, customizers: Sequence[str] = ("install",), validators: Sequence[str] = (),
                      vhd: bool = False, timeout: int = 0, exclude_from_latest: bool = False,
                      continue_distribute_on_failure: bool = False) -> dict:
        """An Ubuntu template distributing to the scope's image definition (and a VHD when asked)."""
        distribute: list[dict] = [{"type": "SharedImage", "runOutputName": "gallery",
                                   "galleryImageId": self.image_def_id,
                                   "targetRegions": [{"name": self.location, "replicaCount": 1}]}]
        if exclude_from_latest:
            distribute[0]["excludeFromLatest"] = True
        if vhd:
            distribute.append({"type": "VHD", "runOutputName": "vhd"})
        properties: dict = {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                       "sku": "server", "version": "latest"},
            "customize": [{"type": "Shell", "name": c, "inline": [f"echo {c}"]} for c in customizers],
            "distribute": distribute,
            "vmProfile": {"vmSize": "Standard_D2ds_v4"},
        }
        if timeout:
            properties["buildTimeoutInMinutes"] = timeout
        if validators:
            properties["validate"] = {"continueDistributeOnFailure": continue_distribute_on_failure,
                                      "inVMValidations": [{"type": "Shell", "name": v, "inline": ["true"]}
                                                          for v in validators]}
        return {"location": self.location, "properties": properties,
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {self.identity_id: {}}}}
