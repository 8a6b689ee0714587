"""Spec errors: every problem in a template, each with the path the user wrote and a hint.

pydantic collects structural errors; spec-wide rules add their own. Both end up as `Issue`s in one
`SpecError`, formatted as `properties.customize[2].inline: <problem> (hint: <hint>)`, so bad input
is reported all at once and never as a stack trace.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Iterable, Literal, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

# Values of `type`/`scheme` discriminators. pydantic puts the tag into the error location
# (`customize.2.Shell.inline`); users never wrote it, so it is dropped from paths.
_UNION_TAGS = {
    "PlatformImage", "ManagedImage", "SharedImageVersion",
    "Shell", "PowerShell", "WindowsRestart", "File", "WindowsUpdate",
    "SharedImage", "VHD", "Latest", "Source",
}

Path = tuple[str | int, ...]

_PATTERN_HINTS = {
    r"^[A-Za-z0-9-_.]{1,64}$": "use letters, digits, '-', '_' and '.', 1 to 64 characters",
    r"^([0-9a-fA-F]{64})?$": "64 hex characters, as printed by sha256sum",
}


@dataclass(frozen=True)
class Issue:
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.path or "(template)"
        return f"{where}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


class SpecError(ValueError):
    """Raised for any invalid template or stack config; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[Issue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        header = f"{source}: " if source else ""
        count = len(self.issues)
        lines = "\n".join(f"  - {i}" for i in self.issues)
        if not self.issues and source:  # a whole-input error (no such stack): the source says it all
            super().__init__(source)
            return
        super().__init__(f"{header}{count} problem{'s' if count != 1 else ''} found\n{lines}")

    def prefixed(self, prefix: str) -> "SpecError":
        """The same issues under a parent path (for a template nested in a stack config)."""
        return SpecError([Issue(join_path(prefix, i.path), i.message, i.hint) for i in self.issues], self.source)


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + (path if path.startswith("[") else "." + path)


def _clean_loc(loc: Sequence[str | int], root: type[BaseModel] | None = None) -> list[str | int]:
    cleaned: list[str | int] = []
    tp = root
    for part in loc:
        # A tag is only a tag where a union sits: `tags: {Source: 1}` and an unknown key `Latest` stay.
        is_tag = isinstance(part, str) and part in _UNION_TAGS and (tp is None or _tags_here(tp, part))
        tp = _step(tp, part) if tp is not None else None
        if is_tag:
            continue
        if isinstance(part, str) and (part.startswith("function-") or part == "[key]"):
            continue  # pydantic's markers, not keys the user wrote (`[key]`: the dict key itself is bad)
        cleaned.append(part)
    return cleaned


def _tags_here(tp, part: str) -> bool:
    """Is `part` the tag of a union member at this position (not a dict key or an unknown field)?"""
    return any(isinstance(m, type) and issubclass(m, BaseModel) and any(
        get_origin(f.annotation) is Literal and part in get_args(f.annotation) for f in m.model_fields.values())
        for m in annotation_members(tp))


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def annotation_members(tp):
    """Unwrap Annotated/Optional/Union into the concrete member types."""
    origin = get_origin(tp)
    if origin is Annotated:
        return annotation_members(get_args(tp)[0])
    if origin in (Union, UnionType):
        return [m for arg in get_args(tp) for m in annotation_members(arg)]
    return [tp]


def _step(tp, part):
    for member in annotation_members(tp):
        origin = get_origin(member)
        if isinstance(part, int) and origin in (list, tuple):
            return get_args(member)[0]
        if isinstance(part, str) and origin is dict:
            return get_args(member)[1]
        if isinstance(part, str) and isinstance(member, type) and issubclass(member, BaseModel):
            if part in _UNION_TAGS and any(
                    f.annotation is not None and get_origin(f.annotation) is Literal and part in get_args(f.annotation)
                    for f in member.model_fields.values()):
                return member
            for name, field in member.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
    return None


def allowed_keys(root: type[BaseModel], raw_loc: Sequence[str | int]) -> list[str]:
    """The keys a user may write at `raw_loc` (pydantic's location, union tags included)."""
    tp = root
    for part in raw_loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    for member in annotation_members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return [f.alias or n for n, f in member.model_fields.items()]
    return []


def _hint_for(err: dict, root: type[BaseModel] | None) -> tuple[str, str]:
    """Plain message and hint for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "required field is missing", f"add '{err['loc'][-1]}'"
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        allowed = allowed_keys(root, err["loc"][:-1]) if root else []
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        case = [a for a in allowed if a.lower() == key.lower()]
        unknown = f"unknown field {_quote(key)}"  # quoted: a key may hold newlines or be huge
        if case:
            return unknown, f"field names are case-sensitive: did you mean '{case[0]}'?"
        if close:
            return unknown, f"did you mean '{close[0]}'?"
        return unknown, ("allowed: " + ", ".join(sorted(allowed))) if allowed else "remove it"
    if kind == "union_tag_invalid":
        return (
            f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {ctx.get('tag')!r}",
            f"expected one of {ctx.get('expected_tags')}",
        )
    if kind == "union_tag_not_found":
        tag = ctx.get('discriminator', 'type').strip(chr(39))
        wrong_case = [k for k in value if isinstance(k, str) and k.lower() == tag.lower()] \
            if isinstance(value, dict) else []
        if wrong_case:
            return (f"'{tag}' is required",
                    f"field names are case-sensitive: did you mean '{tag}' (not '{wrong_case[0]}')?")
        return f"'{tag}' is required", "say which kind this entry is"
    if kind == "rule":
        return str(ctx.get("message", err["msg"])), str(ctx.get("hint", ""))
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, but {_quote(value)} was given", ""
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{err['msg'].lower()}, but {_quote(value)} was given", ""
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return f"{_quote(value)} does not match {pattern}", _PATTERN_HINTS.get(pattern, "")
    if kind == "string_too_long":
        return f"is too long ({len(value) if isinstance(value, str) else '?'} characters; at most {ctx.get('max_length')})", ""
    if kind == "value_error":
        message = str(ctx.get("error", err["msg"]))
        message, _, hint = message.partition(" (hint: ")
        return message, hint.rstrip(")")
    return f"{err['msg']} (got {_quote(value)})", ""


def from_validation_error(exc: ValidationError, root: type[BaseModel] | None = None,
                          prefix: str = "") -> SpecError:
    issues = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"], root)
        ctx = err.get("ctx") or {}
        if err["type"] == "rule" and ctx.get("field"):
            loc = [*loc, *[p for p in str(ctx["field"]).split(".")]]
        message, hint = _hint_for(dict(err), root)
        issues.append(Issue(join_path(prefix, format_path(loc)), message, hint))
    return SpecError(_dedupe(issues))


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen, out = set(), []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    return out


def rule_error(message: str, *, field: str = "", hint: str = "") -> PydanticCustomError:
    """A cross-field rule failure raised inside a model validator; `field` extends the path."""
    return PydanticCustomError("rule", "{message}", {"message": message, "field": field, "hint": hint})
