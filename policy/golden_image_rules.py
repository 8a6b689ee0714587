"""Organisation rules for golden images, as Pulumi policies (pulumi-policy, Python).

Each rule is a plain function from resource inputs (camelCase, as azure-native receives them) to a list of
problems, so it is tested table-style without the engine; `POLICIES` wraps them for the policy pack. Mandatory unless
marked advisory; an organisation changes a level or a setting in `config.json` (Pulumi's policy-pack config format,
passed with `--policy-pack-config`).

- `aib-pinned-downloads`: every download is pinned with `sha256Checksum`: Shell/PowerShell `scriptUri` and File
  `sourceUri`, in customizers and in in-VM validators, so a changed file fails the build instead of landing in the
  image; and no inline command runs fetched or hidden code unchecked (`curl ... | sh`, `iwr ... | iex` and their
  disguises, download-then-run across lines and steps: see `inline_commands.py`). A step may opt out with a reason (the stack
  config's `checksumOptOut`, which the project renders as the template tag `aib-images.checksumOptOut.<step>`).
- `aib-no-key-material`: no step puts what looks like a private key, key store or secret into the image: a File
  step whose `sourceUri` or `destination` names one (`id_rsa`, `*.key`, `*.pfx`, `secrets.json`, a file from a
  `keys/` container, `~/.ssh/...`), inline commands that download one or read a vault secret. Every VM made from the
  image, and everyone who can read an image version, would get a copy. Public keys and certificates pass
  (`.pub`, `.asc`, `.gpg`, `.crt`: `packages.microsoft.com/keys/microsoft.asc`).
- `aib-no-uploads`: no inline command sends a file or data out of the build VM (`curl -T`/`--upload-file`,
  `curl -F x=@file`, `curl --data-binary @file`, `wget --post-file`, scp/rsync to a remote host, `az storage blob
  upload`, azcopy/aws s3/gsutil/rclone to a bucket, `git push`, `Invoke-WebRequest -InFile`, WebClient uploads, netcat
  and `/dev/tcp`); sending a literal (`curl -d '{...}'`) and downloading are not uploads.
- Both may be waived per step with the template tag `aib-images.uploadOptOut.<step>` or
  `aib-images.keyMaterialOptOut.<step>` (set in the stack's `template.tags`), only for a reason on that rule's
  `allowedOptOutReasons` (default: none).
- `aib-checksum-opt-outs` (advisory): reports every opt-out (checksums, uploads, key material) with its reason, so the
  waiver shows in the report.
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
- `aib-dedicated-staging` (stack): a `stagingResourceGroup` is a group this stack creates for that one template and
  puts nothing else in, since the template identity is Contributor there, or one on `allowedStagingGroups`.
- `aib-allowed-subscriptions`: role assignment scopes, custom roles' assignable scopes, a template's source, targets,
  staging group, identities and subnets lie in `allowedSubscriptions` (empty: the stack's own, read from the ids the
  pipeline derives); a VHD `uri` names no subscription, so its account must be on `allowedStorageAccounts`.
- `aib-validated-promotion` (stack): a template whose versions an `ImageVersionLifecycle` promotes keeps its in-VM
  validators and does not set `continueDistributeOnFailure`.
- Opt-outs of `aib-pinned-downloads` count only with a reason on its `allowedOptOutReasons` (default: none).

Known limits: a script fetched by `scriptUri` can do anything its content says (the checksum pins that content, the
pack does not read it); inline commands are seen as plain text in `pulumi preview`, masked in offline synthesis.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from pulumi_policy.proxy import UnknownValueError

if __package__:  # imported as `policy.golden_image_rules` (tests)
    from .inline_commands import downloaded_files_run, hidden_code_run, key_downloads, key_material, uploads
else:  # loaded by the pack's __main__, which puts this folder on sys.path
    from inline_commands import downloaded_files_run, hidden_code_run, key_downloads, key_material, uploads
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
LIFECYCLE = "pulumi-python:dynamic/aib:ImageVersionLifecycle"

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
#: The same for `aib-no-uploads` and `aib-no-key-material`: set in the stack's `template.tags` (no step field carries
#: them), each waiving only its own rule and only for a reason on that rule's `allowedOptOutReasons`.
UPLOAD_OPT_OUT_TAG = "aib-images.uploadOptOut."
KEY_OPT_OUT_TAG = "aib-images.keyMaterialOptOut."
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


def _opt_outs(props: Mapping[str, Any], prefix: str = OPT_OUT_TAG) -> dict[str, str]:
    """Step path -> opt-out reason, from the template's `<prefix><step>` tags (`aib-images.checksumOptOut.<step>`)."""
    tags = props.get("tags")
    return {key[len(prefix):]: str(reason) for key, reason in (tags.items() if isinstance(tags, Mapping) else ())
            if str(key).startswith(prefix) and str(reason or "").strip()}


def _unpinned(step: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    """(what a step fetches or runs without a pin, how to pin it), or None: the step on its own."""
    key = _DOWNLOAD_KEYS.get(str(step.get("type")))
    if key and step.get(key) and not _SHA256.match(str(step.get("sha256Checksum") or "")):
        return (f"{key} {_without_query(step[key])!r} has no sha256Checksum",
                "add the file's SHA-256, 64 hex characters")
    hidden = hidden_code_run(_items(step.get("inline")))
    if hidden:
        return (hidden, "download to a file and check its SHA-256 (sha256sum -c) before running it, or use scriptUri "
                        "with sha256Checksum")
    return None


def _unpinned_steps(props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], tuple[str, str]]]:
    """(path, step, (what, how)) of every step that fetches or runs remote content unpinned: each step on its own,
    then each step that runs a file an inline command downloaded (there or in an earlier step) unchecked."""
    steps = list(_steps(props))
    found = {path: (path, step, unpinned) for path, step in steps if (unpinned := _unpinned(step))}
    runs = downloaded_files_run([(path, _items(step.get("inline"))) for path, step in steps])
    for path, step in steps:
        if path in runs and path not in found:
            where = "this step" if runs[path] == path else runs[path]
            found[path] = (path, step, (f"inline commands run a file downloaded by {where} without checking its "
                                        "checksum first",
                                        "check its SHA-256 (sha256sum -c, Get-FileHash) between the download and the "
                                        "run, or use a File step or scriptUri with sha256Checksum"))
    return [found[path] for path, _ in steps if path in found]


def _reason_allowed(reason: str, allowed: Iterable[str]) -> bool:
    """An allowed reason as it stands, or followed by `:` and details (`vendor-rotates: get.docker.com`)."""
    reason = " ".join(reason.split()).lower()
    for entry in allowed:
        entry = " ".join(str(entry).split()).lower()
        if entry and (reason == entry or reason.startswith(entry + ":")):
            return True
    return False


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

def pinned_download_problems(props: Mapping[str, Any], allowed_reasons: Iterable[str] = ()) -> list[str]:
    """Every step that fetches remote content unpinned and does not opt out (tag `aib-images.checksumOptOut.<step>`)
    with a reason the organisation allows (`allowedOptOutReasons`)."""
    allowed = [str(r) for r in allowed_reasons if str(r).strip()]
    opted_out = _opt_outs(props)
    problems = []
    for path, step, (what, how) in _unpinned_steps(props):
        if path not in opted_out:
            problems.append(f"{_label(path, step)}: {what} ({how}; or opt out with a reason: checksumOptOut)")
        elif not _reason_allowed(opted_out[path], allowed):
            names = ", ".join(repr(r) for r in allowed) if allowed else "none (the list is empty)"
            problems.append(f"{_label(path, step)}: {what}, and its checksumOptOut reason {opted_out[path]!r} is not "
                            f"one the organisation allows (allowed: {names}; policy config allowedOptOutReasons, a "
                            "reason may add details after a colon)")
    return problems


def checksum_opt_out_reports(props: Mapping[str, Any]) -> list[str]:
    """One line per step that a rule lets through under an opt-out, with the stated reason: unpinned remote content
    (checksumOptOut), an upload (uploadOptOut), key material (keyMaterialOptOut)."""
    opted_out = _opt_outs(props)
    reports = [f"{_label(path, step)}: {what}, by opt-out: {opted_out[path]!r}"
               for path, step, (what, _) in _unpinned_steps(props) if path in opted_out]
    for prefix, found in ((UPLOAD_OPT_OUT_TAG, _uploading_steps), (KEY_OPT_OUT_TAG, _key_material_steps)):
        waived = _opt_outs(props, prefix)
        reports += [f"{_label(path, step)}: {what}, by opt-out: {waived[path]!r}"
                    for path, step, what in found(props) if path in waived]
    return reports


_NO_KEYS_HOW = ("provision secrets when a VM is deployed (Key Vault VM extension, cloud-init, a managed identity at run "
                "time), never in the image")


def _key_material_steps(props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str]]:
    """(path, step, what) of every step that puts what looks like a private key or a secret into the image: a File
    step whose sourceUri or destination names one, or inline commands that download one or read a vault secret."""
    found = []
    for path, step in _steps(props):
        what = None
        if step.get("type") == "File":
            for key in ("sourceUri", "destination"):
                material = key_material(step.get(key))
                if material:
                    shown = _without_query(step[key])
                    what = f"{key} {shown!r} looks like {material}, which every VM made from the image would carry"
                    break
        what = what or key_downloads(_items(step.get("inline")))
        if what:
            found.append((path, step, what))
    return found


def _uploading_steps(props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str]]:
    """(path, step, what) of every step whose inline commands send a file or data out of the build VM."""
    return [(path, step, what) for path, step in _steps(props) if (what := uploads(_items(step.get("inline"))))]


def _waivable_problems(props: Mapping[str, Any], found: list[tuple[str, Mapping[str, Any], str]], prefix: str,
                       how: str, allowed_reasons: Iterable[str]) -> list[str]:
    """Each found step, unless the template's `<prefix><step>` tag gives a reason the organisation allows."""
    allowed = [str(r) for r in allowed_reasons if str(r).strip()]
    opted_out = _opt_outs(props, prefix)
    problems = []
    for path, step, what in found:
        if path not in opted_out:
            problems.append(f"{_label(path, step)}: {what} ({how}; or opt out with a reason the organisation allows: "
                            f"template tag {prefix}{path})")
        elif not _reason_allowed(opted_out[path], allowed):
            names = ", ".join(repr(r) for r in allowed) if allowed else "none (the list is empty)"
            problems.append(f"{_label(path, step)}: {what}, and its opt-out reason {opted_out[path]!r} is not one the "
                            f"organisation allows (allowed: {names}; policy config allowedOptOutReasons)")
    return problems


def key_material_problems(props: Mapping[str, Any], allowed_reasons: Iterable[str] = ()) -> list[str]:
    """Every step that fetches what looks like a private key, key store or secret into the image (File sourceUri or
    destination, inline downloads, vault secret reads), unless opted out (tag `aib-images.keyMaterialOptOut.<step>`)
    with an allowed reason."""
    return _waivable_problems(props, _key_material_steps(props), KEY_OPT_OUT_TAG, _NO_KEYS_HOW, allowed_reasons)


def upload_problems(props: Mapping[str, Any], allowed_reasons: Iterable[str] = ()) -> list[str]:
    """Every step whose inline commands upload a file or data out of the build VM (`curl -T`, `curl -F x=@f`,
    `curl --data-binary @f`, `wget --post-file`, scp/rsync to a host, `az storage blob upload`, azcopy to a URL, ...),
    unless opted out (tag `aib-images.uploadOptOut.<step>`) with an allowed reason."""
    return _waivable_problems(props, _uploading_steps(props), UPLOAD_OPT_OUT_TAG,
                              "an image build has nothing to send anywhere; what leaves the build VM can carry what the "
                              "build put there, tokens of its identities included", allowed_reasons)


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
    if int(minutes) > max_minutes:  # through the analyzer protocol numbers arrive as floats (900.0)
        return [f"buildTimeoutInMinutes is {int(minutes)}, more than the {max_minutes} minutes allowed"]
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
    """The override file a step's text names (the service finds the override by its file name), also when quotes,
    escapes or path tricks split or dress up the name (`/tmp/./Deprovisioning''Script.sh`)."""
    plain = re.sub(r"[\"'`\\]", "", text).lower()
    return next((path for path in _GENERALIZE if re.split(r"[\\/]", path)[-1].lower() in plain), None)


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


def normalized_destination(destination: str) -> str:
    """A File destination as the path it names: separators as `/`, repeated separators, `.` and `..` resolved,
    lower case (`//tmp//./x/../DeprovisioningScript.sh` is /tmp/deprovisioningscript.sh)."""
    path = str(destination or "").strip().replace("\\", "/")
    drive, rest = (path[:2].lower(), path[2:]) if re.match(r"^[A-Za-z]:", path) else ("", path)
    parts: list[str] = []
    for part in rest.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    absolute = rest.startswith("/") or bool(drive)
    return (drive + ("/" if absolute else "") + "/".join(parts)).lower()


def _file_override_problem(label: str, step: Mapping[str, Any]) -> Optional[str]:
    destination = normalized_destination(step.get("destination") or "")
    for path in _GENERALIZE:
        name = re.split(r"[\\/]", path)[-1].lower()
        relative = not destination.startswith("/") and not re.match(r"^[a-z]:", destination)
        # A relative destination lands in a folder the pack cannot know (it may be the override's): the name decides.
        if destination == normalized_destination(path) or (relative and destination.rsplit("/", 1)[-1] == name):
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
    # The name input first (unit tests, synth); stack policies see outputs, where `name` is unknown in a preview of
    # a new identity: those are matched by parent in `_template_identities`.
    return {str(_known(r.props, "resourceName") or _known(r.props, "name") or "").lower(): r
            for r in _of_type(resources, IDENTITY)}


def _template_identities(resources: list[Any]) -> Iterable[tuple[Any, str, Optional[Any]]]:
    """(template, identity id, the declared identity or None) for every identity of every template. An identity whose
    name a preview does not know yet (created by this update) is the template's when it is declared beside it (same
    parent component) and is the only such one."""
    declared = _declared_identities(resources)
    unnamed = [r for r in _of_type(resources, IDENTITY) if not (_known(r.props, "resourceName") or _known(r.props, "name"))]
    for template in _of_type(resources, TEMPLATE):
        parent = getattr(getattr(template, "parent", None), "urn", None)
        beside = [r for r in unnamed if parent and getattr(getattr(r, "parent", None), "urn", None) == parent]
        for identity_id in _identity_ids(template.props):
            found = declared.get(_last_segment(identity_id))
            yield template, identity_id, found if found is not None else (beside[0] if len(beside) == 1 else None)


def _assignment_scope(assignment: Any) -> str:
    """A role assignment's scope: its `scope` (inputs), else the part of its id before
    `/providers/Microsoft.Authorization/roleAssignments/` (outputs after an update: azure-native leaves the `scope` path
    parameter out of them); empty in a preview."""
    scope = str(_known(assignment.props, "scope") or "")
    if scope:
        return scope
    resource_id = str(_known(assignment.props, "id") or "")
    cut = resource_id.lower().find("/providers/microsoft.authorization/roleassignments/")
    return (resource_id[:cut] or "/") if cut >= 0 else ""


def _grant_problem(identity_id: str, assignment: Any, staging: str) -> Optional[str]:
    scope = _assignment_scope(assignment)
    role_id = role_guid(assignment.props.get("roleDefinitionId") or "")
    if not scope:
        return None  # a preview's outputs carry no scope (azure-native's outputs do not echo it): nothing to judge
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


def _staging_problem(template: Any, group: str, declared_groups: set[str], users: dict[str, list[Any]],
                     allowed: Iterable[str] = ()) -> Optional[str]:
    staging = template.props.get("stagingResourceGroup")
    allowed_groups = {_normalized_id(g) for g in allowed}
    if _normalized_id(staging) in allowed_groups or group in allowed_groups:
        return None  # the organisation vouches for this group: dedicated to image builds, though made elsewhere
    if group not in declared_groups:
        return (f"stagingResourceGroup {staging!r} is not created by this stack, so it may be a shared group where the "
                "template identity would be Contributor over everything else in it; let the pipeline create the "
                "group (staging: create), use the service's (staging: service), or allow-list it (policy config "
                "allowedStagingGroups, its id or name)")
    others = sorted({r if isinstance(r, str) else r.name for r in users.get(group, []) if r is not template})
    if others:
        return (f"stagingResourceGroup {staging!r} also holds {others}; the template identity is Contributor "
                "there, so give each template a group of its own")
    return None


def _known(props: Mapping[str, Any], key: str) -> Any:
    """A property, or None when a preview does not know it yet."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _group_name(group: Any) -> Optional[str]:
    """A declared resource group's name: its `resourceGroupName` input (unit tests, synth) or its `name` output (what
    stack policies see); None while a preview does not know it (a group this update creates)."""
    name = _known(group.props, "resourceGroupName") or _known(group.props, "name")
    return str(name).lower() if name else None


def _creates_own_staging(template: Any, groups: list[Any]) -> bool:
    """Whether the template depends on a resource group declared beside it (same parent component) whose name a
    preview does not know yet: a group this very update creates for it, so not an existing shared one. (Stack policies
    see outputs, and a new group's name is unknown in a preview.)"""
    parent = getattr(getattr(template, "parent", None), "urn", None)
    depends = {getattr(d, "urn", None) for d in (getattr(template, "dependencies", None) or [])}
    return any(g.urn in depends and _group_name(g) is None and parent is not None
               and getattr(getattr(g, "parent", None), "urn", None) == parent for g in groups)


def _placed_in(resource: Any) -> Optional[str]:
    """The (lower-case) name of the resource group a resource lies in, or None. Stack policies see outputs, where
    azure-native leaves out path parameters such as `resourceGroupName`: then the group comes from the resource's `id`
    (known after an update and for imported resources) or, in a preview, from the group resource its
    `resourceGroupName` came from (a property dependency). Role assignments and definitions lie at a scope, not in a
    group; dynamic resources' ids are their own."""
    if resource.resource_type == RESOURCE_GROUP:
        return None
    group = _known(resource.props, "resourceGroupName")
    if group:
        return str(group).lower()
    if not str(resource.resource_type).startswith("azure-native:") or "authorization" in resource.resource_type:
        return None
    from_id = resource_group_name(_known(resource.props, "id") or "")
    if from_id:
        return from_id
    sources = (getattr(resource, "property_dependencies", None) or {}).get("resourceGroupName") or []
    for source in sources:
        if getattr(source, "resource_type", None) == RESOURCE_GROUP and (name := _group_name(source)):
            return name
    return None


def staging_problems(resources: Iterable[Any], allowed: Iterable[str] = ()) -> list[tuple[str, Optional[str]]]:
    resources = [_typed(r) for r in resources]
    groups = _of_type(resources, RESOURCE_GROUP)
    declared_groups = {name for g in groups if (name := _group_name(g))}
    users: dict[str, list[Any]] = {}  # resource group name -> resources placed in it or staging there
    for r in resources:
        if group := _placed_in(r):
            users.setdefault(group, []).append(r)
    # What templates name by id (their identities, gallery targets, sources, subnets) lies in a known group even in a
    # preview, where other resources' groups are unknown (outputs leave `resourceGroupName` out).
    for t in _of_type(resources, TEMPLATE):
        for what, resource_id in _template_references(t.props):
            if what != "stagingResourceGroup" and (group := resource_group_name(resource_id)):
                users.setdefault(group, []).append(f"{what.split('[')[0]} {_last_segment(resource_id)}")
    templates = [t for t in _of_type(resources, TEMPLATE) if _known(t.props, "stagingResourceGroup")]
    for template in templates:
        users.setdefault(resource_group_name(template.props["stagingResourceGroup"]), []).append(template)
    problems = []
    for template in templates:
        group = resource_group_name(template.props["stagingResourceGroup"])
        created = declared_groups | ({group} if _creates_own_staging(template, groups) else set())
        problem = _staging_problem(template, group, created, users, list(allowed))
        if problem:
            problems.append((problem, template.urn))
    return problems


_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_BLOB_ACCOUNT = re.compile(r"^https://([a-z0-9]+)\.blob\.", re.IGNORECASE)

def subscription_of(resource_id: Any) -> Optional[str]:
    """The subscription a resource id or scope lies in (lower case), or None for tenant and management-group scopes."""
    match = _SUBSCRIPTION.match(str(resource_id or ""))
    return match.group(1).lower() if match else None


def _template_references(props: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """(what, resource id) of everything a template reads from, writes to or runs as, outside its own properties."""
    source = props.get("source")
    if isinstance(source, Mapping):
        for key in ("imageVersionId", "imageId"):
            if source.get(key):
                yield f"source.{key}", source[key]
    for i, target in enumerate(_mappings(props.get("distribute"))):
        for key in ("galleryImageId", "imageId"):
            if target.get(key):
                yield f"distribute[{i}].{key}", target[key]
    if props.get("stagingResourceGroup"):
        yield "stagingResourceGroup", props["stagingResourceGroup"]
    for i, identity_id in enumerate(_identity_ids(props)):
        yield f"identity.userAssignedIdentities[{i}]", identity_id
    vm_profile = props.get("vmProfile")
    if isinstance(vm_profile, Mapping):
        for i, identity_id in enumerate(_items(vm_profile.get("userAssignedIdentities"))):
            yield f"vmProfile.userAssignedIdentities[{i}]", identity_id
        vnet = vm_profile.get("vnetConfig")
        if isinstance(vnet, Mapping):
            for key in ("subnetId", "containerInstanceSubnetId"):
                if vnet.get(key):
                    yield f"vmProfile.vnetConfig.{key}", vnet[key]


def _home_subscriptions(resource_type: str, props: Mapping[str, Any]) -> set[str]:
    """Without `allowedSubscriptions`: the subscription the stack deploys to, as the pipeline writes it into what it
    derives (a role assignment's role definition id, a custom role's scope, the id of the template identity it
    declares)."""
    if resource_type == ROLE_ASSIGNMENT:
        sub = subscription_of(props.get("roleDefinitionId"))
        return {sub} if sub else set()
    if resource_type == ROLE_DEFINITION:
        sub = subscription_of(props.get("scope"))
        return {sub} if sub else set()
    if resource_type == TEMPLATE:
        return {sub for identity_id in _identity_ids(props) if (sub := subscription_of(identity_id))}
    return set()


def subscription_problems(resource_type: str, props: Mapping[str, Any], allowed: Iterable[str] = (),
                          allowed_accounts: Iterable[str] = ()) -> list[str]:
    """Each grant, assignable scope, source, distribution target, staging group, identity or subnet of a role
    assignment, custom role or template outside the allowed subscriptions (`allowed`, else the stack's own)."""
    configured = {str(s).strip().lower() for s in allowed if str(s).strip()}
    subscriptions = configured or _home_subscriptions(resource_type, props)
    if resource_type == ROLE_ASSIGNMENT:
        references = [("grants a role at", props.get("scope"))] if props.get("scope") else []
    elif resource_type == ROLE_DEFINITION:
        references = [("is assignable at", scope) for scope in _items(props.get("assignableScopes"))]
    elif resource_type == TEMPLATE:
        references = list(_template_references(props))
    else:
        return []
    if not subscriptions:
        if not references:
            return []
        return ["the policy cannot tell which subscription this stack deploys to; list the allowed ones in the "
                "policy config allowedSubscriptions"]
    names = ", ".join(sorted(subscriptions))
    source = ("policy config allowedSubscriptions" if configured
              else "the stack's own; policy config allowedSubscriptions sets the list")
    outside = f"outside the allowed subscriptions ({names}: {source})"
    problems = []
    for what, resource_id in references:
        sub = subscription_of(resource_id)
        if sub not in subscriptions:
            where = f"subscription {sub}" if sub else "a scope above any subscription"
            problems.append(f"{what} {_without_query(resource_id)!r} is in {where}, {outside}")
    vouched = {str(a).strip().lower() for a in allowed_accounts}
    for i, target in enumerate(_mappings(props.get("distribute")) if resource_type == TEMPLATE else ()):
        uri = target.get("uri")
        match = _BLOB_ACCOUNT.match(str(uri or ""))
        if uri and (match.group(1).lower() if match else None) not in vouched:
            problems.append(f"distribute[{i}].uri {_without_query(uri)!r} writes the image to a storage account the "
                            "policy cannot place in a subscription (a blob URL names none); list the account in the "
                            "policy config allowedStorageAccounts once it is known to be in an allowed subscription")
    return problems


def promotion_problems(resources: Iterable[Any]) -> list[tuple[str, Optional[str]]]:
    """(message, urn) for each template whose image versions a lifecycle promotes to `latest` (a promotion mode on
    the `ImageVersionLifecycle` of its gallery image definition) while it runs no in-VM validator, or distributes
    after a failed one (`continueDistributeOnFailure`)."""
    resources = [_typed(r) for r in resources]
    promoted: dict[str, Any] = {}
    for life in _of_type(resources, LIFECYCLE):
        if _known(life.props, "promotion_mode"):
            promoted[_normalized_id(_known(life.props, "image_definition_id") or "")] = life
    problems: list[tuple[str, Optional[str]]] = []
    for template in _of_type(resources, TEMPLATE):
        targets = [_normalized_id(_known(t, "galleryImageId") or "")
                   for t in _mappings(_known(template.props, "distribute"))]
        life = next((promoted[t] for t in targets if t in promoted), None)
        if life is None:
            continue
        validate = _known(template.props, "validate")
        if isinstance(validate, str):
            continue  # masked in offline synthesis: nothing to read
        validate = validate if isinstance(validate, Mapping) else {}
        mode = life.props.get("promotion_mode")
        if not _mappings(_known(validate, "inVMValidations")):
            problems.append((f"the lifecycle promotes this template's image versions (promotion {mode!r}) but the "
                             "template runs no validate.inVMValidations, so an untested image would become latest; "
                             "keep at least one in-VM validator", template.urn))
        if _known(validate, "continueDistributeOnFailure") is True:
            problems.append((f"the lifecycle promotes this template's image versions (promotion {mode!r}) but "
                             "validate.continueDistributeOnFailure is true, so an image whose validators failed is "
                             "still distributed; set it to false", template.urn))
    return problems


# --- the policies ----------------------------------------------------------------------------------------------------

VERSIONED = "pulumi-python:dynamic/aib:VersionedTemplate"
"""A template at an api-version azure-native's typed resource does not create (components/providers/versioned_template.py):
its `body` is the ARM body (location, tags, identity, properties)."""


def _is_versioned_template(resource: Any) -> bool:
    return resource.resource_type == VERSIONED and isinstance(resource.props.get("body"), Mapping)


class _AsTypedTemplate:
    """A versioned template seen as the typed template: its ARM properties at the top, beside location, tags and
    identity. Everything else (urn, name, config, dependencies) is the resource's own."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self.resource_type = TEMPLATE
        body = resource.props.get("body") or {}
        identity = body.get("identity")
        if isinstance(identity, Mapping) and isinstance(identity.get("userAssignedIdentities"), Mapping):
            # ARM's map of id -> {} as the typed input's list of ids
            identity = {**identity, "userAssignedIdentities": sorted(identity["userAssignedIdentities"])}
        self.props = {**dict(body.get("properties") or {}), "location": body.get("location"),
                      "tags": body.get("tags"), "identity": identity}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


def _typed(resource: Any) -> Any:
    return _AsTypedTemplate(resource) if _is_versioned_template(resource) else resource


def _resource_policy(name: str, description: str, resource_type: str, check, **kwargs) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        args = _typed(args)
        if args.resource_type != resource_type:
            return
        for problem in check(args):
            report_violation(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _multi_type_policy(name: str, description: str, resource_types: tuple[str, ...], check,
                       **kwargs) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        args = _typed(args)
        if args.resource_type in resource_types:
            for problem in check(args):
                report_violation(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _stack_policy(name: str, description: str, check, **kwargs) -> StackValidationPolicy:
    """`check(resources)`, or `check(resources, config)` for a policy with settings (a `config_schema`)."""
    configured = "config_schema" in kwargs

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        found = check(args.resources, args.get_config() or {}) if configured else check(args.resources)
        for message, urn in found:
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, **kwargs)


def _setting(args: ResourceValidationArgs, key: str, default: Any) -> Any:
    return (args.get_config() or {}).get(key, default)


POLICIES = [
    _resource_policy("aib-pinned-downloads",
                     "Image template scripts and files downloaded from a URI are pinned with sha256Checksum, and no "
                     "inline command runs fetched or hidden code unchecked (opt-outs only for allowed reasons).",
                     TEMPLATE, lambda args: pinned_download_problems(args.props,
                                                                     _setting(args, "allowedOptOutReasons", [])),
                     config_schema=PolicyConfigSchema(properties={"allowedOptOutReasons": {
                         "type": "array", "items": {"type": "string", "minLength": 1}, "default": []}})),
    _resource_policy("aib-no-key-material",
                     "No step puts a private key, key store or secret into the image (File steps, inline downloads, "
                     "vault reads); opt-outs only for allowed reasons.",
                     TEMPLATE, lambda args: key_material_problems(args.props, _setting(args, "allowedOptOutReasons", [])),
                     config_schema=PolicyConfigSchema(properties={"allowedOptOutReasons": {
                         "type": "array", "items": {"type": "string", "minLength": 1}, "default": []}})),
    _resource_policy("aib-no-uploads",
                     "No inline command sends a file or data out of the build VM (curl -T, curl -F/--data @file, wget "
                     "--post-file, scp/rsync to a host, storage uploads); opt-outs only for allowed reasons.",
                     TEMPLATE, lambda args: upload_problems(args.props, _setting(args, "allowedOptOutReasons", [])),
                     config_schema=PolicyConfigSchema(properties={"allowedOptOutReasons": {
                         "type": "array", "items": {"type": "string", "minLength": 1}, "default": []}})),
    _resource_policy("aib-checksum-opt-outs",
                     "Steps a rule lets through by opt-out (unpinned downloads, uploads, key material), with the "
                     "stated reason.",
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
                  "else, or is on the organisation's allow-list.",
                  lambda resources, config: staging_problems(resources, config.get("allowedStagingGroups", [])),
                  config_schema=PolicyConfigSchema(properties={"allowedStagingGroups": {
                      "type": "array", "items": {"type": "string", "minLength": 1}, "default": []}})),
    _multi_type_policy("aib-allowed-subscriptions", "Grants, sources, distribution targets, staging groups and "
                       "identities lie in the allowed subscriptions.", (TEMPLATE, ROLE_ASSIGNMENT, ROLE_DEFINITION),
                       lambda args: subscription_problems(args.resource_type, args.props,
                                                          _setting(args, "allowedSubscriptions", []),
                                                          _setting(args, "allowedStorageAccounts", [])),
                       config_schema=PolicyConfigSchema(properties={
                           "allowedSubscriptions": {"type": "array", "items": {"type": "string", "minLength": 1},
                                                    "default": []},
                           "allowedStorageAccounts": {"type": "array", "items": {"type": "string", "minLength": 1},
                                                      "default": []}})),
    _stack_policy("aib-validated-promotion", "A template whose versions a lifecycle promotes keeps its in-VM validators "
                  "and does not distribute after they fail.", promotion_problems),
]
