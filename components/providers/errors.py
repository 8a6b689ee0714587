"""Errors the dynamic providers raise for the user to read, and how the provider host reports them: without a traceback.

The Python dynamic-provider host (`python -m pulumi.dynamic`, SDK 3.272) reports every exception a provider raises as
`traceback.format_exc()` (`_abort_with_traceback` in `pulumi/dynamic/__main__.py`), so a build that failed for a
reason the message explains in full still shows Python frames of our code above it. Importing this module inside that
host gives its `traceback` a stand-in whose `format_exc` returns the message alone for a `ProviderError`, and the usual
traceback for anything else (a bug should still show where it is). Outside the host it changes nothing.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

HOST_MODULE = "pulumi.dynamic.__main__"


class ProviderError(Exception):
    """A failure the message explains to the user (what happened, what to do); reported without a traceback."""


class _MessagesForProviderErrors:
    """`traceback` as the provider host sees it: `format_exc` gives a ProviderError's message only."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(*args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, ProviderError):
            return str(error)
        return traceback.format_exc(*args, **kwargs)


def _install_in_provider_host() -> None:
    host = sys.modules.get("__main__")
    spec = getattr(host, "__spec__", None)
    if host is not None and getattr(spec, "name", None) == HOST_MODULE and hasattr(host, "traceback"):
        setattr(host, "traceback", _MessagesForProviderErrors())
        from components.providers.parent_watch import exit_with_parent

        exit_with_parent()  # the host does not outlive a killed CLI (it would hold a build thread for hours)


_install_in_provider_host()
