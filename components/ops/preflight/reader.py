"""The subscription, read-only: the few ARM reads `preflight` makes, through azure-mgmt-resource and
azure-mgmt-compute clients built like the build provider's (`components.providers.arm_client`: endpoint, credential, CA bundle).

Resource providers and any resource by id (subnets, NSGs, NAT gateways, route tables, galleries, identities) go
through `ResourceManagementClient`; VM sizes and vCPU usages through `ComputeManagementClient`. Three APIs have no
client in the locked packages (azure-mgmt-authorization, -policyinsights, -containerinstance), so they are plain
`send_request` calls on the resource client: `Microsoft.Authorization/permissions`, PolicyInsights `queryResults` and
Container Instances usages. Every answer is plain dicts; a missing resource is None.
"""

from __future__ import annotations

from typing import Optional

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from components.providers import arm_client

#: api-versions of the generic reads (any the service accepts).
API = {"Microsoft.Network": "2024-05-01", "Microsoft.Compute": "2024-03-01", "Microsoft.ManagedIdentity": "2023-01-31",
       "Microsoft.Resources": "2021-04-01", "Microsoft.Storage": "2023-05-01",
       "Microsoft.VirtualMachineImages": "2024-02-01", "Microsoft.Authorization": "2022-04-01"}
PERMISSIONS_API = "2022-04-01"
POLICY_API = "2019-10-01"
ACI_API = "2023-05-01"


class Reader:
    def __init__(self, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        self.resources = arm_client.resource_client(subscription_id)
        self.compute = arm_client.compute_client(subscription_id)
        self.base_url = arm_client.management_endpoint()

    def close(self) -> None:
        self.resources.close()
        self.compute.close()

    # -- providers, sizes, quota --------------------------------------------------------------------------------
    def provider(self, namespace: str) -> dict:
        return self.resources.providers.get(namespace).as_dict()  # camelCase keys (registrationState, ...)

    def vm_sizes(self, location: str) -> dict[str, dict]:
        """VM SKUs offered in `location`, by lower-case name."""
        skus = self.compute.resource_skus.list(filter=f"location eq '{location}'")
        return {s.name.lower(): s.as_dict() for s in skus if s.resource_type == "virtualMachines"}

    def usages(self, location: str) -> dict[str, tuple[int, int]]:
        """Compute usage name (value) -> (current, limit)."""
        return {u.name.value: (u.current_value, u.limit) for u in self.compute.usage.list(location)}

    def aci_usages(self, location: str) -> dict[str, tuple[int, int]]:
        path = f"/subscriptions/{self.subscription_id}/providers/Microsoft.ContainerInstance/locations/{location}/usages"
        return {u["name"]["value"]: (u["currentValue"], u["limit"])
                for u in self._json("GET", path, ACI_API).get("value", [])}

    # -- resources ----------------------------------------------------------------------------------------------
    def get(self, resource_id: str) -> Optional[dict]:
        """The resource as ARM returns it (None when it, or its resource group, does not exist)."""
        namespace = resource_id.split("/providers/")[-1].split("/")[0] if "/providers/" in resource_id else \
            "Microsoft.Resources"
        api = next((v for k, v in API.items() if k.lower() == namespace.lower()), API["Microsoft.Resources"])
        try:
            if "/providers/" not in resource_id:
                return self._json("GET", resource_id, api)
            return self.resources.resources.get_by_id(resource_id, api_version=api).as_dict()
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 404:
                return None
            raise

    # -- permissions and policy -----------------------------------------------------------------------------------
    def permissions(self, scope: str) -> list[dict]:
        """The caller's permissions at `scope` (actions/notActions blocks)."""
        return self._json("GET", f"{scope}/providers/Microsoft.Authorization/permissions", PERMISSIONS_API
                          ).get("value", [])

    def policy_states(self, scope: str) -> list[dict]:
        """Latest policy states of `scope` (assignments that apply to it and their effect)."""
        path = f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults"
        return self._json("POST", path, POLICY_API).get("value", [])

    def _json(self, method: str, path: str, api_version: str) -> dict:
        request = HttpRequest(method, f"{self.base_url}{path}", params={"api-version": api_version})
        response = self.resources.send_request(request)
        if response.status_code == 404:
            raise ResourceNotFoundError(response=response)
        response.raise_for_status()
        return response.json() if response.content else {}
