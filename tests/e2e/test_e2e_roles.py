"""Custom roles created once by an admin (`customRoles: existing`), under the real Pulumi CLI on the emulator: the
admin creates the definitions `admin-roles --json` lists, and the stack only assigns them and builds."""

from __future__ import annotations

import io
import json

from components.ops.cli import Env, main
from e2e_helpers import e2e_config, minimal_image


def admin_document(stack) -> dict:
    out = io.StringIO()
    assert main(["admin-roles", "--stack", stack.stack, "--json", "--local"],
                Env(stdout=out, stderr=io.StringIO(), project_dir=stack.project)) == 0
    return json.loads(out.getvalue())


def test_admin_created_custom_roles_are_assigned_not_declared(local_stack):
    config = {**e2e_config({"img": minimal_image("img")}), "aib-images:customRoles": "existing"}
    stack = local_stack(config)
    roles = admin_document(stack)["customRoles"]
    assert [r["actions"][-1] for r in roles] == ["Microsoft.Compute/galleries/images/versions/write"]

    # The admin, outside Pulumi: the group the roles are assignable at, then each definition as listed.
    arm = stack.arm()
    arm.resource_groups.create_or_update("rg-e2e", {"location": "westeurope"})
    for role in roles:
        arm.resources.begin_create_or_update_by_id(role["resourceId"], role["body"],
                                                   api_version=role["apiVersion"]).result()

    stack.up()
    assert stack.outputs()["img"]["runState"] == "Succeeded"
    assert not stack.resources(":RoleDefinition")
    settles = [r["urn"].rsplit("::", 1)[-1] for r in stack.resources(":RoleSettle")]
    assert settles == ["img-roles-settle"], settles
    assigned = {r["inputs"]["roleDefinitionId"] for r in stack.resources(":RoleAssignment")}
    assert {r["roleDefinitionId"] for r in roles} <= assigned
    for role in roles:
        kept = stack.cloud.state.role_definition(role["roleDefinitionId"])
        assert kept["properties"]["roleName"] == role["roleName"], "the stack left the admin's definition alone"
