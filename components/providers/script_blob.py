"""`ScriptBlob`: one repository file uploaded to a private blob container, as a dynamic resource.

Why not azure-native's `storage.Blob`: it uploads with the account's shared keys (it calls listKeys), and the
storage account the pipeline creates has shared-key access off, which makes that upload fail with
KeyBasedAuthenticationNotPermitted (pulumi/pulumi-azure-native#2015, #2948). This provider uploads with Microsoft Entra
ID instead (the `components.providers.credentials` chain, the deployer's identity, which the pipeline grants Storage Blob Data
Contributor on the container), retrying while that role assignment propagates.

The retry is bounded (`DEFAULT_AUTH_RETRY_SECONDS`, 5 minutes, or the `auth_retry_seconds` input) because `create`
holds one of the provider host's four threads, which every dynamic call of the stack shares: the blobs of one container
wait for the same assignment at the same time, so their waits overlap instead of adding up, and a `pulumi up` after a
slower propagation finds the role in place and uploads at once. `read` (refresh) is one quick HEAD: a blob deleted or
changed outside Pulumi is dropped, so the next `up` uploads it again.

The blob name carries the content hash, so the blob never changes in place: a different file is a different blob
(replace), and `create` refuses a file whose content no longer matches the hash the program computed. The class
path is part of the stack's state (it is pickled by reference), like `build_run.provider`.

Local run: env `AIB_BLOB_ENDPOINT` (an Azurite base URL, path-style `<endpoint>/<account>`) and
`AIB_BLOB_ACCOUNT_KEY` (Azurite's key for every account) replace the public endpoint and Entra ID.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Optional
from urllib.parse import quote

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider
from components.providers.errors import ProviderError

ENV_BLOB_ENDPOINT = "AIB_BLOB_ENDPOINT"
ENV_BLOB_ACCOUNT_KEY = "AIB_BLOB_ACCOUNT_KEY"
REPLACE_KEYS = ("account_name", "container_name", "blob_name", "sha256")
REQUIRED = ("account_name", "container_name", "blob_name", "sha256", "source_path")
DEFAULT_AUTH_RETRY_SECONDS = 300.0
"""Usually enough for a new role assignment to reach the data plane (it can take up to ~10 minutes: see the module)."""
AUTH_RETRY_INTERVAL_SECONDS = 10.0
#: HTTP settings for `read`, which the engine waits on: one quick retry, short timeouts.
QUICK_SETTINGS: dict[str, Any] = {"retry_total": 1, "connection_timeout": 10, "read_timeout": 20}


def account_url(account_name: str, endpoint: Optional[str] = None) -> str:
    """The blob service URL of an account: the public one, or `<endpoint>/<account>` (Azurite's path style)."""
    base = endpoint if endpoint is not None else os.environ.get(ENV_BLOB_ENDPOINT)
    if base:
        return f"{base.rstrip('/')}/{account_name}"
    return f"https://{account_name}.blob.core.windows.net"


def _client(props: dict[str, Any], **options: Any):
    from azure.storage.blob import BlobServiceClient

    key = os.environ.get(ENV_BLOB_ACCOUNT_KEY)
    if key:
        credential: Any = {"account_name": props["account_name"], "account_key": key}
    else:
        from components.providers.credentials import shared_credential

        credential = shared_credential()
    service = BlobServiceClient(account_url(props["account_name"], props.get("blob_endpoint")), credential=credential,
                                **options)
    return service.get_blob_client(props["container_name"], props["blob_name"])


def _content(props: dict[str, Any]) -> bytes:
    """The file's bytes, checked against the hash the program computed (the file may have changed since)."""
    path = props["source_path"]
    if not os.path.isfile(path) and props.get("project_path") and os.path.isfile(props["project_path"]):
        path = props["project_path"]  # state from another checkout: the path relative to the project (the cwd)
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != props["sha256"]:
        raise ProviderError(f"{props.get('project_path') or path}: the file changed while deploying (sha256 {digest}, "
                         f"expected {props['sha256']}); run again")
    return data


def _not_authorized_yet(props: dict[str, Any]) -> str:
    return (f"Upload of {props.get('project_path') or props['blob_name']} to container '{props['container_name']}' "
            f"of storage account '{props['account_name']}' is still refused (403) after "
            f"{float(props.get('auth_retry_seconds') or DEFAULT_AUTH_RETRY_SECONDS):g}s: the deployer's Storage Blob "
            f"Data Contributor assignment has not reached the data plane yet (it can take up to 10 minutes). Run "
            f"`pulumi up` again in a few minutes.")


class ScriptBlobProvider(ResourceProvider):
    """Uploads one file (create), deletes its blob (delete); anything that names another blob is a replacement."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(k, "required") for k in REQUIRED if not news.get(k)]
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        # A moved checkout changes source_path only: same content, nothing to do.
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import ContentSettings

        data = _content(props)
        blob = _client(props)
        deadline = time.monotonic() + float(props.get("auth_retry_seconds") or DEFAULT_AUTH_RETRY_SECONDS)
        while True:
            try:
                blob.upload_blob(data, overwrite=True, content_settings=ContentSettings(
                    content_type="application/octet-stream"))
                break
            except HttpResponseError as exc:
                # 403 right after the role assignment: RBAC has not reached the data plane yet.
                if exc.status_code != 403:
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProviderError(_not_authorized_yet(props)) from None
                time.sleep(min(AUTH_RETRY_INTERVAL_SECONDS, left))
        # The URL the template names (the public form, also in the local run, where the emulator maps it to Azurite).
        url = f"https://{props['account_name']}.blob.core.windows.net/{props['container_name']}/{quote(props['blob_name'])}"
        return CreateResult(url, {**props, "url": url, "size": len(data)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: gone when the blob was deleted, or rewritten with another size, outside Pulumi."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            size = _client(props, **QUICK_SETTINGS).get_blob_properties().size
        except ResourceNotFoundError:
            return ReadResult("", {})
        if props.get("size") is not None and size != props["size"]:
            return ReadResult("", {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            _client(props).delete_blob()
        except ResourceNotFoundError:
            pass


class ScriptBlob(Resource, module="aib", name="ScriptBlob"):
    """One repository file in a blob container. Outputs: `url` (the https blob URL the template names), `size`."""

    url: pulumi.Output[str]
    size: pulumi.Output[int]

    def __init__(self, name: str, *, account_name: pulumi.Input[str], container_name: pulumi.Input[str],
                 blob_name: str, sha256: str, source_path: str, project_path: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {"account_name": account_name, "container_name": container_name, "blob_name": blob_name,
                 "sha256": sha256, "source_path": source_path, "project_path": project_path,
                 "url": None, "size": None}
        super().__init__(ScriptBlobProvider(), name, props, opts)
