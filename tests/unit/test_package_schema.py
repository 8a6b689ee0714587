"""The component package's schema (`package/schema.json`) is the contract of every program that uses the pipeline from
another language: `pulumi package add` generates the consumer's SDK from it. The schema the package serves is
generated here in-process (the SDK's component provider, as `pulumi package get-schema package` runs it, in the form
that command prints: equal when the copy was written) and compared with the committed copy, so a change to the args or outputs is seen in review; one that breaks consumers (a removed or
retyped property, a newly required input, an output no longer always set) is named as such.

Regenerate after an intended change: `.venv/bin/python package --schema > package/schema.json`.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from components.model.stack import config_from_stack_file, parse_stack_config

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "package"
COMMITTED = PACKAGE / "schema.json"
TOKEN = "aib-images:index:ImagePipeline"
REGENERATE = "regenerate with `.venv/bin/python package --schema > package/schema.json`"


def load_package() -> ModuleType:
    """package/__main__.py as a module (not run as the plugin)."""
    name = "aib_images_package"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PACKAGE / "__main__.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return load_package().schema()


def _shape(prop: dict[str, Any]) -> dict[str, Any]:
    """A property's type, without its documentation."""
    return {k: _shape(v) if isinstance(v, dict) else v for k, v in prop.items() if k != "description"}


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What a consumer written against `old` would see fail with `new`."""
    problems: list[str] = []

    def properties(where: str, before: dict, after: dict) -> None:
        for key, prop in before.items():
            if key not in after:
                problems.append(f"{where}.{key} removed")
            elif _shape(prop) != _shape(after[key]):
                problems.append(f"{where}.{key} changed type: {_shape(prop)} -> {_shape(after[key])}")

    for token, resource in old.get("resources", {}).items():
        current = new.get("resources", {}).get(token)
        if current is None:
            problems.append(f"resource {token} removed")
            continue
        properties(f"{token} input", resource.get("inputProperties", {}), current.get("inputProperties", {}))
        properties(f"{token} output", resource.get("properties", {}), current.get("properties", {}))
        for key in sorted(set(current.get("requiredInputs", [])) - set(resource.get("requiredInputs", []))):
            problems.append(f"{token} input {key} is now required")
        for key in sorted(set(resource.get("required", [])) - set(current.get("required", []))):
            problems.append(f"{token} output {key} may now be unset")
    for token, typ in old.get("types", {}).items():
        current = new.get("types", {}).get(token)
        if current is None:
            problems.append(f"type {token} removed")
            continue
        properties(f"type {token}", typ.get("properties", {}), current.get("properties", {}))
        for key in sorted(set(current.get("required", [])) - set(typ.get("required", []))):
            problems.append(f"type {token}.{key} is now required")
    return problems


def test_schema_is_the_committed_one(generated: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    strip = {"version"}  # the project's version, checked below: a release is not a schema change
    old = {k: v for k, v in committed.items() if k not in strip}
    new = {k: v for k, v in generated.items() if k not in strip}
    if old == new:
        return
    breaking = breaking_changes(old, new)
    if breaking:
        pytest.fail("the package's schema changed in a way that breaks its consumers:\n  " + "\n  ".join(breaking)
                    + "\nKeep the old shape (add, do not rename or retype), or release a new major version and "
                    + f"{REGENERATE}.")
    pytest.fail(f"the package's schema changed (compatibly): {REGENERATE}, and review the diff")


def test_schema_version_is_the_projects(generated: dict[str, Any]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert generated["version"] == pyproject["project"]["version"]


def test_the_component_and_its_contract(generated: dict[str, Any]) -> None:
    resource = generated["resources"][TOKEN]
    assert resource["isComponent"] is True
    assert resource["requiredInputs"] == ["image", "resourceGroupName"]
    # The image config is a typed object, not an opaque string: its template, steps and targets are schema types.
    assert resource["inputProperties"]["image"]["$ref"] == "#/types/aib-images:index:ImageConfig"
    types = generated["types"]
    assert types["aib-images:index:ImageConfig"]["properties"]["template"]["$ref"] == \
        "#/types/aib-images:index:ImageTemplateSpec"
    assert types["aib-images:index:Customizer"]["required"] == ["type"]
    # The outputs are the Python component's, camelCased.
    assert set(resource["properties"]) == {
        "templateId", "templateName", "identityId", "identityPrincipalId", "identityClientId", "galleryId",
        "imageDefinitionId", "stagingResourceGroup", "runState", "runOutputs", "imageVersionId", "logLocation",
        "lifecycleReport"}


def test_a_breaking_change_is_named_as_one(generated: dict[str, Any]) -> None:
    changed = copy.deepcopy(generated)
    resource = changed["resources"][TOKEN]
    del resource["inputProperties"]["imageName"]
    resource["properties"]["imageVersionId"]["type"] = "integer"
    resource["requiredInputs"].append("location")
    changed["types"]["aib-images:index:Customizer"]["properties"].pop("inline")
    assert breaking_changes(generated, changed) == [
        f"{TOKEN} input.imageName removed",
        f"{TOKEN} output.imageVersionId changed type: {{'type': 'string'}} -> {{'type': 'integer'}}",
        f"{TOKEN} input location is now required",
        "type aib-images:index:Customizer.inline removed"]
    added = copy.deepcopy(generated)
    added["resources"][TOKEN]["inputProperties"]["newOption"] = {"type": "string", "plain": True}
    assert breaking_changes(generated, added) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_image_passes_through_the_typed_args(stack: str) -> None:
    """Each image of the committed stacks, sent as a consumer's program sends it, reaches the component whole (the
    SDK drops keys its schema does not have) and validates as the stack file does."""
    package = load_package()
    provider = package.ImagePipelineProvider()
    definition = provider._component_defs["ImagePipeline"]
    config = config_from_stack_file(yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text()))
    for name, image in config["images"].items():
        wire = json.loads(json.dumps(image), parse_int=float)  # numbers cross the wire as doubles
        mapped = provider.map_inputs({"image": wire, "resourceGroupName": "rg-x"}, definition)
        assert mapped["image"] == image, name
        assert mapped["resource_group_name"] == "rg-x"
        parsed = parse_stack_config({**{k: v for k, v in config.items() if k != "images"},
                                     "images": {name: mapped["image"]}}, source=f"{stack}:{name}")
        expected = parse_stack_config({**{k: v for k, v in config.items() if k != "images"},
                                       "images": {name: image}}, source=f"{stack}:{name}")
        assert parsed.images[name] == expected.images[name]


def test_an_output_where_a_known_value_is_needed_is_named() -> None:
    """A consumer may pass another resource's output (YAML does not stop it): the component names each such input."""
    import pulumi

    outputs_in = load_package()._outputs_in
    args = {"resource_group_name": pulumi.Output.from_input("rg"), "location": "westeurope",
            "image": {"template": {"properties": {"customize": [
                {"type": "Shell", "inline": ["ok", pulumi.Output.secret("s")]}]}}}}
    assert outputs_in(args) == ["resourceGroupName", "image.template.properties.customize[0].inline[1]"]
    assert outputs_in({"resource_group_name": "rg", "image": {"template": {}}}) == []
