"""The dynamic-resource provider that applies one image pipeline's lifecycle policy to its gallery image definition.

Pickled *by reference* into every resource's ``__provider``: this module path and the class name are part of the
stack's state (renaming them breaks refresh, update and destroy). The instance holds nothing; ``create`` and
``update`` build a ``ComputeManagementClient`` from their inputs through ``components.providers.arm_client`` (endpoint, CA
bundle and token come from env for the local emulator) and run the policy: promote first (so ``latest`` never
points at nothing while older versions are excluded), then list the definition's versions, plan the retention
(`plan.plan_retention`, pure) and apply it unless ``dry_run``. A new build changes ``just_built_version_id``, so every
rebuild is an update and the policy runs again; an unchanged stack changes nothing. ``delete`` leaves the gallery
alone: the versions belong to the user, not to this resource.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Any, Mapping, Optional

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, \
    UpdateResult

from components.providers.build_run.inputs import is_unknown
from components.providers.errors import ProviderError

from components.providers.lifecycle.gallery import (
    Definition, delete_version, get_version, list_versions, set_publishing, split_version_id)
from components.plan.lifecycle import Plan, Retention, Version, plan_retention, promotion_target, version_key

#: Inputs, each a reason to run the policy again when it changes.
INPUTS = ("image_definition_id", "retention", "promotion_mode", "promote_version_id", "promotion_source",
          "just_built_version_id", "build_run_state", "build_started_at", "validated", "dry_run", "api_version",
          "arm_endpoint", "poll_seconds")
#: Outputs (besides the echoed inputs).
OUTPUTS = ("kept", "excluded", "deleted", "promoted", "end_of_life", "reasons", "notes", "applied", "evaluated_at")
MODES = ("afterValidation", "manual")
_DEFINITION_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/"
                            r"[^/]+/images/[^/]+$", re.I)


class LifecycleError(ProviderError, RuntimeError):
    """A lifecycle step failed; the message names the version and the operation."""


def with_promotion_source(news: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs with a promotion record from another stack (`promote_version_id` given as `{version_id,
    image_definition_id, validated, stack, output}`, what the stack program reads through a StackReference) split into
    `promote_version_id` (the id) and `promotion_source` (the rest), so state and diffs see a plain id."""
    record = news.get("promote_version_id")
    if not isinstance(record, Mapping):
        return dict(news)
    return {**news, "promote_version_id": record.get("version_id"), "promotion_source": dict(record)}


def _same(a: Any, b: Any) -> bool:
    return str(a or "").rstrip("/").lower() == str(b or "").rstrip("/").lower()


def _source_problems(source: Mapping[str, Any], version: str, version_definition: str, definition: str) -> list[str]:
    """Why a version another stack exports may not be promoted here: it is not of the definition that stack builds
    for this image, or that stack does not report it validated."""
    where = f"stack {source.get('stack')!r} ({source.get('output')})"
    exported = source.get("image_definition_id")
    if not exported:
        return [f"{where} exports no imageDefinitionId beside the version, so its origin cannot be checked "
                "(hint: promote from an aib-images stack's <image>.imageVersionId)"]
    problems = []
    if not _same(exported, version_definition):
        problems.append(f"{version} belongs to {version_definition}, but {where} builds {exported} for this image")
    elif not _same(exported, definition):
        problems.append(f"{where} builds {exported}, not this image's definition {definition}")
    if source.get("validated") is not True:
        problems.append(f"{where} does not report {version} as validated (validated: {source.get('validated')!r}; "
                        "its build must succeed with in-VM validations)")
    return problems


def promotion_problems(news: Mapping[str, Any]) -> list[str]:
    """Why `promote_version_id` may not be promoted for `image_definition_id` (unknown values are skipped)."""
    version, definition, source = (news.get(k) for k in ("promote_version_id", "image_definition_id",
                                                         "promotion_source"))
    if not version or any(is_unknown(v) for v in (version, definition, source)) or not isinstance(definition, str):
        return []
    try:
        version_definition = split_version_id(str(version))[0].id
    except ValueError:
        return [f"must be a gallery image version id, but {version!r} was provided"]
    if isinstance(source, Mapping):
        return _source_problems(source, str(version), version_definition, definition)
    if not _same(version_definition, definition):
        return [f"{version} is a version of {version_definition}, not of this image's definition {definition} "
                "(promoting it would change nothing here)"]
    return []


def validate(news: Mapping[str, Any]) -> list[CheckFailure]:
    """Every problem with the inputs at once; values unknown at preview (also inside `retention`) are skipped."""
    failures: list[CheckFailure] = []
    definition = news.get("image_definition_id")
    if not is_unknown(definition) and not (isinstance(definition, str) and _DEFINITION_ID.match(definition)):
        failures.append(CheckFailure("image_definition_id", f"image_definition_id: must be a gallery image definition "
                                                            f"id, but {definition!r} was provided"))
    retention = news.get("retention")
    if retention is not None and not is_unknown(retention):
        keep = retention.get("keep_latest") if isinstance(retention, Mapping) else None
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or keep < 1:
            failures.append(CheckFailure("retention", f"retention.keep_latest: must be at least 1, but {keep!r} was "
                                                      f"provided"))
    mode = news.get("promotion_mode")
    if not is_unknown(mode) and mode not in (None, *MODES):
        failures.append(CheckFailure("promotion_mode", f"promotion_mode: must be one of {list(MODES)}, but {mode!r} "
                                                       f"was provided"))
    failures += [CheckFailure("promote_version_id", f"promote_version_id: cannot promote: {problem}")
                 for problem in promotion_problems(news)]
    return failures


class ImageVersionLifecycleProvider(ResourceProvider):
    """Promotes, excludes and deletes image versions of one gallery image definition (see the module docstring)."""

    # Captures no secrets (no credentials, no Outputs), so its pickle need not be encrypted in state.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = with_promotion_source(news)
        return CheckResult(inputs, validate(inputs))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in INPUTS if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['image_definition_id']}/lifecycle", run(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(run(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: ``kept``/``excluded``/``end_of_life`` as the gallery holds them now (versions deleted or re-included
        outside Pulumi show), or gone with the image definition. Quick calls only: ``read`` holds a host thread."""
        from azure.core.exceptions import ResourceNotFoundError

        definition = Definition.parse(str(props["image_definition_id"]))
        with _client(props, definition, quick=True) as client:
            try:
                client.gallery_images.get(*definition.args())
                versions = list_versions(client, definition)
            except ResourceNotFoundError:
                return ReadResult("", {})
        return ReadResult(id_, {**props, **observed(versions)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # The versions stay: dropping the policy must not delete or change anything in the gallery.
        return None


def run(props: Mapping[str, Any], *, now: Optional[dt.datetime] = None) -> dict[str, Any]:
    """Run the policy `props` describe against Azure (or only report it when ``dry_run``); the resource's outputs."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    now = now or dt.datetime.now(dt.timezone.utc)
    definition = Definition.parse(str(props["image_definition_id"]))
    dry_run = bool(props.get("dry_run"))
    mode = props.get("promotion_mode")
    just_built = props.get("just_built_version_id") or None
    target, why = promotion_target(mode, just_built=just_built, run_state=props.get("build_run_state"),
                                   validated=bool(props.get("validated")), version=props.get("promote_version_id"))
    notes: list[str] = [why] if mode else []
    promoted: list[str] = []
    plan = Plan()
    with _client(props, definition) as client:
        if target:
            target_definition, name = split_version_id(target)
            try:
                current = get_version(client, target_definition, name)
                if current.exclude_from_latest:
                    if not dry_run:
                        set_publishing(client, target_definition, name, exclude_from_latest=False)
                    notes.append(f"{name}: excludeFromLatest cleared" + (" (dry run)" if dry_run else ""))
                else:
                    notes.append(f"{name}: already eligible for latest")
            except ResourceNotFoundError:
                raise LifecycleError(f"Cannot promote image version {target}: it does not exist (deleted, or not "
                                     f"built yet).") from None
            except HttpResponseError as err:
                raise LifecycleError(f"Cannot promote image version {target}: {err.message}") from None
            promoted.append(target)
        if props.get("retention"):
            policy = Retention.from_props(props["retention"])
            try:
                plan = plan_retention(list_versions(client, definition), policy, now, protect=[p for p in (just_built, target) if p])
                if not dry_run:
                    for name in plan.updates:
                        set_publishing(client, definition, name, exclude_from_latest=True,
                                       end_of_life=plan.end_of_life.get(name))
                    for name in plan.deleted:
                        delete_version(client, definition, name)
            except HttpResponseError as err:
                raise LifecycleError(f"Retention of image definition {definition.id} failed: {err.message}") from None
    outs = {k: props.get(k) for k in INPUTS}
    outs.update(
        kept=list(plan.kept), excluded=list(plan.excluded), deleted=list(plan.deleted), promoted=promoted,
        end_of_life=dict(plan.end_of_life), reasons=dict(plan.reasons), notes=notes, applied=not dry_run,
        evaluated_at=now.isoformat(),
    )
    _report(definition, outs, dry_run)
    return outs


def observed(versions: list[Version]) -> dict[str, Any]:
    """The outputs that describe the gallery as it is: versions in and out of ``latest``, newest first."""
    newest_first = sorted(versions, key=version_key, reverse=True)
    excluded = [v for v in newest_first if v.exclude_from_latest]
    return {"kept": [v.name for v in newest_first if not v.exclude_from_latest],
            "excluded": [v.name for v in excluded],
            "end_of_life": {v.name: v.end_of_life.isoformat() for v in excluded if v.end_of_life is not None}}


def _client(props: Mapping[str, Any], definition: Definition, *, quick: bool = False) -> Any:
    """A ComputeManagementClient for the definition's subscription (``quick``: ``arm_client.QUICK_SETTINGS``)."""
    from components.providers import arm_client

    return arm_client.compute_client(definition.subscription_id, api_version=props.get("api_version") or None,
                                     endpoint=props.get("arm_endpoint") or None, poll_seconds=props.get("poll_seconds"),
                                     **(arm_client.QUICK_SETTINGS if quick else {}))


def offline_outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """What `synth` reports for the resource: the policy evaluated as a dry run over the only version it knows (the
    one the mocked build returns), with no Azure call. A promotion `check` would refuse is reported, not promoted."""
    props = with_promotion_source(props)
    just_built = props.get("just_built_version_id") or None
    refused = promotion_problems(props)
    target, why = promotion_target(props.get("promotion_mode"), just_built=just_built,
                                   run_state=props.get("build_run_state"), validated=bool(props.get("validated")),
                                   version=None if refused else props.get("promote_version_id"))
    plan = Plan()
    if props.get("retention") and just_built:
        _, name = split_version_id(str(just_built))
        plan = plan_retention([Version(name=name, id=str(just_built))], Retention.from_props(props["retention"]),
                              dt.datetime.now(dt.timezone.utc), protect=[just_built])
    return {"kept": list(plan.kept), "excluded": list(plan.excluded), "deleted": list(plan.deleted),
            "promoted": [target] if target else [], "end_of_life": dict(plan.end_of_life),
            "reasons": dict(plan.reasons), "notes": ([why] if props.get("promotion_mode") else []) +
            [f"refused: {problem}" for problem in refused] +
            ["synth: dry run, the gallery's other versions are not listed offline"],
            "applied": False, "dry_run": True, "evaluated_at": None}


def _report(definition: Definition, outs: Mapping[str, Any], dry_run: bool) -> None:
    """One line on the provider's stderr, as the build's progress lines."""
    parts = [f"{key} {outs[key]}" for key in ("promoted", "kept", "excluded", "deleted") if outs.get(key)]
    suffix = " (dry run: nothing changed)" if dry_run else ""
    sys.stderr.write(f"[lifecycle] {definition.gallery}/{definition.image}: {'; '.join(parts) or 'nothing to do'}"
                     f"{suffix}\n")
    sys.stderr.flush()
