"""The `lifecycle` section of an image's stack config: gallery version retention and promotion.

Every rebuild adds an image version to the gallery image definition. `retention` says how many of them stay
eligible for `latest`, when the older ones reach end of life and when they are deleted; `promotion` says when a
version built with `excludeFromLatest: true` becomes eligible for `latest` (after its validators passed, or when a
later stack promotes what an earlier one built). The models only describe the policy; `lifecycle_issues` checks it
against the image's template (a promotion after validation needs validators and an excluded SharedImage target),
and `components.providers.lifecycle` applies it. An image without the section is never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional

from pydantic import Field, model_validator

from components.model.base import SpecModel
from components.model.errors import Issue, rule_error

if TYPE_CHECKING:  # pragma: no cover - typing only (stack.py imports this module)
    from components.model.stack import ImageConfig

#: A gallery image version id (the form `promotion.version` takes).
IMAGE_VERSION_ID = (r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/[^/]+"
                    r"/images/[^/]+/versions/[^/]+$")
#: `org/project/stack`, or a stack name of the current project.
STACK_NAME = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$"


class RetentionPolicy(SpecModel):
    """Which image versions of the image definition stay eligible for `latest`, and which are deleted.

    Versions are ordered newest first by `publishedDate` (then by version number). The newest `keepLatest` are
    kept as they are; every older one is marked `excludeFromLatest` and gets an end-of-life date, and is deleted
    once it is older than `deleteOlderThanDays`. A version tagged with `pinTag`, and the version the stack just
    built, are never excluded nor deleted.
    """

    keep_latest: int = Field(ge=1, le=1000)
    """How many of the newest versions are left untouched (at least 1). Required."""
    delete_older_than_days: Optional[int] = Field(default=None, ge=1, le=36500)
    """Delete versions beyond the newest `keepLatest` whose `publishedDate` is more than this many days ago.
    Default: none (versions are excluded, never deleted)."""
    end_of_life_days: Optional[int] = Field(default=None, ge=0, le=36500)
    """The end-of-life date set on a version when it is excluded: its `publishedDate` plus this many days (a date
    already set on the version is left alone). Default: `deleteOlderThanDays` (the day retention deletes it), else
    no date."""
    pin_tag: str = Field(default="keep=true", pattern=r"^[^=\s][^=]*(=.*)?$")
    """Tag that pins a version (`name=value`, or `name` for any value; names and values compare case-insensitively).
    Default `keep=true`."""

    @model_validator(mode="after")
    def _eol_before_deletion(self):
        if self.delete_older_than_days is not None and self.end_of_life_days is not None \
                and self.end_of_life_days > self.delete_older_than_days:
            raise rule_error(f"must not be later than deleteOlderThanDays ({self.delete_older_than_days}), but "
                             f"{self.end_of_life_days} was provided", field="endOfLifeDays",
                             hint="a version is deleted at deleteOlderThanDays; its end of life cannot come after")
        return self


class PromotionPolicy(SpecModel):
    """When an image version built with `excludeFromLatest: true` is promoted (the flag cleared), making it
    eligible for `latest`.

    - `afterValidation`: the version this stack just built, once its build succeeded with its in-VM validators.
    - `manual`: this stack never promotes its own builds; it promotes the version named by `version`, or the one
      another stack exports (`fromStack`), if either is given (for example prod promoting what dev built and tested).
    """

    mode: Literal["afterValidation", "manual"]
    """`afterValidation` or `manual`. Required."""
    version: Optional[str] = Field(default=None, pattern=IMAGE_VERSION_ID)
    """`manual` only: the id of a gallery image version to promote. Default: none."""
    from_stack: Optional[str] = Field(default=None, pattern=STACK_NAME)
    """`manual` only: promote the image version another stack exports (`org/project/stack`, read with a
    `StackReference`). Default: none."""
    from_output: Optional[str] = Field(default=None, min_length=1)
    """With `fromStack`: the output holding the version id, dotted for nested keys. Default
    `<image name>.imageVersionId` (what this project exports per image)."""

    @model_validator(mode="after")
    def _sources(self):
        if self.version and self.from_stack:
            raise rule_error("only one of [version], [fromStack] may be set", field="version",
                             hint="promote a literal version id, or the one another stack exports")
        if self.mode == "afterValidation":
            for key, value in (("version", self.version), ("fromStack", self.from_stack)):
                if value:
                    raise rule_error(f"only valid with mode 'manual', but mode is 'afterValidation' and {value!r} "
                                     f"was provided", field=key,
                                     hint="afterValidation promotes the version this stack builds")
        if self.from_output and not self.from_stack:
            raise rule_error("needs fromStack", field="fromOutput", hint="name the stack that exports the output")
        return self


class LifecycleOptions(SpecModel):
    """Image version lifecycle of one image pipeline. Absent: nothing in the gallery is touched."""

    retention: Optional[RetentionPolicy] = None
    """Retention of the image definition's versions. Default: none (no version is excluded or deleted)."""
    promotion: Optional[PromotionPolicy] = None
    """Promotion of versions built with `excludeFromLatest: true`. Default: none (nothing is promoted)."""
    dry_run: bool = False
    """Only compute and report what would be kept, excluded, deleted and promoted; change nothing. Default false
    (`pulumi up` applies the policy). `synth` never changes anything and always reports a dry run."""


def lifecycle_issues(image_name: str, image: "ImageConfig") -> list[Issue]:
    """What the lifecycle section asks that the image's template cannot give, each at its config path."""
    life = image.lifecycle
    if life is None:
        return []
    base = f"images.{image_name}.lifecycle"
    issues: list[Issue] = []
    props = image.template.properties
    shared = [d for d in props.distribute if d.type == "SharedImage"]
    if (life.retention or (life.promotion and life.promotion.mode == "afterValidation")) and not shared:
        issues.append(Issue(base, "retention and promotion act on gallery image versions, but the template has no "
                                  "SharedImage distribute target", "add a SharedImage target or remove lifecycle"))
    promotion = life.promotion
    if promotion is not None and promotion.mode == "afterValidation":
        where = f"{base}.promotion.mode"
        if shared and not any(d.exclude_from_latest for d in shared):
            issues.append(Issue(where, "afterValidation needs the new version kept out of latest until it is "
                                       "promoted, but no SharedImage target sets excludeFromLatest",
                                "set excludeFromLatest: true on the SharedImage distribute target"))
        validations = props.validate_.in_vm_validations if props.validate_ else None
        if not validations:
            issues.append(Issue(where, "afterValidation needs validators to pass, but the template has no "
                                       "validate.inVMValidations",
                                "add at least one in-VM validation, or use mode: manual"))
        if not image.build:
            issues.append(Issue(where, "afterValidation promotes the version this stack builds, but build is false",
                                "set build: true, or use mode: manual with version or fromStack"))
    return issues
