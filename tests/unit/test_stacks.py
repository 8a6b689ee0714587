"""The shipped stacks and the platform example, run through the real programs under mocks."""

from __future__ import annotations

import pytest
import yaml

from components.plan.roles import CONTRIBUTOR
from components.model.stack import config_from_stack_file, parse_stack_config
from components.offline.synth import synth
from tests.conftest import ROOT, kind_name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_parse(stack):
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    parsed = parse_stack_config(config_from_stack_file(doc))
    assert parsed.images


def test_dev_stack_content():
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    image = parse_stack_config(config_from_stack_file(doc)).images["ubuntu-2204"]
    props = image.template.properties
    kinds = [(c.type, bool(getattr(c, "inline", None)), bool(getattr(c, "sha256_checksum", None)))
             for c in props.customize or []]
    assert ("Shell", False, True) in kinds and ("Shell", True, False) in kinds and "File" in [k[0] for k in kinds]
    assert {d.type for d in props.distribute} == {"SharedImage", "VHD"}
    assert props.validate_ and props.validate_.in_vm_validations


def test_prod_stack_content():
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    image = parse_stack_config(config_from_stack_file(doc)).images["win2022"]
    props = image.template.properties
    assert [c.type for c in props.customize or []] == ["PowerShell", "WindowsRestart", "WindowsUpdate",
                                                       "WindowsRestart"]
    sig = props.distribute[0]
    assert sig.type == "SharedImage" and len(sig.regions) == 2 and sig.versioning is not None
    assert props.vm_profile and props.vm_profile.vnet_config and props.vm_profile.vnet_config.subnet_id


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_graph_policies(stack):
    result = synth(stack, project_dir=ROOT)
    resources = result["resources"]
    image = next(iter(result["templates"]))
    stack_level = ("azure-native:compute:Gallery", "azure-native:compute:GalleryImage")  # declared once per stack
    for r in resources:
        if r["name"] not in ("resource-group", "builds-started", "aib-dynamic-resources") \
                and r["type"] not in stack_level:
            assert r["parent"] == image or r["name"] == image, r["name"]
    for r in resources:
        if r["type"] == "azure-native:authorization:RoleAssignment":
            scope = r["inputs"]["scope"]
            assert scope.count("/") > 2, f"{r['name']} is at subscription scope"
            if r["inputs"]["roleDefinitionId"].endswith(CONTRIBUTOR):
                assert "/resourceGroups/rg-aib-staging-" in scope and scope.count("/") == 4
            if r["name"].endswith("-repo-files-uploader"):  # the deployer: a user or a service principal
                assert r["inputs"]["principalType"] in ("User", "ServicePrincipal")
            else:
                assert r["inputs"]["principalType"] == "ServicePrincipal"
        if r["type"] == "azure-native:authorization:RoleDefinition":
            assert all(s.count("/") == 4 for s in r["inputs"]["assignableScopes"]), r["name"]
    template = next(r for r in resources if r["type"].endswith("VirtualMachineImageTemplate"))
    assignments = {r["name"] for r in resources if r["type"].endswith("RoleAssignment") and not r["name"].endswith(
        "-runner")}
    assert assignments <= set(template["dependencies"])
    assert result["outputs"][image]["templateName"] == result["templates"][image]["name"]


def test_platform_example_feeds_the_built_version_into_the_scale_set():
    result = synth("demo", project_dir=ROOT / "examples" / "platform")
    resources = {r["name"]: r for r in result["resources"]}
    vmss = resources["web"]
    image_ref = vmss["inputs"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["id"]
    assert image_ref == result["outputs"]["imageVersionId"]
    assert image_ref.endswith("/galleries/gal_platform/images/web-ubuntu/versions/1.0.0")
    assert "web-ubuntu-build" in map(kind_name, vmss["dependencies"])
    # The build subnet is the stack's own; the join role waits for it.
    [join] = [r for name, r in resources.items() if name.startswith("web-ubuntu-subnet-join-")
              and r["type"].endswith("RoleAssignment")]
    assert "image-build-subnet" in join["dependencies"]
