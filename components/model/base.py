"""The one base model every spec section derives from.

AIB template keys are camelCase; the Python API is snake_case. The alias generator maps one to the
other, so a seed document parses as-is and Python callers use snake_case. Unknown keys are refused
(the 2024-02-01 service refuses them too), models are frozen so a validated spec cannot drift, and
attribute docstrings become field descriptions (they feed `python -m components schema`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        use_attribute_docstrings=True,
        str_strip_whitespace=False,
    )

    def to_aib(self) -> dict[str, Any]:
        """The section as AIB JSON: camelCase keys, unset optional fields left out."""
        section: dict[str, Any] = _discriminator_first(
            self.model_dump(mode="json", by_alias=True, exclude_none=True))
        return section


def _discriminator_first(value: Any) -> Any:
    """Put `type`/`scheme` first in every object, as the template reference writes them."""
    if isinstance(value, list):
        return [_discriminator_first(v) for v in value]
    if isinstance(value, dict):
        head = {k: value[k] for k in ("type", "scheme") if k in value}
        return {**head, **{k: _discriminator_first(v) for k, v in value.items() if k not in head}}
    return value
