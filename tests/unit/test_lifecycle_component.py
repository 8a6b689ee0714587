"""The `lifecycle` config section (validation with paths) and the component's `ImageVersionLifecycle`, under mocks."""

from __future__ import annotations

import json
import runpy
import sys

import pytest
import yaml

from components.model.errors import SpecError
from components.model.stack import parse_stack_config
from components.offline.program import pulumi_config, reveal
from components.offline.stack_files import stack_config
from components.offline.synth import AibMocks, MockRun, run_program, synth
from tests.conftest import ROOT, stack_images
from tests.unit.test_pipeline import pipeline_program

LIFECYCLE_TYPE = "pulumi-python:dynamic/aib:ImageVersionLifecycle"
DEV_VERSION = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-golden-images-dev/providers/"
               "Microsoft.Compute/galleries/gal_golden_dev/images/ubuntu-2204/versions/1.0.3")


def promotable(image: dict) -> None:
    """Dev's image, built out of `latest` so that it can be promoted after its validators pass."""
    image["template"]["properties"]["distribute"][0]["excludeFromLatest"] = True
    image["lifecycle"] = {"retention": {"keepLatest": 3, "deleteOlderThanDays": 180},
                          "promotion": {"mode": "afterValidation"}}


def issues_for(lifecycle: dict, edit=None) -> list[str]:
    images = stack_images("dev")
    image = images["ubuntu-2204"]
    image["lifecycle"] = lifecycle
    if edit:
        edit(image)
    with pytest.raises(SpecError) as caught:
        parse_stack_config({"location": "westeurope", "images": images})
    return [str(i) for i in caught.value.issues]


# ---- config validation ----------------------------------------------------------------------------------------

def test_after_validation_needs_an_excluded_target_and_validators_and_a_build():
    def strip(image):
        del image["template"]["properties"]["validate"]
        image["build"] = False

    issues = issues_for({"promotion": {"mode": "afterValidation"}}, strip)
    assert len(issues) == 3, issues
    assert all(i.startswith("images.ubuntu-2204.lifecycle.promotion.mode: afterValidation") for i in issues)
    assert any("excludeFromLatest" in i for i in issues)
    assert any("inVMValidations" in i for i in issues)
    assert any("build is false" in i for i in issues)


@pytest.mark.parametrize("lifecycle, path, words", [
    ({"retention": {"keepLatest": 0}}, "images.ubuntu-2204.lifecycle.retention.keepLatest", "greater than or equal"),
    ({"retention": {}}, "images.ubuntu-2204.lifecycle.retention.keepLatest", "required"),
    ({"retention": {"keepLatest": 2, "deleteOlderThanDays": 30, "endOfLifeDays": 60}},
     "images.ubuntu-2204.lifecycle.retention.endOfLifeDays", "deleteOlderThanDays (30)"),
    ({"retention": {"keepLatest": 2, "pinTag": "=x"}}, "images.ubuntu-2204.lifecycle.retention.pinTag", ""),
    ({"promotion": {"mode": "manual", "version": DEV_VERSION, "fromStack": "org/aib-images/dev"}},
     "images.ubuntu-2204.lifecycle.promotion.version", "only one of [version], [fromStack]"),
    ({"promotion": {"mode": "manual", "version": "1.0.3"}}, "images.ubuntu-2204.lifecycle.promotion.version", ""),
    ({"promotion": {"mode": "manual", "fromOutput": "x.y"}}, "images.ubuntu-2204.lifecycle.promotion.fromOutput",
     "needs fromStack"),
    ({"promotion": {"mode": "sometimes"}}, "images.ubuntu-2204.lifecycle.promotion.mode", ""),
    ({"retention": {"keepLatest": 2}, "dryrun": True}, "images.ubuntu-2204.lifecycle.dryrun", ""),
])
def test_bad_lifecycle_config_names_the_path(lifecycle, path, words):
    issues = issues_for(lifecycle)
    assert any(i.startswith(path + ":") and words in i for i in issues), issues


def test_valid_lifecycle_config_parses_with_defaults():
    images = stack_images("dev")
    promotable(images["ubuntu-2204"])
    life = parse_stack_config({"location": "westeurope", "images": images}).images["ubuntu-2204"].lifecycle
    assert life is not None and life.retention is not None and life.promotion is not None
    assert (life.retention.keep_latest, life.retention.delete_older_than_days, life.retention.pin_tag) == \
        (3, 180, "keep=true")
    assert life.dry_run is False and life.promotion.mode == "afterValidation"


# ---- the component --------------------------------------------------------------------------------------------

def test_no_lifecycle_section_declares_no_lifecycle_resource(run_pulumi):
    run = run_pulumi(pipeline_program("dev"))
    assert run.of_type("dynamic/aib:ImageVersionLifecycle") == []


def test_lifecycle_runs_after_the_build_with_the_policy(run_pulumi):
    # The build's answer is the test's own (its version and state), to see the lifecycle wired to the build.
    built = MockRun(run_state="Succeeded", version="4.5.6")
    run = run_pulumi(pipeline_program("dev", edit=promotable), mocks=AibMocks(run=built))
    [life] = run.of_type("dynamic/aib:ImageVersionLifecycle")
    assert life["name"] == "ubuntu-2204-lifecycle" and run.parent_name(life) == "ubuntu-2204"
    dependencies = run.dependency_names(life)
    assert "ubuntu-2204-build" in dependencies
    assert any("image-definition-gal_golden_dev-ubuntu-2204-" in d for d in dependencies), dependencies
    inputs = run.inputs("ubuntu-2204-lifecycle")
    assert inputs["image_definition_id"].endswith("/galleries/gal_golden_dev/images/ubuntu-2204")
    assert inputs["retention"] == {"keep_latest": 3, "delete_older_than_days": 180,
                                   "pin_tag": "keep=true"}
    assert inputs["promotion_mode"] == "afterValidation" and inputs["validated"] is True
    assert inputs["just_built_version_id"].endswith(f"/images/ubuntu-2204/versions/{built.version}")
    assert inputs["build_run_state"] == built.run_state and inputs["dry_run"] is False
    assert inputs.get("promote_version_id") is None


def test_manual_promotion_passes_the_named_version_and_a_stack_reference_overrides_it(run_pulumi):
    def manual(image):
        image["lifecycle"] = {"promotion": {"mode": "manual", "version": DEV_VERSION}}

    run = run_pulumi(pipeline_program("dev", edit=manual))
    assert run.inputs("ubuntu-2204-lifecycle")["promote_version_id"] == DEV_VERSION
    other = DEV_VERSION.replace("1.0.3", "1.0.4")
    run = run_pulumi(pipeline_program("dev", edit=manual, promote_version_id=other))
    assert run.inputs("ubuntu-2204-lifecycle")["promote_version_id"] == other


def test_direct_image_config_is_checked_too(run_pulumi):
    from components.declare.pipeline import ImagePipeline, ImagePipelineArgs
    from components.model.stack import ImageConfig

    image = stack_images("dev")["ubuntu-2204"]
    image["template"]["location"] = "westeurope"
    image["lifecycle"] = {"promotion": {"mode": "afterValidation"}}  # the target does not set excludeFromLatest
    config = ImageConfig.model_validate(image)
    with pytest.raises(Exception) as caught:
        run_pulumi(lambda: ImagePipeline("img", ImagePipelineArgs(image=config, resource_group_name="rg",
                                                                  subscription_id="sub")))
    assert "lifecycle.promotion.mode" in str(caught.value) and "excludeFromLatest" in str(caught.value)


def test_synth_reports_a_dry_run_in_the_stack_outputs(tmp_path):
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    promotable(doc["config"]["aib-images:images"]["ubuntu-2204"])
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    result = synth("dev", project_dir=ROOT, config_file=stack_file, mocks=AibMocks(run=MockRun(version="2.0.1")))
    report = result["outputs"]["ubuntu-2204"]["lifecycle"]
    assert report["dryRun"] is True and report["deleted"] == [] and report["excluded"] == []
    assert report["kept"] == ["2.0.1"] and report["promoted"][0].endswith("/versions/2.0.1")
    assert any("synth" in n for n in report["notes"])
    # Without the section, the stack outputs carry no lifecycle key at all.
    assert "lifecycle" not in synth("dev", project_dir=ROOT)["outputs"]["ubuntu-2204"]
    assert json.dumps(report)  # plain JSON, as `pulumi stack output` prints it


class _DevStackMocks(AibMocks):
    """Offline mocks where the stack reference `contoso/aib-images/dev` exports dev's image version, its definition
    and whether it passed validation (what `__main__.exports` writes per image)."""

    def __init__(self, exported: dict) -> None:
        super().__init__()
        self.exported = exported
        self.references: list[str] = []

    def new_resource(self, args):
        if args.typ == "pulumi:pulumi:StackReference":
            self.references.append(args.inputs["name"])
            return args.resource_id, {**dict(args.inputs), "outputs": {"ubuntu-2204": self.exported},
                                      "secret_output_names": []}
        return super().new_resource(args)


def _prod_promoting_from_dev(from_output: str, exported: dict):
    """prod's stack program offline, its win2022 image promoting what dev exports; (lifecycle inputs, report)."""
    project, config, _ = stack_config(ROOT, "prod")
    image = config["aib-images:images"]["win2022"]
    image["lifecycle"] = {"promotion": {"mode": "manual", "fromStack": "contoso/aib-images/dev",
                                        "fromOutput": from_output}}
    flat, secrets = pulumi_config(project, config)
    mocks = _DevStackMocks(exported)
    sys.path.insert(0, str(ROOT))
    try:
        monitor, _ = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
                                 project=project, stack="prod", config=flat, secret_keys=secrets, mocks=mocks)
    finally:
        sys.path.remove(str(ROOT))
    assert mocks.references == ["contoso/aib-images/dev"]
    [life] = [r for r in monitor.registrations if r["type"] == LIFECYCLE_TYPE]
    return reveal(life["inputs"]), monitor.stack_outputs["win2022"]["lifecycle"], monitor.stack_outputs




@pytest.mark.parametrize("from_output, exported, promoted", [
    # dev built the version into prod's definition and validated it: promoted
    ("ubuntu-2204.imageVersionId", {"imageVersionId": "PROD/versions/1.0.3", "imageDefinitionId": "PROD",
                                    "validated": True}, True),
    # not validated there
    ("ubuntu-2204.imageVersionId", {"imageVersionId": "PROD/versions/1.0.3", "imageDefinitionId": "PROD",
                                    "validated": False}, False),
    # a version of dev's own definition: promoting it would change nothing in prod's
    ("ubuntu-2204.imageVersionId", {"imageVersionId": DEV_VERSION, "imageDefinitionId": DEV_VERSION.split(
        "/versions/")[0], "validated": True}, False),
    # a wrong output name promotes nothing (and refuses nothing)
    ("ubuntu-2204.missing", {"imageVersionId": DEV_VERSION}, None),
])
def test_prod_promotes_only_a_validated_version_of_its_own_definition(from_output, exported, promoted):
    probe, _, _ = _prod_promoting_from_dev("ubuntu-2204.missing", {})
    definition = probe["image_definition_id"]
    exported = {k: v.replace("PROD", definition) if isinstance(v, str) else v for k, v in exported.items()}
    inputs, report, _ = _prod_promoting_from_dev(from_output, exported)
    record = inputs["promote_version_id"]
    assert record["stack"] == "contoso/aib-images/dev" and record["output"] == from_output
    if promoted is None:
        assert record.get("version_id") is None and report["promoted"] == []
        return
    assert record["version_id"] == exported["imageVersionId"] and record["validated"] == exported["validated"]
    assert report["promoted"] == ([exported["imageVersionId"]] if promoted else []) and report["dryRun"] is True
    assert any(n.startswith("refused: ") for n in report["notes"]) == (not promoted)


def test_every_image_exports_its_definition_and_a_validated_flag():
    outputs = synth("dev", project_dir=ROOT)["outputs"]["ubuntu-2204"]
    assert outputs["imageDefinitionId"].endswith("/images/ubuntu-2204")
    assert outputs["validated"] is True  # the dev template runs in-VM validations and the mocked run Succeeded
