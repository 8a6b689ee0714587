"""Pre-flight checks the plan relies on (spec rules with path-named errors, before any resource exists)."""

from __future__ import annotations

import pytest

from components.model.errors import SpecError
from components.model.stack import parse_stack_config
from tests.conftest import ROOT, stack_images

SUB = "00000000-0000-0000-0000-000000000000"
OTHER = "11111111-2222-3333-4444-555555555555"


def parse(edit=None, subscription_id: "str | None" = SUB):
    images = stack_images("dev")
    if edit:
        edit(images["ubuntu-2204"])
    return parse_stack_config({"location": "westeurope", "images": images}, subscription_id=subscription_id,
                              project_dir=ROOT)


def in_other_subscription(image):
    target = image["template"]["properties"]["distribute"][0]
    target["galleryImageId"] = target["galleryImageId"].replace(SUB, OTHER)


def test_a_created_gallery_in_another_subscription_is_refused():
    with pytest.raises(SpecError) as caught:
        parse(in_other_subscription)
    assert "images.ubuntu-2204.template.properties.distribute[0].galleryImageId" in str(caught.value)
    assert OTHER in str(caught.value) and "gallery.create: false" in str(caught.value)


def test_an_existing_gallery_in_another_subscription_is_fine():
    def existing(image):
        in_other_subscription(image)
        image["gallery"]["create"] = False
    assert parse(existing).images


def test_without_a_known_subscription_the_check_is_skipped():
    assert parse(in_other_subscription, subscription_id=None).images


def test_auto_run_is_refused_when_the_pipeline_builds():
    def auto(image):
        image["template"]["properties"]["autoRun"] = {"state": "Enabled"}
    with pytest.raises(SpecError, match=r"images\.ubuntu-2204\.template\.properties\.autoRun\.state"):
        parse(auto)

    def auto_without_build(image):
        auto(image)
        image["build"] = False
    assert parse(auto_without_build).images["ubuntu-2204"].template.properties.auto_run is not None


def test_an_identity_in_another_subscription_keeps_it():
    from components.plan.stack import plan_stack

    identity = (f"/subscriptions/{OTHER}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities/id-shared")
    stack = parse(lambda i: i.update(identityId=identity))
    plan = plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="dev")
    planned = plan.images["ubuntu-2204"].identity
    assert (planned.subscription_id, planned.resource_group, planned.name) == (OTHER, "rg-ids", "id-shared")
