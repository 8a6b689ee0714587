"""The stack program: one `ImagePipeline` per image of the stack config (`stacks/Pulumi.<stack>.yaml`).

The `aib-images:` config namespace is read whole and validated by `parse_stack_config`, so an unknown or misspelt key
is an error that names its path, reported without a traceback (`pulumi.RunError`). Then the resource group is
created (unless `createResourceGroup: false`), every pipeline is declared inside one `BuildBarrier` (no build wait
holds a dynamic-provider worker while another image's build start is still queued), and each image's ids and build
results are exported under the image's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi_azure_native import authorization, resources

from components.build_run import BuildBarrier
from components.pipeline import GalleryTarget, ImagePipeline, ImagePipelineArgs
from components.spec.errors import SpecError
from components.spec.stack import PROJECT, StackConfig, parse_stack_config

PROJECT_DIR = str(Path(__file__).resolve().parent)
"""Repository files (`script: scripts/setup.sh`) are relative to this folder, the one holding Pulumi.yaml."""


def _value(raw: Any) -> Any:
    # The engine hands every config value over as a string; objects, lists and booleans arrive as JSON text.
    if isinstance(raw, str) and (raw[:1] in "{[" or raw in ("true", "false")):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def read_stack_config() -> StackConfig:
    """Every `aib-images:` key (not only the known ones, so typos are reported), validated."""
    prefix = PROJECT + ":"
    keys = {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}
    data = {k[len(prefix):]: _value(runtime_config.get_config(k)) for k in sorted(keys) if k.startswith(prefix)}
    return parse_stack_config(data, source=f"stack '{pulumi.get_stack()}' config ({PROJECT}:*)",
                              project_dir=PROJECT_DIR)


def retains_gallery_in(stack: StackConfig, resource_group: str) -> bool:
    """Whether a kept (retain-on-delete) gallery lives in `resource_group`: deleting the group would take the gallery
    and its image versions with it, so the group must be kept too."""
    for image in stack.images.values():
        if not image.gallery.create or not image.gallery.retain_on_delete:
            continue
        for d in image.template.properties.distribute:
            if d.type == "SharedImage" and GalleryTarget.of(d.gallery_image_id).resource_group.lower() == \
                    resource_group.lower():
                return True
    return False


def exports(pipeline: ImagePipeline) -> dict[str, Any]:
    return {
        "templateId": pipeline.template_id,
        "templateName": pipeline.template_name,
        "identityId": pipeline.identity_id,
        "identityPrincipalId": pipeline.identity_principal_id,
        "identityClientId": pipeline.identity_client_id,
        "galleryId": pipeline.gallery_id,
        "imageDefinitionId": pipeline.image_definition_id,
        "stagingResourceGroup": pipeline.staging_resource_group,
        "runState": pipeline.run_state,
        "runOutputs": pipeline.run_outputs,
        "imageVersionId": pipeline.image_version_id,
        **({"lifecycle": pipeline.lifecycle_report} if pipeline.lifecycle is not None else {}),
    }


def promoted_from_stack(image_name: str, image: Any, references: dict[str, pulumi.StackReference]
                        ) -> Optional[pulumi.Output[Any]]:
    """The image version id another stack exports, when `lifecycle.promotion.fromStack` names one (one
    `StackReference` per stack, shared by the images that read it); else None.

    `fromOutput` is dotted: its first part is the stack output, the rest are keys inside it (default
    `<image>.imageVersionId`, what `exports` writes)."""
    promotion = image.lifecycle.promotion if image.lifecycle else None
    if promotion is None or not promotion.from_stack:
        return None
    stack_name = promotion.from_stack
    if stack_name not in references:
        references[stack_name] = pulumi.StackReference(f"promote-from-{stack_name.replace('/', '-')}", stack_name)
    output, *keys = (promotion.from_output or f"{image_name}.imageVersionId").split(".")

    def dig(value: Any) -> Any:
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return references[stack_name].get_output(output).apply(dig)


def main() -> dict[str, ImagePipeline]:
    try:
        stack = read_stack_config()
    except SpecError as err:
        # RunError ends the program with the message alone: the path-named problems, no Python traceback.
        raise pulumi.RunError(str(err)) from None
    subscription_id = authorization.get_client_config().subscription_id
    rg_name = stack.resource_group_name
    wait_for: list[pulumi.Resource] = []
    if stack.create_resource_group:
        location: Optional[str] = stack.location or next(iter(stack.images.values())).template.location
        wait_for.append(resources.ResourceGroup(
            "resource-group", resources.ResourceGroupArgs(resource_group_name=rg_name, location=location),
            pulumi.ResourceOptions(retain_on_delete=retains_gallery_in(stack, rg_name))))
    pipelines: dict[str, ImagePipeline] = {}
    galleries: dict[str, pulumi.Resource] = {}
    references: dict[str, pulumi.StackReference] = {}
    with BuildBarrier() as barrier:
        for name, image in stack.images.items():
            pipeline = ImagePipeline(name, ImagePipelineArgs(
                image=image, image_name=name, resource_group_name=rg_name, subscription_id=subscription_id,
                wait_for=wait_for, build_barrier=barrier, galleries=galleries, project_dir=PROJECT_DIR,
                promote_version_id=promoted_from_stack(name, image, references)))
            galleries.update(pipeline.galleries)
            pipelines[name] = pipeline
            pulumi.export(name, exports(pipeline))
    return pipelines


# Kept as a global: `components.synth` reads the rendered templates from it.
pipelines = main()
