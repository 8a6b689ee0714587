"""Drive the real dynamic-provider host (``python -m pulumi.dynamic``) the way the Pulumi engine does.

The engine starts the host, reads its port from stdout, and sends ``Configure`` once, then ``Check``/``Diff``/
``Create``/``Read``/``Update``/``Delete`` over gRPC with properties as protobuf Structs: values not known yet travel as
the string sentinel ``pulumi.runtime.rpc.UNKNOWN`` and the provider is the base64 dill pickle in ``__provider``. Inside
the host the SDK turns that sentinel into ``pulumi.output.Unknown`` objects for Check and Diff, which no in-process
test reproduces; hence this helper. ``ProviderHost(env=...)`` starts one host (with the project on ``PYTHONPATH``, from
a working directory that is not the project), ``host.call(method, urn, olds, news)`` sends one call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = rpc.UNKNOWN
PROVIDER_KEY = "__provider"


def urn(type_name: str, name: str = "r") -> str:
    """A dynamic resource's URN, e.g. ``urn("aib:ImageBuildStart")``."""
    return f"urn:pulumi:stack::project::pulumi-python:dynamic/{type_name}::{name}"


def with_provider(provider: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` plus the ``__provider`` pickle the SDK stores for ``provider``."""
    return {**props, PROVIDER_KEY: serialize_provider(provider)}


def _struct(props: Optional[Mapping[str, Any]]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(props or {}))
    return struct


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


class ProviderHost:
    """One ``python -m pulumi.dynamic`` process and a gRPC stub to it (``close()`` ends it)."""

    def __init__(self, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dynamic-host-")
        self._stderr = open(Path(self._dir.name) / "stderr.log", "wb")
        process_env = {**os.environ, **(env or {})}
        process_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), process_env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"],
                                        cwd=cwd or self._dir.name, env=process_env,
                                        stdout=subprocess.PIPE, stderr=self._stderr)
        port = self.process.stdout.readline().decode().strip()  # type: ignore[union-attr]
        if not port.isdigit():
            self.close()
            raise RuntimeError(f"provider host did not print its port: {port!r}\n{self.stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.stub.Configure(provider_pb2.ConfigureRequest(args=_struct({}), acceptSecrets=True,
                                                          acceptResources=True))

    def call(self, method: str, urn_: str, olds: Optional[Mapping[str, Any]] = None,
             news: Optional[Mapping[str, Any]] = None, id_: str = "") -> Any:
        """Send one engine call; the answer as plain data (see each branch). gRPC errors propagate.

        ``Check`` -> ``(inputs, [(property, reason), ...])``; ``Diff`` -> ``DiffResponse``; ``Create`` and ``Read`` ->
        ``(id, outputs)`` (``Read`` takes the recorded outputs as ``olds``); ``Update`` -> outputs; ``Delete`` (takes
        the outputs as ``olds``) -> None.
        """
        olds_s, news_s = _struct(olds), _struct(news)
        if method == "Check":
            answer = self.stub.Check(provider_pb2.CheckRequest(urn=urn_, olds=olds_s, news=news_s))
            return _plain(answer.inputs), [(f.property, f.reason) for f in answer.failures]
        if method == "Diff":
            return self.stub.Diff(provider_pb2.DiffRequest(id=id_, urn=urn_, olds=olds_s, news=news_s))
        if method == "Create":
            answer = self.stub.Create(provider_pb2.CreateRequest(urn=urn_, properties=news_s))
            return answer.id, _plain(answer.properties)
        if method == "Read":
            answer = self.stub.Read(provider_pb2.ReadRequest(id=id_, urn=urn_, properties=olds_s))
            return answer.id, _plain(answer.properties)
        if method == "Update":
            return _plain(self.stub.Update(provider_pb2.UpdateRequest(id=id_, urn=urn_, olds=olds_s,
                                                                       news=news_s)).properties)
        if method == "Delete":
            self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=urn_, properties=olds_s))
            return None
        raise ValueError(f"unknown engine call {method!r}")

    def stderr(self) -> str:
        """What the host wrote to stderr so far (the engine shows these lines as info diagnostics)."""
        return (Path(self._dir.name) / "stderr.log").read_text(errors="replace")

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        self._dir.cleanup()

    def __enter__(self) -> "ProviderHost":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def is_replace(diff: Any) -> bool:
    """The engine's reading of a DiffResponse: some change, and replacement keys."""
    return diff.changes == provider_pb2.DiffResponse.DIFF_SOME and bool(diff.replaces)
