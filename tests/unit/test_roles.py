"""Role grants computed from specs: actions, scopes, determinism (plain pytest, no Pulumi)."""

from __future__ import annotations

import pytest

from components.plan.roles import (
    CONTRIBUTOR, GALLERY_WRITE, MANAGED_IDENTITY_OPERATOR, STORAGE_BLOB_DATA_READER, SUBNET_JOIN, TEMPLATE_RUNNER,
    VNET_READ, Grant, deployer_principal_type, grant_template_runner, number_keys, template_identity_grants)
from components.model.stack import parse_stack_config
from tests.conftest import stack_images

SUB = "00000000-0000-0000-0000-000000000000"
STAGING = f"/subscriptions/{SUB}/resourceGroups/rg-aib-staging-x"


def spec_of(stack: str, edit=None):
    images = stack_images(stack)
    name = next(iter(images))
    if edit:
        edit(images[name])
    return parse_stack_config({"location": "westeurope", "images": images}).images[name]


def grants(stack: str, edit=None, **kwargs) -> list[Grant]:
    image = spec_of(stack, edit)
    return template_identity_grants(image.template, staging_resource_group_id=kwargs.get("staging", STAGING),
                                    scripts_storage_account_id=kwargs.get("storage", image.scripts_storage_account_id))


def by_key(gs: list[Grant]) -> dict[str, Grant]:
    return {g.key: g for g in gs}


def is_subscription_scope(scope: str) -> bool:
    return scope.rstrip("/").count("/") <= 2


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_broad_roles(stack):
    for g in grants(stack):
        assert not is_subscription_scope(g.scope), g
        assert not is_subscription_scope(g.assignable_scope), g
        if g.builtin == CONTRIBUTOR:
            assert g.scope == STAGING
        assert "*" not in "".join(g.actions)


def test_dev_roles():
    gs = by_key(grants("dev"))
    assert set(gs) == {"gallery-writer", "staging-contributor"}
    writer = gs["gallery-writer"]
    assert writer.actions == GALLERY_WRITE
    assert writer.scope.endswith("/providers/Microsoft.Compute/galleries/gal_golden_dev/images/ubuntu-2204")
    assert writer.assignable_scope == f"/subscriptions/{SUB}/resourceGroups/rg-golden-images-dev"
    assert gs["staging-contributor"].builtin == CONTRIBUTOR and gs["staging-contributor"].scope == STAGING


def test_prod_roles_read_the_vnet_and_join_the_subnet_only():
    gs = by_key(grants("prod"))
    assert set(gs) == {"gallery-writer", "vnet-reader", "subnet-join", "staging-contributor"}
    join = gs["subnet-join"]
    assert join.actions == SUBNET_JOIN
    assert join.scope.endswith("/virtualNetworks/vnet-build-prod/subnets/snet-image-builder")
    assert join.assignable_scope == f"/subscriptions/{SUB}/resourceGroups/rg-network-prod"
    reader = gs["vnet-reader"]
    assert reader.actions == VNET_READ
    assert reader.scope.endswith("/virtualNetworks/vnet-build-prod")


def test_gallery_version_id_scopes_to_the_definition():
    def edit(image):
        d = image["template"]["properties"]["distribute"][0]
        d["galleryImageId"] += "/versions/1.2.3"
    writer = by_key(grants("dev", edit))["gallery-writer"]
    assert writer.scope.endswith("/galleries/gal_golden_dev/images/ubuntu-2204")


def test_no_staging_grant_when_the_service_owns_staging():
    assert "staging-contributor" not in by_key(grants("dev", staging=None))


def test_managed_image_target_and_sources():
    image_rg = f"/subscriptions/{SUB}/resourceGroups/rg-images"

    def edit(image):
        props = image["template"]["properties"]
        props["distribute"] = [{"type": "ManagedImage", "runOutputName": "mi", "location": "westeurope",
                                "imageId": f"{image_rg}/providers/Microsoft.Compute/images/golden"}]
        props["source"] = {"type": "SharedImageVersion", "imageVersionId":
                           f"/subscriptions/{SUB}/resourceGroups/rg-src/providers/Microsoft.Compute/galleries/g/"
                           "images/base/versions/latest"}
        image["template"]["osType"] = "Linux"
        image["template"]["hyperVGeneration"] = "V2"
    gs = by_key(grants("dev", edit))
    assert set(gs) == {"managed-image-writer", "source-reader", "source-gallery-reader", "staging-contributor"}
    assert gs["managed-image-writer"].scope == image_rg
    assert gs["managed-image-writer"].actions == ("Microsoft.Compute/images/read", "Microsoft.Compute/images/write",
                                                  "Microsoft.Compute/images/delete")
    reader = gs["source-reader"]
    assert reader.scope.endswith("/galleries/g/images/base")
    assert not any(a.endswith("/write") for a in reader.actions)
    # The gallery itself is read too; an assignment on the definition below it does not cover that.
    assert gs["source-gallery-reader"].scope.endswith("/galleries/g")
    assert gs["source-gallery-reader"].actions == ("Microsoft.Compute/galleries/read",)


def test_scripts_container_reader_and_build_vm_identities():
    account = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stscripts"
    vm_identity = f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/vm"

    def edit(image):
        steps = image["template"]["properties"]["customize"]
        steps[0]["scriptUri"] = "https://stscripts.blob.core.windows.net/linux/baseline.sh"
        steps[2].pop("sourceFile", None)  # the dev stack's motd comes from the repository
        steps[2]["sourceUri"] = "https://stscripts.blob.core.windows.net/files/motd"
        image["template"]["properties"]["vmProfile"]["userAssignedIdentities"] = [vm_identity]
    listed = grants("dev", edit, storage=account)
    readers = [g for g in listed if g.key == "scripts-reader"]
    assert sorted(g.scope for g in readers) == [f"{account}/blobServices/default/containers/files",
                                               f"{account}/blobServices/default/containers/linux"]
    assert all(g.builtin == STORAGE_BLOB_DATA_READER for g in readers)
    gs = by_key(listed)
    assert gs["identity-operator"].builtin == MANAGED_IDENTITY_OPERATOR and gs["identity-operator"].scope == vm_identity


def test_isolated_build_joins_both_subnets():
    aci = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-network-prod/providers/"
           "Microsoft.Network/virtualNetworks/vnet-build-prod/subnets/snet-aci")
    listed = grants("prod", lambda i: i["template"]["properties"]["vmProfile"]["vnetConfig"].update(
        containerInstanceSubnetId=aci))
    gs = by_key(listed)
    assert {g.scope.rsplit("/", 1)[-1] for g in listed if g.key == "subnet-join"} == {"snet-image-builder", "snet-aci"}
    # Both subnets share one VNet (a spec rule), so one reader assignment covers it.
    assert gs["vnet-reader"].scope.endswith("/virtualNetworks/vnet-build-prod")


def test_runner_role():
    template = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/t-1"
    g = grant_template_runner(template)
    assert g.actions == TEMPLATE_RUNNER and g.scope == template
    assert g.assignable_scope == f"/subscriptions/{SUB}/resourceGroups/rg"


def test_guids_are_deterministic_and_input_sensitive():
    g = by_key(grants("dev"))["gallery-writer"]
    again = by_key(grants("dev"))["gallery-writer"]
    assert g.role_definition_guid("p/s/a") == again.role_definition_guid("p/s/a")
    assert g.assignment_name("p/s/a", "principal-1") == again.assignment_name("p/s/a", "principal-1")
    assert g.assignment_name("p/s/a", "principal-1") != g.assignment_name("p/s/a", "principal-2")
    assert g.role_definition_guid("p/s/a") != g.role_definition_guid("p/s/b")
    assert g.role_definition_id("p/s/a") == (f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                             f"roleDefinitions/{g.role_definition_guid('p/s/a')}")


def test_number_keys_drops_repeats():
    a = Grant("k", "r", f"/subscriptions/{SUB}/resourceGroups/a", ("x",))
    b = Grant("k", "r", f"/subscriptions/{SUB}/resourceGroups/b", ("x",))
    assert [g.key for g in number_keys([a, b, a])] == ["k-0", "k-1"]
    assert [g.key for g in number_keys([a, a])] == ["k"]


def test_a_second_subnet_does_not_rename_the_first_grant():
    """Logical names of per-scope kinds come from the scope (a hash), never from a position among their kind."""
    aci = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-network-prod/providers/"
           "Microsoft.Network/virtualNetworks/vnet-build-prod/subnets/snet-aci")
    before = {g.scope: g.name_key for g in grants("prod")}
    after = {g.scope: g.name_key for g in grants("prod", lambda i: i["template"]["properties"]["vmProfile"][
        "vnetConfig"].update(containerInstanceSubnetId=aci))}
    assert before.items() <= after.items()
    assert len(set(after.values())) == len(after)
    # ... whereas the position-numbered keys of earlier versions renamed it (kept only to alias old state).
    assert [g.key for g in number_keys(grants("prod")) if g.key.startswith("subnet-join")] == ["subnet-join"]


@pytest.mark.parametrize("configured, env, expected", [
    (None, {}, "User"),                                                   # az login at a laptop
    (None, {"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "app"}, "ServicePrincipal"),  # GitHub Actions OIDC
    (None, {"ARM_CLIENT_ID": "app", "ARM_CLIENT_SECRET": "s"}, "ServicePrincipal"),
    (None, {"ARM_USE_MSI": "1"}, "ServicePrincipal"),                     # a system-assigned managed identity
    ("auto", {"ARM_USE_MSI": "false", "ARM_USE_OIDC": ""}, "User"),
    ("User", {"ARM_CLIENT_ID": "app"}, "User"),                           # the setting wins
    ("ServicePrincipal", {}, "ServicePrincipal"),                         # az CLI signed in as a service principal
])
def test_deployer_principal_type_follows_the_credentials_azure_native_uses(configured, env, expected):
    assert deployer_principal_type(configured, env) == expected
