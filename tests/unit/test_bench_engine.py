"""bench/engine.py's third side, the component stack's own azure-native resources declared bare: its state is the
component's, moved to the bare project's URNs, so the timed runs compare the same resources with and without the
component."""

from __future__ import annotations

from bench.engine import SAME_PROJECT, same_resources, same_state

STACK = "urn:pulumi:bench::aib-images::"
PROVIDER = f"{STACK}pulumi:providers:azure-native::default_3_29_0"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": "\"echo hi\""}


def _export() -> dict:
    component = f"{STACK}aib:index:ImagePipeline::img"
    group = f"{STACK}azure-native:resources:ResourceGroup::rg"
    settle = f"{STACK}aib:index:ImagePipeline$pulumi-python:dynamic/aib:RoleSettle::img-roles-settle"
    grant = f"{STACK}aib:index:ImagePipeline$azure-native:authorization:RoleAssignment::img-grant"
    template = f"{STACK}aib:index:ImagePipeline$azure-native:virtualmachineimages:VirtualMachineImageTemplate::img-t"
    return {"version": 3, "deployment": {"manifest": {}, "secrets_providers": {"type": "passphrase"}, "resources": [
        {"urn": f"{STACK}pulumi:pulumi:Stack::aib-images-bench", "custom": False, "type": "pulumi:pulumi:Stack"},
        {"urn": PROVIDER, "custom": True, "id": "p1", "type": "pulumi:providers:azure-native"},
        {"urn": group, "custom": True, "id": "/rg", "type": "azure-native:resources:ResourceGroup",
         "provider": f"{PROVIDER}::p1", "inputs": {"azureApiVersion": "2024-03-01", "location": "westeurope"}},
        {"urn": component, "custom": False, "type": "aib:index:ImagePipeline", "dependencies": [group]},
        {"urn": grant, "custom": True, "id": "/ra", "type": "azure-native:authorization:RoleAssignment",
         "parent": component, "provider": f"{PROVIDER}::p1", "inputs": {"scope": "/rg"}},
        {"urn": settle, "custom": True, "id": "s", "type": "pulumi-python:dynamic/aib:RoleSettle", "parent": component,
         "dependencies": [grant]},
        {"urn": template, "custom": True, "id": "/t", "type": "azure-native:virtualmachineimages:"
         "VirtualMachineImageTemplate", "parent": component, "provider": f"{PROVIDER}::p1", "dependencies": [settle],
         "propertyDependencies": {"customize": [settle]}, "inputs": {"customize": [{"inline": SECRET}]}},
    ]}}


def test_the_bare_state_holds_the_azure_native_resources_at_the_urns_the_bare_program_declares():
    state = same_state(_export())
    resources = state["deployment"]["resources"]
    assert [r["type"] for r in resources] == [
        "pulumi:pulumi:Stack", "pulumi:providers:azure-native", "azure-native:resources:ResourceGroup",
        "azure-native:authorization:RoleAssignment", "azure-native:virtualmachineimages:VirtualMachineImageTemplate"]
    assert all(r["urn"].startswith(f"urn:pulumi:bench::{SAME_PROJECT}::") for r in resources)
    root = resources[0]["urn"]
    template = resources[-1]
    assert template["urn"] == f"urn:pulumi:bench::{SAME_PROJECT}::azure-native:virtualmachineimages:" \
                              "VirtualMachineImageTemplate::img-t" and template["parent"] == root
    assert template["provider"] == f"urn:pulumi:bench::{SAME_PROJECT}::pulumi:providers:azure-native::default_3_29_0::p1"
    # through the dynamic resource it depended on, and the component it is a child of
    assert template["dependencies"] == sorted([resources[2]["urn"], resources[3]["urn"]])
    assert "propertyDependencies" not in template and state["deployment"]["secrets_providers"] == {"type": "passphrase"}


def test_the_bare_program_sends_the_state_inputs_less_what_the_provider_adds_and_secrets_stay_secret():
    declared = same_resources(same_state(_export()))
    assert [d["name"] for d in declared] == ["rg", "img-grant", "img-t"]
    assert declared[0]["inputs"] == {"location": "westeurope"}  # azureApiVersion: the provider's Check adds it
    assert declared[2]["inputs"]["customize"] == [{"inline": SECRET}]
    assert declared[2]["dependsOn"] == sorted(d["urn"] for d in declared[:2])
