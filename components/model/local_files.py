"""Repository files named by steps (`script`, `sourceFile`): checked against the disk, hashed, and named as blobs.

A template may run a script or copy a file that lives next to the stack in the repository. Paths are relative to the
project folder (the one holding `Pulumi.yaml`), use '/' and may not leave it. `resolve_template` checks every such path
(missing, a directory, larger than the File customizer's 20 MB, outside the project folder) with the path the user
wrote (`images.web.template.properties.customize[0].script`), reports every problem at once as a `SpecError`, and
returns the spec with each step's `sha256Checksum` filled (or checked, when the config pins one) plus one
`LocalAsset` per distinct file. The blob name carries the content hash (`<sha256>/<file name>`), so an edited script
is a new blob, a new `scriptUri` in the rendered template, and therefore a new template; an unchanged one changes
nothing. Only reading and hashing happen here: uploading is the pipeline's (`components/declare/scripts.py`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Optional, Sequence

from components.model.customizers import FileFields, ScriptStep
from components.model.errors import Issue, SpecError, join_path
from components.model.models import ImageTemplateSpec

FILE_LIMIT_BYTES = 20 * 1024 * 1024
"""The File customizer downloads files of at most 20 MB (template reference)."""


@dataclass(frozen=True)
class LocalAsset:
    """One repository file to upload: where it is, what it hashes to, and its blob name."""

    path: str
    """The path as written in the config, normalised (`scripts/linux/setup.sh`)."""
    absolute_path: str
    """Where the file is on this machine."""
    sha256: str
    """Lower-case hex SHA-256 of the content."""
    size: int
    config_paths: tuple[str, ...]
    """Every config path naming this file (`images.web.template.properties.customize[0].script`)."""

    @property
    def blob_name(self) -> str:
        return blob_name(self.sha256, self.path)


def blob_name(sha256: str, path: str) -> str:
    """`<sha256>/<file name>`: content-addressed, so a changed file never overwrites the blob an older template uses."""
    return f"{sha256.lower()}/{PurePosixPath(path).name}"


def local_steps(spec: ImageTemplateSpec) -> Iterator[tuple[str, str, Any]]:
    """(path of the step, field alias, step) for every customizer and validator that names a repository file."""
    props = spec.properties
    sections = [("properties.customize", props.customize or []),
                ("properties.validate.inVMValidations",
                 (props.validate_.in_vm_validations or []) if props.validate_ else [])]
    for section, steps in sections:
        for i, step in enumerate(steps):
            if isinstance(step, ScriptStep) and step.script is not None:
                yield f"{section}[{i}]", "script", step
            elif isinstance(step, FileFields) and step.source_file is not None:
                yield f"{section}[{i}]", "sourceFile", step


def has_local_files(spec: ImageTemplateSpec) -> bool:
    return next(local_steps(spec), None) is not None


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check(project: Path, written: str, is_file_step: bool) -> tuple[Optional[Path], Optional[tuple[str, str]]]:
    """(the file, None) or (None, (problem, hint))."""
    if os.path.isabs(written) or PurePosixPath(written).is_absolute() or "\\" in written:
        return None, (f"{written!r} must be a path relative to the project folder, with '/' separators",
                      "write it like scripts/setup.sh")
    candidate = project / written
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        return None, (f"{written!r} cannot be read: {exc}", "")
    if resolved != project and project not in resolved.parents:
        return None, (f"{written!r} is outside the project folder {str(project)!r}",
                      "keep scripts and files inside the repository, next to the stack")
    if not resolved.exists():
        return None, (f"{written!r} does not exist (looked for {str(resolved)!r})",
                      "check the path; it is relative to the project folder, not to the stack file")
    if resolved.is_dir():
        return None, (f"{written!r} is a directory, not a file", "name one file; a File step copies exactly one")
    size = resolved.stat().st_size
    if is_file_step and size > FILE_LIMIT_BYTES:
        return None, (f"{written!r} is {size / 1024 / 1024:.1f} MB; the File customizer takes at most 20 MB",
                      "download large files from a script instead, or split them")
    return resolved, None


def resolve_template(spec: ImageTemplateSpec, project_dir: str | Path, *, prefix: str = ""
                     ) -> tuple[ImageTemplateSpec, list[LocalAsset]]:
    """`spec` with the checksum of every repository file filled in, and the files to upload.

    Raises `SpecError` listing every bad path (under `prefix`, e.g. `images.web.template`) and every pinned
    `sha256Checksum` the file no longer matches.
    """
    project = Path(project_dir).resolve()
    issues: list[Issue] = []
    assets: dict[str, LocalAsset] = {}
    updates: dict[tuple[str, int], Any] = {}
    for step_path, key, step in local_steps(spec):
        written: str = step.local_file
        where = join_path(prefix, f"{step_path}.{key}")
        found, problem = _check(project, written, isinstance(step, FileFields))
        if problem is not None:
            issues.append(Issue(where, *problem))
            continue
        assert found is not None
        digest = sha256_of(found)
        if step.sha256_checksum and step.sha256_checksum.lower() != digest:
            issues.append(Issue(join_path(prefix, f"{step_path}.sha256Checksum"),
                                f"pins {step.sha256_checksum!r}, but {written!r} hashes to {digest!r}",
                                "remove sha256Checksum (it is computed from the file), or restore the file"))
            continue
        normal = found.relative_to(project).as_posix()
        previous = assets.get(normal)
        assets[normal] = LocalAsset(normal, str(found), digest, found.stat().st_size,
                                    (*(previous.config_paths if previous else ()), where))
        section, _, index = step_path.rpartition("[")
        updates[(section, int(index.rstrip("]")))] = step.model_copy(
            update={"sha256_checksum": digest, key_field(key): normal})
    if issues:
        raise SpecError(issues)
    return _with_steps(spec, updates), sorted(assets.values(), key=lambda a: a.path)


def key_field(alias: str) -> str:
    return {"script": "script", "sourceFile": "source_file"}[alias]


def _with_steps(spec: ImageTemplateSpec, updates: dict[tuple[str, int], Any]) -> ImageTemplateSpec:
    if not updates:
        return spec
    props = spec.properties
    customize = [updates.get(("properties.customize", i), s) for i, s in enumerate(props.customize or [])]
    validate = props.validate_
    if validate is not None and validate.in_vm_validations:
        checks = [updates.get(("properties.validate.inVMValidations", i), s)
                  for i, s in enumerate(validate.in_vm_validations)]
        validate = validate.model_copy(update={"in_vm_validations": checks})
    props = props.model_copy(update={"customize": customize if props.customize is not None else None,
                                     "validate_": validate})
    return spec.model_copy(update={"properties": props})


def resolve_images(images: Sequence[tuple[str, ImageTemplateSpec]], project_dir: str | Path
                   ) -> tuple[dict[str, ImageTemplateSpec], dict[str, list[LocalAsset]], list[Issue]]:
    """Resolve several images' templates (by image name); problems of all of them are collected, not raised."""
    specs: dict[str, ImageTemplateSpec] = {}
    assets: dict[str, list[LocalAsset]] = {}
    issues: list[Issue] = []
    for name, spec in images:
        try:
            specs[name], assets[name] = resolve_template(spec, project_dir, prefix=f"images.{name}.template")
        except SpecError as exc:
            issues += exc.issues
    return specs, assets, issues
