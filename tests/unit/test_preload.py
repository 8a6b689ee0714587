"""`components.declare.preload`: the azure-native modules a stack declares from are loaded on a thread while the
program waits for its first answer, so the program finds them loaded when the wait is over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys, threading, time
import pulumi_azure_native as package
from components.declare.preload import DECLARED_FROM, loading

def lazy():
    return sorted(m for m in DECLARED_FROM if type(getattr(package, m)).__name__ == "_LazyModule")

before = lazy()
with loading():
    during = threading.enumerate()  # the loading has just begun (it takes a quarter of a second)
    time.sleep(float(sys.argv[1]))  # the program blocked in its first invoke
after = lazy()
print(json.dumps({"before": before, "after": after, "threads": [t.name for t in during]}))
"""


def _probe(wait: float) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(wait)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def test_the_modules_are_loaded_on_a_thread_while_the_block_waits():
    seen = _probe(3.0)
    assert seen["before"] == sorted(["compute", "storage", "virtualmachineimages", "managedidentity", "resources"])
    assert "aib-preload" in seen["threads"]
    assert seen["after"] == [], "every module is loaded when the block ends"


def test_a_block_that_ends_at_once_still_finds_them_loaded_after_it():
    assert _probe(0.0)["after"] == []  # joined, not abandoned
