"""One program-scale measurement, in its own process (honest peak RSS): `python bench/scale_child.py N`.

Runs the real `__main__.py` offline under `components.offline.synth`'s mocks with N copies of the dev image and prints one JSON
line: {"pipelines", "seconds" (the program run, imports excluded), "peak_mb" (peak RSS of the process), "resources"}.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stacks import project  # noqa: E402
from components.offline.synth import synth  # noqa: E402


def main(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="aib-scale-") as tmp:
        proj = project(Path(tmp), n)
        started = time.perf_counter()
        result = synth("bench", project_dir=proj)
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"pipelines": n, "seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1),
            "resources": len(result["resources"])}


def floor(resources: int) -> dict:
    """The SDK's own cost: `resources` bare identities (no component code) under the same mocks and harness."""
    from pulumi_azure_native import managedidentity

    from components.offline.synth import run_program

    def program() -> None:
        for i in range(resources):
            managedidentity.UserAssignedIdentity(f"id-{i}", resource_group_name="rg", resource_name_=f"id-{i}",
                                                 location="westeurope")

    started = time.perf_counter()
    run_program(program, project="floor", stack="bench", config={})
    return {"resources": resources, "seconds": round(time.perf_counter() - started, 3)}


if __name__ == "__main__":
    if sys.argv[1] == "--floor":
        print(json.dumps(floor(int(sys.argv[2]))))
    else:
        print(json.dumps(main(int(sys.argv[1]))))
