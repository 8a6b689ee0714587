"""Import existing AIB templates: AIB JSON (any apiVersion from 2019-05-01-preview to 2025-10-01) or
ARM deployment templates whose `resources` hold image templates, into validated specs.

Older documents are upgraded on the way in, each change reported as a `Notice` with its path:
read-only fields are dropped, keys are matched case-insensitively where the old service did so,
and retired field names become their successors (distribute `tags` -> `artifactTags`, `script` ->
`scriptUri`, vnetConfig name/subnetName/resourceGroupName -> `subnetId`, `replicationRegions` ->
`targetRegions`). In an ARM deployment template, the expressions image templates use (`[parameters('x')]`,
variables, concat, format, resourceId, subscription(), resourceGroup()) are evaluated (`arm.expressions`) with the
parameter values of a parameters file and the deployment scope given; what cannot be evaluated is reported by path,
naming the function. Only this module reads AIB dicts; everything after it works on the spec.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Optional, get_args, get_origin

from pydantic import BaseModel

from ..spec import KNOWN_API_VERSIONS, TEMPLATE_TYPE, ImageTemplateSpec, Issue, SpecError, parse_template
from ..spec.distributors import NAME_PATTERN
from ..spec.errors import annotation_members, format_path, join_path
from .expressions import Deployment, Failure, evaluate_tree

STRICT_FROM = "2024-02-01"  # the service parses case-sensitively and strictly from this version on
_READ_ONLY_TOP = ("id", "systemData", "managedBy", "resourceGroup", "etag", "plan", "sku", "kind")
_ARM_ONLY = ("dependsOn", "comments", "condition", "copy", "scope")
_READ_ONLY_PROPS = ("provisioningState", "provisioningError", "lastRunStatus", "exactStagingResourceGroup")
_EXPRESSION = re.compile(r"^\[(?!\[).*\]$", re.DOTALL)
# Outside an ARM deployment nothing evaluates expressions, and `[ -f /etc/x ]` is a plain shell test:
# only a function call (`[parameters('x')]`, `[concat(...)]`) is reported there.
_CALL_EXPRESSION = re.compile(r"^\[\s*[A-Za-z_][\w.]*\s*\(")  # and ends in "]" (checked apart: no backtracking)
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w-]*>")  # `<subscriptionID>`, `<region>`: a sample's blank to fill in


@dataclass(frozen=True)
class Notice:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ImportedTemplate:
    name: str
    spec: ImageTemplateSpec
    api_version: str
    path: str = ""
    """Where the template sat in the input (`resources[2]` in an ARM deployment template, else '')."""
    notices: list[Notice] = field(default_factory=list)
    named: bool = True
    """False when the template has no `name` (then `name` is a stand-in the document's importer replaces)."""


@dataclass(frozen=True)
class DeploymentInputs:
    """What `az deployment group create` would be given: a parameters file's values and the deployment scope.
    Scope values left out evaluate to placeholders (`<subscription-id>`), each reported by a notice."""

    parameters: dict[str, Any] = field(default_factory=dict)
    subscription_id: Optional[str] = None
    resource_group: Optional[str] = None
    location: Optional[str] = None


def import_document(doc: Any, *, source: str = "", inputs: Optional[DeploymentInputs] = None,
                    fallback_name: str = "imported") -> list[ImportedTemplate]:
    """Every image template in `doc` (an AIB template or an ARM deployment template), as specs.

    Each gets its own name: the template's `name`, else `fallback_name` (the file's name), numbered when the
    document holds several. Raises SpecError listing every problem across all templates in the document.
    """
    located = list(_find_templates(doc))
    if not located:
        raise SpecError([Issue("", "no Microsoft.VirtualMachineImages/imageTemplates found",
                               "expected an AIB template (with 'properties') or an ARM template with 'resources'")],
                        source)
    deployment = _deployment(doc, inputs or DeploymentInputs()) if located[0][0] else None
    imported, issues = [], []
    for path, raw in located:
        try:
            imported.append(_import_located(raw, path, deployment))
        except SpecError as exc:
            issues += exc.issues
    if issues:
        raise SpecError(issues, source)
    return _named_apart(imported, fallback_name)


def parameter_values(doc: Any) -> dict[str, Any]:
    """The values of an ARM parameters file (`{"parameters": {"name": {"value": ...}}}`, the format `az deployment
    group create --parameters @FILE` reads). Key Vault references need a deployment: refused by path."""
    parameters = doc.get("parameters") if isinstance(doc, dict) else None
    if not isinstance(parameters, dict):
        raise SpecError([Issue("parameters", "missing: an ARM parameters file has a 'parameters' object",
                               'expected {"parameters": {"name": {"value": ...}}}')])
    values, issues = {}, []
    for name, entry in parameters.items():
        if isinstance(entry, dict) and "value" in entry:
            values[name] = entry["value"]
        elif isinstance(entry, dict) and "reference" in entry:
            issues.append(Issue(f"parameters.{name}.reference", "a Key Vault reference cannot be resolved by "
                                "import-arm", "give the value itself, then set it with pulumi config set --secret"))
        else:
            issues.append(Issue(f"parameters.{name}", "expected an object with 'value'", '{"value": ...}'))
    if issues:
        raise SpecError(issues)
    return values


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _deployment(doc: dict, inputs: DeploymentInputs) -> Deployment:
    definitions = _mapping(doc.get("parameters"))
    variables = _mapping(doc.get("variables"))
    return Deployment(parameters=inputs.parameters, definitions=definitions, variables=variables,
                      subscription_id=inputs.subscription_id, resource_group=inputs.resource_group,
                      location=inputs.location)


def _import_located(raw: dict, path: str, deployment: Optional[Deployment]) -> ImportedTemplate:
    """One template of a document; in an ARM deployment template, its expressions evaluated first."""
    if deployment is None:
        return import_template(raw, path=path)
    evaluated, failures = evaluate_tree(raw, deployment)
    if failures:
        raise SpecError([_failure_issue(path, f) for f in failures])
    item = import_template(evaluated, path=path, expressions_evaluated=True)
    item.notices[:0] = _placeholder_notices(evaluated, path)
    return item


def _failure_issue(path: str, failure: Failure) -> Issue:
    function = failure.error.function
    return Issue(join_path(path, format_path(failure.loc)),
                 f"ARM expression {failure.expression!r} cannot be evaluated ({function}): {failure.error}",
                 "import-arm evaluates parameters, variables, concat, format, resourceId, subscription, "
                 "resourceGroup, toLower and toUpper; replace the rest with its value")


def _placeholder_notices(value: Any, path: str) -> list[Notice]:
    """A notice for each value still holding a `<placeholder>` (the sample's blank, or a scope not given)."""
    return [Notice(join_path(path, p), f"{v!r} holds the placeholder {', '.join(_PLACEHOLDER.findall(v))}: fill it "
                                       "in (import-arm --subscription/--resource-group/--location fill those of "
                                       "subscription() and resourceGroup())")
            for p, v in _strings(value) if _PLACEHOLDER.search(v)]


def _named_apart(imported: list[ImportedTemplate], fallback_name: str) -> list[ImportedTemplate]:
    """Give nameless templates the file's name, and make every name in the document distinct."""
    seen: dict[str, int] = {}
    for item in imported:
        base = item.name if item.named else image_name(fallback_name)
        seen[base] = seen.get(base, 0) + 1
        item.name = base if seen[base] == 1 else f"{base}-{seen[base]}"
        if item.name != item.spec.name and item.spec.name is not None:
            item.spec = item.spec.model_copy(update={"name": item.name})
    return imported


def image_name(text: str) -> str:
    """`text` made into a valid image name (letters, digits, '-', '_', '.'), e.g. from a file's name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._") or "imported"
    return name if re.match(NAME_PATTERN, name) else "imported"


def _find_templates(doc: Any) -> Iterator[tuple[str, dict]]:
    if not isinstance(doc, dict):
        return
    if isinstance(doc.get("resources"), list):
        for i, resource in enumerate(doc["resources"]):
            if isinstance(resource, dict) and str(resource.get("type", "")).lower() == TEMPLATE_TYPE.lower():
                yield f"resources[{i}]", resource
    elif "properties" in doc:
        yield "", doc


def import_template(raw: dict, *, path: str = "", expressions_evaluated: bool = False) -> ImportedTemplate:
    """One AIB template dict -> spec, with the upgrade notices. Raises SpecError with paths under `path`.

    `expressions_evaluated`: `raw` comes out of `arm.expressions` (ARM has already unescaped `[[`), so no string in
    it is an expression any more."""
    notices: list[Notice] = []
    api_version = str(raw.get("apiVersion") or STRICT_FROM)
    pattern = _EXPRESSION if path else _CALL_EXPRESSION
    expressions = [] if expressions_evaluated else [
        Issue(join_path(path, p), f"ARM expression {v!r} cannot be evaluated here",
              "replace it with its value (import-arm reads templates, it does not deploy them)")
        for p, v in _strings(raw) if v.strip().endswith("]") and pattern.match(v.strip())]
    if expressions:
        raise SpecError(expressions)
    if api_version not in KNOWN_API_VERSIONS:
        notices.append(Notice(join_path(path, "apiVersion"),
                              f"{api_version!r} is not a known AIB API version; read as {STRICT_FROM}"))
    doc = copy.deepcopy(raw)
    name = str(doc.get("name") or "imported")
    _drop_read_only(doc, path, notices)
    if api_version < STRICT_FROM or api_version not in KNOWN_API_VERSIONS:
        _match_case(doc, ImageTemplateSpec, [], path, notices)
    # Retired field names are upgraded only in documents of the versions that had them; from 2024-02-01
    # on they are unknown fields (as the service says), and `replicationRegions` is still a valid field
    # that must survive a render/import round trip unchanged.
    _upgrade_legacy(doc, path, notices, legacy=api_version < STRICT_FROM)
    if doc.get("name"):
        doc["name"] = name
    doc.pop("apiVersion", None)
    doc.pop("type", None)
    repo_issues = _repository_file_keys(doc, path)
    try:
        spec = parse_template(doc)
    except SpecError as exc:
        steps = {i.path.rsplit(".", 1)[0] for i in repo_issues}
        rest = [i for i in exc.prefixed(path).issues
                if not (i.path.rsplit(".", 1)[0] in steps and "exactly one of" in i.message)]
        raise SpecError(repo_issues + rest, exc.source) from None
    if repo_issues:
        raise SpecError(repo_issues)
    return ImportedTemplate(name=name, spec=spec, api_version=api_version, path=path, notices=notices,
                            named=bool(raw.get("name")))


def _repository_file_keys(doc: dict, path: str) -> list[Issue]:
    """`script`/`sourceFile` name files of a stack's repository, a stack-config extension: an AIB document (whose
    service refuses them) cannot use them. Removed from `doc` and reported as the unknown fields they are there."""
    props = doc.get("properties")
    if not isinstance(props, dict):
        return []
    validate = props.get("validate")
    issues = []
    for section, steps in (("customize", props.get("customize")),
                           ("validate.inVMValidations",
                            validate.get("inVMValidations") if isinstance(validate, dict) else None)):
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            for key in ("script", "sourceFile"):
                if isinstance(step, dict) and key in step:
                    step.pop(key)
                    issues.append(Issue(join_path(path, f"properties.{section}[{i}].{key}"), f"unknown field '{key}'",
                                        "AIB templates download from scriptUri/sourceUri; repository files (script, "
                                        "sourceFile) are a stack-config extension"))
    return issues


def _strings(value: Any, loc: tuple = ()) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a JSON value, mapping keys included (an identity id is a key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                yield format_path((*loc, k)), k
            yield from _strings(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*loc, i))
    elif isinstance(value, str):
        yield format_path(loc), value


def _drop_read_only(doc: dict, path: str, notices: list[Notice]) -> None:
    for key in (*_READ_ONLY_TOP, *_ARM_ONLY):
        if key in doc:
            doc.pop(key)
            notices.append(Notice(join_path(path, key), "dropped (read-only or ARM-only)"))
    props = doc.get("properties")
    if isinstance(props, dict):
        for key in _READ_ONLY_PROPS:
            if key in props:
                props.pop(key)
                notices.append(Notice(join_path(path, f"properties.{key}"), "dropped (read-only)"))
        if props.get("stagingResourceGroup") == "":
            # The service echoes "" for "let the service make one"; it is not a resource group id.
            props.pop("stagingResourceGroup")
            notices.append(Notice(join_path(path, "properties.stagingResourceGroup"), "empty default dropped"))
        source = props.get("source")
        if isinstance(source, dict) and "exactVersion" in source:
            source.pop("exactVersion")
            notices.append(Notice(join_path(path, "properties.source.exactVersion"), "dropped (read-only)"))
    identity = doc.get("identity")
    if isinstance(identity, dict) and not identity:
        doc.pop("identity")
        notices.append(Notice(join_path(path, "identity"), "empty identity dropped; the pipeline creates one"))


def _model_for(tp: Any, data: dict) -> Optional[type[BaseModel]]:
    """The model a dict is an instance of: for a discriminated union, the member its type/scheme names."""
    members = [m for m in annotation_members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(members) == 1:
        return members[0]
    # Pre-2024 services matched the discriminator key (`Type`) and its value (`managedImage`) case-insensitively.
    tag_key = next((k for k in data if str(k).lower() in ("type", "scheme")), None)
    tag = str(data[tag_key]) if tag_key is not None else ""
    for member in members:
        for key in ("type", "scheme"):
            f = member.model_fields.get(key)
            if f is not None and tag_key is not None and str(tag_key).lower() == key \
                    and any(str(a).lower() == tag.lower() for a in get_args(f.annotation)):
                if tag not in get_args(f.annotation):
                    data[tag_key] = next(a for a in get_args(f.annotation) if str(a).lower() == tag.lower())
                return member
    return None


def _match_case(data: Any, tp: Any, loc: list, path: str, notices: list[Notice]) -> None:
    """Rename keys to their canonical case (pre-2024 services matched keys case-insensitively)."""
    if isinstance(data, list):
        inner = next((get_args(m)[0] for m in annotation_members(tp) if get_origin(m) is list), None)
        for i, item in enumerate(data):
            _match_case(item, inner, [*loc, i], path, notices)
        return
    if not isinstance(data, dict):
        return
    tags_before = {k: data[k] for k in data if str(k).lower() in ("type", "scheme")}
    model = _model_for(tp, data)
    if model is None:
        return
    for key, before in tags_before.items():
        if data.get(key) != before:
            notices.append(Notice(join_path(path, format_path([*loc, key])),
                                  f"{before!r} read as {data[key]!r} (case)"))
    by_lower = {(f.alias or n).lower(): (f.alias or n, f.annotation) for n, f in model.model_fields.items()}
    for key in list(data):
        canonical, annotation = by_lower.get(key.lower(), (key, None))
        if canonical != key and canonical not in data:
            data[canonical] = data.pop(key)
            notices.append(Notice(join_path(path, format_path([*loc, key])), f"renamed to {canonical!r} (case)"))
        if annotation is not None and get_origin(annotation) is not dict:
            _match_enum_case(data, canonical, annotation, [*loc, canonical], path, notices)
            _match_case(data[canonical], annotation, [*loc, canonical], path, notices)


def _match_enum_case(data: dict, key: str, annotation: Any, loc: list, path: str, notices: list[Notice]) -> None:
    """Enum values to their canonical case (`enabled` -> `Enabled`, `standard_lrs` -> `Standard_LRS`): pre-2024
    services matched them case-insensitively, as they did keys."""
    value = data[key]
    if not isinstance(value, str):
        return
    allowed = [a for m in annotation_members(annotation) if get_origin(m) is Literal for a in get_args(m)]
    canonical = next((a for a in allowed if isinstance(a, str) and a.lower() == value.lower()), None)
    if canonical is not None and canonical != value:
        data[key] = canonical
        notices.append(Notice(join_path(path, format_path(loc)), f"{value!r} read as {canonical!r} (case)"))


def _upgrade_legacy(doc: dict, path: str, notices: list[Notice], *, legacy: bool = True) -> None:
    props = doc.get("properties")
    if not isinstance(props, dict):
        return
    _refuse_iso(props, path)
    if not legacy:
        return

    def note(loc: str, message: str) -> None:
        notices.append(Notice(join_path(path, f"properties.{loc}"), message))

    for section, steps in (("customize", props.get("customize")),
                           ("validate.inVMValidations", (props.get("validate") or {}).get("inVMValidations")
                            if isinstance(props.get("validate"), dict) else None)):
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict) and "script" in step and "scriptUri" not in step:
                step["scriptUri"] = step.pop("script")
                note(f"{section}[{i}].script", "renamed to 'scriptUri'")
    targets = props.get("distribute")
    for i, target in enumerate(targets if isinstance(targets, list) else []):
        if not isinstance(target, dict):
            continue
        if "tags" in target and "artifactTags" not in target:
            target["artifactTags"] = target.pop("tags")
            note(f"distribute[{i}].tags", "renamed to 'artifactTags'")
        if "replicationRegions" in target and "targetRegions" not in target:
            storage = target.pop("storageAccountType", None)
            target["targetRegions"] = [
                {"name": r, **({"storageAccountType": storage} if storage else {})}
                for r in target.pop("replicationRegions") or []]
            note(f"distribute[{i}].replicationRegions", "deprecated; upgraded to 'targetRegions' (1 replica each)")
    vnet = (props.get("vmProfile") or {}).get("vnetConfig") if isinstance(props.get("vmProfile"), dict) else None
    if isinstance(vnet, dict) and {"name", "subnetName"} <= set(vnet) and "subnetId" not in vnet:
        subscription = _subscription_in(doc)
        rg = vnet.pop("resourceGroupName", None) or _resource_group_in(doc)
        vnet_name, subnet = vnet.pop("name"), vnet.pop("subnetName")
        if subscription and rg:
            vnet["subnetId"] = (f"/subscriptions/{subscription}/resourceGroups/{rg}/providers/"
                                f"Microsoft.Network/virtualNetworks/{vnet_name}/subnets/{subnet}")
            note("vmProfile.vnetConfig", "name/subnetName/resourceGroupName upgraded to 'subnetId'")
        else:
            vnet["subnetId"] = f"<subscription>/{vnet_name}/{subnet}"
            note("vmProfile.vnetConfig", "name/subnetName found but no subscription or resource group to build "
                                         "'subnetId' from; set it by hand")


def _refuse_iso(props: dict, path: str) -> None:
    source = props.get("source")
    if isinstance(source, dict) and any(str(k).lower() == "type" and str(v).upper() == "ISO" for k, v in source.items()):
        raise SpecError([Issue(join_path(path, "properties.source.type"),
                               "ISO sources were retired by the service",
                               "use a PlatformImage source (for RHEL, the rhel-byos offer with planInfo)")])


def _subscription_in(doc: dict) -> Optional[str]:
    match = re.search(r"/subscriptions/([^/\"]+)/", repr(doc))
    return match.group(1) if match else None


def _resource_group_in(doc: dict) -> Optional[str]:
    match = re.search(r"/resourceGroups/([^/\"']+)", repr(doc), re.IGNORECASE)
    return match.group(1) if match else None
