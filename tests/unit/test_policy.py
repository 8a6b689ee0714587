"""The policy pack (`policy/`): each rule passes and fails on hand-built inputs, the real dev/prod synth output passes
every rule, and the pack works through pulumi-policy's analyzer protocol (the path `pulumi preview --policy-pack`
takes). pulumi-policy for Python ships no test harness, so rules run through its public `ResourceValidationArgs`
/ `StackValidationArgs` and, once, through its analyzer servicer with real protobuf requests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer, EnforcementLevel

from components.synth import synth
from policy.golden_image_rules import (
    CONTRIBUTOR,
    IDENTITY,
    OWNER,
    PACK_NAME,
    POLICIES,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    TEMPLATE,
)
from tests.conftest import ROOT

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = f"{SUB}/resourceGroups/rg-golden-images"
STAGING = f"{SUB}/resourceGroups/rg-aib-staging-x"
IDENTITY_ID = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-x"
PRINCIPAL = "d8349265-55dd-5e4c-81e1-309bdb686853"
SHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
BY_NAME = {p.name: p for p in POLICIES}


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)  # type: ignore[arg-type]


def violations(policy_name: str, resource_type: str, props: dict, config: dict | None = None) -> list[str]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, f"urn:pulumi:test::aib::{resource_type}::r", "r", _opts(),
                                  None, config)
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def template(**properties: Any) -> dict:
    base = {
        "imageTemplateName": "x-0123456789", "location": "westeurope", "buildTimeoutInMinutes": 90,
        "identity": {"type": "UserAssigned", "userAssignedIdentities": [IDENTITY_ID]},
        "stagingResourceGroup": STAGING,
        "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "o", "sku": "s", "version": "latest"},
        "customize": [{"type": "Shell", "name": "baseline", "scriptUri": "https://example.org/b.sh",
                       "sha256Checksum": SHA},
                      {"type": "Shell", "name": "inline", "inline": ["echo hi"]},
                      {"type": "File", "name": "motd", "sourceUri": "https://example.org/motd",
                       "destination": "/tmp/motd"}],
        "validate": {"inVMValidations": [{"type": "PowerShell", "name": "check", "scriptUri": "https://example.org/c.ps1",
                                          "sha256Checksum": SHA}]},
        "distribute": [{"type": "VHD", "runOutputName": "x-vhd"}],
    }
    base.update(properties)
    return base


def _with_step(path: str, index: int, **changes: Any) -> dict:
    props = copy.deepcopy(template())
    steps = props["customize"] if path == "customize" else props["validate"]["inVMValidations"]
    steps[index].update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del steps[index][key]
    return props


def test_the_pack_has_the_documented_rules():
    assert [p.name for p in POLICIES] == ["aib-script-checksum", "aib-https-uris", "aib-build-timeout",
                                          "aib-no-broad-role-assignment", "aib-custom-role-scoped",
                                          "aib-identity-least-privilege"]
    main = (ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in main and "POLICIES" in main
    assert yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())["runtime"]["name"] == "python"


# --- one passing and failing table per rule ---------------------------------------------------------------------

@pytest.mark.parametrize("props,expected", [
    (template(), []),
    (_with_step("customize", 0, sha256Checksum=None), [r"customize\[0\] \(baseline\): scriptUri .* no sha256Checksum"]),
    (_with_step("customize", 0, sha256Checksum=""), [r"customize\[0\]"]),
    (_with_step("customize", 0, sha256Checksum="abc"), [r"customize\[0\]"]),
    (_with_step("validate", 0, sha256Checksum=None), [r"validate\.inVMValidations\[0\] \(check\)"]),
])
def test_script_checksum(props, expected):
    found = violations("aib-script-checksum", TEMPLATE, props)
    assert len(found) == len(expected), found
    for pattern, message in zip(expected, found):
        assert __import__("re").search(pattern, message), message


@pytest.mark.parametrize("props,expected", [
    (template(), 0),
    (_with_step("customize", 0, scriptUri="http://example.org/b.sh"), 1),
    (_with_step("customize", 2, sourceUri="http://example.org/motd"), 1),
    (_with_step("validate", 0, scriptUri="ftp://example.org/c.ps1"), 1),
    (_with_step("customize", 0, scriptUri="HTTPS://example.org/b.sh"), 0),
])
def test_https_uris(props, expected):
    found = violations("aib-https-uris", TEMPLATE, props)
    assert len(found) == expected, found
    assert all("is not https" in m for m in found)


@pytest.mark.parametrize("minutes,config,expected", [
    (90, None, None),
    (480, None, None),
    (None, None, "is not set"),
    (0, None, "is not set"),
    (481, None, "more than the 480 minutes"),
    (300, {"maxMinutes": 240}, "more than the 240 minutes"),
])
def test_build_timeout(minutes, config, expected):
    props = template()
    if minutes is None:
        del props["buildTimeoutInMinutes"]
    else:
        props["buildTimeoutInMinutes"] = minutes
    found = violations("aib-build-timeout", TEMPLATE, props, config)
    assert (found == []) if expected is None else (len(found) == 1 and expected in found[0]), found


@pytest.mark.parametrize("scope,role,bad", [
    (STAGING, CONTRIBUTOR, False),
    (SUB, CONTRIBUTOR, True),
    (SUB + "/", CONTRIBUTOR.upper(), True),
    (SUB, OWNER, True),
    ("/providers/Microsoft.Management/managementGroups/mg-root", CONTRIBUTOR, True),
    ("/", OWNER, True),
    (SUB, "acdd72a7-3385-48ef-bd42-f606fba81ae7", False),  # Reader at subscription scope is not broad
])
def test_no_broad_role_assignment(scope, role, bad):
    props = {"scope": scope, "principalId": PRINCIPAL, "principalType": "ServicePrincipal",
             "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"}
    found = violations("aib-no-broad-role-assignment", ROLE_ASSIGNMENT, props)
    assert bool(found) == bad, found


@pytest.mark.parametrize("props,count", [
    ({"assignableScopes": [RG], "permissions": [{"actions": ["Microsoft.Compute/images/write"]}]}, 0),
    ({"assignableScopes": [SUB], "permissions": [{"actions": ["Microsoft.Compute/images/write"]}]}, 1),
    ({"assignableScopes": [RG], "permissions": [{"actions": ["*"], "dataActions": ["*"]}]}, 2),
])
def test_custom_role_scoped(props, count):
    assert len(violations("aib-custom-role-scoped", ROLE_DEFINITION, props)) == count


def test_rules_ignore_other_resource_types():
    assert violations("aib-build-timeout", ROLE_ASSIGNMENT, {}) == []
    assert violations("aib-no-broad-role-assignment", TEMPLATE, {"scope": SUB,
                                                                 "roleDefinitionId": CONTRIBUTOR}) == []


def _resource(kind: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(kind, props, f"urn:pulumi:test::aib::{kind}::{name}", name, _opts(), None, None, [], {})


def stack_violations(resources: list[PolicyResource]) -> list[tuple[str, Any]]:
    policy = BY_NAME["aib-identity-least-privilege"]
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, Any]] = []
    policy.validate(StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn)))
    return found


def _assignment(name: str, scope: str, role: str, principal: str = PRINCIPAL) -> PolicyResource:
    return _resource(ROLE_ASSIGNMENT, name, {"scope": scope, "principalId": principal,
                                             "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/"
                                                                 f"roleDefinitions/{role}"})


@pytest.mark.parametrize("assignment,bad", [
    (_assignment("staging", STAGING, CONTRIBUTOR), False),
    (_assignment("gallery", f"{RG}/providers/Microsoft.Compute/galleries/g/images/i", "b65a8e6a-0000"), False),
    (_assignment("rg-contributor", RG, CONTRIBUTOR), True),
    (_assignment("sub-custom", SUB, "b65a8e6a-0000"), True),
    (_assignment("someone-else", SUB, OWNER, principal="another-principal"), False),
])
def test_identity_least_privilege(assignment, bad):
    resources = [_resource(TEMPLATE, "t", template()),
                 _resource(IDENTITY, "id", {"resourceName": "id-aib-x", "principalId": PRINCIPAL}), assignment]
    found = stack_violations(resources)
    assert bool(found) == bad, found
    if bad:
        assert found[0][1] == assignment.urn  # the violation names the assignment


def test_identity_rule_reads_template_outputs_too():
    # After an update stack policies see outputs, where the identity is a map id -> {principalId, clientId}.
    props = template(identity={"type": "UserAssigned", "userAssignedIdentities": {IDENTITY_ID: {"principalId": PRINCIPAL}}})
    resources = [_resource(TEMPLATE, "t", props), _resource(IDENTITY, "id", {"name": "id-aib-x", "principalId": PRINCIPAL}),
                 _assignment("sub", SUB, CONTRIBUTOR)]
    assert len(stack_violations(resources)) == 1


# --- the real stacks pass every rule --------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_synthesized_stacks_pass_every_rule(stack):
    result = synth(stack, project_dir=ROOT)
    checked = {p.name: 0 for p in POLICIES}
    for r in result["resources"]:
        for policy in POLICIES:
            if isinstance(policy, ResourceValidationPolicy):
                found = violations(policy.name, r["type"], r["inputs"])
                assert found == [], f"{stack}: {r['name']} violates {policy.name}: {found}"
                checked[policy.name] += r["type"] in (TEMPLATE, ROLE_ASSIGNMENT, ROLE_DEFINITION)
    # The identity rule needs the identity's principal id, an output: synth exports it per image.
    principals = {o["identityId"].rsplit("/", 1)[-1]: o["identityPrincipalId"] for o in result["outputs"].values()}
    resources = []
    for r in result["resources"]:
        props = dict(r["inputs"])
        if r["type"] == IDENTITY:
            props["principalId"] = principals[props["resourceName"]]
        resources.append(_resource(r["type"], r["name"], props))
    assert stack_violations(resources) == []
    # Not vacuous: the identity holds grants the rule looked at, the rules saw templates and assignments, and
    # granting the identity Contributor on the subscription would be caught.
    assert any(r.props.get("principalId") in principals.values() for r in resources if r.resource_type == ROLE_ASSIGNMENT)
    assert checked["aib-script-checksum"] and checked["aib-no-broad-role-assignment"]
    broad = _assignment("sub", SUB, CONTRIBUTOR, principal=next(iter(principals.values())))
    assert len(stack_violations(resources + [broad])) == 1


# --- through the analyzer protocol ------------------------------------------------------------------------------------

def _struct(props: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def test_pack_through_the_analyzer_protocol():
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    bad = template(buildTimeoutInMinutes=0)
    bad["customize"][0]["scriptUri"] = "http://example.org/b.sh"
    del bad["customize"][0]["sha256Checksum"]
    response = servicer.Analyze(proto.AnalyzeRequest(type=TEMPLATE, properties=_struct(bad), urn="urn:t", name="t"),
                                None)
    assert sorted(d.policyName for d in response.diagnostics) == ["aib-build-timeout", "aib-https-uris",
                                                                   "aib-script-checksum"]
    assert all(d.policyPackName == PACK_NAME for d in response.diagnostics)
    assert any("'http://example.org/b.sh' is not https" in d.message for d in response.diagnostics)
    ok = servicer.Analyze(proto.AnalyzeRequest(type=TEMPLATE, properties=_struct(template()), urn="urn:t", name="t"),
                          None)
    assert list(ok.diagnostics) == []
    resources = [proto.AnalyzerResource(type=TEMPLATE, properties=_struct(template()), urn="urn:t", name="t"),
                 proto.AnalyzerResource(type=IDENTITY, properties=_struct({"resourceName": "id-aib-x",
                                                                           "principalId": PRINCIPAL}),
                                        urn="urn:id", name="id"),
                 proto.AnalyzerResource(type=ROLE_ASSIGNMENT, urn="urn:ra", name="ra", properties=_struct(
                     {"scope": SUB, "principalId": PRINCIPAL,
                      "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"}))]
    stack = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    assert [(d.policyName, d.urn) for d in stack.diagnostics] == [("aib-identity-least-privilege", "urn:ra")]
