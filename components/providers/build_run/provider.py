"""The two dynamic-resource providers: one starts an image template's run, the other waits for it.

Both classes are pickled *by reference* into every resource's ``__provider`` (they live in an importable module), so
this module path and these class names are part of the stack's state: renaming or moving them breaks refresh, update
and destroy of existing stacks. Instances carry no clients or credentials (only an optional progress sink, which is
None when the engine runs them); each method builds its client from its inputs, because the methods run in the
separate dynamic-provider process. See ``components/providers/build_run/__init__.py`` for why start and wait are separate.

Rules the engine's calls follow:

- **A failed run is built again.** ``ImageBuildStart``'s diff reads the template's last run (from its resource
  group's snapshot): when it ended without success (Failed, Canceled, PartiallySucceeded), the start is replaced, so
  the next ``pulumi up`` starts a new run (and its wait follows that run) rather than waiting on the failed one again.
  The wait's error message says so.
- **VHD guard.** A VHD distributor without ``uri`` leaves its VHD in the template's staging storage account, which
  Azure deletes with the template. Deleting an ``ImageBuild`` with such outputs (``vhd_run_outputs``) is refused,
  unless ``allow_vhd_loss_on_delete`` (or the image is named in ``AIB_ACCEPT_VHD_LOSS`` of the command's environment,
  the way out when no ``up`` can run first), only when it would lose the newest VHD: its run Succeeded, no newer run of the
  same template superseded it, and no other template of the same image (same resource group, same name but for the
  content hash: ``components.plan.naming.template_name``) has a newer Succeeded run with a VHD under each of these
  runOutputNames. So a template change (the old build is deleted at the end of ``up``, after the new one was built)
  goes through, while ``pulumi destroy`` of the last build, or removing the image, is refused.
- **Refresh.** ``read`` drops the resource (``ReadResult("", {})``) when the template is gone or has never run, so the
  next ``up`` recreates the template and builds it.
- **Host threads.** The host serves every call on four threads: check makes no ARM call; diff and read make at
  most one quick ARM read (``arm_client.QUICK_SETTINGS``, no sleeps; the diffs of one resource group share one LIST
  per process, see ``run_snapshot`` for why a diff reads ARM at all; read makes a second one to collect the run
  outputs of a run that ended after build_mode ``start`` returned); only create and delete wait, each up to its own
  deadline.
- **build_mode start.** The engine keeps no state for a dynamic provider between calls, so a run that create did not
  wait for is recorded in the wait's outputs as Running (its start time identifies it). Every later call that sees
  those outputs may look at the run once: ``diff`` turns an ended run into an update that collects its outcome (the
  outputs, or the build's error), ``read`` records it on refresh. A failed run is built again by the next ``up`` as for
  waited builds (the start's diff).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Mapping, Optional

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.providers.build_run import inputs, run_snapshot
from components.providers.build_run.errors import BuildError, TemplateNotFound, log_location_hint, log_url_from_message
from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.progress import Progress, Sink
from components.providers.build_run.session import ACTIVE, SUCCEEDED, BuildSession, RunStatus

#: Outputs of the start resource (besides the echoed inputs).
START_OUTPUTS = ("template_id", "run_started_at", "adopted")
#: Outputs of the wait resource (besides the echoed inputs).
WAIT_OUTPUTS = ("run_state", "run_sub_state", "message", "start_time", "end_time", "duration_seconds",
                "run_outputs", "image_version_id", "log_location")
_INPUT_KEYS = inputs.REQUIRED + tuple(inputs.DEFAULTS)


def _inputs_of(props: Mapping[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: props[k] for k in _INPUT_KEYS + extra + inputs.INTERNAL_KEYS if k in props}


class _Provider(ResourceProvider):
    """What both providers share: check, diff, read, and how a session is made."""

    replace_keys: tuple[str, ...] = ()
    extra_inputs: tuple[str, ...] = ()
    # The provider captures no secrets (no credentials, no Outputs), so its pickle need not be encrypted in state.
    serialize_as_secret_always = False

    def __init__(self, progress: Optional[Sink] = None) -> None:
        super().__init__()
        # Only set by callers that drive the provider directly (local runner, tests); never pickled with a value
        # by the resource classes.
        self.progress = progress

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, inputs.validate(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = _INPUT_KEYS + self.extra_inputs
        changed, replaces = inputs.diff_keys(_pick(olds, keys), _pick(news, keys), self.replace_keys)
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the build is gone when its template is, or when the template has never run (it was deleted and
        made again outside Pulumi); the engine then drops the resource and the next ``up`` builds again. A later run
        of the same template is not this resource's business. Quick reads only: ``read`` holds a host thread."""
        settings = BuildSettings.from_props(props)
        try:
            with self._session(settings, quick=True) as session:
                status = session.status_once()
                if status.run_state is None:
                    return ReadResult("", {})
                return ReadResult(id_, self._refreshed(props, session, status))
        except TemplateNotFound:
            return ReadResult("", {})
        except BuildError as err:
            raise self._fail(settings, err) from None

    def _refreshed(self, props: dict[str, Any], _session: BuildSession, _status: Any) -> dict[str, Any]:
        """The props a refresh records, given the template's last run (read once): unchanged by default."""
        return props

    def _last_run(self, settings: BuildSettings) -> RunStatus:
        """For diffs: the template's last run from the resource group's snapshot (one LIST shared by the diffs of
        this process, ``run_snapshot``), else one quick read of the template."""
        def list_group() -> dict[str, RunStatus]:
            with self._session(settings, quick=True) as session:
                return session.group_statuses()

        known = run_snapshot.status(settings, list_group)
        if known is not None:
            return known
        with self._session(settings, quick=True) as session:
            return session.status_once()

    @contextlib.contextmanager
    def _session(self, settings: BuildSettings, *, quick: bool = False) -> Iterator[BuildSession]:
        """A session with a fresh client, closed afterwards (an open keep-alive pool would outlive the call). The
        credential is the process's (``arm_client.arm_credential``), so a token is fetched once, not per call.

        ``quick``: for check, diff and read, which the engine waits on: few HTTP retries, short timeouts. Any other
        session may change the template's run, so the diffs of this process read the template itself from then on."""
        from components.providers import arm_client

        if not quick:
            run_snapshot.forget(settings)
        credential = arm_client.arm_credential(settings.arm_endpoint)
        poll = arm_client.resolve_poll_seconds(settings.poll_seconds)
        client = arm_client.image_builder_client(settings.subscription_id, api_version=settings.api_version,
                                                 endpoint=settings.arm_endpoint, credential=credential,
                                                 poll_seconds=poll, **(arm_client.QUICK_SETTINGS if quick else {}))

        def read_log(url: str) -> list[str]:
            return arm_client.read_blob_tail(url, endpoint=settings.arm_endpoint, credential=credential)

        with client:
            yield BuildSession(settings, client, Progress(settings.image_template_name, self.progress),
                               poll_seconds=poll, read_log=read_log)

    def _fail(self, settings: BuildSettings, err: BuildError) -> BuildError:
        """Show the message as readable lines above the engine's traceback; return a cause-free copy to raise."""
        Progress(settings.image_template_name, self.progress)("FAILED\n" + str(err))
        return BuildError(str(err))


def _pick(props: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: props.get(k) for k in keys}


class ImageBuildStartProvider(_Provider):
    """Starts (or adopts) the run of one image template and returns at once with the run's start time."""

    replace_keys = inputs.START_REPLACE_KEYS

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Besides the input rules: when the template's last run ended without success (the wait reported it), the
        start is replaced, so this ``up`` starts a new run instead of waiting on the failed one again."""
        result = super().diff(id_, olds, news)
        if result.replaces or not olds.get("run_started_at") or self._last_run_succeeded_or_unknown(olds):
            return result
        return DiffResult(changes=True, replaces=["run_started_at"], delete_before_replace=False)

    def _last_run_succeeded_or_unknown(self, olds: Mapping[str, Any]) -> bool:
        """False only when the template's last run (from the group's snapshot, else one quick read) ended without
        success."""
        settings = BuildSettings.from_props(olds)
        try:
            status = self._last_run(settings)
        except BuildError as err:  # not found or unreadable: the input rules decide, create will tell
            Progress(settings.image_template_name, self.progress)(f"could not read the last run: {err}")
            return True
        if status.ended_without_success:
            Progress(settings.image_template_name, self.progress)(
                f"the last build ended {status.run_state}: starting a new one")
            return False
        return True

    def create(self, props: dict[str, Any]) -> CreateResult:
        settings = BuildSettings.from_props(props)
        try:
            with self._session(settings) as session:
                # Nothing recorded for this template: an earlier run of it (the name is content-hashed) built exactly
                # this content, e.g. the engine died after starting it, so a successful one is adopted.
                status = session.start_or_adopt(superseded_run=None)
        except BuildError as err:
            raise self._fail(settings, err) from None
        outs = _inputs_of(props)
        outs.update(template_id=settings.template_id, run_started_at=status.started_at,
                    adopted=status.run_state == SUCCEEDED)
        return CreateResult(f"{settings.template_id}/runs/{status.started_at}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """A bumped rebuild trigger starts a new run of the same template, never adopting the run recorded in
        ``olds`` (the one the user wants replaced); otherwise only provider settings changed."""
        outs = {k: olds.get(k) for k in START_OUTPUTS}
        outs.update(_inputs_of(news))
        if all(olds.get(k) == news.get(k) for k in inputs.START_RERUN_KEYS):
            return UpdateResult(outs)
        settings = BuildSettings.from_props(news)
        try:
            with self._session(settings) as session:
                status = session.start_or_adopt(superseded_run=olds.get("run_started_at") or "")
        except BuildError as err:
            raise self._fail(settings, err) from None
        outs.update(template_id=settings.template_id, run_started_at=status.started_at,
                    adopted=status.run_state == SUCCEEDED)
        return UpdateResult(outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # Cancel our run if it is still going, so azure-native can delete the template. A newer run of the same
        # template (a trigger-driven replacement created before this delete) is left alone.
        settings = BuildSettings.from_props(props)
        try:
            with self._session(settings) as session:
                session.cancel_and_wait(only_run=props.get("run_started_at") or None)
        except TemplateNotFound:
            return
        except BuildError as err:
            raise self._fail(settings, err) from None


class ImageBuildProvider(_Provider):
    """Follows the run its start resource started, then reads the run outputs; guards deletion of VHDs.

    ``build_mode`` ``wait`` (default): create waits for the run's end. ``start``: create looks once and returns with
    the run still Running; the outcome is collected later, quickly, by whichever comes first: ``read`` (``pulumi
    refresh``) records it, or ``diff`` (the next ``pulumi up``) sees the run ended and reports a change, so ``update``
    fills in the outputs (or fails with the build's error, as a waited build would)."""

    replace_keys = inputs.WAIT_REPLACE_KEYS
    extra_inputs = ("run_started_at",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        settings = BuildSettings.from_props(props)
        outs = _inputs_of(props, self.extra_inputs)
        outs.update(self._follow(settings, props.get("run_started_at") or ""))
        return CreateResult(f"{settings.template_id}/builds/{outs['start_time']}", outs)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Besides the input rules: outputs left Running by build_mode ``start`` whose run has ended since are a change,
        so that ``update`` collects them (one quick read here)."""
        result = super().diff(id_, olds, news)
        if result.changes or _collected(olds) or not self._run_ended(olds):
            return result
        return DiffResult(changes=True, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {k: olds.get(k) for k in WAIT_OUTPUTS}
        outs.update(_inputs_of(news, self.extra_inputs))
        if not _collected(olds):
            outs.update(self._follow(BuildSettings.from_props(news), olds.get("start_time") or ""))
        return UpdateResult(outs)

    def _follow(self, settings: BuildSettings, started_at: str) -> dict[str, Any]:
        """The run's outputs: at its end (``wait``), or as it is now (``start``); its failure raises either way."""
        try:
            with self._session(settings) as session:
                status = session.wait(started_at) if settings.waits else session.collect(started_at)
                run_outputs = {} if status.active else session.run_outputs()
                return _run_outs(settings, status, run_outputs, session.elapsed(status))
        except BuildError as err:
            raise self._fail(settings, err) from None

    def _run_ended(self, olds: Mapping[str, Any]) -> bool:
        """One quick read: has the template's last run ended (so the Running outputs in ``olds`` can be collected)?"""
        settings = BuildSettings.from_props(olds)
        try:
            status = self._last_run(settings)
        except BuildError as err:  # unreadable now: the outputs stay as they are, the next up or refresh looks again
            Progress(settings.image_template_name, self.progress)(f"could not read the build's run: {err}")
            return False
        return status.run_state is not None and not status.active

    def _refreshed(self, props: dict[str, Any], session: BuildSession, status: Any) -> dict[str, Any]:
        """Refresh collects what build_mode ``start`` left Running: the outcome of an ended run, a failed one too (its
        state, message and log location are recorded; the next ``up`` builds again, see the start's diff)."""
        if _collected(props) or status.active:
            return props
        try:
            run_outputs = session.run_outputs() if status.run_state == SUCCEEDED else {}
        except BuildError as err:
            session.progress(f"run outputs not collected: {err}")
            return props
        return {**props, **_run_outs(session.s, status, run_outputs, session.elapsed(status))}

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        settings = BuildSettings.from_props(props)
        ours = props.get("start_time") or props.get("run_started_at") or None
        try:
            with self._session(settings) as session:
                if self._loses_last_vhd(settings, session, ours):
                    raise BuildError(_vhd_refusal(settings, props.get("run_outputs") or {}))
                session.cancel_and_wait(only_run=ours)
        except TemplateNotFound:
            return  # the template (and its staging account) is gone already
        except BuildError as err:
            raise self._fail(settings, err) from None


    @staticmethod
    def _loses_last_vhd(settings: BuildSettings, session: BuildSession, ours: Optional[str]) -> bool:
        """The VHD rule of the module docstring: True only when deleting this build loses the newest VHD."""
        if not settings.vhd_run_outputs or settings.allow_vhd_loss_on_delete or _loss_accepted(settings):
            return False
        status = session.status()
        if status.run_state != SUCCEEDED or (ours and status.started_at and status.started_at != ours):
            return False  # no VHD was made, or a newer run of this template superseded ours
        successor = session.newer_build_with(settings.vhd_run_outputs, ours or status.started_at)
        if successor:
            session.progress(f"VHD run output(s) {list(settings.vhd_run_outputs)} superseded by the newer build of "
                             f"template '{successor}'; deleting")
        return successor is None


ACCEPT_VHD_LOSS_ENV = "AIB_ACCEPT_VHD_LOSS"
"""Comma-separated images whose VHD a command may lose: a one-off opt-in for a `destroy` whose stack cannot run `up`
first (its last change fails to build), without editing config."""


def _loss_accepted(settings: BuildSettings) -> bool:
    accepted = {n.strip() for n in os.environ.get(ACCEPT_VHD_LOSS_ENV, "").split(",")}
    return _image_of(settings) in accepted


LOCAL_STACK_ENV = "AIB_LOCAL_STACK"
"""The stack a local run (`scripts/pulumi.sh`, `components.local.engine`) acts on, for the commands messages name."""


def _pulumi_command(settings: BuildSettings) -> tuple[str, str]:
    """The command that runs Pulumi for this build and its `--stack` option: `bash scripts/pulumi.sh ... --stack S`
    when the run is local (its ARM endpoint is the loopback emulator), where a bare `pulumi` would reach no backend
    or cloud of the local run; plain `pulumi` on Azure."""
    from components.providers import arm_client

    if not arm_client.is_loopback(settings.arm_endpoint or os.environ.get(arm_client.ENV_ENDPOINT)):
        return "pulumi", ""
    return "bash scripts/pulumi.sh", f" --stack {os.environ.get(LOCAL_STACK_ENV) or '<stack>'}"


def _vhd_refusal(settings: BuildSettings, run_outputs: Mapping[str, Any]) -> str:
    where = ", ".join(f"'{n}' ({(run_outputs.get(n) or {}).get('artifact_uri') or 'uri unknown'})"
                      for n in settings.vhd_run_outputs)
    pulumi, stack = _pulumi_command(settings)
    return (
        f"REFUSING TO DELETE the build of image template '{settings.image_template_name}' (resource group "
        f"'{settings.resource_group_name}'): VHD run output(s) {where} exist only in the template's staging storage "
        f"account, which Azure deletes together with the template, so the VHD would be lost. To keep it, either "
        f"(1) copy the VHD to your own storage account first (e.g. `az storage blob copy start --source-uri <uri> "
        f"...`), or (2) set `uri` on the VHD distributor so AIB writes future VHDs to your own storage, or (3) accept "
        f"the loss: `{pulumi} config set{stack} --path 'aib-images:images.{_image_of(settings)}.allowVhdLossOnDelete' "
        f"true`, run `{pulumi} up{stack}`, then delete again; or, for this command only, "
        f"`{ACCEPT_VHD_LOSS_ENV}={_image_of(settings)} {pulumi} destroy{stack}`.")


def _collected(props: Mapping[str, Any]) -> bool:
    """Whether the recorded outputs describe an ended run (build_mode ``start`` records Running ones first)."""
    return props.get("run_state") not in ACTIVE


def _run_outs(settings: BuildSettings, status: RunStatus, run_outputs: Mapping[str, Any], duration: float
              ) -> dict[str, Any]:
    """The wait resource's outputs for ``status``: complete once the run has ended, Running (no artifacts) before."""
    ordered = [n for n in settings.run_output_names if n in run_outputs] + \
              [n for n in sorted(run_outputs) if n not in settings.run_output_names]
    image_version_id = next((run_outputs[n]["artifact_id"] for n in ordered
                             if _is_gallery_version(run_outputs[n].get("artifact_id"))), None)
    return dict(
        run_state=status.run_state,
        run_sub_state=status.run_sub_state,
        message=status.message,
        start_time=status.started_at,
        end_time=_iso_or_none(status.end_time),
        duration_seconds=None if status.active else round(duration, 3),
        run_outputs=dict(run_outputs),
        image_version_id=image_version_id,
        log_location=log_url_from_message(status.message) or log_location_hint(status.staging_resource_group),
    )


def _image_of(settings: BuildSettings) -> str:
    """The image a template belongs to: its name without the content hash (`<image>-<hash>`)."""
    return settings.image_template_name.rsplit("-", 1)[0]


def _is_gallery_version(artifact_id: Optional[str]) -> bool:
    lowered = (artifact_id or "").lower()
    return "/providers/microsoft.compute/galleries/" in lowered and "/versions/" in lowered


def _iso_or_none(value: Any) -> Optional[str]:
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.year <= 1:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    return str(value) if value else None


class BuildsStartedProvider(ResourceProvider):
    """Nothing to create or change: `BuildsStarted` exists only to be depended on (see `BuildBarrier`)."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("builds-started", {})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False, replaces=[], delete_before_replace=False)

