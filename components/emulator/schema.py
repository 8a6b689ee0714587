"""Request-body validation for image templates, per api-version, as the service does it.

This module owns the ImageTemplate and ImageTemplateUpdateParameters schemas (reference §2), written as
data (`F` field specs) independently of the project's own models. `validate_template()` returns a
normalised copy of a PUT body or raises `ArmError`: for api-version >= 2024-02-01 parsing is strict (an
unknown or wrong-case field, a field newer than the api-version included, gives the service's "Unmarshalling
entity encountered error" text); for older versions keys and enum values are matched case-insensitively and
unknown keys are dropped, fields newer than the api-version too (the swagger sets no additionalProperties:false,
and Go's default decoding ignores unknown fields). Semantic rules that are not expressible per field (exactly one
identity, unique runOutputName, Shell `scriptUri` xor `inline`, ...) are in `_semantic_checks`; the value formats
of build timeouts, checksums and restart timeouts are the emulator's own (`formats.py`, each rule beside its
documented source), never the project's: the emulator judges the project. Only the first error is reported, as
the service does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from components.emulator import errors
from components.emulator.formats import build_timeout_problem, is_direct_shared_image_version, is_duration, is_sha256

SUPPORTED_API_VERSIONS = ("2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01", "2023-07-01", "2024-02-01",
                          "2025-10-01")
"""Every stable api-version the service publishes (imagebuilder.json under stable/)."""
TRIGGERS_SINCE = "2022-07-01"
STRICT_SINCE = "2024-02-01"
NAME_RE = re.compile(r"^[A-Za-z0-9-_.]{1,64}$")


@dataclass(frozen=True)
class F:
    kind: str  # str int bool map enum obj list union any
    required: bool = False
    since: str | None = None
    readonly: bool = False
    go: str = ""  # Go type name of an obj, for the Unmarshalling text
    fields: dict = field(default_factory=dict)  # obj
    item: "F | None" = None  # list
    variants: dict = field(default_factory=dict)  # union: discriminator value -> F(kind="obj")
    disc: str = "type"
    values: tuple = ()  # enum
    min: int | None = None
    max: int | None = None
    required_before: str | None = None  # required only in api-versions older than this one


def obj(go: str, fields: dict, **kw) -> F:
    return F("obj", go=go, fields=fields, **kw)


S, I, B, M, ANY = F("str"), F("int"), F("bool"), F("map"), F("any")
RO = F("any", readonly=True)
REQ_S = F("str", required=True)
STR_LIST = F("list", item=S)
STATE = F("enum", values=("Enabled", "Disabled"))
STORAGE = F("enum", values=("Standard_LRS", "Standard_ZRS", "Premium_LRS"))


def _script(go: str, extra: dict | None = None) -> F:
    base = {"type": REQ_S, "name": S, "scriptUri": S, "sha256Checksum": S, "inline": STR_LIST}
    return obj(go, {**base, **(extra or {})})


_PS_EXTRA = {"runElevated": B, "runAsSystem": B, "validExitCodes": F("list", item=I)}
_FILE = {"type": REQ_S, "name": S, "sourceUri": S, "sha256Checksum": S, "destination": S}

SOURCE = F(
    "union",
    required=True,
    variants={
        "PlatformImage": obj("ImageTemplatePlatformImageSource", {
            "type": REQ_S, "publisher": S, "offer": S, "sku": S, "version": S, "exactVersion": RO,
            "planInfo": obj("PlatformImagePurchasePlan", {"planName": REQ_S, "planProduct": REQ_S, "planPublisher": REQ_S}),
        }),
        "ManagedImage": obj("ImageTemplateManagedImageSource", {"type": REQ_S, "imageId": REQ_S}),
        "SharedImageVersion": obj("ImageTemplateSharedImageVersionSource", {
            "type": REQ_S, "imageVersionId": REQ_S, "exactVersion": RO}),
    },
)
CUSTOMIZER = F("union", variants={
    "Shell": _script("ImageTemplateShellCustomizer"),
    "PowerShell": _script("ImageTemplatePowerShellCustomizer", _PS_EXTRA),
    "File": obj("ImageTemplateFileCustomizer", _FILE),
    "WindowsRestart": obj("ImageTemplateRestartCustomizer", {
        "type": REQ_S, "name": S, "restartCommand": S, "restartCheckCommand": S, "restartTimeout": S}),
    "WindowsUpdate": obj("ImageTemplateWindowsUpdateCustomizer", {
        "type": REQ_S, "name": S, "searchCriteria": S, "filters": STR_LIST, "updateLimit": F("int", min=0)}),
})
VALIDATOR = F("union", variants={
    "Shell": _script("ImageTemplateShellValidator"),
    "PowerShell": _script("ImageTemplatePowerShellValidator", _PS_EXTRA),
    "File": obj("ImageTemplateFileValidator", _FILE, since="2022-07-01"),
})
_DIST_BASE = {"type": REQ_S, "runOutputName": REQ_S, "artifactTags": M}
DISTRIBUTOR = F("union", variants={
    "ManagedImage": obj("ImageTemplateManagedImageDistributor", {**_DIST_BASE, "imageId": REQ_S, "location": REQ_S}),
    "SharedImage": obj("ImageTemplateSharedImageDistributor", {
        **_DIST_BASE, "galleryImageId": REQ_S, "excludeFromLatest": B, "storageAccountType": STORAGE,
        "replicationRegions": F("list", item=S, required_before="2022-07-01"),
        "targetRegions": F("list", since="2022-07-01", item=obj("TargetRegion", {
            "name": REQ_S, "replicaCount": F("int", min=1), "storageAccountType": STORAGE})),
        "versioning": F("union", disc="scheme", since="2022-07-01", variants={
            "Latest": obj("DistributeVersionerLatest", {"scheme": REQ_S, "major": F("int", min=-1)}),
            "Source": obj("DistributeVersionerSource", {"scheme": REQ_S}),
        }),
        "replicationMode": F("enum", values=("Full", "Shallow"), since="2025-10-01"),
    }),
    "VHD": obj("ImageTemplateVhdDistributor", {**_DIST_BASE, "uri": F("str", since="2022-07-01")}),
})
VM_PROFILE = obj("ImageTemplateVmProfile", {
    "vmSize": S, "osDiskSizeGB": F("int", min=0), "userAssignedIdentities": F("list", item=S, since="2021-10-01"),
    "vnetConfig": obj("VirtualNetworkConfig", {
        "subnetId": S, "containerInstanceSubnetId": F("str", since="2024-02-01"),
        "proxyVmSize": F("str", since="2021-10-01")}),
})
ON_ERROR = F("enum", values=("cleanup", "abort"))
PROPERTIES = obj("ImageTemplateProperties", {
    "source": SOURCE,
    "customize": F("list", item=CUSTOMIZER),
    "optimize": obj("ImageTemplatePropertiesOptimize", since="2022-07-01", fields={
        "vmBoot": obj("ImageTemplatePropertiesOptimizeVMBoot", {"state": STATE}),
        "workload": obj("ImageTemplatePropertiesOptimizeWorkload", {
            "state": STATE, "scriptUri": S, "sha256Checksum": S}, since="2025-10-01"),
    }),
    "validate": obj("ImageTemplatePropertiesValidate", since="2022-02-14", fields={
        "continueDistributeOnFailure": B, "sourceValidationOnly": B,
        "inVMValidations": F("list", item=VALIDATOR)}),
    "distribute": F("list", required=True, item=DISTRIBUTOR),
    "errorHandling": obj("ImageTemplatePropertiesErrorHandling", {
        "onCustomizerError": ON_ERROR, "onValidationError": ON_ERROR}, since="2023-07-01"),
    "provisioningState": RO, "provisioningError": RO, "lastRunStatus": RO, "exactStagingResourceGroup": RO,
    "buildTimeoutInMinutes": F("int", min=0, max=960),
    "vmProfile": VM_PROFILE,
    "additionalDataDisks": F("list", since="2025-10-01", item=obj("DataDisk", {"sizeGB": F("int", min=0)})),
    "stagingResourceGroup": F("str", since="2022-02-14"),
    "autoRun": obj("ImageTemplateAutoRun", {"state": STATE}, since="2024-02-01"),
    "managedResourceTags": F("map", since="2024-02-01"),
}, required=True)
IDENTITY = obj("ImageTemplateIdentity", {
    "type": F("enum", values=("UserAssigned", "None")), "userAssignedIdentities": ANY}, required=True)
TEMPLATE = obj("ImageTemplate", {
    "location": REQ_S, "tags": M, "identity": IDENTITY, "properties": PROPERTIES,
    "id": RO, "name": RO, "type": RO, "systemData": RO,
})
UPDATE = obj("ImageTemplateUpdateParameters", {
    "identity": obj("ImageTemplateIdentity", IDENTITY.fields), "tags": M,
    "properties": obj("ImageTemplateUpdateParametersProperties", {
        "distribute": F("list", item=DISTRIBUTOR, since="2023-07-01"),
        "vmProfile": F("obj", go=VM_PROFILE.go, fields=VM_PROFILE.fields, since="2024-02-01"),
    }, since="2023-07-01"),
})


class _Ctx:
    def __init__(self, api_version: str):
        self.api = api_version
        self.strict = api_version >= STRICT_SINCE
        self.pkg = "v" + api_version.replace("-", "_")


def _type_error(path: str, name: str, value: Any, kind: str) -> errors.ArmError:
    return errors.bad_value(path, name, value, f"expected {kind}")


def _check(value: Any, spec: F, name: str, path: str, chain: str, ctx: _Ctx) -> Any:
    k = spec.kind
    if value is None:
        return None
    if k == "any":
        return value
    if k == "str":
        if not isinstance(value, str):
            raise _type_error(path, name, value, "a string")
        return value
    if k == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, name, value, "an integer")
        if spec.min is not None and value < spec.min or spec.max is not None and value > spec.max:
            lo, hi = spec.min, spec.max
            why = f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
            raise errors.bad_value(path, name, value, why)
        return value
    if k == "bool":
        if not isinstance(value, bool):
            raise _type_error(path, name, value, "a boolean")
        return value
    if k == "map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _type_error(path, name, value, "a map of strings")
        return dict(value)
    if k == "enum":
        for allowed in spec.values:
            if value == allowed or (not ctx.strict and isinstance(value, str) and value.lower() == allowed.lower()):
                return allowed
        raise errors.bad_value(path, name, value, "allowed values are " + ", ".join(spec.values))
    if k == "list":
        if not isinstance(value, list):
            raise _type_error(path, name, value, "an array")
        assert spec.item is not None
        return [_check(v, spec.item, name, f"{path}.{name}[{i}]" if name else f"{path}[{i}]", chain, ctx)
                for i, v in enumerate(value)]
    if k == "union":
        here = path if spec.item is None and name == "" else path
        if not isinstance(value, dict):
            raise _type_error(path, name, value, "an object")
        disc_val = _lookup(value, spec.disc, ctx)
        sub_path = here if path.endswith("]") else f"{path}.{name}"
        if disc_val is None:
            raise errors.missing_field(sub_path, spec.disc)
        variant = next((v for d, v in spec.variants.items()
                        if (disc_val == d or (not ctx.strict and str(disc_val).lower() == d.lower()))
                        and not (v.since and ctx.api < v.since)), None)
        if variant is None:
            raise errors.bad_value(sub_path, spec.disc, disc_val, "allowed values are " + ", ".join(spec.variants))
        out = _object(value, variant, sub_path, chain, ctx)
        out[spec.disc] = next(d for d, v in spec.variants.items() if v is variant)
        return out
    if k == "obj":
        if not isinstance(value, dict):
            raise _type_error(path, name, value, "an object")
        return _object(value, spec, path if path.endswith("]") or not name else f"{path}.{name}", chain, ctx)
    raise AssertionError(k)


def _lookup(d: dict, name: str, ctx: _Ctx) -> Any:
    if name in d:
        return d[name]
    if not ctx.strict:
        for k, v in d.items():
            if k.lower() == name.lower():
                return v
    return None


def _object(value: dict, spec: F, path: str, chain: str, ctx: _Ctx) -> dict:
    here = f"{chain}unmarshalling type *{ctx.pkg}.{spec.go}"
    out: dict = {}
    for raw_key, v in value.items():
        canonical = raw_key if raw_key in spec.fields else None
        if canonical is None and not ctx.strict:
            canonical = next((f for f in spec.fields if f.lower() == raw_key.lower()), None)
        fs: F | None = spec.fields.get(canonical) if canonical else None
        if fs is not None and fs.since and ctx.api < fs.since:
            fs = None  # not a field of this api-version: unknown, like any other
        if fs is None:
            if ctx.strict:
                raise errors.unmarshalling(f'{here}, unknown field "{raw_key}"')
            continue  # lenient versions ignore unknown fields, as Go's default JSON decoding does
        if fs.readonly or canonical is None:
            continue
        sub_chain = f"{here}: struct field {canonical[0].upper() + canonical[1:]}: "
        checked = _check(v, fs, canonical, path, sub_chain, ctx)
        if checked is not None:
            out[canonical] = checked
    for fname, fspec in spec.fields.items():
        if _required(fspec, ctx) and out.get(fname) is None:
            raise errors.missing_field(path, fname)
    return out


def _required(spec: F, ctx: _Ctx) -> bool:
    if spec.since and ctx.api < spec.since:
        return False
    return spec.required or bool(spec.required_before and ctx.api < spec.required_before)


_GALLERY_IMAGE_RE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/[^/]+/images/[^/]+"
    r"(/versions/(\d+\.\d+\.\d+))?$", re.I)
_SOURCE_VERSION_RE = re.compile(  # or a Direct Shared Gallery version (is_direct_shared_image_version)
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/[^/]+/images/[^/]+"
    r"/versions/(\d+\.\d+\.\d+|latest)$", re.I)
_MANAGED_IMAGE_RE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/images/[^/]+$", re.I)
_IDENTITY_RE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$", re.I)
_RG_RE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+$", re.I)
_SUBNET_RE = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+)/subnets/[^/]+$", re.I)


def _check_scripts(items: list[dict], path: str) -> None:
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        _check_formats(c, p)
        if c["type"] in ("Shell", "PowerShell"):
            if bool(c.get("scriptUri")) == bool(c.get("inline")):
                raise errors.validation(f"'{p}': Exactly one of 'scriptUri' or 'inline' must be set.")
            if c.get("runAsSystem") and not c.get("runElevated"):
                raise errors.bad_value(p, "runAsSystem", True, "only valid when runElevated is true")
        if c["type"] == "File":
            for f in ("sourceUri", "destination"):
                if not c.get(f):
                    raise errors.missing_field(p, f)


def _check_formats(step: dict, path: str) -> None:
    """The documented value formats: sha256Checksum is what sha256sum prints, restartTimeout a Go duration."""
    checksum = step.get("sha256Checksum")
    if checksum and not is_sha256(checksum):
        raise errors.bad_value(path, "sha256Checksum", checksum, "must be 64 hexadecimal characters")
    timeout = step.get("restartTimeout")
    if timeout and not is_duration(timeout):
        raise errors.bad_value(path, "restartTimeout", timeout, "must be a duration such as 5m or 1h30m")


def _semantic_checks(t: dict) -> None:
    ident = t.get("identity") or {}
    uais = ident.get("userAssignedIdentities") or {}
    if ident.get("type") != "UserAssigned" or not isinstance(uais, dict) or len(uais) != 1:
        raise errors.validation(
            "'ImageTemplate.identity': exactly one user assigned identity is required (type 'UserAssigned' "
            f"with one entry in userAssignedIdentities), but {len(uais) if isinstance(uais, dict) else 0} "
            f"identities of type '{ident.get('type')}' were provided."
        )
    (uai,) = uais
    if not _IDENTITY_RE.match(uai):
        raise errors.bad_value("ImageTemplate.identity", "userAssignedIdentities", uai, "not a user assigned identity id")
    p = t["properties"]
    src = p["source"]
    if src["type"] == "ManagedImage" and not _MANAGED_IMAGE_RE.match(src["imageId"]):
        raise errors.bad_value("ImageTemplate.properties.source", "imageId", src["imageId"])
    if src["type"] == "SharedImageVersion" and not (_SOURCE_VERSION_RE.match(src["imageVersionId"])
                                                    or is_direct_shared_image_version(src["imageVersionId"])):
        raise errors.bad_value("ImageTemplate.properties.source", "imageVersionId", src["imageVersionId"])
    timeout_problem = build_timeout_problem(p.get("buildTimeoutInMinutes"))
    if timeout_problem:
        raise errors.bad_value("ImageTemplate.properties", "buildTimeoutInMinutes", p["buildTimeoutInMinutes"],
                               timeout_problem)
    workload = (p.get("optimize") or {}).get("workload") or {}
    if workload:
        _check_formats(workload, "ImageTemplate.properties.optimize.workload")
    _check_scripts(p.get("customize") or [], "ImageTemplate.properties.customize")
    _check_scripts((p.get("validate") or {}).get("inVMValidations") or [],
                   "ImageTemplate.properties.validate.inVMValidations")
    check_distribute(p["distribute"], "ImageTemplate.properties.distribute")
    vm = p.get("vmProfile") or {}
    check_vm_profile(vm)
    staging = p.get("stagingResourceGroup") or ""
    if staging and not _RG_RE.match(staging):
        raise errors.bad_value("ImageTemplate.properties", "stagingResourceGroup", staging, "not a resource group id")


def check_vm_profile(vm: dict, path: str = "ImageTemplate.properties.vmProfile") -> None:
    for i, uai in enumerate(vm.get("userAssignedIdentities") or []):
        if not _IDENTITY_RE.match(uai):
            raise errors.bad_value(path, f"userAssignedIdentities[{i}]", uai, "not a user assigned identity id")
    vnet = vm.get("vnetConfig") or {}
    subnet, aci = vnet.get("subnetId"), vnet.get("containerInstanceSubnetId")
    for f in ("subnetId", "containerInstanceSubnetId"):
        if vnet.get(f) and not _SUBNET_RE.match(vnet[f]):
            raise errors.bad_value(f"{path}.vnetConfig", f, vnet[f], "not a subnet id")
    if aci and not subnet:
        raise errors.validation(f"'{path}.vnetConfig': 'containerInstanceSubnetId' is only allowed together with 'subnetId'.")
    if aci and vnet.get("proxyVmSize"):
        raise errors.validation(f"'{path}.vnetConfig': 'proxyVmSize' must not be set together with 'containerInstanceSubnetId'.")
    aci_m, subnet_m = _SUBNET_RE.match(aci or ""), _SUBNET_RE.match(subnet or "")
    if aci_m and subnet_m and aci_m.group(1).lower() != subnet_m.group(1).lower():
        raise errors.validation(f"'{path}.vnetConfig': 'containerInstanceSubnetId' must be in the same virtual network as 'subnetId'.")


def check_distribute(distribute: list[dict], path: str) -> None:
    seen: dict[str, int] = {}
    for i, d in enumerate(distribute):
        p = f"{path}[{i}]"
        name = d["runOutputName"]
        if not NAME_RE.match(name):
            raise errors.bad_value(p, "runOutputName", name, "must match ^[A-Za-z0-9-_.]{1,64}$")
        if name.lower() in seen:
            raise errors.validation(
                f"'{p}': runOutputName '{name}' is already used by distribute[{seen[name.lower()]}]; "
                "the runOutputName must be unique to each distribution target."
            )
        seen[name.lower()] = i
        if d["type"] == "ManagedImage" and not _MANAGED_IMAGE_RE.match(d["imageId"]):
            raise errors.bad_value(p, "imageId", d["imageId"], "not a managed image id")
        if d["type"] == "SharedImage":
            if not _GALLERY_IMAGE_RE.match(d["galleryImageId"]):
                raise errors.bad_value(p, "galleryImageId", d["galleryImageId"], "not a gallery image (version) id")
            if d.get("replicationRegions") and d.get("targetRegions"):
                raise errors.validation(f"'{p}': 'replicationRegions' and 'targetRegions' cannot both be set.")
            if d.get("storageAccountType") and not d.get("replicationRegions"):
                raise errors.validation(f"'{p}': 'storageAccountType' can be specified only if 'replicationRegions' is specified.")


def validate_template(body: Any, api_version: str) -> dict:
    """A normalised copy of an ImageTemplate PUT body, or ArmError."""
    if not isinstance(body, dict):
        raise errors.ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    ctx = _Ctx(api_version)
    t = _object(body, TEMPLATE, "ImageTemplate", "", ctx)
    _semantic_checks(t)
    return t


def validate_update(body: Any, api_version: str) -> dict:
    """A normalised copy of an ImageTemplateUpdateParameters PATCH body, or ArmError."""
    if not isinstance(body, dict):
        raise errors.ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    ctx = _Ctx(api_version)
    u = _object(body, UPDATE, "ImageTemplate", "", ctx)  # the service reports PATCH paths as ImageTemplate.*
    props = u.get("properties") or {}
    if props.get("distribute") is not None:
        check_distribute(props["distribute"], "ImageTemplate.properties.distribute")
    if props.get("vmProfile"):
        check_vm_profile(props["vmProfile"])
    return u


def fill_defaults(t: dict) -> None:
    """The defaults the service writes into a new template (reference §1.4)."""
    p = t["properties"]
    p.setdefault("buildTimeoutInMinutes", 0)
    vm = p.setdefault("vmProfile", {})
    vm.setdefault("vmSize", "")
    vm.setdefault("osDiskSizeGB", 0)
    p.setdefault("stagingResourceGroup", "")
    p["exactStagingResourceGroup"] = ""
    for d in p["distribute"]:
        d.setdefault("artifactTags", {})
    src = p["source"]
    if src["type"] == "PlatformImage":
        version = src.get("version") or "latest"
        src["exactVersion"] = "1.0.20250101" if version.lower() == "latest" else version
    elif src["type"] == "SharedImageVersion":
        m = re.search(r"/versions/([^/]+)$", src["imageVersionId"])
        src["exactVersion"] = m.group(1) if m and m.group(1).lower() != "latest" else "1.0.0"
