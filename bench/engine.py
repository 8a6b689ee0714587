"""`python bench/engine.py`: what the component costs under the real Pulumi CLI; prints a table, writes results-engine.json.

- no-op preview and no-op up, for 1, 10 and 30 images: a project of N dev images (`bench.stacks.project`) against a
  baseline project declaring as many bare azure-native resources (one resource group, then user-assigned identities)
  as the component project has custom resources in its `pulumi stack export`. Each project is deployed once with
  `pulumi up`, then `pulumi preview` and `pulumi up --yes` (with its preview, as CI runs it) are timed, the two projects
  alternating, median of 3 each. The figure is the ratio component / baseline, measured in the same process.
  Every command is what `scripts/pulumi.sh` runs (`python -m components.local.engine ...`: the CLI, its language host,
  the azure-native stand-in, the dynamic-provider host), each project on an emulator of its own in this process, so a
  run's fixed cost (CLI start, plugin start) is in both sides of the ratio.
- the main job: `bash scripts/local.sh` (dev stack) twice with a fresh `AIB_LOCAL_STATE_DIR`: cold (background cloud
  started, stack created, everything deployed and built) then warm (a no-op update), after `scripts/bootstrap.sh`.

`--sizes 1,10` runs fewer sizes; `--repeats N` changes the number of timed runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stacks import project  # noqa: E402

RESULTS = ROOT / "bench" / "results-engine.json"
SIZES = (1, 10, 30, 60)
REPEATS = 3
STACK = "bench"
PHASE_SECONDS = 0.2
PREVIEW = ("preview", "--non-interactive")
UP = ("up", "--yes", "--non-interactive")

BASELINE_MAIN = '''\
"""The baseline: COUNT bare azure-native resources, no component (one resource group, identities in it)."""
import pulumi
from pulumi_azure_native import managedidentity, resources

count = int(pulumi.Config().require("count"))
group = resources.ResourceGroup("rg", resource_group_name="rg-baseline", location="westeurope")
for i in range(count - 1):
    managedidentity.UserAssignedIdentity(f"id-{i:04d}", resource_group_name=group.name, resource_name_=f"id-{i:04d}",
                                         location="westeurope")
'''


SAME_MAIN = '''\
"""The component stack's own azure-native resources, declared bare from its state (resources.json): the same types,
inputs and dependencies, through the same generated classes, without the component, its dynamic resources, its
adoption lookups or its config model. Its state is the component stack's, moved over (`same_state`), so its first
command is already a no-op."""
import importlib
import json

import pulumi
from pulumi import _types


def plain(value):
    """State values as inputs: a secret (`pulumi stack export --show-secrets`) stays a secret."""
    if isinstance(value, dict) and "plaintext" in value and len(value) == 2:
        return pulumi.Output.secret(plain(json.loads(value["plaintext"])))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def arguments(module, type_name, inputs):
    """The class's keyword arguments for the state's top-level inputs (nested values keep their wire names, which the
    SDK sends as they are)."""
    py_names = {wire: py for py, wire in _types.input_type_py_to_pulumi_names(getattr(module, type_name + "Args")).items()}
    return {("resource_name_" if py_names[k] == "resource_name" else py_names[k]): plain(v) for k, v in inputs.items()}


declared = {}
for r in json.load(open("resources.json")):  # in state order: what a resource depends on comes before it
    _, module_name, type_name = r["type"].split(":")
    module = importlib.import_module("pulumi_azure_native." + module_name)
    declared[r["urn"]] = getattr(module, type_name)(
        r["name"], pulumi.ResourceOptions(depends_on=[declared[u] for u in r["dependsOn"]]),
        **arguments(module, type_name, r["inputs"]))
'''
"""How a program declares the same resources without the component: each through its generated class (which adds its
type aliases and provider version, as in the component), with the state's inputs."""


SAME_PROJECT = "bench-same"


def same_state(export: dict[str, Any], stack: str = STACK) -> dict[str, Any]:
    """The component stack's state (`stack export --show-secrets`) as the bare project's: its azure-native resources
    and their providers, each at the URN `SAME_MAIN` declares it with, parented to the stack, depending on the
    azure-native resources it depended on (directly, or through dynamic resources and components). Secrets stay in
    the export's plaintext form; `stack import` encrypts them with the export's own secrets provider (every local stack
    has the same passphrase). Resources on an explicit provider keep it."""
    deployment = export["deployment"]
    resources = deployment.get("resources") or []
    by_urn = {r["urn"]: r for r in resources}
    native = [r for r in resources if r.get("custom") and r["type"].startswith("azure-native:")]
    new_urn: dict[str, str] = {}
    seen_names: dict[str, int] = {}
    for r in native:
        name = r["urn"].split("::")[-1]
        seen_names[name] = seen_names.get(name, 0) + 1
        unique = name if seen_names[name] == 1 else f"{name}-{seen_names[name]}"
        new_urn[r["urn"]] = f"urn:pulumi:{stack}::{SAME_PROJECT}::{r['type']}::{unique}"
    providers = [r for r in resources if r["type"] == "pulumi:providers:azure-native"]
    for r in providers:
        new_urn[r["urn"]] = f"urn:pulumi:{stack}::{SAME_PROJECT}::{r['type']}::{r['urn'].split('::')[-1]}"
    root = f"urn:pulumi:{stack}::{SAME_PROJECT}::pulumi:pulumi:Stack::{SAME_PROJECT}-{stack}"
    native_urns = {r["urn"] for r in native}

    def native_deps(urn: str, seen: set[str]) -> set[str]:
        out: set[str] = set()
        r = by_urn.get(urn) or {}
        for dep in [*(r.get("dependencies") or []), *([r["parent"]] if r.get("parent") else [])]:
            if dep not in seen:
                seen.add(dep)
                out |= {dep} if dep in native_urns else native_deps(dep, seen)
        return out

    def moved(r: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in r.items() if k not in ("parent", "dependencies", "propertyDependencies", "aliases")}
        out["urn"] = new_urn[r["urn"]]
        if r["type"].startswith("azure-native:"):
            out["parent"] = root
            out["dependencies"] = sorted(new_urn[d] for d in native_deps(r["urn"], {r["urn"]}))
            provider_urn, _, provider_id = (r.get("provider") or "").rpartition("::")
            out["provider"] = f"{new_urn[provider_urn]}::{provider_id}"
        return out

    stack_resource = {"urn": root, "custom": False, "type": "pulumi:pulumi:Stack"}
    moved_deployment = {k: v for k, v in deployment.items() if k != "resources"}
    moved_deployment["resources"] = [stack_resource, *(moved(r) for r in providers), *(moved(r) for r in native)]
    return {**export, "deployment": moved_deployment}


def same_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """What `SAME_MAIN` declares: each azure-native resource of `state` (from `same_state`) with the inputs and
    dependencies the state holds, so a preview or up finds nothing to do."""
    return [{"urn": r["urn"], "type": r["type"], "name": r["urn"].split("::")[-1],
             "inputs": {k: v for k, v in (r.get("inputs") or {}).items() if k != "azureApiVersion"},  # Check adds it
             "dependsOn": r.get("dependencies") or []}
            for r in state["deployment"]["resources"] if r["type"].startswith("azure-native:")]


def same_project(folder: Path, state: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: {SAME_PROJECT}\nruntime:\n  name: python\n")
    (folder / "__main__.py").write_text(SAME_MAIN)
    (folder / "resources.json").write_text(json.dumps(same_resources(state)))
    (folder / "state.json").write_text(json.dumps(state))
    return folder


def baseline_project(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text("name: bench-baseline\nruntime:\n  name: python\n")
    (folder / "__main__.py").write_text(BASELINE_MAIN)
    (folder / f"Pulumi.{STACK}.yaml").write_text(f"config:\n  bench-baseline:count: \"{count}\"\n")
    return folder


def summary(text: str) -> dict[str, int]:
    """The CLI's `Resources:` summary, by word: {'created': 42} or {'unchanged': 44}."""
    at = text.rfind("\nResources:")
    out: dict[str, int] = {}
    if at < 0:
        return out
    for line in text[at:].splitlines()[1:]:
        if not line.strip():
            break
        for count, word in re.findall(r"(\d+) (\w+)", line):  # `7 changes. 35 unchanged` shares a line
            out[word] = int(count)
    return out


def custom_resources(export: dict[str, Any]) -> int:
    """The custom resources of a `stack export`, providers left out."""
    return sum(1 for r in export["deployment"].get("resources") or []
               if r.get("custom") and not r["type"].startswith("pulumi:providers:"))


class Deployment:
    """One project on an emulator of its own (and Azurite when the stack uploads repository files), state kept in
    `state`; `run(*args)` is `scripts/pulumi.sh ARGS --stack bench` against it."""

    def __init__(self, proj: Path, state: Path, resources: ExitStack, *, cloud_of: Optional["Deployment"] = None
                 ) -> None:
        from components.emulator import Emulator
        from components.local.azurite import Azurite
        from components.local.cloud import provider_timing
        from components.local.run import check_stack

        self.project = proj
        state.mkdir(parents=True, exist_ok=True)
        if cloud_of is not None:  # its emulator, where what this project declares already exists; a backend of its own
            self.env = {**cloud_of.env, "AIB_LOCAL_STATE_DIR": str(state)}
            return
        accounts = check_stack(proj, STACK)
        azurite = resources.enter_context(Azurite(accounts, location=str(state / "azurite"))) if accounts else None
        emulator = resources.enter_context(Emulator(
            phase_seconds=PHASE_SECONDS, state_file=str(state / "emulator.json"),
            blob_endpoint=azurite.endpoint if azurite else None, blob_account_key=azurite.key if azurite else None))
        self.env = {**os.environ, **emulator.client_env(), **provider_timing(PHASE_SECONDS),
                    "AIB_LOCAL_STATE_DIR": str(state)}

    def run(self, *args: str) -> tuple[float, str]:
        from components.local.run import engine_command

        started = time.perf_counter()
        done = subprocess.run(engine_command(*args, "--stack", STACK), cwd=self.project, env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} in {self.project} exited {done.returncode}:\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        return seconds, done.stdout + done.stderr

    def export(self) -> dict[str, Any]:
        _, text = self.run("stack", "export", "--show-secrets")
        return json.loads(text[text.index("{"):])

    def custom_resources(self) -> int:
        return custom_resources(self.export())


def noop(deployment: Deployment, args: tuple[str, ...]) -> float:
    seconds, text = deployment.run(*args)
    words = summary(text)
    if set(words) != {"unchanged"}:
        raise RuntimeError(f"not a no-op: pulumi {' '.join(args)} in {deployment.project}: {words}\n{text[-3000:]}")
    return seconds


SIDES = ("component", "baseline", "same")
"""The component project; as many bare resources (identities); the component's own azure-native resources, bare."""


def measure_size(n: int, tmp: Path, repeats: int) -> dict[str, Any]:
    with ExitStack() as resources:
        component = Deployment(project(tmp / f"component-{n}" / "project", n, stack=STACK),
                               tmp / f"component-{n}" / "state", resources)
        first_component, text = component.run(*UP)
        export = component.export()
        count = custom_resources(export)
        baseline = Deployment(baseline_project(tmp / f"baseline-{n}" / "project", count),
                              tmp / f"baseline-{n}" / "state", resources)
        first_baseline, _ = baseline.run(*UP)
        assert baseline.custom_resources() == count
        same = Deployment(same_project(tmp / f"same-{n}" / "project", same_state(export)), tmp / f"same-{n}" / "state",
                          resources, cloud_of=component)
        same.run("stack", "init")
        same.run("stack", "import", "--file", "state.json")
        same_count = len(json.loads((same.project / "resources.json").read_text()))
        deployments = {"component": component, "baseline": baseline, "same": same}
        timings: dict[str, list[float]] = {f"{verb}_{side}": [] for verb in ("preview", "up") for side in SIDES}
        for verb, args in (("preview", PREVIEW), ("up", UP)):
            for _ in range(repeats):  # alternating, so drift in the machine's load hits every side alike
                for side in SIDES:
                    timings[f"{verb}_{side}"].append(noop(deployments[side], args))
    med = {k: statistics.median(v) for k, v in timings.items()}

    def spread(verb: str, side: str) -> list[float]:
        # each timed component run over the run of `side` next to it: how far one pair strays from the median
        pairs = [c / b for c, b in zip(timings[f"{verb}_component"], timings[f"{verb}_{side}"])]
        return [round(min(pairs), 3), round(max(pairs), 3)]

    row = {"images": n, "resources": count, "same_resources": same_count,
           "component_resources_total": sum(summary(text).values()),
           "first_up_component_s": round(first_component, 2), "first_up_baseline_s": round(first_baseline, 2),
           **{f"{k}_s": round(v, 2) for k, v in med.items()},
           "preview_ratio": round(med["preview_component"] / med["preview_baseline"], 3),
           "up_ratio": round(med["up_component"] / med["up_baseline"], 3),
           "preview_ratio_same": round(med["preview_component"] / med["preview_same"], 3),
           "up_ratio_same": round(med["up_component"] / med["up_same"], 3),
           "samples": {k: [round(x, 2) for x in v] for k, v in timings.items()},
           "ratio_spread": {verb: spread(verb, "baseline") for verb in ("preview", "up")},
           "ratio_spread_same": {verb: spread(verb, "same") for verb in ("preview", "up")},
           "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    print(f"  {n:>2} images ({count} resources, {same_count} azure-native): no-op preview "
          f"{med['preview_component']:.1f}s vs {med['preview_baseline']:.1f}s = {row['preview_ratio']:.2f} "
          f"(same resources {med['preview_same']:.1f}s = {row['preview_ratio_same']:.2f}); no-op up "
          f"{med['up_component']:.1f}s vs {med['up_baseline']:.1f}s = {row['up_ratio']:.2f} (same resources "
          f"{med['up_same']:.1f}s = {row['up_ratio_same']:.2f}); first up {first_component:.1f}s vs "
          f"{first_baseline:.1f}s", file=sys.stderr, flush=True)
    return row


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths if p.exists())).hexdigest()


def main_job(tmp: Path) -> dict[str, Any]:
    """`bash scripts/local.sh` twice on a fresh state folder: cold, then warm (a no-op update)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap.sh")], check=True, capture_output=True)
    state = tmp / "main-job"
    env = {**os.environ, "AIB_LOCAL_STATE_DIR": str(state)}
    watched = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
    before = _digest(watched)
    out: dict[str, Any] = {}
    try:
        for label in ("cold", "warm"):
            started = time.perf_counter()
            done = subprocess.run(["bash", str(ROOT / "scripts" / "local.sh")], cwd=ROOT, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"scripts/local.sh ({label}) exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                                   f"{done.stderr[-3000:]}")
            out[f"{label}_s"] = round(seconds, 2)
            out[f"{label}_summary"] = summary(done.stdout + done.stderr)
            print(f"  scripts/local.sh {label}: {seconds:.1f}s {out[f'{label}_summary']}", file=sys.stderr, flush=True)
    finally:
        subprocess.run([sys.executable, "-m", "components.local.cloud", "stop", "--dir", str(state / "cloud")],
                       cwd=ROOT, capture_output=True)
    out["stack_files_untouched"] = _digest(watched) == before
    return out


def _source() -> dict[str, Any]:
    """The commit measured and whether components/ or __main__.py differed from it (other work in the tree)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return {"commit": commit or None,
            "uncommitted": bool(git("status", "--porcelain", "--", "components", "__main__.py")) if commit else None}


def table(results: dict[str, Any]) -> str:
    lines = ["| images | resources (azure-native) | no-op preview: component / identities; / same resources | "
             "no-op up: component / identities; / same resources | first up: component / identities |",
             "|---|---|---|---|---|"]
    for row in results["sizes"]:
        cells = []
        for verb in ("preview", "up"):
            cell = (f"{row[f'{verb}_component_s']:.1f} s / {row[f'{verb}_baseline_s']:.1f} s = "
                    f"**{row[f'{verb}_ratio']:.2f}**")
            if f"{verb}_same_s" in row:
                cell += f"; / {row[f'{verb}_same_s']:.1f} s = **{row[f'{verb}_ratio_same']:.2f}**"
            cells.append(cell)
        lines.append(f"| {row['images']} | {row['resources']} ({row.get('same_resources', '?')}) | {cells[0]} | "
                     f"{cells[1]} | {row['first_up_component_s']:.1f} s / {row['first_up_baseline_s']:.1f} s |")
    job = results.get("main_job")
    if job:
        lines += ["", "| main job (`bash scripts/local.sh`, dev stack, after bootstrap) | wall time |", "|---|---|",
                  f"| cold (fresh state folder: cloud started, stack created, deployed and built) | {job['cold_s']:.1f} s |",
                  f"| warm (the same folder again: a no-op update) | {job['warm_s']:.1f} s |"]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-main-job", action="store_true", help="skip timing scripts/local.sh")
    parser.add_argument("-o", "--output", default=str(RESULTS))
    parser.add_argument("--label", default="", help="recorded as `label` (e.g. which tree was measured)")
    parser.add_argument("--table", action="store_true", help="print the table of the results file, measure nothing")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(Path(args.output).read_text())))
        return 0
    started = time.monotonic()
    results: dict[str, Any] = {"sizes": [], "label": args.label, "source": _source()}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="aib-bench-engine-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            results["sizes"].append(measure_size(n, Path(tmp), args.repeats))
        if not args.no_main_job:
            results["main_job"] = main_job(Path(tmp))
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "load_average": list(os.getloadavg()), "load_average_before": load_before,
                          "repeats": args.repeats,
                          "total_seconds": round(time.monotonic() - started, 1)}
    print(table(results))
    Path(args.output).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"\nwritten to {args.output} in {results['machine']['total_seconds']:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
