"""Reading a failed run: which step failed (by its name) and which catalog entries its message and log match.

Pure functions over text: the run's `lastRunStatus.message`, the `customization.log` lines (all of them, or the tail
the build provider read) and, when known, the template's customizers (to name the step). The log marks each step
with `(telemetry) Starting provisioner <type>` and `(telemetry) ending <type>`; the step that started and never
ended is the failing one, and one more start than there are customizers is the service's hidden deprovisioning step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from components.providers.build_run.catalog import CATALOG, Entry

_START = re.compile(r"\(telemetry\) Starting provisioner (\S+)")
_END = re.compile(r"\(telemetry\) ending (\S+)")
_NAMED = re.compile(r"\(customizer '([^']+)'\)")
MAX_FINDINGS = 3


@dataclass(frozen=True)
class Finding:
    entry: Entry
    evidence: str
    """The message or log line that matched, trimmed."""


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    step: Optional[str]
    """The failing step, e.g. "customize[3] 'updates' (WindowsUpdate)"; None when no step was running."""
    log_problem: Optional[str] = None
    """Why the log could not be read (and which role would allow it), when it could not."""

    @property
    def primary(self) -> Optional[Finding]:
        return self.findings[0] if self.findings else None

    def lines(self) -> list[str]:
        out = [f"Failing step: {self.step}"] if self.step else []
        for i, f in enumerate(self.findings):
            label = "Likely cause" if i == 0 else "Also matched"
            out += [f"{label} [{f.entry.id}]: {f.entry.cause}",
                    f"    fix: {f.entry.fix}",
                    f"    seen: {f.evidence}",
                    f"    source: {f.entry.source}"]
        if not self.findings:
            out.append("No known failure pattern matched; read the log around the failing step.")
        if self.log_problem:
            out.append(f"Build log not read: {self.log_problem}")
        return out


def match(texts: Iterable[str], catalog: Sequence[Entry] = CATALOG) -> tuple[Finding, ...]:
    """Catalog entries matching any of `texts`, in catalog order (at most MAX_FINDINGS)."""
    texts = [t for t in texts if t]
    found = []
    for entry in catalog:
        evidence = _first_match(entry, texts)
        if evidence is not None:
            found.append(Finding(entry, evidence))
    return tuple(found[:MAX_FINDINGS])


def _first_match(entry: Entry, texts: Sequence[str]) -> Optional[str]:
    for text in texts:
        if any(re.search(p, text, re.I) for p in entry.patterns):
            return _trim(text)
    return None


def _trim(text: str, width: int = 160) -> str:
    text = " ".join(re.sub(r"^\[[0-9a-f-]{36}\]\s*", "", text.strip()).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def failing_step(log_lines: Sequence[str], customizers: Sequence[Mapping] = ()) -> Optional[str]:
    """The step that started and did not end, named from the template's customizers when given."""
    started, open_step, named = 0, None, None
    for line in log_lines:
        if m := _START.search(line):
            started, open_step, named = started + 1, m.group(1), None
        elif _END.search(line):
            open_step = None
        elif open_step and (n := _NAMED.search(line)):
            named = n.group(1)
    if open_step is None:
        return None
    index = started - 1
    if customizers and index >= len(customizers):
        return f"the service's deprovisioning step ({open_step}: sysprep / waagent -deprovision)"
    if customizers:
        step = customizers[index]
        return f"customize[{index}] '{step.get('name') or step.get('type')}' ({step.get('type')})"
    return f"'{named}' ({open_step})" if named else f"provisioner {open_step} (step {index + 1})"


def diagnose(message: str, log_lines: Sequence[str] = (), customizers: Sequence[Mapping] = (),
             log_problem: Optional[str] = None) -> Diagnosis:
    """The diagnosis of one failed run from its status message and log."""
    errors = [line for line in log_lines if " ERR " in line or "error" in line.lower()] or list(log_lines)
    findings = match([message, *errors, *log_lines])
    return Diagnosis(findings, failing_step(log_lines, customizers), log_problem)


def explain_failure(message: str, log_lines: Optional[Sequence[str]]) -> str:
    """Lines to append to a build failure text (empty when nothing is known beyond it)."""
    result = diagnose(message, list(log_lines or ()))
    if not result.findings and not result.step:
        return ""
    return "\n" + "\n".join(["Diagnosis (from the log tail; `python -m components diagnose --stack S` reads the whole log):",
                             *("    " + line for line in result.lines())])
