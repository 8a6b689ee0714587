"""`python bench/run.py`: every benchmark of issue #6, side by side in one run; prints a table, writes results.json.

- program scale: the stack program offline under the SDK's mocks (`components.offline.synth`, no engine, no provider) with 1,
  10, 100 and 500 copies of the dev image, one subprocess per size (honest peak RSS): wall time of the program run and
  peak memory; and, as its reference line, the SDK alone registering as many bare resources under the same mocks.
- watch: ARM requests per build and detection delay, our providers vs `begin_run(...).result()` (bench/watch.py).
- concurrency: `run_local` (the real Pulumi CLI on the emulator) of a 12-image stack over that of the 1-image stack
  (same build length).
- no-op update: `run_local` twice with one state directory; builds started (the emulator's count) and templates
  replaced by the second, and the CLI's own `Resources:` summary of it.

The engine's own cost against bare azure-native resources (no-op preview and up, the main job) is bench/engine.py.

`--quick` uses 1/10/50 images for program scale and one watch round (a smoke run, not the published figures).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stacks import project  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
SCALE_SIZES = (1, 10, 100, 500)
CONCURRENCY_PHASE_SECONDS = 1.0
CONCURRENCY_IMAGES = 12


def program_scale(sizes: tuple[int, ...]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for n in sizes:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_child.py"), str(n)], capture_output=True,
                              text=True, check=True, cwd=ROOT)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        out[str(n)] = {"seconds": row["seconds"], "peak_mb": row["peak_mb"], "resources": row["resources"]}
        print(f"  program scale {n:>4} pipelines: {row['seconds']:.2f}s, {row['peak_mb']:.0f} MB peak, "
              f"{row['resources']} resources", file=sys.stderr, flush=True)
    return out


def sdk_floor(resources: int) -> dict:
    """The Pulumi SDK's own time for as many bare resources as the 100-pipeline stack registers (reference line)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_child.py"), "--floor", str(resources)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  SDK floor: {resources} bare resources in {row['seconds']:.2f}s", file=sys.stderr, flush=True)
    return row


def _local(proj: Path, *, phase_seconds: float, state_dir: Path | None = None) -> tuple[float, str]:
    """Seconds of one `run_local` (`pulumi up` on a fresh emulator), and the CLI's output."""
    from components.local import run_local

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = run_local("bench", project_dir=proj, as_json=True, stdout=out, stderr=err, phase_seconds=phase_seconds,
                     state_dir=state_dir)
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"local run failed ({code}):\n{err.getvalue()[-2000:]}")
    outputs = json.loads(out.getvalue())
    assert all(o["runState"] == "Succeeded" for o in outputs.values()), outputs
    return seconds, err.getvalue()


def concurrency(tmp: Path) -> dict:
    one, _ = _local(project(tmp / "one", 1), phase_seconds=CONCURRENCY_PHASE_SECONDS)
    many, _ = _local(project(tmp / "many", CONCURRENCY_IMAGES), phase_seconds=CONCURRENCY_PHASE_SECONDS)
    print(f"  concurrency: 1 image {one:.1f}s, {CONCURRENCY_IMAGES} images {many:.1f}s", file=sys.stderr, flush=True)
    return {"phase_seconds": CONCURRENCY_PHASE_SECONDS, "one_image_seconds": round(one, 2),
            "images": CONCURRENCY_IMAGES, "stack_seconds": round(many, 2), "ratio": round(many / one, 3)}


def noop(tmp: Path) -> dict:
    from bench.engine import summary

    proj = project(tmp / "noop", 2)
    state_dir = tmp / "noop-state"
    first, _ = _local(proj, phase_seconds=0.2, state_dir=state_dir)
    runs_before = sum(json.loads((state_dir / "emulator.json").read_text())["runs"].values())
    second, report = _local(proj, phase_seconds=0.2, state_dir=state_dir)
    runs_after = sum(json.loads((state_dir / "emulator.json").read_text())["runs"].values())
    changes = summary(report)  # the CLI's `Resources:` summary of the second `pulumi up`
    replaced = len(re.findall(r"^\s*\+-\s+\S+:VirtualMachineImageTemplate \S+ replaced\b", report, re.M))
    print(f"  no-op update: first run {first:.1f}s, second {second:.1f}s, {changes}", file=sys.stderr, flush=True)
    return {"builds": runs_after - runs_before, "replacements": replaced,
            "unchanged_resources": changes.get("unchanged", 0), "changes": changes,
            "first_seconds": round(first, 2), "second_seconds": round(second, 2)}


def table(results: dict) -> str:
    lines = ["| figure | value | goal |", "|---|---|---|"]
    scale = results["program_scale"]
    for n, row in scale.items():
        lines.append(f"| program scale (SDK mocks, no engine), {n} pipelines ({row['resources']} resources) | "
                     f"{row['seconds']:.2f} s, "
                     f"{row['peak_mb']:.0f} MB peak | {'< 3 s' if n == '100' else ''} |")
    if "100" in scale and "500" in scale:
        lines.append(f"| program scale, time(500) / time(100) | {scale['500']['seconds'] / scale['100']['seconds']:.2f}"
                     f" | <= 5.5 |")
    f = results["sdk_floor"]
    lines.append(f"| reference: the SDK alone, {f['resources']} bare resources, same mocks | {f['seconds']:.2f} s | |")
    w = results["watch_detail"]
    lines.append(f"| watch: requests per build, ours / plain | {w['ours_requests']:.1f} / {w['plain_requests']:.1f} = "
                 f"{results['watch']['requests_ratio']:.3f} | <= 1.1 |")
    lines.append(f"| watch: detection delay, ours / plain | {w['ours_delay_s']:.3f} s / {w['plain_delay_s']:.3f} s = "
                 f"{results['watch']['delay_ratio']:.3f} | <= 1.0 |")
    lines.append(f"| watch: polling | both every {w['ours_poll_seconds']} s, phases of {w['phase_seconds']} s, "
                 f"{w['builds_each']} builds each | |")
    c = results["concurrency_detail"]
    lines.append(f"| concurrency (real CLI): {c['images']} images / 1 image | {c['stack_seconds']:.1f} s / "
                 f"{c['one_image_seconds']:.1f} s = {results['concurrency_ratio']:.3f} | <= 1.3 |")
    n = results["noop"]
    lines.append(f"| no-op update (real CLI): builds started, templates replaced | {n['builds']}, {n['replacements']} "
                 f"| 0, 0 |")
    lines.append(f"| no-op update (real CLI): the CLI's summary | {n['changes']} | only `unchanged` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one watch round (smoke run)")
    parser.add_argument("-o", "--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    from bench import watch

    started = time.monotonic()
    results: dict = {}
    results["program_scale"] = program_scale((1, 10, 50) if args.quick else SCALE_SIZES)
    largest_at_most_100 = max(int(n) for n in results["program_scale"] if int(n) <= 100)
    results["sdk_floor"] = sdk_floor(results["program_scale"][str(largest_at_most_100)]["resources"])
    detail = watch.measure(rounds=1 if args.quick else 2)
    print(f"  watch: {detail}", file=sys.stderr, flush=True)
    results["watch"] = {"requests_ratio": detail["requests_ratio"], "delay_ratio": detail["delay_ratio"]}
    results["watch_detail"] = detail
    with tempfile.TemporaryDirectory(prefix="aib-bench-") as tmp:
        c = concurrency(Path(tmp))
        results["concurrency_ratio"] = c["ratio"]
        results["concurrency_detail"] = c
        results["noop"] = noop(Path(tmp))
    results["machine"] = {"cpus": __import__("os").cpu_count(), "python": sys.version.split()[0],
                          "load_average": list(__import__("os").getloadavg()),
                          "total_seconds": round(time.monotonic() - started, 1)}
    text = table(results)
    print(text)
    Path(args.output).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"\nwritten to {args.output} in {results['machine']['total_seconds']:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
