"""What a template's source says about the image: its OS and its VM generation.

Pre-flight rules need the OS (a PowerShell step on a Linux image fails minutes into a build), and
the gallery image definition needs both. Marketplace sources tell by publisher and SKU; managed-image
and gallery sources do not, so the spec's `osType`/`hyperVGeneration` extensions say it, or the OS is
read off the step types when they all agree.
"""

from __future__ import annotations

from typing import Literal, Optional

from components.model.customizers import LINUX_ONLY, WINDOWS_ONLY
from components.model.distributors import SharedImageDistributor
from components.model.errors import Issue
from components.model.models import ImageTemplateSpec
from components.model.sources import PlatformImageSource

OsType = Literal["Linux", "Windows"]
Generation = Literal["V1", "V2"]

_WINDOWS_PUBLISHERS = ("microsoftwindowsserver", "microsoftwindowsdesktop", "microsoftvisualstudio",
                       "microsoftwindowsserverhpcpack", "microsoftazuresiterecovery")
_LINUX_PUBLISHERS = ("canonical", "redhat", "openlogic", "suse", "debian", "credativ", "almalinux", "resf",
                     "kinvolk", "oracle", "microsoftcblmariner", "microsoftazurelinux", "erockyenterprisesoftwarefoundationinc1653071250513",
                     "procomputers", "ntegralinc1586961136942")
_LINUX_WORDS = ("ubuntu", "rhel", "sles", "linux", "centos", "debian")

DEFAULT_VM_SIZE = {"V1": "Standard_D1_v2", "V2": "Standard_D2ds_v4"}


def source_os(source) -> Optional[OsType]:
    if not isinstance(source, PlatformImageSource):
        return None
    publisher, offer = source.publisher.lower(), source.offer.lower()
    if publisher in _LINUX_PUBLISHERS:
        return "Linux"
    if publisher == "microsoftsqlserver":
        return "Linux" if any(w in offer for w in _LINUX_WORDS) else "Windows"
    if publisher in _WINDOWS_PUBLISHERS or publisher.startswith("microsoftwindows"):
        return "Windows"
    if any(w in offer for w in _LINUX_WORDS):
        return "Linux"
    if "windows" in offer or offer.startswith("win"):
        return "Windows"
    return None


def steps_os(spec: ImageTemplateSpec) -> Optional[OsType]:
    """The OS the steps imply, when every OS-specific step agrees."""
    steps = [*(spec.properties.customize or []),
             *((spec.properties.validate_.in_vm_validations or []) if spec.properties.validate_ else [])]
    windows = any(isinstance(s, WINDOWS_ONLY) for s in steps)
    linux = any(isinstance(s, LINUX_ONLY) for s in steps)
    if windows != linux:
        return "Windows" if windows else "Linux"
    return None


def image_os(spec: ImageTemplateSpec) -> Optional[OsType]:
    """Stated osType, else the source's, else what the steps imply; None when nothing tells."""
    return spec.os_type or source_os(spec.properties.source) or steps_os(spec)


def os_issues(image_name: str, spec: ImageTemplateSpec) -> list[Issue]:
    """A gallery target needs the OS: the image definition's `osType` is required (Compute REST API,
    GalleryImageProperties) and cannot change once created, so guessing is no option."""
    if image_os(spec) is not None or not any(isinstance(d, SharedImageDistributor) for d in spec.properties.distribute):
        return []
    return [Issue(f"images.{image_name}.template.osType",
                  "the source does not tell the image's OS, and the gallery image definition needs it",
                  "add osType: Linux or osType: Windows")]


def image_generation(spec: ImageTemplateSpec) -> Generation:
    """Stated hyperVGeneration, else read off a marketplace SKU, else V1 (the service's default)."""
    if spec.hyper_v_generation:
        return spec.hyper_v_generation
    source = spec.properties.source
    if isinstance(source, PlatformImageSource):
        sku, offer = source.sku.lower(), source.offer.lower()
        if "gen1" in sku:
            return "V1"
        if "gen2" in sku or sku.endswith("-g2") or "-g2-" in sku or sku.startswith("win11") \
                or offer.startswith("ubuntu-24_04") or offer.startswith("windows-11"):
            return "V2"
    return "V1"


def build_vm_size(spec: ImageTemplateSpec) -> str:
    """The size the build VM gets: vmProfile.vmSize, else the service's default for the generation."""
    profile = spec.properties.vm_profile
    return (profile.vm_size if profile and profile.vm_size else None) or DEFAULT_VM_SIZE[image_generation(spec)]
