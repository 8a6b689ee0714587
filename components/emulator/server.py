"""The emulator process: HTTP(S) serving, bearer auth, transport faults, request log, and its lifecycle.

This module owns `Emulator`, the public entry point. It binds 127.0.0.1 (port 0 by default), serves a
Starlette app with uvicorn in a background thread, and, with `tls=True`, presents a certificate from a
throw-away trustme CA whose PEM is `emu.ca_bundle`. An outer ASGI layer applies, in order: transport
faults (drop / 429 / 5xx) from `emu.faults`, the bearer-token check (401 with an ARM error body; the token
is never logged), and the request log. Requests are then answered by `templates.py` (anything under
Microsoft.VirtualMachineImages), by the `/packerlogs/<guid>/customization.log` blob stand-in, or by
`generic.py` (every other ARM resource). All state changes happen under `state.lock`, after `advance()`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from components.emulator import reads, templates
from components.emulator.builds import Builds
from components.emulator.credential import EmulatorCredential
from components.emulator.errors import ArmError
from components.emulator.faults import Faults
from components.emulator.generic import GenericResources
from components.emulator.messages import Reply, Req
from components.emulator.state import State
from components.emulator.triggers import SourceImageTriggers

_LOG = logging.getLogger("components.emulator")
_BLOB_HOST_RE = re.compile(r"^https://[a-z0-9]+\.blob\.core\.windows\.net", re.I)
_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"]
BODIES_KEPT = 20000
"""How many request bodies `Emulator.bodies` keeps (the oldest go first; `bodies_seen` counts them all)."""
BODIES_PATH = "/_emulator/bodies"


class Emulator:
    """A local Azure Resource Manager for Image Builder and the resources around it.

    `phase_seconds` is the real duration of each build phase (and of template creation and deletion), so a
    45-minute build takes a few seconds. `retry_after` is the `Retry-After` (whole seconds) sent on LRO
    answers; by default `int(phase_seconds)`, so sub-second phases let clients poll at their own interval.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, tls: bool = True, phase_seconds: float = 1.0,
                 faults: Faults | None = None, state_file: str | None = None, token: str | None = None,
                 retry_after: int | None = None, blob_endpoint: str | None = None,
                 blob_account_key: str | None = None):
        self.host = host
        self.port = port
        self.tls = tls
        self.phase_seconds = phase_seconds
        self._faults = faults or Faults()
        self.state_file = state_file
        self.token = token or secrets.token_urlsafe(32)
        self.retry_after = int(phase_seconds) if retry_after is None else retry_after
        self.state = State(lambda: self._faults, phase_seconds)
        self.builds = Builds(self.state)
        self.generic = GenericResources(self.state, lambda rg, t: self.templates.templates_in_rg_deleted(rg, t))
        self.templates = templates.ImageTemplates(self.state, self.builds, self.generic.delete_rg, self.retry_after)
        self.triggers = SourceImageTriggers(self.state, self.builds)
        #: A blob service (Azurite: `http://127.0.0.1:<port>`, path-style, one key for every account) standing in for
        #: `https://<account>.blob.core.windows.net`: storage accounts report it and builds download from it.
        self.blob_endpoint = blob_endpoint
        self.blob_account_key = blob_account_key
        self.generic.blob_endpoint = blob_endpoint
        if blob_endpoint:
            self.builds.blob_reader = self.read_blob
            self.generic.on_blob_container = self.create_container
        #: Every request body received, oldest first: {"method", "path", "apiVersion", "body"}, for tests that judge
        #: what clients send against the official definitions (tests/judge.py). Also served at GET /_emulator/bodies
        #: (bearer token required) for an emulator running in another process.
        self.bodies: deque[dict[str, Any]] = deque(maxlen=BODIES_KEPT)
        self.bodies_seen = 0
        self.ca_bundle: str | None = None
        self._tmpdir: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- public surface -----------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def publish_platform_image_version(self, publisher: str, offer: str, sku: str, version: str) -> list[str]:
        """Publish a marketplace image version, as a publisher would: every template whose active SourceImage
        trigger watches that image at `latest` starts a build. Returns the ids of the templates that did."""
        with self.state.lock:
            self.state.advance()
            started = self.triggers.publish_platform_image(publisher, offer, sku, version, self.state.clock())
            if self.state_file:
                self.state.save(self.state_file)
            return started

    def credential(self) -> EmulatorCredential:
        return EmulatorCredential(self.token)

    def client_env(self) -> dict[str, str]:
        env = {"AIB_ARM_ENDPOINT": self.base_url, "AIB_ARM_CA_BUNDLE": self.ca_bundle or "",
               "AIB_ARM_TOKEN": self.token}
        if self.blob_endpoint:
            # Read by components.providers.script_blob: uploads go to the blob service, with its key.
            env.update({"AIB_BLOB_ENDPOINT": self.blob_endpoint, "AIB_BLOB_ACCOUNT_KEY": self.blob_account_key or ""})
        return env

    def blob_url(self, url: str) -> str:
        """`https://<account>.blob.core.windows.net/<path>` on the configured blob service (`<endpoint>/<account>/<path>`)."""
        if not self.blob_endpoint:
            return url
        base = self.blob_endpoint.rstrip("/")
        return re.sub(r"^https://([a-z0-9]+)\.blob\.core\.windows\.net", lambda m: f"{base}/{m.group(1)}", url,
                      flags=re.I)

    def create_container(self, account: str, container: str) -> None:
        """Create a container on the blob service (what a management-plane container PUT does in Azure)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        assert self.blob_endpoint
        service = BlobServiceClient(f"{self.blob_endpoint.rstrip('/')}/{account}",
                                    credential={"account_name": account, "account_key": self.blob_account_key or ""})
        try:
            service.create_container(container)
        except ResourceExistsError:
            pass

    def read_blob(self, url: str) -> bytes:
        """The content of a blob URL on the configured blob service; `BlobMissing` when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import BlobClient

        from components.emulator.builds import BlobMissing

        account = re.match(r"^https://([a-z0-9]+)\.", url, re.I)
        credential = {"account_name": account.group(1), "account_key": self.blob_account_key} \
            if account and self.blob_account_key else None
        client = BlobClient.from_blob_url(self.blob_url(url), credential=credential)
        try:
            return client.download_blob().readall()
        except ResourceNotFoundError as e:
            raise BlobMissing(url) from e

    def local_url(self, blob_url: str) -> str:
        """Rewrite `https://<acct>.blob.core.windows.net/...` (log and VHD URLs) to this emulator."""
        return _BLOB_HOST_RE.sub(self.base_url, blob_url)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r}, tls={self.tls}, phase_seconds={self.phase_seconds})"

    def start(self) -> "Emulator":
        if self.state_file and os.path.exists(self.state_file):
            self.state.load(self.state_file)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        ssl_kwargs: dict[str, Any] = {}
        if self.tls:
            import trustme

            self._tmpdir = tempfile.mkdtemp(prefix="aib-emulator-")
            ca = trustme.CA()
            cert = ca.issue_cert(self.host, "localhost", "127.0.0.1")
            self.ca_bundle = os.path.join(self._tmpdir, "ca.pem")
            server_pem = os.path.join(self._tmpdir, "server.pem")
            ca.cert_pem.write_to_path(self.ca_bundle)
            cert.private_key_and_cert_chain_pem.write_to_path(server_pem)
            ssl_kwargs = {"ssl_certfile": server_pem}
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=_METHODS)])
        config = uvicorn.Config(_Front(self, app), http="h11", lifespan="off", log_level="warning",
                                access_log=False, timeout_keep_alive=30, **ssl_kwargs)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"aib-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
            # Idle keep-alive TLS connections would otherwise hold graceful shutdown for ~10 s.
            self._server.force_exit = True
        if self._thread:
            self._thread.join(10)
        self._server = self._thread = None
        if self.state_file:
            self.state.save(self.state_file)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # ---- request handling ---------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return _respond(Reply(400, ArmError(400, "InvalidRequestContent",
                                                "The request content was invalid and could not be deserialized.").body()))
        now = time.time()
        req = Req(request.method, request.url.path, dict(request.query_params), body, self.base_url, now)
        with self.state.lock:
            if body is not None:
                self.bodies.append({"method": req.method, "path": req.path, "apiVersion": req.api_version,
                                    "body": json.loads(raw)})  # a copy: handlers may change `body`
                self.bodies_seen += 1
            self.state.advance(now)
            try:
                reply = self._dispatch(req)
            except ArmError as e:
                reply = Reply(e.status, e.body(), e.headers)
            except Exception as e:  # an emulator bug: answer like ARM would, keep the traceback in the log
                _LOG.error("emulator error on %s %s\n%s", req.method, req.path, traceback.format_exc())
                reply = Reply(500, {"error": {"code": "InternalServerError", "message": f"Emulator error: {e!r}"}})
            if self.state_file:
                self.state.save(self.state_file)
        return _respond(reply)

    def _dispatch(self, req: Req) -> Reply:
        if req.path == BODIES_PATH and req.method == "GET":
            return Reply(200, {"seen": self.bodies_seen, "value": list(self.bodies)})
        if m := re.match(r"^/packerlogs/([^/]+)/customization\.log$", req.path, re.I):
            lines = self.state.logs.get(m.group(1).lower())
            if lines is None:
                raise ArmError(404, "BlobNotFound", "The specified blob does not exist.")
            return Reply(200, text="\n".join(lines) + "\n")
        if reads.handles(req):
            return reads.answer(req, self.faults.subscription)
        if templates.is_image_builder_path(req.path):
            return self.templates.handle(req)
        return self.generic.handle(req)


def _respond(reply: Reply) -> Response:
    headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4()),
               **reply.headers}
    if reply.text is not None:
        return PlainTextResponse(reply.text, reply.status, headers=headers)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, reply.status, headers=headers)


class _Front:
    """Outer ASGI layer: transport faults, bearer auth, request log."""

    def __init__(self, emu: Emulator, app: Any):
        self.emu = emu
        self.app = app

    def _record(self, method: str, path: str, status: int) -> None:
        with self.emu.state.lock:
            self.emu.state.requests.append({"method": method, "path": path, "status": status, "time": time.time()})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        with self.emu.state.lock:
            fault = self.emu.faults.draw(method, path)
        if fault == "drop":
            self._record(method, path, 0)
            cycle = getattr(send, "__self__", None)  # uvicorn's h11 RequestResponseCycle
            if cycle is not None and getattr(cycle, "transport", None) is not None:
                cycle.transport.close()
                cycle.disconnected = True
                return
            raise ConnectionAbortedError("fault injection: drop")
        if fault == "throttle":
            retry = self.emu.faults.throttle_retry_after
            return await self._send(scope, receive, send, method, path, Reply(429, {"error": {
                "code": "TooManyRequests",
                "message": f"The request is being throttled. Please retry after {retry} seconds."}},
                {"Retry-After": str(retry)}))
        if fault in ("500", "503"):
            code = int(fault)
            err = ("InternalServerError", "Encountered internal server error. Diagnostic information: timestamp "
                   f"'{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}'.") if code == 500 else (
                "ServiceUnavailable", "The server is currently unable to handle the request. Please retry.")
            return await self._send(scope, receive, send, method, path,
                                    Reply(code, {"error": {"code": err[0], "message": err[1]}}))
        auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if not auth:
            return await self._send(scope, receive, send, method, path, Reply(401, {"error": {
                "code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}}))
        if not secrets.compare_digest(auth, f"Bearer {self.emu.token}"):
            return await self._send(scope, receive, send, method, path, Reply(401, {"error": {
                "code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}))
        status_box: dict[str, int] = {}

        async def send_and_log(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
                self._record(method, path, message["status"])
            await send(message)

        await self.app(scope, receive, send_and_log)

    async def _send(self, scope: dict, receive: Any, send: Any, method: str, path: str, reply: Reply) -> None:
        self._record(method, path, reply.status)
        await _respond(reply)(scope, receive, send)
