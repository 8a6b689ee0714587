"""Old state keeps working after modules moved: Pulumi pickles dynamic providers by reference, so a checkpoint written
before the layered layout names `components.role_settle`, `components.build_run.provider` and so on.

`tests/fixtures/old-state/providers-69d38b0.json` holds the `__provider` of every dynamic resource type, taken from a
real checkpoint (`bash scripts/local.sh`, then `pulumi stack export`, at commit 69d38b0, the last before the move) and,
for the two types that stack has none of, from the SDK's own `serialize_provider` at that commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.moved import MOVED

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((ROOT / "tests/fixtures/old-state/providers-69d38b0.json").read_text())["providers"]

# Run as the provider host does: a fresh interpreter whose first import of `components` is the unpickling itself.
# The host's `get_provider` (pulumi/dynamic/__main__.py, SDK 3.272) is `dill.loads(base64.b64decode(__provider))`.
_LOAD = """
import base64, sys
import dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
cls = type(provider)
print(cls.__module__ + "." + cls.__qualname__)
"""


@pytest.mark.parametrize("kind", sorted(RECORDED))
def test_a_provider_recorded_before_the_move_loads_as_the_moved_class(kind):
    blob = RECORDED[kind]
    loaded = subprocess.run([sys.executable, "-c", _LOAD, blob], capture_output=True, text=True, cwd="/")
    assert loaded.returncode == 0, loaded.stderr
    module = loaded.stdout.strip().rsplit(".", 1)[0]
    assert module in MOVED.values() and module.startswith("components.providers.")


def test_an_old_name_is_the_same_module_not_a_second_copy():
    import components.providers.role_settle as new
    import components.role_settle as old  # type: ignore[import-not-found]  (resolved by components.moved)

    assert old is new and old.RoleSettleProvider is new.RoleSettleProvider


def test_every_old_name_resolves_and_no_entry_shadows_a_real_module():
    import importlib
    import importlib.util

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new)
    # `components.plan` is a real package now; an alias must never hide one
    assert not any(importlib.util.find_spec(old).origin == importlib.util.find_spec(new).origin and old == new
                   for old, new in MOVED.items())
    assert "components.plan" not in MOVED
