"""Tags of an image template, applied with PATCH so the service never sees a PUT on an existing template.

AIB rejects any PUT to an existing image template, and azure-native updates with PUT. The pipeline therefore puts
every non-PATCHable field into the template's name (a content hash) and ignores tag changes on the template resource;
this dynamic resource carries the tags instead and applies them with `begin_update` (PATCH), which the service allows
in place. The provider class lives in this importable module because dynamic providers are pickled by reference: the
module path and class name are part of the stack's state. It holds no client or credential; each method builds its
client through `components.providers.arm_client` from its inputs.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

#: Inputs whose change means "PATCH again" (all of them; nothing here is ever replaced).
KEYS = ("subscription_id", "resource_group_name", "image_template_name", "tags", "api_version", "arm_endpoint")


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: props.get(k) for k in KEYS}


def _client(props: Mapping[str, Any], *, quick: bool = False) -> Any:
    from components.providers import arm_client

    return arm_client.template_client(props, quick=quick)


class TemplateTagsProvider(ResourceProvider):
    """PATCHes `tags` onto an image template; delete leaves the template's tags alone (the template may be gone)."""

    serialize_as_secret_always = False

    def _patch(self, props: Mapping[str, Any]) -> None:
        from azure.mgmt.imagebuilder.models import ImageTemplateUpdateParameters

        with _client(props) as client:
            client.virtual_machine_image_templates.begin_update(
                props["resource_group_name"], props["image_template_name"],
                ImageTemplateUpdateParameters(tags=dict(props.get("tags") or {})),
            ).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._patch(props)
        return CreateResult(f"{props['resource_group_name']}/{props['image_template_name']}", _inputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in KEYS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._patch(news)
        return UpdateResult(_inputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the template's tags as they are now (the next ``up`` PATCHes the declared ones back), or gone
        with the template. One quick GET: ``read`` holds one of the provider host's four threads."""
        from azure.core.exceptions import ResourceNotFoundError

        with _client(props, quick=True) as client:
            try:
                template = client.virtual_machine_image_templates.get(props["resource_group_name"],
                                                                      props["image_template_name"])
            except ResourceNotFoundError:
                return ReadResult("", {})
        return ReadResult(id_, {**_inputs(props), "tags": dict(template.tags or {})})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing to undo: the tags belong to the template, which is either kept (tags stay) or deleted with them.
        return None


class TemplateTags(Resource, module="aib", name="TemplateTags"):
    """The tags of one image template, applied in place with PATCH."""

    tags: pulumi.Output[Optional[dict]]

    def __init__(self, name: str, *, subscription_id: pulumi.Input[str], resource_group_name: pulumi.Input[str],
                 image_template_name: pulumi.Input[str], tags: pulumi.Input[Mapping[str, str]],
                 api_version: str, arm_endpoint: Optional[pulumi.Input[str]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TemplateTagsProvider(), name, {
            "subscription_id": subscription_id, "resource_group_name": resource_group_name,
            "image_template_name": image_template_name, "tags": tags, "api_version": api_version,
            "arm_endpoint": arm_endpoint,
        }, opts)
