"""The dynamic resources ``ImageBuildStart`` and ``ImageBuild``, their arguments, and the helper the component calls.

``BuildArgs`` documents every input with its default. ``declare_build`` creates the pair for one image template and
wires the wait after the starts of the whole stack (see ``BuildBarrier``), which is what keeps all builds running in
Azure at once despite the dynamic-provider process serving only four calls at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Optional, Sequence, Union

import pulumi
from pulumi.dynamic import Resource

from components.providers import pulumi_fixes  # noqa: F401  (unnested provider pickling; see the module)
from components.providers.build_run.provider import (
    START_OUTPUTS, WAIT_OUTPUTS, BuildsStartedProvider, ImageBuildProvider, ImageBuildStartProvider)


@dataclasses.dataclass
class BuildArgs:
    """Inputs of one image template's build (plain values or Outputs)."""

    subscription_id: pulumi.Input[str]
    """Subscription of the image template. Required."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the image template. Required."""
    image_template_name: pulumi.Input[str]
    """Name of the (already created) image template. Required. A new name means a new template, hence a new build."""
    api_version: Optional[pulumi.Input[str]] = None
    """AIB api-version for run/cancel/get calls, pinned to the one the template was created with. Default
    ``"2024-02-01"`` (azure-native 3.x's)."""
    build_timeout_minutes: Optional[pulumi.Input[float]] = None
    """The template's ``buildTimeoutInMinutes``. Default 0, which means the service default of 240 minutes."""
    rebuild_trigger: Optional[pulumi.Input[str]] = None
    """Any string; changing it builds the same template again. Default None."""
    run_output_names: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None
    """``runOutputName`` of every distributor; each must exist after the build. Default ``[]`` (no check)."""
    vhd_run_outputs: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None
    """runOutputNames of VHD distributors without a ``uri`` (the VHD lives only in the staging storage account and
    dies with the template). Deleting the build is refused when it would lose the newest of these VHDs (not when a newer
    template of the same image has built them again; see ``provider.py``). Default ``[]``."""
    allow_vhd_loss_on_delete: Optional[pulumi.Input[bool]] = None
    """Accept losing the ``vhd_run_outputs`` VHDs on delete. Default False."""
    arm_endpoint: Optional[pulumi.Input[str]] = None
    """ARM base URL. Default: env ``AIB_ARM_ENDPOINT`` in the provider process, else the public (or configured) cloud."""
    poll_seconds: Optional[pulumi.Input[float]] = None
    """Seconds between status polls. Default: env ``AIB_POLL_SECONDS``, else 20."""
    deadline_margin_minutes: Optional[pulumi.Input[float]] = None
    """Added to the build timeout to form the provider's own deadline, after which the run is canceled. Default 15."""
    auth_retry_seconds: Optional[pulumi.Input[float]] = None
    """How long "Not authorized to access the resource" is retried (role assignments take minutes to propagate).
    Default 600."""
    cancel_timeout_seconds: Optional[pulumi.Input[float]] = None
    """How long delete (or a deadline) waits for Canceling to end. Default 1800."""
    build_mode: Optional[pulumi.Input[str]] = None
    """``"wait"``: ``ImageBuild``'s create waits for the run to end. ``"start"``: it returns at once with the run
    Running, and the next ``pulumi up`` or ``pulumi refresh`` collects the outcome. Default ``"wait"``."""
    on_customizer_error: Optional[pulumi.Input[str]] = None
    """The template's ``errorHandling.onCustomizerError``; ``"abort"`` makes a customizer failure's message say the
    build VM was kept and what removes it. Default ``"cleanup"``."""
    on_validation_error: Optional[pulumi.Input[str]] = None
    """The template's ``errorHandling.onValidationError`` (as ``on_customizer_error``, for validators). Default
    ``"cleanup"``."""

    def to_props(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class ImageBuildStart(Resource, module="aib", name="ImageBuildStart"):
    """Starts the run of an image template (or adopts the one already running) and returns at once.

    Outputs: ``template_id``; ``run_started_at`` (the run's start time, which identifies it); ``adopted`` (True when an
    earlier successful run was adopted instead of building again). Replaced (a new run) when the template or
    ``rebuild_trigger`` changes; deleting it cancels its run if still running.
    """

    template_id: pulumi.Output[str]
    run_started_at: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(self, name: str, args: BuildArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = args.to_props()
        props.update({k: None for k in START_OUTPUTS})
        super().__init__(ImageBuildStartProvider(), name, props, opts)


class ImageBuild(Resource, module="aib", name="ImageBuild"):
    """Waits for the run its ``ImageBuildStart`` started and exposes the results.

    Outputs: ``run_state``, ``run_sub_state``, ``message``, ``start_time``, ``end_time``, ``duration_seconds``,
    ``run_outputs`` (runOutputName → ``{artifact_id, artifact_uri}``), ``image_version_id`` (the first gallery image
    version among the run outputs, else None), ``log_location`` (the build log, or where to find it). Create fails with
    a message naming the phase, the service message and the log (with its last lines when readable); it cancels the run
    past the deadline. Delete cancels a running build and refuses when it would lose VHDs (``vhd_run_outputs``).
    """

    run_state: pulumi.Output[str]
    run_sub_state: pulumi.Output[str]
    message: pulumi.Output[str]
    start_time: pulumi.Output[str]
    end_time: pulumi.Output[str]
    duration_seconds: pulumi.Output[float]
    run_outputs: pulumi.Output[dict]
    image_version_id: pulumi.Output[Optional[str]]
    log_location: pulumi.Output[str]

    def __init__(self, name: str, args: BuildArgs, run_started_at: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = args.to_props()
        props["run_started_at"] = run_started_at
        props.update({k: None for k in WAIT_OUTPUTS})
        super().__init__(ImageBuildProvider(), name, props, opts)


class BuildsStarted(Resource, module="aib", name="BuildsStarted"):
    """A marker that exists once every build start of the stack does (see `BuildBarrier`)."""

    def __init__(self, name: str, starts: Sequence[Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(BuildsStartedProvider(), name, {},
                         pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(starts))))


class BuildBarrier:
    """Makes every wait of a stack depend on every start of the stack, without knowing them all up front.

    Usage (in the program)::

        barrier = BuildBarrier()
        for image in images:
            ImagePipeline(image.name, ..., build_barrier=barrier)   # each calls declare_build(..., wait_after=barrier)
        barrier.close()                                             # after the last image is declared

    The waits' ``depends_on`` is an awaitable that resolves, when ``close()`` is called, to one ``BuildsStarted``
    marker resource that depends on every start, so the engine registers (and runs) no wait before every start has
    been declared and created. The marker keeps the graph linear: n starts -> 1 marker -> n waits, rather than every
    wait naming every start (n x n edges, which made a 500-image stack markedly slower). Forgetting ``close()``
    leaves the waits unregistered and the program hangs at the end, so call it in a ``finally`` or use ``with
    BuildBarrier()``.
    """

    def __init__(self, name: str = "builds-started", provider: Optional[pulumi.ProviderResource] = None) -> None:
        self.name = name
        self._provider = provider  # the stack's explicit dynamic provider (components.providers.dynamic_provider), if any
        self._starts: list[Resource] = []
        self._future: Optional[asyncio.Future] = None
        self._closed = False
        self._after: list[Resource] = []

    def add(self, start: Resource) -> None:
        if self._closed:
            raise RuntimeError("BuildBarrier.add after close(): declare every build before closing the barrier")
        self._starts.append(start)

    def dependency(self) -> pulumi.Output[list]:
        if self._future is None:
            self._future = asyncio.get_event_loop().create_future()
            if self._closed:
                self._future.set_result(list(self._after))
        return pulumi.Output.from_input(self._future)

    def close(self) -> None:
        if not self._closed and self._starts:
            self._after = [BuildsStarted(self.name, self._starts, pulumi.ResourceOptions(provider=self._provider))]
        self._closed = True
        if self._future is not None and not self._future.done():
            self._future.set_result(list(self._after))

    def __enter__(self) -> "BuildBarrier":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def declare_build(names: tuple[str, str], args: BuildArgs, opts: Optional[pulumi.ResourceOptions] = None, *,
                  wait_after: Union[BuildBarrier, Sequence[Resource], None] = None,
                  old_names: Optional[tuple[str, str]] = None) -> tuple[ImageBuildStart, ImageBuild]:
    """Declare the build of one image template: ``(start, wait)`` named ``names``.

    ``opts`` applies to both (give ``parent`` and a ``depends_on`` on the template and its role assignments).
    ``wait_after``: the starts of the other images (a list, or a :class:`BuildBarrier` shared by the whole stack);
    the wait also depends on them so that no wait occupies one of the provider's 4 worker threads while a start is
    still queued. Default None: the wait depends only on its own start (fine for a single image).
    ``old_names``: the names earlier versions gave them, aliased so their state carries over.
    """
    start_name, wait_name = names
    start_aliases, wait_aliases = ([pulumi.Alias(name=n)] for n in old_names) if old_names else ([], [])
    start = ImageBuildStart(start_name, args, pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=start_aliases)))
    deps: Any
    if isinstance(wait_after, BuildBarrier):
        wait_after.add(start)
        deps = wait_after.dependency()
    else:
        deps = [start, *(wait_after or [])]
    wait_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=deps, aliases=wait_aliases))
    wait = ImageBuild(wait_name, args, start.run_started_at, wait_opts)
    return start, wait
