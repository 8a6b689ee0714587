"""The dynamic resource ``ImageVersionLifecycle`` and its arguments.

``LifecycleArgs`` documents every input with its default; ``ImageVersionLifecycle`` registers them with the provider
in ``components.providers.lifecycle.provider`` and seeds the outputs it computes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi
from pulumi.dynamic import Resource

from components.providers.lifecycle.provider import OUTPUTS, ImageVersionLifecycleProvider


@dataclasses.dataclass
class LifecycleArgs:
    """Inputs of one image definition's lifecycle run (plain values or Outputs)."""

    image_definition_id: pulumi.Input[str]
    """The gallery image definition whose versions retention acts on. Required."""
    retention: Optional[pulumi.Input[dict]] = None
    """``{keep_latest, delete_older_than_days, end_of_life_days, pin_tag}`` (see
    ``components.model.lifecycle.RetentionPolicy``). Default None: no version is excluded or deleted."""
    promotion_mode: Optional[pulumi.Input[str]] = None
    """``afterValidation`` or ``manual``. Default None: nothing is promoted."""
    promote_version_id: Optional[pulumi.Input[Any]] = None
    """``manual``: the image version id to promote (a literal), or another stack's promotion record ``{version_id,
    image_definition_id, validated, stack, output}`` (the provider's check splits it into the id and
    ``promotion_source`` and refuses a version that is not of this definition or not validated there). Default None."""
    promotion_source: Optional[pulumi.Input[dict]] = None
    """Where ``promote_version_id`` came from (set by the provider's check from a promotion record). Default None."""
    just_built_version_id: Optional[pulumi.Input[Optional[str]]] = None
    """The version the stack's build just made: never excluded or deleted; promoted after validation. Default None
    (no build)."""
    build_run_state: Optional[pulumi.Input[str]] = None
    """The build's run state; ``afterValidation`` promotes only after ``Succeeded``. Default None."""
    build_started_at: Optional[pulumi.Input[str]] = None
    """The build's start time: a new build is a new value, so the policy runs again. Default None."""
    validated: bool = False
    """Whether the template runs in-VM validations (a Succeeded run then means they passed). Default False."""
    dry_run: bool = False
    """Compute and report, change nothing. Default False."""
    api_version: Optional[str] = None
    """Compute api-version for gallery calls. Default None: the ``azure-mgmt-compute`` SDK's."""
    arm_endpoint: Optional[pulumi.Input[str]] = None
    """ARM base URL. Default: env ``AIB_ARM_ENDPOINT`` in the provider process, else the public (or configured) cloud."""
    poll_seconds: Optional[pulumi.Input[float]] = None
    """LRO polling interval for PATCH and DELETE. Default: env ``AIB_POLL_SECONDS``, else 20."""

    def to_props(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class ImageVersionLifecycle(Resource, module="aib", name="ImageVersionLifecycle"):
    """Applies retention and promotion to one gallery image definition on every create and update.

    Outputs (version names unless noted): ``kept``, ``excluded`` (excluded from ``latest``, already or now),
    ``deleted``, ``promoted`` (version ids), ``end_of_life`` (name → ISO date of each excluded version),
    ``reasons`` (name → why), ``notes`` (promotion decisions), ``applied`` (False for a dry run), ``evaluated_at``.
    Deleting the resource changes nothing in the gallery.
    """

    kept: pulumi.Output[list]
    excluded: pulumi.Output[list]
    deleted: pulumi.Output[list]
    promoted: pulumi.Output[list]
    end_of_life: pulumi.Output[dict]
    reasons: pulumi.Output[dict]
    notes: pulumi.Output[list]
    applied: pulumi.Output[bool]
    evaluated_at: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: LifecycleArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = args.to_props()
        props.update({k: None for k in OUTPUTS})
        super().__init__(ImageVersionLifecycleProvider(), name, props, opts)
