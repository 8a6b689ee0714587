"""Workarounds for Pulumi SDK defects that only show at scale; imported (for its effect) by the build resources.

`pulumi.dynamic.dynamic.serialize_provider` (SDK 3.272) sets `pickle._Pickler._batch_setitems` to a sorting wrapper of
whatever was there before and never puts it back, so every dynamic resource a program declares wraps the previous
wrapper once more. Each later provider pickle then sorts every dict once per earlier dynamic resource (quadratic in the
number of images), and past ~1,000 dynamic resources (about 330 images) pickling fails with RecursionError. The fix
restores the original method before each serialization, so the SDK wraps it exactly once, as it intends; the pickled
bytes are unchanged (sorting sorted items is a no-op).
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

import pulumi.dynamic.dynamic as _dynamic


def _original_batch_setitems() -> Callable[..., Any]:
    """The pure-Python pickler's own `_batch_setitems`, unwrapped from any SDK wrappers already installed."""
    fn: Any = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    while getattr(fn, "__qualname__", "") != "_Pickler._batch_setitems" and getattr(fn, "__closure__", None):
        inner = [c.cell_contents for c in fn.__closure__ if callable(c.cell_contents)]
        if not inner:
            break
        fn = inner[0]
    return fn


_ORIGINAL = _original_batch_setitems()
_SERIALIZE = _dynamic.serialize_provider


def _serialize_provider(provider: Any) -> str:
    pickle._Pickler._batch_setitems = _ORIGINAL  # type: ignore[attr-defined]
    return _SERIALIZE(provider)


if not getattr(_dynamic.serialize_provider, "_aib_unnested", False):
    _serialize_provider._aib_unnested = True  # type: ignore[attr-defined]
    _dynamic.serialize_provider = _serialize_provider
