"""`scripts/pulumi.sh ARGS...`: the real Pulumi CLI against the local cloud, as `pulumi ARGS...` runs against Azure.

What it sets up around the CLI, and nothing more:
- the local cloud (`cloud.LocalCloud`, started when not running; or the one in `AIB_ARM_ENDPOINT` when a caller
  runs its own), with the resources the stack says exist (`existing.seed_requests`, kept by `stack_facts`, sent by
  `existing.put_missing`);
- a project-local Pulumi: `PULUMI_HOME` and a file backend under `.local/`, a passphrase secrets provider, no update
  checks and no plugin downloads;
- the plugins that cannot be had here: the azure-native stand-in (`azure_native.py`, found on PATH, never outside a
  local run) and the Python language host (`language_host.py`, given to the CLI with `--client` for the verbs that run
  a Python program, and found on PATH as `pulumi-language-python` for a Python plugin such as package/);
- the stack: `--stack NAME` is created in the local backend when it does not exist yet.

Everything after that is the CLI's own: its progress, diffs, prompts, exit status and state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from components.local.cloud import SUBSCRIPTION, TENANT, LocalCloud, LocalCloudError
from components.local.tools import BIN as TOOLS, REPO

LOCAL = Path(os.environ.get("AIB_LOCAL_STATE_DIR") or REPO / ".local")
"""Where local runs keep their state: the Pulumi home and file backend, and the cloud."""
PLUGINS = Path(__file__).resolve().parent / "plugins"
PASSPHRASE = "aib-images-local"
"""The local backend's passphrase. It protects nothing real: stacks on Azure use a secrets provider of their own."""
PROGRAM_VERBS = {"up", "update", "preview", "pre", "refresh", "destroy", "down", "import"}
"""Verbs that run the program (or may: refresh and destroy load it for their providers), so they get `--client`."""


class LocalEngineError(RuntimeError):
    pass


def pulumi_executable() -> str:
    """The CLI `scripts/bootstrap.sh` built into `.local/bin`, else one on PATH."""
    built = TOOLS / "pulumi"
    if built.exists():
        return str(built)
    found = shutil.which("pulumi")
    if found is None:
        raise LocalEngineError("no Pulumi CLI: run `bash scripts/bootstrap.sh` (it builds one into .local/bin)")
    return found


def cli_environment(cloud_env: Mapping[str, str], *, local: Path = LOCAL, base: Optional[Mapping[str, str]] = None
                    ) -> dict[str, str]:
    """The environment of the CLI and of every plugin and program it starts."""
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith(("ARM_", "AZURE_"))]:
        del env[key]  # nothing of a real Azure login reaches a local run
    venv_bin = str(Path(sys.executable).parent)
    env.update({
        "PATH": os.pathsep.join([str(TOOLS), str(PLUGINS), venv_bin, env.get("PATH", "")]),
        "PULUMI_HOME": str(local / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{local / 'backend'}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_PYTHON_CMD": sys.executable,
        "ARM_SUBSCRIPTION_ID": SUBSCRIPTION,
        "ARM_TENANT_ID": TENANT,
        **cloud_env,
    })
    # The local backend's own passphrase, whatever a real deployment's shell has set (its salt is in the stack files).
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    env["PULUMI_CONFIG_PASSPHRASE"] = PASSPHRASE
    (local / "backend").mkdir(parents=True, exist_ok=True)
    return env


def option_value(args: list[str], *names: str) -> Optional[str]:
    """The value of the first of `names` in `args` (`--stack dev` or `--stack=dev`)."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def verb_of(args: list[str]) -> Optional[str]:
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-C", "--cwd", "-s", "--stack"):
            skip_next = True
            continue
        if not arg.startswith("-"):
            return arg
    return None


def project_dir_of(args: list[str]) -> Path:
    return Path(option_value(args, "-C", "--cwd") or os.getcwd()).resolve()


def stack_facts(project_dir: Path, stack: Optional[str], local: Path = LOCAL) -> Optional[dict[str, Any]]:
    """What a local run needs from the stack before the CLI starts: `accounts`, the storage accounts the stack uploads
    repository files to (Azurite serves them), and `seeds`, the existing resources it names (id and body, parents
    first). Empty for another project's stack or one without a file; None without a stack or when its config is bad
    (the program reports that itself).

    Reading them validates the stack, which builds the spec models: 0.4 s of every command. So the answer is kept in
    `local/stack-facts/` with a key made of the stack file, Pulumi.yaml and every module of `components/` (name, size,
    modification time), and read back while none of them changed."""
    import yaml

    from components.offline.stack_files import stack_file

    if not stack:
        return None
    try:
        key = _facts_key(project_dir, stack_file(project_dir, stack))
    except (OSError, yaml.YAMLError):
        return None
    kept_at = local / "stack-facts" / f"{hashlib.sha256(f'{project_dir}:{stack}'.encode()).hexdigest()[:16]}.json"
    try:
        kept = json.loads(kept_at.read_text())
        if kept.get("key") == key:
            return kept["facts"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # none yet, or unreadable: read the stack again
    from components.model import SpecError

    try:
        spec = read_stack_spec(project_dir, stack)
    except (SpecError, OSError, ValueError, yaml.YAMLError):  # reported where the stack is selected
        return None
    facts: dict[str, Any] = {"accounts": [], "seeds": []}
    if spec is not None:
        from components.local.azurite import accounts_for
        from components.local.existing import seed_requests

        facts = {"accounts": accounts_for(spec, SUBSCRIPTION), "seeds": seed_requests(spec)}
    kept_at.parent.mkdir(parents=True, exist_ok=True)
    partial = kept_at.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"key": key, "facts": facts}))
    partial.replace(kept_at)
    return facts


def _facts_key(project_dir: Path, stack_path: Path) -> str:
    code = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in (project_dir / "Pulumi.yaml", stack_path):
        digest.update(f"{path}\0".encode() + (path.read_bytes() if path.exists() else b"(none)") + b"\0")
    for module in sorted(code.rglob("*.py")):
        stat = module.stat()
        digest.update(f"{module.relative_to(code)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def read_stack_spec(project_dir: Path, stack: str):
    """The validated config of an image-pipeline stack (SpecError naming each path), or None for another project's
    stack or a stack without a file."""
    from components.offline.stack_files import stack_config
    from components.model.stack import images_config, parse_stack_config

    project, config, path = stack_config(project_dir, stack)
    keys = images_config(project, config)
    if keys is None or not path.exists():
        return None
    return parse_stack_config(keys, source=str(path), project_dir=project_dir)


def seed_existing(project_dir: Path, stack: Optional[str], env: Mapping[str, str], local: Path = LOCAL) -> list[str]:
    """Put into the cloud what the stack says already exists (subnets, source images, identities, galleries)."""
    facts = stack_facts(project_dir, stack, local)
    if not facts or not facts["seeds"]:
        return []
    from components.local.azure_native import arm_client
    from components.local.existing import put_missing

    return put_missing([(rid, body) for rid, body in facts["seeds"]], arm_client(SUBSCRIPTION, env))


def ensure_stack(pulumi: str, stack: str, project_dir: Path, env: Mapping[str, str]) -> None:
    """Create `stack` in the local backend when it does not exist (a first `pulumi stack init`); refuse a name without
    a stack file in a project that has them (a typo), and a stack file that is not YAML."""
    found = subprocess.run([pulumi, "stack", "select", stack, "--non-interactive"], cwd=project_dir, env=dict(env),
                           capture_output=True, text=True)
    if found.returncode == 0:
        return
    from components.arm.documents import read_structured
    from components.offline.stack_files import known_stacks, stack_file
    from components.model import SpecError

    path = stack_file(project_dir, stack)
    if path.exists():
        try:
            read_structured(path)
        except SpecError as err:  # the file and line (the CLI names neither)
            raise LocalEngineError(f"{path.relative_to(project_dir)}: {err.issues[0].message}") from None
    known = known_stacks(path.parent)
    if known and not path.exists():  # a project with stack files: a name without one is a typo, not a new stack
        raise LocalEngineError(
            f"no stack {stack!r}: {path.relative_to(project_dir)} does not exist (known: {', '.join(known)}); "
            f"a new stack starts with `bash scripts/pulumi.sh stack init {stack}`")
    made = subprocess.run([pulumi, "stack", "init", stack, "--non-interactive"], cwd=project_dir, env=dict(env),
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise LocalEngineError(f"pulumi stack init {stack}: {made.stderr.strip() or made.stdout.strip()}")
    print(f"Created stack '{stack}' in the local backend ({env['PULUMI_BACKEND_URL']})", file=sys.stderr)


def cloud_environment(project_dir: Path, stack: Optional[str], local: Path = LOCAL) -> dict[str, str]:
    """The cloud's variables: the caller's own emulator when `AIB_ARM_ENDPOINT` is set, else the background one."""
    if os.environ.get("AIB_ARM_ENDPOINT"):
        return {k: v for k, v in os.environ.items() if k.startswith("AIB_")}
    facts = stack_facts(project_dir, stack, local)
    return LocalCloud(local / "cloud").ensure(facts["accounts"] if facts else []).env()


def analyzer_launchers(args: list[str], project_dir: Path, local: Path = LOCAL) -> list[str]:
    """`args` with each `--policy-pack DIR` of a Python pack replaced by an executable that starts the pack itself.

    The CLI runs a Python pack through the Python language host's RunPlugin, which local runs do not have; but it
    also accepts an executable as a pack and launches it as an analyzer plugin, the way the old
    `pulumi-analyzer-policy-python` shim did. The launcher runs the pack's `__main__.py` with the pack's own
    virtualenv (its PulumiPolicy.yaml `virtualenv`), else this one; the pack prints its port and serves.
    """
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        value: Optional[str] = None
        if arg == "--policy-pack":
            value = next(rest, None)
        elif arg.startswith("--policy-pack="):
            value = arg.split("=", 1)[1]
        if value is None:
            out.append(arg)
            continue
        out += ["--policy-pack", str(_launcher(project_dir / value, local))]
    return out


def _launcher(pack: Path, local: Path) -> Path:
    import yaml

    pack = pack.resolve()
    manifest = pack / "PulumiPolicy.yaml"
    if not pack.is_dir() or not manifest.exists():
        return pack  # an executable pack already, or whatever the CLI will report
    runtime = (yaml.safe_load(manifest.read_text()) or {}).get("runtime") or {}
    options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
    venv = pack / str(options.get("virtualenv") or "venv")
    python = venv / "bin" / "python" if (venv / "bin" / "python").exists() else Path(sys.executable)
    folder = local / "analyzers" / pack.name
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / f"pulumi-analyzer-{pack.name}"
    launcher.write_text(f'#!/bin/sh\nexec "{python}" -u "{pack / "__main__.py"}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


def run(args: list[str], *, local: Path = LOCAL) -> int:
    """Run `pulumi ARGS` against the local cloud; return its exit status."""
    os.umask(0o077)  # what local runs write (state, logs, the cloud's resources) is the owner's alone
    project_dir = project_dir_of(args)
    stack = option_value(args, "-s", "--stack")
    verb = verb_of(args)
    pulumi = pulumi_executable()
    env = cli_environment(cloud_environment(project_dir, stack, local), local=local)
    if stack:  # the providers name it in the commands their messages give (build_run.provider.LOCAL_STACK_ENV)
        env["AIB_LOCAL_STACK"] = stack
    if stack and verb not in (None, "stack", "login", "logout", "version", "plugin", "about", "whoami"):
        ensure_stack(pulumi, stack, project_dir, env)
    host = None
    if verb in PROGRAM_VERBS:
        seed_existing(project_dir, stack, env, local)
        args = analyzer_launchers(args, project_dir, local)
        if program_runtime(project_dir) == "python":
            from components.local import language_host

            host = language_host.start(sys.executable, TOOLS / "pulumi-language-python-exec")
            args = [*args, f"--client={host.address}"]
    try:
        return _run_cli([pulumi, *args], cwd=project_dir, env=env)
    finally:
        if host is not None:
            host.stop()


def program_runtime(project_dir: Path) -> Optional[str]:
    """The `runtime` of the project's Pulumi.yaml (`runtime: python` or `runtime: {name: python}`), or None.

    `--client` serves the program's own runtime, so only a Python program gets the local Python host that way; any
    other program (`runtime: yaml`) runs under its own language plugin, and a Python plugin it uses (package/) under
    the `pulumi-language-python` of `PLUGINS`."""
    import yaml

    manifest = next((project_dir / n for n in ("Pulumi.yaml", "Pulumi.yml") if (project_dir / n).exists()), None)
    if manifest is None:
        return None
    try:
        runtime = (yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}).get("runtime")
    except (OSError, yaml.YAMLError, AttributeError):
        return None  # the CLI reports the file itself
    return str((runtime.get("name") if isinstance(runtime, dict) else runtime) or "") or None


def _run_cli(command: list[str], *, cwd: Path, env: Mapping[str, str]) -> int:
    """Run the CLI in the foreground; Ctrl-C goes to it (Pulumi stops its operations cleanly), not to us."""
    process = subprocess.Popen(command, cwd=cwd, env=dict(env))
    previous = signal.signal(signal.SIGINT, lambda *_: process.send_signal(signal.SIGINT))
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Optional[Iterable[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except (LocalEngineError, LocalCloudError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
