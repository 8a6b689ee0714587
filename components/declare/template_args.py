"""Rendered AIB JSON to typed pulumi-azure-native `VirtualMachineImageTemplateArgs`.

`arm/render.py` is the one place that knows the AIB document; this module maps that document onto the SDK's typed
`...Args` classes, section by section, so pyright checks every input name against azure-native. Every key of the
document must be consumed: a field azure-native 3.x cannot send (the API 2025-10-01 additions such as
`additionalDataDisks` or `optimize.workload`) fails here with its path, at construction, instead of silently vanishing.
Inline customizer and validator commands can hold secrets, so they are wrapped in `pulumi.Output.secret`; with
`secret=True` (config set with `pulumi config set --secret`, whose leaves Pulumi does not tell apart) the whole
customize, validate and distribute sections are.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import pulumi
from pulumi_azure_native import virtualmachineimages as vmi

API_VERSION = "2024-02-01"
"""The api-version pulumi-azure-native 3.x speaks for image templates."""


class UnsupportedTemplate(ValueError):
    """The rendered template uses something azure-native's VirtualMachineImageTemplate cannot express."""


class _Section:
    """Reads one JSON object and refuses to finish while keys are left unread."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def sub(self, key: str) -> Optional["_Section"]:
        value = self.get(key)
        return _Section(value, f"{self.path}.{key}") if isinstance(value, Mapping) else None

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            where = ", ".join(f"{self.path}.{k}" for k in extra)
            raise UnsupportedTemplate(
                f"{where}: not supported by pulumi-azure-native's VirtualMachineImageTemplate (API {API_VERSION}) "
                "(hint: these fields need API 2025-10-01; remove them to deploy with Pulumi)")


def _secret_lines(lines: Optional[Sequence[str]]) -> Optional[pulumi.Output[Sequence[str]]]:
    return pulumi.Output.secret(list(lines)) if lines is not None else None


def _each(section: _Section, key: str, convert: Callable[[_Section], Any]) -> Optional[list]:
    items = section.get(key)
    if items is None:
        return None
    out = []
    for i, item in enumerate(items):
        s = _Section(item, f"{section.path}.{key}[{i}]")
        out.append(convert(s))
        s.done()
    return out


def source_args(s: _Section) -> Union[vmi.ImageTemplatePlatformImageSourceArgs, vmi.ImageTemplateManagedImageSourceArgs,
                                      vmi.ImageTemplateSharedImageVersionSourceArgs]:
    kind = s.get("type")
    if kind == "PlatformImage":
        plan = s.sub("planInfo")
        plan_args = None
        if plan is not None:
            plan_args = vmi.PlatformImagePurchasePlanArgs(plan_name=plan.get("planName"),
                                                          plan_product=plan.get("planProduct"),
                                                          plan_publisher=plan.get("planPublisher"))
            plan.done()
        return vmi.ImageTemplatePlatformImageSourceArgs(type="PlatformImage", publisher=s.get("publisher"),
                                                        offer=s.get("offer"), sku=s.get("sku"),
                                                        version=s.get("version"), plan_info=plan_args)
    if kind == "ManagedImage":
        return vmi.ImageTemplateManagedImageSourceArgs(type="ManagedImage", image_id=s.get("imageId"))
    if kind == "SharedImageVersion":
        return vmi.ImageTemplateSharedImageVersionSourceArgs(type="SharedImageVersion",
                                                             image_version_id=s.get("imageVersionId"))
    raise UnsupportedTemplate(f"{s.path}.type: unknown source type {kind!r}")


def step_args(s: _Section, *, validator: bool) -> Any:
    """One customizer (or, with `validator`, one in-VM validator)."""
    kind = s.get("type")
    name = s.get("name")
    if kind == "Shell":
        cls = vmi.ImageTemplateShellValidatorArgs if validator else vmi.ImageTemplateShellCustomizerArgs
        return cls(type="Shell", name=name, inline=_secret_lines(s.get("inline")), script_uri=s.get("scriptUri"),
                   sha256_checksum=s.get("sha256Checksum"))
    if kind == "PowerShell":
        ps = vmi.ImageTemplatePowerShellValidatorArgs if validator else vmi.ImageTemplatePowerShellCustomizerArgs
        return ps(type="PowerShell", name=name, inline=_secret_lines(s.get("inline")), script_uri=s.get("scriptUri"),
                  sha256_checksum=s.get("sha256Checksum"), run_elevated=s.get("runElevated"),
                  run_as_system=s.get("runAsSystem"), valid_exit_codes=s.get("validExitCodes"))
    if kind == "File":
        file = vmi.ImageTemplateFileValidatorArgs if validator else vmi.ImageTemplateFileCustomizerArgs
        return file(type="File", name=name, source_uri=s.get("sourceUri"), destination=s.get("destination"),
                    sha256_checksum=s.get("sha256Checksum"))
    if kind == "WindowsRestart" and not validator:
        return vmi.ImageTemplateRestartCustomizerArgs(type="WindowsRestart", name=name,
                                                      restart_command=s.get("restartCommand"),
                                                      restart_check_command=s.get("restartCheckCommand"),
                                                      restart_timeout=s.get("restartTimeout"))
    if kind == "WindowsUpdate" and not validator:
        return vmi.ImageTemplateWindowsUpdateCustomizerArgs(type="WindowsUpdate", name=name,
                                                            search_criteria=s.get("searchCriteria"),
                                                            filters=s.get("filters"),
                                                            update_limit=s.get("updateLimit"))
    raise UnsupportedTemplate(f"{s.path}.type: unknown {'validator' if validator else 'customizer'} type {kind!r}")


def _versioning(s: Optional[_Section]) -> Union[vmi.DistributeVersionerLatestArgs, vmi.DistributeVersionerSourceArgs,
                                               None]:
    if s is None:
        return None
    scheme = s.get("scheme")
    out: Union[vmi.DistributeVersionerLatestArgs, vmi.DistributeVersionerSourceArgs]
    if scheme == "Latest":
        out = vmi.DistributeVersionerLatestArgs(scheme="Latest", major=s.get("major"))
    elif scheme == "Source":
        out = vmi.DistributeVersionerSourceArgs(scheme="Source")
    else:
        raise UnsupportedTemplate(f"{s.path}.scheme: unknown versioning scheme {scheme!r}")
    s.done()
    return out


def _target_region(s: _Section) -> vmi.TargetRegionArgs:
    return vmi.TargetRegionArgs(name=s.get("name"), replica_count=s.get("replicaCount"),
                                storage_account_type=s.get("storageAccountType"))


def distributor_args(s: _Section) -> Any:
    kind = s.get("type")
    common = dict(run_output_name=s.get("runOutputName"), artifact_tags=s.get("artifactTags"))
    if kind == "SharedImage":
        return vmi.ImageTemplateSharedImageDistributorArgs(
            type="SharedImage", gallery_image_id=s.get("galleryImageId"),
            target_regions=_each(s, "targetRegions", _target_region),
            replication_regions=s.get("replicationRegions"), storage_account_type=s.get("storageAccountType"),
            exclude_from_latest=s.get("excludeFromLatest"), versioning=_versioning(s.sub("versioning")), **common)
    if kind == "ManagedImage":
        return vmi.ImageTemplateManagedImageDistributorArgs(type="ManagedImage", image_id=s.get("imageId"),
                                                            location=s.get("location"), **common)
    if kind == "VHD":
        return vmi.ImageTemplateVhdDistributorArgs(type="VHD", uri=s.get("uri"), **common)
    raise UnsupportedTemplate(f"{s.path}.type: unknown distributor type {kind!r}")


def validate_args(s: Optional[_Section]) -> Optional[vmi.ImageTemplatePropertiesValidateArgs]:
    if s is None:
        return None
    out = vmi.ImageTemplatePropertiesValidateArgs(
        continue_distribute_on_failure=s.get("continueDistributeOnFailure"),
        source_validation_only=s.get("sourceValidationOnly"),
        in_vm_validations=_each(s, "inVMValidations", lambda v: step_args(v, validator=True)))
    s.done()
    return out


def vm_profile_args(s: Optional[_Section]) -> Optional[vmi.ImageTemplateVmProfileArgs]:
    if s is None:
        return None
    vnet = s.sub("vnetConfig")
    vnet_args = None
    if vnet is not None:
        vnet_args = vmi.VirtualNetworkConfigArgs(subnet_id=vnet.get("subnetId"),
                                                 container_instance_subnet_id=vnet.get("containerInstanceSubnetId"),
                                                 proxy_vm_size=vnet.get("proxyVmSize"))
        vnet.done()
    out = vmi.ImageTemplateVmProfileArgs(vm_size=s.get("vmSize"), os_disk_size_gb=s.get("osDiskSizeGB"),
                                         user_assigned_identities=s.get("userAssignedIdentities"),
                                         vnet_config=vnet_args)
    s.done()
    return out


def optimize_args(s: Optional[_Section]) -> Optional[vmi.ImageTemplatePropertiesOptimizeArgs]:
    if s is None:
        return None
    boot = s.sub("vmBoot")
    boot_args = None
    if boot is not None:
        boot_args = vmi.ImageTemplatePropertiesVmBootArgs(state=boot.get("state"))
        boot.done()
    s.done()
    return vmi.ImageTemplatePropertiesOptimizeArgs(vm_boot=boot_args)


def error_handling_args(s: Optional[_Section]) -> Optional[vmi.ImageTemplatePropertiesErrorHandlingArgs]:
    if s is None:
        return None
    out = vmi.ImageTemplatePropertiesErrorHandlingArgs(on_customizer_error=s.get("onCustomizerError"),
                                                       on_validation_error=s.get("onValidationError"))
    s.done()
    return out


def auto_run_args(s: Optional[_Section]) -> Optional[vmi.ImageTemplateAutoRunArgs]:
    if s is None:
        return None
    out = vmi.ImageTemplateAutoRunArgs(state=s.get("state"))
    s.done()
    return out


def identity_args(s: _Section) -> vmi.ImageTemplateIdentityArgs:
    # The document keys identities by id ({id: {}}); azure-native takes the ids as a list on input.
    return vmi.ImageTemplateIdentityArgs(type=s.get("type"),
                                         user_assigned_identities=list(s.get("userAssignedIdentities") or {}))


def template_inputs() -> list[str]:
    """Every input of azure-native's VirtualMachineImageTemplate (snake_case, as `ResourceOptions` takes them), read
    off the SDK so that a field a newer SDK adds is covered too."""
    return [p for p in inspect.signature(vmi.VirtualMachineImageTemplateArgs.__init__).parameters
            if not p.startswith("_") and p != "self"]


def _secret(value: Any) -> Any:
    return pulumi.Output.secret(value) if value is not None else None


def template_args(rendered: Mapping[str, Any], *, resource_group_name: pulumi.Input[str],
                  image_template_name: Optional[pulumi.Input[str]] = None,
                  secret: bool = False) -> vmi.VirtualMachineImageTemplateArgs:
    """Typed args for `rendered` (the output of `render_template`), in `resource_group_name`.

    `image_template_name` defaults to the document's `name`. `secret`: customize, validate and distribute go as
    secrets (script and file URIs may carry SAS tokens). Raises `UnsupportedTemplate` naming the path of anything
    azure-native cannot send.
    """
    doc = _Section(rendered, "template")
    version = doc.get("apiVersion")
    if version != API_VERSION:
        raise UnsupportedTemplate(f"template.apiVersion: {version!r} is needed, but pulumi-azure-native 3.x creates "
                                  f"image templates with {API_VERSION} (hint: drop the fields only {version} has)")
    doc.get("type")
    name = doc.get("name")
    identity = doc.sub("identity")
    if identity is None:
        raise UnsupportedTemplate("template.identity: required")
    props = doc.sub("properties")
    if props is None:
        raise UnsupportedTemplate("template.properties: required")
    source = props.sub("source")
    if source is None:
        raise UnsupportedTemplate("template.properties.source: required")
    source_out = source_args(source)
    source.done()
    customize = _each(props, "customize", lambda c: step_args(c, validator=False))
    validate = validate_args(props.sub("validate"))
    distribute = _each(props, "distribute", distributor_args) or []
    if secret:
        customize, validate, distribute = _secret(customize), _secret(validate), _secret(distribute)
    args = vmi.VirtualMachineImageTemplateArgs(
        resource_group_name=resource_group_name,
        image_template_name=image_template_name if image_template_name is not None else name,
        location=doc.get("location"),
        tags=doc.get("tags"),
        identity=identity_args(identity),
        source=source_out,
        customize=customize,
        validate=validate,
        distribute=distribute,
        build_timeout_in_minutes=props.get("buildTimeoutInMinutes"),
        vm_profile=vm_profile_args(props.sub("vmProfile")),
        staging_resource_group=props.get("stagingResourceGroup"),
        optimize=optimize_args(props.sub("optimize")),
        error_handling=error_handling_args(props.sub("errorHandling")),
        auto_run=auto_run_args(props.sub("autoRun")),
        managed_resource_tags=props.get("managedResourceTags"),
    )
    identity.done()
    props.done()
    doc.done()
    return args
