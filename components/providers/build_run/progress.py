"""Progress reporting for long builds, from inside the dynamic-provider process.

``pulumi.log`` is not connected there (the provider process has no engine address, so ``pulumi.log.info`` degrades to
printing ``info: ...`` on stderr). What does reach the user is the process's stderr: the engine reads every line a
provider plugin writes to stderr and shows it as an info diagnostic (pulumi/pulumi ``pkg/resource/plugin/plugin.go``,
``runtrace`` → ``Diag.Infoerrf``). So the default sink writes one short line per event, ``[aib] <template>: Customizing
(+4m12s)``, and also sends it to the ``components.providers.build_run`` logger. Callers that drive the provider directly (the local
runner, tests) pass their own sink instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable, Optional

Sink = Callable[[str], None]
HEARTBEAT_SECONDS = 300.0
"""While a phase lasts (Customizing can take an hour), a line at least this often, so a CI log never goes silent."""

LOGGER = logging.getLogger("components.providers.build_run")
_stderr_lock = threading.Lock()


def stderr_sink(line: str) -> None:
    """Write one line to stderr at once, so the 4 provider threads never interleave within a line."""
    with _stderr_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def format_elapsed(seconds: float) -> str:
    """``+4m12s``, ``+1h02m``, ``+9s``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"+{hours}h{minutes:02d}m"
    if minutes:
        return f"+{minutes}m{secs:02d}s"
    return f"+{secs}s"


class Progress:
    """Reports events of one template's build to a sink and to the module logger."""

    def __init__(self, template_name: str, sink: Optional[Sink] = None, *,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.template_name = template_name
        self._sink = stderr_sink if sink is None else sink
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self._phase: Optional[str] = None
        self._last_line_at = 0.0

    def phase(self, label: str, elapsed_seconds: Optional[float] = None, message: str = "") -> None:
        """Called on every poll of a running build: one line when the phase changes, and then a heartbeat every
        `heartbeat_seconds` while it lasts (`still Customizing (+1h05m): <the run status message>`), naming the step
        when the service's run status message says which."""
        now = self._clock()
        if label != self._phase:
            self._phase, self._last_line_at = label, now
            self(label, elapsed_seconds)
        elif now - self._last_line_at >= self._heartbeat_seconds:
            self._last_line_at = now
            self(f"still {label}", elapsed_seconds, detail=" ".join(message.split())[:160])

    def __call__(self, event: str, elapsed_seconds: Optional[float] = None, *, detail: str = "") -> None:
        suffix = f" ({format_elapsed(elapsed_seconds)})" if elapsed_seconds is not None else ""
        line = f"[aib] {self.template_name}: {event}{suffix}" + (f": {detail}" if detail else "")
        LOGGER.info(line)
        try:
            self._sink(line)
        except Exception:  # noqa: BLE001 - a broken display must never fail a build
            LOGGER.debug("progress sink failed", exc_info=True)
