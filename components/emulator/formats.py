"""Value formats the service documents for fields the REST spec types only as `string`/`int32`: the emulator's own.

The emulator stands for Azure, so these rules come from the service's documentation and the REST definitions, never
from the project it tests (it once imported the project's own format checks, which hid every disagreement).
Sources: the seeds in /work/shared/seeds/ (Microsoft Learn "Create an Azure Image Builder Bicep or ARM template JSON
template", several revisions) and /work/shared/reference/aib-service-api.md (the imagebuilder.json REST definitions).
"""

from __future__ import annotations

import re
from typing import Optional

# sha256Checksum: "To generate the sha256Checksum, using a terminal on Mac/Linux run: sha256sum <fileName>"
# (seed 003, line 374; seed 001, line 392): the 64 hex digits sha256sum prints. Empty is the REST default ("":
# aib-service-api.md §2, Shell/File customizers).
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

# restartTimeout: "Restart timeout specified as a string of magnitude and unit. For example, 5m (5 minutes) or 2h
# (2 hours). The default is: '5m'" (seed 003, line 421). The service runs Packer ("VM Image Builder is built on
# HashiCorp Packer": seed 002, line 12), whose windows-restart provisioner reads the value as a Go duration
# (time.ParseDuration): an optional sign, then "0" or one or more <number><unit>, units ns, us, µs, μs, ms, s, m, h.
_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")

# A SharedImageVersion source "may point to a Direct Shared Gallery" (aib-service-api.md §2.3, from
# imagebuilder.json ImageTemplateSharedImageVersionSource.imageVersionId): /sharedGalleries/<id>/images/<i>/versions/<v>.
_DIRECT_SHARED_VERSION = re.compile(r"^/sharedGalleries/[^/]+/images/[^/]+/versions/[^/]+$", re.IGNORECASE)

# buildTimeoutInMinutes: int32 "minimum 0, maximum 960", 0 meaning 240 (aib-service-api.md §2.2, from imagebuilder.json);
# "If you don't set the value to 0, the minimum supported value is 6 minutes. Using values 1 through 5 will fail."
# (seed 003, line 304; seed 001, line 322).
BUILD_MINUTES_MIN, BUILD_MINUTES_MAX = 6, 960


def is_sha256(value: str) -> bool:
    return value == "" or bool(_SHA256.match(value))


def is_duration(value: str) -> bool:
    return bool(_DURATION.match(value))


def is_direct_shared_image_version(value: str) -> bool:
    return bool(_DIRECT_SHARED_VERSION.match(value))


def build_timeout_problem(minutes: Optional[int]) -> Optional[str]:
    """Why the service refuses `buildTimeoutInMinutes`, or None."""
    if minutes is None or minutes == 0 or BUILD_MINUTES_MIN <= minutes <= BUILD_MINUTES_MAX:
        return None
    return f"must be 0 or between {BUILD_MINUTES_MIN} and {BUILD_MINUTES_MAX}, but {minutes} was given"
