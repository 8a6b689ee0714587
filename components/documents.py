"""Read what a user points the CLI at: an AIB JSON template, an ARM deployment template, or a stack
config YAML (a whole `Pulumi.<stack>.yaml`, or the `aib-images:` keys `import-arm` prints).

Everything comes back as one validated `StackConfig` plus import notices, so `validate`, `render` and
`synth` treat the three kinds alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .arm.import_arm import ImportedTemplate, Notice, import_document
from .spec import Issue, SpecError
from .spec.stack import PROJECT, StackConfig, config_from_stack_file, parse_stack_config


@dataclass
class Loaded:
    stack: StackConfig
    kind: str
    """'template' (AIB or ARM JSON) or 'stack' (YAML)."""
    notices: list[Notice] = field(default_factory=list)


def read_structured(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([Issue("", f"cannot read the file: {exc.strerror}")], str(path)) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Issue("", f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")], str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except RecursionError:
        raise SpecError([Issue("", "nested too deeply to read")], str(path)) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else \
            f"line {mark.line + 1}" if mark else "?"
        raise SpecError([Issue("", f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} ({where}): "
                                   f"{getattr(exc, 'msg', None) or getattr(exc, 'problem', exc)}")], str(path)) from None


def stack_config_keys(doc: Any) -> dict:
    """The project's config keys from a stack file or from bare `aib-images:` keys."""
    if isinstance(doc, dict) and "config" in doc:
        return config_from_stack_file(doc)
    if isinstance(doc, dict) and any(str(k).startswith(PROJECT + ":") for k in doc):
        return config_from_stack_file({"config": doc})
    raise SpecError([Issue("", f"no '{PROJECT}:' keys found",
                           f"expected a Pulumi.<stack>.yaml with config: {PROJECT}:images, or import-arm output")])


def imported_as_config(imported: list[ImportedTemplate]) -> dict:
    """Stack config keys that reproduce imported templates (what `import-arm` prints).

    The template's identity becomes the pipeline's `identityId` (the pipeline then uses it rather than creating
    one), which also keeps the long resource id out of a YAML mapping key. A template that distributes to a gallery
    names one that exists already, so the gallery is imported as existing (`gallery.create: false`), never as one to
    create in the deployer's subscription.
    """
    images = {}
    for item in imported:
        template = item.spec.to_aib()
        for key in ("type", "apiVersion", "name", "identity"):
            template.pop(key, None)
        if not template.get("allowHttpUris"):
            template.pop("allowHttpUris", None)
        image: dict[str, Any] = {"template": template}
        if any(d.get("type") == "SharedImage" for d in template.get("properties", {}).get("distribute") or []):
            image = {"gallery": {"create": False}, **image}
        if item.spec.identity is not None:
            image = {"identityId": item.spec.identity.identity_id, **image}
        images[item.name] = image
    return {f"{PROJECT}:images": images}


def project_root(path: Path) -> Path:
    """The project folder a config file belongs to: the nearest folder above it holding `Pulumi.yaml` (else the file's
    own folder). Repository files named by `script`/`sourceFile` are relative to it."""
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return start


def standalone_problems(imported: list[ImportedTemplate]) -> list[Issue]:
    """What a template given on its own (an AIB or ARM JSON file) lacks to be submitted: the service requires a
    user-assigned identity on every template; in a stack config the pipeline makes one (import-arm)."""
    return [Issue(f"{i.path}.identity" if i.path else "identity", "required for a template on its own (the service "
                  "builds with a user-assigned identity)",
                  "add the template identity, or import-arm it into a stack config (the pipeline makes one)")
            for i in imported if i.spec.identity is None or not i.spec.identity.identity_id]


def load(path: Path) -> Loaded:
    """Validate the file at `path` into a stack config; SpecError names the file and each path."""
    doc = read_structured(path)
    root = project_root(path)
    try:
        if path.suffix.lower() == ".json":
            imported = import_document(doc)
            if problems := standalone_problems(imported):
                raise SpecError(problems)
            keys = stack_config_keys(imported_as_config(imported))
            return Loaded(parse_stack_config(keys, project_dir=root), "template",
                          [n for i in imported for n in i.notices])
        return Loaded(parse_stack_config(stack_config_keys(doc), project_dir=root), "stack")
    except SpecError as exc:
        raise SpecError(exc.issues, str(path)) from None


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)
