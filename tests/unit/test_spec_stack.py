"""Stack config: defaults filled into templates, image names, gallery regions, paths under images.<name>."""

from __future__ import annotations

import copy

import pytest

from components.model import SpecError
from components.model.stack import config_from_stack_file, gallery_context, parse_stack_config
from tests.unit.spec_samples import GALLERY, IDENTITY, SUBNET, linux_template, windows_template


def _stack(**images):
    return {"location": "westeurope", "images": images or {"ubuntu": {"template": _no_location(linux_template())}}}


def _no_location(doc):
    doc = copy.deepcopy(doc)
    doc.pop("location")
    doc.pop("name")
    return doc


def _issues(data):
    try:
        parse_stack_config(data)
    except SpecError as exc:
        return [(i.path, i.message) for i in exc.issues]
    return []


def test_defaults_fill_location_and_name():
    stack = parse_stack_config(_stack())
    template = stack.images["ubuntu"].template
    assert (template.location, template.name) == ("westeurope", "ubuntu")
    assert stack.resource_group_name == "rg-golden-images"


def test_template_location_and_name_win_over_defaults():
    template = dict(_no_location(linux_template()), location="northeurope", name="custom")
    stack = parse_stack_config(_stack(ubuntu={"template": template}))
    assert (stack.images["ubuntu"].template.location, stack.images["ubuntu"].template.name) == ("northeurope", "custom")


@pytest.mark.parametrize("name", ["bad name", "a" * 65, "ubuntu/22", "é"])
def test_bad_image_name_reported_once_at_the_image(name):
    issues = _issues(_stack(**{name: {"template": _no_location(linux_template())}}))
    assert issues == [(f"images.{name}", f"{name!r} does not match ^[A-Za-z0-9-_.]{{1,64}}$")]


def test_bad_image_name_reported_beside_structural_errors():
    template = _no_location(linux_template())
    template["properties"]["buildTimeoutInMinutes"] = 1000
    issues = _issues(_stack(**{"bad name": {"template": template}}))
    assert [p for p, _ in issues] == ["images.bad name", "images.bad name.template.properties.buildTimeoutInMinutes"]


@pytest.mark.parametrize("name", ["a" * 64, "Ubuntu-22.04_lts"])
def test_good_image_names(name):
    assert _issues(_stack(**{name: {"template": _no_location(linux_template())}})) == []


def test_gallery_created_in_template_location_must_be_replicated_to():
    template = _no_location(linux_template())
    template["properties"]["distribute"][0]["targetRegions"] = [{"name": "northeurope"}]
    issues = _issues(_stack(ubuntu={"template": template}))
    assert issues == [("images.ubuntu.template.properties.distribute[0].targetRegions",
                       "does not include the gallery's region 'westeurope' (given: northeurope)")]


def test_gallery_location_option_is_the_gallery_region():
    template = _no_location(linux_template())
    template["properties"]["distribute"][0]["targetRegions"] = [{"name": "northeurope"}]
    assert _issues(_stack(ubuntu={"template": template, "gallery": {"location": "northeurope"}})) == []
    issues = _issues(_stack(ubuntu={"template": _no_location(linux_template()), "gallery": {"location": "eastus"}}))
    assert [p for p, _ in issues] == ["images.ubuntu.template.properties.distribute[0].targetRegions"]


def test_existing_gallery_region_is_not_guessed():
    template = _no_location(linux_template())
    template["properties"]["distribute"][0]["targetRegions"] = [{"name": "northeurope"}]
    stack = parse_stack_config(_stack(ubuntu={"template": template, "gallery": {"create": False}}))
    assert gallery_context(stack).gallery_locations == {}


def test_gallery_context_maps_gallery_id_to_region():
    stack = parse_stack_config(_stack())
    assert gallery_context(stack).gallery_locations == {GALLERY.lower(): "westeurope"}


@pytest.mark.parametrize("edit,path,fragment", [
    (lambda i: i.update(sourceImageTrigger=True, template=dict(i["template"], properties=dict(
        i["template"]["properties"], source=dict(i["template"]["properties"]["source"], version="1.0.0")))),
     "images.ubuntu.sourceImageTrigger", "needs a source at version 'latest'"),
    (lambda i: i.update(identityId=SUBNET), "images.ubuntu.identityId", "not a Microsoft.ManagedIdentity"),
    (lambda i: i.update(staging="shared"), "images.ubuntu.staging", "'shared' was given"),
    (lambda i: i.update(gallery={"imageDefinition": {"osState": "Generalised"}}),
     "images.ubuntu.gallery.imageDefinition.osState", "'Generalised' was given"),
    (lambda i: i.update(Build=False), "images.ubuntu.Build", "unknown field 'Build'"),
    (lambda i: i["template"]["properties"].update(buildTimeoutInMinutes=5),
     "images.ubuntu.template.properties.buildTimeoutInMinutes", "must be 0 or between 6 and 960"),
])
def test_image_option_errors_have_paths(edit, path, fragment):
    image = {"template": _no_location(linux_template())}
    edit(image)
    issues = _issues(_stack(ubuntu=image))
    assert [p for p, _ in issues] == [path]
    assert fragment in issues[0][1]


@pytest.mark.parametrize("data,path,fragment", [
    ({"images": {}}, "images", "at least 1 item"),
    ({"location": "westeurope"}, "images", "required field is missing"),
    ({"images": {"u": {"template": _no_location(linux_template())}}}, "images.u.template.location",
     "required field is missing"),
    ({"resourceGroupName": "rg with spaces!", "images": {"u": {"template": linux_template()}}}, "resourceGroupName",
     "does not match"),
])
def test_stack_level_errors(data, path, fragment):
    issues = _issues(data)
    assert [p for p, _ in issues] == [path]
    assert fragment in issues[0][1]


def test_stack_config_must_be_a_mapping():
    assert _issues(["images"]) == [("", "the stack config must be a mapping")]


def test_errors_across_images_reported_together():
    linux = _no_location(linux_template())
    linux["properties"]["customize"][1]["destination"] = "/etc/motd"
    win = _no_location(windows_template())
    win["properties"]["customize"].append({"type": "Shell", "inline": ["ls"]})
    issues = _issues(_stack(ubuntu={"template": linux}, windows={"template": win, "identityId": IDENTITY}))
    assert [p for p, _ in issues] == ["images.ubuntu.template.properties.customize[1].destination",
                                      "images.windows.template.properties.customize[3].type"]


def test_config_from_stack_file_keeps_only_project_keys():
    doc = {"config": {"aib-images:location": "westeurope", "azure-native:location": "eastus",
                      "aib-images:images": {"u": {}}, "aib-images": "no name"}}
    assert config_from_stack_file(doc) == {"location": "westeurope", "images": {"u": {}}}
    assert config_from_stack_file({}) == {}
