"""Every verb of `python -m components` on bad input files and without Azure credentials: one error line naming the
place, exit 2 (1 where the README documents it), never a Python traceback (issue 24).

The verbs and their options come from `build_parser()`, so a new verb is covered as soon as it is registered: each
option that takes a file, a stack, an output path or a port gets the bad values below, and a verb none of whose
options this table knows fails `test_every_verb_has_bad_input_cases` until a case is added here.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator
from unittest import mock

import pytest

from components.ops.cli import Env, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
TRACEBACK = "Traceback (most recent call last)"

# Content of each bad file; the stack verbs read the same content as stacks/Pulumi.<name>.yaml of a scratch project.
BAD_FILES = {
    "not-yaml": "config:\n  aib-images:images: [unclosed\n  : }\n",
    "not-json": "{\"type\": \"Microsoft.VirtualMachineImages/imageTemplates\", \n",
    "empty": "",
    "wrong-type": "config:\n  aib-images:location: westeurope\n  aib-images:images: 42\n",
    "missing": None,
}
# What the stack verbs are given for each case: the wrong-type stack file is also a list where a mapping belongs.
SUFFIX = {"not-yaml": ".yaml", "not-json": ".json", "empty": ".yaml", "wrong-type": ".yaml", "missing": ".json"}


def _verbs() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each argument of a verb by its long name (positionals by their dest)."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        long = [o for o in action.option_strings if o.startswith("--")]
        found[long[0] if long else action.dest] = action
    return found


def _clean_env(home: Path | None = None) -> dict[str, str]:
    """The environment without Azure credentials: no ARM_*/AZURE_* settings, and an empty Azure CLI profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARM_", "AZURE_", "AIB_ARM_"))}
    if home is not None:
        env["AZURE_CONFIG_DIR"] = str(home)
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch project: the real Pulumi.yaml, one stack file per bad case, and the bad files themselves."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "stacks").mkdir()
    (root / "bad").mkdir()
    for case, text in BAD_FILES.items():
        if text is not None:
            (root / "stacks" / f"Pulumi.{case}.yaml").write_text(text)
            (root / "bad" / f"{case}{SUFFIX[case]}").write_text(text)
    return root


def _cases(verb: str, parser: argparse.ArgumentParser, project: Path) -> Iterator[tuple[str, list[str]]]:
    """(case name, argv) for every bad input the verb's arguments can be given."""
    options = _options(parser)
    required = [o for o, a in options.items() if a.required and o.startswith("--") and o != "--stack"]
    assert not required, f"{verb}: required option(s) {required} this test does not know how to fill"
    for case in BAD_FILES:
        bad = str(project / "bad" / f"{case}{SUFFIX[case]}")
        if "path" in options:
            yield f"path={case}", [verb, bad]
        if "--stack" in options:
            yield f"--stack={case}", [verb, "--stack", case]
        if "--parameters" in options:
            good = str(ROOT / "tests" / "fixtures" / "templates")
            template = next(Path(good).glob("*.json"), None)
            if template is not None:
                yield f"--parameters={case}", [verb, str(template), "--parameters", bad]
    if "--output" in options:
        target = str(project / "no-such-dir" / "out.txt")
        args = [verb, str(ROOT / "stacks" / "Pulumi.dev.yaml")] if "path" in options else [verb]
        if "--stack" in options and "path" not in options:
            args += ["--stack", "dev"]
        yield "--output=unwritable", args + ["--output", target]
    if "--port" in options:
        yield "--port=70000", [verb, "--port", "70000"]
        yield "--port=-1", [verb, "--port", "-1"]
    if "--state-dir" in options:
        yield "--state-dir=a-file", [verb, "--stack", "wrong-type", "--state-dir", str(project / "Pulumi.yaml")]
    if "--subscription" in options and "--stack" in options:
        yield "--subscription=notaguid", [verb, "--stack", "dev", "--subscription", "notaguid"]
    if "--image" in options and "--stack" in options:
        yield "--image=nosuch", [verb, "--stack", "dev", "--image", "nosuch"]


def _all_cases(project: Path) -> list[tuple[str, str, list[str]]]:
    return [(verb, case, argv) for verb, parser in _verbs().items() for case, argv in _cases(verb, parser, project)]


def _run(argv: list[str], project_dir: Path) -> tuple[int, str, str]:
    """`main` in process, with ARM_*/AZURE_* cleared; an exception escaping it is what would print a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, _clean_env(), clear=True):
        try:
            code = main(argv, Env(stdout=out, stderr=err, project_dir=project_dir))
        except SystemExit as exc:  # argparse's own refusals: exit 2 with a usage line
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - the test's point: report any escape as the traceback it would be
            return -1, out.getvalue(), f"{TRACEBACK}\n{type(exc).__name__}: {exc}\n{err.getvalue()}"
    return code, out.getvalue(), err.getvalue()


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


def test_every_verb_has_bad_input_cases(project):
    covered = {verb for verb, _, _ in _all_cases(project)}
    assert covered == set(_verbs()), f"verbs without a bad-input case: {sorted(set(_verbs()) - covered)}"


def test_every_verb_refuses_bad_input_in_one_line(project):
    failures = []
    for verb, case, argv in _all_cases(project):
        cwd_project = ROOT if case.startswith(("--output", "--subscription", "--image")) else project
        code, out, err = _run(argv, cwd_project)
        errors = _error_lines(err)
        problem = None
        if TRACEBACK in out or TRACEBACK in err:
            problem = "traceback"
        elif code not in (1, 2):
            problem = f"exit {code}"
        elif not errors:
            problem = "no error line"
        elif len(errors) > 1 and "problem" not in errors[0]:
            problem = "several error lines"
        if problem:
            failures.append(f"{verb} {case}: {problem}: exit {code}\n    stderr: {err.strip()[-600:]}")
    assert not failures, "\n".join(failures)


# Good input for every verb, in the real project, without credentials. `local` and `emulator` are left out: the one
# runs the local cloud (the e2e tests run it, with no Azure credentials either), the other serves until interrupted.
NOT_RUN = {"local", "emulator"}
# Exit 1 with one line where the README documents it: the verbs that read Azure need credentials.
NEEDS_AZURE = {"diagnose", "preflight"}


def _good(verb: str, tmp: Path) -> list[str]:
    template = next((ROOT / "tests" / "fixtures" / "templates").glob("*.json"))
    return {
        "validate": ["validate", str(ROOT / "stacks" / "Pulumi.dev.yaml")],
        "import-arm": ["import-arm", str(template), "-o", str(tmp / "imported.yaml")],
        "render": ["render", "--stack", "dev"],
        "synth": ["synth", "--stack", "dev"],
        "schema": ["schema", "-o", str(tmp / "schema.json")],
        "docs": ["docs", "-o", str(tmp / "docs.md")],
        "bump-trigger": ["bump-trigger", "--stack", "dev", "--dry-run"],
        "diagnose": ["diagnose", "--stack", "dev"],
        "preflight": ["preflight", "--stack", "prod"],
        "admin-roles": ["admin-roles", "--stack", "dev"],
    }[verb]


@pytest.mark.parametrize("verb", sorted(set(_verbs()) - NOT_RUN))
def test_every_verb_without_azure_credentials(verb, tmp_path):
    """A verb that needs no Azure works without credentials; diagnose and preflight say in one line what to set
    (`diagnose --stack dev` printed the credential chain's traceback)."""
    argv = _good(verb, tmp_path)  # a KeyError here: a new verb needs its good input above
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, _clean_env(tmp_path), clear=True):
        code = main(argv, Env(stdout=out, stderr=err, project_dir=ROOT))
    errors = _error_lines(err.getvalue())
    if verb in NEEDS_AZURE:
        assert code == 1 and len(errors) == 1 and out.getvalue() == "", (code, err.getvalue())
        assert "no Azure credentials for subscription 00000000-0000-0000-0000-000000000000: run `az login`" in \
            errors[0] and "--local" in errors[0]
    else:
        assert code == 0 and not errors, err.getvalue()


@pytest.mark.parametrize("verb", sorted(_verbs()))
def test_the_entry_point_prints_no_traceback(verb, project, tmp_path):
    """The real `python -m components` process, on the verb's first bad input (a stack verb reads the project's own
    stacks, so its bad stack is a missing one; the in-process test above gives it bad contents), and diagnose without
    credentials."""
    argv = next(argv for _, argv in _cases(verb, _verbs()[verb], project))
    if verb == "diagnose":
        argv = ["diagnose", "--stack", "dev"]
    done = subprocess.run([sys.executable, "-m", "components", *argv], cwd=ROOT, env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert TRACEBACK not in done.stdout + done.stderr, done.stderr
    assert done.returncode in (1, 2) and _error_lines(done.stderr), (done.returncode, done.stderr)
    if verb == "diagnose":  # nothing but the one line: the credential chain's own warnings stay quiet
        assert done.stderr.strip().startswith("components: error: no Azure credentials")
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
