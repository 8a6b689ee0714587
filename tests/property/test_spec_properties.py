"""Hypothesis: valid templates (every union member) round-trip through render/import; any mutation of one
either validates or raises SpecError whose issues point into the input. Nothing else may escape."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.arm.import_arm import import_template
from components.arm.render import dumps, render_template
from components.model import SpecError, parse_template
from components.model.stack import parse_stack_config
from tests.unit.spec_samples import (
    GALLERY_IMAGE, GALLERY_VERSION, IDENTITY, MANAGED_IMAGE, RG, SHA, STAGING_RG, SUBNET, ACI_SUBNET,
)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Plain alphabets, not from_regex: generation dominates the runtime and regex strategies are slow.
names = st.text(alphabet="abcxyzABZ0189-_.", min_size=1, max_size=20)
https = st.builds(lambda host, path: f"https://{host}.example.com/{path}",
                  st.sampled_from(["scripts", "artifacts", "cdn"]), st.text(alphabet="abz09/._-", min_size=1, max_size=20))
commands = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=3)
regions = st.sampled_from(["westeurope", "northeurope", "eastus", "West US 2"])


def _script(draw, kind: str) -> dict:
    step: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        step["inline"] = draw(commands)
    else:
        step["scriptUri"] = draw(https)
        if draw(st.booleans()):
            step["sha256Checksum"] = draw(st.sampled_from([SHA, "0123456789abcdefABCDEF" * 2 + "0" * 20]))
    if kind == "PowerShell":
        elevated = draw(st.booleans())
        step["runElevated"] = elevated
        step["runAsSystem"] = elevated and draw(st.booleans())
        if draw(st.booleans()):
            step["validExitCodes"] = draw(st.lists(st.integers(0, 3010), min_size=1, max_size=3))
    return step


@st.composite
def steps(draw, os_type: str, validator: bool) -> dict:
    kinds = {"Linux": ["Shell", "File"], "Windows": ["PowerShell", "File"]}[os_type]
    if os_type == "Windows" and not validator:
        kinds += ["WindowsRestart", "WindowsUpdate"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("Shell", "PowerShell"):
        return _script(draw, kind)
    if kind == "File":
        folder = "/tmp/" if os_type == "Linux" else "c:\\artifacts\\"
        step = {"type": "File", "sourceUri": draw(https), "destination": folder + draw(names)}
        if draw(st.booleans()):
            step["sha256Checksum"] = SHA
        return step
    if kind == "WindowsRestart":
        return {"type": kind, **draw(st.fixed_dictionaries({}, optional={
            "restartCommand": st.just("shutdown /r /f /t 0"), "restartCheckCommand": st.just("echo ok"),
            "restartTimeout": st.sampled_from(["5m", "1.5h", "30s"])}))}
    return {"type": kind, **draw(st.fixed_dictionaries({}, optional={
        "searchCriteria": st.just("IsInstalled=0"), "filters": st.just(["include:$true"]),
        "updateLimit": st.integers(0, 1000)}))}


@st.composite
def distributor(draw, run_output_name: str) -> dict:
    kind = draw(st.sampled_from(["ManagedImage", "SharedImage", "VHD"]))
    target: dict[str, Any] = {"type": kind, "runOutputName": run_output_name}
    if draw(st.booleans()):
        target["artifactTags"] = draw(st.dictionaries(names, st.text(max_size=10), max_size=2))
    if kind == "ManagedImage":
        target.update(imageId=f"{RG}/providers/Microsoft.Compute/images/{run_output_name}", location=draw(regions))
    elif kind == "VHD":
        if draw(st.booleans()):
            target["uri"] = f"https://sa.blob.core.windows.net/vhds/{run_output_name}.vhd"
    else:
        explicit = draw(st.booleans())
        target["galleryImageId"] = GALLERY_VERSION if explicit else GALLERY_IMAGE
        how = draw(st.sampled_from(["targetRegions", "replicationRegions", "none"]))
        if how == "targetRegions":
            target["targetRegions"] = draw(st.lists(st.fixed_dictionaries({"name": regions}, optional={
                "replicaCount": st.integers(1, 10),
                "storageAccountType": st.sampled_from(["Standard_LRS", "Standard_ZRS", "Premium_LRS"])}),
                min_size=1, max_size=3))
        elif how == "replicationRegions":
            target["replicationRegions"] = draw(st.lists(regions, min_size=1, max_size=3))
            if draw(st.booleans()):
                target["storageAccountType"] = "Standard_ZRS"
        if not explicit and draw(st.booleans()):
            target["versioning"] = draw(st.sampled_from([{"scheme": "Source"}, {"scheme": "Latest"},
                                                         {"scheme": "Latest", "major": 2}]))
        target.update(draw(st.fixed_dictionaries({}, optional={
            "excludeFromLatest": st.booleans(), "replicationMode": st.sampled_from(["Full", "Shallow"])})))
    return target


LINUX_SOURCES = [{"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                 {"type": "PlatformImage", "publisher": "RedHat", "offer": "RHEL", "sku": "9-lvm-gen2",
                  "version": "9.4.2024", "planInfo": {"planName": "p", "planProduct": "q", "planPublisher": "r"}}]
WINDOWS_SOURCES = [{"type": "PlatformImage", "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                    "sku": "2022-datacenter-g2", "version": "latest"}]
OTHER_SOURCES = [{"type": "ManagedImage", "imageId": MANAGED_IMAGE},
                 {"type": "SharedImageVersion", "imageVersionId": GALLERY_VERSION}]


@st.composite
def templates(draw) -> dict:
    os_type = draw(st.sampled_from(["Linux", "Windows"]))
    source = copy.deepcopy(draw(st.sampled_from(
        (LINUX_SOURCES if os_type == "Linux" else WINDOWS_SOURCES) + OTHER_SOURCES)))
    doc: dict[str, Any] = {"location": draw(regions),
                           "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}}
    if source["type"] != "PlatformImage" or draw(st.booleans()):
        doc["osType"] = os_type
    if draw(st.booleans()):
        doc["name"] = draw(names)
    props: dict[str, Any] = {"source": source}
    customize = draw(st.lists(steps(os_type, False), max_size=4))
    validators = draw(st.lists(steps(os_type, True), max_size=2))
    for i, step in enumerate(customize + validators):
        if draw(st.booleans()):
            step["name"] = f"step-{i}"
    validate = draw(st.fixed_dictionaries({}, optional={"continueDistributeOnFailure": st.booleans(),
                                                        "sourceValidationOnly": st.just(not customize)}))
    if validators:
        validate["inVMValidations"] = validators
    if customize or draw(st.booleans()):
        props["customize"] = customize
    if validate:
        props["validate"] = validate
    outputs = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    props["distribute"] = [draw(distributor(name)) for name in outputs]
    props.update(draw(st.fixed_dictionaries({}, optional={
        "buildTimeoutInMinutes": st.one_of(st.just(0), st.integers(6, 960)),
        "vmProfile": st.fixed_dictionaries({}, optional={
            "vmSize": st.sampled_from(["Standard_D2s_v3", ""]), "osDiskSizeGB": st.integers(0, 2048),
            "userAssignedIdentities": st.just([IDENTITY]),
            "vnetConfig": st.sampled_from([{"subnetId": SUBNET}, {"subnetId": SUBNET, "proxyVmSize": "Standard_A2_v2"},
                                           {"subnetId": SUBNET, "containerInstanceSubnetId": ACI_SUBNET}])}),
        "stagingResourceGroup": st.just(STAGING_RG),
        "optimize": st.sampled_from([{"vmBoot": {"state": "Enabled"}},
                                     {"workload": {"state": "Disabled", "scriptUri": "https://e.com/w.sh"}}]),
        "errorHandling": st.fixed_dictionaries({}, optional={"onCustomizerError": st.sampled_from(["cleanup", "abort"]),
                                                             "onValidationError": st.sampled_from(["cleanup", "abort"])}),
        "autoRun": st.sampled_from([{"state": "Enabled"}, {"state": "Disabled"}]),
        "managedResourceTags": st.dictionaries(names, st.text(max_size=8), max_size=2),
        "additionalDataDisks": st.lists(st.fixed_dictionaries({"sizeGB": st.integers(0, 4096)}), max_size=2),
    })))
    doc["properties"] = props
    doc.update(draw(st.fixed_dictionaries({}, optional={
        "tags": st.dictionaries(names, st.text(max_size=10), max_size=3),
        "hyperVGeneration": st.sampled_from(["V1", "V2"]),
        "deprovision": st.fixed_dictionaries({"commands": commands}),
    })))
    if validate.get("sourceValidationOnly"):
        doc.pop("deprovision", None)  # nothing is built, so there is nothing to deprovision
    return doc


# ---- mutations -------------------------------------------------------------------------------------

def _locations(value: Any, loc: tuple = ()):
    yield loc
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _locations(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _locations(item, (*loc, i))


BAD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from([-1, 0, 5, 961, 2**31, -2]),
    st.floats(allow_nan=True), st.text(max_size=20), st.just("x" * 20000), st.just([]), st.just({}),
    st.just([1, "two", None]), st.just({"type": "Unknown"}), st.just("http://insecure.example.com/a.sh"),
    st.sampled_from([f"{RG}/providers/Microsoft.Network/virtualNetworks/v", SUBNET, MANAGED_IMAGE, "/subscriptions/",
                     f"{RG}/providers/Microsoft.Compute/galleries/g/images", "not/an/id", "/tmp/../etc"]),
    st.sampled_from(["Shell", "PowerShell", "File", "WindowsRestart", "WindowsUpdate", "ManagedImage",
                     "SharedImage", "VHD", "PlatformImage", "SharedImageVersion", "Latest", "Source", "shell"]),
)


@st.composite
def mutated(draw, base) -> dict:
    doc = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(1, 3))):
        locs = [loc for loc in _locations(doc) if loc]
        if not locs:  # an earlier mutation emptied the document: nothing left to mutate
            break
        loc = draw(st.sampled_from(locs))
        parent = doc
        for part in loc[:-1]:
            parent = parent[part]
        key = loc[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "extra", "case", "huge"]))
        if action == "replace":
            parent[key] = copy.deepcopy(draw(BAD_VALUES))
        elif action == "delete":
            del parent[key]
        elif action == "extra":
            target = parent[key] if isinstance(parent[key], dict) else parent
            if isinstance(target, dict):
                target[draw(st.one_of(st.text(min_size=1, max_size=12), st.just("extraField")))] = copy.deepcopy(draw(BAD_VALUES))
            else:
                target.append(copy.deepcopy(draw(BAD_VALUES)))
        elif action == "case" and isinstance(key, str):
            new = draw(st.sampled_from([key.upper(), key.lower(), key[:1].swapcase() + key[1:]]))
            if new not in parent:
                parent[new] = parent.pop(key)
        elif action == "huge" and isinstance(parent[key], str):
            parent[key] = (parent[key] * 500)[:50_000]
    return doc


_SEGMENT = re.compile(r"\[(\d+)\]")


def _resolves(doc: Any, path: str) -> bool:
    """Does `path` (as the spec formats it, keys possibly holding dots) name a node of `doc`?"""
    if path == "":
        return True
    node, rest = doc, path
    while rest:
        if isinstance(node, list):
            match = _SEGMENT.match(rest)
            if not match or int(match.group(1)) >= len(node):
                return False
            node, rest = node[int(match.group(1))], rest[match.end():]
        elif isinstance(node, dict):
            rest = rest[1:] if rest.startswith(".") and node is not doc else rest
            keys = sorted((k for k in node if isinstance(k, str) and rest.startswith(k)
                           and rest[len(k):len(k) + 1] in ("", ".", "[")), key=len, reverse=True)
            if not keys:
                return False
            node, rest = node[keys[0]], rest[len(keys[0]):]
        else:
            return False
    return True


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _check_issues(exc: SpecError, doc: Any) -> None:
    assert exc.issues
    for issue in exc.issues:
        assert issue.path, str(issue)
        assert issue.message and "\n" not in issue.message, str(issue)
        # the node itself, or (missing field / rule on an absent key) its parent, is in the input
        assert _resolves(doc, issue.path) or _resolves(doc, _parent(issue.path)), (issue.path, str(issue))


# ---- properties ------------------------------------------------------------------------------------

@settings(max_examples=500, **SETTINGS)
@given(templates())
def test_valid_templates_round_trip_and_render_deterministically(doc):
    spec = parse_template(doc)
    rendered = render_template(spec)
    assert dumps(rendered) == dumps(render_template(parse_template(copy.deepcopy(doc))))
    again = render_template(import_template(rendered).spec)
    assert dumps(again) == dumps(rendered)


@settings(max_examples=1200, **SETTINGS)
@given(mutated(templates()))
def test_mutated_templates_fail_only_with_spec_errors_pointing_into_the_input(doc):
    try:
        spec = parse_template(doc)
    except SpecError as exc:
        _check_issues(exc, doc)
    else:  # still valid: it must render and round-trip like any valid spec
        if spec.identity is not None and not spec.allow_http_uris:
            rendered = render_template(spec)
            assert dumps(render_template(import_template(rendered).spec)) == dumps(rendered)


@st.composite
def stack_configs(draw) -> dict:
    images = {}
    for name in draw(st.lists(names, min_size=1, max_size=2, unique=True)):
        template = draw(templates())
        template.pop("name", None)
        image: dict[str, Any] = {"template": template}
        image.update(draw(st.fixed_dictionaries({}, optional={
            "gallery": st.fixed_dictionaries({}, optional={"create": st.booleans(), "location": regions}),
            "staging": st.sampled_from(["create", "service"]), "rebuildTrigger": st.text(max_size=8),
            "build": st.booleans()})))
        images[name] = image
    return {"location": draw(regions), "images": images,
            **draw(st.fixed_dictionaries({}, optional={"resourceGroupName": names, "createResourceGroup": st.booleans()}))}


@settings(max_examples=500, **SETTINGS)
@given(mutated(stack_configs()))
def test_mutated_stack_configs_fail_only_with_spec_errors(data):
    try:
        parse_stack_config(data)
    except SpecError as exc:
        _check_issues(exc, data)
