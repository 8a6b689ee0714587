"""What local runs put into the emulator as already existing (`components.local.existing`) is sent as a user's own
tooling would send it: every body fits the official definition of its type at the api-version it is sent with."""

from __future__ import annotations

from components.local.existing import put_missing, seed_requests
from components.model.stack import parse_stack_config
from tests.conftest import stack_images
from tests.judge import problems

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"


class RecordingClient:
    """azure-mgmt-resource's generic client as `seed` uses it, on an empty subscription."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, str]] = []
        self.resources = self

    def check_existence_by_id(self, rid: str, api_version: str) -> bool:
        return False

    def begin_create_or_update_by_id(self, rid: str, body: dict, api_version: str):
        self.sent.append((rid, body, api_version))
        return self

    def result(self) -> None:
        return None


def seed(stack, client) -> list[str]:
    """What a local run puts into the cloud for `stack` (the engine keeps the requests, then sends the missing ones)."""
    return put_missing(seed_requests(stack), client)


def every_kind_of_existing_resource() -> dict:
    image = stack_images("prod")["win2022"]
    props = image["template"]["properties"]
    gallery = f"{SUB}/resourceGroups/rg-shared/providers/Microsoft.Compute/galleries/gal_shared"
    props["source"] = {"type": "SharedImageVersion", "imageVersionId": f"{gallery}/images/base/versions/1.0.0"}
    props["vmProfile"]["userAssignedIdentities"] = [
        f"{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-build-vm"]
    props["stagingResourceGroup"] = f"{SUB}/resourceGroups/rg-staging-shared"
    props["distribute"].append({"type": "ManagedImage", "runOutputName": "managed", "location": "westeurope",
                                "imageId": f"{SUB}/resourceGroups/rg-managed/providers/Microsoft.Compute/images/m"})
    managed = stack_images("prod")["win2022"]
    managed["template"]["properties"]["source"] = {
        "type": "ManagedImage", "imageId": f"{SUB}/resourceGroups/rg-src/providers/Microsoft.Compute/images/base"}
    return {"location": "westeurope", "resourceGroupName": "rg-golden", "images": {"a": image, "b": managed}}


def test_every_seeded_body_fits_the_official_definition_at_its_api_version():
    from tests.judge import arm_type

    client = RecordingClient()
    created = seed(parse_stack_config(every_kind_of_existing_resource()), client)
    kinds = {arm_type(rid) for rid, _, _ in client.sent}
    assert {"Microsoft.Resources/resourceGroups", "Microsoft.Network/virtualNetworks/subnets",
            "Microsoft.Compute/galleries/images/versions", "Microsoft.Compute/images",
            "Microsoft.ManagedIdentity/userAssignedIdentities"} <= kinds, kinds
    assert len(created) == len(client.sent)
    found = {f"{api} {rid}": problems(arm_type(rid) or "", api, body) for rid, body, api in client.sent}
    assert not {k: v for k, v in found.items() if v}, found


def test_the_build_subnet_is_seeded_as_aib_needs_it():
    # issue 24: preflight --stack prod --local failed on private-link policies in the cloud where prod builds: the
    # seeded subnet had Azure's default (Enabled), which an AIB build subnet without an ACI subnet may not have.
    client = RecordingClient()
    seed(parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-golden",
                             "images": stack_images("prod")}), client)
    subnets = {rid.rsplit("/", 1)[-1]: body for rid, body, _ in client.sent if "/subnets/" in rid}
    assert subnets["snet-image-builder"]["properties"]["privateLinkServiceNetworkPolicies"] == "Disabled"


def test_an_aci_subnet_is_seeded_delegated_to_container_instances():
    image = stack_images("prod")["win2022"]
    vnet = image["template"]["properties"]["vmProfile"]["vnetConfig"]
    vnet["containerInstanceSubnetId"] = vnet["subnetId"].rsplit("/", 1)[0] + "/snet-aci"
    client = RecordingClient()
    seed(parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-golden", "images": {"w": image}}),
         client)
    subnets = {rid.rsplit("/", 1)[-1]: (body, api) for rid, body, api in client.sent if "/subnets/" in rid}
    assert subnets["snet-aci"][0]["properties"]["delegations"][0]["properties"]["serviceName"] == \
        "Microsoft.ContainerInstance/containerGroups"
    assert subnets["snet-aci"][0]["properties"]["addressPrefix"] != \
        subnets["snet-image-builder"][0]["properties"]["addressPrefix"]
    assert not [problems("Microsoft.Network/virtualNetworks/subnets", api, body) for body, api in subnets.values()
                if problems("Microsoft.Network/virtualNetworks/subnets", api, body)]
