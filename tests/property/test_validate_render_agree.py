"""What `validate` accepts, `render` (and, for stack YAML, the synth path behind it) accepts too; and no input,
however malformed, ends in a traceback: `documents.load` raises only SpecError, each CLI verb returns an exit code.

The documents are generated from a valid Linux template with independent edits drawn from the fields whose rules
changed (warnings, Go durations, Direct Shared Gallery sources, identity type None, 2025-10-01 fields, lower-case
enums in old api-versions), so the same inputs drive validate, render and synth. Few examples: synth runs the
stack program under mocks (about half a second each).
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.arm.import_arm import import_document
from components.ops.cli import Env, main
from components.arm.documents import load
from components.model import SpecError
from components.model.stack import parse_stack_config
from tests.unit.spec_samples import IDENTITY, linux_template

DIRECT_SHARED = "/sharedGalleries/abc-uniq/images/img/versions/latest"
EDITS = {
    "duplicate-step-name": lambda d: d["properties"]["customize"][1].update(name=d["properties"]["customize"][0]["name"]),
    "go-duration-step": lambda d: d["properties"].update(customize=[
        {"type": "WindowsRestart", "restartTimeout": "1h30m"}], source={
        "type": "PlatformImage", "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
        "sku": "2022-datacenter-g2"}, validate={}),
    "bad-duration": lambda d: d["properties"]["customize"].append({"type": "WindowsRestart", "restartTimeout": "5 min"}),
    "http-script": lambda d: d["properties"]["customize"].append({"type": "Shell", "scriptUri": "http://e.com/a.sh"}),
    "identity-none": lambda d: d.update(identity={"type": "None"}),
    "no-identity": lambda d: d.pop("identity"),
    "data-disks-2025": lambda d: d["properties"].update(additionalDataDisks=[{"sizeGB": 32}]),
    "workload-2025": lambda d: d["properties"].update(optimize={"workload": {"state": "Enabled"}}),
    "empty-distribute": lambda d: d["properties"].update(distribute=[]),
    "timeout-3": lambda d: d["properties"].update(buildTimeoutInMinutes=3),
    "state-omitted": lambda d: d["properties"].update(optimize={"vmBoot": {}}),
    "old-lowercase-enum": lambda d: d.update(apiVersion="2022-07-01") or d["properties"].update(
        optimize={"vmBoot": {"state": "enabled"}}),
    "unknown-field": lambda d: d["properties"].update(fooBar=1),
}
# Needs a fix outside the files this change owns: roles.grant_source_reader reads every SharedImageVersion source id
# as an ARM resource id, and a Direct Shared Gallery id has no subscription (KeyError in synth).
OUT_OF_SCOPE = {"direct-shared-source": lambda d: d["properties"].update(
    source={"type": "SharedImageVersion", "imageVersionId": DIRECT_SHARED})}

edit_sets = st.sets(st.sampled_from(sorted(EDITS)), max_size=3)
IDENTITY_EDITS = {"identity-none", "no-identity"}
json_edit_sets = st.sets(st.sampled_from(sorted(set(EDITS) - IDENTITY_EDITS)), max_size=3)
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def template_with(edits, table=EDITS) -> dict:
    doc = {"type": "Microsoft.VirtualMachineImages/imageTemplates", "apiVersion": "2024-02-01", **linux_template()}
    for name in sorted(edits):
        table[name](doc)
    return doc


def stack_file(template: dict) -> str:
    template = copy.deepcopy(template)
    for key in ("type", "apiVersion", "name"):
        template.pop(key, None)
    return yaml.safe_dump({"config": {"aib-images:location": "westeurope", "aib-images:images": {
        "golden": {"build": False, "template": template}}}}, sort_keys=False)


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(argv), Env(stdout=io.StringIO(), stderr=err))
    return code, err.getvalue()


def assert_render_agrees(path: Path) -> None:
    code, err = run("validate", str(path))
    assert code in (0, 2) and "Traceback" not in err
    if code == 0:
        rendered, err = run("render", str(path))
        assert rendered == 0, err


@FAST
@given(edits=json_edit_sets)  # without an identity: test_json_template_without_identity_is_refused_by_validate_and_render_alike
def test_json_template_validate_implies_render(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("json") / "template.json"
    path.write_text(json.dumps(template_with(edits)), encoding="utf-8")
    assert_render_agrees(path)


@SLOW
@given(edits=edit_sets)
def test_stack_yaml_validate_implies_render_and_synth(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("stack") / "Pulumi.golden.yaml"
    path.write_text(stack_file(template_with(edits)), encoding="utf-8")
    assert_render_agrees(path)


@pytest.mark.parametrize("identity", [None, {"type": "None"}])
def test_json_template_without_identity_is_refused_by_validate_and_render_alike(tmp_path, identity):
    doc = template_with(set())
    doc.pop("identity")
    if identity:
        doc["identity"] = identity
    path = tmp_path / "template.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert_render_agrees(path)


def test_stack_with_direct_shared_gallery_source_renders(tmp_path):
    path = tmp_path / "Pulumi.golden.yaml"
    path.write_text(stack_file(template_with({"direct-shared-source"}, OUT_OF_SCOPE)), encoding="utf-8")
    assert_render_agrees(path)


# ---- byte-level fuzzing of the readers -----------------------------------------------------------------------

NASTY = [
    b"\xff\xfe\x00bad utf-8", "\ufeff{}".encode("utf-8"), b"[" * 5000 + b"]" * 5000, b"{\"a\":" * 3000 + b"1" + b"}" * 3000,
    b"!!python/object:os.system {}", b"config: !!python/object/apply:os.system ['true']", b"a: &x [*x]",
    b"config:\n  aib-images:images:\n    x: !!binary aGVsbG8=", b"- - - -", b"\x00" * 64, b"config: [1, 2",
    b"*" * 100_000, yaml.safe_dump({"config": {"aib-images:images": {"x": {"template": [1] * 10}}}}).encode(),
    json.dumps({"properties": {"customize": "x", "distribute": {"a": 1}}, "location": 1}).encode(),
    json.dumps({"resources": [{"type": "Microsoft.VirtualMachineImages/imageTemplates", "properties": []}]}).encode(),
    json.dumps({"identity": {"userAssignedIdentities": {IDENTITY: {}}}, "properties": {"source": None}}).encode(),
]
documents = st.one_of(
    st.sampled_from(NASTY),
    st.binary(max_size=400),
    st.builds(lambda parts: b"".join(parts), st.lists(st.sampled_from(
        [b"{", b"}", b"[", b"]", b":", b",", b"\"a\"", b"1", b"config", b"aib-images:images", b"!!", b"\n  ", b"- ",
         b"&a", b"*a", b"null", b"\"properties\"", b"\xc3"]), max_size=60)),
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(["Shell", "SharedImage", "latest"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["type", "properties", "source", "customize", "distribute", "identity", "location", "images", "template",
         "runOutputName", "inline", "apiVersion", "resources", "x"]), inner, max_size=5),
    max_leaves=25)


@FUZZ
@given(doc=json_values)
def test_spec_readers_raise_only_spec_error(doc):
    """The spec's doors (import of AIB/ARM documents, stack config) on any JSON value: SpecError or a result."""
    for read in (import_document, parse_stack_config):
        try:
            read(doc)
        except SpecError:
            pass


@FUZZ
@given(data=documents, suffix=st.sampled_from([".json", ".yaml"]))
def test_load_raises_only_spec_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(data)
    try:
        load(path)
    except SpecError:
        pass


@FUZZ
@given(data=documents, suffix=st.sampled_from([".json", ".yaml"]),
       verb=st.sampled_from(["validate", "render", "import-arm"]))
def test_cli_verbs_never_end_in_a_traceback(tmp_path_factory, data, suffix, verb):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(data)
    code, err = run(verb, str(path))
    assert code in (0, 2) and "Traceback" not in err
