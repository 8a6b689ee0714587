"""The one exception the build provider raises, and the texts it carries.

The dynamic-provider host turns any exception into a gRPC error that carries the whole traceback, and the engine prints
it. So every failure the user can act on is a :class:`BuildError` whose ``str`` is complete on its own (template, phase,
service message, log location and log tail), raised without chained causes so the traceback stays short, and the same
text is also written as a progress line so it is readable above the traceback.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from components.providers.errors import ProviderError

#: The service's text when the template identity's role assignments have not reached AIB yet (or are missing).
AUTH_TEXT = "Not authorized to access the resource"

#: What the next ``pulumi up`` does after a run that ended without success (``ImageBuildStartProvider.diff`` makes it
#: true: it sees the template's last run ended so and replaces the start, which starts a new run).
REBUILD_HINT = ("Run `pulumi up` again: it sees that this run ended {state} and starts a new build of the same "
                "template (fix the cause first if it was not transient).")

_LOG_URL = re.compile(r"https://\S+?/customization\.log")


def redact_log(lines: Iterable[str]) -> list[str]:
    """Log lines with SAS tokens redacted (``components.model.redact.redact_lines``)."""
    return list(_redact().redact_lines(list(lines)))


def _redact() -> Any:
    """``components.model.redact``, imported when an error is made: importing it runs ``components.model``'s
    ``__init__``, which builds every pydantic model of the spec (about 0.2 s of the provider process's start, on
    every ``pulumi`` command, though the providers only need its two regex functions, and only on errors)."""
    from components.model import redact

    return redact


class BuildError(ProviderError):
    """A build could not be started, failed, was canceled, or must not be deleted; ``str`` is the full explanation,
    with SAS tokens redacted (service messages and logs quote script URLs)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(_redact().redact_text(str(message)))


class TemplateNotFound(BuildError):
    """The image template does not exist (fatal for create; for delete it means there is nothing left to do)."""


def log_url_from_message(message: Optional[str]) -> Optional[str]:
    """The ``customization.log`` URL AIB puts into failure messages ("Image Build log location: <url>")."""
    match = _LOG_URL.search(message or "")
    return match.group(0) if match else None


def blob_host(url: str) -> str:
    """`scheme://host[:port]` of a blob URL, lower-case."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_log_problem(url: str, staging_blob_endpoints: Iterable[str]) -> Optional[str]:
    """Why the log at `url` must not be fetched (it is not on a storage account of the run's staging resource group),
    or None. The URL comes from the service's message; reading it with the deployment's credential sends a Storage
    token to its host, so only the staging storage account's own blob endpoint is trusted."""
    allowed = {blob_host(endpoint) for endpoint in staging_blob_endpoints}
    if blob_host(url) in allowed:
        return None
    return (f"the log URL's host {urlsplit(url).netloc!r} is not the blob endpoint of a storage account in the "
            "template's staging resource group, so it was not fetched")


def log_location_hint(staging_resource_group: Optional[str]) -> str:
    """Where the log lives when the service did not name the URL."""
    where = f"staging resource group '{staging_resource_group}'" if staging_resource_group \
        else "the template's staging resource group (IT_<rg>_<template>_<guid>)"
    return f"customization.log in container 'packerlogs' of the storage account in {where}"


def kept_build_vm_text(phase: str, staging_resource_group: Optional[str]) -> str:
    """What a failure under errorHandling ``abort`` leaves behind, and what removes it. The service keeps the build VM
    (and its disks, network interface and the staging storage account) in the staging resource group instead of
    cleaning up; those resources cost money until the template goes, and deleting the template (destroy, or the template
    change that replaces it) is what cleans them up, the staging resource group included."""
    setting = "onValidationError" if phase == "Validating" else "onCustomizerError"
    where = f"staging resource group '{staging_resource_group}'" if staging_resource_group \
        else "the template's staging resource group"
    return (f"errorHandling.{setting} is 'abort': the build VM was kept for inspection, with its disks, network "
            f"interface and storage account, in {where}. Inspect it there (boot diagnostics, Run Command, serial "
            f"console). It keeps costing until you clean up: `pulumi destroy`, or the next `pulumi up` that changes "
            f"the template, deletes the template and with it that staging resource group; set {setting} back to "
            f"'cleanup' once the cause is found.")


def failure_text(template: str, resource_group: str, phase: Optional[str], elapsed: str, message: str,
                 log_location: str, log_tail: Optional[Iterable[str]], log_problem: Optional[str],
                 state: str = "Failed", kept_vm: Optional[str] = None) -> str:
    """The build error's text; SAS tokens in the message, the log and its location are redacted (`redact`)."""
    lines = [
        f"Image build of template '{template}' (resource group '{resource_group}') failed "
        f"in phase {phase or 'unknown'} ({elapsed}).",
        f"Service message: {message or '(none)'}",
        f"Build log: {log_location}",
    ]
    tail = list(log_tail or [])
    if tail:
        lines.append(f"Last {len(tail)} lines of customization.log:")
        lines.extend("    " + line for line in tail)
    elif log_problem:
        lines.append(f"(The build log could not be read with the deployment's credential: {log_problem}. "
                     f"Grant 'Storage Blob Data Reader' on the staging storage account to see it here.)")
    if kept_vm:
        lines.append(kept_vm)
    lines.append(REBUILD_HINT.format(state=state))
    return "\n".join(_redact().redact_lines(lines))
