"""The Python language host of local runs, served to the CLI through `--client`.

The Pulumi CLI is built here from the Go module proxy, but its Python language host
(`github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3`) is not served by the proxy, so it cannot be
built. The CLI's `--client=<address>` option (what the Automation API uses for inline programs) lets a process of our
own serve the `LanguageRuntime` instead. This one does what the Go host does for a `Run`: it starts a fresh process of
the venv's Python on the SDK's own `pulumi-language-python-exec` script (the one the Go host runs), in the program's
folder, with the stack config in `PULUMI_CONFIG`, and reports how it ended. The program therefore runs exactly as under
`pulumi up` anywhere: its own process, its folder as working directory, dynamic providers in their own host.

`--client` serves only the program's own runtime. For a `runtime: python` plugin (the component package in package/,
used by a YAML program) the CLI looks up a `pulumi-language-python` plugin by name on PATH; local runs put
`components/local/plugins/pulumi-language-python` there, which runs this module (`main`): the same host, serving
RunPlugin, as its own process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures
from queue import Queue
from pathlib import Path

import grpc
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

USER_ACTIONABLE_EXIT = 32
"""pulumi-language-python-exec exits with this after it has reported the error to the engine itself."""


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, python: str, exec_script: Path) -> None:
        self.python = python
        self.exec_script = exec_script
        self.running: set[subprocess.Popen] = set()

    def GetPluginInfo(self, request, context):
        from importlib.metadata import version

        return plugin_pb2.PluginInfo(version=version("pulumi"))

    def GetRequiredPlugins(self, request, context):
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def About(self, request, context):
        return language_pb2.AboutResponse(executable=self.python, version=sys.version.split()[0])

    def Run(self, request, context):
        process = subprocess.Popen(self.command(request), env=self.environment(request), cwd=request.pwd or None)
        self.running.add(process)
        try:
            process.wait()
        finally:
            self.running.discard(process)
        if process.returncode == 0:
            return language_pb2.RunResponse()
        if process.returncode == USER_ACTIONABLE_EXIT:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {process.returncode}")

    def RunPlugin(self, request, context):
        """Run a `runtime: python` plugin (a component package): `python -u <its folder> <args>` in `pwd`, with the
        request's env added; its stdout and stderr stream back as they come, an exit code only when it failed."""
        env = {**os.environ, **dict(kv.partition("=")[::2] for kv in request.env)}
        process = subprocess.Popen([self.python, "-u", request.info.program_directory, *request.args],
                                   cwd=request.pwd or None, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.running.add(process)
        chunks: Queue[tuple[str, bytes | None]] = Queue()

        def pump(stream, field: str) -> None:
            for chunk in iter(lambda: stream.read1(65536), b""):
                chunks.put((field, chunk))
            chunks.put((field, None))

        for stream, field in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            threading.Thread(target=pump, args=(stream, field), daemon=True).start()
        try:
            open_streams = 2
            while open_streams:
                field, chunk = chunks.get()
                if chunk is None:
                    open_streams -= 1
                elif field == "stdout":
                    yield language_pb2.RunPluginResponse(stdout=chunk)
                else:
                    yield language_pb2.RunPluginResponse(stderr=chunk)
            code = process.wait()
        finally:
            self.running.discard(process)
        if code != 0:
            yield language_pb2.RunPluginResponse(exitcode=code)

    def InstallDependencies(self, request, context):
        """Nothing to install, and nothing to say: local runs use the repository's venv (`scripts/bootstrap.sh` made it,
        with everything the program and the package need), where the Go host would make the plugin's own."""
        return iter(())

    def command(self, request) -> list[str]:
        program = request.info.program_directory or request.program or "."
        return [self.python, "-u", str(self.exec_script),
                "--project", request.project, "--stack", request.stack,
                "--root_directory", request.info.root_directory or request.pwd,
                "--parallel", str(request.parallel or 1), "--dry_run", "true" if request.dryRun else "false",
                "--pwd", request.pwd, "--monitor", request.monitor_address,
                "--engine", request.args[0] if request.args else "",
                "--organization", request.organization or "organization", program]

    @staticmethod
    def environment(request) -> dict[str, str]:
        return {**os.environ, "PULUMI_CONFIG": json.dumps(dict(request.config)),
                "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys))}

    def end_programs(self) -> None:
        """Kill the programs still running: the CLI that ran them is gone (killed), so no engine answers them."""
        for process in list(self.running):
            process.kill()


class Served:
    """The host being served: its address for `--client`, and `stop()`."""

    def __init__(self, server: grpc.Server, host: PythonLanguageHost, address: str) -> None:
        self.server, self.host, self.address = server, host, address

    def stop(self) -> None:
        """Stop serving, and end any program the CLI left running (a killed CLI ends none)."""
        self.server.stop(grace=None)
        self.host.end_programs()


def start(python: str, exec_script: Path) -> Served:
    """Serve the host on a free loopback port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    host = PythonLanguageHost(python, exec_script)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return Served(server, host, f"127.0.0.1:{port}")


def main(argv: list[str]) -> int:
    """`pulumi-language-python [options] <engine address>`, as the CLI starts a language plugin it finds on PATH (for a
    `runtime: python` plugin such as package/, which `--client` does not serve): serve, print the port, and stop on
    SIGINT or SIGTERM, or when the CLI that started us is gone (killed), ending whatever the host still runs. The
    engine address is not needed: each request carries the addresses it needs."""
    del argv
    from components.local.tools import BIN
    from components.providers.parent_watch import exit_with_parent

    served = start(sys.executable, BIN / "pulumi-language-python-exec")
    print(served.address.rpartition(":")[2], flush=True)
    exit_with_parent(0.5, before_exit=served.stop)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
