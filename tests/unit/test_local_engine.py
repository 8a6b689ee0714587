"""What `scripts/pulumi.sh` hands the real CLI: a local run never sees a real Azure login or a real passphrase, and the
stand-in plugin is on its PATH only there."""

from __future__ import annotations

from pathlib import Path

from components.local.engine import PASSPHRASE, PLUGINS, cli_environment, option_value, verb_of


def test_nothing_of_a_real_deployment_reaches_a_local_run(tmp_path: Path):
    shell = {"PATH": "/usr/bin", "ARM_CLIENT_ID": "real-app", "ARM_USE_OIDC": "true", "AZURE_CLIENT_SECRET": "s",
             "PULUMI_CONFIG_PASSPHRASE": "the real one", "PULUMI_CONFIG_PASSPHRASE_FILE": "/secrets/p"}
    env = cli_environment({"AIB_ARM_ENDPOINT": "https://127.0.0.1:1"}, local=tmp_path, base=shell)
    assert not any(k in env for k in ("ARM_CLIENT_ID", "ARM_USE_OIDC", "AZURE_CLIENT_SECRET",
                                      "PULUMI_CONFIG_PASSPHRASE_FILE"))
    assert env["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'backend'}"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert str(PLUGINS) in env["PATH"].split(":") and env["AIB_ARM_ENDPOINT"] == "https://127.0.0.1:1"
    assert str(PLUGINS) not in shell["PATH"]


def test_the_verb_and_options_are_read_as_the_cli_reads_them():
    args = ["-C", "examples/platform", "--stack", "dev", "up", "--yes"]
    assert verb_of(args) == "up"
    assert option_value(args, "-s", "--stack") == "dev"
    assert option_value(["preview", "--stack=prod"], "-s", "--stack") == "prod"
    assert verb_of(["--non-interactive", "stack", "export"]) == "stack"
