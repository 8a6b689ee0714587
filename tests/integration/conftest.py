"""Fixtures for integration tests: an emulator per test and a real ImageBuilderClient pointed at it."""

from __future__ import annotations

import pytest
from azure.mgmt.imagebuilder import ImageBuilderClient

from components.emulator import Emulator

EMULATOR_SUB = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def emulator():
    """A running TLS emulator with fast phases (0.05 s); stopped after the test."""
    with Emulator(phase_seconds=0.05) as emu:
        yield emu


def _make_client(emu: Emulator, api_version: str | None = None, **kwargs) -> ImageBuilderClient:
    extra = {"api_version": api_version} if api_version else {}
    return ImageBuilderClient(emu.credential(), EMULATOR_SUB, base_url=emu.base_url,
                              credential_scopes=[emu.base_url + "/.default"], connection_verify=emu.ca_bundle,
                              polling_interval=0.05, retry_backoff_factor=0.01, **extra, **kwargs)


@pytest.fixture
def emulator_client(emulator):
    """An ImageBuilderClient (default api-version 2025-10-01) for the `emulator` fixture."""
    with _make_client(emulator) as client:
        yield client
