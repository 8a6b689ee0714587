"""Import existing AIB templates: AIB JSON (any apiVersion from 2019-05-01-preview to 2025-10-01) or
ARM deployment templates whose `resources` hold image templates, into validated specs.

Older documents are upgraded on the way in, each change reported as a `Notice` with its path:
read-only fields are dropped, keys are matched case-insensitively where the old service did so,
and retired field names become their successors (distribute `tags` -> `artifactTags`, `script` ->
`scriptUri`, vnetConfig name/subnetName/resourceGroupName -> `subnetId`, `replicationRegions` ->
`targetRegions`). An ARM deployment template's image templates are found in `resources` (a list, or the object of
symbolic names of languageVersion 2.0 that Bicep compiles to) and in nested deployments with an inline template
(their parameters passed down); a resource `copy` loop is expanded, each copy its own image named by its evaluated
`name`; a resource whose `condition` is false, or an `existing` one, is skipped. Expressions
are evaluated (`arm.expressions`) with the values of a parameters file and the deployment scope given; a value only a
deployment knows becomes a named placeholder with a notice, and what cannot be evaluated is reported by path, naming
the function. Only this module reads AIB dicts; everything after it works on the spec.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Literal, Optional, get_args, get_origin

from pydantic import BaseModel

from components.model import KNOWN_API_VERSIONS, TEMPLATE_TYPE, ImageTemplateSpec, Issue, SpecError, parse_template
from components.model.distributors import NAME_PATTERN
from components.model.errors import annotation_members, format_path, join_path
from components.arm.expressions import (
    LOCATION_PLACEHOLDER, RESOURCE_GROUP_PLACEHOLDER, SUBSCRIPTION_PLACEHOLDER, Deployment, Failure, Unknown,
    evaluate_tree)

STRICT_FROM = "2024-02-01"  # the service parses case-sensitively and strictly from this version on
_READ_ONLY_TOP = ("id", "systemData", "managedBy", "resourceGroup", "etag", "plan", "sku", "kind")
_ARM_ONLY = ("dependsOn", "comments", "condition", "copy", "scope")
_READ_ONLY_PROPS = ("provisioningState", "provisioningError", "lastRunStatus", "exactStagingResourceGroup")
_EXPRESSION = re.compile(r"^\[(?!\[).*\]$", re.DOTALL)
# Outside an ARM deployment nothing evaluates expressions, and `[ -f /etc/x ]` is a plain shell test:
# only a function call (`[parameters('x')]`, `[concat(...)]`) is reported there.
_CALL_EXPRESSION = re.compile(r"^\[\s*[A-Za-z_][\w.]*\s*\(")  # and ends in "]" (checked apart: no backtracking)
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w-]*>")  # `<subscriptionID>`, `<region>`: a sample's blank to fill in
_PLACEHOLDER_TEXT = re.compile(r"<[^<>]*>")
_SCOPE_PLACEHOLDERS = {SUBSCRIPTION_PLACEHOLDER, RESOURCE_GROUP_PLACEHOLDER, LOCATION_PLACEHOLDER}
_DEPLOYMENTS_TYPE = "microsoft.resources/deployments"


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
    galleries: dict[str, dict] = field(default_factory=dict)
    """The galleries and image definitions the same document creates (not `existing`), by lowercased ARM name
    (`gallery`, `gallery/definition`), each with its evaluated `properties`."""


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
    """Every image template in `doc` (an AIB template or an ARM deployment template, its nested deployments
    included), as specs.

    Each gets its own name: the template's `name`, else `fallback_name` (the file's name), numbered when the
    document holds several. Raises SpecError listing every problem across all templates in the document.
    """
    located, skipped, problems = _locate(doc, inputs or DeploymentInputs())
    if not located and not problems:
        raise SpecError([Issue("", "no Microsoft.VirtualMachineImages/imageTemplates found", _none_found_hint(skipped))],
                        source)
    imported, issues = [], list(problems)
    for item in located:
        try:
            imported.append(_import_located(item))
        except SpecError as exc:
            issues += exc.issues
    if issues:
        raise SpecError(issues, source)
    _add_deployment_notes(imported, located)
    galleries = declared_galleries(doc, inputs or DeploymentInputs())
    for item in imported:
        item.galleries.update(galleries)
    return _named_apart(imported, fallback_name)


def _add_deployment_notes(imported: list[ImportedTemplate], located: list["Located"]) -> None:
    """The values import-arm chose where a deployment would (utcNow() in a parameter default), each once, as notices
    of the document's first template."""
    roots = {id(d.root()): d.root() for d in (item.deployment for item in located) if d is not None}
    notes = [Notice(path, message) for root in roots.values() for path, message in root.notes.items()]
    if imported and notes:
        imported[0].notices[:0] = notes


def _none_found_hint(skipped: list[str]) -> str:
    if skipped:
        linked = any("templateLink" in s for s in skipped)
        return ("the template's image templates are out of reach: " + "; ".join(skipped) +
                (" (import the linked template file itself, with --parameters)" if linked else ""))
    return ("expected an AIB template (with 'properties'), or an ARM template whose 'resources' (a list, or an object "
            "in languageVersion 2.0) or nested deployments hold one")


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
                      location=inputs.location, functions=doc.get("functions") or [])


@dataclass(frozen=True)
class Located:
    """An image template found in a document: where, the resource, the deployment its expressions evaluate in (None
    for an AIB template), and, for one copy of a resource `copy` loop, its index in each loop."""

    path: str
    raw: dict
    deployment: Optional[Deployment] = None
    copies: dict[str, int] = field(default_factory=dict)
    notices: tuple[Notice, ...] = ()


def _import_located(located: Located) -> ImportedTemplate:
    """One template of a document; in an ARM deployment template, its expressions evaluated first."""
    raw, path, deployment = located.raw, located.path, located.deployment
    if deployment is None:
        return import_template(raw, path=path)
    # ARM-only keys (dependsOn, condition) are dropped by import_template with a notice each; what they hold never
    # reaches the spec, so it is not evaluated. A resource copy loop was expanded when the template was located.
    if located.copies:
        raw = {k: v for k, v in raw.items() if k != "copy"}
    arm_only = {k: raw[k] for k in _ARM_ONLY if k in raw}
    evaluated, failures = evaluate_tree({k: v for k, v in raw.items() if k not in arm_only}, deployment,
                                        copies=located.copies)
    if failures:
        raise SpecError([_failure_issue(path, f) for f in failures])
    evaluated = {**_without_nulls(evaluated), **arm_only}
    notices: list[Notice] = list(located.notices)
    name = evaluated.get("name") if isinstance(evaluated, dict) else None
    if isinstance(name, Unknown):
        readable = image_name(_PLACEHOLDER_TEXT.sub("", name)) or "imported"
        notices.append(Notice(join_path(path, "name"), f"{name!r} is known only at deployment; the image is named "
                                                       f"{readable!r} (rename it in the stack config if you like)"))
        evaluated["name"] = readable
    item = import_template(evaluated, path=path, expressions_evaluated=True, fill_in=_fill_in(deployment),
                           runtime=deployment.placeholders_used)
    item.notices[:0] = notices + _placeholder_notices(evaluated, path, deployment.placeholders_used)
    return item


_SCOPE_OPTIONS = {SUBSCRIPTION_PLACEHOLDER: "--subscription", RESOURCE_GROUP_PLACEHOLDER: "--resource-group",
                  LOCATION_PLACEHOLDER: "--location"}


# The functions whose value holds a scope value: a placeholder named after a call of one (`<substring(subscription()
# .subscriptionId, 0, 8)>`) is unknown for want of that scope when its placeholder was used.
_SCOPE_CALLS = {SUBSCRIPTION_PLACEHOLDER: ("subscription()", "resourceid("),
                RESOURCE_GROUP_PLACEHOLDER: ("resourcegroup()", "resourceid("), LOCATION_PLACEHOLDER: ("location",)}


def _fill_in(deployment: Deployment) -> Callable[[str], Optional[str]]:
    """The way to fill a blank in an ARM deployment template: the import-arm option of a scope value, else the
    parameter whose value or default holds it (the outermost deployment's first: those --parameters sets)."""
    chain: list[Deployment] = []
    link: Optional[Deployment] = deployment
    while link is not None:
        chain.append(link)
        link = link.outer

    def way(blank: str) -> Optional[str]:
        if blank in _SCOPE_OPTIONS:
            return f"give import-arm {_SCOPE_OPTIONS[blank]}"
        for d in reversed(chain):
            for name, definition in d.definitions.items():
                given = next((v for k, v in d.parameters.items() if k.lower() == str(name).lower()), None)
                default = definition.get("defaultValue") if isinstance(definition, dict) else None
                if blank in json.dumps(given if given is not None else default):
                    if d.outer is None:
                        return f"give parameter {name!r} its value with import-arm --parameters FILE"
                    return f"set the value of parameter {name!r} of the template at {d.where or 'the top'}"
        return None
    return way


def _without_nulls(value: Any) -> Any:
    """ARM leaves out a property whose value is null (Bicep writes `if(cond, x, null())` for optional ones)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _failure_issue(path: str, failure: Failure) -> Issue:
    function = failure.error.function
    return Issue(join_path(path, format_path(failure.loc)),
                 f"ARM expression {failure.expression!r} cannot be evaluated ({function}): {failure.error}",
                 "" if "(hint:" in str(failure.error) else
                 "give the value it needs (import-arm --parameters FILE), or replace the expression with its value")


def _placeholder_notices(value: Any, path: str, placeholders: Iterable[str] = ()) -> list[Notice]:
    """A notice for each value still holding a placeholder: the sample's blank (`<region>`), a scope not given
    (`<subscription-id>`), or a value only the deployment knows (`<reference('msi').principalId>`)."""
    runtime = sorted((p for p in placeholders if p not in _SCOPE_PLACEHOLDERS), key=len, reverse=True)
    notices = []
    for p, v in _strings(value):
        found = [r for r in runtime if r in v]
        blanks = [b for b in _PLACEHOLDER.findall(v) if not any(b in r for r in found)]
        if found:
            notices.append(Notice(join_path(path, p), f"{v!r} holds {', '.join(found)}: a value only the deployment "
                                                      "knows (reference, list*, utcNow, deployment(), ...); set the "
                                                      "real value in the stack config"))
        if blanks:
            notices.append(Notice(join_path(path, p), f"{v!r} holds the placeholder {', '.join(blanks)}: fill it in "
                                                      "(import-arm --subscription/--resource-group/--location fill "
                                                      "those of subscription() and resourceGroup())"))
    return notices


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


def _locate(doc: Any, inputs: DeploymentInputs) -> tuple[list[Located], list[str], list[Issue]]:
    """Every image template in `doc`, what was out of reach (linked templates, empty loops), and the resource loops
    that cannot be expanded. An ARM deployment template's `resources` are a list, or an object of symbolic names
    (languageVersion 2.0, what Bicep and AVM modules compile to); nested deployments with an inline template are
    searched too, and a resource `copy` loop of image templates (or of deployments holding them) is expanded, each
    copy its own template."""
    if not isinstance(doc, dict):
        return [], [], []
    if isinstance(doc.get("resources"), (list, dict)):
        found: list[Located] = []
        skipped: list[str] = []
        problems: list[Issue] = []
        _search(doc, _deployment(doc, inputs), "", found, skipped, problems, {})
        return found, skipped, problems
    if "properties" in doc:
        return [Located("", doc)], [], []
    return [], [], []


def _resources(template: dict, prefix: str) -> Iterator[tuple[str, Any]]:
    resources = template.get("resources")
    if isinstance(resources, dict):
        for key, resource in resources.items():
            yield join_path(prefix, f"resources.{key}"), resource
    elif isinstance(resources, list):
        for i, resource in enumerate(resources):
            yield join_path(prefix, f"resources[{i}]"), resource


def _search(template: dict, deployment: Deployment, prefix: str, found: list[Located], skipped: list[str],
            problems: list[Issue], copies: dict[str, int]) -> None:
    for at, resource, scope, indexes, notices in _deployed(template, deployment, prefix, copies, (TEMPLATE_TYPE.lower(),),
                                                           _holds_image_templates, skipped, problems):
        found.append(Located(at, resource, scope, indexes, notices))


def _deployed(template: dict, deployment: Deployment, prefix: str, copies: dict[str, int], kinds: tuple[str, ...],
              descend: Callable[[Any], bool], skipped: list[str], problems: list[Issue]
              ) -> Iterator[tuple[str, dict, Deployment, dict[str, int], tuple[Notice, ...]]]:
    """(path, resource, the deployment its expressions evaluate in, copy indexes, notices) of every copy of every
    resource of `kinds` (lowercased types) that `template` deploys: not `existing`, its condition not false, in the
    template itself or in the nested deployments with an inline template that `descend` accepts. A linked template is
    out of reach (recorded in `skipped`)."""
    for path, resource in _resources(template, prefix):
        if not isinstance(resource, dict) or resource.get("existing") is True:
            continue
        kind = str(resource.get("type", "")).lower()
        props = _mapping(resource.get("properties"))
        inner = props.get("template")
        if kind == _DEPLOYMENTS_TYPE and not isinstance(inner, dict):
            if "templateLink" in props and not _condition_false(resource, deployment, copies):
                skipped.append(f"{path} links its template (properties.templateLink)")
            continue
        if kind not in kinds and not (kind == _DEPLOYMENTS_TYPE and descend(inner)):
            continue
        for at, indexes, notices in _copies(resource, deployment, path, copies, skipped, problems):
            if _condition_false(resource, deployment, indexes):
                continue
            if kind in kinds:
                yield at, resource, deployment, indexes, notices
            elif isinstance(inner, dict):
                where = join_path(at, "properties.template")
                scoped = _nested(resource, props, inner, deployment, where, indexes)
                yield from _deployed(inner, scoped, where, indexes if scoped is deployment else {}, kinds, descend,
                                     skipped, problems)


_GALLERY_TYPES = ("microsoft.compute/galleries", "microsoft.compute/galleries/images")


def declared_galleries(doc: Any, inputs: DeploymentInputs) -> dict[str, dict]:
    """The galleries and image definitions an ARM deployment template creates itself, its nested deployments (and
    their copy loops) included, as `ImportedTemplate.galleries`: what a pattern module such as AVM's
    `azure-image-builder` deploys beside its image template. A name or properties that only a deployment knows
    are left out."""
    found: dict[str, dict] = {}
    if not (isinstance(doc, dict) and isinstance(doc.get("resources"), (list, dict))):
        return found
    for _, resource, scope, indexes, _ in _deployed(doc, _deployment(doc, inputs), "", {}, _GALLERY_TYPES,
                                                    lambda inner: isinstance(inner, dict), [], []):
        name, failures = evaluate_tree(resource.get("name"), scope, copies=indexes)
        if failures or not isinstance(name, str) or isinstance(name, Unknown):
            continue
        properties, failures = evaluate_tree(resource.get("properties"), scope, copies=indexes)
        found[name.lower()] = properties if isinstance(properties, dict) and not failures else {}
    return found


def _holds_image_templates(template: Any) -> bool:
    """Whether an inline template holds an image template, itself or in its nested deployments."""
    if not isinstance(template, dict):
        return False
    for _, resource in _resources(template, ""):
        if not isinstance(resource, dict):
            continue
        kind = str(resource.get("type", "")).lower()
        if kind == TEMPLATE_TYPE.lower() or (kind == _DEPLOYMENTS_TYPE and (
                "templateLink" in _mapping(resource.get("properties"))
                or _holds_image_templates(_mapping(resource.get("properties")).get("template")))):
            return True
    return False


def _copies(resource: dict, deployment: Deployment, path: str, copies: dict[str, int], skipped: list[str],
            problems: list[Issue]) -> Iterator[tuple[str, dict[str, int], tuple[Notice, ...]]]:
    """(path, copy indexes, notices) of each copy a resource stands for: itself when it has no `copy` loop; else one
    per index of its `count`, at `<path>[copyIndex=i]`, with `copyIndex()` and `copyIndex('<loop name>')` giving i."""
    loop = resource.get("copy")
    if not isinstance(loop, dict):
        yield path, copies, ()
        return
    name = str(loop.get("name", ""))
    count, failures = evaluate_tree(loop.get("count"), deployment, copies=copies)
    if failures or isinstance(count, Unknown) or not isinstance(count, int) or isinstance(count, bool) or count < 0:
        why = str(failures[0].error) if failures else (f"{count!r} is known only at deployment"
                                                        if isinstance(count, Unknown) else f"{count!r} is not a count")
        problems.append(Issue(join_path(path, "copy.count"), f"resource copy loop {name!r}: {why}",
                              "give the value it is computed from (import-arm --parameters FILE), or write the count"))
        return
    if count == 0:
        skipped.append(f"{path} is a copy loop ({name!r}) of count 0")
    for i in range(count):
        at = f"{path}[copyIndex={i}]"
        notice = Notice(at, f"copy {i + 1} of {count} of the resource copy loop {name!r} (copyIndex() = {i}): "
                            "each copy is its own image, named by its evaluated name")
        yield at, {**copies, name.lower(): i, "": i}, (notice,)


def _condition_false(resource: dict, deployment: Deployment, copies: Optional[dict[str, int]] = None) -> bool:
    """A resource whose `condition` evaluates to false is not deployed; one that cannot be evaluated is kept."""
    if "condition" not in resource:
        return False
    value, failures = evaluate_tree(resource["condition"], deployment, copies=copies)
    return not failures and value is False


def _nested(resource: dict, props: dict, inner: dict, outer: Deployment, where: str,
            copies: Optional[dict[str, int]] = None) -> Deployment:
    """The deployment a nested template's expressions evaluate in. With `expressionEvaluationOptions.scope: inner`
    (what Bicep modules compile to) it is a scope of its own: the inner template's parameters, given the values
    `properties.parameters` passes (evaluated in the outer deployment), its variables, and the resource group the
    deployment resource names. Otherwise (`outer`, the default) the outer deployment's parameters and variables."""
    options = _mapping(props.get("expressionEvaluationOptions"))
    if str(options.get("scope", "outer")).lower() != "inner":
        return outer
    group = outer.resource_group
    if "resourceGroup" in resource:
        value, failures = evaluate_tree(resource["resourceGroup"], outer, copies=copies)
        group = value if isinstance(value, str) and not failures else None
    location = outer.location if group == outer.resource_group else None
    subscription = outer.subscription_id
    if "subscriptionId" in resource:
        value, failures = evaluate_tree(resource["subscriptionId"], outer, copies=copies)
        subscription = value if isinstance(value, str) and not failures else None
    return Deployment(parameters=_mapping(props.get("parameters")), definitions=_mapping(inner.get("parameters")),
                      variables=_mapping(inner.get("variables")), subscription_id=subscription,
                      resource_group=group, location=location, outer=outer, where=where,
                      given_copies=dict(copies or {}), functions=inner.get("functions") or [])


def import_template(raw: dict, *, path: str = "", expressions_evaluated: bool = False,
                    fill_in: Optional[Callable[[str], Optional[str]]] = None,
                    runtime: Iterable[str] = ()) -> ImportedTemplate:
    """One AIB template dict -> spec, with the upgrade notices. Raises SpecError with paths under `path`; a field
    refused for holding a sample's blank (`<scriptUrl>`) or a placeholder of `runtime` (values only a deployment
    knows) says so, with the way to fill it in: `fill_in(blank)` when it knows one (the parameter or option that sets
    it), else editing the template.

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
    doc = _canonical_group_ids(doc, path, notices)
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
    if api_version < STRICT_FROM:
        _match_case(doc, ImageTemplateSpec, [], path, notices, drop_unknown=api_version)
    repo_issues = _repository_file_keys(doc, path)
    try:
        spec = parse_template(doc)
    except SpecError as exc:
        steps = {i.path.rsplit(".", 1)[0] for i in repo_issues}
        rest = [i for i in exc.prefixed(path).issues
                if not (i.path.rsplit(".", 1)[0] in steps and "exactly one of" in i.message)]
        raise SpecError(repo_issues + _blank_issues(rest, doc, path, fill_in, runtime), exc.source) from None
    if repo_issues:
        raise SpecError(repo_issues)
    return ImportedTemplate(name=name, spec=spec, api_version=api_version, path=path, notices=notices,
                            named=bool(raw.get("name")))


# `/subscriptions/S/providers/Microsoft.Resources/resourceGroups/N`, what ARM's subscriptionResourceId() gives for a
# resource group (AVM's image-builder pattern passes stagingResourceGroup so): ARM reads it as the same resource as
# `/subscriptions/S/resourceGroups/N`, the form the service returns and the stack config uses.
_PROVIDER_GROUP_ID = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Resources/resourceGroups/([^/]+)(/.*)?$",
                                re.IGNORECASE)


def _canonical_group_ids(value: Any, path: str, notices: list[Notice], loc: tuple = ()) -> Any:
    """`value` with every resource group id written through the Microsoft.Resources provider in its canonical form."""
    if isinstance(value, dict):
        return {_canonical_group_ids(k, path, notices, (*loc, k)) if isinstance(k, str) else k:
                _canonical_group_ids(v, path, notices, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_group_ids(v, path, notices, (*loc, i)) for i, v in enumerate(value)]
    match = _PROVIDER_GROUP_ID.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    canonical = f"/subscriptions/{match.group(1)}/resourceGroups/{match.group(2)}{match.group(3) or ''}"
    notices.append(Notice(join_path(path, format_path(loc)), f"{value!r} read as {canonical!r} (the same resource "
                                                             "group; ARM reads both forms)"))
    return type(value)(canonical) if isinstance(value, Unknown) else canonical


def _blank_issues(issues: list[Issue], doc: dict, path: str, fill_in: Optional[Callable[[str], Optional[str]]],
                  runtime: Iterable[str] = ()) -> list[Issue]:
    """Each issue about a value holding a sample's blank (`<scriptUrl>`, `<region1>`) or a value only a deployment
    knows (`<reference('x').name>`, from `runtime`), said as such, with the way to fill it in (what the field takes
    kept from the issue's own hint)."""
    values = {join_path(path, p): v for p, v in _strings(doc)}
    runtime = set(runtime)
    known_later = sorted((r for r in runtime if r not in _SCOPE_PLACEHOLDERS), key=len, reverse=True)
    out = []
    for issue in issues:
        text = values.get(issue.path) or ""
        found = [r for r in known_later if r in text]
        found = [r for r in found if not any(r != other and r in other for other in found)]
        blanks = [b for b in dict.fromkeys(_PLACEHOLDER.findall(text)) if not any(b in r for r in found)]
        if found:
            scopes = [b for b, calls in _SCOPE_CALLS.items() if b in runtime
                      and any(b in r or any(c in r.lower() for c in calls) for r in found)]
            way = "; ".join(w for w in (fill_in(b) if fill_in else None for b in scopes) if w) or (
                "write the value in the template, or give the parameter it is computed from with import-arm "
                "--parameters FILE")
            out.append(Issue(issue.path, f"{text!r} holds {', '.join(found)}, a value only the deployment knows",
                             way))
            continue
        if not blanks:
            out.append(issue)
            continue
        ways = [(fill_in(b) if fill_in else None) for b in blanks]
        takes = re.sub(r"^(use|expected) ", "", issue.hint)
        takes = f" ({takes})" if takes else ""
        hint = "; ".join(dict.fromkeys(
            way or f"replace {b} in the template with its value{takes}, as the sample's instructions do, then "
                   "import again" for b, way in zip(blanks, ways)))
        what = "is a blank" if [text] == blanks else f"holds {', '.join(blanks)}, a blank"
        out.append(Issue(issue.path, f"{text!r} {what} left to fill in", hint))
    return out


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


def _match_case(data: Any, tp: Any, loc: list, path: str, notices: list[Notice], drop_unknown: str = "") -> None:
    """Rename keys to their canonical case (pre-2024 services matched keys case-insensitively). `drop_unknown`: the
    document's api-version, when it is one whose service ignored unknown fields (before 2024-02-01, which refuses
    them): such a field had no effect there, so it is dropped with a notice instead of refused."""
    if isinstance(data, list):
        inner = next((get_args(m)[0] for m in annotation_members(tp) if get_origin(m) is list), None)
        for i, item in enumerate(data):
            _match_case(item, inner, [*loc, i], path, notices, drop_unknown)
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
        if drop_unknown and key.lower() not in by_lower:
            data.pop(key)
            close = difflib.get_close_matches(key, [name for name, _ in by_lower.values()], n=1)
            notices.append(Notice(join_path(path, format_path([*loc, key])),
                                  f"unknown field, which the service at {drop_unknown} ignored: dropped"
                                  + (f" (did you mean {close[0]!r}?)" if close else "")))
            continue
        canonical, annotation = by_lower.get(key.lower(), (key, None))
        if canonical != key and canonical not in data:
            data[canonical] = data.pop(key)
            notices.append(Notice(join_path(path, format_path([*loc, key])), f"renamed to {canonical!r} (case)"))
        if annotation is not None and get_origin(annotation) is not dict:
            _match_enum_case(data, canonical, annotation, [*loc, canonical], path, notices)
            _match_case(data[canonical], annotation, [*loc, canonical], path, notices, drop_unknown)


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
