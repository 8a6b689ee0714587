"""Where a project keeps its stacks' files and what they say, read with nothing but YAML (no spec models, no SDK):
the local engine reads them on every command, before the CLI starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import yaml


def stack_file(project_dir: Path, stack: str) -> Path:
    """`<stackConfigDir>/Pulumi.<stack>.yaml` of the project in `project_dir` (which need not exist)."""
    project_doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    return project_dir / str(project_doc.get("stackConfigDir") or ".") / f"Pulumi.{stack}.yaml"


def known_stacks(config_dir: Path) -> list[str]:
    """The stacks whose files `config_dir` holds (`Pulumi.<stack>.yaml`), sorted."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in config_dir.glob("Pulumi.*.yaml"))


def stack_config(project_dir: Path, stack: str, config_file: Optional[Path] = None
                 ) -> tuple[str, dict[str, Any], Path]:
    """Project name, the stack file's `config:` mapping (`config_file`, else the project's
    `<stackConfigDir>/Pulumi.<stack>.yaml`), and that file's path."""
    project_doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    project = str(project_doc.get("name") or project_dir.name)
    path = Path(config_file) if config_file is not None else stack_file(project_dir, stack)
    doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    # Project-level config (plain values, `value:` or a declaration's `default:`) applies under the stack's, as the
    # CLI would apply it.
    merged: dict[str, Any] = {}
    for key, value in (project_doc.get("config") or {}).items():
        if isinstance(value, Mapping) and ("default" in value or "value" in value or "type" in value):
            if "value" in value or "default" in value:
                merged[key] = value.get("value", value.get("default"))
        else:
            merged[key] = value
    doc = doc or {}
    # A whole stack file has `config:`; `import-arm` output is the bare `aib-images:` keys.
    merged.update(doc.get("config") or {} if "config" in doc else doc)
    return project, merged, path
