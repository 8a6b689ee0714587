"""The build resources' inputs: defaults, validation and the check/diff rules, as pure functions.

The provider methods receive plain dicts. During preview, values that are not known yet arrive in Check and Diff as
``pulumi.output.Unknown`` objects (the provider host decodes the engine's sentinel string into them), anywhere in the
inputs, also inside lists and dicts; :func:`is_unknown` recognises both forms and every dynamic provider of the project
uses it. This module turns them into a frozen :class:`BuildSettings` and decides what a change means: only a
different template (its name is content-hashed, so a new name is a new template) or a bumped ``rebuild_trigger`` asks
for a new build; every other input is a setting of the provider and updates in place.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Any, Mapping, Optional

from pulumi.dynamic import CheckFailure

from components.plan import naming
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

_NAME = re.compile(r"^[A-Za-z0-9-_.]{1,64}$")

#: Inputs whose change means "another build": a new template, or the user asked for one.
START_REPLACE_KEYS = ("subscription_id", "resource_group_name", "image_template_name")
#: A new run of the same template: an update, so that ``update`` sees (in its olds) which run it supersedes. A
#: replacement would not: the engine re-checks a replacement with no old inputs, and ``create`` sees none either.
START_RERUN_KEYS = ("rebuild_trigger",)
#: The wait follows one run: the run its start resource started or adopted.
WAIT_REPLACE_KEYS = ("subscription_id", "resource_group_name", "image_template_name", "run_started_at")
#: Inputs an older version of ``check`` computed; recorded in existing state, never a reason to update.
INTERNAL_KEYS = ("adopt_succeeded_run",)

#: Name, default and meaning of every input (the docs of :class:`BuildArgs` repeat these).
DEFAULTS: dict[str, Any] = {
    "api_version": "2024-02-01",
    "build_timeout_minutes": 0,
    "rebuild_trigger": None,
    "run_output_names": [],
    "vhd_run_outputs": [],
    "allow_vhd_loss_on_delete": False,
    "arm_endpoint": None,
    "poll_seconds": None,
    "deadline_margin_minutes": 15,
    "auth_retry_seconds": 600,
    "cancel_timeout_seconds": 1800,
    "build_mode": "wait",
    "on_customizer_error": "cleanup",
    "on_validation_error": "cleanup",
}
REQUIRED = ("subscription_id", "resource_group_name", "image_template_name")
#: Allowed values of the inputs that choose one of a few behaviours.
CHOICES: dict[str, tuple[str, ...]] = {
    "build_mode": ("wait", "start"),
    "on_customizer_error": ("cleanup", "abort"),
    "on_validation_error": ("cleanup", "abort"),
}

#: Provider-process default for ``auth_retry_seconds`` (the local run shortens the propagation window with it).
ENV_AUTH_RETRY_SECONDS = "AIB_AUTH_RETRY_SECONDS"

#: AIB's default when ``buildTimeoutInMinutes`` is 0.
SERVICE_DEFAULT_TIMEOUT_MINUTES = 240


@dataclasses.dataclass(frozen=True)
class BuildSettings:
    """Resolved inputs of one build (plain values, no unknowns)."""

    subscription_id: str
    resource_group_name: str
    image_template_name: str
    api_version: str = DEFAULTS["api_version"]
    build_timeout_minutes: float = 0
    rebuild_trigger: Optional[str] = None
    run_output_names: tuple[str, ...] = ()
    vhd_run_outputs: tuple[str, ...] = ()
    allow_vhd_loss_on_delete: bool = False
    arm_endpoint: Optional[str] = None
    poll_seconds: Optional[float] = None
    deadline_margin_minutes: float = DEFAULTS["deadline_margin_minutes"]
    auth_retry_seconds: float = DEFAULTS["auth_retry_seconds"]
    cancel_timeout_seconds: float = DEFAULTS["cancel_timeout_seconds"]
    build_mode: str = DEFAULTS["build_mode"]
    on_customizer_error: str = DEFAULTS["on_customizer_error"]
    on_validation_error: str = DEFAULTS["on_validation_error"]

    @property
    def waits(self) -> bool:
        """build_mode ``wait``: create follows the run to its end; ``start``: create looks once and returns, and a
        later diff (next ``up``) or read (``refresh``) collects the outcome."""
        return self.build_mode != "start"

    def keeps_build_vm(self, phase: Optional[str]) -> bool:
        """Whether the template's errorHandling keeps the build VM after a failure in ``phase`` (``abort``)."""
        choice = {"Customizing": self.on_customizer_error, "Validating": self.on_validation_error}.get(phase or "")
        return choice == "abort"

    @property
    def template_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group_name}"
                f"/providers/Microsoft.VirtualMachineImages/imageTemplates/{self.image_template_name}")

    @property
    def deadline_seconds(self) -> float:
        """How long after the run's start the provider gives up: the build timeout (0 = 240 min) plus a margin,
        because the service needs time after its own timeout to clean up and report."""
        minutes = self.build_timeout_minutes or SERVICE_DEFAULT_TIMEOUT_MINUTES
        return (minutes + self.deadline_margin_minutes) * 60

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> "BuildSettings":
        values: dict[str, Any] = {f.name: props.get(f.name) for f in dataclasses.fields(cls)}
        if values["auth_retry_seconds"] is None and os.environ.get(ENV_AUTH_RETRY_SECONDS):
            values["auth_retry_seconds"] = os.environ[ENV_AUTH_RETRY_SECONDS]
        for key, default in DEFAULTS.items():
            if values.get(key) is None:
                values[key] = default
        values["run_output_names"] = tuple(values["run_output_names"] or ())
        values["vhd_run_outputs"] = tuple(values["vhd_run_outputs"] or ())
        values["allow_vhd_loss_on_delete"] = bool(values["allow_vhd_loss_on_delete"])
        for key in ("build_timeout_minutes", "deadline_margin_minutes", "auth_retry_seconds",
                    "cancel_timeout_seconds"):
            values[key] = float(values[key])
        if values["poll_seconds"] is not None:
            values["poll_seconds"] = float(values["poll_seconds"])
        return cls(**values)


def is_unknown(value: Any) -> bool:
    """True when a value not known until the update hides anywhere in ``value`` (lists and dict values included).

    Inside the provider host it is a ``pulumi.output.Unknown``; callers that drive a provider directly may pass the
    engine's sentinel string ``pulumi.runtime.rpc.UNKNOWN``.
    """
    if isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN):
        return True
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    return False


def validate(news: Mapping[str, Any]) -> list[CheckFailure]:
    """Every problem with the inputs at once; unknown values are skipped (they are checked again at update)."""
    failures: list[CheckFailure] = []

    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    for key in REQUIRED:
        value = news.get(key)
        if is_unknown(value):
            continue
        if not isinstance(value, str) or not value:
            fail(key, f"{key}: required, but {value!r} was provided")
    name = news.get("image_template_name")
    if isinstance(name, str) and name and not is_unknown(name) and not _NAME.match(name):
        fail("image_template_name",
             f"image_template_name: must match ^[A-Za-z0-9-_.]{{1,64}}$, but {name!r} was provided")
    for key, low, high in (("build_timeout_minutes", 0, 960), ("deadline_margin_minutes", 0, 24 * 60),
                           ("auth_retry_seconds", 0, 24 * 3600), ("cancel_timeout_seconds", 0, 24 * 3600),
                           ("poll_seconds", 0.01, 3600)):
        value = news.get(key)
        if value is None or is_unknown(value):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or not low <= value <= high:
            fail(key, f"{key}: must be between {low} and {high}, but {value!r} was provided")
    for key, allowed in CHOICES.items():
        value = news.get(key)
        if value is not None and not is_unknown(value) and value not in allowed:
            fail(key, f"{key}: must be one of {list(allowed)}, but {value!r} was provided")
    outputs = news.get("run_output_names")
    vhds = news.get("vhd_run_outputs")
    if isinstance(outputs, list) and isinstance(vhds, list) and not is_unknown(outputs) and not is_unknown(vhds):
        stray = [v for v in vhds if v not in outputs]
        if stray:
            fail("vhd_run_outputs", f"vhd_run_outputs: {stray!r} not among run_output_names {outputs!r} "
                                    f"(hint: list the runOutputName of each VHD distributor without a uri)")
    return failures


def same_image(template_name: str, other: str) -> bool:
    """Whether ``other`` is another template of the image ``template_name`` belongs to.

    Template names are ``<image>-<content hash>`` (``components.plan.naming.template_name``): the same image part with
    another hash is the same image with other content, e.g. the template that replaced this one.
    """
    suffix = naming.HASH_CHARS + 1
    return (other != template_name and len(other) == len(template_name) and len(template_name) > suffix
            and other[:-suffix] == template_name[:-suffix] and template_name[-suffix] == other[-suffix] == "-")


def diff_keys(olds: Mapping[str, Any], news: Mapping[str, Any], replace_keys: tuple[str, ...]
              ) -> tuple[list[str], list[str]]:
    """``(changed, replaces)``: input names that differ, and those of them that require a new build.

    An unknown value (preview) counts as changed: the engine diffs again with real values before acting.
    """
    changed: list[str] = []
    for key in sorted(set(olds) | set(news)):
        if key.startswith("__") or key in INTERNAL_KEYS:
            continue
        old, new = olds.get(key), news.get(key)
        if key in DEFAULTS and key not in REQUIRED:
            old = DEFAULTS[key] if old is None else old
            new = DEFAULTS[key] if new is None else new
        if is_unknown(new) or _normal(old) != _normal(new):
            changed.append(key)
    return changed, [k for k in changed if k in replace_keys]


def _normal(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    return value
