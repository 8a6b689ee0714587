"""The project as an installable package: `components` imports from any folder (the dynamic-provider host runs in the
program's folder, and `PYTHONSAFEPATH=1` drops the script folder from sys.path), examples/platform consumes it as a
dependency, every module imports without side effects, and the hash-locked requirements follow pyproject.toml.

The import checks run the venv's interpreter in a subprocess: this test session already has `components` imported
and the repository root on sys.path, which is exactly what must not be relied on.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "platform"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"


def _python() -> str:
    """The project's venv interpreter (what Pulumi runs), else this one."""
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def _isolated_env() -> dict[str, str]:
    """This environment without anything that would put the repository on sys.path, and with PYTHONSAFEPATH=1."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONSAFEPATH"] = "1"
    return env


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_python(), "-c", code], cwd=cwd, env=_isolated_env(), capture_output=True, text=True,
                          timeout=240)


# --- imports from anywhere -------------------------------------------------------------------------------------------

_WHERE = """
import json, sys
import components, components.providers.build_run.provider, components.providers.lifecycle.provider, components.providers.script_blob
print(json.dumps({"file": components.__file__, "version": components.__version__,
                  "cwd_on_path": any(p in ("", ".") for p in sys.path)}))
"""


@pytest.mark.parametrize("where", ["tmp", "example"])
def test_components_imports_from_an_unrelated_folder_with_safe_path(where):
    # `tmp`: any folder at all (Automation API work_dir, `pulumi destroy` elsewhere); `example`: the folder the
    # dynamic-provider host of examples/platform runs in, where the old sys.path insert was the only way in.
    cwd = Path(tempfile.gettempdir()) if where == "tmp" else EXAMPLE
    result = _run(_WHERE, cwd)
    assert result.returncode == 0, (
        f"`import components` failed from {cwd} with PYTHONSAFEPATH=1 (run `bash scripts/bootstrap.sh`, which installs "
        f"the project editable):\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["cwd_on_path"] is False
    assert Path(found["file"]).resolve() == ROOT / "components" / "__init__.py"
    assert found["version"] == PYPROJECT["project"]["version"]


# --- examples/platform consumes the package ------------------------------------------------------------------------

def _sys_path_uses(tree: ast.AST) -> list[str]:
    """`sys.path`, `site.addsitedir`, `PYTHONPATH` and `importlib` path tricks anywhere in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("sys", "path"), ("site", "addsitedir"), ("sys", "meta_path")}:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            found.append(f"line {node.lineno}: from sys import path")
        if isinstance(node, ast.Constant) and node.value == "PYTHONPATH":
            found.append(f"line {node.lineno}: PYTHONPATH")
    return found


def test_platform_example_does_not_touch_sys_path():
    sources = sorted(EXAMPLE.rglob("*.py"))
    assert sources, "examples/platform has no Python files"
    for path in sources:
        uses = _sys_path_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        assert not uses, f"{path.relative_to(ROOT)} manipulates the import path: {uses}"


def test_platform_example_names_the_package_as_a_dependency_and_uses_the_project_venv():
    lines = [ln.split("#", 1)[0].strip() for ln in (EXAMPLE / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    editable = [ln.split(None, 1)[1] for ln in lines if ln.startswith(("-e ", "--editable "))]
    named = [ln for ln in lines if not ln.startswith("-") and canonicalize_name(Requirement(ln).name) == "aib-images"]
    # Pulumi runs pip from the project folder, so a relative path resolves from examples/platform.
    assert named or [p for p in editable if (EXAMPLE / p).resolve() == ROOT], lines
    options = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert (EXAMPLE / options["virtualenv"]).resolve() == (ROOT / ".venv").resolve()
    assert options.get("toolchain", "pip") == "pip"  # the toolchain that installs requirements.txt


# --- every module imports without side effects ---------------------------------------------------------------------

_IMPORT_ALL = r"""
import gc, io, json, logging, os, pkgutil, signal, sys, threading, importlib, contextlib
before = {
    "cwd_files": sorted(os.listdir(".")), "threads": threading.active_count(), "sys_path": list(sys.path),
    "environ": dict(os.environ), "gc": gc.isenabled(), "excepthook": repr(sys.excepthook),
    "signals": {s: repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)},
    "root_handlers": len(logging.getLogger().handlers),
    "meta_path": len(sys.meta_path) + 1,  # the one documented effect: components.moved's finder of old module names
}
out, err = io.StringIO(), io.StringIO()
names, failures = [], {}
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    import components
    for info in pkgutil.walk_packages(components.__path__, "components."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # entry points: running is what they are for
        try:
            importlib.import_module(info.name)
            names.append(info.name)
        except BaseException as exc:  # noqa: BLE001 (SystemExit included: a module must not exit on import)
            failures[info.name] = f"{type(exc).__name__}: {exc}"
after = {
    "cwd_files": sorted(os.listdir(".")), "threads": threading.active_count(), "sys_path": list(sys.path),
    "environ": dict(os.environ), "gc": gc.isenabled(), "excepthook": repr(sys.excepthook),
    "signals": {s: repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)},
    "root_handlers": len(logging.getLogger().handlers), "meta_path": len(sys.meta_path),
}
changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
if "environ" in changed:
    changed["environ"] = sorted(set(before["environ"].items()) ^ set(after["environ"].items()))
print(json.dumps({"modules": names, "failures": failures, "changed": changed,
                  "stdout": out.getvalue(), "stderr": err.getvalue()}))
"""


def test_every_module_imports_without_side_effects(tmp_path):
    result = _run(_IMPORT_ALL, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failures"], report["failures"]
    assert {"components.declare.pipeline", "components.providers.build_run.provider", "components.ops.cli"} <= set(report["modules"])
    assert not report["changed"], f"importing components changed process state: {report['changed']}"
    assert report["stdout"] == "" and report["stderr"] == "", (report["stdout"], report["stderr"])
    assert list(tmp_path.iterdir()) == [], "importing components wrote files into the working directory"


# --- package data --------------------------------------------------------------------------------------------------

def test_package_data_covers_every_non_python_file_of_the_package():
    # A wheel (a released version a platform team installs) carries only .py files and these globs; code that finds a
    # file through Path(__file__) breaks there when it is missing.
    package = ROOT / "components"
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["components"]
    covered = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    files = {p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix not in (".py", ".pyc", ".pyi")}
    missing = sorted(str(p.relative_to(ROOT)) for p in files - covered)
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


# --- version -------------------------------------------------------------------------------------------------------

def test_version_is_semantic_and_matches_pyproject_and_the_changelog():
    import components

    version = PYPROJECT["project"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", version), version
    assert components.__version__ == version, (
        "the installed metadata is stale: run `bash scripts/bootstrap.sh` (pyproject.toml changed)")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(version)}\]", changelog, re.M), f"CHANGELOG.md has no section for {version}"


# --- locks ---------------------------------------------------------------------------------------------------------

def _pins(lock: Path) -> list[tuple[str, Version, Marker | None, int]]:
    """(name, version, marker, number of hashes) of every requirement of a `--generate-hashes` lock."""
    pins = []
    for entry in re.split(r"\n(?=\S)", lock.read_text(encoding="utf-8")):
        first = entry.split("\\", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        req = Requirement(first)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{lock.name}: {first!r} is not pinned"
        pins.append((canonicalize_name(req.name), Version(spec.version), req.marker, entry.count("--hash=sha256:")))
    return pins


def _declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"]) + list(PYPROJECT["dependency-groups"]["bootstrap"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


LOCKS = {RUNTIME_LOCK: (), DEV_LOCK: ("local", "test")}


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_lock_pins_every_declared_dependency_within_its_range(lock):
    pins = _pins(lock)
    assert all(hashes for *_, hashes in pins), f"{lock.name}: every pin needs its hashes (--generate-hashes)"
    by_name: dict[str, list[Version]] = {}
    for name, version, _, _ in pins:
        by_name.setdefault(name, []).append(version)
    problems = []
    for req in _declared(*LOCKS[lock]):
        versions = by_name.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{req} is missing")
        elif not all(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req} is pinned to {', '.join(map(str, versions))}")
    assert not problems, f"{lock.name} is out of step with pyproject.toml; regenerate it " \
                         f"(the command is at its top): {problems}"


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_lock_header_names_the_command_that_made_it(lock):
    head = lock.read_text(encoding="utf-8").split("\n", 3)[:2]
    command = head[1].lstrip("# ").split()
    assert command[:3] == ["uv", "pip", "compile"] and "pyproject.toml" in command, head
    assert {"--universal", "--generate-hashes"} <= set(command)
    assert command[command.index("-o") + 1] == lock.name
    assert command[command.index("--group") + 1] == "bootstrap"
    extras = [command[i + 1] for i, arg in enumerate(command) if arg == "--extra"]
    assert sorted(extras) == sorted(LOCKS[lock])
    floor = re.fullmatch(r">=(\d+\.\d+)", PYPROJECT["project"]["requires-python"])
    assert floor and command[command.index("--python-version") + 1] == floor.group(1)


def test_runtime_lock_agrees_with_the_dev_lock():
    # Installing the dev lock over a runtime install (or the other way round) must not move any version.
    dev = {(name, str(marker)): version for name, version, marker, _ in _pins(DEV_LOCK)}
    differ = [f"{name} {version} vs {dev.get((name, str(marker)))}" for name, version, marker, _ in _pins(RUNTIME_LOCK)
              if dev.get((name, str(marker))) != version]
    assert not differ, f"requirements.lock and requirements-dev.lock disagree (regenerate both): {differ}"


def test_build_backend_is_locked_for_the_offline_editable_install():
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    group = {canonicalize_name(r.name): r for r in _declared()}
    for req in build:
        assert canonicalize_name(req.name) in group, f"add {req} to [dependency-groups] bootstrap"
        assert group[canonicalize_name(req.name)].specifier == req.specifier, (req, group[canonicalize_name(req.name)])
