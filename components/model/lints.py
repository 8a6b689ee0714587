"""Warnings about templates that are valid but commonly break Windows builds (and a few Linux ones).

`validate` prints them (exit 0) and `synth` lists them. Each lint is a small function over one template returning
`Issue`s (path, message, hint naming the public guidance it comes from); `LINTS` is the table `lint_template` runs.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Optional, Sequence

from components.model.customizers import (
    PowerShellCustomizer, ScriptStep, ShellCustomizer, WindowsRestartCustomizer, WindowsUpdateCustomizer)
from components.model.errors import Issue
from components.model.models import ImageTemplateSpec
from components.model.stack import StackConfig

TS = "https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-troubleshoot"
WU_RESTART = "https://github.com/danielsollondon/azvmimagebuilder/issues/66"
TEMPLATE_REF = "https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-json"
AIB_SECURITY = ("https://learn.microsoft.com/azure/virtual-machines/image-builder-overview"
                "#confidential-vm-and-trusted-launch-support")
#: Security types AIB builds from and distributes to ("TrustedLaunchSupported and ConfidentialVMSupported images";
#: TrustedLaunch and ConfidentialVM are "Not supported": AIB_SECURITY).
AIB_SECURITY_TYPES = ("Standard", "TrustedLaunchSupported", "ConfidentialVmSupported",
                      "TrustedLaunchAndConfidentialVmSupported")
DEFAULT_TIMEOUT = 240
#: Rough minutes per step type, the build's fixed cost and the replication per extra region, for the timeout lint.
STEP_MINUTES = {"WindowsUpdate": 60, "WindowsRestart": 10, "PowerShell": 10, "Shell": 5, "File": 2}
BASE_MINUTES = 20
REGION_MINUTES = 15

_DEPROVISION = re.compile(r"sysprep(\.exe)?\b.*?/generalize|waagent\b.*-deprovision", re.I)
_NEEDS_RESTART = re.compile(r"Install-WindowsFeature|Add-WindowsFeature|Enable-WindowsOptionalFeature|"
                            r"Add-WindowsCapability|msiexec|\.msi\b|choco(latey)? install|Rename-Computer|"
                            r"Install-WindowsUpdate|Add-AppxProvisionedPackage", re.I)
_NEEDS_ELEVATION = re.compile(r"Install-WindowsFeature|Add-WindowsFeature|Enable-WindowsOptionalFeature|"
                              r"Add-WindowsCapability|\bDISM(\.exe)?\b|HKLM:|Set-Service|New-NetFirewallRule|"
                              r"Set-NetFirewall|msiexec|choco(latey)? install|Set-ExecutionPolicy .*LocalMachine|"
                              r"Add-AppxProvisionedPackage|bcdedit", re.I)


def _commands(step) -> str:
    """The inline commands (a script's content is not known here; its URI may hint)."""
    if isinstance(step, ScriptStep):
        return "\n".join(step.inline or []) + "\n" + (step.script_uri or step.script or "")
    return ""


def _path(i: int) -> str:
    return f"properties.customize[{i}]"


def windows_update_restart(spec: ImageTemplateSpec) -> list[Issue]:
    """WindowsUpdate needs a WindowsRestart after it (updates finish on reboot; the next step or sysprep fails)."""
    steps = spec.properties.customize or []
    out = []
    for i, step in enumerate(steps):
        if isinstance(step, WindowsUpdateCustomizer) and not any(
                isinstance(s, WindowsRestartCustomizer) for s in steps[i + 1:]):
            out.append(Issue(_path(i), "WindowsUpdate is not followed by a WindowsRestart",
                             f"add a WindowsRestart step after it (pending updates break later steps and sysprep; "
                             f"{WU_RESTART})"))
    return out


def restart_between(spec: ImageTemplateSpec) -> list[Issue]:
    """A step that installs features or packages, then WindowsUpdate without a restart between: 0x80240016."""
    steps = spec.properties.customize or []
    out, pending = [], None
    for i, step in enumerate(steps):
        if isinstance(step, WindowsRestartCustomizer):
            pending = None
        elif isinstance(step, WindowsUpdateCustomizer) and pending is not None:
            out.append(Issue(_path(i), f"WindowsUpdate runs right after customize[{pending}], which installs software "
                                       "or features, with no WindowsRestart between",
                             f"add a WindowsRestart before WindowsUpdate (HRESULT 0x80240016; {WU_RESTART})"))
            pending = None
        elif isinstance(step, PowerShellCustomizer) and _NEEDS_RESTART.search(_commands(step)):
            pending = i
    return out


def deprovision_in_customizer(spec: ImageTemplateSpec) -> list[Issue]:
    """Sysprep / waagent -deprovision in a customizer: the service runs it itself after the last step."""
    return [Issue(_path(i), "runs sysprep or waagent -deprovision, which the service does itself after the last step",
                  f"remove it (use deprovision.commands to change the service's deprovisioning; {TS}"
                  "#stages-of-the-customization-log)")
            for i, step in enumerate(spec.properties.customize or [])
            if isinstance(step, (PowerShellCustomizer, ShellCustomizer)) and _DEPROVISION.search(_commands(step))]


def powershell_elevation(spec: ImageTemplateSpec) -> list[Issue]:
    """PowerShell commands that need administrator rights, in a step without runElevated."""
    return [Issue(f"{_path(i)}.runElevated", "commands need administrator rights but runElevated is not set",
                  f"set runElevated: true (and runAsSystem: true for system-level installers; {TEMPLATE_REF}"
                  "#powershell-customizer)")
            for i, step in enumerate(spec.properties.customize or [])
            if isinstance(step, PowerShellCustomizer) and not step.run_elevated
            and _NEEDS_ELEVATION.search(_commands(step))]


def timeout_budget(spec: ImageTemplateSpec) -> list[Issue]:
    """buildTimeoutInMinutes below a rough estimate of the steps plus replication to every target region."""
    props = spec.properties
    timeout = props.build_timeout_in_minutes or DEFAULT_TIMEOUT
    regions = max((len(_regions(d)) for d in props.distribute), default=1)
    need = BASE_MINUTES + sum(STEP_MINUTES.get(s.type, 5) for s in props.customize or []) \
        + REGION_MINUTES * max(0, regions - 1)
    if timeout >= need:
        return []
    return [Issue("properties.buildTimeoutInMinutes",
                  f"{timeout} minutes is likely too short: the steps and replication to {regions} region(s) take "
                  f"about {need}",
                  f"raise it to at least {need} (the timeout covers customization and replication; "
                  f"{TS}#deployment-fails-due-to-timeout)")]


def _regions(distributor) -> Sequence:
    return getattr(distributor, "target_regions", None) or getattr(distributor, "replication_regions", None) or [None]


LINTS: tuple[Callable[[ImageTemplateSpec], list[Issue]], ...] = (
    windows_update_restart, restart_between, deprovision_in_customizer, powershell_elevation, timeout_budget)


def lint_template(spec: ImageTemplateSpec, lints: Iterable[Callable[[ImageTemplateSpec], list[Issue]]] = LINTS
                  ) -> list[Issue]:
    return [issue for lint in lints for issue in lint(spec)]


def unsupported_security_type(image) -> list[Issue]:
    """A created image definition whose security type AIB does not build images for (TrustedLaunch, ConfidentialVM:
    use the *Supported types)."""
    security = image.gallery.image_definition.security_type
    if not image.gallery.create or security is None or security in AIB_SECURITY_TYPES:
        return []
    return [Issue("gallery.imageDefinition.securityType", f"{security!r} is not supported by Image Builder",
                  f"use {security}Supported".replace("ConfidentialVMSupported", "ConfidentialVmSupported")
                  + f" (or TrustedLaunchAndConfidentialVmSupported; {AIB_SECURITY})")]


def lint_stack(stack: StackConfig, prefix: Optional[str] = "images") -> list[Issue]:
    """Every lint of every image, paths rooted at `images.<name>.template` (or `<name>` with prefix None)."""
    out = []
    for name, image in stack.images.items():
        root = f"{prefix}.{name}.template" if prefix else name
        out += [Issue(f"{root}.{i.path}", i.message, i.hint) for i in lint_template(image.template)]
        image_root = f"{prefix}.{name}" if prefix else name
        out += [Issue(f"{image_root}.{i.path}", i.message, i.hint) for i in unsupported_security_type(image)]
    return out
