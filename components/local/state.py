"""Engine state for the local run: what `pulumi up` remembers between runs, so a second run is an update.

Without it every local run is a first `pulumi up`. With an `EngineState` (one JSON file, beside an emulator whose
`state_file` persists too) `ArmMocks` behaves like the engine's update step: a resource whose inputs did not change
is not sent anywhere and its recorded id and outputs are returned; an azure-native resource whose id (its name) changed
is replaced (the new one created, the old one deleted after the program ends); a dynamic resource is diffed by its
provider, then left alone, updated, or replaced (create the new one, delete the old one after). Resources that left the
program are deleted at the end, in reverse creation order, except those declared with `retain_on_delete`.

Secrets never reach the file: inputs are kept as a salted digest, and every string an output shares with a secret
input is stored as a digest reference that is filled in again from the next run's (equal) inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

from ..program import is_secret, reveal

_REF = "__secret_ref__"
_CHANGED = "[secret changed]"
_TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate"


def _secret_strings(value: Any, inside: bool = False) -> list[str]:
    """Every string leaf under a secret wrapper of `value`."""
    if is_secret(value):
        return _secret_strings(value.get("value"), True)
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secret_strings(v, inside)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_strings(v, inside)]
    return [value] if inside and isinstance(value, str) else []


class EngineState:
    """Per-URN records (type, id, input digest, outputs) loaded from and saved to `path` (None: in memory only)."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path is not None else None
        doc: dict[str, Any] = {}
        if self.path is not None and self.path.exists():
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        self.salt: str = doc.get("salt") or secrets.token_hex(16)
        self.records: dict[str, dict] = doc.get("resources") or {}
        self._order = max((r.get("order", 0) for r in self.records.values()), default=0)
        self.seen: set[str] = set()
        #: Old records to delete once the program has run (replaced resources).
        self.superseded: list[dict] = []
        #: (short type, operation) -> count; operations: same, create, update, replace, delete.
        self.counts: Counter[tuple[str, str]] = Counter()

    # -- digests and secret scrubbing -------------------------------------------------------------------------
    def _hash(self, text: str) -> str:
        return hashlib.sha256((self.salt + text).encode()).hexdigest()

    def digest(self, inputs: dict) -> str:
        """Salted digest of the plain inputs (secret or not, the same values give the same digest)."""
        plain = {k: v for k, v in reveal(inputs).items() if k != "__provider"}
        return self._hash(json.dumps(plain, sort_keys=True, default=str))

    def scrub(self, value: Any, secret_inputs: dict) -> Any:
        """`value` with every string that is a secret of `secret_inputs` replaced by a digest reference."""
        by_value = {s: self._hash(s) for s in _secret_strings(secret_inputs)}
        return _rewrite(value, lambda v: {_REF: by_value[v]} if isinstance(v, str) and v in by_value else _DESCEND)

    def restore(self, value: Any, secret_inputs: dict) -> Any:
        """Inverse of `scrub`, with the secrets of this run's inputs (a secret that changed shows as such)."""
        hidden = {self._hash(s): s for s in _secret_strings(secret_inputs)}
        return _rewrite(value, lambda v: hidden.get(v[_REF], _CHANGED)
                        if isinstance(v, dict) and set(v) == {_REF} else _DESCEND)

    # -- the update step --------------------------------------------------------------------------------------
    def previous(self, urn: str) -> Optional[dict]:
        return self.records.get(urn)

    def unchanged(self, urn: str, typ: str, resource_id: str, inputs: dict) -> Optional[tuple[str, dict]]:
        """(id, outputs) recorded for `urn` when nothing would change; else None (the caller creates or replaces).

        A template keeps its id only when everything but its tags is unchanged (the name carries a hash of the rest),
        and the component declares it with `ignore_changes=["tags"]`: same id, same template.
        """
        old = self.records.get(urn)
        if old is None or old["id"] != resource_id:
            return None
        if old["digest"] != self.digest(inputs) and typ != _TEMPLATE:
            return None
        return self.keep(urn, inputs)

    def keep(self, urn: str, inputs: dict) -> tuple[str, dict]:
        old = self.records[urn]
        self.seen.add(urn)
        self.counts[(_short(old["type"]), "same")] += 1
        return old["id"], self.restore(old["outputs"], inputs)

    def record(self, urn: str, typ: str, resource_id: str, inputs: dict, outputs: dict, operation: str = "") -> None:
        """Remember what was just created or updated; a different old id is deleted after the run."""
        old = self.records.get(urn)
        if not operation:
            operation = "create" if old is None else "update" if old["id"] == resource_id else "replace"
        if old is not None and operation == "replace":
            self.superseded.append(old)
        self._order += 1
        self.records[urn] = {"type": typ, "id": resource_id, "digest": self.digest(inputs),
                             "inputs": self.scrub(_plain_inputs(inputs), inputs),
                             "outputs": self.scrub(outputs, inputs), "order": self._order,
                             "retain": bool(old and old.get("retain"))}
        self.seen.add(urn)
        self.counts[(_short(typ), operation)] += 1

    def note_options(self, registrations: list[dict]) -> None:
        """Keep each resource's retain_on_delete (the mocks do not see options; the monitor does)."""
        for r in registrations:
            rec = self.records.get(f"{r['type']}::{r['name']}")
            if rec is not None:
                rec["retain"] = bool(r["options"].get("retain_on_delete"))

    def finish(self, delete: Callable[[dict], None]) -> None:
        """Delete replaced resources and those no longer declared (newest first), then save."""
        gone = [(urn, rec) for urn, rec in self.records.items() if urn not in self.seen]
        doomed = sorted([rec for _, rec in gone] + self.superseded, key=lambda r: r.get("order", 0), reverse=True)
        for rec in doomed:
            if not rec.get("retain"):
                delete(rec)
            self.counts[(_short(rec["type"]), "delete")] += 1
        for urn, _ in gone:
            self.records.pop(urn, None)
        self.superseded = []
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        last = {f"{short}.{op}": n for (short, op), n in sorted(self.counts.items())}
        tmp.write_text(json.dumps({"salt": self.salt, "resources": self.records, "last_run": last}, indent=1,
                                  sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def count(self, operation: str, type_suffix: str = "") -> int:
        return sum(n for (short, op), n in self.counts.items() if op == operation and short.endswith(type_suffix))

    def summary(self) -> str:
        ops = Counter()
        for (_, op), n in self.counts.items():
            ops[op] += n
        return ", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "nothing"


def _short(typ: str) -> str:
    return typ.split(":")[-1]


def _plain_inputs(inputs: dict) -> dict:
    """Inputs without secret wrappers (scrubbing then hides the secret strings) and without the pickled provider."""
    return {k: v for k, v in reveal(inputs).items() if k != "__provider"}


_DESCEND = object()


def _rewrite(value: Any, replace: Callable[[Any], Any]) -> Any:
    """`value` rebuilt top-down: where `replace` returns something other than `_DESCEND`, that takes the place."""
    new = replace(value)
    if new is not _DESCEND:
        return new
    if isinstance(value, dict):
        return {k: _rewrite(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, replace) for v in value]
    return value
