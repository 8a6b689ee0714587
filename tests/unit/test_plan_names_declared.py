"""The plan names everything the program declares, and a pipeline used alone is planned by the stack's planner.

`StackPlan.logical_names` is what the plan's uniqueness check (and `tests/property/test_plan_names.py`) sees; these
tests run the program under mocks and hold that list against what it registers, so a name invented while declaring
(not planned) fails here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from components.declare.pipeline import ImagePipeline, ImagePipelineArgs
from components.model.errors import SpecError
from components.model.stack import ImageConfig, config_from_stack_file, parse_stack_config
from components.offline.synth import SUBSCRIPTION_ID, synth
from components.plan.roles import PRINCIPAL_TYPE, USER
from components.plan.stack import plan_pipeline, plan_stack
from tests.conftest import ROOT, stack_images

SUB = SUBSCRIPTION_ID
OTHER_SUB = "11111111-1111-1111-1111-111111111111"
IDENTITY = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stscripts"
STACK_OWN = {"aib-dynamic-resources", "builds-started"}
"""What the stack program registers beside its plan: the dynamic resources' provider and the build barrier."""


def stack_doc(stack: str) -> dict:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())


def many_kinds() -> dict:
    """The dev stack with images on a shared identity in another subscription (stack-level grants and identity
    providers), a caller-named scripts account, a runner, a trigger, a lifecycle, a second gallery target, service
    staging and a build subnet: every kind of name a pipeline declares."""
    doc = stack_doc("dev")
    base = doc["config"]["aib-images:images"]["ubuntu-2204"]
    shared = copy.deepcopy(base)
    shared.update(identityId=IDENTITY, scriptsStorageAccountId=ACCOUNT, sourceImageTrigger=True,
                  runnerPrincipalId="22222222-2222-2222-2222-222222222222", lifecycle={"retention": {"keepLatest": 3}})
    props = shared["template"]["properties"]
    props["vmProfile"]["userAssignedIdentities"] = [IDENTITY + "-vm"]
    props["customize"][0]["scriptUri"] = "https://stscripts.blob.core.windows.net/linux/baseline.sh"
    other = copy.deepcopy(shared)
    target = other["template"]["properties"]["distribute"][0]
    target.update(galleryImageId=target["galleryImageId"].rsplit("/", 1)[0] + "/other", runOutputName="other-sig")
    other.pop("scriptsStorageAccountId")
    other["scriptsNetwork"] = {"denyPublic": True, "ipRanges": ["203.0.113.7"]}
    service = copy.deepcopy(base)
    service["staging"] = "service"
    service["template"]["properties"]["vmProfile"]["vnetConfig"] = {
        "subnetId": f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}
    promoted = {}
    for key in ("promo-d", "promo-e"):  # two images promoting what one other stack exports: one StackReference
        image = promoted[key] = copy.deepcopy(base)
        image["lifecycle"] = {"promotion": {"mode": "manual", "fromStack": "org/aib-images/prod"}}
        target = image["template"]["properties"]["distribute"][0]
        target.update(excludeFromLatest=True, galleryImageId=f"{target['galleryImageId']}-{key}")
    doc["config"]["aib-images:images"] = {"ubuntu-2204": base, "shared-a": shared, "shared-b": other, "svc": service,
                                          **promoted}
    return doc


def test_images_reading_one_stack_share_one_stack_reference():
    doc = many_kinds()
    stack = parse_stack_config(config_from_stack_file(doc, "aib-images"), project_dir=ROOT)
    plan = plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="check")
    assert [n for kind, n in plan.logical_names() if kind == "stack-reference"] == ["promote-from-org-aib-images-prod"]
    assert {i.promotion_source.output for i in plan.images.values() if i.promotion_source} == {
        "promo-d.imageVersionId", "promo-e.imageVersionId"}


@pytest.mark.parametrize("doc", [pytest.param(lambda: stack_doc("dev"), id="dev"),
                                 pytest.param(lambda: stack_doc("prod"), id="prod"),
                                 pytest.param(many_kinds, id="many-kinds")])
def test_the_plan_lists_every_name_the_stack_registers(doc, tmp_path: Path):
    doc = doc()
    stack_file = tmp_path / "Pulumi.check.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    registered = [r["name"] for r in synth("check", project_dir=ROOT, config_file=stack_file)["resources"]]
    stack = parse_stack_config(config_from_stack_file(doc, "aib-images"), project_dir=ROOT)
    plan = plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="check")
    listed = [name for _, name in plan.logical_names()]
    assert len(listed) == len(set(listed))
    assert set(registered) - set(listed) == STACK_OWN | set(stack.images)
    assert len(registered) == len(set(registered))


def test_a_pipeline_alone_registers_only_what_plan_pipeline_lists(run_pulumi):
    images = stack_images("dev")
    images["ubuntu-2204"].update(identityId=IDENTITY, sourceImageTrigger=True, lifecycle={"retention": {"keepLatest": 2}})
    images["ubuntu-2204"]["template"]["properties"]["vmProfile"]["userAssignedIdentities"] = [IDENTITY + "-vm"]
    image = parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-t", "images": images},
                               project_dir=ROOT).images["ubuntu-2204"]
    run = run_pulumi(lambda: ImagePipeline("web", ImagePipelineArgs(
        image=image, image_name="ubuntu", resource_group_name="rg-t", subscription_id=SUB, project_dir=str(ROOT))))
    plan, shared = plan_pipeline("web", image, subscription_id=SUB, resource_group="rg-t", project="aib-images",
                                 stack_name="test", image_name="ubuntu")
    listed = [name for _, name in (*plan.logical_names(), *shared.logical_names())]
    assert len(listed) == len(set(listed))
    assert {r["name"] for r in run.registrations} - set(listed) == {"web"}
    assert shared.identities and all(i.provider_name for i in shared.identities)  # another subscription


def test_a_pipeline_alone_is_planned_like_a_one_image_stack():
    """The same planner: a pipeline used alone names its own children exactly as a stack of that one image does;
    only what a stack shares (galleries, image definitions, existing identities' roles) becomes its child."""
    images = stack_images("dev")
    stack = parse_stack_config({"location": "westeurope", "resourceGroupName": "rg-t", "images": images},
                               project_dir=ROOT)
    in_stack = plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="dev")
    alone, shared = plan_pipeline("ubuntu-2204", stack.images["ubuntu-2204"], subscription_id=SUB,
                                  resource_group="rg-t", project="aib-images", stack_name="dev")
    assert alone.logical_names() == in_stack.images["ubuntu-2204"].logical_names()
    assert alone.template_name == in_stack.images["ubuntu-2204"].template_name
    assert alone.document == in_stack.images["ubuntu-2204"].document
    assert {n for _, n in shared.logical_names()} == {f"ubuntu-2204-{n}" for _, n in in_stack.shared.logical_names()}


def test_a_pipeline_alone_refuses_what_a_stack_refuses_before_declaring():
    """An `ImageConfig` built in code skipped the checks a stack makes when it parses its config: the planner makes
    them, so the pipeline is refused before it declares anything."""
    images = stack_images("dev")
    images["ubuntu-2204"]["template"]["properties"]["source"] = {
        "type": "ManagedImage",
        "imageId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/base"}
    images["ubuntu-2204"]["template"]["location"] = "westeurope"
    images["ubuntu-2204"]["template"]["properties"].pop("validate")
    images["ubuntu-2204"]["template"]["properties"]["customize"] = []  # a Shell step would tell Linux
    built = ImageConfig.model_validate(images["ubuntu-2204"])
    with pytest.raises(SpecError, match="osType"):
        plan_pipeline("ubuntu-2204", built, subscription_id=SUB, resource_group="rg-t", project="aib-images",
                      stack_name="dev")


def test_the_plan_reads_the_deployer_from_what_the_caller_passes(monkeypatch):
    """plan/ reads no environment: the stack program passes `os.environ`; a plan made elsewhere is not changed by
    the environment of the process that makes it."""
    monkeypatch.setenv("ARM_CLIENT_ID", "someone")
    stack = parse_stack_config({"location": "westeurope", "images": stack_images("dev")}, project_dir=ROOT)

    def deployer(env):
        plan = plan_stack(stack, subscription_id=SUB, project="aib-images", stack_name="dev", env=env)
        scripts = plan.images["ubuntu-2204"].scripts
        assert scripts is not None
        return scripts.deployer_principal_type

    assert deployer(None) == USER
    assert deployer({"ARM_CLIENT_ID": "someone"}) == PRINCIPAL_TYPE
