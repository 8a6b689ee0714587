"""Structural errors: discriminated unions, wrong-case and unknown keys, missing fields, all errors at once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.model import SpecError, check_warnings, parse_template
from tests.unit.spec_samples import (
    DELETE, GALLERY_VERSION, IDENTITY, SUBNET, issues_of, linux_template, set_at, windows_template,
)

CU, DIST = "properties.customize", "properties.distribute"


def _one_issue(doc):
    issues = issues_of(doc)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


@pytest.mark.parametrize("path,value,where,expected", [
    ("properties.source.type", "ISO", "properties.source", "'PlatformImage', 'ManagedImage', 'SharedImageVersion'"),
    (f"{CU}[0].type", "Bash", f"{CU}[0]", "'Shell', 'PowerShell', 'File', 'WindowsRestart', 'WindowsUpdate'"),
    ("properties.validate.inVMValidations[0].type", "WindowsRestart", "properties.validate.inVMValidations[0]",
     "'Shell', 'PowerShell', 'File'"),
    (f"{DIST}[0].type", "Blob", f"{DIST}[0]", "'ManagedImage', 'SharedImage', 'VHD'"),
    (f"{DIST}[0].versioning.scheme", "Newest", f"{DIST}[0].versioning", "'Latest', 'Source'"),
])
def test_unknown_tag_lists_expected_tags(path, value, where, expected):
    issue = _one_issue(set_at(linux_template(), path, value))
    assert issue.path == where
    assert repr(value) in issue.message
    assert issue.hint == f"expected one of {expected}"


@pytest.mark.parametrize("path,where", [
    ("properties.source.type", "properties.source"),
    (f"{CU}[0].type", f"{CU}[0]"),
    (f"{DIST}[0].type", f"{DIST}[0]"),
])
def test_missing_tag(path, where):
    issue = _one_issue(set_at(linux_template(), path, DELETE))
    assert (issue.path, issue.message) == (where, "'type' is required")


def test_wrong_case_tag_key_says_so():
    doc = linux_template()
    source = doc["properties"]["source"]
    source["Type"] = source.pop("type")
    issue = _one_issue(doc)
    assert (issue.path, issue.message) == ("properties.source", "'type' is required")
    assert "did you mean 'type'" in issue.hint


@pytest.mark.parametrize("path,wrong,right", [
    ("properties.source", "imageVersionID", "imageVersionId"),
    ("properties", "BuildTimeoutInMinutes", "buildTimeoutInMinutes"),
    ("properties.vmProfile", "osDiskSizeGb", "osDiskSizeGB"),
    ("properties.validate", "inVmValidations", "inVMValidations"),
    (f"{CU}[0]", "Inline", "inline"),
    (f"{DIST}[0]", "runoutputname", "runOutputName"),
    ("", "Location", "location"),
])
def test_wrong_case_key_did_you_mean(path, wrong, right):
    doc = linux_template()
    if path == "properties.source":
        doc["properties"]["source"] = {"type": "SharedImageVersion", "imageVersionId": GALLERY_VERSION}
    if path == "properties.vmProfile":
        doc["properties"]["vmProfile"] = {"osDiskSizeGB": 30}
    if path == "properties.validate":
        doc["properties"]["validate"] = {"inVMValidations": doc["properties"]["validate"]["inVMValidations"]}
    node = doc
    for part in [p for p in path.replace("[0]", ".0").split(".") if p]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[wrong] = node.pop(right)
    issues = {i.path: i for i in issues_of(doc)}
    wrong_path = f"{path}.{wrong}" if path else wrong
    assert issues[wrong_path].message == f"unknown field '{wrong}'"
    assert issues[wrong_path].hint == f"field names are case-sensitive: did you mean '{right}'?"


def test_misspelt_key_suggests_closest_and_unrelated_lists_allowed():
    doc = linux_template()
    doc["properties"]["customize"][0]["inlin"] = ["x"]
    doc["properties"]["customize"][0]["colour"] = "blue"
    issues = {i.path: i for i in issues_of(doc)}
    assert issues[f"{CU}[0].inlin"].hint == "did you mean 'inline'?"
    assert issues[f"{CU}[0].colour"].hint == ("allowed: checksumOptOut, inline, name, script, scriptUri, sha256Checksum, "
                                              "type")


@pytest.mark.parametrize("path,missing", [
    ("location", "location"),
    ("properties.source", "source"),
    ("properties.source.publisher", "publisher"),
    (f"{DIST}[0].galleryImageId", "galleryImageId"),
    (f"{DIST}[0].runOutputName", "runOutputName"),
    (f"{CU}[1].destination", "destination"),
    (f"{DIST}[0].targetRegions[0].name", "name"),
])
def test_missing_required_field(path, missing):
    issue = _one_issue(set_at(linux_template(), path, DELETE))
    assert (issue.path, issue.message, issue.hint) == (path, "required field is missing", f"add '{missing}'")


@pytest.mark.parametrize("path", ["extra", "properties.extra", "properties.source.extra", f"{CU}[1].extra",
                                  f"{DIST}[0].targetRegions[0].extra", "identity.extra"])
def test_extra_key(path):
    issue = _one_issue(set_at(linux_template(), path, 1))
    assert issue.path == path
    assert issue.message == "unknown field 'extra'"


@pytest.mark.parametrize("path,value,message", [
    ("tags.Source", 5, "Input should be a valid string"),
    (f"{DIST}[0].artifactTags.Latest", ["x"], "Input should be a valid string"),
    ("properties.managedResourceTags.File", None, "Input should be a valid string"),
])
def test_dict_keys_that_look_like_union_tags_keep_their_path(path, value, message):
    issue = _one_issue(set_at(linux_template(), path, value))
    assert issue.path == path
    assert issue.message.startswith(message)


@pytest.mark.parametrize("path", ["Latest", "properties.Shell", "properties.source.VHD"])
def test_unknown_keys_named_like_union_tags_keep_their_path(path):
    issue = _one_issue(set_at(linux_template(), path, 1))
    assert issue.path == path
    assert issue.message == f"unknown field '{path.rsplit('.', 1)[-1]}'"


def test_unknown_key_is_quoted_on_one_line():
    issue = _one_issue(set_at(linux_template(), "properties.bad\nkey", 1))
    assert issue.message == "unknown field 'bad\\nkey'"


def test_bad_dict_key_is_named_without_pydantic_markers():
    doc = set_at(linux_template(), "identity.userAssignedIdentities", {"my-identity": {}})
    issue = _one_issue(doc)
    assert issue.path == "identity.userAssignedIdentities.my-identity"
    assert "'my-identity' is not an Azure resource id" in issue.message


def test_all_errors_at_once():
    doc = windows_template(name="win golden")
    props = doc["properties"]
    props["buildTimeoutInMinutes"] = 3
    props["customize"][0]["runElevated"] = False                          # runAsSystem without runElevated
    props["customize"][1]["restartTimeout"] = "soon"
    props["customize"].append({"type": "Shell", "name": "bash", "inline": ["ls"]})  # Shell on Windows
    props["customize"].append({"type": "File", "sourceUri": "https://e.com/f"})     # no destination
    props["distribute"].append({"type": "VHD", "runOutputName": "ubuntu-vhd", "tags": {}})  # legacy key
    props["distribute"].append({"type": "SharedImage", "galleryImageId": SUBNET, "runOutputName": "sig"})
    props["vmProfile"] = {"osDiskSizeGB": -1, "vnetConfig": {"proxyVmSize": "Standard_A1_v2"}}
    doc["identity"]["userAssignedIdentities"]["/subscriptions/x"] = {}
    doc["extension"] = True
    with pytest.raises(SpecError) as info:
        parse_template(doc)
    paths = [i.path for i in info.value.issues]
    assert sorted(paths) == sorted([
        "name",
        "properties.customize[0].runAsSystem",
        "properties.customize[1].restartTimeout",
        "properties.customize[4].destination",
        "properties.distribute[1].tags",
        "properties.distribute[2].galleryImageId",
        "properties.vmProfile.osDiskSizeGB",
        "identity.userAssignedIdentities./subscriptions/x",
        "extension",
    ])
    assert str(info.value).startswith("9 problems found\n")


def test_rule_errors_are_all_reported_together():
    doc = linux_template()
    props = doc["properties"]
    props["buildTimeoutInMinutes"] = 2
    props["customize"][0] = {"type": "Shell", "name": "get", "scriptUri": "http://e.com/a.sh"}
    props["customize"][1]["destination"] = "/opt/x"
    props["customize"].append({"type": "WindowsRestart", "name": "get"})
    props["distribute"].append({"type": "VHD", "runOutputName": "ubuntu-sig"})
    props["validate"]["sourceValidationOnly"] = True
    paths = [i.path for i in issues_of(doc)]
    assert sorted(paths) == sorted([
        "properties.buildTimeoutInMinutes",
        "properties.distribute[0].runOutputName",
        "properties.distribute[1].runOutputName",
        "properties.customize[1].destination",
        "properties.customize[2].type",
    ])
    doc["properties"]["buildTimeoutInMinutes"] = 0
    doc["properties"]["customize"][1]["destination"] = "/tmp/x"
    doc["properties"]["customize"].pop()
    doc["properties"]["distribute"].pop()
    warnings = [w.path for w in check_warnings(parse_template(doc))]
    assert sorted(warnings) == sorted([
        "properties.customize[0].scriptUri",  # plain http
        "properties.customize[0].scriptUri",  # no sha256Checksum
        "properties.customize[1].sourceUri",  # no sha256Checksum
        "properties.validate.sourceValidationOnly",
    ])


def test_spec_is_frozen_and_python_names_are_snake_case():
    spec = parse_template(linux_template())
    assert spec.properties.build_timeout_in_minutes == 60
    assert spec.identity.identity_id == IDENTITY
    with pytest.raises(ValidationError, match="frozen"):
        spec.location = "eastus"  # type: ignore[misc]
