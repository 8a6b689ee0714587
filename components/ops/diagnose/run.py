"""`python -m components diagnose --stack S [--image I] [--local]`: the last run of each image's deployed template,
explained from its run status and its `customization.log`, without a `pulumi up`.

The template is the one the stack outputs name (`<image>.templateName`, read through `components.local.engine` with
`--local`), else the newest-run template of the image in the stack's resource group (names are
`<image>-<10 hex>`). The log is read with the deployer's credential; when that is refused the report says so and which
role would allow it.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, TextIO

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from components.providers import arm_client
from components.providers.build_run.errors import log_url_from_message
from components.plan.naming import HASH_CHARS
from components.providers.build_run.analysis import Diagnosis, diagnose
from components.ops.diagnose.target import Target, applied, image_names

API_VERSION = "2024-02-01"
LOG_LINES = 5000
LOG_BYTES = 4 * 1024 * 1024
BLOB_READER = "Storage Blob Data Reader"


def diagnose_stack(target: Target, image: Optional[str], out: TextIO,
                   read_log: Optional[Callable[[str], list[str]]] = None) -> int:
    """Print a report per image; 0 when every image was found, 1 otherwise."""
    with applied(target.env):
        names = _output_names(target) if target.local else {}
        client = arm_client.image_builder_client(target.subscription_id, api_version=API_VERSION)
        reader = read_log or (lambda url: arm_client.read_blob_tail(url, lines=LOG_LINES, max_bytes=LOG_BYTES))
        with client:
            found = [_report(client, target, name, names.get(name), reader, out) for name in image_names(target, image)]
    return 0 if all(found) else 1


def _output_names(target: Target) -> dict[str, str]:
    """`image -> templateName` from the stack outputs (local backend); {} when there are none yet."""
    from components.local.engine import cli_environment
    from components.local.run import stack_outputs

    try:
        outputs = stack_outputs(target.stack_name, project_dir=target.project_dir, env=cli_environment(target.env))
    except Exception:  # noqa: BLE001 - no stack or no outputs yet: fall back to listing templates
        return {}
    return {k: v["templateName"] for k, v in outputs.items() if isinstance(v, dict) and v.get("templateName")}


def find_template(client: Any, resource_group: str, image: str) -> Optional[Any]:
    """The template of `image` in `resource_group` whose run started last (or any, when none ran)."""
    pattern = re.compile(rf"^{re.escape(image)}-[0-9a-f]{{{HASH_CHARS}}}$", re.I)
    try:
        mine = [t for t in client.virtual_machine_image_templates.list_by_resource_group(resource_group)
                if pattern.match(t.name or "")]
    except ResourceNotFoundError:  # the resource group does not exist
        return None
    return max(mine, key=_started, default=None)


def _named(client: Any, resource_group: str, name: Optional[str]) -> Optional[Any]:
    """The template the stack outputs name, when it still exists (outputs may be older than the cloud)."""
    try:
        return client.virtual_machine_image_templates.get(resource_group, name) if name else None
    except ResourceNotFoundError:
        return None


def _started(template: Any) -> str:
    last = getattr(template.properties, "last_run_status", None)
    return str(getattr(last, "start_time", "") or "")


def _report(client: Any, target: Target, image: str, name: Optional[str], read_log: Callable[[str], list[str]],
            out: TextIO) -> bool:
    rg = target.stack.resource_group_name
    template = _named(client, rg, name) or find_template(client, rg, image)
    if template is None:
        print(f"{image}: no image template in resource group '{rg}' (not deployed yet?)", file=out)
        return False
    last = template.properties.last_run_status
    print(f"{image}: template {template.name} (resource group '{rg}')", file=out)
    if last is None:
        print("    no build has run yet", file=out)
        return True
    state, phase = _text(last.run_state), _text(last.run_sub_state)
    print(f"    last run: {state} (phase {phase or 'n/a'}, started {last.start_time}, ended {last.end_time})", file=out)
    if state in ("Succeeded", "Running"):
        return True
    print(f"    message: {last.message or '(none)'}", file=out)
    for line in diagnose_template(template, read_log).lines():
        print(f"    {line}", file=out)
    return True


def diagnose_template(template: Any, read_log: Callable[[str], list[str]]) -> Diagnosis:
    """The diagnosis of a template's last run (an ImageTemplate as the SDK returns it) from its message and log."""
    message = template.properties.last_run_status.message or ""
    lines, problem = read_whole_log(message, read_log, template.properties.exact_staging_resource_group)
    customizers = [{"name": c.name, "type": c.type} for c in template.properties.customize or []]
    return diagnose(message, lines, customizers, problem)


def _text(value: Any) -> str:
    return "" if value is None else str(getattr(value, "value", value))


def read_whole_log(message: str, read_log: Callable[[str], list[str]], staging: Optional[str]
                   ) -> tuple[list[str], Optional[str]]:
    """(log lines, why they could not be read) for the log the run message names."""
    url = log_url_from_message(message)
    if not url:
        return [], None
    try:
        return read_log(url), None
    except HttpResponseError as err:
        return [], log_access_problem(url, err.status_code, getattr(getattr(err, "error", None), "code", None), staging)
    except Exception as err:  # noqa: BLE001 - the report goes on without the log
        return [], f"{url}: {err}"


def log_access_problem(url: str, status: Optional[int], code: Optional[str], staging: Optional[str]) -> str:
    account = re.sub(r"^https://([^.]+)\..*$", r"\1", url)
    where = f" in staging resource group '{staging}'" if staging else ""
    if status == 403:
        return (f"access denied ({code or 403}) for the deployer's identity on {url}: grant it '{BLOB_READER}' on "
                f"storage account '{account}'{where} (az role assignment create --role '{BLOB_READER}' --assignee "
                f"<deployer> --scope <account id>)")
    if status == 404:
        return f"{url} no longer exists (the staging resource group's storage account was cleaned up or deleted)"
    return f"{url}: HTTP {status} {code or ''}".strip()
