"""An independent judge of ARM request bodies: the official definitions, not our code, say what a body may hold.

`problems(resource_type, api_version, body, method)` checks one body against the definition of that type and
api-version in `tests/fixtures/arm-definitions/` (written by `tools/arm_definitions.py` from Microsoft's generated
`azure-mgmt-*` models, which come from the REST API specs): properties the definition does not have at that path,
JSON types that differ, required properties left out, read-only properties sent in a PUT or PATCH, and discriminator
values (a customizer's `type`, a trigger's `kind`) the definition does not know. It returns every problem, each as
`<path in body>: <problem>`; a type or api-version without a definition raises `NoDefinition`.

Enum values are not judged (ARM enums are extensible: the service, not the spec, decides), nor are value formats.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

DEFINITIONS = Path(__file__).resolve().parent / "fixtures" / "arm-definitions"
WRITES = ("PUT", "PATCH")
_JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
               "map": (dict,), "object": (dict,)}


class NoDefinition(LookupError):
    """No official definition of this resource type at this api-version (or of this method's body)."""


@lru_cache(maxsize=None)
def _index() -> dict[tuple[str, str], Path]:
    found = {}
    for path in DEFINITIONS.rglob("*.json"):
        resource_type = "/".join(path.relative_to(DEFINITIONS).parts[:-1])
        found[resource_type.lower(), path.stem.lower()] = path
    return found


@lru_cache(maxsize=None)
def definition(resource_type: str, api_version: str) -> dict:
    path = _index().get((resource_type.lower(), api_version.lower()))
    if path is None:
        known = sorted(v for t, v in _index() if t == resource_type.lower())
        raise NoDefinition(f"no definition of {resource_type} at api-version {api_version!r}"
                           + (f" (definitions exist for {', '.join(known)})" if known else ""))
    return json.loads(path.read_text())


def known() -> list[tuple[str, str]]:
    """Every (resource type, api-version) with a definition."""
    return sorted((json.loads(p.read_text())["resourceType"], json.loads(p.read_text())["apiVersion"])
                  for p in _index().values())


def arm_type(path: str) -> Optional[str]:
    """The resource type a request path addresses (`Microsoft.Compute/galleries/images`), or None when the path is
    no resource (a collection, an action, something outside ARM)."""
    parts = [p for p in path.split("?")[0].strip("/").split("/") if p]
    lower = [p.lower() for p in parts]
    if "providers" in lower:
        at = len(lower) - 1 - lower[::-1].index("providers")
        namespace, rest = parts[at + 1:at + 2], parts[at + 2:]
        if not namespace or not rest or len(rest) % 2:
            return None
        return "/".join([namespace[0], *rest[0::2]])
    if len(parts) == 4 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
        return "Microsoft.Resources/resourceGroups"
    return None


def problems(resource_type: str, api_version: str, body: Any, method: str = "PUT") -> list[str]:
    """Every way `body` (a request body, or with method="GET" a response body) differs from the definition."""
    document = definition(resource_type, api_version)
    method = method.upper()
    schema = document["bodies"].get("PUT" if method == "GET" else method)
    if schema is None:
        raise NoDefinition(f"{resource_type} {api_version}: the definition has no {method} body "
                           f"(it has {', '.join(document['bodies'])})")
    found: list[str] = []
    _Walk(document["definitions"], method, found).check(schema, body, "")
    return found


class _Walk:
    def __init__(self, definitions: dict, method: str, found: list[str]):
        self.definitions = definitions
        self.method = method
        self.found = found

    def problem(self, path: str, text: str) -> None:
        self.found.append(f"{path or '(body)'}: {text}")

    def check(self, schema: dict, value: Any, path: str, owner: str = "object") -> None:
        if value is None:  # JSON null: the property is absent (required ones are reported by their object)
            return
        if "$ref" in schema:
            return self.check_object(self.definitions[schema["$ref"]], value, path)
        kind = schema.get("type", "any")
        if kind == "any":
            return
        expected = _JSON_TYPES[kind]
        if not isinstance(value, expected) or isinstance(value, bool) and bool not in expected:
            self.problem(path, f"must be {_article(kind)}, but {_json_type(value)} {_short(value)} was sent")
            return
        if kind == "array":
            for i, item in enumerate(value):
                self.check(schema["items"], item, f"{path}[{i}]")
        elif kind == "map":
            for key, item in value.items():
                self.check(schema["values"], item, _join(path, key) if re.fullmatch(r"\w+", key) else
                           f"{path}[{json.dumps(key)}]")
        elif kind == "object":
            self.check_object(schema, value, path, owner)

    def check_object(self, schema: dict, value: Any, path: str, owner: str = "object") -> None:
        name = schema.get("model") or owner  # a flattened `properties` is named after its model
        if not isinstance(value, dict):
            self.problem(path, f"must be an object ({name}), but {_json_type(value)} {_short(value)} was sent")
            return
        if "discriminator" in schema:
            tag = schema["discriminator"]
            variant = value.get(tag)
            if variant is not None:
                if variant not in schema["variants"]:
                    self.problem(_join(path, tag), f"unknown {tag} {variant!r} of {name} (known: "
                                                   f"{', '.join(sorted(schema['variants']))})")
                    return
                schema = self.definitions[schema["variants"][variant]]
                name = schema.get("model") or name
        properties: dict = schema.get("properties") or {}
        for key, item in value.items():
            where = _join(path, key)
            if key not in properties:
                self.problem(where, f"not a property of {name} (its properties: {', '.join(properties)})")
                continue
            sub = properties[key]
            if sub.get("readOnly") and self.method in WRITES and item is not None:
                self.problem(where, f"read-only in {name}: the service sets it, a {self.method} must not send it")
                continue
            self.check(sub, item, where, f"{name}.{key}")
        for key, sub in properties.items():
            if sub.get("required") and not sub.get("readOnly") and value.get(key) is None:
                self.problem(_join(path, key), f"required by {name}, but missing")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _article(kind: str) -> str:
    return {"integer": "an integer", "array": "an array", "object": "an object", "map": "an object (a map)"}.get(
        kind, f"a {kind}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
