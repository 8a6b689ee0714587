"""ImagePipeline under mocks: children, parents, dependencies, options, secrets and content-hashed names."""

from __future__ import annotations

from typing import Any

import pytest

from components.providers.build_run import BuildBarrier
from components.declare.pipeline import TYPE_TOKEN, ImagePipeline, ImagePipelineArgs
from components.plan.roles import CONTRIBUTOR
from components.model.errors import SpecError
from components.model.stack import ImageConfig, parse_stack_config
from components.offline.program import is_secret, reveal
from components.offline.synth import SUBSCRIPTION_ID, AibMocks, MockRun
from tests.conftest import ROOT, kind_name, stack_images

SUB = SUBSCRIPTION_ID
RG = "rg-test"


def image_config(stack: str = "dev", edit=None) -> tuple[str, ImageConfig]:
    images = stack_images(stack)
    name = next(iter(images))
    if edit:
        edit(images[name])
    parsed = parse_stack_config({"location": "westeurope", "resourceGroupName": RG, "images": images})
    return name, parsed.images[name]


def pipeline_program(stack: str = "dev", edit=None, **kwargs):
    name, image = image_config(stack, edit)

    def program():
        return ImagePipeline(name, ImagePipelineArgs(image=image, image_name=name, resource_group_name=RG,
                                                     subscription_id=SUB, **kwargs))
    return program


def template_name(run) -> str:
    return run.inputs(f"{run.value.image_name}-template")["imageTemplateName"]


def one(run, prefix: str, type_suffix: str = "") -> dict:
    """The one registration whose logical name starts with `prefix` (names of per-scope kinds end in a hash)."""
    found = [r for r in run.registrations if r["name"].startswith(prefix) and r["type"].endswith(type_suffix)]
    assert len(found) == 1, (prefix, [r["name"] for r in found])
    return found[0]


def kinds(names) -> set[str]:
    """Logical names without their template revision, and with the trailing 8-hex-character hash of per-scope kinds
    replaced by `*`."""
    import re
    return {re.sub(r"-[0-9a-f]{8}(?=(-role)?$)", "-*", kind_name(n)) for n in names}


@pytest.mark.parametrize("stack, expected", [
    ("dev", {"ubuntu-2204-identity": "managedidentity:UserAssignedIdentity",
             "ubuntu-2204-staging": "resources:ResourceGroup",
             "ubuntu-2204-gallery-gal_golden_dev-*": "compute:Gallery",
             "ubuntu-2204-image-definition-gal_golden_dev-ubuntu-2204-*": "compute:GalleryImage",
             "ubuntu-2204-gallery-writer-*-role": "authorization:RoleDefinition",
             "ubuntu-2204-role-definitions-settle": "dynamic/aib:RoleSettle",
             "ubuntu-2204-gallery-writer-*": "authorization:RoleAssignment",
             "ubuntu-2204-staging-contributor-*": "authorization:RoleAssignment",
             "ubuntu-2204-scripts": "storage:StorageAccount",
             "ubuntu-2204-scripts-container": "storage:BlobContainer",
             "ubuntu-2204-scripts-blob-service": "storage:BlobServiceProperties",
             "ubuntu-2204-repo-files-reader": "authorization:RoleAssignment",
             "ubuntu-2204-repo-files-uploader": "authorization:RoleAssignment",
             "ubuntu-2204-file-scripts-linux-setup-sh": "dynamic/aib:ScriptBlob",
             "ubuntu-2204-file-files-linux-motd": "dynamic/aib:ScriptBlob",
             "ubuntu-2204-roles-settle": "dynamic/aib:RoleSettle",
             "ubuntu-2204-template": "virtualmachineimages:VirtualMachineImageTemplate",
             "ubuntu-2204-tags": "dynamic/aib:TemplateTags",
             "ubuntu-2204-run": "dynamic/aib:ImageBuildStart",
             "ubuntu-2204-build": "dynamic/aib:ImageBuild"}),
    ("prod", {"win2022-identity": "managedidentity:UserAssignedIdentity",
              "win2022-staging": "resources:ResourceGroup",
              "win2022-gallery-gal_golden_prod-*": "compute:Gallery",
              "win2022-image-definition-gal_golden_prod-win2022-*": "compute:GalleryImage",
              "win2022-gallery-writer-*-role": "authorization:RoleDefinition",
              "win2022-gallery-writer-*": "authorization:RoleAssignment",
              "win2022-vnet-reader-*-role": "authorization:RoleDefinition",
              "win2022-vnet-reader-*": "authorization:RoleAssignment",
              "win2022-subnet-join-*-role": "authorization:RoleDefinition",
              "win2022-subnet-join-*": "authorization:RoleAssignment",
              "win2022-role-definitions-settle": "dynamic/aib:RoleSettle",
              "win2022-staging-contributor-*": "authorization:RoleAssignment",
              "win2022-runner-role": "authorization:RoleDefinition",
              "win2022-runner": "authorization:RoleAssignment",
              "win2022-roles-settle": "dynamic/aib:RoleSettle",
              "win2022-template": "virtualmachineimages:VirtualMachineImageTemplate",
              "win2022-tags": "dynamic/aib:TemplateTags",
              "win2022-run": "dynamic/aib:ImageBuildStart",
              "win2022-build": "dynamic/aib:ImageBuild"}),
])
def test_children_types_and_parent(run_pulumi, stack, expected):
    run = run_pulumi(pipeline_program(stack))
    component = run.named(run.value.image_name)
    assert component["type"] == TYPE_TOKEN and not component["custom"]
    children = {name: r["type"] for r in run.registrations if run.parent_name(r) == run.value.image_name
                for name in kinds([r["name"]])}
    assert set(children) == set(expected)
    for name, suffix in expected.items():
        assert children[name].endswith(suffix), (name, children[name])


def test_template_depends_on_every_role_assignment(run_pulumi):
    run = run_pulumi(pipeline_program("prod"))
    template = run.named("win2022-template")
    deps = run.dependency_names(template)
    identity_roles = {r["name"] for r in run.of_type("authorization:RoleAssignment") if r["name"] != "win2022-runner"}
    assert kinds(identity_roles) == {"win2022-gallery-writer-*", "win2022-vnet-reader-*", "win2022-subnet-join-*",
                                     "win2022-staging-contributor-*"}
    assert kinds(identity_roles) <= kinds(deps)
    definition = one(run, "win2022-image-definition-")["name"]
    assert {"win2022-identity", "win2022-staging", definition, "win2022-roles-settle"} <= deps
    # The settle waits for every identity role (the runner's is on the template, so it comes after it).
    assert identity_roles <= run.dependency_names(run.named("win2022-roles-settle"))
    # The runner role is on the template, so it comes after it.
    assert "win2022-template" in run.dependency_names(run.named("win2022-runner"))


def test_assignments_wait_for_the_scopes_they_name(run_pulumi):
    run = run_pulumi(pipeline_program("dev"))
    writer = one(run, "ubuntu-2204-gallery-writer-", "RoleAssignment")
    assert one(run, "ubuntu-2204-image-definition-")["name"] in run.dependency_names(writer)
    contributor = one(run, "ubuntu-2204-staging-contributor-", "RoleAssignment")
    assert "ubuntu-2204-staging" in run.dependency_names(contributor)


def test_custom_role_assignments_wait_for_their_definitions_to_replicate(run_pulumi):
    """RoleDefinitionDoesNotExist right after a definition is created: its assignments wait on a settle resource
    that completes once the definitions have had time to replicate (`roles-settle` pattern)."""
    run = run_pulumi(pipeline_program("prod"))
    settle = run.named("win2022-role-definitions-settle")
    definitions = {r["name"] for r in run.of_type("authorization:RoleDefinition")}
    assert definitions and definitions <= run.dependency_names(settle)
    for assignment in run.of_type("authorization:RoleAssignment"):
        custom = not assignment["inputs"]["roleDefinitionId"].endswith(CONTRIBUTOR)
        assert ("win2022-role-definitions-settle" in run.dependency_names(assignment)) == custom, assignment["name"]


def test_only_the_hashed_name_decides_template_replacement(run_pulumi):
    """No replace_on_changes: a content change changes imageTemplateName (a path parameter, so azure-native replaces
    by itself); every other input is ignored, so no diff can ask for an in-place PUT or a same-name replacement."""
    run = run_pulumi(pipeline_program("dev"))
    template = run.named("ubuntu-2204-template")
    options = template["options"]
    assert options["replace_on_changes"] == []
    assert options["delete_before_replace"] is False
    assert set(options["ignore_changes"]) >= set(template["inputs"]) - {"imageTemplateName", "resourceGroupName"}
    assert not {"imageTemplateName", "resourceGroupName"} & set(options["ignore_changes"])
    assert {"customize", "distribute", "source", "tags", "vmProfile", "identity"} <= set(options["ignore_changes"])


def _secret_around(value, key: str) -> bool:
    """Whether every `key` in `value` sits inside a secret (the SDK may mark the enclosing list secret)."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return all(_secret_around(v, key) if k != key else is_secret(v) for k, v in value.items()
                   if isinstance(v, (dict, list)) or k == key)
    if isinstance(value, list):
        return all(_secret_around(v, key) for v in value)
    return True


def test_inline_commands_are_secret(run_pulumi):
    run = run_pulumi(pipeline_program("dev"))
    template = run.named("ubuntu-2204-template")
    assert "inline" in str(reveal(template["inputs"]["customize"]))
    assert _secret_around(template["inputs"]["customize"], "inline")
    assert _secret_around(template["inputs"]["validate"], "inline")
    assert not is_secret(template["inputs"]["source"]) and not is_secret(template["inputs"]["distribute"])
    assert set(template["options"]["additional_secret_outputs"]) == {"customize", "validate"}


def test_secret_outputs_are_always_set(run_pulumi):
    run = run_pulumi(pipeline_program("prod"))
    template = run.named("win2022-template")
    assert not is_secret(template["inputs"]["customize"])
    assert template["options"]["additional_secret_outputs"] == ["customize", "validate"]


def test_secret_config_keeps_uris_secret(run_pulumi):
    """Config set with `--secret` (a SAS in a scriptUri) stays secret in the template's inputs and state."""
    def sas(image):
        image["template"]["properties"]["customize"][0] = {
            "type": "Shell", "name": "sas", "scriptUri": "https://st.blob.core.windows.net/c/x.sh?sig=SECRET"}
    run = run_pulumi(pipeline_program("dev", edit=sas, secret_config=True))
    template = run.named("ubuntu-2204-template")
    for key in ("customize", "validate", "distribute"):
        assert is_secret(template["inputs"][key]), key
    assert "sig=SECRET" in str(reveal(template["inputs"]["customize"]))
    assert set(template["options"]["additional_secret_outputs"]) == {"customize", "validate", "distribute"}


def test_gallery_and_definition_are_retained_on_delete(run_pulumi):
    run = run_pulumi(pipeline_program("dev"))
    gallery, definition = one(run, "ubuntu-2204-gallery-gal"), one(run, "ubuntu-2204-image-definition-")
    for reg in (gallery, definition):
        assert reg["options"]["retain_on_delete"] is True
        assert reg["options"]["protect"] is False
    inputs = reveal(definition["inputs"])
    assert inputs["osType"] == "Linux" and inputs["hyperVGeneration"] == "V2"
    assert inputs["features"] == [{"name": "SecurityType", "value": "TrustedLaunchSupported"}]
    assert inputs["identifier"] == {"publisher": "contoso", "offer": "ubuntu-2204-golden", "sku": "dev"}


def test_retention_can_be_turned_off(run_pulumi):
    run = run_pulumi(pipeline_program("dev", retain_gallery_on_delete=False))
    assert one(run, "ubuntu-2204-gallery-gal")["options"]["retain_on_delete"] is False


def test_retention_follows_the_config(run_pulumi):
    run = run_pulumi(pipeline_program("dev", edit=lambda i: i["gallery"].update(retainOnDelete=False)))
    for prefix in ("ubuntu-2204-gallery-gal", "ubuntu-2204-image-definition-"):
        assert one(run, prefix)["options"]["retain_on_delete"] is False


def test_existing_gallery_is_not_declared(run_pulumi):
    run = run_pulumi(pipeline_program("dev", edit=lambda i: i["gallery"].update(create=False)))
    assert not run.of_type("compute:Gallery") and not run.of_type("compute:GalleryImage")
    writer = one(run, "ubuntu-2204-gallery-writer-", "RoleAssignment")
    assert reveal(writer["inputs"])["scope"].endswith("/galleries/gal_golden_dev/images/ubuntu-2204")


def test_existing_identity_is_used_and_granted(run_pulumi):
    identity = (f"/subscriptions/{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities/id-shared")
    run = run_pulumi(pipeline_program("dev", edit=lambda i: i.update(identityId=identity)))
    assert not run.of_type("managedidentity:UserAssignedIdentity")
    template = run.inputs("ubuntu-2204-template")
    assert template["identity"]["userAssignedIdentities"] == [identity]
    writer = one(run, "ubuntu-2204-gallery-writer-", "RoleAssignment")
    assert reveal(writer["inputs"])["principalId"]  # from the getUserAssignedIdentity invoke


def test_existing_identity_in_another_subscription_is_looked_up_there(run_pulumi):
    other = "11111111-2222-3333-4444-555555555555"
    identity = (f"/subscriptions/{other}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities/id-shared")
    run = run_pulumi(pipeline_program("dev", edit=lambda i: i.update(identityId=identity)))
    [provider] = run.of_type("providers:azure-native")
    assert provider["inputs"]["subscriptionId"] == other
    assert run.inputs("ubuntu-2204-template")["identity"]["userAssignedIdentities"] == [identity]


def test_service_staging_grants_no_contributor(run_pulumi):
    run = run_pulumi(pipeline_program("dev", edit=lambda i: i.update(staging="service")))
    assert not [r for r in run.of_type("resources:ResourceGroup")]
    assert all(CONTRIBUTOR not in run.inputs(r["name"])["roleDefinitionId"]
               for r in run.of_type("authorization:RoleAssignment"))
    assert "stagingResourceGroup" not in run.inputs("ubuntu-2204-template")


def test_existing_staging_group_gets_contributor(run_pulumi):
    staging = f"/subscriptions/{SUB}/resourceGroups/rg-my-staging"
    run = run_pulumi(pipeline_program(
        "dev", edit=lambda i: i["template"]["properties"].update(stagingResourceGroup=staging)))
    assert not run.of_type("resources:ResourceGroup")
    contributor = reveal(one(run, "ubuntu-2204-staging-contributor-", "RoleAssignment")["inputs"])
    assert contributor["scope"] == staging and contributor["roleDefinitionId"].endswith(CONTRIBUTOR)
    assert run.inputs("ubuntu-2204-template")["stagingResourceGroup"] == staging


def test_trigger_and_no_build(run_pulumi):
    def edit(image):
        image.update(sourceImageTrigger=True, build=False)
    run = run_pulumi(pipeline_program("dev", edit=edit))
    trigger = run.inputs("ubuntu-2204-trigger")
    assert trigger["kind"] == "SourceImage" and trigger["imageTemplateName"] == template_name(run)
    assert not run.of_type("ImageBuildStart") and not run.of_type("ImageBuild")


def test_build_inputs(run_pulumi):
    run = run_pulumi(pipeline_program("dev"))
    build = run.inputs("ubuntu-2204-build")
    assert build["image_template_name"] == template_name(run)
    assert build["run_output_names"] == ["ubuntu-2204-sig", "ubuntu-2204-vhd"]
    assert build["vhd_run_outputs"] == ["ubuntu-2204-vhd"]
    assert build["rebuild_trigger"] == "2026-01"
    assert build["build_timeout_minutes"] == 90
    assert build["api_version"] == "2024-02-01"


def test_every_wait_follows_every_start(run_pulumi):
    dev_name, dev = image_config("dev")
    prod_name, prod = image_config("prod")

    def program():
        with BuildBarrier() as barrier:
            return [ImagePipeline(n, ImagePipelineArgs(image=i, image_name=n, resource_group_name=RG,
                                                       subscription_id=SUB, build_barrier=barrier))
                    for n, i in ((dev_name, dev), (prod_name, prod))]
    run = run_pulumi(program)
    starts = {kind_name(r["name"]) for r in run.of_type("ImageBuildStart")}
    assert starts == {"ubuntu-2204-run", "win2022-run"}
    # One marker after every start, every wait after the marker: n + n edges rather than n x n.
    assert starts <= run.dependency_names(run.named("builds-started"))
    for wait in run.of_type("aib:ImageBuild"):
        assert "builds-started" in run.dependency_names(wait), wait["name"]


def test_names_are_stable(run_pulumi):
    first = run_pulumi(pipeline_program("dev"))
    second = run_pulumi(pipeline_program("dev"))
    names = lambda run: sorted((r["name"], str(r["inputs"].get("imageTemplateName")),  # noqa: E731
                                str(r["inputs"].get("roleAssignmentName")), str(r["inputs"].get("resourceGroupName")),
                                str(r["inputs"].get("roleDefinitionId"))) for r in run.registrations)
    assert names(first) == names(second)
    assert template_name(first) == first.value.image_name + "-" + first.value.template_hash[:10]


def test_changed_customizer_is_a_new_template_and_staging_group(run_pulumi):
    before = run_pulumi(pipeline_program("dev"))

    def edit(image):
        image["template"]["properties"]["customize"][1]["inline"].append("sudo apt-get install -y curl")
    after = run_pulumi(pipeline_program("dev", edit=edit))
    assert template_name(after) != template_name(before)
    assert after.inputs("ubuntu-2204-staging")["resourceGroupName"] != \
        before.inputs("ubuntu-2204-staging")["resourceGroupName"]


def test_tag_change_keeps_the_template_name(run_pulumi):
    before = run_pulumi(pipeline_program("dev"))
    after = run_pulumi(pipeline_program("dev", edit=lambda i: i["template"]["tags"].update(costCenter="42")))
    assert template_name(after) == template_name(before)
    assert after.inputs("ubuntu-2204-tags")["tags"]["costCenter"] == "42"
    assert after.inputs("ubuntu-2204-tags")["image_template_name"] == template_name(after)


def test_template_name_fits_64_characters(run_pulumi):
    long = "img-" + "x" * 60
    name, image = image_config("dev")

    def program():
        return ImagePipeline(long, ImagePipelineArgs(image=image, image_name=long, resource_group_name=RG,
                                                     subscription_id=SUB))
    run = run_pulumi(program)
    assert len(run.inputs(f"{long}-template")["imageTemplateName"]) == 64


def test_api_2025_fields_are_declared_as_a_versioned_template_at_that_version(run_pulumi):
    _, image = image_config("dev", edit=lambda i: i["template"]["properties"].update(
        additionalDataDisks=[{"sizeGB": 32}]))

    def program():
        ImagePipeline("x", ImagePipelineArgs(image=image, resource_group_name=RG, subscription_id=SUB))
    run = run_pulumi(program)
    [template] = run.of_type("dynamic/aib:VersionedTemplate")
    inputs = run.inputs(template["name"])
    assert inputs["api_version"] == "2025-10-01" and inputs["image_template_name"] == inputs["name"]
    assert is_secret(run.named(template["name"])["inputs"]["body"]), "the body holds the inline commands"
    assert inputs["body"]["properties"]["additionalDataDisks"] == [{"sizeGB": 32}]
    assert inputs["body"]["identity"]["type"] == "UserAssigned" and set(inputs["body"]) == {
        "location", "tags", "identity", "properties"}
    assert run.of_type("azure-native:virtualmachineimages:VirtualMachineImageTemplate") == []


def test_unknown_os_with_gallery_target_fails_before_resources(run_pulumi):
    def edit(image):
        image["template"]["properties"]["source"] = {
            "type": "ManagedImage",
            "imageId": f"/subscriptions/{SUB}/resourceGroups/rg-src/providers/Microsoft.Compute/images/base"}
        image["template"]["properties"]["customize"] = [{"type": "File", "sourceUri": "https://x.example/f",
                                                         "destination": "/tmp/f"}]
        image["template"]["properties"]["validate"] = None
    # A stack refuses it when it parses its config, before declaring anything (test_plan_declare.py)...
    with pytest.raises(SpecError, match=r"images\.ubuntu-2204\.template\.osType"):
        image_config("dev", edit)
    # ...and a pipeline used alone, given an ImageConfig built in code, before any resource.
    images = stack_images("dev")
    edit(images["ubuntu-2204"])
    images["ubuntu-2204"]["template"]["location"] = "westeurope"
    image = ImageConfig.model_validate(images["ubuntu-2204"])

    def program():
        ImagePipeline("x", ImagePipelineArgs(image=image, resource_group_name=RG, subscription_id=SUB))
    with pytest.raises(SpecError, match="osType"):
        run_pulumi(program)


def test_component_outputs(run_pulumi):
    import pulumi

    # The build's run (its state and the version it made) is the mock's invention: an unusual one, to see it come out
    # of the component's outputs rather than a constant.
    run = run_pulumi(pipeline_program("dev"), mocks=AibMocks(run=MockRun(run_state="PartiallySucceeded",
                                                                          version="7.3.9")))
    pipeline: ImagePipeline = run.value

    def resolve(output) -> Any:
        from pulumi.runtime.sync_await import _sync_await
        return _sync_await(pulumi.Output.from_input(output).future())
    assert resolve(pipeline.template_name) == template_name(run)
    assert resolve(pipeline.image_definition_id).endswith("/galleries/gal_golden_dev/images/ubuntu-2204")
    assert resolve(pipeline.image_version_id).endswith("/images/ubuntu-2204/versions/7.3.9")
    assert resolve(pipeline.run_state) == "PartiallySucceeded"
    assert resolve(pipeline.staging_resource_group).startswith(f"/subscriptions/{SUB}/resourceGroups/rg-aib-staging-")
    assert resolve(pipeline.identity_id).endswith("/userAssignedIdentities/id-aib-ubuntu-2204")


def test_the_deployers_upload_role_says_what_the_deployer_is(run_pulumi, monkeypatch):
    """The uploader assignment is the deployer's own: a service principal in CI (azure-native's ARM_* settings), a
    user otherwise; Azure refuses an assignment whose principalType does not match its principal."""
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    _, image = image_config("dev")

    def program():
        ImagePipeline("x", ImagePipelineArgs(image=image, resource_group_name=RG, subscription_id=SUB,
                                             project_dir=str(ROOT)))
    run = run_pulumi(program)
    [uploader] = [r for r in run.of_type("authorization:RoleAssignment") if r["name"].endswith("-repo-files-uploader")]
    assert run.inputs(uploader["name"])["principalType"] == "ServicePrincipal"
    assert uploader["options"]["delete_before_replace"] is True
    # A laptop (User) then CI (ServicePrincipal): a new assignment, never an in-place PUT of the type.
    assert uploader["options"]["replace_on_changes"] == ["principalType"]


def test_scripts_network_setting_denies_public_access_to_the_created_account(run_pulumi):
    subnet = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/build"
    _, image = image_config("dev", edit=lambda i: i.update(
        scriptsNetwork={"denyPublic": True, "subnetIds": [subnet], "ipRanges": ["203.0.113.7"]}))

    def program():
        ImagePipeline("x", ImagePipelineArgs(image=image, resource_group_name=RG, subscription_id=SUB,
                                             project_dir=str(ROOT)))
    run = run_pulumi(program)
    [account] = run.of_type("storage:StorageAccount")
    rules = run.inputs(account["name"])["networkRuleSet"]
    assert rules["defaultAction"] == "Deny" and rules["bypass"] == "AzureServices"
    assert [r["virtualNetworkResourceId"] for r in rules["virtualNetworkRules"]] == [subnet]
    assert [r["iPAddressOrRange"] for r in rules["ipRules"]] == ["203.0.113.7"]


def test_a_lookup_after_the_engine_ended_the_update_stops_the_program():
    """Once another resource failed, the engine shuts its monitor down: a lookup that went on ("declaring it as new")
    left the program blocked on its next call, and the failed `up` hung (examples/platform, 5 minutes and more)."""
    from components.declare.adoption import adopted

    def gone():
        raise Exception("invoke of azure-native:compute:getGallery failed: Resource monitor has terminated, "
                        "shutting down")

    def missing():
        raise Exception("request failed /x: Status=404 Code=\"ResourceNotFound\" Message=\"not found\"")

    with pytest.raises(Exception, match="Resource monitor has terminated"):
        adopted("gallery x", gone)
    assert adopted("gallery x", missing) is None


def test_lookups_sent_together_are_judged_in_order_as_a_single_lookup_is(monkeypatch):
    """`look_up_existing` keeps `adopted`'s judgement of each answer: found (with an id) is adopted, 404 is absent
    without a word, any other error is a warning naming the resource (in the order given), and a lookup that found
    the engine gone stops the program."""
    from components.declare import adoption
    from components.plan.stack import ResourceGroupPlan

    def group(name: str) -> ResourceGroupPlan:
        return ResourceGroupPlan("rg", name, f"/subscriptions/{SUB}/resourceGroups/{name}", "westeurope", False)

    class Found:
        id = f"/subscriptions/{SUB}/resourceGroups/found"

    answers: dict[str, Any] = {
        "found": Found(), "no-id": type("NoId", (), {"id": None})(),
        "missing": Exception('request failed: Status=404 Code="ResourceGroupNotFound"'),
        "denied-1": Exception("Status=403 AuthorizationFailed"), "denied-2": Exception("Status=403 Forbidden"),
        "gone": Exception("invoke failed: Resource monitor has terminated, shutting down")}

    async def lookup(plan):
        if isinstance(answers[plan.name], Exception):
            raise answers[plan.name]
        return answers[plan.name]

    warnings: list[str] = []
    monkeypatch.setattr(adoption, "_lookup", lookup)
    monkeypatch.setattr(adoption.pulumi.log, "warn", warnings.append)
    plans = [group(n) for n in ("denied-2", "found", "missing", "no-id", "denied-1")]
    found = adoption.look_up_existing(plans)
    assert found == {plans[0].id: None, plans[1].id: answers["found"], plans[2].id: None, plans[3].id: None,
                     plans[4].id: None}
    assert [w.split(":")[0] for w in warnings] == [f"resource group {plans[0].id}", f"resource group {plans[4].id}"]
    assert all("declaring it as new" in w for w in warnings)
    with pytest.raises(Exception, match="Resource monitor has terminated"):
        adoption.look_up_existing([group("found"), group("gone")])
    assert adoption.look_up_existing([]) == {}
