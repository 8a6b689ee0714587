"""`components.providers.pulumi_fixes`: the SDK's dynamic-provider pickler nests one more `_batch_setitems` wrapper on
every `serialize_provider` call (upstream reproduction: docs/upstream/pulumi-serialize-provider-batch-setitems.md);
with the fix the depth stays at one and the pickled bytes are those of a first, unpatched serialization.

Each case runs in a fresh interpreter: the SDK's patch is process-global (and this process has the fix installed by
whichever test imported the build resources first), so only a new process shows the SDK alone, in a known order.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

# Shared by the scripts below: how many SDK wrappers sit on the pure-Python pickler's `_batch_setitems`, and one
# serialization of a provider carrying a dict whose keys are out of order (so the sorting is exercised).
PRELUDE = """
import json, pickle, sys
import pulumi.dynamic.dynamic as dynamic

def depth():
    fn, n = pickle._Pickler._batch_setitems, 0
    while fn.__qualname__ != "_Pickler._batch_setitems":
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        fn, n = cells["unsorted_batch_setitems"].cell_contents, n + 1
    return n

def serialize():
    provider = dynamic.ResourceProvider()
    provider.labels = {"zeta": 1, "alpha": {"y": 2, "b": 3}, "mid": 4}
    return dynamic.serialize_provider(provider)  # looked up at call time, as `Resource.__init__` does
"""


def _run(body: str) -> dict:
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _first_unpatched_serialization() -> str:
    return _run("""
        blob = serialize()
        print(json.dumps({"blob": blob, "depth": depth()}))
    """)["blob"]


def test_without_the_fix_each_serialization_nests_one_more_wrapper_until_pickling_fails():
    """The SDK defect itself. When this fails, the SDK has fixed it: `pulumi_fixes` (and this file) can go."""
    out = _run("""
        assert "components.providers.pulumi_fixes" not in sys.modules
        depths, failed_at = [], None
        for i in range(1, 1501):
            try:
                serialize()
            except RecursionError:
                failed_at = i
                break
            if i <= 50:
                depths.append(depth())
        print(json.dumps({"depths": depths, "failed_at": failed_at}))
    """)
    assert out["depths"] == list(range(1, 51)), "one more nested wrapper per serialization"
    assert out["failed_at"] is not None and out["failed_at"] < 1500, out["failed_at"]


def test_with_the_fix_the_depth_stays_one_and_the_bytes_are_a_first_serialization():
    first = _first_unpatched_serialization()
    out = _run("""
        import components.providers.build_run  # what the program imports: it installs the fix
        assert "components.providers.pulumi_fixes" in sys.modules
        blobs, depths = set(), set()
        for _ in range(1500):  # past where the SDK alone fails with RecursionError
            blobs.add(serialize())
            depths.add(depth())
        print(json.dumps({"blobs": sorted(blobs), "depths": sorted(depths)}))
    """)
    assert out["depths"] == [1]
    assert out["blobs"] == [first]
    raw = base64.b64decode(first)
    assert raw.index(b"alpha") < raw.index(b"mid") < raw.index(b"zeta"), "the SDK's sorting still applies"


def test_imported_late_the_fix_keeps_the_depth_it_found():
    """Serializations before the import leave their wrappers (the fix keeps the method it finds), but no more grow."""
    first = _first_unpatched_serialization()
    out = _run("""
        for _ in range(3):
            serialize()
        import components.providers.pulumi_fixes
        import importlib
        importlib.reload(components.providers.pulumi_fixes)  # installs once, whatever imports it again
        blobs, depths = set(), set()
        for _ in range(200):
            blobs.add(serialize())
            depths.add(depth())
        print(json.dumps({"blobs": sorted(blobs), "depths": sorted(depths)}))
    """)
    assert out["depths"] == [4]
    assert out["blobs"] == [first]
