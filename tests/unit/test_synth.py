"""`synth`: runs the real stack program offline, repeatably, and refuses an invalid config before running it."""

from __future__ import annotations

import json
import shutil

import pytest

from components.model.errors import SpecError
from components.offline.program import SECRET
from components.offline.synth import MOCK_RUN, AibMocks, MockRun, format_text, synth
from tests.conftest import ROOT, kind_name


def names(result):
    return sorted((r["type"], r["name"], json.dumps(r["inputs"].get("imageTemplateName")),
                   json.dumps(r["inputs"].get("roleAssignmentName")), json.dumps(r["inputs"].get("resourceGroupName")))
                  for r in result["resources"])


def test_synth_is_repeatable_in_one_process():
    first = synth("dev", project_dir=ROOT)
    second = synth("dev", project_dir=ROOT)
    assert names(first) == names(second)
    assert first["templates"] == second["templates"]
    assert first["outputs"] == second["outputs"]


def test_result_shape_and_text():
    result = synth("dev", project_dir=ROOT)
    template = result["templates"]["ubuntu-2204"]
    assert template["type"] == "Microsoft.VirtualMachineImages/imageTemplates"
    assert template["name"].startswith("ubuntu-2204-")
    registered = {kind_name(r["name"]): r for r in result["resources"]}
    assert registered["ubuntu-2204-template"]["inputs"]["imageTemplateName"] == template["name"]
    assert registered["ubuntu-2204-template"]["parent"] == "ubuntu-2204"
    assert registered["resource-group"]["parent"] is None
    assert SECRET in json.dumps(registered["ubuntu-2204-template"]["inputs"])
    assert "__provider" not in registered["ubuntu-2204-run"]["inputs"]
    json.dumps(result)  # JSON-serialisable as returned
    outputs = result["outputs"]["ubuntu-2204"]
    assert outputs["templateName"] == template["name"]
    text = format_text(result)
    assert "aib:index:ImagePipeline  ubuntu-2204" in text
    assert f"imageTemplateName: \"{template['name']}\"" in text


@pytest.mark.parametrize("run", [MOCK_RUN, MockRun(run_state="PartiallySucceeded", version="7.3.9",
                                                   started_at="2031-05-05T05:05:05Z")], ids=["default", "varied"])
def test_the_stack_outputs_carry_the_build_result_whatever_the_mocks_answer(run):
    """The mocks invent a build's result (`MockRun`); the program wires its outputs from the build, so what comes out
    is what the build answered, and `validated` is derived from it (dev's template has in-VM validations)."""
    result = synth("dev", project_dir=ROOT, mocks=AibMocks(run=run))
    outputs = result["outputs"]["ubuntu-2204"]
    gallery = next(d for d in result["templates"]["ubuntu-2204"]["properties"]["distribute"]
                   if d["type"] == "SharedImage")
    assert outputs["runState"] == run.run_state
    assert outputs["validated"] is (run.run_state == "Succeeded")
    assert outputs["imageVersionId"] == f"{gallery['galleryImageId']}/versions/{run.version}"
    assert outputs["runOutputs"][gallery["runOutputName"]]["artifact_id"] == outputs["imageVersionId"]
    registered = {kind_name(r["name"]): r for r in result["resources"]}
    assert registered["ubuntu-2204-build"]["inputs"]["run_started_at"] == run.started_at, "the wait follows its start"


def test_invalid_config_is_a_spec_error(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "stacks").mkdir()
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace("destination: /tmp/motd",
                                                                     "destination: /etc/motd")
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text(text)
    with pytest.raises(SpecError, match=r"images\.ubuntu-2204\.template\.properties\.customize\[2\]\.destination"):
        synth("bad", project_dir=tmp_path)


def test_program_reports_spec_errors_without_traceback(run_pulumi):
    import runpy

    import pulumi

    config = {"aib-images:images": json.dumps({"x": {"template": {"location": "westeurope", "properties": {}}}})}
    with pytest.raises(pulumi.RunError, match=r"images\.x\.template\.properties\.source"):
        run_pulumi(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), config=config)


def test_config_file_overrides_the_stack_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    result = synth("render", project_dir=ROOT, config_file=path)
    assert set(result["templates"]) == {"win2022"}


def test_a_stack_using_every_2025_10_01_field_synthesizes_a_versioned_template_at_that_version(tmp_path):
    """azure-native's typed template creates only 2024-02-01; the versioned template carries the newer body whole."""
    import yaml

    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copytree(ROOT / "files", tmp_path / "files")
    (tmp_path / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    props = doc["config"]["aib-images:images"]["ubuntu-2204"]["template"]["properties"]
    props["distribute"][0]["replicationMode"] = "Shallow"
    props["optimize"] = {"workload": {"state": "Enabled"}}
    props["additionalDataDisks"] = [{"sizeGB": 32}]
    (tmp_path / "stacks" / "Pulumi.new.yaml").write_text(yaml.safe_dump(doc))

    result = synth("new", project_dir=tmp_path)
    template = {kind_name(r["name"]): r for r in result["resources"]}["ubuntu-2204-template"]
    assert template["type"] == "pulumi-python:dynamic/aib:VersionedTemplate"
    assert template["inputs"]["api_version"] == "2025-10-01"
    assert template["inputs"]["image_template_name"] == result["templates"]["ubuntu-2204"]["name"]
    assert template["inputs"]["body"] == "[secret]", "the body holds the inline commands"
    assert result["templates"]["ubuntu-2204"]["properties"]["additionalDataDisks"] == [{"sizeGB": 32}]
    assert result["templates"]["ubuntu-2204"]["apiVersion"] == "2025-10-01"


def test_checksum_opt_outs_show_in_the_synth_listing_and_the_template_tags(tmp_path):
    import yaml

    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    image = doc["config"]["aib-images:images"]["ubuntu-2204"]
    image["template"]["properties"]["customize"].append(
        {"type": "File", "name": "vendor", "sourceUri": "https://vendor.example/agent.conf?sv=1&sig=SECRET",
         "destination": "/tmp/agent.conf", "checksumOptOut": "the vendor regenerates it per tenant"})
    index = len(image["template"]["properties"]["customize"]) - 1
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    result = synth("dev", project_dir=ROOT, config_file=stack_file, show_secrets=False)
    template = result["templates"]["ubuntu-2204"]
    assert template["tags"][f"aib-images.checksumOptOut.customize[{index}]"] == "the vendor regenerates it per tenant"
    assert all("checksumOptOut" not in step for step in template["properties"]["customize"])
    text = format_text(result)
    assert f"customize[{index}]: the vendor regenerates it per tenant" in text and "SECRET" not in str(result)


def test_the_text_listing_shows_each_rendered_template_redacted(tmp_path):
    # The README says synth prints each rendered template; the text mode printed only its name (issue 24).
    import yaml

    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    image = doc["config"]["aib-images:images"]["ubuntu-2204"]
    image["template"]["properties"]["customize"].append(
        {"type": "File", "name": "vendor", "sourceUri": "https://vendor.example/agent.conf?sv=1&sig=SECRET",
         "destination": "/tmp/agent.conf", "sha256Checksum": "a" * 64})
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    result = synth("dev", project_dir=ROOT, config_file=stack_file, show_secrets=False)
    template = result["templates"]["ubuntu-2204"]
    text = format_text(result)
    assert f"Template of ubuntu-2204 ({template['name']}):" in text
    shown = text.split(f"Template of ubuntu-2204 ({template['name']}):\n", 1)[1]
    body = "\n".join(line[4:] for line in shown.splitlines() if line.startswith("    "))
    assert json.loads(body[:body.index("\n}") + 2]) == template  # the whole template, exactly as rendered
    assert '"type": "Shell"' in text and "/tmp/agent.conf" in text
    assert "SECRET" not in text and "sudo apt-get update" not in text  # SAS token and inline commands hidden
