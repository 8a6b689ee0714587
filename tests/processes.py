"""Processes a killed `pulumi up` leaves behind.

A test that SIGKILLs the CLI (an interrupted update) kills its process group, but the CLI starts its plugins (the
azure-native stand-in, the dynamic-provider host) in groups of their own, so they outlive it, idle. They run in the
project's folder; `kill_processes_in(folder)` ends every process whose working directory is inside `folder`.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def kill_processes_in(folder: Path) -> list[int]:
    """SIGKILL every process (but this one) whose working directory is `folder` or below it; their pids."""
    root = str(Path(folder).resolve())
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except OSError:
                pass
    return killed
