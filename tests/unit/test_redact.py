"""Secrets out of logs and outputs: `components.model.redact` (pure), the build error and its log tail (only read from the
run's staging storage account), and `synth` without `--show-secrets`."""

from __future__ import annotations

import types

import pytest

from components.providers.build_run.errors import BuildError, failure_text, foreign_log_problem
from components.providers.build_run.session import BuildSession
from components.model.redact import redact_lines, redact_text, redact_value
from components.offline.synth import synth
from tests.conftest import ROOT

SAS = "https://acct.blob.core.windows.net/c/setup.sh?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig=AbC%2Bd%3D"


@pytest.mark.parametrize("text,kept,gone", [
    (SAS, "https://acct.blob.core.windows.net/c/setup.sh?sv=[redacted]&ss=[redacted]", ("AbC", "2030", "2022-11-02")),
    (f"Error downloading '{SAS}': 403", "': 403", ("AbC%2Bd",)),
    ("https://x/y?skoid=abc&sktid=def&sig=zzz&other=keep", "&other=keep", ("abc", "def", "zzz")),
    ("no url here: sig is a word", "no url here: sig is a word", ()),
])
def test_sas_query_values_are_redacted(text, kept, gone):
    out = redact_text(text)
    assert kept in out and all(g not in out for g in gone), out


def test_redact_value_masks_inline_commands_unless_asked_and_sas_everywhere():
    doc = {"customize": [{"type": "Shell", "inline": ["echo $TOKEN"]}, {"type": "Shell", "scriptUri": SAS}],
           "tags": {"src": SAS}}
    out = redact_value(doc)
    assert out["customize"][0]["inline"] == "[secret]" and "AbC" not in str(out)
    kept = redact_value(doc, inline=False)
    assert kept["customize"][0]["inline"] == ["echo $TOKEN"] and "AbC" not in str(kept)
    assert redact_lines([SAS])[0] == redact_text(SAS) and doc["customize"][0]["inline"] == ["echo $TOKEN"]


def test_build_errors_and_failure_text_redact_sas_tokens():
    assert "AbC" not in str(BuildError(f"could not download {SAS}"))
    text = failure_text("t", "rg", "Customizing", "+1m", f"failed: {SAS}", "log", [f"curl {SAS}"], None)
    assert "AbC" not in text and "sig=[redacted]" in text


STAGING = "/subscriptions/s/resourceGroups/IT_rg_t_1234"
LOG = "https://stagingacct.blob.core.windows.net/packerlogs/guid/customization.log"


class _Response:
    def __init__(self, accounts):
        self.accounts = accounts

    def raise_for_status(self):
        return None

    def json(self):
        return {"value": self.accounts}


class _Client:
    """Answers the staging resource group's storage account list; records the request."""

    def __init__(self, accounts):
        self.accounts, self.urls = accounts, []
        self.virtual_machine_image_templates = None

    def send_request(self, request):
        self.urls.append(request.url)
        return _Response(self.accounts)


def _session(accounts, read_log):
    settings = types.SimpleNamespace(image_template_name="t", resource_group_name="rg")
    return BuildSession(settings, _Client(accounts), progress=None, poll_seconds=1, read_log=read_log)  # type: ignore[arg-type]


@pytest.mark.parametrize("url,accounts,fetched", [
    (LOG, [{"name": "stagingacct"}], True),
    (LOG, [{"name": "x", "properties": {"primaryEndpoints": {"blob": "https://stagingacct.blob.core.windows.net/"}}}],
     True),
    ("https://attacker.example/packerlogs/guid/customization.log", [{"name": "stagingacct"}], False),
    ("https://otheracct.blob.core.windows.net/packerlogs/guid/customization.log", [{"name": "stagingacct"}], False),
    (LOG, [], False),
])
def test_log_tail_is_read_only_from_the_staging_storage_account(url, accounts, fetched):
    read: list[str] = []

    def read_log(u):
        read.append(u)
        return [f"curl {SAS}", "done"]

    session = _session(accounts, read_log)
    tail, problem = session._log_tail(url, STAGING)
    assert session.client.urls == [f"{STAGING}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01"]
    if fetched:
        assert read == [url] and problem is None and tail and "AbC" not in tail[0]
    else:
        assert read == [] and tail is None and "not the blob endpoint of a storage account" in problem


def test_foreign_log_problem_is_pure_and_names_the_host():
    assert foreign_log_problem(LOG, ["https://STAGINGACCT.blob.core.windows.net/"]) is None
    assert "'evil.blob.core.windows.net'" in foreign_log_problem(
        LOG.replace("stagingacct", "evil"), ["https://stagingacct.blob.core.windows.net/"])


def test_synth_redacts_inline_commands_unless_show_secrets():
    redacted = synth("dev", project_dir=ROOT, show_secrets=False)
    shown = synth("dev", project_dir=ROOT)
    [template] = redacted["templates"].values()
    inline = [s for s in template["properties"]["customize"] if "inline" in s]
    assert inline and all(s["inline"] == "[secret]" for s in inline)
    [full] = shown["templates"].values()
    assert any(isinstance(s.get("inline"), list) for s in full["properties"]["customize"])
