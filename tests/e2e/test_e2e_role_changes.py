"""Role assignments that change in place under the real CLI: a `principalType` flip replaces the assignment under the
same Azure name, deleting the old one first (azure-native would PUT it in place, which ARM refuses for an existing
assignment; ARM also holds one assignment per principal, role and scope, so a create-first could not succeed)."""

from __future__ import annotations

import re

from e2e_helpers import changes, e2e_config, minimal_image

RUNNER = "00000000-0000-0000-0000-0000000000c1"


def _runner_assignments(stack) -> list[dict]:
    with stack.cloud.state.lock:
        return [a for a in stack.cloud.state.role_assignments() if a["properties"]["principalId"] == RUNNER]


def test_a_principal_type_flip_is_a_same_name_replacement_deleting_first(local_stack):
    image = {**minimal_image("one"), "runnerPrincipalId": RUNNER}
    stack = local_stack(e2e_config({"one": image}))
    stack.up()
    [before] = _runner_assignments(stack)
    assert before["properties"]["principalType"] == "ServicePrincipal"

    stack.edit(lambda c: c["aib-images:images"]["one"].update(runnerPrincipalType="Group"))
    preview = stack.preview("--diff")
    assert re.search(r"\+-\s*azure-native:authorization:RoleAssignment: \(replace\)", preview.stdout), \
        preview.stdout[-3000:]
    updated = stack.up()
    assert "replaced" in changes(updated)
    [after] = _runner_assignments(stack)
    assert after["id"].lower() == before["id"].lower(), "the same Azure name"
    assert after["properties"]["principalType"] == "Group"
    again = changes(stack.up())
    assert "unchanged" in again and "replaced" not in again, again
