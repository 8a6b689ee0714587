"""An image template at an api-version azure-native's typed resource does not create (2025-10-01 today).

azure-native's typed `VirtualMachineImageTemplate` sends 2024-02-01 only. Its generic `resources.Resource` takes any
`apiVersion`, but before each create it checks existence at its own built-in api-version, 2024-03-01
(provider/pkg/provider/crud/crud.go `CanCreate` -> provider/pkg/azure/client_azcore.go `CanCreate`), which
Microsoft.VirtualMachineImages does not serve: the GET answers 400 NoRegisteredProviderFound and the create stops
before its PUT (pulumi/pulumi-azure-native#4109, open). So the template goes through this dynamic resource instead:
azure-mgmt-imagebuilder's client PUTs the rendered body at the document's own api-version and polls the operation.

What it does is what the typed template does in the pipeline: only the names (the template's name is a digest of its
content) and the api-version decide replacement, nothing else is ever PUT again (AIB refuses a PUT on an existing
template), tags are the `TemplateTags` PATCH's. A template that already exists under the name is taken as it is: the
name is the content's digest, so it is this content (left, say, by an `up` interrupted after the PUT).

Pickled by reference into each resource's state: the module path and class names are part of existing stacks.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.providers.errors import ProviderError

NAME_KEYS = ("subscription_id", "resource_group_name", "image_template_name", "api_version")
"""What names the template: a change is another template (a replacement)."""
KEYS = (*NAME_KEYS, "arm_endpoint")


def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {**{k: props.get(k) for k in KEYS}, "name": props.get("image_template_name")}


def _client(props: Mapping[str, Any], *, quick: bool = False) -> Any:
    from components.providers import arm_client

    return arm_client.template_client(props, quick=quick)


def _where(props: Mapping[str, Any]) -> str:
    return (f"image template '{props['image_template_name']}' (resource group '{props['resource_group_name']}', "
            f"api-version {props['api_version']})")


class VersionedTemplateProvider(ResourceProvider):
    """Creates the template with one PUT, reads it on refresh, deletes it; never PUTs it again."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        with _client(props) as client:
            templates = client.virtual_machine_image_templates
            try:
                found = templates.get(props["resource_group_name"], props["image_template_name"])
            except ResourceNotFoundError:
                found = None
            try:
                template = found or templates.begin_create_or_update(
                    props["resource_group_name"], props["image_template_name"], whole_numbers(props["body"])).result()
            except HttpResponseError as err:
                raise ProviderError(f"creating {_where(props)}: {err.message}") from None
        return CreateResult(template.id, _outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in NAME_KEYS if olds.get(k) != news.get(k)]
        changed = replaces or [k for k in KEYS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_outputs(news))  # only where ARM is reached from changed: nothing to send

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: gone when the template is (the next `up` creates it again), else as recorded. One quick GET."""
        from azure.core.exceptions import ResourceNotFoundError

        with _client(props, quick=True) as client:
            try:
                client.virtual_machine_image_templates.get(props["resource_group_name"], props["image_template_name"])
            except ResourceNotFoundError:
                return ReadResult("", {})
        return ReadResult(id_, _outputs(props))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        with _client(props) as client:
            try:
                client.virtual_machine_image_templates.begin_delete(
                    props["resource_group_name"], props["image_template_name"]).result()
            except ResourceNotFoundError:
                return
            except HttpResponseError as err:
                raise ProviderError(f"deleting {_where(props)}: {err.message}") from None


class VersionedTemplate(Resource, module="aib", name="VersionedTemplate"):
    """One image template at the api-version of its rendered document (`body`: the ARM resource body: location,
    tags, identity, properties; a secret, because the properties hold the inline commands)."""

    name: pulumi.Output[str]

    def __init__(self, name: str, *, subscription_id: pulumi.Input[str], resource_group_name: pulumi.Input[str],
                 image_template_name: str, api_version: str, body: Mapping[str, Any],
                 arm_endpoint: Optional[pulumi.Input[str]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(VersionedTemplateProvider(), name, {
            "subscription_id": subscription_id, "resource_group_name": resource_group_name,
            "image_template_name": image_template_name, "api_version": api_version, "arm_endpoint": arm_endpoint,
            "body": pulumi.Output.secret(dict(body)), "name": image_template_name,
        }, opts)


def whole_numbers(value: Any) -> Any:
    """The engine carries every number as a float; ARM's integers (buildTimeoutInMinutes, replicaCount) go as
    integers, as azure-native sends them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [whole_numbers(v) for v in value]
    return value


def template_body(rendered: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT body of a rendered template document: what ARM takes beside the name, type and api-version."""
    return {k: rendered[k] for k in ("location", "tags", "identity", "properties") if rendered.get(k) is not None}
