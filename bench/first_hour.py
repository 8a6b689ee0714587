"""The README's first-hour figures, measured on this machine: what a newcomer meets on a fresh clone.

    .venv/bin/python bench/first_hour.py [--keep] [--out bench/results-first-hour.json]

Steps, each timed, in a fresh `git clone` of this repository's HEAD in a temporary folder (nothing of this checkout's
`.venv` or `.local` is reused; the machine's pip, npm and Go caches are, so it is a clone on a machine that has
built the project before: "warm caches"):

1. `bash scripts/bootstrap.sh`: the venv from the hash locks, Azurite, the Pulumi CLI (a `go build` against the warm
   Go build cache; a cold build is much longer, see the README);
2. `bash scripts/bootstrap.sh` again: the warm bootstrap every later command pays;
3. `bash scripts/local.sh`: the first local run of the dev stack (background cloud started, every resource created);
4. `bash scripts/local.sh` again: the no-op update.

Resources created and unchanged are read from Pulumi's own summary. The machine's load (1-minute load average,
sampled every 2 s during each step) and its processors are recorded with the figures, because the machine may be
shared: a figure without its load says little. Results go to stdout and to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results-first-hour.json"
_DURATION = re.compile(r"^Duration: (\d+)s$", re.M)
_BUILT = re.compile(r"^bootstrap: built \S+ in (\d+) s$", re.M)
_SUMMARY = re.compile(r"^\s*\+?\s*(\d+) (created|unchanged|updated|replaced|deleted)\s*$", re.M)


class LoadSampler:
    """The 1-minute load average every `period` seconds while a step runs."""

    def __init__(self, period: float = 2.0) -> None:
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.period):
                return

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        s = self.samples or [os.getloadavg()[0]]
        return {"mean": round(sum(s) / len(s), 2), "max": round(max(s), 2)}


def step(name: str, argv: list[str], cwd: Path, log_dir: Path) -> dict[str, Any]:
    """Run one step, its output to `log_dir/<name>.log`; fail with the log's tail when it fails."""
    print(f"first-hour: {name}: {' '.join(argv)} ...", file=sys.stderr, flush=True)
    log = log_dir / f"{name}.log"
    with LoadSampler() as load, log.open("w") as out:
        start = time.monotonic()
        done = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
        seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        tail = "\n".join(text.splitlines()[-30:])
        raise SystemExit(f"first-hour: {name} failed (exit {done.returncode}); the end of {log}:\n{tail}")
    result: dict[str, Any] = {"seconds": round(seconds, 3), "load1": load.summary()}
    counts = {kind: int(n) for n, kind in _SUMMARY.findall(text)}
    if counts:
        result["resources"] = counts
    if durations := _DURATION.findall(text):  # Pulumi's own figure: the update alone, without cloud and CLI start
        result["pulumi_duration_seconds"] = int(durations[-1])
    if built := _BUILT.findall(text):
        result["pulumi_cli_build_seconds"] = int(built[-1])
    print(f"first-hour: {name}: {seconds:.2f} s (load {result['load1']['mean']}){_counts(counts)}",
          file=sys.stderr, flush=True)
    return result


def _counts(counts: dict[str, int]) -> str:
    return "; " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) if counts else ""


def machine() -> dict[str, Any]:
    return {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_count": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(), "python": platform.python_version()}


def measure(workdir: Path) -> dict[str, Any]:
    clone = workdir / "aib-images"
    logs = workdir / "logs"
    logs.mkdir()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    env_note = {k: os.environ[k] for k in ("GOCACHE", "GOMODCACHE", "PIP_CACHE_DIR") if k in os.environ}
    before = machine()
    steps: dict[str, Any] = {}
    try:
        steps["bootstrap_fresh_clone"] = step("bootstrap_fresh_clone", ["bash", "scripts/bootstrap.sh"], clone, logs)
        steps["bootstrap_warm"] = step("bootstrap_warm", ["bash", "scripts/bootstrap.sh"], clone, logs)
        steps["first_local_run"] = step("first_local_run", ["bash", "scripts/local.sh"], clone, logs)
        steps["noop_local_run"] = step("noop_local_run", ["bash", "scripts/local.sh"], clone, logs)
    finally:
        subprocess.run(["bash", "scripts/pulumi.sh", "cloud", "stop"], cwd=clone, capture_output=True)
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit,
            "how": "fresh `git clone` of HEAD; the machine's pip, npm and Go caches warm (the project was built "
                   "here before); nothing of the checkout's .venv or .local reused",
            "machine_before": before, "machine_after": machine(), "cache_env": env_note, "steps": steps}


def report(result: dict[str, Any]) -> str:
    m = result["machine_before"]
    lines = [f"first hour on a fresh clone of {result['commit'][:10]} ({result['when']}), "
             f"{m['nproc']} processors, load average before {m['loadavg']}:"]
    for name, s in result["steps"].items():
        extra = "".join(f"; {label} {s[key]} s" for key, label in (("pulumi_duration_seconds", "Pulumi's Duration"),
                                                                   ("pulumi_cli_build_seconds", "CLI build")) if key in s)
        lines.append(f"  {name:<22} {s['seconds']:>8.2f} s   load1 mean {s['load1']['mean']:.2f} "
                     f"max {s['load1']['max']:.2f}{_counts(s.get('resources') or {})}{extra}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(OUT), help=f"JSON results (default {OUT.relative_to(REPO)})")
    parser.add_argument("--keep", action="store_true", help="keep the clone and the step logs (path printed)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="aib-first-hour-"))
    try:
        result = measure(workdir)
    finally:
        if args.keep:
            print(f"first-hour: clone and logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report(result))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
