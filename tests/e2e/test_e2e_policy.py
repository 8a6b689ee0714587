"""The policy pack under a real `pulumi preview`: principal ids and template names unknown, as they are before the
first deployment, mandatory rules refusing, advisory ones reporting."""

from __future__ import annotations

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


def test_an_advisory_rule_reports_without_failing_the_preview(local_stack):
    image = minimal_image("one")
    image["template"]["properties"]["stagingResourceGroup"] = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared-staging")
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    preview = stack.preview("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")
    assert "[advisory]  aib-dedicated-staging" in preview.stdout


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
    """Declared through azure-native's generic resource, the template still meets every template rule."""
    image = minimal_image("one")
    image["template"]["properties"]["distribute"][0]["replicationMode"] = "Shallow"
    image["template"]["properties"]["buildTimeoutInMinutes"] = 900
    stack = local_stack(e2e_config({"one": image}))
    with_pack(stack)
    preview = stack.pulumi("preview", "--non-interactive", "--policy-pack", "policy", "--policy-pack-config",
                           "policy/config.json", check=False)
    assert preview.returncode != 0
    assert "aib-build-timeout" in preview.stdout and re.search(
        r"azure-native:resources:Resource: one-[0-9a-f]{10}-template", preview.stdout)
