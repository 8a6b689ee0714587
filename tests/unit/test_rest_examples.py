"""The official REST API example bodies of every stable api-version (tests/fixtures/rest-examples) are accepted,
rendered with every field they hold, passed to azure-native's args unchanged, and accepted by the emulator's schema."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import _types

from components.arm.import_arm import import_document
from components.arm.render import render_template
from components.emulator import schema as emulator_schema
from components.model import TEMPLATE_TYPE, check_warnings
from components.declare.template_args import template_args

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "rest-examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*.json"))
STABLE_VERSIONS = ("2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01", "2023-07-01", "2024-02-01", "2025-10-01")
SERVICE_DEFAULTS = {"runElevated": False, "runAsSystem": False}
"""Spec defaults render writes out (the service echoes them too)."""
AZURE_NATIVE_DEFAULTS = {**SERVICE_DEFAULTS, "sha256Checksum": "", "proxyVmSize": "", "buildTimeoutInMinutes": 0,
                         "excludeFromLatest": False}
"""Spec defaults azure-native's args fill in (the same values the service assumes when a field is left out)."""


def request_body(path: Path) -> dict:
    """The template a Create example sends (or a Get example returns), as an AIB document."""
    example = json.loads(path.read_text(encoding="utf-8"))
    response = example.get("responses", {}).get("200", {}).get("body")
    body = dict(response or example["parameters"]["parameters"])
    for read_only in ("id", "name", "type"):
        body.pop(read_only, None)
    for value in body.get("identity", {}).get("userAssignedIdentities", {}).values():
        value.clear()  # principalId/clientId are read-only
    return {"type": TEMPLATE_TYPE, "apiVersion": path.parent.name, "name": "myImageTemplate", **body}


def without_defaults(value: Any, defaults: dict = SERVICE_DEFAULTS) -> Any:
    if isinstance(value, list):
        return [without_defaults(v, defaults) for v in value]
    if isinstance(value, dict):
        return {k: without_defaults(v, defaults) for k, v in value.items() if defaults.get(k, object()) != v}
    return value


def args_as_json(value: Any) -> Any:
    """azure-native's typed args back as camelCase JSON (secrets and enums unwrapped)."""
    if isinstance(value, pulumi.Output):
        return args_as_json(asyncio.get_event_loop().run_until_complete(value.future()))
    if hasattr(value, "_pulumi_input_type"):
        return args_as_json(_types.input_type_to_dict(value))
    if isinstance(value, dict):
        return {k: args_as_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [args_as_json(v) for v in value]
    return value.value if hasattr(value, "value") and isinstance(value, str) else value


def test_every_stable_version_has_an_example():
    assert sorted({p.parent.name for p in EXAMPLE_FILES}) == list(STABLE_VERSIONS)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_is_accepted_and_rendered_unchanged(path):
    body = request_body(path)
    (imported,) = import_document(body)
    rendered = render_template(imported.spec)
    expected = {k: v for k, v in body.items() if k != "apiVersion"}
    assert without_defaults({k: v for k, v in rendered.items() if k != "apiVersion"}) == expected
    assert rendered["apiVersion"] == "2024-02-01"  # no example uses a field only 2025-10-01 has


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_passes_to_azure_native_args_unchanged(path):
    (imported,) = import_document(request_body(path))
    rendered = render_template(imported.spec)
    args = args_as_json(template_args(rendered, resource_group_name="myResourceGroup"))
    assert args.pop("resourceGroupName") == "myResourceGroup"
    assert args.pop("imageTemplateName") == rendered["name"]
    assert args.pop("identity") == {"type": "UserAssigned",
                                    "userAssignedIdentities": list(rendered["identity"]["userAssignedIdentities"])}
    properties = without_defaults(rendered["properties"], AZURE_NATIVE_DEFAULTS)
    passed = {k: v for k, v in args.items() if k not in ("location", "tags")}
    assert without_defaults(passed, AZURE_NATIVE_DEFAULTS) == properties
    assert (args["location"], args.get("tags")) == (rendered["location"], rendered.get("tags"))


@pytest.mark.parametrize("path", [p for p in EXAMPLE_FILES if "Windows" in p.name],
                         ids=lambda p: p.parent.name)
def test_windows_examples_repeat_a_step_name_which_is_only_a_warning(path):
    (imported,) = import_document(request_body(path))
    # (The examples also download unpinned scripts, which warns too: only the name warnings are looked at here.)
    assert [w.path for w in check_warnings(imported.spec) if w.path.endswith(".name")] == [
        "properties.customize[4].name", "properties.customize[5].name"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_emulator_accepts_the_example_at_its_own_api_version(path):
    body = request_body(path)
    version = body.pop("apiVersion")
    stored = emulator_schema.validate_template(body, version)
    assert stored["properties"]["customize"] == body["properties"]["customize"]
