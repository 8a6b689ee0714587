"""Security: secrets stay secret, tokens stay out of logs, roles stay least-privilege, script URIs stay https."""

from __future__ import annotations

import base64
import json
import os

import pytest

import components.emulator.server as emulator_server
from components.plan import roles
from components.local.run import UP_ARGS
from components.model import SpecError
from components.model.stack import parse_stack_config, stack_warnings

from reliability_helpers import local_run, project

INLINE = "sudo apt-get install -y --no-install-recommends jq unzip"  # an inline command of the dev image
VALIDATION = "command -v jq"  # an inline command of its in-VM validation
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # the key Pulumi's state marks an encrypted value with
LOG_EVERYTHING = """\
# Every Python process of the run (program, provider hosts, azure-native stand-in) logs everything at DEBUG to stderr,
# which the engine relays with --debug: azure-core then logs each request with its headers.
import logging
import sys

logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
"""


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory):
    """One `pulumi up --debug` of two dev images with state kept, every Python process of the engine logging at DEBUG
    (a `sitecustomize` on PYTHONPATH), and the emulator's token captured."""
    tmp = tmp_path_factory.mktemp("security")
    tokens: list[str] = []
    original_init = emulator_server.Emulator.__init__

    def remember_token(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        tokens.append(self.token)

    site = tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LOG_EVERYTHING)
    mp = pytest.MonkeyPatch()
    mp.setattr(emulator_server.Emulator, "__init__", remember_token)
    mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    try:
        run = local_run(project(tmp / "project", 2), tmp / "state", args=(*UP_ARGS, "--debug"))
    finally:
        mp.undo()
    assert run.code == 0, run.stderr[-3000:]
    return run, tokens


def _providers(export: dict) -> bytes:
    """Every serialized dynamic provider (`__provider`, base64 of a pickle) in the state, decoded."""
    blobs = [(r.get(k) or {}).get("__provider") for r in export["deployment"]["resources"] for k in ("inputs", "outputs")]
    return b"".join(base64.b64decode(b) for b in blobs if isinstance(b, str))


def _secret(value) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value and "ciphertext" in value


def test_inline_commands_are_secret_in_the_templates_state_and_hidden_in_logs(dev_run):
    run, _ = dev_run
    export = run.export()
    templates = [r for r in export["deployment"]["resources"] if r["type"].endswith(":VirtualMachineImageTemplate")]
    assert len(templates) == 2
    for t in templates:  # the template's customizers and validators were recorded, encrypted
        assert _secret(t["inputs"]["customize"]) and _secret(t["outputs"]["customize"]), t["urn"]
        assert _secret(t["inputs"]["validate"]["inVMValidations"]) and _secret(t["outputs"]["validate"]), t["urn"]
    assert b"apt-get" not in _providers(export)
    for text in (run.stdout, run.stderr):  # the CLI's whole output, debug messages of every process included
        assert "apt-get" not in text and VALIDATION not in text
    # The secret was hidden, not dropped: the state holds it encrypted, and the service received it (the build needs it).
    assert INLINE in run.export_text("--show-secrets")
    assert INLINE in (run.state_dir / "emulator.json").read_text()


def test_inline_commands_are_nowhere_in_plaintext_state(dev_run):
    """Once failed: the engine hands the default dynamic provider the whole stack config (plaintext), which state
    records; the program now gives its dynamic resources an explicit provider with no inputs."""
    run, _ = dev_run
    text = run.export_text()
    leaks = [r["urn"] for r in run.export()["deployment"]["resources"] if "apt-get" in json.dumps(r)]
    assert INLINE not in text and "apt-get" not in text and VALIDATION not in text, leaks


def test_no_token_in_any_log_output_or_state(dev_run):
    run, tokens = dev_run
    assert tokens and all(len(t) > 20 for t in tokens)
    # Not vacuous: the providers' azure-core logged the requests they sent to the emulator, headers included.
    assert run.stderr.count("'Authorization': 'REDACTED'") >= 10, "no request headers were logged"
    state = run.export_text("--show-secrets")
    providers = _providers(json.loads(state))
    for token in tokens:
        assert token not in run.stdout and token not in run.stderr
        assert token not in state and token.encode() not in providers


def _documented_actions() -> set[str]:
    """Every action the roles module names (its docstrings list them per grant), and nothing else."""
    found: set[str] = set()
    for value in vars(roles).values():
        if isinstance(value, (tuple, list, frozenset, set)):
            found.update(v for v in value if isinstance(v, str) and v.startswith("Microsoft."))
    return found


def test_role_definitions_grant_only_documented_actions_never_at_subscription_scope(dev_run):
    run, _ = dev_run
    resources = run.emulator["resources"]
    definitions = [r for k, r in resources.items() if "/microsoft.authorization/roledefinitions/" in k]
    assignments = [r for k, r in resources.items() if "/microsoft.authorization/roleassignments/" in k]
    assert definitions and assignments
    documented = _documented_actions()
    for d in definitions:
        props = d["properties"]
        for permission in props["permissions"]:
            actions = set(permission.get("actions") or []) | set(permission.get("dataActions") or [])
            assert not any("*" in a for a in actions), (props["roleName"], actions)
            assert actions <= documented, (props["roleName"], sorted(actions - documented))
        for scope in props["assignableScopes"]:
            assert "/resourcegroups/" in scope.lower(), (props["roleName"], scope)
    builtin = {roles.CONTRIBUTOR, roles.STORAGE_BLOB_DATA_READER, roles.MANAGED_IDENTITY_OPERATOR,
               roles.STORAGE_BLOB_DATA_CONTRIBUTOR}
    custom = {d["name"].lower() for d in definitions}
    for a in assignments:
        props = a["properties"]
        role = props["roleDefinitionId"].rsplit("/", 1)[-1].lower()
        assert role in custom or role in builtin, props
        assert "/resourcegroups/" in props["scope"].lower(), props  # nothing at subscription scope
        if role != roles.STORAGE_BLOB_DATA_CONTRIBUTOR:  # the deployer's script upload grant may name a User
            assert props["principalType"] == "ServicePrincipal", props
        if role == roles.CONTRIBUTOR:  # Contributor only on the template's own staging group
            assert "/resourcegroups/rg-aib-staging-" in props["scope"].lower() and "/providers/" not in \
                props["scope"].lower(), props


def _image(script_uri: str, allow_http: bool | None = None) -> dict:
    template: dict = {"location": "westeurope", "properties": {
        "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                   "sku": "22_04-lts-gen2", "version": "latest"},
        "customize": [{"type": "Shell", "name": "setup", "scriptUri": script_uri}],
        "distribute": [{"type": "VHD", "runOutputName": "vhd"}]}}
    if allow_http is not None:
        template["allowHttpUris"] = allow_http
    return {"resourceGroupName": "rg", "images": {"web": {"template": template}}}


def _http_issues(config: dict) -> list[str]:
    """What the spec says about a stack's plain-http URIs: its errors (SpecError) or, when valid, its warnings."""
    try:
        stack = parse_stack_config(config)
    except SpecError as err:
        return [str(err)]
    return [str(w) for w in stack_warnings(stack) if "allowHttpUris" in str(w)]  # not the unpinned-content warning


@pytest.mark.parametrize("uri", ["http://example.com/setup.sh", "HTTP://EXAMPLE.COM/setup.sh"])
def test_plain_http_script_uri_never_passes_silently_unless_allowed(uri):
    # Refused (an error) or flagged (a warning; the policy pack then refuses it at preview): never silent.
    (issue,) = _http_issues(_image(uri))
    assert "images.web.template.properties.customize[0].scriptUri" in issue and "allowHttpUris" in issue
    assert _http_issues(_image(uri, allow_http=True)) == []
    assert _http_issues(_image("https://example.com/setup.sh")) == []
