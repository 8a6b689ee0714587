"""The `aib-images` component package: `aib-images:index:ImagePipeline` for programs in any Pulumi language.

Pulumi runs this folder as a plugin (`PulumiPlugin.yaml`, `runtime: python`): the language host starts
`python package/ <engine address>`, and the SDK's component provider (`pulumi.provider.experimental`) serves the
schema it infers from the annotations below and constructs `ImagePipeline` for the consumer's program. A program adds
it with `pulumi package add <this folder or its git URL>` and declares `aib-images:index:ImagePipeline`.

The component is the Python `components.declare.pipeline.ImagePipeline` (a child of this one), given the image config
as a typed object (`typed_config.ImageConfigArgs`: exactly what a stack file holds under `images.<name>`, checked by
the same rules as a stack file) and returning the same outputs, camelCased.

No `from __future__ import annotations` here: the SDK reads these annotations as objects, not strings.
"""

import os
import sys
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, NotRequired, Optional, TypedDict

# The repository this folder belongs to provides `components`, at the package's own version, whether or not the
# project is installed in the plugin's virtualenv (a `pulumi package add` of the git URL installs only
# requirements.txt, the locked runtime dependencies).
HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE.parent), str(HERE)) if p not in sys.path]

import pulumi  # noqa: E402
from pulumi.provider.experimental.component import ComponentProvider  # noqa: E402

from components.declare.pipeline import ImagePipeline as Pipeline  # noqa: E402
from components.declare.pipeline import ImagePipelineArgs as PipelineArgs  # noqa: E402
from components.model.errors import SpecError  # noqa: E402
from components.model.stack import PROJECT, parse_stack_config  # noqa: E402
from typed_config import DESCRIPTIONS, ImageConfigArgs  # noqa: E402

PACKAGE = PROJECT
"""The package's name: its resources are `aib-images:index:<Name>`."""


def package_version() -> str:
    """The version of the Python project (pyproject.toml), which the package shares."""
    try:
        return installed_version("aib-images")
    except Exception:  # noqa: BLE001 - not installed: read it from the repository's pyproject.toml
        import tomllib

        return tomllib.loads((HERE.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


class ImagePipelineArgs(TypedDict):
    """The inputs of one image pipeline."""

    image: ImageConfigArgs  # type: ignore[valid-type]
    """The image: an AIB template spec (`template`) plus the pipeline's options (gallery, staging, build...), exactly
    as a stack file's `images.<name>` entry."""
    resource_group_name: str
    """Existing resource group for the template and the identity (declare the program's own with `dependsOn`)."""
    location: NotRequired[str]
    """Region for `template.location` when the image does not set one."""
    image_name: NotRequired[str]
    """Name of the image: the template is `<imageName>-<hash>`. Default: the component's name."""
    subscription_id: NotRequired[str]
    """Subscription of the template. Default: the azure-native provider's."""
    tags: NotRequired[dict[str, str]]
    """Tags for the resources the pipeline creates besides the template. Default: the template's tags."""


class RunOutput(TypedDict):
    """One artifact of the last build, by its `runOutputName`."""

    artifactId: NotRequired[str]
    """The image version or managed image id (none for a VHD)."""
    artifactUri: NotRequired[str]
    """The VHD's URI (VHD distributors only)."""


class ImagePipeline(pulumi.ComponentResource):
    """One golden image with Azure VM Image Builder: identity, least-privilege roles, staging resource group, gallery
    image definition, the image template and its build, whose outputs (the gallery image version id) other resources
    can use in the same update."""

    template_id: pulumi.Output[str]
    """The image template's id."""
    template_name: pulumi.Output[str]
    """The image template's name, `<imageName>-<hash>`."""
    identity_id: pulumi.Output[str]
    """The build identity's id."""
    identity_principal_id: pulumi.Output[str]
    """The build identity's principal id."""
    identity_client_id: pulumi.Output[str]
    """The build identity's client id."""
    gallery_id: pulumi.Output[Optional[str]]
    """The gallery of the first SharedImage target."""
    image_definition_id: pulumi.Output[Optional[str]]
    """The image definition of the first SharedImage target."""
    staging_resource_group: pulumi.Output[Optional[str]]
    """The staging resource group's id (none when the service makes its own)."""
    run_state: pulumi.Output[Optional[str]]
    """The last build's state (`Succeeded`...)."""
    run_outputs: pulumi.Output[Optional[dict[str, RunOutput]]]
    """The last build's artifacts by `runOutputName`."""
    image_version_id: pulumi.Output[Optional[str]]
    """The gallery image version the last build produced (the first SharedImage target's)."""
    log_location: pulumi.Output[Optional[str]]
    """Where the last build's customization.log is."""
    lifecycle_report: pulumi.Output[Optional[dict[str, Any]]]
    """With a `lifecycle` section: what the version lifecycle kept, excluded, deleted and promoted."""

    def __init__(self, name: str, args: ImagePipelineArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(f"{PACKAGE}:index:ImagePipeline", name, {}, opts)
        unknown = _outputs_in(dict(args))
        if unknown:
            raise ValueError(
                f"{PACKAGE}:index:ImagePipeline {name}: {', '.join(unknown)}: must be known when the program runs, "
                "not an output of another resource or a secret (the pipeline names its resources from its inputs). Write the "
                "value (a resource group's name, say) and give the pipeline `dependsOn` on the resource that makes it")
        image_name = args.get("image_name") or name
        config: dict[str, Any] = {"resourceGroupName": args["resource_group_name"],
                                  "images": {image_name: args["image"]}}
        location = args.get("location")
        if location:
            config["location"] = location
        try:
            stack = parse_stack_config(config, source=f"{PACKAGE}:index:ImagePipeline {name}")
        except SpecError as error:
            raise ValueError(str(error)) from None
        wait_for = list(opts.depends_on or []) if opts is not None and isinstance(opts.depends_on, list) else []
        inner = Pipeline(name, PipelineArgs(
            image=stack.images[image_name], image_name=image_name, resource_group_name=args["resource_group_name"],
            subscription_id=args.get("subscription_id"), tags=args.get("tags"),
            wait_for=wait_for, project_dir=os.getcwd()),  # type: ignore[arg-type]
            pulumi.ResourceOptions(parent=self))
        self.template_id = inner.template_id
        self.template_name = inner.template_name
        self.identity_id = inner.identity_id
        self.identity_principal_id = inner.identity_principal_id
        self.identity_client_id = inner.identity_client_id
        self.gallery_id = inner.gallery_id
        self.image_definition_id = inner.image_definition_id
        self.staging_resource_group = inner.staging_resource_group
        self.run_state = inner.run_state
        self.run_outputs = inner.run_outputs.apply(_run_outputs)
        self.image_version_id = inner.image_version_id
        self.log_location = inner.log_location
        self.lifecycle_report = inner.lifecycle_report
        self.register_outputs({})


def _outputs_in(value: Any, path: str = "") -> list[str]:
    """The schema paths of `value` that are outputs (of another resource, or secrets) rather than plain values."""
    from pulumi.provider.experimental.util import camel_case

    if isinstance(value, pulumi.Output):
        return [path or "(the inputs)"]
    if isinstance(value, dict):
        return [p for k, v in value.items()
                for p in _outputs_in(v, f"{path}.{camel_case(str(k))}" if path else camel_case(str(k)))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _outputs_in(v, f"{path}[{i}]")]
    return []


def _run_outputs(value: Optional[dict]) -> Optional[dict[str, RunOutput]]:
    if value is None:
        return None
    return {name: _run_output(artifact or {}) for name, artifact in value.items()}


def _run_output(artifact: dict) -> RunOutput:
    out: RunOutput = {}
    if artifact.get("artifact_id"):
        out["artifactId"] = artifact["artifact_id"]
    if artifact.get("artifact_uri"):
        out["artifactUri"] = artifact["artifact_uri"]
    return out


class ImagePipelineProvider(ComponentProvider):
    """The SDK's component provider, with the config types' descriptions (their models' attribute docstrings, which
    the SDK cannot read from generated types) added to the schema."""

    def __init__(self) -> None:
        super().__init__([ImagePipeline], PACKAGE, None, package_version())
        import json

        schema = _as_the_cli_prints(_clean_descriptions(json.loads(self.schema or "{}")))
        for name, (doc, properties) in DESCRIPTIONS.items():
            entry = schema.get("types", {}).get(f"{PACKAGE}:index:{name}")
            if entry is None:
                continue
            if doc:
                entry["description"] = doc
            for key, text in properties.items():
                if key in entry.get("properties", {}):
                    entry["properties"][key].setdefault("description", text)
        self.schema = json.dumps(schema)


def _as_the_cli_prints(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as the CLI binds it (`pulumi package get-schema`): no descriptions on a list's items or a map's
    values (the property carries it), no empty `dependencies`, an empty `config`."""

    def strip(value: Any, inner: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: strip(v, k in ("items", "additionalProperties")) for k, v in value.items()
                    if not (inner and k == "description")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = strip(schema)
    if not out.get("dependencies"):
        out.pop("dependencies", None)
    out.setdefault("config", {})
    return out


def _clean_descriptions(value: Any) -> Any:
    """Docstrings as text: the SDK keeps their source indentation."""
    import inspect

    if isinstance(value, dict):
        return {k: inspect.cleandoc(v) if k == "description" and isinstance(v, str) else _clean_descriptions(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_descriptions(v) for v in value]
    return value


def schema() -> dict[str, Any]:
    """The package schema, as `pulumi package get-schema package` prints it."""
    import json

    return json.loads(ImagePipelineProvider().schema or "{}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--schema"]:  # what package/schema.json holds (tests/unit/test_package_schema.py)
        import json

        print(json.dumps(schema(), indent=2, sort_keys=True))
    else:
        from pulumi.provider import main

        main(ImagePipelineProvider(), sys.argv[1:])
