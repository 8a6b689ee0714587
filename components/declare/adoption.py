"""Adopting what already exists: the getter lookups that tell whether a planned resource group, gallery or image
definition is already in Azure, and the `import_` option that adopts one that is.

A stack's lookups are issued all at once and awaited together (`look_up_existing`): the SDK's generated getters are
synchronous, each blocking the program until its answer is back, so a stack of 10 images made its 12 lookups one
after the other on every preview and up (about 85 ms each on the local cloud, 1.36 s of a 2.5 s program, issue 22).
The program cannot know which resources its state already holds (the engine does not tell it), so it cannot skip a
lookup; it pays one round trip for all of them instead. Each answer is then judged exactly as a single lookup is
(`adopted`): the warnings in the same order, a lookup after the engine ended the update stopping the program, and
the conflicts refused by the declarations that read the answers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional, Sequence, Union

import pulumi
import pulumi.runtime
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native import _utilities, compute, resources

from components.plan.stack import GalleryPlan, ImageDefinitionPlan, ResourceGroupPlan

Adoptable = Union[ResourceGroupPlan, GalleryPlan, ImageDefinitionPlan]
"""What a stack adopts when it already exists (`adoptExisting: true`)."""

NOT_FOUND_MARKERS = ("404", "NotFound", "not found")
ENGINE_GONE = "Resource monitor has terminated"
"""The SDK's error once the engine ended the update (another resource failed): nothing more can be declared."""


def adopted(what: str, get: Callable[[], Any]) -> Optional[Any]:
    """What a getter invoke finds, or None when the resource does not exist (404) or cannot be looked up (a warning
    says why: it is then created, which fails with "already exists" if it does)."""
    try:
        found = get()
    except Exception as err:  # the invoke's error carries the service's answer as text only
        if ENGINE_GONE in str(err):
            raise  # going on would block the program on the next call to an engine that is gone
        if not any(m in str(err) for m in NOT_FOUND_MARKERS):
            pulumi.log.warn(f"{what}: could not check whether it exists ({err}); declaring it as new")
        return None
    return found if getattr(found, "id", None) else None


def import_option(found: Optional[Any]) -> Optional[str]:
    """`import_` for a resource found in Azure. The engine imports only when the stack has no resource under this
    URN (or one with another id); a resource the stack already manages is diffed as usual (pulumi
    `step_generator.go`: isImport needs no old state, or an old id/ImportID other than this one). The id is Azure's
    own, the same string azure-native records after a create, so a managed resource never looks re-imported."""
    return getattr(found, "id", None) if found is not None else None


def look_up_existing(plans: Sequence[Adoptable]) -> dict[str, Optional[Any]]:
    """What Azure holds of each planned resource, by the plan's resource id: the getter's result, or None (absent,
    or not checkable, with `adopted`'s warning).

    Every lookup is sent before any answer is awaited, and the program waits once for all of them (the event loop
    runs while it waits, as it does during a single synchronous invoke); the answers are then judged one by one in the
    order of `plans`, so the warnings come in that order and the first lookup that found the engine gone raises."""
    if not plans:
        return {}

    async def outcome(plan: Adoptable) -> tuple[Any, Optional[Exception]]:
        try:
            return await _lookup(plan), None
        except Exception as err:  # judged below, in order, as `adopted` judges a synchronous getter's error
            return None, err

    async def every() -> list[tuple[Any, Optional[Exception]]]:
        return list(await asyncio.gather(*(outcome(p) for p in plans)))

    answers = _sync_await(every())
    return {plan.id: adopted(_what(plan), _answer(value, err)) for plan, (value, err) in zip(plans, answers)}


def _answer(value: Any, err: Optional[Exception]) -> Callable[[], Any]:
    def get() -> Any:
        if err is not None:
            raise err
        return value
    return get


def _what(plan: Adoptable) -> str:
    if isinstance(plan, ResourceGroupPlan):
        return f"resource group {plan.id}"
    if isinstance(plan, GalleryPlan):
        return f"gallery {plan.id}"
    return f"image definition {plan.id}"


def _lookup(plan: Adoptable) -> Awaitable[Any]:
    """The getter invoke of `plan`'s resource, as its generated synchronous getter sends it (`resources.
    get_resource_group`, `compute.get_gallery`, `compute.get_gallery_image`: token, arguments, result type and the
    package's invoke defaults, its version among them), through the SDK's asynchronous invoke."""
    if isinstance(plan, ResourceGroupPlan):
        return _invoke("azure-native:resources:getResourceGroup", {"resourceGroupName": plan.name},
                       resources.GetResourceGroupResult)
    if isinstance(plan, GalleryPlan):
        return _invoke("azure-native:compute:getGallery", {
            "expand": None, "galleryName": plan.name, "resourceGroupName": plan.resource_group, "select": None},
            compute.GetGalleryResult)
    return _invoke("azure-native:compute:getGalleryImage", {
        "galleryImageName": plan.name, "galleryName": plan.gallery_name, "resourceGroupName": plan.resource_group},
        compute.GetGalleryImageResult)


async def _invoke(token: str, args: dict[str, Any], typ: type) -> Any:
    opts = pulumi.InvokeOptions.merge(_utilities.get_invoke_opts_defaults(), None)
    return await pulumi.runtime.invoke_async(token, args, opts=opts, typ=typ)
