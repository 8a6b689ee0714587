"""JSON Schema of the stack config, so editors complete and check `stacks/Pulumi.*.yaml`, and the configuration
reference (`docs/configuration.md`) generated from the same schema, so neither drifts from the models.

Both derive from `StackConfig`'s pydantic schema: attribute docstrings become descriptions, `extra="forbid"` becomes
`additionalProperties: false`, discriminated unions keep their `type` mapping. Keys of the project's namespace that the
models do not know are refused (a typo such as `aib-images:resourceGroupname` is an error in the editor, as it is in
`validate`); other namespaces (`azure-native:location`) stay free.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from components.model.stack import PROJECT, StackConfig

SCHEMA_PATH = "schema/stack.schema.json"
REFERENCE_PATH = "docs/configuration.md"


def stack_file_schema(*, for_validators: bool = True) -> dict:
    """Schema of a whole `Pulumi.<stack>.yaml`: the project's keys under `config:`, typed by the models.

    `for_validators`: step unions as if-then (what editors and validators need); False keeps pydantic's discriminated
    `oneOf`, which the configuration reference reads to list each union's members."""
    config = StackConfig.model_json_schema(by_alias=True, mode="validation")
    if for_validators:
        config = steps_by_type(config)
    defs = config.pop("$defs", {})
    # In a stack file a template may leave `location` to `aib-images:location` (filled in before validation).
    template = defs.get("ImageTemplateSpec", {})
    template["required"] = [r for r in template.get("required", []) if r != "location"]
    properties = {f"{PROJECT}:{key}": as_cli_writes(value) for key, value in config.get("properties", {}).items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Pulumi stack config for aib-images",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                "required": [f"{PROJECT}:{k}" for k in config.get("required", [])],
                # Other namespaces (providers) are free; in ours only the keys above exist.
                "propertyNames": {"anyOf": [{"not": {"pattern": f"^{re.escape(PROJECT)}:"}},
                                            {"enum": sorted(properties)}]},
                "additionalProperties": True,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "$defs": defs,
    }


def steps_by_type(schema: Any) -> Any:
    """`schema` with each discriminated union (pydantic's `oneOf` + `discriminator`, a keyword of OpenAPI that JSON
    Schema validators ignore) as `if type is T then T's schema`: a mistake in a step is then reported inside that
    step's own schema (`customize/1: 'inlin' was unexpected`), not as "matches none of five" for the whole list."""
    if isinstance(schema, list):
        return [steps_by_type(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: steps_by_type(value) for key, value in schema.items()}
    mapping = (out.get("discriminator") or {}).get("mapping")
    if "oneOf" in out and mapping:
        field = out["discriminator"].get("propertyName", "type")
        out.pop("oneOf")
        out.pop("discriminator")
        out.update({"type": "object", "required": [field], "properties": {field: {"enum": sorted(mapping)}},
                    "allOf": [{"if": {"properties": {field: {"const": kind}}, "required": [field]},
                               "then": {"$ref": ref}} for kind, ref in sorted(mapping.items())]})
    return out


def as_cli_writes(schema: dict) -> dict:
    """A top-level key's schema that also takes what `pulumi config set KEY VALUE` writes: a string ("false", "90").
    The program reads such values as JSON, so both forms mean the same; values set with `--path` keep their type."""
    kind = schema.get("type")
    if kind == "boolean":
        return {**_without_type(schema), "anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}
    if kind == "integer":
        return {**_without_type(schema), "anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^-?\d+$"}]}
    return schema


def _without_type(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "type"}


def schema_text() -> str:
    """What `python -m components schema` prints (and `schema/stack.schema.json` holds)."""
    return json.dumps(stack_file_schema(), indent=2) + "\n"


# --- configuration reference -----------------------------------------------------------------------------------

_REF = "#/$defs/"


def _ref_name(ref: str) -> str:
    return ref[len(_REF):] if ref.startswith(_REF) else ref


def _link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _non_null(schema: dict) -> dict:
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **{k: v for k, v in merged.items() if k not in options[0]}}
    return schema


def _constraints(schema: dict) -> str:
    parts = []
    if "minimum" in schema and "maximum" in schema:
        parts.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        parts.append(f">= {schema['minimum']}")
    elif "maximum" in schema:
        parts.append(f"<= {schema['maximum']}")
    if schema.get("minLength"):
        parts.append("non-empty" if schema["minLength"] == 1 else f"at least {schema['minLength']} characters")
    if schema.get("minItems"):
        parts.append(f"at least {schema['minItems']} item{'s' * (schema['minItems'] != 1)}")
    if schema.get("minProperties"):
        parts.append(f"at least {schema['minProperties']} entr{'ies' if schema['minProperties'] != 1 else 'y'}")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    return f" ({', '.join(parts)})" if parts else ""


def _type(schema: dict) -> str:
    """A reader's name for a schema: scalar types, `list of`, `map of`, enums, links to model sections."""
    schema = _non_null(schema)
    if "$ref" in schema:
        return _link(_ref_name(schema["$ref"]))
    if "oneOf" in schema or "anyOf" in schema:
        mapping = (schema.get("discriminator") or {}).get("mapping")
        prop = (schema.get("discriminator") or {}).get("propertyName", "type")
        if mapping:
            return "one of " + ", ".join(f"`{prop}: {tag}` {_link(_ref_name(ref))}" for tag, ref in mapping.items())
        return " or ".join(_type(s) for s in schema.get("oneOf") or schema.get("anyOf") or [])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " or ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items') or {})}{_constraints(schema)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of string to {_type(values)}{_constraints(schema)}"
        return "object"
    return f"{kind or 'any'}{_constraints(schema)}"


def _default(name: str, schema: dict, required: list[str]) -> str:
    if name in required:
        return "required"
    if "default" not in schema and "$ref" in schema:
        return "its fields' defaults"
    if "default" not in schema or schema["default"] is None:
        return "none"
    return f"`{json.dumps(schema['default'])}`"


def _refs(schema: Any) -> Iterator[str]:
    """Every `$ref` under `schema`, in document order."""
    if isinstance(schema, dict):
        if isinstance(schema.get("$ref"), str):
            yield _ref_name(schema["$ref"])
        for key, value in schema.items():
            if key != "discriminator":
                yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def _table(properties: dict, required: list[str], key_prefix: str = "") -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, prop in properties.items():
        description = prop.get("description") or _non_null(prop).get("description") or ""
        lines.append(f"| `{key_prefix}{name}` | {_cell(_type(prop))} | {_cell(_default(name, prop, required))} | "
                     f"{_cell(description)} |")
    return lines


def configuration_reference() -> str:
    """`docs/configuration.md`: every key of a stack file, from the same models as the schema editors use (so it cannot
    drift)."""
    schema = stack_file_schema(for_validators=False)
    defs: dict[str, dict] = schema["$defs"]
    config = schema["properties"]["config"]
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m components docs -o docs/configuration.md` from the models in `components/model/`."
        " Do not edit: a test fails when this file is out of date. -->",
        "",
        f"A stack file `stacks/Pulumi.<stack>.yaml` holds these keys under `config:`, in the `{PROJECT}:` namespace."
        " Unknown keys are errors at every level. Each image's `template` is shaped like an Azure VM Image Builder"
        " template document, so the [template reference](https://aka.ms/azvmimagebuildertmplref) also applies;"
        " the sections below list what this project accepts and checks.",
        "",
        "Editors complete and check stack files with the JSON Schema in `schema/stack.schema.json` (see the README).",
        "",
        "## Stack keys",
        "",
        *_table({k.split(":", 1)[1]: v for k, v in config["properties"].items()},
                [r.split(":", 1)[1] for r in config.get("required", [])], key_prefix=f"{PROJECT}:"),
    ]
    # Sections in the order a reader meets them: breadth-first from the stack keys.
    order: list[str] = []
    queue = list(_refs(config["properties"]))
    while queue:
        name = queue.pop(0)
        if name in order or name not in defs:
            continue
        order.append(name)
        queue += list(_refs(defs[name].get("properties", {})))
    for name in order + sorted(set(defs) - set(order)):
        model = defs[name]
        lines += ["", f"### {name}", ""]
        if model.get("description"):
            lines += [" ".join(model["description"].split()), ""]
        lines += _table(model.get("properties", {}), model.get("required", []))
    return "\n".join(lines) + "\n"
