"""A plugin process ends when the process that started it is gone.

The Pulumi CLI starts its plugins (the azure-native stand-in of local runs, the dynamic-provider host) as its own
children and stops them when it ends normally. A CLI that is killed (SIGKILL, an OOM kill, a CI runner's hard stop)
stops nothing: its plugins are re-parented and keep running, holding ports, files and the local cloud's state. A
plugin that calls `exit_with_parent` notices the re-parenting and exits.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, Optional


def exit_with_parent(poll_seconds: float = 1.0, before_exit: Optional[Callable[[], None]] = None
                     ) -> threading.Thread:
    """Watch this process's parent on a daemon thread; once it is no longer the one that started us, run
    `before_exit` (e.g. end what this process started: `os._exit` runs no cleanup) and `os._exit(0)`."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        try:
            if before_exit is not None:
                before_exit()
        finally:
            os._exit(0)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
