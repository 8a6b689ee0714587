"""The stack plan (`components.plan.stack`): names that never move, shared things declared once (plain pytest, no Pulumi)."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from components.ops import admin_roles
from components.plan.stack import OldName, StackPlan, adoption_conflicts, plan_stack
from components.plan.roles import CONTRIBUTOR, STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER
from components.model.stack import parse_stack_config
from tests.conftest import ROOT, stack_images

SUB = "00000000-0000-0000-0000-000000000000"
IDENTITY = f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
VM_IDENTITY = IDENTITY + "-vm"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stscripts"


def dev_image() -> dict:
    return stack_images("dev")["ubuntu-2204"]


def second_target(image: dict, definition: str = "ubuntu-2204-alt") -> None:
    target = copy.deepcopy(image["template"]["properties"]["distribute"][0])
    target["runOutputName"] += "-alt"
    target["galleryImageId"] = target["galleryImageId"].rsplit("/", 1)[0] + "/" + definition
    image["template"]["properties"]["distribute"].append(target)


def on_shared_identity(image: dict) -> dict:
    """The image on an existing identity, reading scripts from one container and attaching one build-VM identity."""
    image = copy.deepcopy(image)
    image["identityId"] = IDENTITY
    image["scriptsStorageAccountId"] = ACCOUNT
    steps = image["template"]["properties"]["customize"]
    steps[0].pop("script", None)
    steps[0]["scriptUri"] = "https://stscripts.blob.core.windows.net/linux/baseline.sh"
    image["template"]["properties"]["vmProfile"]["userAssignedIdentities"] = [VM_IDENTITY]
    return image


def plan(images: dict, **config) -> StackPlan:
    stack = parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-golden", "images": images,
                                **config}, project_dir=ROOT)
    return plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="dev",
                      name_key=config.get("nameKey"))


def names(p: StackPlan) -> dict[tuple[str, str], str]:
    """(kind, logical name) -> the Azure id or name it stands for."""
    out: dict[tuple[str, str], str] = {}
    out.update({("gallery", g.logical_name): g.id for g in p.shared.galleries})
    out.update({("image-definition", d.logical_name): d.id for d in p.shared.image_definitions})
    out.update({("grant", g.logical_name): f"{g.principal}|{g.role_definition_id}|{g.grant.scope}"
                for g in p.shared.grants})
    for image in p.images.values():
        out.update({("role-definition", d.logical_name): d.guid for d in image.role_definitions})
        out.update({("grant", g.logical_name): f"{g.role_definition_id}|{g.grant.scope}" for g in image.grants})
        out[("template", image.revision_name("template"))] = image.template_name
        if image.staging_group:
            out[("staging", image.revision_name("staging"))] = image.staging_group
    return out


def assert_kept(before: StackPlan, after: StackPlan) -> None:
    old, new = names(before), names(after)
    missing = {k: v for k, v in old.items() if new.get(k) != v}
    assert not missing, f"renamed or dropped: {missing}"


@pytest.mark.parametrize("change", [
    pytest.param(lambda images: second_target(images["ubuntu-2204"]), id="second SharedImage target"),
    pytest.param(lambda images: images.update({"second": on_shared_identity(dev_image())}), id="second image"),
])
def test_adding_never_renames_what_exists(change):
    images = {"ubuntu-2204": dev_image()}
    before = plan(copy.deepcopy(images))
    change(images)
    after = plan(images)
    # A new target is new template content: the template, its staging group and the Contributor on that group are
    # new by design (create-before-delete under new names). Everything else keeps its logical and Azure name.
    content = ("template", "staging")
    keep = {k: v for k, v in names(before).items() if k[0] not in content and "staging-contributor" not in k[1]}
    assert keep.items() <= names(after).items()
    if "second" in images:  # another image leaves this one's content alone too
        assert_kept(before, after)


def test_a_second_scripts_container_keeps_the_first_grant_name():
    image = on_shared_identity(dev_image())
    before = plan({"a": copy.deepcopy(image)})
    image["template"]["properties"]["customize"][2].pop("sourceFile", None)
    image["template"]["properties"]["customize"][2]["sourceUri"] = "https://stscripts.blob.core.windows.net/files/m"
    after = plan({"a": image})
    readers = lambda p: {g.grant.scope: g.logical_name for g in p.shared.grants  # noqa: E731
                         if g.grant.key == "scripts-reader"}
    assert len(readers(after)) == 2
    assert readers(before).items() <= readers(after).items()


def test_removing_the_first_image_keeps_the_shared_gallery():
    first, second = dev_image(), dev_image()
    second["template"]["properties"]["distribute"][0]["galleryImageId"] = \
        first["template"]["properties"]["distribute"][0]["galleryImageId"].rsplit("/", 1)[0] + "/other"
    both = plan({"ubuntu-2204": first, "other": copy.deepcopy(second)})
    alone = plan({"other": second})
    [gallery] = both.shared.galleries
    [kept] = alone.shared.galleries
    assert (gallery.logical_name, gallery.id) == (kept.logical_name, kept.id)
    assert gallery.logical_name.startswith("gallery-gal_golden_dev-")
    assert len(both.shared.image_definitions) == 2


def test_two_images_on_one_identity_share_one_assignment():
    p = plan({"a": on_shared_identity(dev_image()), "b": on_shared_identity(dev_image())})
    shared = Counter((g.principal.lower(), g.role_definition_id, g.grant.scope.lower()) for g in p.shared.grants)
    assert shared and set(shared.values()) == {1}
    assert {g.grant.key for g in p.shared.grants} == {"scripts-reader", "identity-operator"}
    for image in p.images.values():
        assert not [g for g in image.grants if g.grant.key in ("scripts-reader", "identity-operator")]
        assert set(image.shared_grants) == {g.logical_name for g in p.shared.grants}
    # Custom roles stay per image (their definitions are per pipeline, so their GUIDs differ).
    writers = [g.role_definition_id for i in p.images.values() for g in i.grants if g.grant.key == "gallery-writer"]
    assert len(set(writers)) == 2


def test_every_logical_name_is_unique_and_stable():
    images = {"ubuntu-2204": on_shared_identity(dev_image()), "other": dev_image()}
    second_target(images["other"], "other-alt")
    first, again = plan(copy.deepcopy(images)), plan(images)
    listed = first.logical_names()
    assert len(listed) == len(set(name for _, name in listed)), Counter(listed).most_common(3)
    assert names(first) == names(again)


def test_old_names_alias_the_previous_naming():
    images = {"ubuntu-2204": dev_image()}
    second_target(images["ubuntu-2204"])
    p = plan(images)
    assert {d.old_name for d in p.shared.image_definitions} == {
        OldName("ubuntu-2204-image-definition-0", "ubuntu-2204"), OldName("ubuntu-2204-image-definition-1",
                                                                          "ubuntu-2204")}
    assert [g.old_name for g in p.shared.galleries] == [OldName("ubuntu-2204-gallery-0", "ubuntu-2204")]
    writers = sorted(g.old_name.name for g in p.images["ubuntu-2204"].grants
                     if g.grant.key == "gallery-writer" and g.old_name is not None)
    assert writers == ["ubuntu-2204-gallery-writer-0", "ubuntu-2204-gallery-writer-1"]
    # The staging group is per revision, so its Contributor is per scope now: the name of 0.3 is its alias.
    [contributor] = [g for g in p.images["ubuntu-2204"].grants if g.grant.key == "staging-contributor"]
    assert contributor.old_name == OldName("ubuntu-2204-staging-contributor")
    # Names that did not change carry no alias.
    [reader] = [g for g in p.images["ubuntu-2204"].grants if g.grant.key == "repo-files-reader"]
    assert reader.old_name is None


def test_name_key_changes_the_digest_but_not_the_change_detection():
    plain = plan({"ubuntu-2204": dev_image()}).images["ubuntu-2204"]
    keyed = plan({"ubuntu-2204": dev_image()}, nameKey="k1").images["ubuntu-2204"]
    other_key = plan({"ubuntu-2204": dev_image()}, nameKey="k2").images["ubuntu-2204"]
    edited = dev_image()
    edited["template"]["properties"]["customize"][1]["inline"].append("echo changed")
    changed = plan({"ubuntu-2204": edited}, nameKey="k1").images["ubuntu-2204"]
    assert len({plain.template_name, keyed.template_name, other_key.template_name, changed.template_name}) == 4
    assert len({plain.staging_group, keyed.staging_group, changed.staging_group}) == 3
    assert plan({"ubuntu-2204": dev_image()}, nameKey="k1").images["ubuntu-2204"].template_name == keyed.template_name


def test_adoption_conflicts_name_what_cannot_change():
    definition = plan({"ubuntu-2204": dev_image()}).shared.image_definitions[0]

    class Found:
        location = "westeurope"
        os_type, os_state, hyper_v_generation = "Linux", "Generalized", "V2"

        class identifier:  # noqa: N801 - shaped like the getter's result
            publisher, offer, sku = "contoso", "ubuntu-2204-golden", "dev"
    assert adoption_conflicts(definition, Found()) == []
    assert adoption_conflicts(definition, None) == []
    Found.identifier.sku = "prod"
    Found.location = "North Europe"
    paths = [i.path for i in adoption_conflicts(definition, Found())]
    assert paths == ["images.ubuntu-2204.gallery.location", "images.ubuntu-2204.gallery.imageDefinition.sku"]


def test_existing_custom_roles_are_assigned_under_the_ids_declare_would_create():
    images = {"ubuntu-2204": dev_image(), "win2022": stack_images("prod")["win2022"]}
    declared, existing = plan(images), plan(images, customRoles="existing")
    for key, image in existing.images.items():
        assert image.declared_role_definitions == ()
        assert image.role_definitions == declared.images[key].role_definitions
        assert [(g.logical_name, g.role_definition_id) for g in image.grants] == \
            [(g.logical_name, g.role_definition_id) for g in declared.images[key].grants]
        custom = {d.role_definition_id for d in image.role_definitions}
        assert {g.role_definition_id for g in image.grants if g.grant.custom} <= custom
    assert not any(kind == "role-definition" for kind, _ in existing.logical_names())
    assert admin_roles.custom_roles(existing) == admin_roles.custom_roles(declared)


def test_admin_roles_lists_every_role_the_stack_assigns_once():
    p = plan({"ubuntu-2204": dev_image(), "win2022": stack_images("prod")["win2022"]}, customRoles="existing")
    doc = admin_roles.document(p)
    custom = {r["guid"] for r in doc["customRoles"]}
    assert len(custom) == len(doc["customRoles"])
    # Built-in: Contributor on staging; repository files: the identity reads them, the deployer uploads them.
    assert set(doc["assignedRoleIds"]) == custom | {CONTRIBUTOR, STORAGE_BLOB_DATA_READER,
                                                     STORAGE_BLOB_DATA_CONTRIBUTOR}
    for role in doc["customRoles"]:
        assert role["resourceId"] == f"{role['assignableScopes'][0]}/providers/Microsoft.Authorization/" \
                                     f"roleDefinitions/{role['guid']}"
        assert role["body"]["properties"]["permissions"][0]["actions"] == role["actions"]
    condition = admin_roles.condition(p)
    assert condition.count(", ".join(doc["assignedRoleIds"])) == 2
    assert condition.count("{'ServicePrincipal'}") == 2


def test_principal_type_of_every_assignment_says_what_the_principal_is():
    prod = stack_images("prod")["win2022"]
    prod["runnerPrincipalType"] = "User"
    stack = parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-golden",
                                "images": {"ubuntu-2204": dev_image(), "win2022": prod}}, project_dir=ROOT)

    def planned(env, **settings):
        s = stack.model_copy(update=settings)
        return plan_stack(s, subscription_id=SUB, project="aib-images", stack_name="dev", env=env)

    def uploader_type(p: StackPlan) -> str:
        scripts = p.images["ubuntu-2204"].scripts
        assert scripts is not None
        return scripts.deployer_principal_type

    at_laptop, in_ci = planned({}), planned({"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "app"})
    for image in at_laptop.images.values():
        assert {g.principal_type for g in image.grants} == {"ServicePrincipal"}  # managed identities
    runner = at_laptop.images["win2022"].runner_grant
    assert runner is not None and runner.principal_type == "User"
    assert uploader_type(at_laptop) == "User" and uploader_type(in_ci) == "ServicePrincipal"
    assert uploader_type(planned({}, deployer_principal_type="ServicePrincipal")) == "ServicePrincipal"


def test_unkeyed_digests_of_secret_content_are_warned_about_once_planned():
    from components.plan.stack import stack_warnings

    def warnings(images: dict, secret: bool = False, **config) -> list[str]:
        stack = parse_stack_config({"location": "westeurope", "images": images, **config}, project_dir=ROOT)
        return stack_warnings(stack, images_secret=secret)

    inline = {"ubuntu-2204": dev_image()}  # its customize has an inline Shell step
    assert len(warnings(inline)) == 1 and "nameKey" in warnings(inline)[0]
    assert warnings(inline, nameKey="0123456789abcdef" * 4) == []
    without = dev_image()
    props = without["template"]["properties"]
    props["customize"] = [s for s in props["customize"] if "inline" not in s]
    props.pop("validate")
    assert warnings({"ubuntu-2204": without}) == []
    assert len(warnings({"ubuntu-2204": without}, secret=True)) == 1
