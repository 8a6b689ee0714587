"""Running a Pulumi program in-process under the SDK's mocks (what `synth` and the unit tests use).

`run_program` runs a program with fresh runtime state (root stack, config, outstanding RPCs) under any
`pulumi.runtime.Mocks`, recording every registration with what `new_resource` cannot see (parent,
dependencies, options) and the stack's exports. `pulumi_config` gives a stack file's config (`stack_files`) the way
the CLI hands it to a program. `reveal`/`mask` deal with secret-marked values.
"""

from __future__ import annotations

import contextlib
import gc
import json
from typing import Any, Callable, Iterator, Mapping, Optional

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from components.model.secure import has_secure, is_secure, opaque

SECRET = "[secret]"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def reveal(value: Any) -> Any:
    """`value` with secret wrappers removed (the plain values)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """`value` with every secret replaced by `[secret]`, JSON-friendly."""
    if is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps what `new_resource` cannot see: parent, dependencies and resource options."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[dict[str, Any]] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append({
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent_urn": request.parent or None,
                "custom": bool(request.custom),
                "inputs": rpc.deserialize_properties(request.object),
                "dependencies": sorted(set(request.dependencies)),
                "property_dependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
                "options": {
                    "protect": bool(request.protect),
                    "retain_on_delete": bool(request.retainOnDelete),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "ignore_changes": list(request.ignoreChanges),
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                },
            })
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def run_program(program: Callable[[], Any], *, project: str, stack: str, config: Mapping[str, str],
                secret_keys: Optional[list[str]] = None, mocks: pulumi.runtime.Mocks
                ) -> tuple[RecordingMonitor, Any]:
    """Run `program` under fresh mocks with `config` (full `ns:key` names, string values); return the monitor and
    what `program` returned."""
    monitor = RecordingMonitor(mocks)
    # A previous run leaves its root stack resource and config behind; both are per-run. A failed run also leaves
    # its outstanding RPCs and errored outputs, which the next run would otherwise report as its own failure (as
    # `pulumi.runtime.test` clears them too).
    ROOT.set(None)
    settings: Any = SETTINGS  # context properties the type checker cannot follow
    settings.rpc_manager.clear()
    settings.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    result: dict[str, Any] = {}

    def run() -> None:
        result["value"] = program()

    with _no_cyclic_gc():
        _sync_await(run_pulumi_func(run))
    # The mock root stack registers its outputs before the program runs, so exports are read off the stack itself.
    root = ROOT.get()
    exported = getattr(root, "outputs", None) or {}
    monitor.stack_outputs = _sync_await(_resolve(dict(exported)))
    return monitor, result.get("value")


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the program registers its resources.

    Every resource leaves hundreds of Outputs, futures and tasks alive until the program ends, so each collection
    rescans a heap that only grows and finds almost nothing (~1,600 objects in a 60-image run): with the collector on,
    a 100-image stack spends about two thirds of its time in it, and the share grows with the stack. Afterwards the
    run's objects are frozen (left out of later collections) rather than scanned once more: they are freed by
    reference counting when the caller drops the result, and the few cycles they hold are not worth a full scan.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


async def _resolve(value: Any) -> Any:
    """Plain values of (nested) Outputs, with secret ones wrapped the way the RPC layer marks them."""
    if isinstance(value, pulumi.Output):
        plain = await _resolve(await value.future())
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": plain} if await value.is_secret() else plain
    if isinstance(value, dict):
        return {k: await _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolve(v) for v in value]
    return value


def pulumi_config(project: str, config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: `ns:key` names, strings (objects as JSON), secure values unknown
    offline (replaced by a placeholder and listed as secret)."""
    flat: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if is_secure(value):
            flat[full] = "synth-secret-placeholder"
            secrets.append(full)
        elif has_secure(value):
            # `config set --secret --path`: the engine marks the whole top-level key secret and decrypts the leaf;
            # offline the leaf becomes an opaque placeholder of its field's type (spec/secure.py).
            flat[full] = json.dumps(opaque(value))
            secrets.append(full)
        else:
            flat[full] = value if isinstance(value, str) else json.dumps(value)
    return flat, secrets
