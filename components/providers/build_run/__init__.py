"""Running an image template's build from Pulumi: start it, wait for it, surface its run outputs.

azure-native creates the image template but has no "run" operation, so two Python dynamic resources do it.
``ImageBuildStart`` POSTs the run (or adopts one already running) and returns within seconds; ``ImageBuild`` waits for
that run, reports each phase change, enforces a deadline, and reads the run outputs. The split exists because the
dynamic-provider process serves at most four calls at once (``grpc.server(ThreadPoolExecutor(max_workers=4))`` in
``pulumi/dynamic/__main__.py``) and all dynamic resources of a stack share that one process. A single resource that
started *and* waited inside ``create`` would hold a worker for the whole build, so with 12 images only 4 builds would
run in Azure at a time and the stack would take three build-lengths. With the split, starts are short calls; and because
``declare_build`` makes every wait depend on every start of the stack (``wait_after``, a list or a ``BuildBarrier``),
the engine issues all 12 starts before it issues any wait, so all 12 builds run in Azure together, and the waits, four
at a time, finish in roughly one build-length (later waits find their builds done). The price is that, while four
waits block, other dynamic resources of the stack queue behind them.

``build_mode: start`` (per image) goes one step further for builds that must not hold a pipeline for hours: the wait's
create looks at the run once and returns, leaving its outputs Running; the next ``pulumi up`` (its diff) or ``pulumi
refresh`` (its read) collects the outcome in a few seconds (``provider.py``).

Other rules the design follows (reference: pulumi-facts §3): failures leave no partial state, so ``create`` is
idempotent (a Running run of the template is adopted, never doubled; a Succeeded one is adopted unless the user bumped
``rebuild_trigger``); custom timeouts are ignored, so the wait has its own deadline and cancels the run; providers are
pickled by reference, so the classes stay in ``components.providers.build_run.provider`` and build their SDK clients inside each
method (``components.providers.arm_client``).

Public API: ``BuildArgs``, ``ImageBuildStart``, ``ImageBuild``, ``BuildBarrier``, ``declare_build``, ``BuildError``;
the providers ``ImageBuildStartProvider`` / ``ImageBuildProvider`` for callers that drive them directly (they accept a
``progress`` sink).
"""

from components.providers.build_run.errors import BuildError
from components.providers.build_run.provider import ImageBuildProvider, ImageBuildStartProvider
from components.providers.build_run.resources import BuildArgs, BuildBarrier, ImageBuild, ImageBuildStart, declare_build

__all__ = [
    "BuildArgs",
    "BuildBarrier",
    "BuildError",
    "ImageBuild",
    "ImageBuildProvider",
    "ImageBuildStart",
    "ImageBuildStartProvider",
    "declare_build",
]
