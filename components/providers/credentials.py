"""The Azure credential of the dynamic providers, chosen from the same settings azure-native reads.

``DefaultAzureCredential`` ignores azure-native's ``ARM_*`` variables and GitHub's OIDC endpoint, so in GitHub Actions it
ends at the Azure CLI session ``azure/login`` made, which cannot mint tokens once the job's federated assertion has
expired (about ten minutes; Azure/azure-cli#28708): builds longer than the cached ARM token (about an hour) then fail.
:func:`azure_credential` mirrors azure-native instead, first match wins:

1. ``ARM_USE_OIDC=true`` + ``ARM_CLIENT_ID`` + ``ARM_TENANT_ID`` and an OIDC source: ``ClientAssertionCredential``
   whose assertion is a fresh GitHub token per Entra request (``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN``, or
   ``ARM_OIDC_REQUEST_URL``/``_TOKEN``, audience ``api://AzureADTokenExchange``), or ``ARM_OIDC_TOKEN`` as given;
2. ``ARM_CLIENT_SECRET`` + ``ARM_CLIENT_ID`` + ``ARM_TENANT_ID``: ``ClientSecretCredential``;
3. ``ARM_USE_MSI=true``: ``ManagedIdentityCredential`` (user-assigned when ``ARM_CLIENT_ID`` is set);
4. otherwise ``DefaultAzureCredential`` (``AZURE_*`` variables, workload identity, managed identity, Azure CLI, ...).

Only azure-identity classes obtain Entra tokens; this module only fetches GitHub's assertion.

:func:`shared_credential` keeps one credential per process and per settings, so the calls of a provider process
share its token cache: building a ``DefaultAzureCredential`` in every call meant a new token each time (on a
developer machine an ``az account get-access-token`` subprocess per diff). The cache is empty at import and filled
only in the process that asks (the provider host); providers are pickled by reference to their classes, so no
credential and no secret ever reaches a pickle or the state.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.parse
import urllib.request
from typing import Any, Callable, Mapping, Optional

GITHUB_AUDIENCE = "api://AzureADTokenExchange"
#: Seconds a GitHub token request may take before the Entra request that needs it fails.
GITHUB_TIMEOUT_SECONDS = 30


def azure_credential(env: Optional[Mapping[str, str]] = None) -> Any:
    """The credential the settings in ``env`` (default ``os.environ``) select; see the module docstring."""
    env = os.environ if env is None else env
    client_id, tenant_id = env.get("ARM_CLIENT_ID") or None, env.get("ARM_TENANT_ID") or None
    assertion = _oidc_assertion(env)
    if _enabled(env, "ARM_USE_OIDC") and client_id and tenant_id and assertion is not None:
        from azure.identity import ClientAssertionCredential

        return ClientAssertionCredential(tenant_id, client_id, assertion)
    if env.get("ARM_CLIENT_SECRET") and client_id and tenant_id:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(tenant_id, client_id, env["ARM_CLIENT_SECRET"])
    if _enabled(env, "ARM_USE_MSI"):
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


#: Environment variables that can change which credential :func:`azure_credential` (and azure-identity inside it)
#: builds: a change of any of them makes a new shared credential.
SETTINGS_PREFIXES = ("ARM_", "AZURE_", "ACTIONS_ID_TOKEN_REQUEST_", "IDENTITY_", "MSI_", "IMDS_")

_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def shared_credential(env: Optional[Mapping[str, str]] = None) -> Any:
    """This process's credential for the settings in ``env`` (default ``os.environ``): built by
    :func:`azure_credential` on first use, then reused (azure-identity credentials are thread-safe and renew their
    tokens). Callers must not close it. The cache key is a digest, so it holds no secret of its own."""
    env = os.environ if env is None else env
    digest = hashlib.sha256(json.dumps(sorted((k, v) for k, v in env.items() if k.startswith(SETTINGS_PREFIXES)))
                            .encode()).hexdigest()
    with _shared_lock:
        credential = _shared.get(digest)
        if credential is None:
            credential = _shared[digest] = azure_credential(env)
        return credential


def _enabled(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes")


def _oidc_assertion(env: Mapping[str, str]) -> Optional[Callable[[], str]]:
    """The assertion callback for ``ClientAssertionCredential``, or None when no OIDC source is configured."""
    url = env.get("ARM_OIDC_REQUEST_URL") or env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    token = env.get("ARM_OIDC_REQUEST_TOKEN") or env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if url and token:
        return github_oidc_assertion(url, token)
    fixed = env.get("ARM_OIDC_TOKEN")
    if fixed:
        return lambda: fixed
    return None


def github_oidc_assertion(request_url: str, request_token: str,
                          audience: str = GITHUB_AUDIENCE) -> Callable[[], str]:
    """A callable that asks GitHub for a new OIDC token on every call.

    azure-identity calls it whenever it needs a new Entra token, so each hours-long build renews with a fresh
    assertion (a GitHub token is valid for minutes; a cached one would expire like the CLI session does).
    """
    parts = urllib.parse.urlsplit(request_url)
    query = urllib.parse.parse_qsl(parts.query) + [("audience", audience)]
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def fetch() -> str:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {request_token}",
                                                       "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=GITHUB_TIMEOUT_SECONDS) as response:  # noqa: S310 - https URL from the runner
            value = json.load(response).get("value")
        if not value:
            raise RuntimeError("the GitHub OIDC token endpoint answered without a token (is `id-token: write` set?)")
        return value

    return fetch
