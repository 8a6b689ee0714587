"""Value formats the service documents for plain-string and integer fields, as the project's models check them.

The REST spec types these fields as `string`/`int32`; the documented meaning narrows them. The local emulator keeps
its own copy of these rules (`components/emulator/formats.py`, derived from the same documents), so a mistake here
shows up as a disagreement with the emulator instead of being shared by both.
"""

from __future__ import annotations

import re
from typing import Optional

SHA256_PATTERN = r"^([0-9a-fA-F]{64})?$"
"""sha256Checksum: empty (the spec's default "") or the 64 hex characters `sha256sum` prints (seed 003, line 372)."""

# restartTimeout is handed to Packer's windows-restart provisioner, which reads it with Go's time.ParseDuration
# (the service is built on Packer: seed 002; "magnitude and unit, for example 5m or 2h": seed 003, line 421).
# Go's grammar: an optional sign, then "0" or one or more <decimal><unit> with unit ns, us, µs, μs, ms, s, m, h.
_GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")

_DIRECT_SHARED_VERSION = re.compile(r"^/sharedGalleries/[^/]+/images/[^/]+/versions/[^/]+$", re.IGNORECASE)
"""A Direct Shared Gallery image version, which the spec's SharedImageVersion source covers ("... or a Direct
Shared Gallery image version": imagebuilder.json, ImageTemplateSharedImageVersionSource.imageVersionId)."""

MIN_BUILD_MINUTES = 6


def is_go_duration(value: str) -> bool:
    return bool(_GO_DURATION.match(value))


def is_direct_shared_image_version(value: str) -> bool:
    return bool(_DIRECT_SHARED_VERSION.match(value))


def is_sha256(value: str) -> bool:
    return bool(re.match(SHA256_PATTERN, value))


def build_timeout_problem(minutes: Optional[int]) -> Optional[str]:
    """Why the service refuses `buildTimeoutInMinutes`, or None. 0 means the default (240); otherwise 6..960:
    "the minimum supported value is 6 minutes. Using values 1 through 5 will fail" (seed 003, line 304), maximum
    960 (imagebuilder.json, buildTimeoutInMinutes)."""
    if minutes is None or minutes == 0 or MIN_BUILD_MINUTES <= minutes <= 960:
        return None
    return f"must be 0 or between {MIN_BUILD_MINUTES} and 960, but {minutes} was given"
