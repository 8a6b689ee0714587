"""Pin the remote scripts and files of imported AIB templates: `import-arm --pin` downloads each URI once and writes
its `sha256Checksum`, so the policy pack's `aib-pinned-downloads` (and the build VM) check what runs.

Acts on AIB template dicts (the `template` of each imported image). A download that fails (offline, 404) leaves
its step unpinned with a notice naming the step and the reason; nothing here raises for the network.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from typing import Callable, Iterator, Optional

from components.model.customizers import FileCustomizer, ScriptStep
from components.model.errors import join_path

#: The download key of each step type that downloads.
DOWNLOAD_KEYS = {"Shell": "scriptUri", "PowerShell": "scriptUri", "File": "sourceUri"}
#: The step field another change adds for a deliberate opt-out of pinning (written when the models have it).
OPT_OUT_FIELD = "checksumOptOut"
DOWNLOAD_TIMEOUT_SECONDS = 30

Fetch = Callable[[str], bytes]


def fetch_url(uri: str) -> bytes:
    with urllib.request.urlopen(uri, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310 - https URIs only
        return response.read()


def download_steps(template: dict) -> Iterator[tuple[str, dict, str]]:
    """(path, step, key) of every customizer and in-VM validator that downloads a URI and has no checksum."""
    props = template.get("properties") or {}
    validate = props.get("validate")
    validate = validate if isinstance(validate, dict) else {}
    for section, steps in (("customize", props.get("customize")),
                           ("validate.inVMValidations", validate.get("inVMValidations"))):
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            key = DOWNLOAD_KEYS.get(str(step.get("type"))) if isinstance(step, dict) else None
            if key and step.get(key) and not step.get("sha256Checksum"):
                yield f"properties.{section}[{i}]", step, key


class Pinner:
    """Downloads each URI once per import (templates share scripts) and pins or reports every unpinned step."""

    def __init__(self, fetch: Optional[Fetch] = None, *, pin: bool = True) -> None:
        self.fetch = fetch or fetch_url
        self.pin = pin
        self._digests: dict[str, str | Exception] = {}

    def digest(self, uri: str) -> str | Exception:
        if uri not in self._digests:
            try:
                self._digests[uri] = hashlib.sha256(self.fetch(uri)).hexdigest()
            except (OSError, ValueError, urllib.error.URLError) as exc:
                self._digests[uri] = exc
        return self._digests[uri]

    def apply(self, template: dict, path: str) -> list[tuple[str, str]]:
        """Pin (or, without `pin`, report) every unpinned download of `template`; (path, message) per step."""
        return [(join_path(path, at), self._one(step, key)) for at, step, key in list(download_steps(template))]

    def _one(self, step: dict, key: str) -> str:
        uri = step[key]
        if not self.pin:
            return _unpinned(step, f"{key} {uri!r} has no sha256Checksum: the policy pack (aib-pinned-downloads) "
                                   "refuses it (hint: import-arm --pin writes it)")
        digest = self.digest(uri)
        if isinstance(digest, Exception):
            return _unpinned(step, f"could not download {uri!r} to pin it ({_reason(digest)}); left without "
                                   "sha256Checksum (hint: run import-arm --pin where it is reachable)")
        step["sha256Checksum"] = digest
        return f"pinned: sha256Checksum {digest} of {uri!r} as downloaded now (review the file before trusting it)"


def _unpinned(step: dict, message: str) -> str:
    """A step left unpinned carries the explicit opt-out when the models know that field."""
    if opt_out_supported(str(step.get("type"))):
        step[OPT_OUT_FIELD] = "imported unpinned by import-arm; pin it or state why not"
        return f"{message}; marked {OPT_OUT_FIELD}"
    return message


def opt_out_supported(step_type: str) -> bool:
    """Whether the step model of `step_type` has the opt-out field (so writing it keeps the output valid)."""
    model = FileCustomizer if step_type == "File" else ScriptStep
    return any((f.alias or name) == OPT_OUT_FIELD for name, f in model.model_fields.items())


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason)[:160]
