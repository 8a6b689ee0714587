"""The day-to-day life of a stack under the real engine: preview, up, no-op up, changes, refresh, destroy."""

from __future__ import annotations

from e2e_helpers import SUBSCRIPTION, TEMPLATE_TYPE, changes, e2e_config, minimal_image

GALLERY = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-e2e/providers/Microsoft.Compute/galleries/gal_e2e"


def template_name(stack, image: str = "one") -> str:
    return stack.outputs()[image]["templateName"]


def test_first_preview_then_up_then_no_op(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    preview = stack.preview()
    assert "to create" in changes(preview), changes(preview)
    assert stack.templates() == {}, "a preview creates nothing"

    stack.up()
    name = template_name(stack)
    assert stack.templates()[name]["body"]["properties"]["lastRunStatus"]["runState"] == "Succeeded"
    assert stack.runs(name) == 1
    assert stack.outputs()["one"]["imageVersionId"].startswith(GALLERY + "/images/one/versions/")

    again = stack.up()
    assert "unchanged" in changes(again) and "created" not in changes(again) and "updated" not in changes(again), \
        changes(again)
    assert stack.runs(name) == 1, "a no-op up starts no build"


def test_customizer_change_builds_a_new_template_and_deletes_the_old_one_after(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()
    old = template_name(stack)

    stack.edit(lambda c: c["aib-images:images"]["one"]["template"]["properties"]["customize"][0]["inline"]
               .append("echo again"))
    preview = stack.preview("--diff")
    assert "to replace" in changes(preview), changes(preview)
    assert TEMPLATE_TYPE in preview.stdout

    stack.up()
    new = template_name(stack)
    assert new != old
    assert set(stack.templates()) == {new}, "the old template is deleted once the new one is built"
    assert stack.runs(new) == 1
    assert stack.outputs()["one"]["imageVersionId"].endswith("/versions/0.0.2")
    assert stack.holds(GALLERY + "/images/one/versions/0.0.1"), "the earlier image version is kept"


def test_tag_change_is_an_update_in_place(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()
    name = template_name(stack)
    stack.edit(lambda c: c["aib-images:images"]["one"]["template"]["tags"].update(owner="platform"))
    result = stack.up()
    assert "replaced" not in changes(result), changes(result)
    assert template_name(stack) == name
    assert stack.templates()[name]["body"]["tags"]["owner"] == "platform"
    assert stack.runs(name) == 1, "a tag change does not rebuild"


def test_rebuild_trigger_bump_builds_again_on_the_same_template(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()
    name = template_name(stack)
    stack.edit(lambda c: c["aib-images:images"]["one"].update(rebuildTrigger="2"))
    stack.up()
    assert template_name(stack) == name
    assert stack.runs(name) == 2
    assert stack.outputs()["one"]["imageVersionId"].endswith("/versions/0.0.2")


def test_a_second_gallery_target_is_added_without_collision(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()

    def add_target(config):
        distribute = config["aib-images:images"]["one"]["template"]["properties"]["distribute"]
        second = dict(distribute[0], runOutputName="one-sig-b",
                      galleryImageId=distribute[0]["galleryImageId"].replace("gal_e2e", "gal_e2e_b"))
        distribute.append(second)

    stack.edit(add_target)
    stack.up()
    outputs = stack.outputs()["one"]
    assert set(outputs["runOutputs"]) == {"one-sig", "one-sig-b"}
    assert stack.holds(GALLERY.replace("gal_e2e", "gal_e2e_b") + "/images/one")


def test_removing_an_image_deletes_its_template_and_keeps_its_versions(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one"), "two": minimal_image("two")}))
    stack.up()
    two = template_name(stack, "two")
    version = stack.outputs()["two"]["imageVersionId"]
    stack.edit(lambda c: c["aib-images:images"].pop("two"))
    stack.up()
    assert two not in stack.templates()
    assert stack.holds(version), "the removed image's gallery version is kept"
    assert set(stack.outputs()) == {"one"}


def test_two_images_share_a_gallery_and_the_first_can_go(local_stack):
    stack = local_stack(e2e_config({"first": minimal_image("first"), "second": minimal_image("second")}))
    stack.up()
    stack.edit(lambda c: c["aib-images:images"].pop("first"))
    result = stack.up()
    assert "already existing" not in result.stdout
    assert stack.holds(GALLERY), "the shared gallery stays"
    assert stack.holds(GALLERY + "/images/second")
    galleries = [r for r in stack.resources(":compute:Gallery")]
    assert len(galleries) == 1


def test_destroy_keeps_gallery_and_versions_and_up_again_adopts_them(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()
    version = stack.outputs()["one"]["imageVersionId"]
    stack.pulumi("destroy", "--yes", "--non-interactive")
    assert stack.templates() == {}
    assert stack.holds(GALLERY) and stack.holds(GALLERY + "/images/one") and stack.holds(version)

    result = stack.up()
    assert "already existing" not in result.stdout
    assert stack.outputs()["one"]["imageVersionId"].startswith(GALLERY + "/images/one/versions/")


def test_a_stack_that_keeps_nothing_leaves_nothing_after_a_second_up_and_destroy(local_stack):
    """With no kept gallery in it, the stack's resource group is deleted by destroy. It was not: every run looks the
    group up for adoption, from the second `up` on it found the one the first created, and adopted it, so a routine
    no-op `up` marked it as kept (retainOnDelete in the state) and destroy left it behind."""
    image = minimal_image("one")
    image["gallery"]["retainOnDelete"] = False
    stack = local_stack(e2e_config({"one": image}))
    stack.up()
    second = stack.up()
    assert "unchanged" in second.stdout and "updated" not in second.stdout
    [group] = [r for r in stack.export()["deployment"]["resources"]
               if r["type"] == "azure-native:resources:ResourceGroup" and r["urn"].endswith("::resource-group")]
    assert not group.get("retainOnDelete"), group
    stack.pulumi("destroy", "--yes", "--non-interactive")
    assert not stack.holds(group["id"]) and not stack.holds(GALLERY)


def test_refresh_after_the_template_was_deleted_outside_pulumi_then_up_builds_again(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    stack.up()
    name = template_name(stack)
    template_id = stack.outputs()["one"]["templateId"]
    stack.arm().resources.begin_delete_by_id(template_id, api_version="2024-02-01").result()  # outside Pulumi
    assert name not in stack.templates()
    stack.pulumi("refresh", "--yes", "--non-interactive", "--skip-preview")
    stack.up()
    assert name in stack.templates()
    assert stack.runs(name) >= 1
    assert stack.templates()[name]["body"]["properties"]["lastRunStatus"]["runState"] == "Succeeded"


def test_a_template_needing_2025_10_01_is_deployed_and_built_at_that_version(local_stack):
    """`replicationMode` exists only in 2025-10-01, which azure-native cannot create (its typed template sends
    2024-02-01; its generic resource checks existence at 2024-03-01, which the image builder does not serve, and
    stops): the component declares it as a versioned template at that api-version, with the same build and outputs.
    Before, through the generic resource, this scenario failed under the stand-in's azure-native rules."""
    image = minimal_image("one")
    image["template"]["properties"]["distribute"][0]["replicationMode"] = "Shallow"
    stack = local_stack(e2e_config({"one": image}))
    stack.up()
    name = template_name(stack)
    body = stack.templates()[name]["body"]
    assert body["properties"]["distribute"][0]["replicationMode"] == "Shallow"
    assert body["properties"]["lastRunStatus"]["runState"] == "Succeeded"
    [template] = stack.resources("aib:VersionedTemplate")
    assert template["inputs"]["api_version"] == "2025-10-01"
    assert template["id"].lower().endswith(f"/imagetemplates/{name}")
    assert stack.outputs()["one"]["imageVersionId"].endswith("/versions/0.0.1")
    assert "unchanged" in changes(stack.up()), "a no-op up leaves it alone"


def test_a_renamed_project_reads_its_own_config_namespace(local_stack):
    """A fork calls the project `contoso-images`: its stack files say `contoso-images:images`, and everything reads
    that namespace (the program, the local seeding, synth)."""
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    project_file = stack.project / "Pulumi.yaml"
    project_file.write_text(project_file.read_text().replace("aib-images", "contoso-images"))
    stack.stack_file.write_text(stack.stack_file.read_text().replace("aib-images:", "contoso-images:"))
    stack.up()
    assert stack.outputs()["one"]["runState"] == "Succeeded"
    assert template_name(stack).startswith("one-")
