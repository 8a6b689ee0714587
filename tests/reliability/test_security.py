"""Security: secrets stay secret, tokens stay out of logs, roles stay least-privilege, script URIs stay https."""

from __future__ import annotations

import logging

import pytest

import components.emulator.server as emulator_server
from components import roles
from components.spec import SpecError
from components.spec.stack import parse_stack_config

from reliability_helpers import local_run, project

INLINE = "sudo apt-get install -y --no-install-recommends jq unzip"  # an inline command of the dev image


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory):
    """One local run of two dev images with state kept, every log record and the emulator's token captured."""
    tmp = tmp_path_factory.mktemp("security")
    tokens: list[str] = []
    original_init = emulator_server.Emulator.__init__

    def remember_token(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        tokens.append(self.token)

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # azure-core logs requests and headers at DEBUG
    mp = pytest.MonkeyPatch()
    mp.setattr(emulator_server.Emulator, "__init__", remember_token)
    try:
        run = local_run(project(tmp / "project", 2), tmp / "state")
    finally:
        mp.undo()
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert run.code == 0, run.stderr[-3000:]
    return run, tokens, records


def test_inline_commands_are_secret_in_engine_state_and_outputs(dev_run):
    run, _, _ = dev_run
    engine_text = (run.state_dir / "engine.json").read_text()
    assert INLINE not in engine_text and "apt-get" not in engine_text
    assert "__secret_ref__" in engine_text  # the template's customizers were recorded, as references
    assert "apt-get" not in run.stdout and "apt-get" not in run.stderr
    # The service itself received them (the build needs them): the secret was hidden, not dropped.
    assert INLINE in (run.state_dir / "emulator.json").read_text()


def test_no_token_in_any_log_or_output(dev_run):
    run, tokens, records = dev_run
    assert tokens and all(len(t) > 20 for t in tokens)
    assert records, "azure-core logged nothing at DEBUG: the check would be vacuous"
    for token in tokens:
        assert token not in run.stdout and token not in run.stderr
        assert not [r for r in records if token in r]
        assert token not in (run.state_dir / "engine.json").read_text()


def _documented_actions() -> set[str]:
    """Every action the roles module names (its docstrings list them per grant), and nothing else."""
    found: set[str] = set()
    for value in vars(roles).values():
        if isinstance(value, (tuple, list, frozenset, set)):
            found.update(v for v in value if isinstance(v, str) and v.startswith("Microsoft."))
    return found


def test_role_definitions_grant_only_documented_actions_never_at_subscription_scope(dev_run):
    run, _, _ = dev_run
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


@pytest.mark.parametrize("uri", ["http://example.com/setup.sh", "HTTP://EXAMPLE.COM/setup.sh"])
def test_plain_http_script_uri_is_refused_unless_allowed(uri):
    with pytest.raises(SpecError) as info:
        parse_stack_config(_image(uri))
    assert "images.web.template.properties.customize[0].scriptUri" in str(info.value)
    assert "allowHttpUris" in str(info.value)
    parse_stack_config(_image(uri, allow_http=True))
    parse_stack_config(_image("https://example.com/setup.sh"))
