"""`admin-roles`: the custom role definitions an admin creates once, so the CI deployer never writes role definitions.

With `customRoles: existing` a stack assigns its custom roles but does not create them. This verb plans the stack
offline (`plan.plan_stack`, the same deterministic GUIDs `customRoles: declare` would create) and prints, per custom
role, its name, GUID, actions and assignable scope with the `az rest` PUT that creates it (`az role definition
create` picks a GUID of its own, which the stack would not find); `--json` gives the same as one document, with the
ARM body of each definition; `--condition` prints the ABAC condition of the conditional Role Based Access Control
Administrator deployer (`docs/github-actions.md`), listing exactly the roles the stack assigns. A change that adds or
alters a custom role changes its GUID: run the verb again, create the new definition, and update the condition.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Iterable, Optional

from components.plan.stack import GrantPlan, RoleDefinitionPlan, StackPlan, plan_stack
from components.plan.roles import STORAGE_BLOB_DATA_CONTRIBUTOR

ROLE_DEFINITIONS_API_VERSION = "2022-04-01"
ARM = "https://management.azure.com"


def plan_for_admin(project_dir: Path, stack_name: str, subscription_id: Optional[str]) -> StackPlan:
    """The stack's plan as the program would make it (`subscription_id`: default ARM_SUBSCRIPTION_ID, the stack's
    `azure-native:subscriptionId`, or the subscription its resource ids name)."""
    from components.ops.diagnose.target import subscription_of
    from components.offline.stack_files import stack_config
    from components.model.stack import config_from_stack_file, parse_stack_config

    project, config, path = stack_config(project_dir, stack_name)
    stack = parse_stack_config(config_from_stack_file({"config": config}, project), source=str(path),
                               project_dir=project_dir)
    return plan_stack(stack, subscription_id=subscription_id or subscription_of(config, stack), project=project,
                      stack_name=stack_name, name_key=None)


def named_subscriptions(plan: StackPlan, subscription_id: str) -> list[str]:
    """The subscriptions other than `subscription_id` where custom roles are created: those of ids the stack names
    (a gallery image id, a subnet), which keep their subscription as they do in the program."""
    found = {r.resource_id.split("/")[2].lower() for r in custom_roles(plan) if r.resource_id.startswith("/subscriptions/")}
    return sorted(found - {subscription_id.lower()})


def custom_roles(plan: StackPlan) -> list[RoleDefinitionPlan]:
    """Every custom role the stack's grants assign, once each (by GUID)."""
    unique = {d.guid: d for image in plan.images.values() for d in image.role_definitions}
    return list(unique.values())


def assigned_role_guids(plan: StackPlan) -> list[str]:
    """The GUIDs of every role the stack assigns (built-in and custom): what the deployer's condition allows."""
    return sorted({_guid(g.role_definition_id) for g in _assignments(plan)} | _upload_roles(plan))


def _assignments(plan: StackPlan) -> Iterable[GrantPlan]:
    yield from plan.shared.grants
    for image in plan.images.values():
        yield from image.grants
        if image.runner_grant is not None:
            yield image.runner_grant


def _upload_roles(plan: StackPlan) -> set[str]:
    """The deployer's own Storage Blob Data Contributor, beside every repository-files container whose reader role
    the stack assigns (both are declared unless `manageRoles: false`)."""
    uploads = any(g.grant.key == "repo-files-reader" for image in plan.images.values() for g in image.grants)
    return {STORAGE_BLOB_DATA_CONTRIBUTOR} if uploads else set()


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rsplit("/", 1)[-1]


def arm_body(role: RoleDefinitionPlan) -> dict[str, Any]:
    """The ARM body of the role definition, exactly what `customRoles: declare` would create."""
    scope = role.grant.assignable_scope
    return {"properties": {
        "roleName": role.role_name, "description": role.description, "type": "CustomRole",
        "permissions": [{"actions": list(role.grant.actions), "notActions": []}], "assignableScopes": [scope]}}


def document(plan: StackPlan) -> dict[str, Any]:
    """`--json`: each custom role (its PUT target and body), and the role GUIDs the deployer's condition lists."""
    return {
        "customRoles": [{"roleName": r.role_name, "guid": r.guid, "roleDefinitionId": r.role_definition_id,
                         "resourceId": r.resource_id, "apiVersion": ROLE_DEFINITIONS_API_VERSION,
                         "actions": list(r.grant.actions), "assignableScopes": [r.grant.assignable_scope],
                         "for": r.logical_name, "body": arm_body(r)} for r in custom_roles(plan)],
        "assignedRoleIds": assigned_role_guids(plan),
    }


def az_command(role: RoleDefinitionPlan) -> str:
    url = f"{ARM}{role.resource_id}?api-version={ROLE_DEFINITIONS_API_VERSION}"
    return f"az rest --method put --url {shlex.quote(url)} --body {shlex.quote(json.dumps(arm_body(role)))}"


def listing(plan: StackPlan) -> str:
    """`--print`: per custom role what it is, then the command that creates it."""
    roles = custom_roles(plan)
    if not roles:
        return "# the stack assigns no custom roles: nothing to create\n"
    blocks = [f"# {r.role_name}  guid {r.guid}  ({r.logical_name})\n"
              f"#   actions: {', '.join(r.grant.actions)}\n"
              f"#   assignable scope: {r.grant.assignable_scope}\n"
              f"{az_command(r)}\n" for r in roles]
    return "\n".join(blocks)


def condition(plan: StackPlan) -> str:
    """The ABAC condition of the deployer's Role Based Access Control Administrator assignment: it may create and
    delete assignments of exactly the stack's roles, and only to service principals."""
    guids = ", ".join(assigned_role_guids(plan))
    return (f"{_clause('write', 'Request', guids)}\nAND\n{_clause('delete', 'Resource', guids)}\n")


def _clause(action: str, source: str, guids: str) -> str:
    attribute = f"@{source}[Microsoft.Authorization/roleAssignments"
    return (f"(\n (\n  !(ActionMatches{{'Microsoft.Authorization/roleAssignments/{action}'}})\n )\n OR\n (\n"
            f"  {attribute}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}\n  AND\n"
            f"  {attribute}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}\n )\n)")
