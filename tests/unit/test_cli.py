"""The command line: exit codes, path-named errors without tracebacks, and import-arm output as valid input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from components.ops.cli import Env, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "templates"
IDENTITY = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/id-aib")
GALLERY_IMAGE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                 "Microsoft.Compute/galleries/gal/images/ubuntu")


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, project_dir=ROOT))
    return code, out.getvalue(), err.getvalue()


def template(**properties) -> dict:
    props = {"source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                        "sku": "22_04-lts-gen2", "version": "latest"},
             "customize": [{"type": "Shell", "name": "hello", "inline": ["echo hello"]}],
             "distribute": [{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": GALLERY_IMAGE,
                             "targetRegions": [{"name": "westeurope"}]}]}
    props.update(properties)
    return {"type": "Microsoft.VirtualMachineImages/imageTemplates", "apiVersion": "2024-02-01", "name": "ubuntu",
            "location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
            "properties": props}


def write(tmp_path: Path, doc: dict, name: str = "template.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_validate_accepts_a_good_template(tmp_path):
    code, out, err = call("validate", str(write(tmp_path, template())))
    assert code == 0, err
    assert "valid" in out and "ubuntu" in out


def test_validate_lists_every_problem_with_its_path(tmp_path):
    broken = template(buildTimeoutInMinutes=3,
                      customize=[{"type": "PowerShell", "name": "a", "inline": ["x"]},
                                 {"type": "Shell", "name": "a", "scriptUri": "http://example.com/s.sh"},
                                 {"type": "File", "sourceUri": "https://example.com/f", "destination": "/etc/f"}])
    broken["properties"]["distribute"].append({"type": "VHD", "runOutputName": "sig"})
    code, out, err = call("validate", str(write(tmp_path, broken)))
    assert code == 2 and out == ""
    for path in ("properties.buildTimeoutInMinutes", "properties.customize[0].type",
                 "properties.customize[2].destination", "properties.distribute[1].runOutputName"):
        assert f"  - {path}: " in err, path
    assert "Traceback" not in err and "hint:" in err


def test_validate_prints_warnings_and_exits_0(tmp_path):
    # Repeated step names and plain http are rules of ours the service does not have: warnings, not errors.
    doc = template(customize=[{"type": "Shell", "name": "a", "inline": ["x"]},
                              {"type": "Shell", "name": "a", "scriptUri": "http://example.com/s.sh"}])
    code, out, err = call("validate", str(write(tmp_path, doc)))
    assert code == 0 and "valid" in out
    assert "warning: images.ubuntu.template.properties.customize[1].name: 'a' is used by 2 steps" in err
    assert "warning: images.ubuntu.template.properties.customize[1].scriptUri: 'http://example.com/s.sh' is plain " \
           "http" in err


def test_validate_stack_file_and_missing_file(tmp_path):
    assert call("validate", str(ROOT / "stacks" / "Pulumi.prod.yaml"))[0] == 0
    code, _, err = call("validate", str(tmp_path / "absent.json"))
    assert code == 2 and "cannot read" in err


def test_validate_reports_syntax_errors_with_a_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"properties": \n  [}')
    code, _, err = call("validate", str(path))
    assert code == 2 and "not valid JSON (line 2)" in err


IMPORTABLE = sorted(p.name for p in FIXTURES.glob("*.json") if "windows" not in p.name)  # windows: duplicate names


@pytest.mark.parametrize("fixture", IMPORTABLE)
def test_import_arm_output_is_valid_input_for_validate_and_render(tmp_path, fixture):
    code, yaml_text, err = call("import-arm", str(FIXTURES / fixture))
    assert code == 0, err
    assert "? " not in yaml_text  # no complex YAML keys: ids are values
    saved = tmp_path / "imported.yaml"
    saved.write_text(yaml_text)
    assert call("validate", str(saved))[0] == 0
    code, rendered_yaml, err = call("render", str(saved))
    assert code == 0, err
    code, rendered_json, err = call("render", str(FIXTURES / fixture))
    assert code == 0, err
    from_yaml, from_json = json.loads(rendered_yaml), json.loads(rendered_json)
    if "properties" in from_json:  # one template each
        from_yaml, from_json = {"t": from_yaml}, {"t": from_json}
    for name, expected in from_json.items():
        got = from_yaml[name]
        # The pipeline names the template by its content hash and gives it a dedicated staging group; the
        # sections the user wrote come through unchanged.
        assert got["location"] == expected["location"]
        for section in ("source", "customize", "validate", "distribute", "vmProfile", "buildTimeoutInMinutes"):
            assert got["properties"].get(section) == expected["properties"].get(section), section
        assert got["identity"] == expected["identity"]


def test_render_is_byte_identical_across_runs(tmp_path):
    path = write(tmp_path, template())
    first, second = call("render", str(path)), call("render", str(path))
    assert first[0] == 0 and first[1] == second[1]
    assert json.loads(first[1])["apiVersion"] == "2024-02-01"


def test_render_stack_prints_what_synth_submits():
    code, out, err = call("render", "--stack", "prod")
    assert code == 0, err
    rendered = json.loads(out)
    assert rendered["name"].startswith("win2022-")
    assert rendered["properties"]["vmProfile"]["vnetConfig"]["subnetId"].endswith("/subnets/snet-image-builder")


def test_synth_json_shape():
    code, out, err = call("synth", "--stack", "dev", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"resources", "templates"}
    template_resource = next(r for r in result["resources"] if r["type"].endswith("VirtualMachineImageTemplate"))
    assert template_resource["parent"] == "ubuntu-2204"
    assert result["templates"]["ubuntu-2204"]["name"] == template_resource["inputs"]["imageTemplateName"]


def test_unknown_stack_is_a_clear_error():
    code, _, err = call("synth", "--stack", "nope")
    assert code == 2 and "no stack 'nope'" in err and "dev" in err
    assert "problems found" not in err and len(err.strip().splitlines()) == 1, err


def test_schema_describes_the_stack_file():
    code, out, _ = call("schema")
    schema = json.loads(out)
    images = schema["properties"]["config"]["properties"]["aib-images:images"]
    assert images["type"] == "object"


@pytest.mark.parametrize("verb", ["validate", "import-arm", "render", "synth", "local", "emulator", "schema"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 3


def project_with_broken_stack(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: aib-images\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text("config:\n  aib-images:images: {a: [1, 2}\n")
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["synth", "--stack", "bad"], ["render", "--stack", "bad"], ["local", "--stack", "bad"],
    ["diagnose", "--stack", "bad", "--local"], ["preflight", "--stack", "bad", "--local"],
    ["bump-trigger", "--stack", "bad", "--dry-run"], ["bump-trigger", "--dry-run"]])
def test_yaml_syntax_error_is_a_path_named_error_in_every_verb(tmp_path, argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Env(stdout=out, stderr=err, project_dir=project_with_broken_stack(tmp_path)))
    assert code == 2 and "Traceback" not in err.getvalue()
    assert "Pulumi.bad.yaml" in err.getvalue() and "not valid YAML (line 2)" in err.getvalue()


def test_import_arm_with_parameters_file_prints_valid_config(tmp_path):
    samples = ROOT / "tests" / "fixtures" / "azvmimagebuilder"
    text = (samples / "armTemplateWinSIG.json").read_text()
    for placeholder, value in json.loads((samples / "placeholders.json").read_text()).items():
        text = text.replace(placeholder, value)
    source = tmp_path / "win.json"
    source.write_text(text)
    code, out, err = call("import-arm", str(source), "--parameters", str(samples / "armTemplateWinSIG.parameters.json"),
                          "-o", str(tmp_path / "out.yaml"))
    assert code == 0, err
    assert "notice: images.armTemplateWinSIG.gallery.create: false" in err
    code, out, err = call("validate", str(tmp_path / "out.yaml"))
    assert code == 0, err


def test_import_arm_without_parameter_values_names_each_path(tmp_path):
    source = ROOT / "tests" / "fixtures" / "azvmimagebuilder" / "armTemplateWinSIG.json"
    code, _, err = call("import-arm", str(source))
    assert code == 2 and "resources[0].location: ARM expression \"[parameters('svclocation')]\"" in err


def test_renamed_project_reads_its_own_namespace(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: golden\nruntime: python\n")
    config = {"config": {"golden:images": {"ubuntu": {"identityId": IDENTITY, "gallery": {"create": False},
                                                      "template": {k: v for k, v in template().items()
                                                                   if k in ("location", "properties")}}}}}
    (tmp_path / "Pulumi.s.yaml").write_text(json.dumps(config))
    code, out, err = call("validate", str(tmp_path / "Pulumi.s.yaml"))
    assert code == 0, err


def test_emulator_verb_serves_on_the_port_it_is_given():
    """`python -m components emulator --port N`, as the README documents it (it once failed on its own arguments)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "components", "emulator", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"AIB_ARM_ENDPOINT=https://127.0.0.1:{port}", first
    finally:
        process.terminate()
        process.wait(10)


def test_admin_roles_subscription_is_used_and_must_be_a_guid():
    # issue 24: --subscription had no visible effect and accepted 'notaguid'.
    other = "11111111-2222-3333-4444-555555555555"
    code, out, err = call("admin-roles", "--stack", "prod", "--json", "--subscription", other)
    assert code == 0, err
    roles = json.loads(out)["customRoles"]
    created = [r for r in roles if r["resourceId"].startswith(f"/subscriptions/{other}/resourceGroups/rg-golden-images-prod/")]
    assert created and all(r["roleDefinitionId"].startswith(f"/subscriptions/{other}/") for r in created)
    # The gallery and subnet the stack names by id keep their subscription, as in the program; a notice says so.
    assert "keep the subscription of those ids (00000000-0000-0000-0000-000000000000)" in err
    code, out, err = call("admin-roles", "--stack", "dev", "--subscription", "notaguid")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "components: error: --subscription 'notaguid': not a subscription id (a GUID, such as the SubscriptionId of "
        "`az account show`)"]
