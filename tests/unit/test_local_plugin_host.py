"""RunPlugin of the local Python language host (issue 25): the CLI runs a `runtime: python` plugin through it."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from components.local.language_host import PythonLanguageHost


def _run(plugin: Path, tmp_path: Path, *args: str) -> list:
    host = PythonLanguageHost(sys.executable, Path("unused"))
    request = SimpleNamespace(info=SimpleNamespace(program_directory=str(plugin)), args=list(args),
                              pwd=str(tmp_path), env=["AIB_PLUGIN_TEST=from-request"])
    return list(host.RunPlugin(request, None))


def test_run_plugin_streams_output_and_reports_exit_code_only_on_failure(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "__main__.py").write_text(
        "import os, sys\nprint(os.environ['AIB_PLUGIN_TEST'], os.getcwd(), *sys.argv[1:])\n"
        "print('oops', file=sys.stderr)\nsys.exit(int(sys.argv[1]))\n")
    ok = _run(plugin, tmp_path, "0")
    assert b"".join(r.stdout for r in ok).decode().split() == ["from-request", str(tmp_path), "0"]
    assert b"".join(r.stderr for r in ok) == b"oops\n"
    assert all(r.exitcode == 0 for r in ok)
    failed = _run(plugin, tmp_path, "3")
    assert failed[-1].exitcode == 3 and not failed[-1].stdout
