"""Each pre-flight check against the emulator's read APIs, once passing and once failing (the subscription's facts
set through `emu.faults.subscription`, network and gallery resources PUT as they would exist)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from components.providers import arm_client
from components.ops.cli import Env, main
from components.ops.diagnose.target import applied, load_target
from components.emulator import Emulator, Faults
from components.emulator.scope import BuildScope
from components.local.cloud import SUBSCRIPTION
from components.local.engine import seed_existing
from components.ops.preflight.checks import Context
from components.ops.preflight.reader import Reader
from components.ops.preflight.run import collect

ROOT = Path(__file__).resolve().parents[2]
NET = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-network-prod"
VNET = f"{NET}/providers/Microsoft.Network/virtualNetworks/vnet-build-prod"
SUBNET = f"{VNET}/subnets/snet-image-builder"
NSG = f"{NET}/providers/Microsoft.Network/networkSecurityGroups/nsg-build"
NAT = f"{NET}/providers/Microsoft.Network/natGateways/nat-build"
IMAGES_RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-golden-images-prod"
DEFINITION = f"{IMAGES_RG}/providers/Microsoft.Compute/galleries/gal_golden_prod/images/win2022"


@pytest.fixture
def emu(monkeypatch):
    with Emulator(phase_seconds=0.05, faults=Faults()) as emu:
        for key, value in emu.client_env().items():
            monkeypatch.setenv(key, value)
        emu.put = BuildScope.put.__get__(_Putter(emu))
        yield emu


class _Putter:
    def __init__(self, emu):
        self.emu = emu
        self.client = arm_client.image_builder_client(SUBSCRIPTION, api_version="2024-02-01")


def _healthy_network(emu, *, nsg_rules=(), subnet_extra=None):
    emu.put(NET, {"location": "westeurope"}, "2021-04-01")
    emu.put(VNET, {"location": "westeurope", "properties": {}}, "2024-05-01")
    emu.put(NSG, {"location": "westeurope", "properties": {"securityRules": list(nsg_rules)}}, "2024-05-01")
    emu.put(NAT, {"location": "westeurope", "properties": {}}, "2024-05-01")
    emu.put(SUBNET, {"properties": {"addressPrefix": "10.0.0.0/24", "privateLinkServiceNetworkPolicies": "Disabled",
                                    "networkSecurityGroup": {"id": NSG}, "natGateway": {"id": NAT},
                                    **(subnet_extra or {})}}, "2024-05-01")


def _rows(project_dir: Path = ROOT, stack: str = "prod"):
    target = load_target(project_dir, stack, local=True)
    with applied(target.env):
        reader = Reader(target.subscription_id)
        try:
            return collect(Context(target, reader))
        finally:
            reader.close()


def _status(rows, check: str, subject: str) -> set[str]:
    found = {r.status for r in rows if r.check == check and subject in r.subject}
    assert found, [(r.check, r.subject) for r in rows]
    return found


def test_a_healthy_subscription_passes_every_check_and_the_verb_exits_0(emu):
    _healthy_network(emu)
    out = io.StringIO()
    assert main(["preflight", "--stack", "prod", "--local"], Env(stdout=out, stderr=io.StringIO())) == 0, \
        out.getvalue()
    assert "0 failed" in out.getvalue()


def test_unregistered_provider_fails(emu):
    emu.faults.subscription.unregistered_providers = {"Microsoft.VirtualMachineImages"}
    assert _status(_rows(), "provider", "Microsoft.VirtualMachineImages") == {"fail"}
    assert _status(_rows(), "provider", "Microsoft.Compute") == {"ok"}


def test_restricted_build_and_proxy_sizes_fail(emu):
    assert _status(_rows(), "vm size", "build VM Standard_D4ds_v5") == {"ok"}
    emu.faults.subscription.restricted_sizes = {"Standard_D4ds_v5": {"westeurope"}, "Standard_A1_v2": set()}
    rows = _rows()
    assert _status(rows, "vm size", "build VM Standard_D4ds_v5") == {"fail"}
    assert _status(rows, "vm size", "proxy VM Standard_A1_v2") == {"fail"}


def test_container_instances_not_offered_in_the_region_fails(emu):
    assert _status(_rows(), "container instances", "westeurope") == {"ok"}
    emu.faults.subscription.aci_locations = ["eastus"]
    assert _status(_rows(), "container instances", "westeurope") == {"fail"}


def test_quota_headroom(emu):
    assert _status(_rows(), "quota", "standardDDSv5Family") == {"ok"}
    emu.faults.subscription.usages = {"standardDDSv5Family": (98, 100), "StandardCores": (97, 100)}
    rows = _rows()
    assert _status(rows, "quota", "standardDDSv5Family") == {"fail"}
    assert _status(rows, "quota", "StandardCores") == {"fail"}


def test_missing_subnet_fails(emu):
    assert "fail" in _status(_rows(), "subnet", "build subnet")


def test_private_link_policies_must_be_disabled(emu):
    _healthy_network(emu)
    assert _status(_rows(), "subnet", "private link policies") == {"ok"}
    _healthy_network(emu, subnet_extra={"privateLinkServiceNetworkPolicies": "Enabled"})
    assert _status(_rows(), "subnet", "private link policies") == {"fail"}


def test_nsg_must_let_the_load_balancer_reach_the_proxy(emu):
    _healthy_network(emu)
    assert _status(_rows(), "nsg", "port 60000") == {"ok"}
    deny = {"name": "deny-lb", "properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
                                              "protocol": "*", "sourceAddressPrefix": "AzureLoadBalancer",
                                              "destinationPortRange": "60000-60001"}}
    _healthy_network(emu, nsg_rules=[deny])
    assert _status(_rows(), "nsg", "port 60000") == {"fail"}


def test_outbound_path(emu):
    _healthy_network(emu)
    assert _status(_rows(), "outbound", "build subnet") == {"ok"}
    _healthy_network(emu, subnet_extra={"natGateway": None, "defaultOutboundAccess": False})
    assert _status(_rows(), "outbound", "build subnet") == {"fail"}
    _healthy_network(emu, subnet_extra={"natGateway": None})
    assert _status(_rows(), "outbound", "build subnet") == {"warn"}


def test_deployer_must_be_able_to_assign_roles_unless_manage_roles_is_off(emu, tmp_path):
    assert _status(_rows(), "permissions", "win2022") == {"ok"}
    emu.faults.subscription.denied_actions = ["Microsoft.Authorization/roleAssignments/write"]
    rows = [r for r in _rows() if r.check == "permissions"]
    assert all(r.status == "fail" for r in rows if "roleAssignments/write" in r.detail) and \
        any(r.status == "fail" for r in rows)
    project = _project(tmp_path, lambda image: image.update(manageRoles=False))
    assert _status(_rows(project), "permissions", "role assignments") == {"ok"}


def test_named_resources_must_exist_and_fit(emu, tmp_path):
    assert _status(_rows(), "exists", "image definition") == {"ok"}  # will be created
    identity = f"{IMAGES_RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-missing"
    project = _project(tmp_path, lambda image: image.update(identityId=identity,
                                                            gallery={"create": False}))
    rows = _rows(project)
    assert _status(rows, "exists", "identity") == {"fail"}
    assert _status(rows, "exists", "image definition") == {"fail"}
    emu.put(IMAGES_RG, {"location": "westeurope"}, "2021-04-01")
    emu.put(DEFINITION.rsplit("/images/", 1)[0], {"location": "westeurope", "properties": {}}, "2023-07-03")
    emu.put(DEFINITION, {"location": "westeurope", "properties": {
        "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
        "identifier": {"publisher": "p", "offer": "o", "sku": "s"},
        "features": [{"name": "SecurityType", "value": "TrustedLaunch"}]}}, "2023-07-03")
    rows = _rows(project)
    fit = next(r for r in rows if r.check == "image definition")
    assert fit.status == "fail" and "osType Linux" in fit.detail and "TrustedLaunchSupported" in fit.detail


def test_policy_deny_on_what_the_build_creates_fails(emu):
    emu.put(IMAGES_RG, {"location": "westeurope"}, "2021-04-01")
    assert _status(_rows(), "policy", "rg-golden-images-prod") == {"ok"}
    emu.faults.subscription.policy_states = [{
        "resourceId": f"{IMAGES_RG}/providers/Microsoft.Network/publicIPAddresses/pip", "complianceState": "NonCompliant",
        "policyAssignmentName": "deny-public-ip", "policyDefinitionAction": "deny",
        "resourceType": "Microsoft.Network/publicIPAddresses"}]
    assert _status(_rows(), "policy", "deny-public-ip") == {"fail"}


def test_isolated_build_subnet_needs_the_aci_delegation(emu, tmp_path):
    aci = f"{VNET}/subnets/snet-aci"
    project = _project(tmp_path, lambda image: image["template"]["properties"]["vmProfile"]["vnetConfig"].update(
        containerInstanceSubnetId=aci))
    _healthy_network(emu)
    emu.put(aci, {"properties": {"addressPrefix": "10.0.1.0/24", "natGateway": {"id": NAT}}}, "2024-05-01")
    assert _status(_rows(project), "subnet", "ACI subnet delegation") == {"fail"}
    emu.put(aci, {"properties": {"addressPrefix": "10.0.1.0/24", "natGateway": {"id": NAT}, "delegations": [
        {"name": "aci", "properties": {"serviceName": "Microsoft.ContainerInstance/containerGroups"}}]}}, "2024-05-01")
    rows = _rows(project)
    assert _status(rows, "subnet", "ACI subnet delegation") == {"ok"}
    assert _status(rows, "nsg", "port 5986 from the ACI subnet") == {"ok"}


def _project(tmp_path: Path, edit) -> Path:
    """A copy of the project with stack `prod`'s image edited by `edit(image_dict)`."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    edit(doc["config"]["aib-images:images"]["win2022"])
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_the_local_cloud_as_a_local_run_seeds_it_passes_the_subnet_checks(emu):
    # issue 24: preflight --stack prod --local failed on private-link policies in the local cloud where prod builds.
    before = _rows()
    missing = [r for r in before if r.check == "subnet" and r.status == "fail"]
    assert missing and "bash scripts/pulumi.sh preview --stack prod" in missing[0].fix
    seed_existing(ROOT, "prod", load_target(ROOT, "prod", local=True).env)
    rows = _rows()
    assert _status(rows, "subnet", "private link policies") == {"ok"}
    assert _status(rows, "subnet", "build subnet snet-image-builder") == {"ok"}
    assert not [r for r in rows if r.status == "fail"], [r for r in rows if r.status == "fail"]
