"""The stack program: one `ImagePipeline` per image of the stack config (`stacks/Pulumi.<stack>.yaml`).

The `aib-images:` config namespace is read whole and validated by `parse_stack_config`, so an unknown or misspelt key
is an error that names its path, reported without a traceback (`pulumi.RunError`). Then `plan.plan_stack` decides
every name and grant of the stack at once, and this program declares what it says: the resource group (unless
`createResourceGroup: false`), what images share (galleries, image definitions, existing identities' roles, each
once, adopted when they already exist), and every pipeline inside one `BuildBarrier` (no build wait holds a
dynamic-provider worker while another image's build start is still queued). Each image's ids and build results are
exported under the image's name.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi_azure_native import authorization, resources

from components.providers.build_run import BuildBarrier
from components.providers.dynamic_provider import dynamic_provider
from components.declare import preload
from components.declare.adoption import import_option, look_up_existing
from components.declare.pipeline import ImagePipeline, ImagePipelineArgs, SharedResources, declare_shared
from components.plan.stack import (
    ImagePlan, ResourceGroupPlan, StackPlan, adoption_conflicts, created_by_this_stack, plan_stack, stack_warnings)
from components.model.errors import SpecError
from components.model.stack import StackConfig, parse_stack_config

# The cyclic garbage collector would rescan a heap that only grows while the program runs (the modules and models just
# loaded, then every resource's Outputs and tasks, alive until the engine is done) and find almost nothing: it is off
# for the run, and what is alive is frozen, left out of every later collection including the one at exit
# (components.offline.program does the same under mocks). Measured, 10-image no-op preview: 4.8 -> 3.9 s.
gc.freeze()
gc.disable()

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


def namespace() -> str:
    """The project's config namespace: its name in Pulumi.yaml (`aib-images`, or whatever a fork renamed it to)."""
    return pulumi.get_project()


def config_keys() -> list[str]:
    """Every key of the project's namespace the engine passed (not only the known ones, so typos are reported)."""
    keys = {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}
    return sorted(k for k in keys if k.startswith(namespace() + ":"))


def secret_config_keys() -> set[str]:
    """Keys set with `pulumi config set --secret` (with `--path`, the whole top-level key is marked, not the leaf)."""
    return {k.split(":", 1)[1] for k in config_keys() if runtime_config.is_config_secret(k)}


def read_stack_config(subscription_id: Optional[str] = None) -> StackConfig:
    """Every key of the project's namespace, validated (with the checks that need the deployment's subscription)."""
    data = {k.split(":", 1)[1]: _value(runtime_config.get_config(k)) for k in config_keys()}
    return parse_stack_config(data, source=f"stack '{pulumi.get_stack()}' config ({namespace()}:*)",
                              project_dir=PROJECT_DIR, subscription_id=subscription_id)


def declare_resource_group(plan: ResourceGroupPlan, found: Optional[Any]) -> resources.ResourceGroup:
    """The stack's resource group, imported when it exists (`found`; the engine ignores the import for a group already
    in the state). One the stack creates carries the plan's tags, which tell it apart when later runs find it; one that
    existed before the stack is taken as it is and kept on destroy (it may hold what others put there). Retained also
    when a kept gallery lives in it."""
    conflicts = adoption_conflicts(plan, found)
    if conflicts:
        raise SpecError(conflicts, f"existing {plan.id}")
    mine = found is None or created_by_this_stack(plan, found)
    location = plan.location or (found.location if found is not None else None)
    return resources.ResourceGroup(
        plan.logical_name, resources.ResourceGroupArgs(resource_group_name=plan.name, location=location,
                                                       tags=dict(plan.tags) if mine else None),
        pulumi.ResourceOptions(retain_on_delete=plan.retain_on_delete or not mine, import_=import_option(found)))


def validated(pipeline: ImagePipeline, image: Any) -> pulumi.Output[bool]:
    """Whether this stack's build of the image passed in-VM validations: the run Succeeded and the template has
    validations (AIB fails the run when a validator fails). Another stack promotes a version only when this is true."""
    validations = image.template.properties.validate_
    has_validations = bool(validations and validations.in_vm_validations)
    return pipeline.run_state.apply(lambda state: has_validations and state == "Succeeded")


def exports(pipeline: ImagePipeline, image: Any) -> dict[str, Any]:
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
        "validated": validated(pipeline, image),
        **({"lifecycle": pipeline.lifecycle_report} if pipeline.lifecycle is not None else {}),
    }


def promoted_from_stack(plan: ImagePlan, references: dict[str, pulumi.StackReference]
                        ) -> Optional[pulumi.Output[Any]]:
    """The promotion record of the image version another stack exports, when the plan names one
    (`lifecycle.promotion.fromStack`; one `StackReference` per stack, shared by the images that read it); else None.

    The output path is dotted (`PromotionSource.output`). The record is `{version_id, image_definition_id, validated,
    stack, output}`: the definition and the validated flag are read beside the version (`exports` writes
    `imageDefinitionId` and `validated` next to `imageVersionId`), and the lifecycle provider's check refuses a
    version that is not of the definition that stack builds for this image, not this image's, or not validated."""
    source = plan.promotion_source
    if source is None:
        return None
    if source.reference_name not in references:
        references[source.reference_name] = pulumi.StackReference(source.reference_name, source.stack)
    output, *keys = source.output.split(".")

    def record(value: Any) -> dict[str, Any]:
        for key in keys[:-1]:
            value = value.get(key) if isinstance(value, dict) else None
        beside = value if isinstance(value, dict) else {}
        version = beside.get(keys[-1]) if keys else value
        return {"version_id": version if isinstance(version, str) else None, "stack": source.stack,
                "output": source.output, "image_definition_id": beside.get("imageDefinitionId"),
                "validated": beside.get("validated")}

    return references[source.reference_name].get_output(output).apply(record)


def main() -> dict[str, ImagePipeline]:
    get_client_config = authorization.get_client_config  # loads authorization here, before the thread starts
    with preload.loading():  # the modules the stack declares from, while the first call waits for the plugin
        subscription_id = get_client_config().subscription_id
    try:
        stack = read_stack_config(subscription_id)
    except SpecError as err:
        # RunError ends the program with the message alone: the path-named problems, no Python traceback.
        raise pulumi.RunError(str(err)) from None
    secret_keys = secret_config_keys()
    if stack.name_key and "nameKey" not in secret_keys:
        raise pulumi.RunError(f"{namespace()}:nameKey: set in plain text, so the names it keys protect nothing "
                              "(hint: pulumi config set --secret nameKey \"$(openssl rand -hex 32)\")")
    # What the deployer is (a user, or a service principal in CI) shows in the settings azure-native signs in with.
    plan = plan_stack(stack, subscription_id=subscription_id, project=pulumi.get_project(),
                      stack_name=pulumi.get_stack(), name_key=stack.name_key or None, env=os.environ)
    try:
        wait_for, shared = declare_stack_resources(plan, stack)
    except SpecError as err:
        raise pulumi.RunError(str(err)) from None
    for warning in stack_warnings(stack, images_secret="images" in secret_keys):
        pulumi.log.warn(warning)
    pipelines: dict[str, ImagePipeline] = {}
    references: dict[str, pulumi.StackReference] = {}
    # The dynamic resources' provider, explicit so that the engine does not record the whole stack config as its inputs.
    provider = dynamic_provider()
    with BuildBarrier(provider=provider) as barrier:
        for name, image in stack.images.items():
            pipeline = ImagePipeline(name, ImagePipelineArgs(
                image=image, image_name=name, resource_group_name=stack.resource_group_name,
                subscription_id=subscription_id, wait_for=wait_for, build_barrier=barrier, plan=plan.images[name],
                shared=shared, secret_config="images" in secret_keys, project_dir=PROJECT_DIR,
                promote_version_id=promoted_from_stack(plan.images[name], references)),
                pulumi.ResourceOptions(providers=[provider]))
            pipelines[name] = pipeline
            pulumi.export(name, exports(pipeline, image))
    return pipelines


def declare_stack_resources(plan: StackPlan, stack: StackConfig) -> tuple[list[pulumi.Resource], SharedResources]:
    """The resource group and what the images share; every pipeline waits for the group. With `adoptExisting`, the
    lookups of the group, galleries and image definitions are all sent at once, before any of them is declared."""
    existing = look_up_existing(plan.adoptable()) if stack.adopt_existing else {}
    wait_for: list[pulumi.Resource] = []
    if plan.resource_group is not None:
        wait_for.append(declare_resource_group(plan.resource_group, existing.get(plan.resource_group.id)))
    shared = declare_shared(plan.shared, adopt=stack.adopt_existing, opts=pulumi.ResourceOptions(depends_on=wait_for),
                            existing=existing)
    return wait_for, shared


# Kept as a global: `components.offline.synth` reads the rendered templates from it.
pipelines = main()
gc.freeze()
