"""Sample AIB templates and helpers shared by the spec, render, import and property tests.

Builders return fresh plain dicts (AIB JSON shape, camelCase keys), so each test can break one field
with `set_at` and expect exactly one issue at that path.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from components.model import Issue, RuleContext, SpecError, parse_template

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = f"{SUB}/resourceGroups/rg-images"
IDENTITY = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib-identity"
IDENTITY_2 = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib-identity-2"
GALLERY = f"{RG}/providers/Microsoft.Compute/galleries/golden"
GALLERY_IMAGE = f"{GALLERY}/images/ubuntu"
GALLERY_VERSION = f"{GALLERY_IMAGE}/versions/1.2.3"
MANAGED_IMAGE = f"{RG}/providers/Microsoft.Compute/images/base-image"
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/build-vnet"
SUBNET = f"{VNET}/subnets/build"
ACI_SUBNET = f"{VNET}/subnets/aci"
STAGING_RG = f"{SUB}/resourceGroups/rg-staging"
SHA = "a" * 64

UBUNTU = {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
          "sku": "22_04-lts-gen2", "version": "latest"}
RHEL = {"type": "PlatformImage", "publisher": "RedHat", "offer": "RHEL", "sku": "9-lvm-gen2", "version": "latest"}
WINDOWS = {"type": "PlatformImage", "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
           "sku": "2022-datacenter-azure-edition", "version": "latest"}
MANAGED_SOURCE = {"type": "ManagedImage", "imageId": MANAGED_IMAGE}
SIG_SOURCE = {"type": "SharedImageVersion", "imageVersionId": GALLERY_VERSION}

SHELL = {"type": "Shell", "name": "update", "inline": ["sudo apt-get update"]}
SHELL_URI = {"type": "Shell", "name": "setup", "scriptUri": "https://example.com/setup.sh", "sha256Checksum": SHA}
FILE_LINUX = {"type": "File", "name": "motd", "sourceUri": "https://example.com/motd", "destination": "/tmp/motd"}
POWERSHELL = {"type": "PowerShell", "name": "settings", "inline": ["Set-TimeZone -Id 'UTC'"], "runElevated": True,
              "runAsSystem": True, "validExitCodes": [0, 3010]}
POWERSHELL_URI = {"type": "PowerShell", "name": "install", "scriptUri": "https://example.com/install.ps1",
                  "sha256Checksum": SHA}
RESTART = {"type": "WindowsRestart", "name": "restart", "restartCheckCommand": "echo restarted",
           "restartTimeout": "10m"}
UPDATE = {"type": "WindowsUpdate", "name": "updates", "searchCriteria": "IsInstalled=0",
          "filters": ["exclude:$_.Title -like '*Preview*'", "include:$true"], "updateLimit": 20}
FILE_WINDOWS = {"type": "File", "name": "payload", "sourceUri": "https://example.com/payload.zip",
                "destination": "c:\\buildArtifacts\\payload.zip"}

SIG_TARGET = {"type": "SharedImage", "galleryImageId": GALLERY_IMAGE, "runOutputName": "ubuntu-sig",
              "targetRegions": [{"name": "westeurope", "replicaCount": 2, "storageAccountType": "Standard_ZRS"},
                                {"name": "northeurope"}],
              "versioning": {"scheme": "Latest", "major": 1}, "artifactTags": {"team": "platform"}}
MANAGED_TARGET = {"type": "ManagedImage", "imageId": f"{RG}/providers/Microsoft.Compute/images/out",
                  "location": "westeurope", "runOutputName": "ubuntu-mi"}
VHD_TARGET = {"type": "VHD", "runOutputName": "ubuntu-vhd"}


def linux_template(**top: Any) -> dict:
    """A valid Linux template (Ubuntu source, two customizers, a validator, a gallery target)."""
    doc = {
        "name": "ubuntu-golden",
        "location": "westeurope",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
        "properties": {
            "source": copy.deepcopy(UBUNTU),
            "customize": [copy.deepcopy(SHELL), copy.deepcopy(FILE_LINUX)],
            "validate": {"inVMValidations": [{"type": "Shell", "name": "check", "inline": ["test -f /tmp/motd"]}]},
            "distribute": [copy.deepcopy(SIG_TARGET)],
            "buildTimeoutInMinutes": 60,
        },
    }
    doc.update(copy.deepcopy(top))
    return doc


def windows_template(**top: Any) -> dict:
    """A valid Windows template (Windows Server source, PowerShell/restart/update, a VHD target)."""
    doc = {
        "name": "win-golden",
        "location": "westeurope",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
        "properties": {
            "source": copy.deepcopy(WINDOWS),
            "customize": [copy.deepcopy(POWERSHELL), copy.deepcopy(RESTART), copy.deepcopy(UPDATE)],
            "distribute": [copy.deepcopy(VHD_TARGET)],
        },
    }
    doc.update(copy.deepcopy(top))
    return doc


DELETE = object()
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    return [int(i) if i else key for key, i in _PART.findall(path)]


def set_at(doc: dict, path: str, value: Any) -> dict:
    """Set (or, with DELETE, remove) the value at a dotted path such as `properties.customize[0].inline`."""
    parts = split_path(path)
    node = doc
    for part in parts[:-1]:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    elif isinstance(node, list) and parts[-1] == len(node):
        node.append(value)
    else:
        node[parts[-1]] = value
    return doc


def issues_of(data: Any, context: RuleContext | None = None) -> list[Issue]:
    """Every issue `parse_template` reports; [] when the template is valid."""
    try:
        parse_template(data, context=context)
    except SpecError as exc:
        return exc.issues
    return []


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())
