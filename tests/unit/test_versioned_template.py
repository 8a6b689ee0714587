"""The template at an api-version azure-native cannot create: one PUT at the document's own version, never another."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

import pytest
from azure.core.exceptions import ResourceNotFoundError

from components.providers import versioned_template
from components.providers.versioned_template import VersionedTemplateProvider, template_body, whole_numbers

PROPS = {"subscription_id": "sub", "resource_group_name": "rg", "image_template_name": "one-0123456789",
         "api_version": "2025-10-01", "arm_endpoint": None,
         "body": {"location": "westeurope", "properties": {"buildTimeoutInMinutes": 60.0}}}


class FakeTemplates:
    def __init__(self, existing: Optional[dict] = None) -> None:
        self.existing = existing
        self.put: list[tuple[str, str, Any]] = []

    def get(self, rg: str, name: str) -> Any:
        if self.existing is None:
            raise ResourceNotFoundError("gone")
        return SimpleNamespace(id=self.existing["id"])

    def begin_create_or_update(self, rg: str, name: str, body: Any) -> Any:
        self.put.append((rg, name, body))
        return SimpleNamespace(result=lambda: SimpleNamespace(id=f"/x/{rg}/imageTemplates/{name}"))


@pytest.fixture
def templates(monkeypatch) -> FakeTemplates:
    fake = FakeTemplates()

    class Client:
        virtual_machine_image_templates = fake

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False
    monkeypatch.setattr(versioned_template, "_client", lambda props, quick=False: Client())
    return fake


def test_create_puts_the_body_once_with_whole_numbers_as_integers(templates):
    created = VersionedTemplateProvider().create(dict(PROPS))
    [(rg, name, body)] = templates.put
    assert (rg, name) == ("rg", "one-0123456789") and created.id.endswith("/imageTemplates/one-0123456789")
    assert body["properties"]["buildTimeoutInMinutes"] == 60 and isinstance(body["properties"]["buildTimeoutInMinutes"], int)
    assert created.outs["name"] == "one-0123456789" and "body" not in created.outs


def test_a_template_already_there_under_the_digest_name_is_taken_not_put_again(templates):
    templates.existing = {"id": "/x/rg/imageTemplates/one-0123456789"}
    created = VersionedTemplateProvider().create(dict(PROPS))
    assert templates.put == [] and created.id == "/x/rg/imageTemplates/one-0123456789"


def test_only_names_and_the_api_version_replace_nothing_else_is_sent_again():
    provider = VersionedTemplateProvider()
    olds = {k: PROPS[k] for k in versioned_template.KEYS}
    assert not provider.diff("id", olds, {**PROPS, "body": {"tags": {"new": "tag"}}}).changes
    renamed = provider.diff("id", olds, {**PROPS, "image_template_name": "one-fedcba9876"})
    assert renamed.replaces == ["image_template_name"] and renamed.delete_before_replace is False
    assert provider.diff("id", olds, {**PROPS, "api_version": "2026-01-01"}).replaces == ["api_version"]


def test_refresh_drops_a_template_deleted_outside(templates):
    assert VersionedTemplateProvider().read("id", dict(PROPS)).id == ""
    templates.existing = {"id": "id"}
    assert VersionedTemplateProvider().read("id", dict(PROPS)).id == "id"


def test_the_body_is_what_arm_takes_beside_name_type_and_api_version():
    rendered = {"type": "Microsoft.VirtualMachineImages/imageTemplates", "apiVersion": "2025-10-01", "name": "n",
                "location": "westeurope", "tags": {"a": "b"}, "identity": {"type": "UserAssigned"},
                "properties": {"source": {}}}
    assert template_body(rendered) == {k: rendered[k] for k in ("location", "tags", "identity", "properties")}
    assert whole_numbers({"a": [1.0, 1.5, True]}) == {"a": [1, 1.5, True]}
