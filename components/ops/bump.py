"""`bump-trigger`: set `rebuildTrigger` of images in a stack file, keeping every comment and the layout.

A scheduled pipeline (monthly patching) calls this instead of anyone editing templates by hand: a changed
`rebuildTrigger` makes the next `pulumi up` build the same template again, which picks up the newest platform image
and packages. The file is edited with ruamel.yaml's round-trip mode, so comments, key order, quoting and the
`# yaml-language-server` line survive and the pull request shows a one-line diff per image. The edited document is
validated like `validate` would before it is written: a bump never leaves an invalid stack file behind.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from components.model.errors import Issue, SpecError
from components.model.stack import PROJECT, config_from_stack_file, parse_stack_config, project_name


def images_key(project: str = PROJECT) -> str:
    """The stack-file key of the images: the project's config namespace (Pulumi.yaml `name`), then `images`."""
    return f"{project}:images"


@dataclass(frozen=True)
class Bump:
    stack_file: Path
    image: str
    old: Optional[str]
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines (gallery ids, URLs)
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def bump_text(text: str, value: str, images: Optional[Sequence[str]] = None, *,
              source: str = "", project: str = PROJECT) -> tuple[str, list[tuple[str, Optional[str]]]]:
    """`text` (a stack file) with `rebuildTrigger: value` on `images` (default: every image); and each image's old
    value. Raises `SpecError` for an unknown image name or when the result would not validate."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if not value.strip():
        raise SpecError([Issue("rebuildTrigger", "the new value is empty", "pass --value, for example 2026-12")], source)
    yaml = _yaml()
    doc = yaml.load(text)
    config = (doc or {}).get("config") if hasattr(doc, "get") else None
    key = images_key(project)
    all_images = config.get(key) if config is not None and hasattr(config, "get") else None
    if not all_images or not hasattr(all_images, "items"):
        raise SpecError([Issue(f"config.{key}", "no images in this stack file")], source)
    names = list(images) if images else list(all_images)
    unknown = [n for n in names if n not in all_images]
    if unknown:
        raise SpecError([Issue(f"config.{key}.{n}", f"no image {n!r}", f"known: {', '.join(all_images)}")
                         for n in unknown], source)
    previous: list[tuple[str, Optional[str]]] = []
    for name in names:
        image = all_images[name]
        old = image.get("rebuildTrigger")
        previous.append((name, None if old is None else str(old)))
        # Quoted, so a value like 2026-12 or 1.10 stays a string in YAML (the model wants a string).
        quoted = DoubleQuotedScalarString(value)
        if "rebuildTrigger" in image:
            image["rebuildTrigger"] = quoted
        else:  # a new key goes before `template`, where a reader of the image looks for its options
            keys = list(image)
            image.insert(keys.index("template") if "template" in keys else len(keys), "rebuildTrigger", quoted)
    out = io.StringIO()
    yaml.dump(doc, out)
    new_text = out.getvalue()
    import yaml as pyyaml

    parse_stack_config(config_from_stack_file(pyyaml.safe_load(new_text), project), source=source)
    return new_text, previous


def default_value(now: Optional[datetime] = None) -> str:
    """The current UTC month, `YYYY-MM`: what a monthly patch run stamps."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m")


def stack_files(project_dir: Path, stacks: Sequence[str]) -> list[Path]:
    """`stacks/Pulumi.<name>.yaml` for each name; every stack file when `stacks` is empty."""
    folder = project_dir / "stacks"
    known = sorted(folder.glob("Pulumi.*.yaml"))
    if not stacks:
        return known
    paths = [folder / f"Pulumi.{name}.yaml" for name in stacks]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        names = ", ".join(p.name[len("Pulumi."):-len(".yaml")] for p in known) or "none"
        raise SpecError([], f"no stack file {', '.join(missing)} (known stacks: {names})")
    return paths


def bump(project_dir: Path, *, stacks: Sequence[str] = (), images: Sequence[str] = (), value: Optional[str] = None,
         dry_run: bool = False) -> list[Bump]:
    """Bump the selected images (default: all) of the selected stacks (default: all) to `value` (default: this
    month). Every file is edited and validated in memory first, so a bad name or an invalid result writes nothing."""
    value = value or default_value()
    project = project_name(project_dir)
    edits: list[tuple[Path, str, str, list[tuple[str, Optional[str]]]]] = []
    matched: set[str] = set()
    for path in stack_files(project_dir, stacks):
        text = path.read_text(encoding="utf-8")
        present = _image_names(text, project)
        selected = [i for i in images if i in present] if images else present
        matched.update(selected)
        if selected:
            new_text, previous = bump_text(text, value, selected, source=str(path), project=project)
            edits.append((path, text, new_text, previous))
    unmatched = [i for i in images if i not in matched]
    if unmatched:
        raise SpecError([], f"no image {', '.join(map(repr, unmatched))} in the selected stacks")
    done: list[Bump] = []
    for path, text, new_text, previous in edits:
        if not dry_run and new_text != text:
            path.write_text(new_text, encoding="utf-8")
        done += [Bump(path, name, old, value) for name, old in previous]
    return done


def _image_names(text: str, project: str) -> list[str]:
    import yaml as pyyaml

    doc = pyyaml.safe_load(text) or {}
    return list((doc.get("config") or {}).get(images_key(project)) or {})
