"""The emulator's own value formats (components/emulator/formats.py, from the service's documents) and the
project's (components/model/formats.py) are written apart; they must still agree, or one of them misreads the docs."""

from __future__ import annotations

import pytest

from components.emulator import formats as emulator
from components.model import formats as project

DURATIONS = ["5m", "2h", "1h30m", "0", "1.5h", "300ms", "-5m", "", "5", "5 m", "five", "5M", "1d"]
CHECKSUMS = ["", "a" * 64, "A" * 64, "a" * 63, "g" * 64, "a" * 65]
VERSIONS = ["/sharedGalleries/abc-123/images/img/versions/1.0.0", "/SharedGalleries/a/Images/i/Versions/latest",
            "/sharedGalleries/a/images/i", "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/"
            "images/i/versions/1.0.0"]
MINUTES = [None, 0, 1, 5, 6, 60, 960, 961, -1]


@pytest.mark.parametrize("value", DURATIONS)
def test_restart_timeout(value: str) -> None:
    assert emulator.is_duration(value) == project.is_go_duration(value)


@pytest.mark.parametrize("value", CHECKSUMS)
def test_sha256(value: str) -> None:
    assert emulator.is_sha256(value) == project.is_sha256(value)


@pytest.mark.parametrize("value", VERSIONS)
def test_direct_shared_gallery_version(value: str) -> None:
    assert emulator.is_direct_shared_image_version(value) == project.is_direct_shared_image_version(value)


@pytest.mark.parametrize("minutes", MINUTES)
def test_build_timeout(minutes) -> None:
    assert (emulator.build_timeout_problem(minutes) is None) == (project.build_timeout_problem(minutes) is None)
    if minutes in (1, 5, 961):
        assert emulator.build_timeout_problem(minutes) == f"must be 0 or between 6 and 960, but {minutes} was given"
