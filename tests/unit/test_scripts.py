"""Scripts from the repository: resolution rules, render, the template name, synth, and the storage resources."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.plan import naming
from components.arm.render import render_template
from components.ops.cli import Env, main
from components.declare.pipeline import ImagePipeline, ImagePipelineArgs
from components.plan.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER
from components.declare.scripts import resolve_local_files
from components.model import SpecError
from components.model.local_files import FILE_LIMIT_BYTES, blob_name, resolve_template
from components.model.stack import parse_stack_config
from components.offline.synth import synth
from tests.conftest import ROOT

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg-images"
GALLERY = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/galleries/gal/images/web"
CU = "images.web.template.properties.customize"


def _template(*customize: dict, validate: list | None = None) -> dict:
    props = {"source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                        "sku": "22_04-lts-gen2", "version": "latest"},
             "customize": list(customize),
             "distribute": [{"type": "SharedImage", "runOutputName": "web-sig", "galleryImageId": GALLERY,
                             "targetRegions": [{"name": "westeurope"}]}]}
    if validate:
        props["validate"] = {"inVMValidations": validate}
    return {"properties": props}


def _config(*customize: dict, validate: list | None = None, **image) -> dict:
    return {"location": "westeurope", "resourceGroupName": RG,
            "images": {"web": {"template": _template(*customize, validate=validate), **image}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: aib-images\nruntime: python\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "setup.sh").write_text("#!/bin/bash\necho setup\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "motd").write_text("hello\n")
    return tmp_path


SETUP = {"type": "Shell", "name": "setup", "script": "scripts/setup.sh"}
MOTD = {"type": "File", "name": "motd", "sourceFile": "files/motd", "destination": "/tmp/motd"}


# ---- the spec: exactly one source ------------------------------------------------------------------------------
@pytest.mark.parametrize("step,message", [
    ({"type": "Shell", "script": "a.sh", "inline": ["x"]}, "'script' and 'inline' are mutually exclusive"),
    ({"type": "Shell", "script": "a.sh", "scriptUri": "https://e.com/a.sh"},
     "'script' and 'scriptUri' are mutually exclusive"),
    ({"type": "Shell"}, "exactly one of 'scriptUri' or 'inline' is required (or 'script', a file in the repository)"),
    ({"type": "PowerShell", "script": "a.ps1", "inline": ["x"]}, "mutually exclusive"),
    ({"type": "File", "sourceFile": "f", "sourceUri": "https://e.com/f", "destination": "/tmp/f"},
     "'sourceFile' and 'sourceUri' are mutually exclusive"),
    ({"type": "File", "destination": "/tmp/f"}, "exactly one of 'sourceFile' or 'sourceUri' is required"),
    ({"type": "Shell", "script": "https://e.com/a.sh"}, "is a URL, not a file in the repository"),
])
def test_exactly_one_source(step, message):
    with pytest.raises(SpecError) as err:
        parse_stack_config(_config(step))
    assert message in str(err.value)
    assert f"{CU}[0]" in str(err.value)


# ---- resolution: every bad input names its config path ------------------------------------------------------------
def test_resolution_fills_checksums_and_lists_assets(project):
    stack = parse_stack_config(_config(SETUP, MOTD, validate=[{"type": "Shell", "script": "./scripts/setup.sh"}]),
                               project_dir=project)
    steps = stack.images["web"].template.properties.customize or []
    assert steps[0].sha256_checksum == hashlib.sha256(b"#!/bin/bash\necho setup\n").hexdigest()
    assert steps[1].sha256_checksum == hashlib.sha256(b"hello\n").hexdigest()
    _, assets = resolve_local_files(parse_stack_config(_config(
        SETUP, MOTD, validate=[{"type": "Shell", "script": "./scripts/setup.sh"}])), project)
    by_path = {a.path: a for a in assets["web"]}
    assert set(by_path) == {"scripts/setup.sh", "files/motd"}  # the same file twice is one upload
    assert by_path["scripts/setup.sh"].config_paths == (
        f"{CU}[0].script", "images.web.template.properties.validate.inVMValidations[0].script")
    assert by_path["files/motd"].blob_name == f"{by_path['files/motd'].sha256}/motd"


@pytest.mark.parametrize("setup,step,problem", [
    (None, {"type": "Shell", "script": "scripts/missing.sh"}, "does not exist"),
    (None, {"type": "Shell", "script": "scripts"}, "is a directory, not a file"),
    (None, {"type": "Shell", "script": "../outside.sh"}, "is outside the project folder"),
    (None, {"type": "Shell", "script": "/etc/passwd"}, "must be a path relative to the project folder"),
    ("big", {"type": "File", "sourceFile": "files/big.bin", "destination": "/tmp/big"},
     "the File customizer takes at most 20 MB"),
    ("link", {"type": "Shell", "script": "scripts/escape.sh"}, "is outside the project folder"),
])
def test_bad_files_are_preflight_errors_naming_the_config_path(project, setup, step, problem):
    if setup == "big":
        with open(project / "files" / "big.bin", "wb") as f:
            f.truncate(FILE_LIMIT_BYTES + 1)
    if setup == "link":
        (project.parent / "outside.sh").write_text("echo out\n")
        (project / "scripts" / "escape.sh").symlink_to(project.parent / "outside.sh")
    key = "sourceFile" if step["type"] == "File" else "script"
    with pytest.raises(SpecError) as err:
        parse_stack_config(_config(SETUP, step), project_dir=project)
    assert [i.path for i in err.value.issues] == [f"{CU}[1].{key}"]
    assert problem in err.value.issues[0].message


def test_every_bad_file_is_reported_at_once_with_other_problems(project):
    config = _config({"type": "Shell", "script": "nope.sh"},
                     {"type": "File", "sourceFile": "files", "destination": "/tmp/x"})
    config["images"]["web"]["template"]["properties"]["buildTimeoutInMinutes"] = 3
    with pytest.raises(SpecError) as err:
        parse_stack_config(config, project_dir=project)
    assert {i.path for i in err.value.issues} == {
        f"{CU}[0].script", f"{CU}[1].sourceFile", "images.web.template.properties.buildTimeoutInMinutes"}


def test_a_file_of_exactly_20_mb_is_accepted(project):
    with open(project / "files" / "big.bin", "wb") as f:
        f.truncate(FILE_LIMIT_BYTES)
    parse_stack_config(_config({"type": "File", "sourceFile": "files/big.bin", "destination": "/tmp/b"}),
                       project_dir=project)


def test_a_pinned_checksum_must_match_the_file(project):
    wrong = {**SETUP, "sha256Checksum": "0" * 64}
    with pytest.raises(SpecError) as err:
        parse_stack_config(_config(wrong), project_dir=project)
    assert err.value.issues[0].path == f"{CU}[0].sha256Checksum"
    right = {**SETUP, "sha256Checksum": hashlib.sha256((project / "scripts" / "setup.sh").read_bytes()).hexdigest()}
    parse_stack_config(_config(right), project_dir=project)


def test_cli_validate_reports_a_missing_script_with_its_path(project):
    (project / "stacks").mkdir()
    doc = {"config": {f"aib-images:{k}": v for k, v in _config({"type": "Shell", "script": "gone.sh"}).items()}}
    (project / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    out, err = _streams()
    code = main(["validate", str(project / "stacks" / "Pulumi.dev.yaml")], Env(stdout=out, stderr=err))
    assert code == 2
    assert f"{CU}[0].script: 'gone.sh' does not exist" in err.getvalue()


# ---- render: the template names the blob and its checksum -----------------------------------------------------------
def test_render_fills_uri_and_checksum(project):
    spec, assets = resolve_template(parse_stack_config(_config(SETUP, MOTD)).images["web"].template, project)
    url = "https://acct.blob.core.windows.net/scripts"
    rendered = render_template(spec, identity_id="/x/id", scripts_url=url)
    setup, motd = rendered["properties"]["customize"]
    sha = {a.path: a.sha256 for a in assets}
    assert setup == {"type": "Shell", "name": "setup", "scriptUri": f"{url}/{sha['scripts/setup.sh']}/setup.sh",
                     "sha256Checksum": sha["scripts/setup.sh"]}
    assert motd["sourceUri"] == f"{url}/{blob_name(sha['files/motd'], 'files/motd')}"
    assert motd["sha256Checksum"] == sha["files/motd"] and "sourceFile" not in motd


def test_render_without_a_container_is_a_clear_error(project):
    spec, _ = resolve_template(parse_stack_config(_config(SETUP)).images["web"].template, project)
    with pytest.raises(SpecError, match="no blob container"):
        render_template(spec, identity_id="/x/id")


# ---- the template name follows the content ------------------------------------------------------------------------
def _template_name(run_pulumi, config: dict, project: Path) -> tuple[str, object]:
    stack = parse_stack_config(config, project_dir=project)
    run = run_pulumi(lambda: ImagePipeline("web", ImagePipelineArgs(
        image=stack.images["web"], resource_group_name=RG, image_name="web", subscription_id=SUB,
        project_dir=str(project))))
    return run.inputs("web-template")["imageTemplateName"], run


def test_unchanged_script_same_name_edited_script_new_name(run_pulumi, project):
    first, _ = _template_name(run_pulumi, _config(SETUP, MOTD), project)
    again, _ = _template_name(run_pulumi, _config(SETUP, MOTD), project)
    assert first == again
    (project / "scripts" / "setup.sh").write_text("#!/bin/bash\necho setup v2\n")
    edited, run = _template_name(run_pulumi, _config(SETUP, MOTD), project)
    assert edited != first
    new_sha = hashlib.sha256(b"#!/bin/bash\necho setup v2\n").hexdigest()
    blobs = [r for r in run.of_type("ScriptBlob")]
    assert {run.inputs(b["name"])["sha256"] for b in blobs} == {new_sha, hashlib.sha256(b"hello\n").hexdigest()}


def test_pipeline_resolves_unresolved_specs_itself(run_pulumi, project):
    """Python callers may skip parse-time resolution: the component hashes the files from project_dir."""
    resolved, _ = _template_name(run_pulumi, _config(SETUP), project)
    stack = parse_stack_config(_config(SETUP))  # no project_dir: no checksum yet
    run = run_pulumi(lambda: ImagePipeline("web", ImagePipelineArgs(
        image=stack.images["web"], resource_group_name=RG, image_name="web", subscription_id=SUB,
        project_dir=str(project))))
    assert run.inputs("web-template")["imageTemplateName"] == resolved


# ---- resources: security settings, container-scoped roles, ordering ---------------------------------------------------
def test_storage_account_and_container_are_private(run_pulumi, project):
    _, run = _template_name(run_pulumi, _config(SETUP, MOTD), project)
    account = run.inputs("web-scripts")
    assert account["accountName"] == naming.scripts_account_name(SUB, RG, "web")
    assert len(account["accountName"]) <= 24 and account["accountName"].isalnum()
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["allowCrossTenantReplication"] is False
    assert "networkRuleSet" not in account  # reachable from any network unless ScriptsNetwork denies it
    container = run.inputs("web-scripts-container")
    assert container["publicAccess"] == "None" and container["containerName"] == "scripts"
    blob_service = run.inputs("web-scripts-blob-service")
    assert blob_service["accountName"] == account["accountName"] and blob_service["blobServicesName"] == "default"
    assert blob_service["isVersioningEnabled"] is True
    assert blob_service["deleteRetentionPolicy"] == {"enabled": True, "days": 7}
    assert blob_service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 7}


def test_scripts_network_denies_public_access_but_the_listed_subnets_and_ranges(run_pulumi):
    import pulumi

    from components.declare.scripts import ScriptStorage, ScriptsNetwork, declare_script_storage

    subnet = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/build"
    where = ScriptStorage(SUB, RG, "stscripts0123", "scripts", created=True)
    run = run_pulumi(lambda: declare_script_storage(
        "web", where, [], location="westeurope", tags={}, manage_roles=False, opts=pulumi.ResourceOptions(),
        network=ScriptsNetwork(deny_public=True, subnet_ids=(subnet,), ip_ranges=("203.0.113.7",))))
    rules = run.inputs("web-scripts")["networkRuleSet"]
    assert rules["defaultAction"] == "Deny" and rules["bypass"] == "AzureServices"
    assert [r["virtualNetworkResourceId"] for r in rules["virtualNetworkRules"]] == [subnet]
    assert [r["iPAddressOrRange"] for r in rules["ipRules"]] == ["203.0.113.7"]


def test_roles_are_scoped_to_the_container_only(run_pulumi, project):
    _, run = _template_name(run_pulumi, _config(SETUP), project)
    account_id = naming.storage_account_id(SUB, RG, naming.scripts_account_name(SUB, RG, "web"))
    container_id = f"{account_id}/blobServices/default/containers/scripts"
    reader = run.inputs("web-repo-files-reader")
    assert reader["scope"] == container_id
    assert reader["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_READER)
    assert reader["principalType"] == "ServicePrincipal"
    uploader = run.inputs("web-repo-files-uploader")
    assert uploader["scope"] == container_id and uploader["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_CONTRIBUTOR)
    # Nothing else anywhere in the storage account.
    storage_scoped = [r for r in run.of_type("RoleAssignment") if "Microsoft.Storage" in run.inputs(r["name"])["scope"]]
    assert {run.inputs(r["name"])["scope"] for r in storage_scoped} == {container_id}
    # The reader assignment waits for the container; the template waits for the blobs and the reader.
    assert "web-scripts-container" in run.dependency_names(run.named("web-repo-files-reader"))
    template_deps = run.dependency_names(run.named("web-template"))
    assert {b["name"] for b in run.of_type("ScriptBlob")} <= template_deps
    assert "web-repo-files-reader" in template_deps


def test_a_caller_named_account_gets_its_own_container_and_no_new_account(run_pulumi, project):
    account_id = f"/subscriptions/{SUB}/resourceGroups/rg-shared/providers/Microsoft.Storage/storageAccounts/stshared"
    _, run = _template_name(run_pulumi, _config(SETUP, scriptsStorageAccountId=account_id), project)
    assert not [r for r in run.of_type("StorageAccount")]
    container = run.inputs("web-scripts-container")
    assert container["accountName"] == "stshared" and container["resourceGroupName"] == "rg-shared"
    assert container["containerName"] == "aib-test-web"
    template = run.inputs("web-template")
    assert template["customize"][0]["scriptUri"].startswith("https://stshared.blob.core.windows.net/aib-test-web/")


def test_manage_roles_false_declares_no_role_assignments(run_pulumi, project):
    _, run = _template_name(run_pulumi, _config(SETUP, manageRoles=False), project)
    assert run.of_type("RoleAssignment") == []
    assert len(run.of_type("ScriptBlob")) == 1


# ---- synth and render show the resolved URIs and checksums ------------------------------------------------------
def test_synth_and_render_of_the_dev_stack_show_uris_and_checksums():
    result = synth("dev", project_dir=ROOT)
    files = {f["path"]: f for f in result["files"]["ubuntu-2204"]}
    setup = files["scripts/linux/setup.sh"]
    assert setup["sha256"] == hashlib.sha256((ROOT / "scripts/linux/setup.sh").read_bytes()).hexdigest()
    customize = result["templates"]["ubuntu-2204"]["properties"]["customize"]
    assert {"type": "Shell", "name": "setup", "scriptUri": setup["uri"],
            "sha256Checksum": setup["sha256"]} in customize
    assert any(c.get("sourceUri") == files["files/linux/motd"]["uri"] for c in customize)

    out, err = _streams()
    assert main(["synth", "--stack", "dev"], Env(stdout=out, stderr=err)) == 0
    assert setup["uri"] in out.getvalue() and f"sha256: {setup['sha256']}" in out.getvalue()
    out, err = _streams()
    assert main(["render", "--stack", "dev"], Env(stdout=out, stderr=err)) == 0
    rendered = json.loads(out.getvalue())
    assert any(c.get("scriptUri") == setup["uri"] and c.get("sha256Checksum") == setup["sha256"]
               for c in rendered["properties"]["customize"])


def test_synth_of_a_copy_with_an_edited_script_renames_the_template(tmp_path):
    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / item, tmp_path / item)
    for folder in ("stacks", "scripts/linux", "files"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    before = synth("dev", project_dir=tmp_path)["templates"]["ubuntu-2204"]["name"]
    assert synth("dev", project_dir=tmp_path)["templates"]["ubuntu-2204"]["name"] == before
    with open(tmp_path / "scripts/linux/setup.sh", "a") as f:
        f.write("echo one more line\n")
    assert synth("dev", project_dir=tmp_path)["templates"]["ubuntu-2204"]["name"] != before


def _streams():
    import io

    return io.StringIO(), io.StringIO()


def test_container_names_are_valid():
    for stack, image in [("dev", "web"), ("Prod_EU", "Ubuntu_22.04"), ("s" * 40, "i" * 40)]:
        name = naming.scripts_container_name("aib-images", stack, image)
        assert 3 <= len(name) <= 63 and name == name.lower() and "--" not in name
        assert all(c.isalnum() or c == "-" for c in name) and name[0].isalnum() and name[-1].isalnum()


