"""The provider instance that serves this project's dynamic resources (builds, role settling, uploads, tags, lifecycle).

Without one, they use the engine's default `pulumi-python` provider, and the engine hands that provider the *whole*
stack configuration as its inputs (`GetPackageConfig` in pulumi/pulumi `pkg/resource/deploy/target.go`: "For dynamic
providers, we always pass the full configuration"), which the state then records: every plaintext config value,
inline build commands included. An explicit provider with no inputs records nothing; the providers here read no
config (they take their settings as resource inputs and the provider process's environment).
"""

from __future__ import annotations

from typing import Optional

import pulumi

PACKAGE = "pulumi-python"


def dynamic_provider(name: str = "aib-dynamic-resources",
                     opts: Optional[pulumi.ResourceOptions] = None) -> pulumi.ProviderResource:
    """One per stack: give it to `ImagePipeline` (`ResourceOptions(providers=[...])`) and to `BuildBarrier`."""
    return pulumi.ProviderResource(PACKAGE, name, {}, opts)
