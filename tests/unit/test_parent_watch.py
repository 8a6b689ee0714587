"""Nothing a killed CLI started keeps running: plugins end with their parent, the local language host ends the
programs it ran."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import ROOT


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def _orphan(plugin: str) -> int:
    """Start `plugin` (Python code that prints 'watching' once it watches its parent) from a parent that then dies
    like a killed CLI; the plugin's pid."""
    parent = textwrap.dedent(f"""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", {plugin!r}], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        assert child.stdout.readline() == "watching\\n"
        print(child.pid, flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", parent], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return int(done.stdout.strip())


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_a_plugin_exits_once_its_parent_is_gone():
    pid = _orphan("from components.providers.parent_watch import exit_with_parent; exit_with_parent(0.05); "
                  "print('watching', flush=True); import time; time.sleep(60)")
    assert _gone(pid), "the plugin outlived the process that started it"


def test_a_plugin_ends_what_it_started_before_it_exits_with_its_parent(tmp_path):
    # The local language host's launcher stops the host (and the programs it runs) this way: os._exit runs no cleanup.
    marker = tmp_path / "stopped"
    pid = _orphan("from pathlib import Path; from components.providers.parent_watch import exit_with_parent; "
                  f"exit_with_parent(0.05, before_exit=lambda: Path({str(marker)!r}).write_text('x')); "
                  "print('watching', flush=True); import time; time.sleep(60)")
    assert _gone(pid), "the plugin outlived the process that started it"
    assert marker.read_text() == "x", "before_exit did not run"


def test_stopping_the_local_language_host_ends_the_programs_it_runs():
    from components.local import language_host

    served = language_host.start(sys.executable, ROOT / "nothing.py")
    program = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    served.host.running.add(program)  # as Run does while the program runs
    served.stop()
    assert program.wait(timeout=10) != 0, "killed, not finished"
