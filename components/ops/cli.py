"""`python -m components <verb>`: the command table. Each verb parses its arguments and calls one
module; errors print as `components: error: ...` with exit 2 for bad input, never a traceback
(`--traceback` shows one).

validate, import-arm and render use spec/arm; synth runs the stack program under mocks; local and
emulator use the emulator.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Callable, Iterator, Optional, TextIO

from components.model import SpecError

PROG = "components"
PROJECT_DIR = Path(__file__).resolve().parents[2]
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    BAD_INPUT = 2


class CommandError(Exception):
    """A verb that cannot do its work for a reason outside its input (no Azure credentials, Azure refused a read):
    one `components: error:` line and exit 1."""


@dataclass
class Env:
    """Streams and the project folder; tests pass their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    project_dir: Path = PROJECT_DIR


def _emit(text: str, output: Optional[str], env: Env) -> None:
    """Write a verb's result to `output` when given (saying so on stderr), else to stdout."""
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SpecError([], f"{output}: cannot write the file: {exc.strerror}") from None
        print(f"wrote {output}", file=env.stderr)
    else:
        env.stdout.write(text)


def _import_file(path: Path, env: Env, inputs=None, *, print_notices: bool = True) -> list:
    """Every image template in an AIB or ARM JSON file, its upgrade notices printed; errors name the file."""
    from components.arm.import_arm import import_document
    from components.arm.documents import read_structured

    try:
        imported = import_document(read_structured(path), inputs=inputs, fallback_name=path.stem)
    except SpecError as exc:
        raise SpecError(exc.issues, str(path)) from None
    if print_notices:
        _print_notices([n for i in imported for n in i.notices], env)
    return imported


def _deployment_inputs(args):
    """The parameters file's values and the deployment scope options of import-arm."""
    from components.arm.import_arm import DeploymentInputs, parameter_values
    from components.arm.documents import read_structured

    values = {}
    if args.parameters:
        try:
            values = parameter_values(read_structured(Path(args.parameters)))
        except SpecError as exc:
            raise SpecError(exc.issues, args.parameters) from None
    return DeploymentInputs(parameters=values, subscription_id=args.subscription, resource_group=args.resource_group,
                            location=args.location)


def _print_notices(notices, env: Env) -> None:
    for notice in notices:
        print(f"notice: {notice}", file=env.stderr)


def cmd_validate(args, env: Env) -> ExitStatus:
    """Check an AIB JSON template, an ARM deployment template or a stack config YAML; exit 2 listing every problem."""
    from components.arm.documents import load

    from components.model.lints import lint_stack
    from components.model.stack import stack_warnings

    loaded = load(Path(args.path))
    _print_notices(loaded.notices, env)
    for warning in stack_warnings(loaded.stack):
        print(f"warning: {warning}", file=env.stderr)
    names = ", ".join(loaded.stack.images)
    print(f"{args.path}: valid ({len(loaded.stack.images)} image template{'s' * (len(loaded.stack.images) != 1)}: "
          f"{names})", file=env.stdout)
    _print_lints(lint_stack(loaded.stack), env)
    return ExitStatus.OK


def _print_lints(warnings, env: Env) -> None:
    """Warnings for valid templates that commonly break builds (`spec.lints`); they never change the exit status."""
    for issue in warnings:
        print(f"warning: {issue}", file=env.stdout)


def cmd_import_arm(args, env: Env) -> ExitStatus:
    """Print the stack-config YAML that reproduces an AIB or ARM template (paste it under `config:`), with a notice
    for each choice made and each thing validate or the policy pack would later refuse or warn about."""
    from components.arm.pinning import Pinner
    from components.arm.documents import import_notices, imported_as_config, to_yaml
    from components.model.stack import project_name

    imported = _import_file(Path(args.path), env, _deployment_inputs(args), print_notices=False)
    config = imported_as_config(imported, project_name(env.project_dir))
    _print_notices(import_notices(imported, config, pinner=Pinner(pin=args.pin), project_dir=env.project_dir), env)
    _emit(to_yaml(config), args.output, env)
    return ExitStatus.OK


def _stack_file(env: Env, stack: str) -> Path:
    """The stack's file, checked to be readable YAML (as is Pulumi.yaml) before any verb runs on it, so a syntax error
    is one path-named error in every verb, never a traceback from deep inside."""
    path = env.project_dir / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        from components.offline.stack_files import known_stacks

        known = known_stacks(env.project_dir / "stacks")
        raise SpecError([], f"no stack {stack!r} (stacks/{path.name} is missing; known: {', '.join(known) or 'none'})")
    _check_readable(path, env.project_dir / "Pulumi.yaml")
    return path


def _check_readable(*paths: Path) -> None:
    """Raise the path-named SpecError of the first file that is not valid YAML."""
    from components.arm.documents import read_structured

    for path in paths:
        if path.exists():
            read_structured(path)


def _load_stack(env: Env, stack: str):
    from components.arm.documents import load

    return load(_stack_file(env, stack)).stack


def cmd_render(args, env: Env) -> ExitStatus:
    """Print the AIB JSON template(s) a stack, or a file `validate` accepts, would submit."""
    if bool(args.stack) == bool(args.path):
        raise SpecError([], "give either --stack NAME or a PATH")
    if args.path and Path(args.path).suffix.lower() == ".json":
        templates = _render_documents(Path(args.path), env)
    else:
        from components.arm.documents import load
        from components.offline.synth import synth

        if args.stack:
            _load_stack(env, args.stack)  # what validate checks, so a stack without images is one path-named error
        if args.path:
            load(Path(args.path))  # what validate checks, with the same path-named errors, before running anything
        result = synth(args.stack or "render", project_dir=env.project_dir,
                       config_file=None if args.stack else Path(args.path))
        templates = result["templates"]
    body = next(iter(templates.values())) if len(templates) == 1 else templates
    env.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return ExitStatus.OK


def _render_documents(path: Path, env: Env) -> dict:
    """AIB or ARM JSON rendered on its own: each template must carry its identity."""
    from components.arm.render import render_template
    from components.arm.documents import standalone_problems

    imported = _import_file(path, env)
    if missing := standalone_problems(imported):
        raise SpecError(missing, str(path))
    return {i.name: render_template(i.spec) for i in imported}


def cmd_synth(args, env: Env) -> ExitStatus:
    """Run the stack program offline (Pulumi mocks) and print every resource it declares and each template."""
    from components.model.lints import lint_stack
    from components.offline.synth import format_text, synth

    warnings = lint_stack(_load_stack(env, args.stack))
    result = synth(args.stack, project_dir=env.project_dir, show_secrets=args.show_secrets)
    if args.json:
        result = {**result, "warnings": [str(w) for w in warnings]}
        env.stdout.write(json.dumps(result, indent=2, sort_keys=False, ensure_ascii=False, default=str) + "\n")
    else:
        env.stdout.write(format_text(result))
        _print_lints(warnings, env)
    return ExitStatus.OK


def cmd_local(args, env: Env) -> ExitStatus:
    """Run the stack on the local emulator: real program, real providers, builds in seconds."""
    from components.local import run_local

    _stack_file(env, args.stack)
    return ExitStatus(run_local(args.stack, project_dir=env.project_dir, as_json=args.json,
                                stdout=env.stdout, stderr=env.stderr,
                                state_dir=Path(args.state_dir) if args.state_dir else None))


def cmd_emulator(args, env: Env) -> ExitStatus:
    """Serve the local ARM emulator in the foreground."""
    from components.emulator.cli import main as emulator_main

    if not 0 <= args.port <= 65535:
        raise SpecError([], f"--port {args.port}: a TCP port is 0 to 65535 (0: a free one)")
    argv = ["--port", str(args.port)] + (["--no-tls"] if args.no_tls else [])
    return ExitStatus(emulator_main(argv) or 0)


def cmd_schema(args, env: Env) -> ExitStatus:
    """Write the JSON Schema of the stack config (for editor completion of stacks/Pulumi.*.yaml)."""
    from components.ops.schema import stack_file_schema

    text = json.dumps(stack_file_schema(), indent=2) + "\n"
    _emit(text, args.output, env)
    return ExitStatus.OK


def cmd_docs(args, env: Env) -> ExitStatus:
    """Write the configuration reference (Markdown) generated from the stack config models."""
    from components.ops.schema import configuration_reference

    text = configuration_reference()
    _emit(text, args.output, env)
    return ExitStatus.OK


def cmd_bump_trigger(args, env: Env) -> ExitStatus:
    """Set rebuildTrigger of images in stacks/Pulumi.<stack>.yaml (comments kept), so the next `pulumi up` rebuilds."""
    from components.ops.bump import bump

    stacks = args.stack or [p.name[len("Pulumi."):-len(".yaml")]
                            for p in sorted((env.project_dir / "stacks").glob("Pulumi.*.yaml"))]
    for stack in stacks:
        _load_stack(env, stack)  # a stack file validate refuses is refused here too, before any file is written
    done = bump(env.project_dir, stacks=args.stack or (), images=args.image or (), value=args.value,
                dry_run=args.dry_run)
    for b in done:
        state = f"{b.old} -> {b.new}" if b.changed else f"already {b.new}"
        print(f"{b.stack_file.relative_to(env.project_dir)}: {b.image}.rebuildTrigger {state}"
              f"{' (dry run)' if args.dry_run and b.changed else ''}", file=env.stdout)
    return ExitStatus.OK


def cmd_diagnose(args, env: Env) -> ExitStatus:
    """Explain the last run of each image's deployed template from its run status and customization.log."""
    from components.ops.diagnose.run import diagnose_stack
    from components.ops.diagnose.target import load_target

    _stack_file(env, args.stack)
    target = load_target(env.project_dir, args.stack, local=args.local)
    with _azure_access(target):
        return ExitStatus(diagnose_stack(target, args.image, env.stdout))


def cmd_preflight(args, env: Env) -> ExitStatus:
    """Check the subscription (read-only) for what the stack's builds need; exit 1 when a check fails."""
    from components.ops.diagnose.target import load_target
    from components.ops.preflight import run_preflight

    _stack_file(env, args.stack)
    target = load_target(env.project_dir, args.stack, local=args.local)
    with _azure_access(target):
        return ExitStatus(run_preflight(target, env.stdout))


NO_CREDENTIALS = ("no Azure credentials for subscription {subscription}: run `az login`, or set ARM_CLIENT_ID and "
                  "ARM_TENANT_ID with ARM_USE_OIDC=true or ARM_CLIENT_SECRET, or ARM_USE_MSI=true "
                  "(or add --local for the local cloud)")


@contextmanager
def _azure_access(target) -> Iterator[None]:
    """Azure verbs (diagnose, preflight) start by getting an ARM token, so missing credentials are one line naming
    the ways to sign in instead of the credential chain's traceback (or a failed row per check); an Azure error that
    still escapes the verb is one line too."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    from components.providers.arm_client import arm_credential, management_endpoint
    from components.ops.diagnose.target import applied

    try:
        if not target.local:
            quiet = logging.getLogger("azure.identity")  # its chained credential logs each failure as a warning
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                with applied(target.env):
                    arm_credential().get_token(management_endpoint() + "/.default")
            finally:
                quiet.setLevel(level)
        yield
    except ClientAuthenticationError:
        raise CommandError(NO_CREDENTIALS.format(subscription=target.subscription_id)) from None
    except AzureError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CommandError(f"Azure refused a read for stack {target.stack_name!r}: {first}") from None


def cmd_admin_roles(args, env: Env) -> ExitStatus:
    """Print the custom role definitions an admin creates once for `customRoles: existing` (name, GUID, actions,
    assignable scope, and the command creating each), or --json, or the deployer's ABAC --condition."""
    from components.ops import admin_roles

    if args.subscription is not None and not _GUID.fullmatch(args.subscription):
        raise SpecError([], f"--subscription {args.subscription!r}: not a subscription id (a GUID, "
                            f"such as the SubscriptionId of `az account show`)")
    _stack_file(env, args.stack)
    subscription = args.subscription
    if args.local:
        from components.local.cloud import SUBSCRIPTION as subscription
    plan = admin_roles.plan_for_admin(env.project_dir, args.stack, subscription)
    if subscription and (named := admin_roles.named_subscriptions(plan, subscription)):
        print(f"notice: roles scoped to resources the stack names by id keep the subscription of those ids "
              f"({', '.join(named)}); what the stack creates is in {subscription}", file=env.stderr)
    if args.json:
        env.stdout.write(json.dumps(admin_roles.document(plan), indent=2) + "\n")
    else:
        env.stdout.write(admin_roles.condition(plan) if args.condition else admin_roles.listing(plan))
    return ExitStatus.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}",
                                     description="Golden VM images with Azure VM Image Builder and Pulumi.")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback on errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, func: Callable, **kwargs) -> argparse.ArgumentParser:
        doc = (func.__doc__ or "").strip()
        sub = verbs.add_parser(name, help=doc, description=doc, **kwargs)
        sub.set_defaults(func=func)
        return sub

    verb("validate", cmd_validate).add_argument("path", help="AIB JSON, ARM deployment JSON, or stack YAML")
    imp = verb("import-arm", cmd_import_arm)
    imp.add_argument("path", help="AIB JSON template or ARM deployment template")
    imp.add_argument("-o", "--output", help="write the YAML to this file instead of stdout")
    imp.add_argument("--parameters", metavar="FILE", help="an ARM parameters file with the deployment's values")
    imp.add_argument("--subscription", help="subscription().subscriptionId (default: a <subscription-id> placeholder)")
    imp.add_argument("--resource-group", help="resourceGroup().name (default: a <resource-group> placeholder)")
    imp.add_argument("--location", help="resourceGroup().location (default: a <location> placeholder)")
    imp.add_argument("--pin", action="store_true",
                     help="download each remote script and file once and write its sha256Checksum")
    render = verb("render", cmd_render)
    render.add_argument("path", nargs="?", help="anything validate accepts")
    render.add_argument("--stack", help="a stack name (stacks/Pulumi.<stack>.yaml)")
    synth = verb("synth", cmd_synth)
    synth.add_argument("--stack", required=True)
    synth.add_argument("--json", action="store_true", help="one JSON object: resources and templates")
    synth.add_argument("--show-secrets", action="store_true",
                       help="keep SAS tokens and inline commands (hidden by default: synth output lands in CI logs)")
    local = verb("local", cmd_local)
    local.add_argument("--stack", default="dev")
    local.add_argument("--json", action="store_true", help="print the stack outputs as JSON")
    local.add_argument("--state-dir", default=None,
                       help="keep emulator and engine state here: the next run is an update (default: stateless)")
    emulator = verb("emulator", cmd_emulator)
    emulator.add_argument("--port", type=int, default=8443)
    emulator.add_argument("--no-tls", action="store_true")
    schema = verb("schema", cmd_schema)
    schema.add_argument("-o", "--output", help="write the schema to this file")
    verb("docs", cmd_docs).add_argument("-o", "--output", help="write the reference to this file")
    bump = verb("bump-trigger", cmd_bump_trigger)
    bump.add_argument("--stack", action="append", help="a stack name (repeatable; default: every stack)")
    bump.add_argument("--image", action="append", help="an image name (repeatable; default: every image)")
    bump.add_argument("--value", help="the new rebuildTrigger (default: the current UTC month, YYYY-MM)")
    bump.add_argument("--dry-run", action="store_true", help="report the change without writing")
    diag = verb("diagnose", cmd_diagnose)
    diag.add_argument("--stack", required=True)
    diag.add_argument("--image", help="one image of the stack (default: every image)")
    diag.add_argument("--local", action="store_true", help="the local cloud instead of Azure")
    admin = verb("admin-roles", cmd_admin_roles)
    admin.add_argument("--stack", required=True)
    shown = admin.add_mutually_exclusive_group()
    shown.add_argument("--print", action="store_true", help="each role and its az command (the default)")
    shown.add_argument("--json", action="store_true", help="one JSON document: roles, ARM bodies, assigned role ids")
    shown.add_argument("--condition", action="store_true", help="the deployer's ABAC condition for these roles")
    admin.add_argument("--subscription", help="default: ARM_SUBSCRIPTION_ID or azure-native:subscriptionId")
    admin.add_argument("--local", action="store_true", help="the local cloud's subscription")
    pre = verb("preflight", cmd_preflight)
    pre.add_argument("--stack", required=True)
    pre.add_argument("--local", action="store_true", help="the local cloud instead of Azure")
    return parser


def main(argv: Optional[list[str]] = None, env: Optional[Env] = None) -> int:
    env = env or Env()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, env))
    except SpecError as exc:
        if args.traceback:
            raise
        print(f"{PROG}: error: {exc}", file=env.stderr)
        return int(ExitStatus.BAD_INPUT)
    except CommandError as exc:
        if args.traceback:
            raise
        print(f"{PROG}: error: {exc}", file=env.stderr)
        return int(ExitStatus.ERROR)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=env.stderr)
        return 130
