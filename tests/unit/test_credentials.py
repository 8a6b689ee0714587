"""The providers' credential: azure-native's settings select it, and GitHub OIDC assertions are fetched per request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import azure.identity
import pytest

from components.providers import arm_client, credentials

SP = {"ARM_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "ARM_TENANT_ID": "22222222-2222-2222-2222-222222222222"}
GITHUB = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/x?api-version=2.0",
          "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-token"}


@pytest.mark.parametrize("env, expected", [
    ({**SP, **GITHUB, "ARM_USE_OIDC": "true"}, "ClientAssertionCredential"),
    ({**SP, "ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": "jwt"}, "ClientAssertionCredential"),
    ({**SP, **GITHUB, "ARM_USE_OIDC": "true", "ARM_CLIENT_SECRET": "s"}, "ClientAssertionCredential"),
    ({**SP, "ARM_USE_OIDC": "true", "ARM_CLIENT_SECRET": "s"}, "ClientSecretCredential"),  # no OIDC source
    ({**SP, **GITHUB, "ARM_CLIENT_SECRET": "s"}, "ClientSecretCredential"),  # OIDC not asked for
    ({**SP, "ARM_USE_MSI": "true"}, "ManagedIdentityCredential"),
    ({"ARM_USE_MSI": "true"}, "ManagedIdentityCredential"),
    ({"ARM_CLIENT_SECRET": "s"}, "DefaultAzureCredential"),  # incomplete service principal
    ({}, "DefaultAzureCredential"),
])
def test_chain_follows_azure_natives_settings(env, expected):
    assert type(credentials.azure_credential(env)).__name__ == expected


def test_arm_client_uses_the_chain(monkeypatch):
    for key, value in {**SP, "ARM_CLIENT_SECRET": "s"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(arm_client.ENV_TOKEN, raising=False)
    assert isinstance(arm_client.arm_credential(), azure.identity.ClientSecretCredential)


class _GitHubTokens(BaseHTTPRequestHandler):
    """Stands for GitHub's OIDC token endpoint: a new token per request, every request recorded."""

    requests: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
        body = json.dumps({"value": f"github-jwt-{len(self.requests)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def github():
    _GitHubTokens.requests = []
    server = HTTPServer(("127.0.0.1", 0), _GitHubTokens)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/token?api-version=2.0", _GitHubTokens.requests
    server.shutdown()
    server.server_close()


def test_oidc_assertion_is_fetched_fresh_for_every_token(github, monkeypatch):
    url, seen = github
    captured = {}

    class Recorder:
        def __init__(self, tenant_id, client_id, func, **_kwargs):
            captured.update(tenant_id=tenant_id, client_id=client_id, func=func)

    monkeypatch.setattr(azure.identity, "ClientAssertionCredential", Recorder)
    credentials.azure_credential({**SP, "ARM_USE_OIDC": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": url,
                                  "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-token"})
    assert (captured["tenant_id"], captured["client_id"]) == (SP["ARM_TENANT_ID"], SP["ARM_CLIENT_ID"])

    assert [captured["func"](), captured["func"]()] == ["github-jwt-1", "github-jwt-2"]
    assert len(seen) == 2
    query = parse_qs(urlsplit(seen[0]["path"]).query)
    assert query == {"api-version": ["2.0"], "audience": ["api://AzureADTokenExchange"]}
    assert all(r["auth"] == "Bearer runtime-token" for r in seen)
