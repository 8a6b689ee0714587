"""The last run of every image template of a resource group, read with one LIST and shared by the diffs of a process.

Why the diffs read ARM at all: ``ImageBuildStart``'s diff must replace the start when the template's last run ended
without success (a failed build is built again by the next ``up``, see ``provider.py``), and nothing in the state
says so: the start's outputs are written when its run starts, and the wait whose create failed left no state. So the
outcome lives only in ARM. What this module removes is the one-GET-per-image: a preview of N images in one resource
group made N reads of N templates (63 ms each against the local emulator, plus a token each on Azure); the first diff
now lists the group once (``GET .../imageTemplates``, the same ``imageTemplates/read`` permission at the group's
scope) and every other diff of the process answers from that list.

Freshness: a snapshot is as old as the first diff that needed it, i.e. as if every diff of the command had read at
that moment. A template that a call of this process may have changed the run of (create, update, delete of either
build resource) is never answered from a snapshot again in this process: its diff reads it, as before. A snapshot
older than :data:`TTL_SECONDS` is read again (a long-lived provider host, as in the tests). When the list cannot be
read (a permission scoped to single templates, an outage), or it does not name the template (created since), the
caller reads the one template as before.

Nothing here is pickled: the module state is filled in the provider process, on first use.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from components.providers.build_run.inputs import BuildSettings

#: A snapshot older than this is read again.
TTL_SECONDS = 30.0

Key = tuple[str, str, str, str]


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read_at: Optional[float] = None
        self.statuses: Optional[dict[str, Any]] = None  # template name (lower case) -> RunStatus; None: unreadable
        self.changed: set[str] = set()  # templates whose run this process may have changed: never from the list


_entries: dict[Key, _Entry] = {}
_entries_lock = threading.Lock()


def key(settings: BuildSettings) -> Key:
    from components.providers import arm_client

    return ((arm_client.resolve_endpoint(settings.arm_endpoint) or "").lower(), settings.subscription_id.lower(),
            settings.resource_group_name.lower(), settings.api_version)


def status(settings: BuildSettings, list_group: Callable[[], dict[str, Any]],
           clock: Callable[[], float] = time.monotonic) -> Optional[Any]:
    """The template's last run (a ``RunStatus``) from the group's snapshot, listing the group when there is no fresh
    snapshot (``list_group()``: name -> RunStatus; it raises when the list cannot be read). None when the snapshot
    cannot answer: the list is unreadable, or it does not name the template; the caller then reads the template."""
    name = settings.image_template_name.lower()
    entry = _entry(settings)
    if name in entry.changed:
        return None
    with entry.lock:  # concurrent diffs of one group wait for one list rather than each making one
        if entry.read_at is None or clock() - entry.read_at > TTL_SECONDS:
            try:
                entry.statuses = {name.lower(): run for name, run in list_group().items()}
            except Exception:  # noqa: BLE001 - any failure: the caller reads the single template, which reports it
                entry.statuses = None
            entry.read_at = clock()
        statuses = entry.statuses
    if statuses is None or name in entry.changed:
        return None
    return statuses.get(name)


def forget(settings: BuildSettings) -> None:
    """This process is about to change a run of the settings' template: no snapshot answers for it from now on."""
    _entry(settings).changed.add(settings.image_template_name.lower())


def _entry(settings: BuildSettings) -> _Entry:
    with _entries_lock:
        return _entries.setdefault(key(settings), _Entry())


def clear() -> None:
    with _entries_lock:
        _entries.clear()
