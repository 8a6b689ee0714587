"""Hypothesis: for any valid stack, every logical name the plan gives is unique, and the names of an image never
depend on the other images (their order, or one more of them).

Logical names are state: a name that moves is a delete and a create (of a gallery, a role, a template), and two
resources under one name stop the engine. `StackPlan.logical_names` lists every name a stack registers from its plan
(the pipeline's children included: identity, scripts storage and blobs, role settles, lifecycle, identity providers);
`tests/unit/test_plan_names_declared.py` checks that list against what the program registers.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from components.model.errors import SpecError
from components.model.stack import parse_stack_config
from components.plan.stack import StackPlan, plan_stack
from tests.conftest import ROOT
from tests.property.test_spec_properties import templates

SUB = "00000000-0000-0000-0000-000000000000"
OTHER_SUB = "11111111-1111-1111-1111-111111111111"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])

image_keys = st.text(alphabet="abcxyz0189-", min_size=1, max_size=12).filter(lambda k: k[0].isalnum())
identities = st.sampled_from([
    f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-a",
    f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-b",
    f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-c",
])
galleries = st.sampled_from([
    f"/subscriptions/{SUB}/resourceGroups/rg-gal/providers/Microsoft.Compute/galleries/gal_one/images/{d}"
    for d in ("ubuntu", "windows", "rhel")] + [
    f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-gal/providers/Microsoft.Compute/galleries/gal_two/images/ubuntu"])
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stscripts"
REPOSITORY_STEPS = {
    "Linux": [{"type": "Shell", "name": "setup", "script": "scripts/linux/setup.sh"},
              {"type": "File", "name": "motd", "sourceFile": "files/linux/motd", "destination": "/tmp/motd"}],
    "Windows": [{"type": "File", "name": "motd", "sourceFile": "files/linux/motd", "destination": "c:\\motd.txt"}],
}


def _os(template: dict) -> str:
    source = template["properties"]["source"]
    if template.get("osType"):
        return template["osType"]
    return "Windows" if "Windows" in source.get("publisher", "") else "Linux"


@st.composite
def images(draw) -> dict[str, Any]:
    """One image entry of a stack config: a valid template plus the options that change what the plan names."""
    template = draw(templates())
    template.pop("name", None)
    template["properties"].pop("autoRun", None)  # a second build beside the pipeline's: refused with build: true
    template["location"] = "westeurope"
    for target in template["properties"]["distribute"]:
        if target["type"] == "SharedImage":  # regions do not name anything; the gallery's must be among them
            target["galleryImageId"] = draw(galleries)
            target.pop("versioning", None)
            target.pop("replicationRegions", None)
            target.pop("storageAccountType", None)
            target["targetRegions"] = [{"name": "westeurope"}]
    if draw(st.booleans()):  # repository files: a scripts account or container, its blobs and roles
        steps = template["properties"].setdefault("customize", [])
        steps += draw(st.lists(st.sampled_from(REPOSITORY_STEPS[_os(template)]), min_size=1, max_size=2, unique_by=str))
    image: dict[str, Any] = {"template": template}
    identity = draw(st.sampled_from(["created", "config", "template"]))
    if identity != "template":
        template.pop("identity", None)
    if identity == "config":
        image["identityId"] = draw(identities)
    image.update(draw(st.fixed_dictionaries({}, optional={
        "gallery": st.fixed_dictionaries({}, optional={"create": st.booleans(), "retainOnDelete": st.booleans()}),
        "staging": st.sampled_from(["create", "service"]),
        "build": st.booleans(),
        "manageRoles": st.booleans(),
        "runnerPrincipalId": st.just("22222222-2222-2222-2222-222222222222"),
        "scriptsStorageAccountId": st.just(ACCOUNT),
    })))
    if any(t["type"] == "SharedImage" for t in template["properties"]["distribute"]) and draw(st.booleans()):
        image["lifecycle"] = {"retention": {"keepLatest": 2}}
    if draw(st.booleans()):  # a version another stack exports: one StackReference per stack
        image.setdefault("lifecycle", {})["promotion"] = {
            "mode": "manual", "fromStack": draw(st.sampled_from(["org/aib-images/prod", "org/aib-images/qa"]))}
    return image


@st.composite
def stacks(draw, min_size: int = 1) -> dict[str, Any]:
    keys = draw(st.lists(image_keys, min_size=min_size, max_size=4, unique_by=str.lower))
    config: dict[str, Any] = {"location": "westeurope", "resourceGroupName": "rg-golden",
                              "images": {k: draw(images()) for k in keys}}
    config.update(draw(st.fixed_dictionaries({}, optional={
        "createResourceGroup": st.booleans(), "customRoles": st.sampled_from(["declare", "existing"]),
        "nameKey": st.just("0123456789abcdef" * 4)})))
    return config


def planned(config: dict[str, Any]) -> StackPlan:
    """The plan of a valid stack config; hypothesis drops the (rare) invalid draw."""
    try:
        stack = parse_stack_config(copy.deepcopy(config), project_dir=ROOT)
        return plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="dev",
                          name_key=config.get("nameKey"))
    except SpecError:
        assume(False)
        raise


def image_names(plan: StackPlan, key: str) -> dict[str, Any]:
    """Every name of one image: logical names of its pipeline's children, and the Azure names they stand for."""
    image = plan.images[key]
    return {"logical": image.logical_names(), "template": image.template_name, "staging": image.staging_group,
            "identity": image.identity.id, "role-definitions": [d.guid for d in image.role_definitions],
            "scripts": (image.scripts.account_id, image.scripts.container_name) if image.scripts else None,
            "shared-grants": image.shared_grants}


def shared_names(plan: StackPlan) -> set[tuple[str, str]]:
    """The names of what images share, but the providers of existing identities in another subscription: those are
    named after the first grant (in image order) of their identity (`test_an_identity_provider_keeps_its_name...`)."""
    return {(kind, name) for kind, name in plan.shared.logical_names() if kind != "provider"}


@settings(max_examples=300, **SETTINGS)
@given(stacks())
def test_every_planned_logical_name_is_unique(config):
    listed = planned(config).logical_names()
    counts = Counter(name for _, name in listed)
    assert not [n for n, c in counts.items() if c > 1], counts.most_common(3)


@settings(max_examples=150, **SETTINGS)
@given(stacks(min_size=2), st.randoms(use_true_random=False))
def test_reordering_images_renames_nothing(config, random):
    before = planned(config)
    keys = list(config["images"])
    random.shuffle(keys)
    after = planned({**config, "images": {k: config["images"][k] for k in keys}})
    for key in keys:
        assert image_names(after, key) == image_names(before, key), key
    assert shared_names(after) == shared_names(before)


@settings(max_examples=150, **SETTINGS)
@given(stacks(), image_keys, images(), st.booleans())
def test_adding_an_image_renames_nothing(config, key, image, first):
    assume(key.lower() not in {k.lower() for k in config["images"]})
    before = planned(config)
    added = {key: image, **config["images"]} if first else {**config["images"], key: image}
    after = planned({**config, "images": added})
    for name in config["images"]:
        assert image_names(after, name) == image_names(before, name), name
    assert shared_names(before) <= shared_names(after)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="the provider of a shared identity in another subscription is named after the "
                                       "first grant for it, so image order decides it (renaming only that provider: "
                                       "it serves invokes, no resource); kept until a release may rename it")
def test_an_identity_provider_keeps_its_name_whatever_the_image_order():
    identity = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/" \
               "userAssignedIdentities/id-c"
    base = {"location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
            "properties": {"source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                      "sku": "server"},
                           "distribute": [{"type": "VHD", "runOutputName": "vhd"}]}}
    on_vm = copy.deepcopy(base)
    on_vm["properties"]["vmProfile"] = {"userAssignedIdentities": [identity]}  # identity-operator, at stack level
    staged = copy.deepcopy(base)
    staged["properties"]["stagingResourceGroup"] = f"/subscriptions/{SUB}/resourceGroups/rg-staging"
    config = {"location": "westeurope", "resourceGroupName": "rg-golden"}
    one = planned({**config, "images": {"a": {"template": on_vm}, "b": {"template": staged}}})
    other = planned({**config, "images": {"b": {"template": staged}, "a": {"template": on_vm}}})
    assert set(one.shared.logical_names()) == set(other.shared.logical_names())
