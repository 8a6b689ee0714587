"""The image config (`components.model.stack.ImageConfig`) as typed objects other Pulumi languages can use.

The SDK's component provider (`pulumi.provider.experimental`) infers the package schema from type annotations: typed
dicts, lists, `dict[str, T]`, `str`/`int`/`float`/`bool` and `Any`. It refuses unions other than `Optional[T]` and
knows no `Literal` or pydantic model. This module walks the pydantic models of the stack config and builds one
`TypedDict` per model, with the config's own camelCase keys (the schema keeps them as they are, so a YAML program
writes exactly what a stack file holds under `images.<name>`), so nothing is declared twice and a field added to the
model appears in the schema (and in `package/schema.json`'s test) without an edit here:

- a discriminated union (customizers, validators, distributors, sources, versioning) becomes one object carrying
  every member's fields, all optional; `type` (or `scheme`) picks the member, and the pydantic model checks the rest
  when the pipeline validates the config, as for a stack file;
- a `Literal` becomes its values' type (the allowed values are in the description);
- a constrained type (`Annotated[str, ...]`, the resource-id types) becomes its base type.

Every property is plain (no `Input[...]`): the pipeline computes its resource names from the config while the program
runs, so the config must be known then, as in a stack file. Descriptions are the models' attribute docstrings
(`DESCRIPTIONS`, applied to the schema by `__main__.ImagePipelineProvider`).
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import types
import typing
from typing import Any, Literal, NotRequired, Optional, TypedDict, Union, get_args, get_origin

from pydantic import BaseModel

from components.model.stack import ImageConfig

MODULE = __name__
TYPES: dict[str, type] = {}
"""Every generated TypedDict by schema type name."""
DESCRIPTIONS: dict[str, tuple[Optional[str], dict[str, str]]] = {}
"""Schema type name -> (the type's description, {property: description})."""
FILLED_IN = {("ImageTemplateSpec", "location")}
"""Required by the model but filled in before it validates, as in a stack file: the template's location defaults to
the stack's (here the component's `location` input)."""
_ORIGINS: dict[str, tuple[type, ...]] = {}
"""Schema type name -> the model(s) it was made from (a clash of names between different models is an error)."""


def typed_dict_of(model: type[BaseModel]) -> type:
    """The TypedDict for one pydantic model (memoised by name)."""
    return _build(model.__name__, (model,))


def _union_name(models: tuple[type[BaseModel], ...]) -> str:
    """The longest CamelCase-word suffix the members share: ShellCustomizer, FileCustomizer... -> Customizer."""
    words = [re.findall(r"[A-Z][a-z0-9]*", m.__name__) for m in models]
    suffix: list[str] = []
    for parts in zip(*(reversed(w) for w in words)):
        if len(set(parts)) != 1:
            break
        suffix.insert(0, parts[0])
    if not suffix:
        raise TypeError(f"no common name for the union of {[m.__name__ for m in models]}")
    return "".join(suffix)


def _build(name: str, models: tuple[type[BaseModel], ...]) -> type:
    if name in TYPES:
        if _ORIGINS[name] != models:
            raise TypeError(f"two config types would both be called {name}: {_ORIGINS[name]} and {models}")
        return TYPES[name]
    fields: dict[str, Any] = {}
    descriptions: dict[str, str] = {}
    # Reserve the name before the fields are converted, so a model that refers to itself terminates.
    placeholder = TypedDict(name, {}, total=False)  # type: ignore[operator]
    TYPES[name], _ORIGINS[name] = placeholder, models
    member_types: dict[str, list[Any]] = {}
    required_in: dict[str, int] = {}
    members_of: dict[str, list[str]] = {}
    for model in models:
        for field_name, info in model.model_fields.items():
            key = info.alias or field_name
            member_types.setdefault(key, []).append(_convert(info.annotation, f"{name}.{key}"))
            members_of.setdefault(key, []).append(_tag(model))
            if info.is_required() and (model.__name__, key) not in FILLED_IN:
                required_in[key] = required_in.get(key, 0) + 1
            text = _describe(info.description, info.annotation, len(models) > 1)
            if text and key not in descriptions:
                descriptions[key] = text
    for key, tags in members_of.items():
        if len(tags) < len(models):  # a field of some members only: say which
            descriptions[key] = f"({', '.join(tags)} only) {descriptions.get(key, '')}".rstrip()
    tag = _discriminator(models) if len(models) > 1 else None
    if tag is not None:
        # The member is chosen by this key: a union member has it with a default, the union needs it.
        required_in[tag] = len(models)
        descriptions[tag] = f"Which one: {', '.join(f'`{_tag(m)}`' for m in models)}."
    for key, kinds in member_types.items():
        kind = kinds[0] if all(k == kinds[0] for k in kinds) else Any
        fields[key] = kind if required_in.get(key, 0) == len(models) else NotRequired[kind]
    typed = TypedDict(name, fields)  # type: ignore[operator]
    typed.__module__ = MODULE
    TYPES[name] = typed
    doc = inspect.cleandoc(models[0].__doc__) if len(models) == 1 and models[0].__doc__ else None
    if len(models) > 1:
        doc = f"One of {', '.join(_tag(m) for m in models)}, chosen by `{_discriminator(models)}`."
    DESCRIPTIONS[name] = (doc, descriptions)
    return typed


def _tag(model: type[BaseModel]) -> str:
    for key in ("type", "scheme"):
        info = model.model_fields.get(key)
        if info is not None and get_origin(info.annotation) is Literal:
            return "/".join(str(v) for v in get_args(info.annotation))
    return model.__name__


def _discriminator(models: tuple[type[BaseModel], ...]) -> str:
    return "scheme" if all("scheme" in m.model_fields for m in models) else "type"


def _describe(text: Optional[str], annotation: Any, in_union: bool) -> Optional[str]:
    values = _literal_values(annotation)
    parts = [inspect.cleandoc(text)] if text else []
    if values and not in_union:
        parts.append("One of: " + ", ".join(f"`{v}`" for v in values) + ".")
    return " ".join(parts) or None


def _literal_values(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin in (Union, types.UnionType, typing.Annotated):
        return [v for a in get_args(annotation)[:1 if origin is typing.Annotated else None]
                for v in _literal_values(a)]
    return []


def _convert(annotation: Any, where: str) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _convert(get_args(annotation)[0], where)
    if origin in (Union, types.UnionType):
        members = tuple(a for a in get_args(annotation) if a is not type(None))
        if len(members) == 1:
            return _convert(members[0], where)
        if all(inspect.isclass(m) and issubclass(m, BaseModel) for m in members):
            return _build(_union_name(members), members)
        raise TypeError(f"{where}: a union of {members} has no typed form")
    if origin is Literal:
        kinds = {type(v) for v in get_args(annotation)}
        if len(kinds) != 1 or not kinds <= {str, int, float, bool}:
            raise TypeError(f"{where}: literal values of several types {kinds}")
        return kinds.pop()
    if origin in (list, tuple, typing.Sequence, collections.abc.Sequence):
        args = get_args(annotation)
        return list[_convert(args[0], where)]  # type: ignore[misc]
    if origin in (dict, typing.Mapping, collections.abc.Mapping):
        key, value = get_args(annotation)
        if _convert(key, where) is not str:
            raise TypeError(f"{where}: map keys must be strings")
        return dict[str, _convert(value, where)]  # type: ignore[misc]
    if annotation in (str, int, float, bool) or annotation is Any:
        return annotation
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return typed_dict_of(annotation)
    raise TypeError(f"{where}: {annotation!r} has no typed form")


ImageConfigArgs = typed_dict_of(ImageConfig)
"""The typed form of one `images.<name>` entry of a stack file."""
