"""The stack program declares what the plan says: aliases, adoption (`import_`), secrets, one shared assignment."""

from __future__ import annotations

import copy
import json
import runpy

import pytest

from components.offline import program as engine
from components.offline.program import is_secret
from components.offline.synth import AibMocks, run_program
from tests.conftest import ROOT, kind_name, stack_images

SUB = "00000000-0000-0000-0000-000000000000"
IDENTITY = f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stscripts"


@pytest.fixture
def registered(monkeypatch):
    """Aliases and import ids as the SDK sends them (the recording monitor keeps neither)."""
    seen: dict[str, dict] = {}
    original = engine.RecordingMonitor.RegisterResource

    def record(self, request):
        # Named aliases only (azure-native adds type aliases for its versioned tokens).
        seen[request.name] = {"aliases": [(a.spec.name, a.spec.parentUrn) for a in request.aliases if a.spec.name],
                              "import": request.importId,
                              "retain": request.retainOnDelete if request.HasField("retainOnDelete") else None}
        return original(self, request)
    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", record)
    return seen


class ExistingGallery(AibMocks):
    """Azure as a previous destroy left it: the gallery and image definition exist."""

    def invoke(self, args):
        if args.token == "azure-native:compute:getGallery":
            return {"id": (f"/subscriptions/{SUB}/resourceGroups/{args.args['resourceGroupName']}/providers/"
                           f"Microsoft.Compute/galleries/{args.args['galleryName']}"), "location": "westeurope"}
        if args.token == "azure-native:compute:getGalleryImage":
            return {"id": "/subscriptions/x/images/" + args.args["galleryImageName"], "location": "westeurope",
                    "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
                    "identifier": {"publisher": "contoso", "offer": "other-offer", "sku": "dev"}}
        return super().invoke(args)


def run_stack(images: dict, *, secret_keys=(), mocks=None, **config):
    flat = {"aib-images:location": "westeurope", "aib-images:resourceGroupName": "rg-golden-images-dev",
            "aib-images:images": json.dumps(images), **{f"aib-images:{k}": v for k, v in config.items()}}
    monitor, program_globals = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
                                           project="aib-images", stack="dev", config=flat,
                                           secret_keys=list(secret_keys), mocks=mocks)
    return {kind_name(r["name"]): r for r in monitor.registrations}


def shared_identity(image: dict) -> dict:
    image = copy.deepcopy(image)
    image["identityId"] = IDENTITY
    image["scriptsStorageAccountId"] = ACCOUNT
    image["template"]["properties"]["customize"][0].pop("script", None)
    image["template"]["properties"]["customize"][0]["scriptUri"] = \
        "https://stscripts.blob.core.windows.net/linux/baseline.sh"
    return image


def test_renamed_resources_alias_their_previous_names(registered):
    run_stack(stack_images("dev"))
    gallery = next(n for n in registered if n.startswith("gallery-gal_golden_dev-"))
    assert registered[gallery]["aliases"] == [
        ("ubuntu-2204-gallery", "urn:pulumi:dev::aib-images::aib:index:ImagePipeline::ubuntu-2204")]
    writer = next(n for n in registered if n.startswith("ubuntu-2204-gallery-writer-") and not n.endswith("-role"))
    assert registered[writer]["aliases"] == [("ubuntu-2204-gallery-writer", "")]
    contributor = next(n for n in registered if n.startswith("ubuntu-2204-staging-contributor-"))
    assert registered[contributor]["aliases"] == [("ubuntu-2204-staging-contributor", "")]
    # What belongs to one template revision carries it in its name, and the one name of 0.3 as its alias.
    for kind in ("staging", "template", "tags", "run", "build"):
        [name] = [n for n in registered if kind_name(n) == f"ubuntu-2204-{kind}"]
        assert name != f"ubuntu-2204-{kind}" and registered[name]["aliases"] == [(f"ubuntu-2204-{kind}", "")], name
    identity = registered["ubuntu-2204-identity"]
    assert identity["aliases"] == [], "what every revision shares keeps its name"


def test_two_images_on_one_identity_declare_one_assignment():
    dev = stack_images("dev")["ubuntu-2204"]
    second = shared_identity(dev)
    second["template"]["properties"]["distribute"] = second["template"]["properties"]["distribute"][:1]
    second["template"]["properties"]["distribute"][0]["runOutputName"] = "b-sig"
    second["template"]["properties"]["distribute"][0]["galleryImageId"] += "-b"
    regs = run_stack({"a": shared_identity(dev), "b": second})
    assignments = [r for r in regs.values() if r["type"].endswith("RoleAssignment")]
    triples = [(r["inputs"]["principalId"], r["inputs"]["roleDefinitionId"], r["inputs"]["scope"])
               for r in assignments]
    assert len(triples) == len(set(triples))
    readers = [r for r in assignments if r["name"].startswith("scripts-reader-")]
    assert len(readers) == 1 and "ImagePipeline" not in readers[0]["parent_urn"]
    # Both templates wait for it.
    for image in ("a", "b"):
        assert readers[0]["urn"] in regs[f"{image}-template"]["dependencies"]


def test_existing_gallery_is_imported_and_conflicts_are_named(registered):
    with pytest.raises(Exception, match=r"images\.ubuntu-2204\.gallery\.imageDefinition\.offer"):
        run_stack(stack_images("dev"), mocks=ExistingGallery())
    images = stack_images("dev")
    images["ubuntu-2204"]["gallery"]["imageDefinition"]["offer"] = "other-offer"
    run_stack(images, mocks=ExistingGallery())
    gallery = next(n for n in registered if n.startswith("gallery-"))
    assert registered[gallery]["import"].endswith("/galleries/gal_golden_dev")
    definition = next(n for n in registered if n.startswith("image-definition-"))
    assert registered[definition]["import"] == "/subscriptions/x/images/ubuntu-2204"
    assert registered["resource-group"]["import"] == ""  # the offline getter finds no group


class ExistingGroup(AibMocks):
    """Azure with the stack's resource group in it, carrying `tags`."""

    def __init__(self, tags: dict) -> None:
        super().__init__()
        self.tags = tags

    def invoke(self, args):
        if args.token == "azure-native:resources:getResourceGroup":
            return {"id": f"/subscriptions/{SUB}/resourceGroups/{args.args['resourceGroupName']}",
                    "location": "westeurope", "name": args.args["resourceGroupName"], "tags": self.tags}
        return super().invoke(args)


def test_the_group_the_stack_created_stays_its_own_when_later_runs_find_it(registered):
    """Every run looks the group up, and from the second run on it finds the one the first created: that group was
    adopted (kept on destroy), so a routine no-op `up` turned a group the user lets destroy delete (no kept gallery in
    it) into one left behind. The stack tags what it creates, and a group with its tag is not adopted."""
    images = stack_images("dev")
    images["ubuntu-2204"]["gallery"]["retainOnDelete"] = False  # nothing in the group needs keeping
    first = run_stack(images)["resource-group"]
    assert first["inputs"]["tags"] == {"aib-images-stack": "aib-images/dev"}
    assert registered["resource-group"]["retain"] is False and registered["resource-group"]["import"] == ""
    group_id = f"/subscriptions/{SUB}/resourceGroups/rg-golden-images-dev"
    again = run_stack(images, mocks=ExistingGroup({"aib-images-stack": "aib-images/dev"}))["resource-group"]
    assert again["inputs"] == first["inputs"]
    # Imported, as found (the engine ignores that for a group in the state, and takes one a destroy kept), not kept.
    assert registered["resource-group"]["retain"] is False and registered["resource-group"]["import"] == group_id
    # A group that was there before the stack (or another stack's): adopted as it is, and kept.
    for tags in ({}, {"aib-images-stack": "aib-images/prod", "owner": "network-team"}):
        adopted = run_stack(images, mocks=ExistingGroup(tags))["resource-group"]
        assert "tags" not in adopted["inputs"], tags
        assert registered["resource-group"]["retain"] is True
        assert registered["resource-group"]["import"] == group_id


def test_adopt_existing_false_looks_nothing_up(registered):
    run_stack(stack_images("dev"), mocks=ExistingGallery(), adoptExisting="false")
    assert all(not r["import"] for r in registered.values())


def test_secret_config_stays_secret_in_the_template():
    images = stack_images("dev")
    images["ubuntu-2204"]["template"]["properties"]["customize"][0] = {
        "type": "Shell", "name": "sas", "scriptUri": "https://st.blob.core.windows.net/c/x.sh?sig=SECRET"}
    regs = run_stack(images, secret_keys=["aib-images:images"])
    template = regs["ubuntu-2204-template"]
    assert all(is_secret(template["inputs"][k]) for k in ("customize", "validate", "distribute"))
    assert "distribute" in template["options"]["additional_secret_outputs"]
    plain = run_stack(images)["ubuntu-2204-template"]
    assert not is_secret(plain["inputs"]["distribute"])


def test_name_key_renames_templates_once():
    plain = run_stack(stack_images("dev"))["ubuntu-2204-template"]["inputs"]["imageTemplateName"]
    keyed = run_stack(stack_images("dev"), secret_keys=["aib-images:nameKey"],
                      nameKey="k")["ubuntu-2204-template"]["inputs"]["imageTemplateName"]
    assert plain != keyed and keyed.startswith("ubuntu-2204-")


def test_a_name_key_in_plain_text_is_refused():
    import pulumi

    with pytest.raises(pulumi.RunError, match="nameKey"):
        run_stack(stack_images("dev"), nameKey="k")


def test_existing_custom_roles_declare_no_definition_and_wait_for_none():
    images = {"win2022": stack_images("prod")["win2022"]}
    declared = run_stack(images)
    existing = run_stack(images, customRoles="existing")
    kinds = {r["type"].rsplit(":", 1)[-1] for r in existing.values()}
    assert "RoleDefinition" not in kinds and "RoleDefinition" in {r["type"].rsplit(":", 1)[-1]
                                                                   for r in declared.values()}
    assert "win2022-role-definitions-settle" not in existing and "win2022-role-definitions-settle" in declared
    assignments = {n: r["inputs"]["roleDefinitionId"] for n, r in existing.items()
                   if r["type"].endswith("RoleAssignment")}
    assert assignments == {n: r["inputs"]["roleDefinitionId"] for n, r in declared.items()
                           if r["type"].endswith("RoleAssignment")}
    created = {r["inputs"]["roleDefinitionId"] for r in declared.values() if r["type"].endswith("RoleDefinition")}
    assert created and created <= {v.rsplit("/", 1)[-1] for v in assignments.values()}
    # An assignment of an admin-created role waits for nothing the stack would declare.
    runner = existing["win2022-runner"]
    assert not any("RoleDefinition" in d or "RoleSettle" in d for d in runner["dependencies"])


def test_the_runner_assignment_carries_its_configured_principal_type():
    image = stack_images("prod")["win2022"]
    default = run_stack({"win2022": image})["win2022-runner"]
    image["runnerPrincipalType"] = "Group"
    grouped = run_stack({"win2022": image})["win2022-runner"]
    assert default["inputs"]["principalType"] == "ServicePrincipal"
    assert grouped["inputs"]["principalType"] == "Group"
    # Same principal, role and scope: Azure holds one such assignment, so a changed type deletes the old one first.
    assert grouped["options"]["delete_before_replace"]
    assert grouped["options"]["replace_on_changes"] == ["principalType"], "not an in-place PUT, which ARM refuses"
    assert grouped["inputs"]["roleAssignmentName"] == default["inputs"]["roleAssignmentName"]


def test_an_image_whose_os_nothing_tells_declares_nothing(registered):
    """A gallery image definition needs its OS and cannot change it later: the stack refuses before declaring the
    shared gallery resources, not after (they were created with osType Linux, then the pipeline refused)."""
    image = stack_images("dev")["ubuntu-2204"]
    image["template"]["properties"]["source"] = {
        "type": "ManagedImage",
        "imageId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                   "Microsoft.Compute/images/base"}
    for section in ("customize", "validate"):  # no step that is Linux- or Windows-only either
        image["template"]["properties"].pop(section, None)
    with pytest.raises(Exception, match=r"images\.ubuntu-2204\.template\.osType"):
        run_stack({"ubuntu-2204": image})
    assert [n for n in registered if n != "aib-images-dev"] == []


class SlowLookups(AibMocks):
    """Azure answering the adoption lookups only once all of them are asking: a getter that is sent only after the
    previous one's answer (one at a time, as the generated synchronous getters do) never completes the rendezvous."""

    LOOKUPS = ("azure-native:resources:getResourceGroup", "azure-native:compute:getGallery",
               "azure-native:compute:getGalleryImage")

    def __init__(self, parties: int) -> None:
        super().__init__()
        import threading
        self.rendezvous = threading.Barrier(parties, timeout=5)
        self.events: list[tuple[str, str]] = []

    def invoke(self, args):
        if args.token not in self.LOOKUPS:
            return super().invoke(args)
        what = args.args.get("galleryImageName") or args.args.get("galleryName") or args.args["resourceGroupName"]
        self.events.append(("sent", what))
        try:
            self.rendezvous.wait()
        finally:
            self.events.append(("answered", what))
        return {}


def test_every_adoption_lookup_of_the_stack_is_sent_before_any_is_answered(registered):
    """Issue 22: the resource group, gallery and image definition lookups of a stack go out together, so a no-op
    preview or up waits for one round trip to ARM, not for one per adoptable resource (timing-independent: each
    answer waits until every lookup has been sent)."""
    dev = stack_images("dev")["ubuntu-2204"]
    second = copy.deepcopy(dev)
    second["template"]["properties"]["distribute"] = second["template"]["properties"]["distribute"][:1]
    second["template"]["properties"]["distribute"][0]["runOutputName"] = "b-sig"
    second["template"]["properties"]["distribute"][0]["galleryImageId"] += "-b"
    mocks = SlowLookups(parties=4)  # the group, the shared gallery, two image definitions
    run_stack({"a": dev, "b": second}, mocks=mocks)
    assert sorted(w for e, w in mocks.events if e == "sent") == sorted(
        ["rg-golden-images-dev", "gal_golden_dev", "ubuntu-2204", "ubuntu-2204-b"])
    assert [e for e, _ in mocks.events] == ["sent"] * 4 + ["answered"] * 4, mocks.events
    # Nothing found: nothing imported, and the declarations went on as before.
    assert all(not r["import"] for r in registered.values()) and "resource-group" in registered


def test_a_pipeline_alone_sends_its_gallery_and_definition_lookups_together():
    from components.declare.pipeline import ImagePipeline, ImagePipelineArgs
    from components.model.stack import parse_stack_config

    images = stack_images("dev")
    parsed = parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-test", "images": images})
    mocks = SlowLookups(parties=2)
    run_program(lambda: ImagePipeline("ubuntu-2204", ImagePipelineArgs(
        image=parsed.images["ubuntu-2204"], image_name="ubuntu-2204", resource_group_name="rg-test",
        subscription_id=SUB)), project="aib-images", stack="dev", config={}, mocks=mocks)
    assert [e for e, _ in mocks.events] == ["sent"] * 2 + ["answered"] * 2, mocks.events
