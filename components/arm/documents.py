"""Read what a user points the CLI at: an AIB JSON template, an ARM deployment template, or a stack
config YAML (a whole `Pulumi.<stack>.yaml`, or the `aib-images:` keys `import-arm` prints).

Everything comes back as one validated `StackConfig` plus import notices, so `validate`, `render` and
`synth` treat the three kinds alike.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from azure.mgmt.core.tools import parse_resource_id

from components.arm import jsonc
from components.arm.import_arm import ImportedTemplate, Notice, import_document
from components.arm.pinning import Pinner
from components.model import Issue, SpecError
from components.model.stack import PROJECT, StackConfig, config_from_stack_file, parse_stack_config, project_name


@dataclass
class Loaded:
    stack: StackConfig
    kind: str
    """'template' (AIB or ARM JSON) or 'stack' (YAML)."""
    notices: list[Notice] = field(default_factory=list)


def read_structured(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors) is not content
    except OSError as exc:
        raise SpecError([Issue(path.name, f"cannot read the file: {exc.strerror}")], str(path)) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Issue(path.name, f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")], str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            return jsonc.loads(text)  # ARM reads `//` and `/* */` comments in templates and parameters files
        return yaml.safe_load(text)
    except RecursionError:
        raise SpecError([Issue(path.name, "nested too deeply to read")], str(path)) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else \
            f"line {mark.line + 1}" if mark else "?"
        raise SpecError([Issue(path.name, f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} ({where}): "
                                   f"{getattr(exc, 'msg', None) or getattr(exc, 'problem', exc)}")], str(path)) from None


def stack_config_keys(doc: Any, project: str = PROJECT) -> dict:
    """The project's config keys (namespace `project`) from a stack file or from bare `<project>:` keys."""
    if isinstance(doc, dict) and "config" in doc:
        return config_from_stack_file(doc, project)
    if isinstance(doc, dict) and any(str(k).startswith(project + ":") for k in doc):
        return config_from_stack_file({"config": doc}, project)
    raise SpecError([Issue("", f"no '{project}:' keys found",
                           f"expected a Pulumi.<stack>.yaml with config: {project}:images, or import-arm output")])


def imported_as_config(imported: list[ImportedTemplate], project: str = PROJECT) -> dict:
    """Stack config keys that reproduce imported templates (what `import-arm` prints)."""
    return {f"{project}:images": {item.name: _image_config(item)[0] for item in imported}}


def _image_config(item: ImportedTemplate) -> tuple[dict, list[Notice]]:
    """One imported template as an image entry, with a notice for each choice made for it.

    The template's identity becomes the pipeline's `identityId` (the pipeline then uses it rather than creating
    one), which also keeps the long resource id out of a YAML mapping key. A template that distributes to a gallery
    names one that exists already, so the gallery is imported as existing (`gallery.create: false`), never as one to
    create in the deployer's subscription.
    """
    at = f"images.{item.name}"
    template = item.spec.to_aib()
    for key in ("type", "apiVersion", "name", "identity"):
        template.pop(key, None)
    if not template.get("allowHttpUris"):
        template.pop("allowHttpUris", None)
    image: dict[str, Any] = {"template": template}
    notices = [Notice(at, f"image name {item.name!r}, from the template's name" if item.named else
                      f"image name {item.name!r}, from the file's name (the template has none)")]
    targets = [d.get("galleryImageId", "") for d in template.get("properties", {}).get("distribute") or []
               if d.get("type") == "SharedImage"]
    declared = [d for d in (_declared_definition(item, target) for target in targets) if d is not None]
    if targets and len(declared) == len(targets):
        gallery, definition = _declared_gallery_config(declared[0])
        image = {"gallery": gallery, **image} if gallery else image
        settings = (f"gallery.imageDefinition from its declaration: {gallery['imageDefinition']}" if gallery else
                    "its identifier is known only at deployment, so gallery.imageDefinition keeps the defaults")
        notices.append(Notice(f"{at}.gallery.create", f"true: the deployment creates the gallery and image "
                                                      f"definition the template distributes to ({definition}); the "
                                                      f"stack creates them instead ({settings})"))
    elif targets:
        image = {"gallery": {"create": False}, **image}
        notices.append(Notice(f"{at}.gallery.create", "false: the gallery and image definition the template "
                                                      "distributes to exist already; the stack will not create them"))
    if item.spec.identity is not None:
        image = {"identityId": item.spec.identity.identity_id, **image}
        notices.append(Notice(f"{at}.identityId", "the template's identity, used as is (the pipeline creates none "
                                                  "and grants it the build's roles unless manageRoles: false)"))
    return image, notices


def _declared_definition(item: ImportedTemplate, gallery_image_id: str) -> Optional[tuple[str, dict]]:
    """(`gallery/definition`, its properties) when the document itself creates the gallery and image definition
    `gallery_image_id` names (e.g. AVM's azure-image-builder pattern); None when it does not (they exist already)."""
    try:
        parts = parse_resource_id(gallery_image_id)
    except (TypeError, ValueError):
        return None
    gallery, definition = str(parts.get("name") or "").lower(), str(parts.get("child_name_1") or "").lower()
    if not definition or gallery not in item.galleries:
        return None
    return f"{gallery}/{definition}", item.galleries.get(f"{gallery}/{definition}", {})


def _declared_gallery_config(declared: tuple[str, dict]) -> tuple[dict, str]:
    """`gallery:` settings that create the image definition as the document declares it (its identifier and OS
    state, where the document gives them), and the definition's name."""
    name, properties = declared
    found = properties.get("identifier")
    identifier: dict = found if isinstance(found, dict) else {}
    settings = {key: identifier[key] for key in ("publisher", "offer", "sku") if isinstance(identifier.get(key), str)}
    if properties.get("osState") in ("Generalized", "Specialized"):
        settings["osState"] = properties["osState"]
    return ({"imageDefinition": settings} if settings else {}), name


def import_notices(imported: list[ImportedTemplate], config: dict, *, pinner: Pinner,
                   project_dir: Path) -> list[Notice]:
    """Everything `import-arm` decided, and everything validate, synth or the policy pack would refuse or warn about
    later, as notices on the config paths of `config` (whose unpinned downloads `pinner` pins or reports)."""
    notices = [n for item in imported for n in item.notices]
    images = next(iter(config.values()))
    for item in imported:
        notices += _image_config(item)[1]
        template = images[item.name]["template"]
        notices += [Notice(p, m) for p, m in pinner.apply(template, f"images.{item.name}.template")]
        notices += policy_notices(template, f"images.{item.name}.template", project_dir)
    return notices + validation_notices(config, project_dir)


def validation_notices(config: dict, project_dir: Path) -> list[Notice]:
    """What `validate` (and every later verb) will say about the imported config: warnings, lints and refusals."""
    from components.model.lints import lint_stack
    from components.model.stack import stack_warnings

    try:
        stack = parse_stack_config(stack_config_keys(config, project_name(project_dir)), project_dir=project_dir)
    except SpecError as exc:
        return [Notice(i.path, f"validate will refuse this: {i.message}" + (f" (hint: {i.hint})" if i.hint else ""))
                for i in exc.issues]
    return [Notice(i.path, f"validate will warn: {i.message}" + (f" (hint: {i.hint})" if i.hint else ""))
            for i in [*stack_warnings(stack), *lint_stack(stack)]]


def policy_notices(template: dict, path: str, project_dir: Path) -> list[Notice]:
    """The policy pack's template rules (`policy/golden_image_rules.py`, with `policy/config.json`) run on one
    imported template, so a refusal at `pulumi preview --policy-pack` is known at import. Unpinned downloads
    (aib-pinned-downloads) are the `Pinner`'s notices."""
    rules = _policy_rules(project_dir)
    if rules is None:
        return [Notice(path, "the policy pack (policy/golden_image_rules.py) was not found; its rules were not checked")]
    settings = _policy_settings(project_dir)
    props = template.get("properties") or {}
    checks = {
        "aib-https-uris": rules.https_uri_problems(props),
        "aib-build-timeout": rules.build_timeout_problems(
            props, int(settings.get("aib-build-timeout", {}).get("maxMinutes", rules.DEFAULT_MAX_BUILD_MINUTES))),
        "aib-build-vm-identities": rules.build_vm_identity_problems(
            props, settings.get("aib-build-vm-identities", {}).get("allowedIdentities", ())),
        "aib-deprovision-kept": rules.deprovision_problems(props),
    }
    return [Notice(f"{path}.properties", f"the policy pack ({name}) will refuse this: {problem}")
            for name, problems in checks.items() for problem in problems]


def _policy_rules(project_dir: Path) -> Any:
    """The policy pack's rule functions, loaded from the project's file (the pack is no package of its own)."""
    path = project_dir / "policy" / "golden_image_rules.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("aib_policy_rules", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(path.parent))  # the pack's own modules (inline_commands), as the pack's __main__ finds them
    try:
        spec.loader.exec_module(module)
    except ImportError:  # pulumi-policy missing from this environment (AIB_LOCK=runtime)
        return None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _policy_settings(project_dir: Path) -> dict:
    settings = project_dir / "policy" / "config.json"
    try:
        return {k: v for k, v in json.loads(settings.read_text(encoding="utf-8")).items() if isinstance(v, dict)}
    except (OSError, ValueError):
        return {}


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
    project = project_name(root)
    try:
        if path.suffix.lower() == ".json":
            imported = import_document(doc, fallback_name=path.stem)
            if problems := standalone_problems(imported):
                raise SpecError(problems)
            keys = stack_config_keys(imported_as_config(imported, project), project)
            return Loaded(parse_stack_config(keys, project_dir=root), "template",
                          [n for i in imported for n in i.notices])
        return Loaded(parse_stack_config(stack_config_keys(doc, project), project_dir=root), "stack")
    except SpecError as exc:
        raise SpecError(exc.issues, str(path)) from None


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)
