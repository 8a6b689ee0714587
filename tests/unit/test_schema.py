"""The stack-file JSON Schema (editors) and the `Pulumi.yaml` config declarations agree with the models and the
committed files."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.ops.cli import Env, main
from components.ops.schema import SCHEMA_PATH, schema_text, stack_file_schema
from components.model.stack import PROJECT, StackConfig
from components.offline.stack_files import stack_config
from tests.conftest import ROOT

STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
REGENERATE = "run: python -m components schema -o schema/stack.schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    schema = stack_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The innermost errors under `error` (what an editor shows at the offending place)."""
    return [leaf for sub in error.context for leaf in _leaves(sub)] if error.context else [error]


def _errors(doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for top in _validator().iter_errors(doc) for e in _leaves(top)]


def test_committed_schema_is_current():
    assert (ROOT / SCHEMA_PATH).read_text() == schema_text(), f"schema/stack.schema.json is stale; {REGENERATE}"


def test_cli_prints_the_committed_schema(tmp_path):
    out = io.StringIO()
    assert main(["schema"], Env(stdout=out, stderr=io.StringIO())) == 0
    assert out.getvalue() == (ROOT / SCHEMA_PATH).read_text()
    target = tmp_path / "s.json"
    assert main(["schema", "-o", str(target)], Env(stdout=io.StringIO(), stderr=io.StringIO())) == 0
    assert target.read_text() == out.getvalue()


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stack_files_validate_and_point_editors_at_the_schema(path: Path):
    assert STACK_FILES, "no stack files"
    assert _errors(yaml.safe_load(path.read_text())) == []
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
    assert target == (ROOT / SCHEMA_PATH).resolve()


def _dev() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text()))


@pytest.mark.parametrize("edit,where", [
    (lambda c: c.__setitem__(f"{PROJECT}:resourceGroupname", "rg"), f"{PROJECT}:resourceGroupname"),
    (lambda c: c[f"{PROJECT}:images"]["ubuntu-2204"].__setitem__("rebuildTriger", "x"), "rebuildTriger"),
    (lambda c: c[f"{PROJECT}:images"]["ubuntu-2204"]["template"]["properties"]["customize"][0]
     .__setitem__("sha256checksum", "0" * 64), "sha256checksum"),
    (lambda c: c[f"{PROJECT}:images"]["ubuntu-2204"]["template"]["properties"]["customize"][0]
     .__setitem__("type", "Bash"), "template/properties/customize"),
    (lambda c: c.__setitem__(f"{PROJECT}:createResourceGroup", "yes"), "createResourceGroup"),
])
def test_typos_and_wrong_types_are_rejected(edit, where):
    doc = _dev()
    edit(doc["config"])
    errors = _errors(doc)
    assert errors and any(where in e for e in errors), errors


def test_what_pulumi_config_set_writes_is_accepted_by_the_schema_and_the_program(tmp_path):
    """`pulumi config set aib-images:createResourceGroup false` writes the string "false" (the real CLI does; only
    `--path` keeps types): the editor must not flag what the CLI wrote and the program accepts."""
    doc = _dev()
    doc["config"][f"{PROJECT}:createResourceGroup"] = "false"
    doc["config"][f"{PROJECT}:adoptExisting"] = "true"
    assert _errors(doc) == []
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")  # the project the repository files belong to
    for folder in ("scripts", "files"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], Env(stdout=out, stderr=err, project_dir=ROOT)) == 0, err.getvalue()


def test_a_mistake_in_a_step_is_reported_inside_that_step():
    """Steps are a union keyed by `type`: the error names the step and its own schema's complaint, not "matches none
    of the five step types" for the whole list."""
    doc = _dev()
    steps = doc["config"][f"{PROJECT}:images"]["ubuntu-2204"]["template"]["properties"]["customize"]
    steps[1]["inlin"] = ["x"]
    steps[2]["type"] = "Bash"
    errors = _errors(doc)
    assert any(e.startswith(f"config/{PROJECT}:images/ubuntu-2204/template/properties/customize/1: ")
               and "'inlin' was unexpected" in e for e in errors), errors
    assert any(e.startswith(f"config/{PROJECT}:images/ubuntu-2204/template/properties/customize/2/type: ")
               and "'Bash' is not one of" in e for e in errors), errors


def test_other_namespaces_stay_free():
    doc = _dev()
    doc["config"]["azure-native:subscriptionId"] = "x"
    doc["config"]["other-project:anything"] = {"nested": True}
    assert _errors(doc) == []


def test_a_missing_images_key_is_reported():
    doc = _dev()
    del doc["config"][f"{PROJECT}:images"]
    assert any(f"'{PROJECT}:images' is a required property" in e for e in _errors(doc))


# --- Pulumi.yaml config declarations -------------------------------------------------------------------------------
# The rules `pulumi` applies to project config declarations (pulumi/pulumi sdk/go/common/workspace: project.json's
# configTypeDeclaration and Project.Validate): typed keys must be the project's own, types are string, integer,
# boolean or array (array needs items), a default must match its type, default and value exclude each other.

_PY_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def _declarations() -> dict[str, dict]:
    return {k: v for k, v in (_project().get("config") or {}).items() if isinstance(v, dict)}


def test_declarations_follow_pulumis_rules():
    project = _project()
    declarations = _declarations()
    assert declarations, "Pulumi.yaml declares no config"
    for key, decl in declarations.items():
        assert key.startswith(f"{project['name']}:") or ":" not in key, f"{key}: only project keys may be typed"
        assert set(decl) <= {"type", "description", "secret", "default", "items", "value"}, key
        assert decl["type"] in _PY_TYPES, f"{key}: type {decl['type']!r}"
        assert decl.get("description"), f"{key}: give a description"
        assert not ("default" in decl and "value" in decl), key
        if decl["type"] == "array":
            assert "items" in decl, key
        if "default" in decl:
            assert type(decl["default"]) is _PY_TYPES[decl["type"]], f"{key}: default does not match its type"


def test_declarations_match_the_models():
    fields = {info.alias or name: info for name, info in StackConfig.model_fields.items()}
    schema_types = {"str": "string", "bool": "boolean", "int": "integer"}
    for key, decl in _declarations().items():
        name = key.split(":", 1)[1]
        assert name in fields, f"{key} is not a StackConfig field"
        annotation = fields[name].annotation
        base = next((a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)), annotation)
        assert schema_types.get(getattr(base, "__name__", "")) == decl["type"], f"{key}: model type {annotation}"
        if "default" in decl:
            assert decl["default"] == fields[name].default, f"{key}: default differs from the model's"
    # Every scalar stack key is declared; `images` (an object) cannot be.
    scalars = {name for name, info in fields.items() if name != "images"}
    assert {k.split(":", 1)[1] for k in _declarations()} == scalars
    assert f"{PROJECT}:images" not in _declarations()
    assert "no `object`" in (ROOT / "Pulumi.yaml").read_text() or "cannot type" in (ROOT / "Pulumi.yaml").read_text()


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_sets_the_keys_declared_without_default(path: Path):
    # `pulumi` refuses a stack that lacks one ("Stack 'dev' is missing configuration value ...").
    config = yaml.safe_load(path.read_text())["config"]
    for key, decl in _declarations().items():
        if "default" not in decl and "value" not in decl:
            assert key in config, f"{path.name} must set {key}"


def test_synth_applies_declared_defaults_under_the_stack(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    doc = _dev()
    del doc["config"][f"{PROJECT}:resourceGroupName"]
    del doc["config"][f"{PROJECT}:location"]
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    _, config, _ = stack_config(tmp_path, "dev")
    declarations = _declarations()
    assert config[f"{PROJECT}:resourceGroupName"] == declarations[f"{PROJECT}:resourceGroupName"]["default"]
    assert config[f"{PROJECT}:createResourceGroup"] is True
    assert f"{PROJECT}:location" not in config  # declared without default: nothing invented
    _, config, _ = stack_config(ROOT, "dev")
    assert config[f"{PROJECT}:resourceGroupName"] == "rg-golden-images-dev"  # the stack wins over the default
    json.dumps(config)
