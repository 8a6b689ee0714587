"""Thin factory for the Azure SDK clients the build and lifecycle providers use.

This module owns the three decisions every caller would otherwise repeat: which ARM endpoint to talk to (an explicit
argument, else env ``AIB_ARM_ENDPOINT`` for the local emulator, else the cloud chosen by azure-core settings, so
sovereign clouds work through ``AZURE_SDK_CLOUD_CONF``), which credential to use (a static bearer token from env
``AIB_ARM_TOKEN`` for the emulator, else the ``components.providers.credentials`` chain), and how patient the HTTP pipeline is (azure-core's
``RetryPolicy`` already retries 408/429/5xx, honours ``Retry-After`` and retries dropped connections for idempotent
methods; we only tune its budget for hours-long builds). Clients are built inside each provider method (the dynamic
provider is pickled and runs in another process); the Azure credential is the process's own
(``credentials.shared_credential``: one token cache per provider process, filled on first use, never pickled). Tokens
are never logged, never part of a ``repr`` and never returned to callers as plain data.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Optional

from azure.core.credentials import AccessToken, AccessTokenInfo

ENV_ENDPOINT = "AIB_ARM_ENDPOINT"
ENV_TOKEN = "AIB_ARM_TOKEN"
ENV_CA_BUNDLE = "AIB_ARM_CA_BUNDLE"
ENV_POLL_SECONDS = "AIB_POLL_SECONDS"

# Azure itself asks clients to poll AIB every 15-30 s; polling faster only burns ARM read quota (12k reads/hour).
DEFAULT_POLL_SECONDS = 20.0

# azure-core's defaults (10 tries, backoff 0.8 s capped at 120 s) give up within a few minutes. A build lasts hours, so a
# short ARM outage must not fail it; these settings ride out roughly 10 minutes of throttling or 5xx.
RETRY_SETTINGS: dict[str, Any] = {
    "retry_total": 12,
    "retry_connect": 8,
    "retry_read": 8,
    "retry_status": 12,
    "retry_backoff_factor": 1.0,
    "retry_backoff_max": 90,
}

#: For calls that hold one of the dynamic-provider host's four threads while the engine waits on them (check, diff,
#: read): one quick retry and short socket timeouts, so an ARM outage fails them in seconds rather than minutes.
QUICK_SETTINGS: dict[str, Any] = {
    "retry_total": 1,
    "retry_backoff_factor": 0.5,
    "retry_backoff_max": 2,
    "connection_timeout": 10,
    "read_timeout": 20,
}


class StaticTokenCredential:
    """A ``TokenCredential`` that always returns one bearer token (the local emulator's).

    The token is kept in a private attribute and left out of ``repr``, so it cannot leak into logs or tracebacks.
    """

    def __init__(self, token: str, *, lifetime_seconds: int = 3600) -> None:
        self.__token = token
        self._lifetime = lifetime_seconds

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.__token, int(time.time()) + self._lifetime)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self.__token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        pass

    def __enter__(self) -> "StaticTokenCredential":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def resolve_endpoint(endpoint: Optional[str] = None) -> Optional[str]:
    """The ARM base URL without a trailing slash: ``endpoint``, else env ``AIB_ARM_ENDPOINT``, else None.

    None means "let the SDK pick the cloud from azure-core settings" (public cloud by default).
    """
    chosen = endpoint or os.environ.get(ENV_ENDPOINT) or None
    return chosen.rstrip("/") if chosen else None


def resolve_poll_seconds(poll_seconds: Optional[float] = None) -> float:
    """Seconds between status polls: ``poll_seconds``, else env ``AIB_POLL_SECONDS``, else 20."""
    if poll_seconds is not None:
        return float(poll_seconds)
    from_env = os.environ.get(ENV_POLL_SECONDS)
    return float(from_env) if from_env else DEFAULT_POLL_SECONDS


def connection_verify() -> Any:
    """``connection_verify`` for azure-core transports: the emulator's CA bundle when env ``AIB_ARM_CA_BUNDLE`` is set."""
    return os.environ.get(ENV_CA_BUNDLE) or True


def arm_credential(endpoint: Optional[str] = None) -> Any:
    """The credential for ARM (and for reading build logs): static token from env ``AIB_ARM_TOKEN``, else the chain
    of ``components.providers.credentials`` (azure-native's ``ARM_*`` settings: GitHub OIDC, client secret, managed identity;
    then ``DefaultAzureCredential``), one per process and settings (``shared_credential``): callers must not close it.

    ``endpoint`` is accepted so a caller can pass what it resolved; the choice does not depend on it today.
    """
    token = os.environ.get(ENV_TOKEN)
    if token:
        return StaticTokenCredential(token)
    from components.providers.credentials import shared_credential

    return shared_credential()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts of the local ARM emulator: an endpoint on one of them is a local run, never Azure."""


def is_loopback(endpoint: Optional[str]) -> bool:
    from urllib.parse import urlparse

    return urlparse(endpoint or "").hostname in LOOPBACK_HOSTS


def template_client(props: Any, *, quick: bool = False) -> Any:
    """An ``ImageBuilderClient`` for a dynamic resource's inputs (``subscription_id``, ``api_version``,
    ``arm_endpoint``); ``quick``: see :data:`QUICK_SETTINGS`."""
    return image_builder_client(props["subscription_id"], api_version=props["api_version"],
                                endpoint=props.get("arm_endpoint"), **(QUICK_SETTINGS if quick else {}))


def image_builder_client(
    subscription_id: str,
    *,
    api_version: str,
    endpoint: Optional[str] = None,
    credential: Any = None,
    poll_seconds: Optional[float] = None,
    **kwargs: Any,
) -> Any:
    """An ``ImageBuilderClient`` for one subscription, pinned to ``api_version``.

    ``endpoint``: ARM base URL; default env ``AIB_ARM_ENDPOINT``, else the cloud from azure-core settings.
    ``credential``: default :func:`arm_credential`. ``poll_seconds``: LRO polling interval; default
    :func:`resolve_poll_seconds`. Extra ``kwargs`` go to the client (and override :data:`RETRY_SETTINGS`).
    """
    from azure.mgmt.imagebuilder import ImageBuilderClient

    base_url, options = _mgmt_options(endpoint, poll_seconds, api_version=api_version, **kwargs)
    return ImageBuilderClient(credential or arm_credential(base_url), subscription_id, **options)


def compute_client(
    subscription_id: str,
    *,
    api_version: Optional[str] = None,
    endpoint: Optional[str] = None,
    credential: Any = None,
    poll_seconds: Optional[float] = None,
    **kwargs: Any,
) -> Any:
    """A ``ComputeManagementClient`` (galleries and image versions) for one subscription, set up like
    :func:`image_builder_client`: same endpoint, credential, CA bundle, retries and polling interval.

    ``api_version``: default None, the SDK's own Compute api-version.
    """
    from azure.mgmt.compute import ComputeManagementClient

    extra = {"api_version": api_version} if api_version else {}
    base_url, options = _mgmt_options(endpoint, poll_seconds, **extra, **kwargs)
    return ComputeManagementClient(credential or arm_credential(base_url), subscription_id, **options)


def resource_client(subscription_id: str, *, endpoint: Optional[str] = None, credential: Any = None,
                    poll_seconds: Optional[float] = None, **kwargs: Any) -> Any:
    """A ``ResourceManagementClient`` (generic resources, providers) set up like :func:`compute_client`."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    base_url, options = _mgmt_options(endpoint, poll_seconds, **kwargs)
    return ResourceManagementClient(credential or arm_credential(base_url), subscription_id, **options)


def management_endpoint(endpoint: Optional[str] = None) -> str:
    """The ARM endpoint clients here talk to (the emulator's when AIB_ARM_ENDPOINT is set), without a trailing /."""
    base_url, _ = _mgmt_options(endpoint, None)
    return (base_url or "https://management.azure.com").rstrip("/")


def _mgmt_options(endpoint: Optional[str], poll_seconds: Optional[float], **kwargs: Any
                  ) -> tuple[Optional[str], dict[str, Any]]:
    """(resolved base URL, client options) shared by every ARM management client built here."""
    base_url = resolve_endpoint(endpoint)
    options: dict[str, Any] = dict(RETRY_SETTINGS)
    options.update(
        polling_interval=resolve_poll_seconds(poll_seconds),
        connection_verify=connection_verify(),
    )
    if base_url:
        # A custom endpoint (emulator, proxy, Azure Stack) issues tokens for its own audience.
        options["base_url"] = base_url
        options["credential_scopes"] = [base_url + "/.default"]
    options.update(kwargs)
    return base_url, options


def blob_url_for_endpoint(blob_url: str, endpoint: Optional[str] = None) -> str:
    """Where to fetch a build-log blob from.

    On Azure this is the URL the service reported. Against the local emulator (static-token mode, env
    ``AIB_ARM_TOKEN``) ``<acct>.blob.core.windows.net`` is not reachable; the emulator serves the same paths itself,
    so only scheme and host are rewritten to the ARM endpoint.
    """
    base = resolve_endpoint(endpoint)
    if not base or not os.environ.get(ENV_TOKEN):
        return blob_url
    return _BLOB_HOST.sub(base, blob_url)


_BLOB_HOST = re.compile(r"^https://[a-z0-9]+\.blob\.core\.windows\.net", re.I)
STORAGE_SCOPE = "https://storage.azure.com/.default"
# OAuth on blob reads needs x-ms-version 2017-11-09 or later.
STORAGE_API_VERSION = "2021-08-06"


def read_blob_tail(blob_url: str, *, lines: int = 20, endpoint: Optional[str] = None, credential: Any = None,
                   max_bytes: int = 64 * 1024) -> list[str]:
    """The last ``lines`` lines of a text blob (the AIB ``customization.log``), read with the ARM credential.

    A plain Blob REST read through an azure-core pipeline (bearer token for Storage, retries), so no storage SDK is
    needed: HEAD for the size, then a ranged GET of the last ``max_bytes`` (packer logs reach tens of MB); when HEAD
    is not answered, one GET. Raises ``HttpResponseError`` when the blob is missing or the caller may not read it
    (needs 'Storage Blob Data Reader'); callers turn that into a hint.
    """
    from azure.core import PipelineClient
    from azure.core.pipeline import policies
    from azure.core.rest import HttpRequest

    url = blob_url_for_endpoint(blob_url, endpoint)
    cred = credential or arm_credential(endpoint)
    pipeline_policies = [
        policies.HeadersPolicy({"x-ms-version": STORAGE_API_VERSION}),
        policies.RetryPolicy(retry_total=3, retry_backoff_factor=0.5),
        policies.BearerTokenCredentialPolicy(cred, STORAGE_SCOPE),
    ]
    with PipelineClient(base_url=url, policies=pipeline_policies, connection_verify=connection_verify()) as client:
        head = client.send_request(HttpRequest("HEAD", url))
        size = int(head.headers.get("Content-Length") or 0) if head.status_code == 200 else 0
        headers = {"x-ms-range": f"bytes={size - max_bytes}-{size - 1}"} if size > max_bytes else {}
        response = client.send_request(HttpRequest("GET", url, headers=headers))
        response.raise_for_status()
        data = response.content
    text = data.decode("utf-8", errors="replace")
    tail = text.splitlines()
    if headers and tail:
        tail = tail[1:]  # the first line is probably cut
    return tail[-lines:]
