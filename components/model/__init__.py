"""The typed AIB template spec: models, pre-flight rules and path-named errors.

`parse_template(data)` is the one door in: it validates a mapping (a stack config entry or an AIB
template's fields) into a frozen `ImageTemplateSpec`, or raises `SpecError` listing every problem.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import ValidationError

from components.model.errors import Issue, SpecError, from_validation_error
from components.model.models import DEFAULT_API_VERSION, KNOWN_API_VERSIONS, TEMPLATE_TYPE, ImageTemplateSpec
from components.model.rules import RuleContext, check_rules, check_warnings

__all__ = [
    "DEFAULT_API_VERSION", "KNOWN_API_VERSIONS", "TEMPLATE_TYPE", "ImageTemplateSpec", "Issue", "RuleContext",
    "SpecError", "check_warnings", "parse_template",
]


def parse_template(data: Any, *, source: str = "", context: RuleContext | None = None) -> ImageTemplateSpec:
    """Validate `data` into a spec; raise `SpecError` with every structural or rule problem (warnings, which never
    refuse a template, come from `check_warnings`)."""
    if not isinstance(data, Mapping):
        raise SpecError([Issue("", f"a template must be a mapping, not {type(data).__name__}")], source)
    try:
        spec = ImageTemplateSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(from_validation_error(exc, ImageTemplateSpec).issues, source) from None
    issues = check_rules(spec, context)
    if issues:
        raise SpecError(issues, source)
    return spec
