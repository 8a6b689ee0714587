"""JSON Schema of the stack config, so editors complete and check `stacks/Pulumi.*.yaml`."""

from __future__ import annotations

from .spec.stack import PROJECT, StackConfig


def stack_file_schema() -> dict:
    """Schema of a whole `Pulumi.<stack>.yaml`: the project's keys under `config:`, typed by the models."""
    config = StackConfig.model_json_schema(by_alias=True, mode="validation")
    defs = config.pop("$defs", {})
    properties = {f"{PROJECT}:{key}": value for key, value in config.get("properties", {}).items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Pulumi stack config for aib-images",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                "required": [f"{PROJECT}:{k}" for k in config.get("required", [])],
                "additionalProperties": True,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "$defs": defs,
    }
