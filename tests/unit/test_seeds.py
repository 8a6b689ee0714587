"""The AIB template reference docs (seeds) against the spec: every JSON example they hold must validate.

Seeds are the template reference at several API versions (`../shared/seeds/*.txt`): fenced ```json blocks,
unfenced JSON (seed 003 lost its fences, seed 002 is a PDF extraction) and one Swedish translation (004).
Each example is one of:

- a complete template (parses as JSON, has `properties` and `location`): validated with `import_document`;
- a section fragment (`"source": {...}`, a bare customizer, `{"osDiskSizeGB": 100}`...): placed into a minimal
  template of the doc's apiVersion and validated with `import_template`, so legacy spellings the doc's version
  allowed (`imageVersionID`, `managedImage`, `script`, `tags`) are read the way the service read them;
- skipped, counted by reason: placeholders (`<region>`, `{rg}`, `[parameters('x')]`, prose such as "resource id,
  see note"), skeletons (`"source": {}`), API responses (runOutputs), or text that is not JSON at all.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from components.arm.import_arm import import_document, import_template
from components.model import SpecError
from tests.unit.spec_samples import MANAGED_SOURCE

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

pytestmark = pytest.mark.skipif(not SEEDS.is_dir() or not list(SEEDS.glob("*.txt")),
                                reason=f"seed docs not found at {SEEDS} (they live beside the repo, in ../shared)")

FENCE = re.compile(r"^\s*```\s*([A-Za-z-]*)\s*$")
JSON_START = re.compile(r'^\s*(\{\s*$|\{\s*"|"[A-Za-z][A-Za-z0-9]*"\s*:)')
JSON_LINE = re.compile(r'^\s*([{}\[\]"]|\.\.\.)')
PLACEHOLDER = re.compile(
    r"<[A-Za-z][^\"]*"                 # <region>, <resource ID>, <name   (sic)
    r"|\{[A-Za-z][\w-]*\}"             # {destinationResourceGroupName}
    r"|^\[.*\]$"                       # [parameters('publisher')]
    r"|see note|resource ?id\b|download center|^region$",  # prose stand-ins in the 2019 PDF seed
    re.IGNORECASE)
API_VERSION = re.compile(r'"apiVersion":\s*"([^"]+)"')

STEP_TAGS = {"shell", "powershell", "file", "windowsrestart", "windowsupdate"}
TARGET_TAGS = {"managedimage", "sharedimage", "vhd"}
SOURCE_TAGS = {"platformimage", "managedimage", "sharedimageversion", "iso"}
TOP_KEYS = {"type", "apiversion", "location", "tags", "identity", "dependson", "name"}
VM_PROFILE_KEYS = {"vmsize", "osdisksizegb", "userassignedidentities", "vnetconfig", "proxyvmsize"}
PROPERTY_SECTIONS = {"source", "customize", "distribute", "validate", "optimize", "errorhandling", "autorun",
                     "buildtimeoutinminutes", "stagingresourcegroup", "vmprofile", "managedresourcetags"}


@dataclass
class Block:
    seed: str
    line: int
    fenced: bool
    text: str
    api_version: str
    parsed: Any = None
    kind: str = ""        # template | fragment | skipped
    reason: str = ""      # why skipped, or the section a fragment belongs to
    error: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.seed[:3]}:{self.line}"


def extract(text: str) -> list[tuple[int, bool, str]]:
    """(line, fenced, text) of every JSON-looking example: ```json fences, bare fences, unfenced runs."""
    lines = text.splitlines()
    out, fence, buf, i = [], None, [], 0
    while i < len(lines):
        line = lines[i]
        match = FENCE.match(line)
        if match:
            if fence is None:
                fence, buf, start = match.group(1).lower(), [], i + 2  # first line inside, 1-based
            else:
                body = "\n".join(buf)
                if fence == "json" or (fence == "" and JSON_START.match(body.lstrip("\n") or "-")):
                    out.append((start, True, body))
                fence = None
            i += 1
            continue
        if fence is not None:
            buf.append(line)
            i += 1
            continue
        if JSON_START.match(line):   # unfenced JSON: a run of JSON-looking lines, across blank lines while open
            depth, j, chunk = 0, i, []
            while j < len(lines):
                current = lines[j]
                if FENCE.match(current):
                    break
                if not current.strip():
                    following = next((x for x in lines[j + 1:] if x.strip()), "")
                    if depth <= 0 or not JSON_LINE.match(following):
                        break
                elif chunk and not JSON_LINE.match(current) and not current.startswith((" ", "\t")):
                    break
                chunk.append(current)
                depth += sum(current.count(c) for c in "{[") - sum(current.count(c) for c in "}]")
                j += 1
            out.append((i + 1, False, "\n".join(chunk)))
            i = max(j, i + 1)
            continue
        i += 1
    return out


def parse(text: str) -> Any:
    """The example as JSON: as written, wrapped in {} (a `"key": value` fragment), or cut at its balanced end."""
    candidates = [text]
    depth, opened = 0, False
    for n, line in enumerate(text.splitlines()):   # prose after the closing brace, inside the fence
        depth += sum(line.count(c) for c in "{[") - sum(line.count(c) for c in "}]")
        opened = opened or depth > 0
        if opened and depth <= 0:
            candidates.append("\n".join(text.splitlines()[:n + 1]))
            break
    for candidate in candidates:
        body = candidate.strip().rstrip(",").strip()
        for wrapped in (body, "{" + body + "}"):
            try:
                return json.loads(wrapped)
            except ValueError:
                continue
    return None


def _strings(value: Any):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _tag(value: Any) -> str:
    return str(value.get("type", "")).lower() if isinstance(value, dict) else ""


def classify(block: Block) -> None:
    data = block.parsed
    if data is None:
        block.kind = "skipped"
        block.reason = "not JSON (unquoted placeholder)" if re.search(r":\s*<", block.text) else "not JSON"
        return
    if not isinstance(data, dict):
        block.kind, block.reason = "skipped", "not an object"
        return
    if str(data.get("type", "")).lower().endswith("/runoutputs"):
        block.kind, block.reason = "skipped", "API response (runOutput)"
        return
    props = data.get("properties")
    if isinstance(props, dict) and any(props.get(k) == {} for k in ("source", "customize", "distribute", "build")):
        block.kind, block.reason = "skipped", "skeleton ({} stand-ins for sections)"
        return
    if any(PLACEHOLDER.search(s) for s in _strings(data)):
        block.kind, block.reason = "skipped", "placeholder"
        return
    if isinstance(props, dict) and "location" in data:
        block.kind, block.reason = "template", "template"
        return
    keys = {k.lower() for k in data}
    tag = _tag(data)
    if keys <= TOP_KEYS:
        section = "top-level"
    elif keys == {"properties"} or keys <= PROPERTY_SECTIONS:
        section = "properties" if keys == {"properties"} else "+".join(sorted(keys))
    elif keys <= VM_PROFILE_KEYS:
        section = "vmProfile"
    elif tag in STEP_TAGS and "runoutputname" not in keys:
        section = "customize entry"
    elif tag in TARGET_TAGS and "runoutputname" in keys:
        section = "distribute entry"
    elif tag in SOURCE_TAGS:
        section = "source entry"
    else:
        block.kind, block.reason = "skipped", "no matching section"
        return
    block.kind, block.reason = "fragment", section


def embed(block: Block) -> dict:
    """A minimal template of the doc's apiVersion holding the fragment where the doc puts it."""
    doc: dict[str, Any] = {
        "apiVersion": block.api_version, "location": "westeurope",
        # http script URIs are this project's policy (refused by default), not something the docs forbid
        "allowHttpUris": True,
        "properties": {"source": copy.deepcopy(MANAGED_SOURCE), "distribute": [{"type": "VHD", "runOutputName": "seed"}]},
    }
    data, props, section = copy.deepcopy(block.parsed), doc["properties"], block.reason
    if section == "top-level":
        doc.update(data)
    elif section == "properties":
        props.update(data["properties"])
    elif section == "vmProfile":
        props["vmProfile"] = data
    elif section == "customize entry":
        props["customize"] = [data]
    elif section == "distribute entry":
        props["distribute"] = [data]
    elif section == "source entry":
        props["source"] = data
    else:  # one or more properties sections: "source", "customize", ...
        props.update(data)
    return doc


@functools.lru_cache(maxsize=1)
def collect() -> tuple[Block, ...]:
    blocks = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found = API_VERSION.search(text)
        api_version = found.group(1) if found else "2024-02-01"
        for line, fenced, body in extract(text):
            block = Block(path.name, line, fenced, body, api_version, parse(body))
            classify(block)
            try:
                if block.kind == "template":
                    import_document(block.parsed)
                elif block.kind == "fragment":
                    import_template(embed(block))
            except SpecError as exc:
                block.error = str(exc)
            blocks.append(block)
    return tuple(blocks)


def summary(blocks) -> dict[str, Any]:
    return {
        "blocks": len(blocks),
        "fenced": sum(b.fenced for b in blocks),
        "unfenced": sum(not b.fenced for b in blocks),
        "parsed": sum(b.parsed is not None for b in blocks),
        "templates": sum(b.kind == "template" for b in blocks),
        "templates validated": sum(b.kind == "template" and not b.error for b in blocks),
        "fragments": sum(b.kind == "fragment" for b in blocks),
        "fragments validated": sum(b.kind == "fragment" and not b.error for b in blocks),
        "fragments by section": dict(Counter(b.reason for b in blocks if b.kind == "fragment")),
        "skipped": dict(Counter(b.reason for b in blocks if b.kind == "skipped")),
        "per seed": dict(Counter(b.seed[:3] for b in blocks)),
    }


def _blocks(kind: str) -> list[Block]:
    return [b for b in collect() if b.kind == kind] if SEEDS.is_dir() else []


def test_seed_summary_is_sane(capsys):
    blocks = collect()
    numbers = summary(blocks)
    with capsys.disabled():
        print("\nseed summary:", json.dumps(numbers, indent=2))
    assert numbers["blocks"] >= 80
    assert numbers["parsed"] >= 55
    assert numbers["fragments validated"] >= 25
    assert numbers["fragments validated"] == numbers["fragments"]
    assert numbers["templates validated"] == numbers["templates"]
    assert numbers["skipped"].get("placeholder", 0) >= 30
    # every seed yields examples, the unfenced one (003) and the Swedish one (004) included
    assert all(numbers["per seed"].get(seed, 0) >= 10 for seed in ("000", "001", "003", "004"))
    assert numbers["per seed"].get("002", 0) >= 5
    assert numbers["unfenced"] >= 25
    # every kind of section the docs show is exercised
    assert {"source", "customize", "vmProfile", "top-level"} <= set(numbers["fragments by section"])


@pytest.mark.parametrize("block", _blocks("fragment"), ids=lambda b: f"{b.id}-{b.reason}")
def test_fragment_validates(block):
    assert block.error is None, f"{block.seed} line {block.line} ({block.api_version}):\n{block.text}\n{block.error}"


def test_every_parseable_complete_template_validates_or_is_a_skeleton():
    # The docs' complete templates all carry placeholders (most do not even parse: `<minutes>`); the rest
    # must validate. A template skipped for any other reason would hide a spec gap.
    complete = [b for b in collect() if isinstance(b.parsed, dict) and "properties" in b.parsed
                and "location" in b.parsed and b.reason != "API response (runOutput)"]
    assert complete, "the seeds show at least one complete template"
    for block in complete:
        assert block.kind == "template" or block.reason in ("placeholder", "skeleton ({} stand-ins for sections)")
        assert block.kind != "template" or block.error is None, block.error


@pytest.mark.parametrize("block", [b for b in _blocks("skipped") if b.reason == "placeholder"],
                         ids=lambda b: b.id)
def test_placeholder_examples_fail_only_with_spec_errors(block):
    # Not valid as written, but the spec must say why with paths, never crash.
    probe = Block(block.seed, block.line, block.fenced, block.text, block.api_version, block.parsed)
    keys = {k.lower() for k in block.parsed}
    probe.kind = "fragment"
    probe.reason = ("top-level" if keys <= TOP_KEYS else "properties" if keys == {"properties"}
                    else "distribute entry" if "runoutputname" in keys else "customize entry" if _tag(block.parsed)
                    in STEP_TAGS else "sections")
    try:
        import_template(embed(probe))
    except SpecError as exc:
        assert exc.issues and all(i.message for i in exc.issues)


def test_extract_handles_unfenced_and_fenced_text():
    text = "\n".join([
        "Intro prose.", "", '"source": {', '  "type": "PlatformImage",', "", '  "sku": "x"', "}", "",
        "More prose.", "```json", '{"osDiskSizeGB": 100}', "```", "```bash", 'echo "{"', "```",
    ])
    found = extract(text)
    assert [(line, fenced) for line, fenced, _ in found] == [(3, False), (11, True)]
    assert parse(found[0][2]) == {"source": {"type": "PlatformImage", "sku": "x"}}
    assert parse('{\n  "a": 1\n}\nOS support: Windows') == {"a": 1}
    assert parse('"buildTimeoutInMinutes": <minutes>') is None
