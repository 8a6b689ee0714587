"""Fixtures: the real dynamic-provider host, alone or wired to an ARM emulator with a runnable scope."""

from __future__ import annotations

import pytest
from azure.core.rest import HttpRequest
from dynamic_host import ProviderHost

from components.providers import arm_client
from components.emulator import Emulator, Faults
from components.emulator.scope import BuildScope

SUB = "00000000-0000-0000-0000-0000000000bb"  # tests name the scope's subscription, group and poll interval too
RG = "rg-host"
POLL = 0.05


@pytest.fixture(scope="module")
def host():
    """One provider host for the module, with no ARM endpoint (Check and Diff need none)."""
    with ProviderHost() as started:
        yield started


class HostScope(BuildScope):
    """A BuildScope in an emulator, plus the host that reaches it and helpers to make templates."""

    def __init__(self, emu: Emulator, host: ProviderHost) -> None:
        super().__init__(emu, arm_client.image_builder_client(SUB, api_version="2024-02-01", endpoint=emu.base_url,
                                                              credential=emu.credential(), poll_seconds=POLL,
                                                              connection_verify=emu.ca_bundle, retry_total=2),
                         subscription=SUB, resource_group=RG)
        self.host = host
        self.resource_group = RG

    def template(self, name: str, **body_options) -> str:
        """Create a template named ``name`` (see ``BuildScope.template_body``); its id."""
        self.client.virtual_machine_image_templates.begin_create_or_update(
            RG, name, self.template_body(**body_options)).result()
        return f"{self.rg_id}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"

    def delete(self, rid: str, api_version: str) -> None:
        """DELETE a resource behind Pulumi's back."""
        self.client.send_request(HttpRequest("DELETE", f"{self.emu.base_url}{rid}?api-version={api_version}")
                                 ).raise_for_status()

    def last_run(self, template_id: str) -> dict:
        return (self.emu.state.template(template_id) or {}).get("properties", {}).get("lastRunStatus") or {}


@pytest.fixture(scope="module")
def arm():
    """An emulator (0.1 s phases), a provider host whose env points at it, and a scope to build in."""
    with Emulator(phase_seconds=0.1, faults=Faults()) as emu:
        env = dict(emu.client_env(), AIB_POLL_SECONDS=str(POLL), AIB_AUTH_RETRY_SECONDS="2")
        with ProviderHost(env=env) as started:
            scope = HostScope(emu, started)
            try:
                yield scope
            finally:
                scope.client.close()
