"""The Azure side of one template's build: start or adopt a run, follow it, cancel it, read its outputs.

Everything here talks to AIB through one ``ImageBuilderClient`` and leaves HTTP-level retries (429 with Retry-After,
5xx, dropped connections on GET) to azure-core's ``RetryPolicy``. What the SDK cannot know is handled here: ``POST
/run`` and ``POST /cancel`` are not idempotent, so after an ambiguous failure we re-read ``lastRunStatus`` instead of
blindly posting again (a second run must never start); the template identity's role assignments take minutes to reach
AIB, so "Not authorized to access the resource" is retried for a bounded time; and the provider's own deadline is
enforced because the engine ignores custom timeouts for dynamic resources.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any, Callable, Optional

from azure.core.exceptions import (HttpResponseError, ResourceNotFoundError, ServiceRequestError,
                                   ServiceResponseError)

from components.providers.build_run.analysis import explain_failure
from components.providers.build_run.errors import (
    AUTH_TEXT, REBUILD_HINT, BuildError, TemplateNotFound, failure_text, foreign_log_problem, kept_build_vm_text,
    log_location_hint, log_url_from_message, redact_log)
from components.providers.build_run import inputs
from components.providers.build_run.inputs import BuildSettings
from components.providers.build_run.progress import Progress, format_elapsed

ACTIVE = ("Running", "Canceling")
SUCCEEDED = "Succeeded"
# How long an ARM outage (after the SDK's own retries) may last before a wait gives up.
TRANSIENT_BUDGET_SECONDS = 900
# After POST /run, how long to wait for lastRunStatus to show the new run before posting again.
RUN_VISIBLE_SECONDS = 120
#: Storage api-version for listing the staging resource group's storage accounts (where the build log may live).
STORAGE_API_VERSION = "2023-05-01"


def _text(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err)
    return " ".join(str(message).split())


def _is_auth(err: HttpResponseError) -> bool:
    code = getattr(getattr(err, "error", None), "code", None) or ""
    return AUTH_TEXT.lower() in _text(err).lower() or code in ("AuthorizationFailed", "Unauthorized")


def _is_transient(err: BaseException) -> bool:
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(err, HttpResponseError) and (err.status_code or 0) in (408, 429, 500, 502, 503, 504)


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """``lastRunStatus`` of a template plus what we need next to it."""

    run_state: Optional[str]
    run_sub_state: Optional[str]
    message: str
    start_time: Optional[dt.datetime]
    end_time: Optional[dt.datetime]
    staging_resource_group: Optional[str]

    @property
    def started_at(self) -> str:
        """The run's identity: AIB runs have no id, but each has its own start time."""
        return _iso(self.start_time)

    @property
    def active(self) -> bool:
        return self.run_state in ACTIVE

    @property
    def ended_without_success(self) -> bool:
        """Failed, Canceled, PartiallySucceeded (or any other end but Succeeded): the wait reported a failure, and
        the next ``pulumi up`` starts a new run."""
        return self.run_state is not None and not self.active and self.run_state != SUCCEEDED


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    return str(value) if value else ""


def _enum(value: Any) -> Optional[str]:
    return None if value is None else str(getattr(value, "value", value))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _ArmUnavailable(BuildError):
    """A template read failed in a way that waiting may cure (throttling, 5xx, a dropped connection)."""


def _adoptable(status: RunStatus, superseded_run: Optional[str]) -> bool:
    """A Succeeded run counts as this start's own unless it is the one being superseded (see start_or_adopt)."""
    if status.run_state != SUCCEEDED:
        return False
    return superseded_run is None or bool(superseded_run) and status.started_at != superseded_run


def _started_after(status: RunStatus, started_at: str) -> bool:
    """Whether ``status``'s run started after the run whose :attr:`RunStatus.started_at` was ``started_at``."""
    if not isinstance(status.start_time, dt.datetime) or not started_at:
        return False
    start = status.start_time if status.start_time.tzinfo else status.start_time.replace(tzinfo=dt.timezone.utc)
    return start > dt.datetime.fromisoformat(started_at)


def _run_status(template: Any) -> RunStatus:
    props = template.properties
    last = getattr(props, "last_run_status", None) if props is not None else None
    staging = getattr(props, "exact_staging_resource_group", None) if props is not None else None
    if last is None:
        return RunStatus(None, None, "", None, None, staging)
    return RunStatus(_enum(last.run_state), _enum(last.run_sub_state), last.message or "", last.start_time,
                     last.end_time, staging)


class BuildSession:
    """One template's build as seen through one client. Short-lived: made inside a provider method."""

    def __init__(self, settings: BuildSettings, client: Any, progress: Progress, *,
                 poll_seconds: float, read_log: Optional[Callable[[str], list[str]]] = None,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], dt.datetime] = _utcnow,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.s = settings
        self.client = client
        self.templates = client.virtual_machine_image_templates
        self.progress = progress
        self.poll_seconds = poll_seconds
        self.read_log = read_log
        self.sleep = sleep
        self.now = now
        self.clock = clock

    # -- reading ---------------------------------------------------------------------------------------------
    def status(self, *, until: Optional[float] = None) -> RunStatus:
        """The template's ``lastRunStatus``; outages that outlast the SDK's retries are waited out, for at most
        :data:`TRANSIENT_BUDGET_SECONDS` and never past ``until`` (a ``clock()`` reading: the caller's deadline)."""
        give_up = self.clock() + TRANSIENT_BUDGET_SECONDS
        if until is not None:
            give_up = min(give_up, until)
        while True:
            try:
                return self.status_once()
            except _ArmUnavailable as err:
                if self.clock() >= give_up:
                    raise BuildError(f"Could not read image template '{self.s.image_template_name}': "
                                     f"{err}") from None
                self.progress(f"ARM unavailable ({str(err)[:80]}); retrying")
                self._sleep_until(give_up, self.poll_seconds)

    def status_once(self) -> RunStatus:
        """One read of ``lastRunStatus``, no waiting (for check, diff and read, which hold a host thread).

        Raises :class:`TemplateNotFound` when the template is gone, :class:`BuildError` for any other error (an
        ``_ArmUnavailable`` subclass when waiting might help)."""
        try:
            template = self.templates.get(self.s.resource_group_name, self.s.image_template_name)
        except ResourceNotFoundError:
            raise TemplateNotFound(f"Image template '{self.s.image_template_name}' was not found in resource group "
                                   f"'{self.s.resource_group_name}' (subscription {self.s.subscription_id}); it must "
                                   f"exist before its build can run.") from None
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as err:
            if _is_transient(err):
                raise _ArmUnavailable(_text(err)) from None
            raise BuildError(f"Could not read image template '{self.s.image_template_name}': {_text(err)}") from None
        return _run_status(template)

    def group_statuses(self) -> dict[str, RunStatus]:
        """The last run of every template in the template's resource group, by name: one LIST (paged by the SDK).
        Raises what the SDK raises; :mod:`run_snapshot` falls back to :meth:`status_once` then."""
        return {t.name: _run_status(t) for t in self.templates.list_by_resource_group(self.s.resource_group_name)}

    def _sleep_until(self, until: float, seconds: float) -> None:
        """Sleep ``seconds``, but never past ``until``: a wait stops at its deadline, not a poll interval later."""
        self.sleep(max(0.0, min(seconds, until - self.clock())))

    def elapsed(self, status: RunStatus) -> float:
        if not isinstance(status.start_time, dt.datetime):
            return 0.0
        start = status.start_time if status.start_time.tzinfo else status.start_time.replace(tzinfo=dt.timezone.utc)
        end = status.end_time
        if status.run_state not in ACTIVE and isinstance(end, dt.datetime) and end.year > 1:
            end = end if end.tzinfo else end.replace(tzinfo=dt.timezone.utc)
            return max(0.0, (end - start).total_seconds())
        return max(0.0, (self.now() - start).total_seconds())

    # -- starting --------------------------------------------------------------------------------------------
    def start_or_adopt(self, *, superseded_run: Optional[str]) -> RunStatus:
        """Make sure exactly one run of this template is (or was) under way and return its status.

        A Running run is always adopted (an interrupted ``pulumi up`` started it; a second POST would fail or build
        twice). A Succeeded run is adopted unless it is ``superseded_run`` (the start time of the run a bumped rebuild
        trigger replaces; "" when there was none to adopt at all), so an interrupted rebuild is not started twice.
        """
        first = self.status()
        before = first.started_at
        auth_until = self.clock() + self.s.auth_retry_seconds
        transient_until = self.clock() + TRANSIENT_BUDGET_SECONDS
        status = first
        while True:
            if status.started_at != before and status.run_state is not None:
                return status  # a run we (or our dropped POST) started
            if status.run_state == "Running":
                self.progress(f"adopting the build already running ({status.run_sub_state})", self.elapsed(status))
                return status
            if status.run_state == "Canceling":
                self.progress("waiting for a previous build to finish canceling")
                status = self._wait_while_canceling()
                before = status.started_at
                continue
            if _adoptable(status, superseded_run):
                self.progress(f"adopting the last successful build (started {status.started_at})")
                return status
            try:
                self.templates.begin_run(self.s.resource_group_name, self.s.image_template_name, polling=False)
            except HttpResponseError as err:
                if err.status_code == 409:
                    # "run/action is not allowed in ... run state: running": someone started it; re-read and adopt.
                    status = self._wait_for_new_run(before)
                    continue
                if _is_auth(err) and self.clock() < auth_until:
                    self.progress("not authorized yet (role assignments still propagating); retrying the start")
                    self._sleep_until(auth_until, self._auth_backoff())
                    status = self.status()
                    continue
                if _is_transient(err) and self.clock() < transient_until:
                    status = self._wait_for_new_run(before, short=True)
                    continue
                raise BuildError(f"Could not start the build of image template '{self.s.image_template_name}' "
                                 f"(resource group '{self.s.resource_group_name}'): {_text(err)}") from None
            except (ServiceRequestError, ServiceResponseError) as err:
                if self.clock() > transient_until:
                    raise BuildError(f"Could not start the build of image template "
                                     f"'{self.s.image_template_name}': {_text(err)}") from None
                # The POST may or may not have reached AIB: look before posting again.
                status = self._wait_for_new_run(before, short=True)
                continue
            self.progress("build started")
            status = self._wait_for_new_run(before)
            if status.started_at == before:
                raise BuildError(f"AIB accepted the run of image template '{self.s.image_template_name}' but its "
                                 f"lastRunStatus did not show a new run within {RUN_VISIBLE_SECONDS}s.")

    def _wait_for_new_run(self, before: str, *, short: bool = False) -> RunStatus:
        """Re-read until lastRunStatus shows a run other than ``before`` (or give up and return what is there)."""
        until = self.clock() + (min(RUN_VISIBLE_SECONDS, 5 * self.poll_seconds) if short else RUN_VISIBLE_SECONDS)
        while True:
            status = self.status()
            if (status.started_at != before and status.run_state is not None) or status.run_state == "Running" \
                    or self.clock() > until:
                return status
            self._sleep_until(until, min(self.poll_seconds, 5))

    def _auth_backoff(self) -> float:
        return max(self.poll_seconds, min(30.0, self.s.auth_retry_seconds / 10))

    # -- waiting ---------------------------------------------------------------------------------------------
    def wait(self, started_at: str) -> RunStatus:
        """Follow the run until it ends; return its Succeeded status or raise :class:`BuildError`."""
        auth_until = self.clock() + self.s.auth_retry_seconds
        deadline_at: Optional[float] = None  # on self.clock(), known once the run's start time is
        while True:
            status = self.status(until=deadline_at)
            if deadline_at is None or status.start_time is not None:
                deadline_at = self.clock() + self.s.deadline_seconds - self.elapsed(status)
            if status.run_state is None:
                raise self._no_run(started_at)
            if started_at and status.started_at and status.started_at != started_at:
                self.progress(f"following a newer build (started {status.started_at})")
                started_at = status.started_at
            if status.active:
                label = status.run_sub_state if status.run_state == "Running" else status.run_state
                self.progress.phase(label or status.run_state or "Running", self.elapsed(status), status.message)
                if self.clock() >= deadline_at:
                    self._deadline_exceeded(status)
                self._sleep_until(deadline_at, self._next_poll(status))
                continue
            if status.run_state == SUCCEEDED:
                self.progress("Succeeded", self.elapsed(status))
                return status
            if status.run_state == "Failed" and AUTH_TEXT.lower() in status.message.lower() \
                    and self.clock() < auth_until:
                self.progress("build not authorized yet (role assignments still propagating); starting it again")
                self._sleep_until(auth_until, self._auth_backoff())
                status = self.start_or_adopt(superseded_run="")
                started_at = status.started_at
                continue
            raise BuildError(self._failure(status))

    def collect(self, started_at: str) -> RunStatus:
        """One look at the run, no waiting (build_mode ``start``): its status while it is still going or after it
        Succeeded; any other end raises :class:`BuildError` with the same explanation :meth:`wait` gives."""
        status = self.status()
        if status.run_state is None:
            raise self._no_run(started_at)
        if status.active or status.run_state == SUCCEEDED:
            return status
        raise BuildError(self._failure(status))

    def _no_run(self, started_at: str) -> BuildError:
        return BuildError(f"Image template '{self.s.image_template_name}' has no build run to follow "
                          f"(expected the run started at {started_at or 'unknown'}).")

    def _next_poll(self, status: RunStatus) -> float:
        """Seconds until the next status read, on the run's own clock (start + k * poll_seconds).

        Sleeping a fixed interval after each answer lets every poll drift by the request's latency, so the end of the
        build is seen later and later; polls on the run's clock do not drift, and never come closer than a quarter
        interval (no extra reads compared with a fixed interval).
        """
        period = self.poll_seconds
        if period <= 0 or not isinstance(status.start_time, dt.datetime):
            return period
        delay = period - self.elapsed(status) % period
        return delay if delay >= period / 4 else delay + period

    def _deadline_exceeded(self, status: RunStatus) -> None:
        limit = format_elapsed(self.s.deadline_seconds).lstrip("+")
        timeout = self.s.build_timeout_minutes or 240
        self.progress(f"deadline of {limit} exceeded in phase {status.run_sub_state}; canceling")
        final = self.cancel_and_wait(only_run=status.started_at)
        raise BuildError(
            f"Image build of template '{self.s.image_template_name}' (resource group "
            f"'{self.s.resource_group_name}') exceeded the provider's deadline of {limit} (build timeout "
            f"{timeout:g} min + {self.s.deadline_margin_minutes:g} min margin) in phase {status.run_sub_state}; "
            f"the build was canceled (run state now {final.run_state}). Raise buildTimeoutInMinutes on the "
            f"template (and build_timeout_minutes here) if builds legitimately take longer. "
            + REBUILD_HINT.format(state="Canceled"))

    def _failure(self, status: RunStatus) -> str:
        if status.run_state == "Canceled":
            return (f"Image build of template '{self.s.image_template_name}' (resource group "
                    f"'{self.s.resource_group_name}') was canceled in phase {status.run_sub_state or 'unknown'} "
                    f"({format_elapsed(self.elapsed(status))}) by someone else: {status.message or 'no message'}. "
                    + REBUILD_HINT.format(state="Canceled"))
        url = log_url_from_message(status.message)
        location = url or log_location_hint(status.staging_resource_group)
        tail, problem = None, None
        if url and self.read_log is not None:
            tail, problem = self._log_tail(url, status.staging_resource_group)
        if status.run_state == "PartiallySucceeded":
            status = dataclasses.replace(status, message=f"only some distribution targets succeeded "
                                                         f"(PartiallySucceeded). {status.message}")
        return failure_text(self.s.image_template_name, self.s.resource_group_name, status.run_sub_state,
                            format_elapsed(self.elapsed(status)), status.message, location, tail, problem,
                            state=status.run_state or "Failed", kept_vm=self._kept_vm(status)) \
            + explain_failure(status.message, tail)

    def _kept_vm(self, status: RunStatus) -> Optional[str]:
        """The errorHandling ``abort`` notice, when the template's setting kept the build VM of this failure."""
        if status.run_state != "Failed" or not self.s.keeps_build_vm(status.run_sub_state):
            return None
        return kept_build_vm_text(status.run_sub_state or "", status.staging_resource_group)

    def _log_tail(self, url: str, staging_group: Optional[str]) -> tuple[Optional[list[str]], Optional[str]]:
        """(the log's last lines, redacted; or why they are missing). Only read from a storage account of the run's
        staging resource group: the URL comes from the service's message, and the read carries our Storage token."""
        try:
            problem = foreign_log_problem(url, self._staging_blob_endpoints(staging_group))
            return (None, problem) if problem else (redact_log(self.read_log(url) if self.read_log else []), None)
        except Exception as err:  # noqa: BLE001 - the log is a courtesy; the failure is what matters
            return None, _text(err)[:200]

    def _staging_blob_endpoints(self, staging_group: Optional[str]) -> list[str]:
        """Blob endpoints of the storage accounts in the staging resource group (an id, `exactStagingResourceGroup`)."""
        from azure.core.rest import HttpRequest

        if not staging_group:
            return []
        response = self.client.send_request(HttpRequest(
            "GET", f"{staging_group.rstrip('/')}/providers/Microsoft.Storage/storageAccounts"
                   f"?api-version={STORAGE_API_VERSION}"))
        response.raise_for_status()
        return [((account.get("properties") or {}).get("primaryEndpoints") or {}).get("blob")
                or f"https://{account.get('name')}.blob.core.windows.net/" for account in response.json().get("value", [])]

    # -- canceling -------------------------------------------------------------------------------------------
    def cancel_and_wait(self, *, only_run: Optional[str] = None) -> RunStatus:
        """Cancel the active run (only if it is ``only_run``, when given) and wait out Canceling (bounded)."""
        status = self.status()
        if not status.active or (only_run and status.started_at and status.started_at != only_run):
            return status
        if status.run_state == "Running":
            self.progress(f"canceling the build in phase {status.run_sub_state}", self.elapsed(status))
            try:
                self.templates.begin_cancel(self.s.resource_group_name, self.s.image_template_name, polling=False)
            except HttpResponseError as err:
                # 409: already canceling or just finished. 5xx after retries: the state below tells.
                if err.status_code != 409 and not _is_transient(err):
                    raise BuildError(f"Could not cancel the build of image template "
                                     f"'{self.s.image_template_name}': {_text(err)}") from None
            except (ServiceRequestError, ServiceResponseError):
                pass
        return self._wait_while_canceling(retry_cancel=True)

    def _wait_while_canceling(self, *, retry_cancel: bool = False) -> RunStatus:
        until = self.clock() + self.s.cancel_timeout_seconds
        reposted = False
        while True:
            status = self.status(until=until)
            if not status.active:
                if status.run_state == "Canceled":
                    self.progress("Canceled", self.elapsed(status))
                return status
            if self.clock() > until:
                raise BuildError(f"The build of image template '{self.s.image_template_name}' is still "
                                 f"{status.run_state} after {self.s.cancel_timeout_seconds:g}s of waiting for the "
                                 f"cancel to finish; try again later (the template cannot be deleted until then).")
            if status.run_state == "Running" and retry_cancel and not reposted:
                # A cancel that was lost on the wire: post it once more.
                reposted = True
                try:
                    self.templates.begin_cancel(self.s.resource_group_name, self.s.image_template_name,
                                                polling=False)
                except (HttpResponseError, ServiceRequestError, ServiceResponseError):
                    pass
            self._sleep_until(until, self.poll_seconds)

    # -- other templates of the same image ---------------------------------------------------------------------
    def newer_build_with(self, run_output_names: tuple[str, ...], after: str) -> Optional[str]:
        """The name of another template of the same image (see :func:`inputs.same_image`) in this resource group
        whose last run Succeeded, started after ``after`` and produced every one of ``run_output_names`` with an
        artifact URI; None when there is none. One list call plus one run-outputs call per candidate, no waiting."""
        for template in self.templates.list_by_resource_group(self.s.resource_group_name):
            status = _run_status(template)
            if not inputs.same_image(self.s.image_template_name, template.name) or status.run_state != SUCCEEDED \
                    or not _started_after(status, after):
                continue
            produced = self._run_outputs_of(template.name)
            if all((produced.get(n) or {}).get("artifact_uri") for n in run_output_names):
                return template.name
        return None

    # -- outputs ---------------------------------------------------------------------------------------------
    def run_outputs(self) -> dict[str, dict[str, Optional[str]]]:
        """``runOutputName -> {artifact_id, artifact_uri}`` for every run output of the template."""
        outputs = self._run_outputs_of(self.s.image_template_name)
        missing = [n for n in self.s.run_output_names if n not in outputs]
        if missing:
            raise BuildError(f"The build of image template '{self.s.image_template_name}' succeeded but run "
                             f"outputs {missing} are missing (found {sorted(outputs)}).")
        return outputs

    def _run_outputs_of(self, template_name: str) -> dict[str, dict[str, Optional[str]]]:
        outputs: dict[str, dict[str, Optional[str]]] = {}
        for item in self.templates.list_run_outputs(self.s.resource_group_name, template_name):
            props = item.properties
            outputs[item.name] = {
                "artifact_id": getattr(props, "artifact_id", None) if props is not None else None,
                "artifact_uri": getattr(props, "artifact_uri", None) if props is not None else None,
            }
        return outputs
