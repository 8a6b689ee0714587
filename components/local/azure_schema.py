"""The package schema the azure-native stand-in answers `GetSchema` with, derived from the installed azure-native SDK.

A YAML program is type-checked by its language host against each package's schema (pulumi-yaml, pkg/pulumiyaml
`typeResource` and `typePropertyEntries`: a resource type the schema does not list, a property it does not list or a
value of the wrong type is an error before anything runs). The real plugin embeds azure-native's schema.json; the
installed SDK (`pulumi_azure_native`, generated from that same schema by pulumi-language-python) ships no copy of it,
only its classes: `<Type>Args` (or `<Type>InitArgs`) and the input types of `_inputs.py` for the inputs, the resource
class and the `...Response` types of `outputs.py` for the outputs, each property's wire name in its
`@pulumi.getter(name=...)` and its type in the getter's annotation. This module reads them back into schema form, for
the types the stand-in serves (`arm_shapes.SHAPES`) and no others, so a program using a type the stand-in cannot
create fails at type-checking with the host's own message.

What the classes do not carry is left out rather than guessed: descriptions, secretness, defaults, enum values (an
enum input is `Union[str, <Enum>]` in the SDK: any string, which is what is written here), and the functions other
than `getClientConfig` (the only one a program of this project calls; the stand-in's `get<Type>` invokes are left
out).
"""

from __future__ import annotations

import collections.abc
import enum
import importlib
import inspect
import sys
import typing
from typing import Any

PACKAGE = "azure-native"

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
}
ANY = {"$ref": "pulumi.json#/Any"}


def _sdk_class(token: str) -> tuple[type, type]:
    """The SDK's resource class of `azure-native:<module>:<Type>` and its args class (`__all__` of its module)."""
    _, module, name = token.split(":")
    resource = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    defining = sys.modules[resource.__module__]
    args_name = next(n for n in getattr(defining, "__all__") if n != name and n.endswith("Args"))
    return resource, getattr(defining, args_name)


class SchemaBuilder:
    """Collects resources and the object types they reach."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def resource(self, token: str) -> dict[str, Any]:
        from pulumi import _types

        resource, args = _sdk_class(token)
        return {"inputProperties": self.properties(args),
                "requiredInputs": _required(args, _types.input_type_py_to_pulumi_names(args)),
                "properties": self.properties(resource)}

    def properties(self, cls: type) -> dict[str, Any]:
        """Wire name -> schema type of each `@pulumi.getter` of `cls`, its annotation resolved as the SDK resolves it
        (`pulumi._types._raw_return_hints`: the globals of the class's modules, where `outputs` and the input types
        are)."""
        from pulumi import _types

        return {wire: self.spec(hint) for wire, hint in _types._raw_return_hints(cls).items()}

    def spec(self, hint: Any) -> dict[str, Any]:
        """The schema type of an SDK annotation, with `Input`, `Output` and `Optional` taken off."""
        members = _members(hint)
        if not members:
            return dict(ANY)
        if all(m is str or (isinstance(m, type) and issubclass(m, enum.Enum)) for m in members):
            return {"type": "string"}  # Union[str, <Enum>]: the SDK takes any string
        if len(members) > 1:
            return {"oneOf": [self.spec(m) for m in members]}
        hint = members[0]
        if hint in _PRIMITIVES:
            return dict(_PRIMITIVES[hint])
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (list, collections.abc.Sequence) and args:
            return {"type": "array", "items": self.spec(args[0])}
        if origin in (dict, collections.abc.Mapping) and len(args) == 2:
            return {"type": "object", "additionalProperties": self.spec(args[1])}
        if isinstance(hint, type) and hint.__module__.startswith("pulumi_azure_native."):
            return {"$ref": f"#/types/{self._object_type(hint)}"}
        return dict(ANY)

    def _object_type(self, cls: type) -> str:
        """An input type (`<Name>Args` -> `azure-native:<module>:<Name>`) or an output type (`<Name>Response`)."""
        from pulumi import _types

        module = cls.__module__.split(".")[1]
        name = cls.__name__[:-len("Args")] if cls.__name__.endswith("Args") else cls.__name__
        token = f"{PACKAGE}:{module}:{name}"
        if token not in self.types:
            entry: dict[str, Any] = {"type": "object", "properties": {}}
            self.types[token] = entry  # before its properties: types may refer to themselves
            is_input = _types.is_input_type(cls)
            names = _types.input_type_py_to_pulumi_names(cls) if is_input else _types.resource_py_to_pulumi_names(cls)
            entry["properties"] = self.properties(cls)
            required = _required(cls, names)
            if required:
                entry["required"] = required
        return token


def _required(cls: type, names: dict[str, str]) -> list[str]:
    """The wire names of the parameters of `__init__` without a default (the SDK's required properties)."""
    parameters = inspect.signature(cls.__init__).parameters
    return sorted(wire for py, wire in names.items()
                  if py in parameters and parameters[py].default is inspect.Parameter.empty)


def _members(hint: Any) -> list[Any]:
    """The types a value of `hint` may be: `Output[T]`, `Awaitable[T]` (what `pulumi.Input[T]` adds to T) as T, without
    None."""
    import pulumi

    origin = typing.get_origin(hint)
    if origin is typing.Union:
        found: list[Any] = []
        for arg in typing.get_args(hint):
            found += [m for m in _members(arg) if m not in found]
        return found
    if origin in (pulumi.Output, typing.Awaitable, collections.abc.Awaitable):
        return _members(typing.get_args(hint)[0])  # the T of Input[T] (a Union of T, Awaitable[T], Output[T])
    if hint is type(None) or hint is pulumi.Output or hint is typing.Any:
        return []
    return [hint]


FUNCTIONS = {"azure-native:authorization:getClientConfig": "GetClientConfigResult"}
"""The functions in the schema, by their result class (no inputs): the one a program of this project calls."""


def package_schema(tokens: tuple[str, ...], version: str) -> str:
    """The schema JSON of the resources `tokens` and of `FUNCTIONS`, at the SDK's `version`."""
    import json

    builder = SchemaBuilder()
    resources = {token: builder.resource(token) for token in tokens}
    functions = {}
    for token, result in FUNCTIONS.items():
        cls = getattr(importlib.import_module(f"pulumi_azure_native.{token.split(':')[1]}"), result)
        functions[token] = {"outputs": {"type": "object", "properties": builder.properties(cls)}}
    return json.dumps({"name": PACKAGE, "version": version, "resources": resources, "types": builder.types,
                       "functions": functions})
