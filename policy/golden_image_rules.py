"""Organisation rules for golden images, as Pulumi policies (pulumi-policy, Python).

Each rule is a plain function from resource inputs (camelCase, as azure-native receives them) to a list of
problems, so it is tested table-style without the engine; `POLICIES` wraps them for the policy pack:

- `aib-script-checksum`: every Shell/PowerShell step with a `scriptUri` (customizers and in-VM validators) pins the
  script with `sha256Checksum`, so a changed script fails the build instead of landing in the image.
- `aib-https-uris`: script and file URIs are https (a plain-http download can be tampered with on the way).
- `aib-build-timeout`: `buildTimeoutInMinutes` is set (0 means the service's 240-minute default) and at most the
  configured `maxMinutes` (default 480), so a hung build does not hold a VM for 16 hours.
- `aib-no-broad-role-assignment`: no role assignment grants Owner, Contributor or User Access Administrator at a
  subscription, management group or tenant scope.
- `aib-custom-role-scoped`: custom roles are assignable below subscription level only and grant no `*` action.
- `aib-identity-least-privilege` (stack): the template's identity holds no role at subscription scope or above, and
  its only broad role is Contributor on its own staging resource group.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "aib-golden-images"

TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

# Built-in role definition GUIDs (the same in every tenant).
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
BROAD_ROLES = {CONTRIBUTOR: "Contributor", OWNER: "Owner", USER_ACCESS_ADMINISTRATOR: "User Access Administrator"}

DEFAULT_MAX_BUILD_MINUTES = 480
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SUBSCRIPTION_OR_ABOVE = re.compile(
    r"^(/|/subscriptions/[^/]+/?|/providers/microsoft\.management/managementgroups/[^/]+/?)$", re.IGNORECASE)


def _steps(props: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(path, step) of every customizer and in-VM validator, paths as in the template (`customize[0]`)."""
    # A step that is a secret as a whole (inline commands) arrives masked in offline synthesis: it has no URI to check.
    for i, step in enumerate(props.get("customize") or []):
        if isinstance(step, Mapping):
            yield f"customize[{i}]", step
    validate = props.get("validate") or {}
    for i, step in enumerate(validate.get("inVMValidations") or [] if isinstance(validate, Mapping) else []):
        if isinstance(step, Mapping):
            yield f"validate.inVMValidations[{i}]", step


def _label(path: str, step: Mapping[str, Any]) -> str:
    return f"{path} ({step['name']})" if step.get("name") else path


def role_guid(role_definition_id: str) -> str:
    return str(role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def is_subscription_or_above(scope: str) -> bool:
    return bool(_SUBSCRIPTION_OR_ABOVE.match(str(scope or "")))


# --- rules on resource inputs ----------------------------------------------------------------------------------

def script_checksum_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for path, step in _steps(props):
        if step.get("type") in ("Shell", "PowerShell") and step.get("scriptUri"):
            checksum = step.get("sha256Checksum") or ""
            if not _SHA256.match(str(checksum)):
                problems.append(f"{_label(path, step)}: scriptUri {step['scriptUri']!r} has no sha256Checksum "
                                "(add the script's SHA-256, 64 hex characters)")
    return problems


def https_uri_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for path, step in _steps(props):
        for key in ("scriptUri", "sourceUri"):
            uri = step.get(key)
            if uri and not str(uri).lower().startswith("https://"):
                problems.append(f"{_label(path, step)}: {key} {uri!r} is not https")
    return problems


def build_timeout_problems(props: Mapping[str, Any], max_minutes: int = DEFAULT_MAX_BUILD_MINUTES) -> list[str]:
    minutes = props.get("buildTimeoutInMinutes")
    if not minutes:
        return ["buildTimeoutInMinutes is not set (0 means the service default of 240 minutes); "
                f"set it explicitly, at most {max_minutes}"]
    if int(minutes) > max_minutes:
        return [f"buildTimeoutInMinutes is {minutes}, more than the {max_minutes} minutes allowed"]
    return []


def role_assignment_problems(props: Mapping[str, Any]) -> list[str]:
    role = BROAD_ROLES.get(role_guid(props.get("roleDefinitionId") or ""))
    scope = props.get("scope") or ""
    if role and is_subscription_or_above(scope):
        return [f"grants {role} at {scope!r}: golden-image identities get roles on resource groups or resources only"]
    return []


def role_definition_problems(props: Mapping[str, Any]) -> list[str]:
    problems = [f"assignableScopes includes {s!r}: custom roles are assignable below subscription level only"
                for s in props.get("assignableScopes") or [] if is_subscription_or_above(s)]
    for i, permission in enumerate(props.get("permissions") or []):
        for kind in ("actions", "dataActions"):
            if "*" in (permission.get(kind) or []):
                problems.append(f"permissions[{i}].{kind} grants '*'")
    return problems


# --- rule on the whole stack -----------------------------------------------------------------------------------

def _identity_ids(template_props: Mapping[str, Any]) -> list[str]:
    # Inputs carry a list of ids; outputs (what stack policies see after an update) a map id -> {principalId, ...}.
    identities = (template_props.get("identity") or {}).get("userAssignedIdentities") or []
    return list(identities.keys() if isinstance(identities, Mapping) else identities)


def identity_problems(resources: Iterable[Any]) -> list[tuple[str, Optional[str]]]:
    """(message, urn) for each role of a template identity that is broader than the build needs. `resources` have
    `resource_type`, `props` and `urn` (pulumi_policy's `PolicyResource`)."""
    resources = list(resources)
    identities = {str(r.props.get("name") or r.props.get("resourceName") or "").lower(): r
                  for r in resources if r.resource_type == IDENTITY}
    assignments = [r for r in resources if r.resource_type == ROLE_ASSIGNMENT]
    problems: list[tuple[str, Optional[str]]] = []
    for template in (r for r in resources if r.resource_type == TEMPLATE):
        staging = str(template.props.get("stagingResourceGroup") or "").rstrip("/").lower()
        for identity_id in _identity_ids(template.props):
            identity = identities.get(identity_id.rstrip("/").rsplit("/", 1)[-1].lower())
            principal = identity.props.get("principalId") if identity is not None else None
            if not principal:
                continue  # an identity from outside the stack: its grants are not declared here
            for ra in assignments:
                if ra.props.get("principalId") != principal:
                    continue
                scope = str(ra.props.get("scope") or "")
                role = BROAD_ROLES.get(role_guid(ra.props.get("roleDefinitionId") or ""))
                if is_subscription_or_above(scope):
                    problems.append((f"the template identity {identity_id!r} has a role at {scope!r}", ra.urn))
                elif role and scope.rstrip("/").lower() != staging:
                    problems.append((f"the template identity {identity_id!r} is {role} on {scope!r}, which is not "
                                     f"its staging resource group", ra.urn))
    return problems


# --- the policies ------------------------------------------------------------------------------------------------

def _resource_policy(name: str, description: str, resource_type: str, check, **kwargs) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != resource_type:
            return
        for problem in check(args):
            report_violation(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _max_minutes(args: ResourceValidationArgs) -> int:
    return int((args.get_config() or {}).get("maxMinutes", DEFAULT_MAX_BUILD_MINUTES))


def _validate_identities(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for message, urn in identity_problems(args.resources):
        report_violation(message, urn)


POLICIES = [
    _resource_policy("aib-script-checksum", "Image template scripts are pinned with sha256Checksum.", TEMPLATE,
                     lambda args: script_checksum_problems(args.props)),
    _resource_policy("aib-https-uris", "Image template script and file URIs are https.", TEMPLATE,
                     lambda args: https_uri_problems(args.props)),
    _resource_policy("aib-build-timeout", "Image template builds have an explicit, bounded timeout.", TEMPLATE,
                     lambda args: build_timeout_problems(args.props, _max_minutes(args)),
                     config_schema=PolicyConfigSchema(properties={"maxMinutes": {
                         "type": "integer", "minimum": 6, "maximum": 960, "default": DEFAULT_MAX_BUILD_MINUTES}})),
    _resource_policy("aib-no-broad-role-assignment",
                     "No Owner, Contributor or User Access Administrator at subscription scope or above.",
                     ROLE_ASSIGNMENT, lambda args: role_assignment_problems(args.props)),
    _resource_policy("aib-custom-role-scoped",
                     "Custom roles are assignable below subscription level and grant no '*' action.",
                     ROLE_DEFINITION, lambda args: role_definition_problems(args.props)),
    StackValidationPolicy(name="aib-identity-least-privilege",
                          description="The image template identity is Contributor on its staging resource group only.",
                          validate=_validate_identities, enforcement_level=EnforcementLevel.MANDATORY),
]
