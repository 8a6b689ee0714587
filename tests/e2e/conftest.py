"""The `local_stack` fixture: `LocalStack`s (e2e_helpers.py) made in the test's folder, their emulators stopped after."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from components.emulator import Faults
from e2e_helpers import PHASE, LocalStack


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    made: list[LocalStack] = []

    def make(config: dict, *, stack: str = "e2e", faults: Optional[Faults] = None, name: str = "a",
             phase: float = PHASE) -> LocalStack:
        made.append(LocalStack(tmp_path / name, stack, config, faults, phase))
        return made[-1]

    yield make
    for stack in made:
        stack.close()


