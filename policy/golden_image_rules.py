"""Organisation rules for golden images, as Pulumi policies (pulumi-policy, Python).

Each rule is a plain function from resource inputs (camelCase, as azure-native receives them) to a list of
problems, so it is tested table-style without the engine; `POLICIES` wraps them for the policy pack. Mandatory unless
marked advisory; an organisation changes a level or a setting in `config.json` (Pulumi's policy-pack config format,
passed with `--policy-pack-config`).

- `aib-pinned-downloads`: every download is pinned with `sha256Checksum`: Shell/PowerShell `scriptUri` and File
  `sourceUri`, in customizers and in in-VM validators, so a changed file fails the build instead of landing in the
  image; and no inline command downloads code and runs it unchecked (`curl ... | sh`, `iwr ... | iex`,
  `Invoke-Expression (New-Object Net.WebClient).DownloadString(...)`). A step may opt out with a reason (the stack
  config's `checksumOptOut`, which the project renders as the template tag `aib-images.checksumOptOut.<step>`).
- `aib-checksum-opt-outs` (advisory): reports every such opt-out with its reason, so the waiver shows in the report.
- `aib-https-uris`: script and file URIs are https (a plain-http download can be tampered with on the way).
- `aib-build-timeout`: `buildTimeoutInMinutes` is set (0 means the service's 240-minute default) and at most
  `maxMinutes` (default 480), so a hung build does not hold a VM for 16 hours.
- `aib-build-vm-identities`: identities attached to the build VM (`vmProfile.userAssignedIdentities`) are on the
  `allowedIdentities` list (default: none). Every customizer script can use them, so each one is a deliberate choice.
- `aib-deprovision-kept`: a customizer that replaces the service's deprovisioning script (the override files the
  service reads, /tmp/DeprovisioningScript.sh and c:\\DeprovisioningScript.ps1) still generalizes the VM
  (`waagent ... -deprovision`, `sysprep ... /generalize`); an override the pack cannot read (a File download) fails.
- `aib-no-broad-role-assignment`: no role assignment grants a privileged administrator role (Owner, Contributor, User
  Access Administrator, Role Based Access Control Administrator, Reservations Administrator, Azure File Sync
  Administrator) at a subscription, management group or tenant scope.
- `aib-custom-role-scoped`: custom roles are assignable below subscription level only, grant no action or data action
  with a wildcard (`*` anywhere: `*`, `*/read`, `Microsoft.Compute/*/write`, `.../images/*`; wildcards in
  notActions only narrow a role and are fine) and no Microsoft.Authorization action beyond reads.
- `aib-identity-least-privilege` (stack): the template's identity holds no role at subscription scope or above, and
  no privileged role except Contributor on its own staging resource group.
- `aib-external-template-identity` (stack, advisory): a template identity the stack does not declare; its grants are
  made elsewhere, so the previous rule cannot see them.
- `aib-dedicated-staging` (stack, advisory): a `stagingResourceGroup` is a group this stack creates for that one
  template and puts nothing else in, since the template identity is Contributor there.

Known limits: a script fetched by `scriptUri` can do anything its content says (the checksum pins that content, the
pack does not read it); inline commands are seen as plain text in `pulumi preview`, masked in offline synthesis.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from pulumi_policy.proxy import UnknownValueError
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
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"

# Built-in role definition GUIDs (the same in every tenant): Azure's "privileged administrator roles", the ones that
# manage everything or grant access.
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
RESERVATIONS_ADMINISTRATOR = "a8889054-8d42-49c9-bc1c-52486c10e7cd"
FILE_SYNC_ADMINISTRATOR = "92b92042-07d9-4307-87f7-36a593fc5850"
PRIVILEGED_ROLES = {OWNER: "Owner", CONTRIBUTOR: "Contributor", USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
                    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
                    RESERVATIONS_ADMINISTRATOR: "Reservations Administrator",
                    FILE_SYNC_ADMINISTRATOR: "Azure File Sync Administrator"}

DEFAULT_MAX_BUILD_MINUTES = 480
# The files Image Builder runs instead of its default deprovisioning when a customizer creates them.
LINUX_DEPROVISION_FILE = "/tmp/DeprovisioningScript.sh"
WINDOWS_DEPROVISION_FILE = "c:\\DeprovisioningScript.ps1"
_GENERALIZE = {LINUX_DEPROVISION_FILE: (re.compile(r"waagent\b[^\n]*-deprovision", re.IGNORECASE),
                                        "waagent -force -deprovision+user"),
               WINDOWS_DEPROVISION_FILE: (re.compile(r"sysprep(\.exe)?\b[^\n]*/generalize", re.IGNORECASE),
                                          "Sysprep.exe /oobe /generalize /quiet /quit /mode:vm")}
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SUBSCRIPTION_OR_ABOVE = re.compile(
    r"^(/|/subscriptions/[^/]+/?|/providers/microsoft\.management/managementgroups/[^/]+/?)$", re.IGNORECASE)
_RESOURCE_GROUP_NAME = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)
_DOWNLOAD_KEYS = {"Shell": "scriptUri", "PowerShell": "scriptUri", "File": "sourceUri"}
#: Template tags carrying a step's checksum opt-out reason: this prefix + the step's path (`customize[0]`).
OPT_OUT_TAG = "aib-images.checksumOptOut."
# Inline commands that download code and run it unchecked. The pack runs in its own environment (policy/venv), without
# the project's packages, so it keeps its own copy of the pattern `components.spec.rules.FETCH_AND_RUN` warns with.
_FETCH = (r"(?:\bcurl|\bwget|\biwr|\birm|Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer"
          r"|\(?\s*New-Object\s+(?:System\.)?Net\.WebClient\s*\)?\s*\.\s*Download(?:String|Data))")
_RUN = r"(?:(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k|c|tc)?sh|pwsh|powershell(?:\.exe)?|iex|Invoke-Expression)(?![\w.-])"
_FETCH_AND_RUN = re.compile(rf"{_FETCH}[^\n|;]*\|\s*{_RUN}|{_RUN}\s+(?:-\S+\s+)*(?:<\(|-c\s+[\"']?\$\()\s*{_FETCH}"
                            rf"|(?:\biex|Invoke-Expression)\s*[( ]\s*[(\s]*{_FETCH}|\[scriptblock\]::Create\([(\s]*{_FETCH}",
                            re.IGNORECASE)


# --- helpers ---------------------------------------------------------------------------------------------------------

def _items(value: Any) -> Sequence[Any]:
    """A list input as a sequence (the analyzer passes lists as read-only proxies); a secret that offline synthesis
    masks (a string) or a missing value reads as empty."""
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in _items(value) if isinstance(v, Mapping)]


def _steps(props: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(path, step) of every customizer and in-VM validator, paths as in the template (`customize[0]`)."""
    for i, step in enumerate(_mappings(props.get("customize"))):
        yield f"customize[{i}]", step
    validate = props.get("validate")
    for i, step in enumerate(_mappings(validate.get("inVMValidations") if isinstance(validate, Mapping) else None)):
        yield f"validate.inVMValidations[{i}]", step


def _label(path: str, step: Mapping[str, Any]) -> str:
    return f"{path} ({step['name']})" if step.get("name") else path


def _without_query(uri: Any) -> str:
    """A URI without its query: a SAS token there is a secret, and policy messages are printed and stored."""
    return str(uri).split("?", 1)[0]


def _opt_outs(props: Mapping[str, Any]) -> dict[str, str]:
    """Step path -> opt-out reason, from the template's `aib-images.checksumOptOut.<step>` tags."""
    tags = props.get("tags")
    return {key[len(OPT_OUT_TAG):]: str(reason) for key, reason in (tags.items() if isinstance(tags, Mapping) else ())
            if str(key).startswith(OPT_OUT_TAG) and str(reason or "").strip()}


def _unpinned(step: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    """(what a step fetches without a pin, how to pin it), or None."""
    key = _DOWNLOAD_KEYS.get(str(step.get("type")))
    if key and step.get(key) and not _SHA256.match(str(step.get("sha256Checksum") or "")):
        return (f"{key} {_without_query(step[key])!r} has no sha256Checksum",
                "add the file's SHA-256, 64 hex characters")
    if _FETCH_AND_RUN.search("\n".join(str(line) for line in _items(step.get("inline")))):
        return ("inline commands download code and run it unchecked",
                "download to a file and check its SHA-256 before running it, or use scriptUri with sha256Checksum")
    return None


def _normalized_id(resource_id: str) -> str:
    return str(resource_id or "").rstrip("/").lower()


def _last_segment(resource_id: str) -> str:
    return _normalized_id(resource_id).rsplit("/", 1)[-1]


def role_guid(role_definition_id: str) -> str:
    return _last_segment(role_definition_id)


def is_subscription_or_above(scope: str) -> bool:
    return bool(_SUBSCRIPTION_OR_ABOVE.match(str(scope or "")))


def resource_group_name(resource_id: str) -> str:
    match = _RESOURCE_GROUP_NAME.search(str(resource_id or ""))
    return match.group(1).lower() if match else ""


# --- rules on template inputs ----------------------------------------------------------------------------------------

def pinned_download_problems(props: Mapping[str, Any]) -> list[str]:
    """Every step that fetches remote content unpinned and does not opt out (tag `aib-images.checksumOptOut.<step>`)."""
    opted_out = _opt_outs(props)
    return [f"{_label(path, step)}: {unpinned[0]} ({unpinned[1]}; or opt out with a reason: checksumOptOut)"
            for path, step in _steps(props) if path not in opted_out and (unpinned := _unpinned(step))]


def checksum_opt_out_reports(props: Mapping[str, Any]) -> list[str]:
    """One line per step that fetches remote content unpinned under an opt-out, with the stated reason."""
    opted_out = _opt_outs(props)
    return [f"{_label(path, step)}: {unpinned[0]}, by opt-out: {opted_out[path]!r}"
            for path, step in _steps(props) if path in opted_out and (unpinned := _unpinned(step))]


def https_uri_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for path, step in _steps(props):
        for key in ("scriptUri", "sourceUri"):
            uri = step.get(key)
            if uri and not str(uri).lower().startswith("https://"):
                problems.append(f"{_label(path, step)}: {key} {_without_query(uri)!r} is not https")
    return problems


def build_timeout_problems(props: Mapping[str, Any], max_minutes: int = DEFAULT_MAX_BUILD_MINUTES) -> list[str]:
    minutes = props.get("buildTimeoutInMinutes")
    if not minutes:
        return ["buildTimeoutInMinutes is not set (0 means the service default of 240 minutes); "
                f"set it explicitly, at most {max_minutes}"]
    if int(minutes) > max_minutes:
        return [f"buildTimeoutInMinutes is {minutes}, more than the {max_minutes} minutes allowed"]
    return []


def build_vm_identity_problems(props: Mapping[str, Any], allowed: Iterable[str] = ()) -> list[str]:
    vm_profile = props.get("vmProfile")
    attached = vm_profile.get("userAssignedIdentities") if isinstance(vm_profile, Mapping) else None
    allowed_ids = {_normalized_id(i) for i in allowed}
    return [f"vmProfile.userAssignedIdentities[{i}]: {identity!r} is attached to the build VM, where every customizer "
            "can use it, and is not on the policy's allowedIdentities list"
            for i, identity in enumerate(_items(attached))
            if _normalized_id(identity) not in allowed_ids]


def _deprovision_file(text: str) -> Optional[str]:
    """The override file a step's text names (the service finds the override by its file name)."""
    return next((path for path in _GENERALIZE if re.split(r"[\\/]", path)[-1].lower() in text.lower()), None)


def _inline_override_problem(label: str, step: Mapping[str, Any]) -> Optional[str]:
    inline = step.get("inline")
    text = "\n".join(str(line) for line in _items(inline))
    path = _deprovision_file(text)
    if path is None:
        return None
    pattern, default = _GENERALIZE[path]
    if pattern.search(text):
        return None
    return (f"{label}: writes {path} without generalizing the VM, which turns the service's deprovisioning off "
            f"(keep `{default}` in the override)")


def _file_override_problem(label: str, step: Mapping[str, Any]) -> Optional[str]:
    destination = str(step.get("destination") or "").replace("/", "\\").lower()
    for path in _GENERALIZE:
        if destination == path.replace("/", "\\").lower():
            return (f"{label}: replaces {path} with a downloaded file the policy cannot read; write the override "
                    "inline (deprovision.commands) so the generalize step can be checked")
    return None


def deprovision_problems(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for path, step in _steps(props):
        check = _file_override_problem if step.get("type") == "File" else _inline_override_problem
        problem = check(_label(path, step), step)
        if problem:
            problems.append(problem)
    return problems


# --- rules on role resources -----------------------------------------------------------------------------------------

def role_assignment_problems(props: Mapping[str, Any]) -> list[str]:
    role = PRIVILEGED_ROLES.get(role_guid(props.get("roleDefinitionId") or ""))
    scope = props.get("scope") or ""
    if role and is_subscription_or_above(scope):
        return [f"grants {role} at {scope!r}: golden-image identities get roles on resource groups or resources only"]
    return []


def _action_problem(kind: str, action: str) -> Optional[str]:
    if "*" in action:
        return f"{kind} grants the wildcard {action!r}: list the exact operations"
    if action.lower().startswith("microsoft.authorization/") and not action.lower().endswith("/read"):
        return f"{kind} grants {action!r}, which changes who may do what"
    return None


def role_definition_problems(props: Mapping[str, Any]) -> list[str]:
    problems = [f"assignableScopes includes {s!r}: custom roles are assignable below subscription level only"
                for s in _items(props.get("assignableScopes")) if is_subscription_or_above(s)]
    for i, permission in enumerate(_mappings(props.get("permissions"))):
        for kind in ("actions", "dataActions"):
            for action in _items(permission.get(kind)):
                problem = _action_problem(f"permissions[{i}].{kind}", str(action))
                if problem:
                    problems.append(problem)
    return problems


# --- rules on the whole stack ----------------------------------------------------------------------------------------

def _of_type(resources: Iterable[Any], resource_type: str) -> list[Any]:
    return [r for r in map(_typed, resources) if r.resource_type == resource_type]


def _identity_ids(template_props: Mapping[str, Any]) -> list[str]:
    # Inputs carry a list of ids; outputs (what stack policies see after an update) a map id -> {principalId, ...}.
    identity = template_props.get("identity")
    identities = identity.get("userAssignedIdentities") if isinstance(identity, Mapping) else None
    return list(identities.keys() if isinstance(identities, Mapping) else _items(identities))


def _declared_identities(resources: Iterable[Any]) -> dict[str, Any]:
    """The identities the stack declares, by lower-case name."""
    # The name input first: the `name` output is unknown in a preview of a new identity.
    return {str(r.props.get("resourceName") or r.props.get("name") or "").lower(): r
            for r in _of_type(resources, IDENTITY)}


def _template_identities(resources: list[Any]) -> Iterable[tuple[Any, str, Optional[Any]]]:
    """(template, identity id, the declared identity or None) for every identity of every template."""
    declared = _declared_identities(resources)
    for template in _of_type(resources, TEMPLATE):
        for identity_id in _identity_ids(template.props):
            yield template, identity_id, declared.get(_last_segment(identity_id))


def _grant_problem(identity_id: str, assignment: Any, staging: str) -> Optional[str]:
    scope = str(assignment.props.get("scope") or "")
    role_id = role_guid(assignment.props.get("roleDefinitionId") or "")
    if is_subscription_or_above(scope):
        return f"the template identity {identity_id!r} has a role at {scope!r}"
    if role_id not in PRIVILEGED_ROLES or (role_id == CONTRIBUTOR and _normalized_id(scope) == staging):
        return None
    where = "its staging resource group" if role_id == CONTRIBUTOR else "anywhere"
    return (f"the template identity {identity_id!r} is {PRIVILEGED_ROLES[role_id]} on {scope!r}; "
            f"it may be Contributor on its staging resource group only, and nothing broader {where}")


def _assigned_to(assignment: Any, identity: Any) -> bool:
    """Whether a role assignment is for `identity`: its principalId comes from the identity (known in a preview, when
    the id itself is not yet), or equals the identity's principal id."""
    sources = (getattr(assignment, "property_dependencies", None) or {}).get("principalId") or []
    if any(getattr(source, "urn", None) == identity.urn for source in sources):
        return True
    try:
        principal = identity.props.get("principalId")
        return bool(principal) and assignment.props.get("principalId") == principal
    except UnknownValueError:
        return False


def identity_problems(resources: Iterable[Any]) -> list[tuple[str, Optional[str]]]:
    """(message, urn) for each role of a template identity that is broader than the build needs. `resources` have
    `resource_type`, `props` and `urn` (pulumi_policy's `PolicyResource`)."""
    resources = list(resources)
    assignments = _of_type(resources, ROLE_ASSIGNMENT)
    problems: list[tuple[str, Optional[str]]] = []
    for template, identity_id, identity in _template_identities(resources):
        if identity is None:
            continue  # not declared here: aib-external-template-identity reports it
        staging = _normalized_id(template.props.get("stagingResourceGroup") or "")
        for assignment in (a for a in assignments if _assigned_to(a, identity)):
            problem = _grant_problem(identity_id, assignment, staging)
            if problem:
                problems.append((problem, assignment.urn))
    return problems


def external_identity_problems(resources: Iterable[Any]) -> list[tuple[str, Optional[str]]]:
    return [(f"the template identity {identity_id!r} is not declared in this stack, so its role assignments are "
             "made elsewhere and the policy cannot check them; review its grants", template.urn)
            for template, identity_id, identity in _template_identities(list(resources)) if identity is None]


def _staging_problem(template: Any, group: str, declared_groups: set[str], users: dict[str, list[Any]]) -> Optional[str]:
    staging = template.props.get("stagingResourceGroup")
    if group not in declared_groups:
        return (f"stagingResourceGroup {staging!r} is not created by this stack, so the policy cannot tell it is empty "
                "and dedicated; the template identity is Contributor there")
    others = [r.name for r in users.get(group, []) if r is not template]
    if others:
        return (f"stagingResourceGroup {staging!r} also holds {sorted(others)}; the template identity is Contributor "
                "there, so give each template a group of its own")
    return None


def staging_problems(resources: Iterable[Any]) -> list[tuple[str, Optional[str]]]:
    resources = list(resources)
    declared_groups = {str(r.props.get("resourceGroupName") or "").lower() for r in _of_type(resources, RESOURCE_GROUP)}
    users: dict[str, list[Any]] = {}  # resource group name -> resources placed in it or staging there
    for r in resources:
        if r.resource_type != RESOURCE_GROUP and r.props.get("resourceGroupName"):
            users.setdefault(str(r.props["resourceGroupName"]).lower(), []).append(r)
    templates = [t for t in _of_type(resources, TEMPLATE) if t.props.get("stagingResourceGroup")]
    for template in templates:
        users.setdefault(resource_group_name(template.props["stagingResourceGroup"]), []).append(template)
    problems = []
    for template in templates:
        problem = _staging_problem(template, resource_group_name(template.props["stagingResourceGroup"]),
                                   declared_groups, users)
        if problem:
            problems.append((problem, template.urn))
    return problems


# --- the policies ----------------------------------------------------------------------------------------------------

GENERIC = "azure-native:resources:Resource"


def _is_generic_template(resource: Any) -> bool:
    return (resource.resource_type == GENERIC
            and str(resource.props.get("resourceProviderNamespace") or "").lower() == "microsoft.virtualmachineimages"
            and str(resource.props.get("resourceType") or "").lower() == "imagetemplates")


class _AsTypedTemplate:
    """A template declared through azure-native's generic resource (api-versions the typed one cannot create), seen
    as the typed template: its ARM properties at the top, beside location, tags and identity. Everything else (urn,
    name, config, dependencies) is the resource's own."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self.resource_type = TEMPLATE
        self.props = {**dict(resource.props.get("properties") or {}),
                      **{k: resource.props.get(k) for k in ("location", "tags", "identity")}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


def _typed(resource: Any) -> Any:
    return _AsTypedTemplate(resource) if _is_generic_template(resource) else resource


def _resource_policy(name: str, description: str, resource_type: str, check, **kwargs) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        args = _typed(args)
        if args.resource_type != resource_type:
            return
        for problem in check(args):
            report_violation(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _stack_policy(name: str, description: str, check, **kwargs) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(args.resources):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _setting(args: ResourceValidationArgs, key: str, default: Any) -> Any:
    return (args.get_config() or {}).get(key, default)


POLICIES = [
    _resource_policy("aib-pinned-downloads",
                     "Image template scripts and files downloaded from a URI are pinned with sha256Checksum.",
                     TEMPLATE, lambda args: pinned_download_problems(args.props)),
    _resource_policy("aib-checksum-opt-outs",
                     "Steps that fetch remote content without sha256Checksum by opt-out, with the stated reason.",
                     TEMPLATE, lambda args: checksum_opt_out_reports(args.props),
                     enforcement_level=EnforcementLevel.ADVISORY),
    _resource_policy("aib-https-uris", "Image template script and file URIs are https.", TEMPLATE,
                     lambda args: https_uri_problems(args.props)),
    _resource_policy("aib-build-timeout", "Image template builds have an explicit, bounded timeout.", TEMPLATE,
                     lambda args: build_timeout_problems(args.props,
                                                         int(_setting(args, "maxMinutes", DEFAULT_MAX_BUILD_MINUTES))),
                     config_schema=PolicyConfigSchema(properties={"maxMinutes": {
                         "type": "integer", "minimum": 6, "maximum": 960, "default": DEFAULT_MAX_BUILD_MINUTES}})),
    _resource_policy("aib-build-vm-identities", "Identities attached to the build VM are on the allow-list.", TEMPLATE,
                     lambda args: build_vm_identity_problems(args.props, _setting(args, "allowedIdentities", [])),
                     config_schema=PolicyConfigSchema(properties={"allowedIdentities": {
                         "type": "array", "items": {"type": "string"}, "default": []}})),
    _resource_policy("aib-deprovision-kept", "A deprovisioning override still generalizes the VM.", TEMPLATE,
                     lambda args: deprovision_problems(args.props)),
    _resource_policy("aib-no-broad-role-assignment",
                     "No privileged administrator role at subscription scope or above.",
                     ROLE_ASSIGNMENT, lambda args: role_assignment_problems(args.props)),
    _resource_policy("aib-custom-role-scoped",
                     "Custom roles are assignable below subscription level, name exact actions and grant no access "
                     "management.", ROLE_DEFINITION, lambda args: role_definition_problems(args.props)),
    _stack_policy("aib-identity-least-privilege",
                  "The image template identity is Contributor on its staging resource group only.", identity_problems),
    _stack_policy("aib-external-template-identity",
                  "Template identities are declared in the stack, so their grants can be checked.",
                  external_identity_problems, enforcement_level=EnforcementLevel.ADVISORY),
    _stack_policy("aib-dedicated-staging", "Each staging resource group is created for one template and holds nothing "
                  "else.", staging_problems, enforcement_level=EnforcementLevel.ADVISORY),
]
