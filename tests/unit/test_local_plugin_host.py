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


def test_install_dependencies_installs_nothing() -> None:
    host = PythonLanguageHost(sys.executable, Path("unused"))
    assert list(host.InstallDependencies(SimpleNamespace(), None)) == []


def test_the_launcher_on_path_serves_the_host_prints_its_port_and_ends_quietly_on_sigint(tmp_path: Path) -> None:
    """The CLI finds `pulumi-language-python` on PATH and starts it as `<launcher> <engine address>`, reads the port
    from its first line, and ends it with SIGINT."""
    import os
    import signal
    import subprocess

    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import language_pb2_grpc

    from components.local.engine import PLUGINS

    launcher = PLUGINS / "pulumi-language-python"
    assert os.access(launcher, os.X_OK)
    process = subprocess.Popen([str(launcher), "127.0.0.1:1"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PULUMI_PYTHON_CMD": sys.executable})
    try:
        port = int((process.stdout.readline() if process.stdout else "").strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = language_pb2_grpc.LanguageRuntimeStub(channel).GetPluginInfo(empty_pb2.Empty(), timeout=10)
        assert info.version
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0 and out == "" and err == "", (process.returncode, out, err)
