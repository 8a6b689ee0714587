"""Promotion checks what it promotes: the lifecycle provider's `check` refuses a version that is not of this image's
definition, or (taken from another stack) not of the definition that stack builds for this image or not validated
there. Through the provider's own `check`, with the record the stack program builds from a StackReference."""

from __future__ import annotations

import pytest

from components.providers.build_run.inputs import UNKNOWN
from components.providers.lifecycle.provider import ImageVersionLifecycleProvider

DEF = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/galleries/"
       "gal/images/win2022")
OTHER_DEF = DEF.replace("/images/win2022", "/images/ubuntu-2204")
VERSION = f"{DEF}/versions/1.0.3"


def _check(promote, definition: str = DEF):
    news = {"image_definition_id": definition, "promotion_mode": "manual", "promote_version_id": promote}
    result = ImageVersionLifecycleProvider().check({}, news)
    return result.inputs, [f.reason for f in result.failures or []]


def _record(**over):
    return {"version_id": VERSION, "image_definition_id": DEF, "validated": True, "stack": "org/aib-images/dev",
            "output": "win2022.imageVersionId", **over}


def test_a_validated_version_of_this_definition_from_another_stack_is_accepted_and_split():
    inputs, failures = _check(_record())
    assert failures == []
    assert inputs["promote_version_id"] == VERSION and inputs["promotion_source"]["stack"] == "org/aib-images/dev"


@pytest.mark.parametrize("record,words", [
    (_record(validated=False), "does not report"),
    (_record(validated=None), "does not report"),
    (_record(image_definition_id=None), "exports no imageDefinitionId"),
    (_record(version_id=f"{OTHER_DEF}/versions/1.0.3"), "belongs to"),            # not what that stack builds here
    (_record(version_id=f"{OTHER_DEF}/versions/1.0.3", image_definition_id=OTHER_DEF), "not this image's definition"),
    (_record(version_id="1.0.3"), "must be a gallery image version id"),
])
def test_a_version_from_another_stack_is_refused_with_a_clear_message(record, words):
    _, failures = _check(record)
    assert len(failures) >= 1 and all(f.startswith("promote_version_id: cannot promote: ") for f in failures)
    assert any(words in f for f in failures), failures
    assert any("org/aib-images/dev" in f for f in failures) or "version id" in words


def test_a_literal_version_of_another_definition_is_refused():
    assert _check(VERSION)[1] == []
    _, failures = _check(f"{OTHER_DEF}/versions/2.0.0")
    assert failures and "not of this image's definition" in failures[0] and "change nothing here" in failures[0]


@pytest.mark.parametrize("promote", [None, UNKNOWN, _record(version_id=None), _record(validated=UNKNOWN)])
def test_nothing_to_check_or_unknown_at_preview_is_not_refused(promote):
    assert _check(promote)[1] == []
