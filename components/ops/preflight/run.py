"""`python -m components preflight --stack S [--local]`: every check of `checks.py` against the subscription, one row
each, then exit 0 when nothing failed and 1 otherwise. A check that cannot read what it needs (no Reader role, an
API error) is a `warn` row naming the error, so one unreadable API does not hide the other checks."""

from __future__ import annotations

from typing import TextIO

from azure.core.exceptions import AzureError

from components.ops.diagnose.target import Target, applied
from components.ops.preflight.checks import CHECKS, FAIL, WARN, Context, Row
from components.ops.preflight.reader import Reader

WIDTHS = (5, 20, 52)


def run_preflight(target: Target, out: TextIO) -> int:
    with applied(target.env):
        reader = Reader(target.subscription_id)
        try:
            rows = collect(Context(target, reader))
        finally:
            reader.close()
    print(format_rows(rows), file=out)
    failed = sum(r.status == FAIL for r in rows)
    print(f"{len(rows)} checks: {failed} failed, {sum(r.status == WARN for r in rows)} warnings "
          f"(subscription {target.subscription_id}, stack {target.stack_name})", file=out)
    return 1 if failed else 0


def collect(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for check in CHECKS:
        try:
            rows += check(ctx)
        except AzureError as err:
            rows.append(Row(check.__name__, "(could not check)", WARN, " ".join(str(err).split())[:200],
                            "the deployer needs Reader on the subscription for pre-flight reads"))
    return rows


def format_rows(rows: list[Row]) -> str:
    lines = [f"{'':<{WIDTHS[0]}} {'CHECK':<{WIDTHS[1]}} {'SUBJECT':<{WIDTHS[2]}} DETAIL"]
    for r in rows:
        lines.append(f"{r.status:<{WIDTHS[0]}} {r.check:<{WIDTHS[1]}} {r.subject:<{WIDTHS[2]}} {r.detail}")
        if r.fix and r.status != "ok":
            lines.append(f"{'':<{WIDTHS[0] + WIDTHS[1] + 2}}fix: {r.fix}")
    return "\n".join(lines)
