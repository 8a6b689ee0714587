"""Which subscription, stack and ARM endpoint `diagnose` and `preflight` talk to.

`load_target` validates the stack file and picks the subscription: the local cloud's with `--local`, else
`ARM_SUBSCRIPTION_ID`/`AZURE_SUBSCRIPTION_ID`, else config `azure-native:subscriptionId`, else the first
`/subscriptions/<id>/` the stack's ids name. With `--local` the ARM variables are the ones `components.local.engine`
gives the CLI (the background local cloud, or the emulator in `AIB_ARM_ENDPOINT` when a caller runs its own);
`applied` puts them into the process environment for the duration of a call, where `components.providers.arm_client` reads them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager, Mapping, Optional
from unittest import mock

from components.model import SpecError
from components.model.stack import StackConfig

_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-f-]{36})/", re.I)


@dataclass(frozen=True)
class Target:
    stack_name: str
    project: str
    stack: StackConfig
    subscription_id: str
    project_dir: Path
    local: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    """ARM variables to apply (local runs); empty for Azure, where the credential chain decides."""


def load_target(project_dir: Path, stack_name: str, *, local: bool = False) -> Target:
    from components.offline.stack_files import stack_config
    from components.model.stack import config_from_stack_file, parse_stack_config

    project, config, path = stack_config(project_dir, stack_name)
    if not path.exists():
        raise SpecError([], f"no stack {stack_name!r} ({path} is missing)")
    stack = parse_stack_config(config_from_stack_file({"config": config}), source=str(path), project_dir=project_dir)
    if local:
        from components.local.cloud import SUBSCRIPTION
        from components.local.engine import cloud_environment

        return Target(stack_name, project, stack, SUBSCRIPTION, project_dir, True,
                      cloud_environment(project_dir, stack_name))
    return Target(stack_name, project, stack, subscription_of(config, stack), project_dir)


def subscription_of(config: Mapping, stack: StackConfig) -> str:
    found = (os.environ.get("ARM_SUBSCRIPTION_ID") or os.environ.get("AZURE_SUBSCRIPTION_ID")
             or config.get("azure-native:subscriptionId"))
    if not found:
        m = _SUBSCRIPTION.search(json.dumps(stack.model_dump(mode="json", by_alias=True)))
        found = m.group(1) if m else None
    if not found:
        raise SpecError([], "no subscription: set ARM_SUBSCRIPTION_ID (or azure-native:subscriptionId)")
    return str(found)


def applied(env: Mapping[str, str]) -> ContextManager:
    """`env` in `os.environ` for the duration (restored afterwards)."""
    return mock.patch.dict(os.environ, env)


def image_names(target: Target, image: Optional[str]) -> list[str]:
    if image is None:
        return list(target.stack.images)
    if image not in target.stack.images:
        raise SpecError([], f"no image {image!r} in stack {target.stack_name!r} "
                            f"(known: {', '.join(target.stack.images)})")
    return [image]
