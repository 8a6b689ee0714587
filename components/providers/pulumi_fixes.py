"""Workarounds for Pulumi SDK defects that only show at scale; imported (for its effect) by the build resources.

`pulumi.dynamic.dynamic.serialize_provider` (SDK 3.272) sets `pickle._Pickler._batch_setitems` to a sorting wrapper of
whatever was there before and never puts it back, so every dynamic resource a program declares wraps the previous
wrapper once more. Each later provider pickle then sorts every dict once per earlier dynamic resource (quadratic in the
number of images), and past ~970 dynamic resources (about 330 images) pickling fails with RecursionError. The fix
keeps the method this module found at import and puts it back before each serialization, so the SDK wraps it exactly
once, as it intends; the pickled bytes are unchanged (sorting sorted items is a no-op). The build resources import this
module, so it is in place before a program declares anything and the method kept is the pickler's own; imported after
k serializations, it keeps their k wrappers, and the depth stays k + 1 instead of growing.
Tests: `tests/unit/test_pulumi_fixes.py`; upstream reproduction: `docs/upstream/pulumi-serialize-provider-batch-setitems.md`.
"""

from __future__ import annotations

import pickle
from typing import Any

import pulumi.dynamic.dynamic as _dynamic


def _install() -> None:
    installed = _dynamic.serialize_provider
    if getattr(installed, "_aib_batch_setitems", None) is not None:
        return  # already in place (this module imported again, e.g. reloaded or under its old name)
    kept = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    sdk_serialize = installed

    def serialize_provider(provider: Any) -> str:
        pickle._Pickler._batch_setitems = kept  # type: ignore[attr-defined]
        return sdk_serialize(provider)

    serialize_provider._aib_batch_setitems = kept  # type: ignore[attr-defined]
    _dynamic.serialize_provider = serialize_provider


_install()
