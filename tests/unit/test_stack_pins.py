"""Every checksum the committed stacks pin is the real sha256 of real content (issue 23: they pinned sha256("foo") and
sha256("bar"), so a real build would fail at the first download).

A remote script cannot be fetched here (tests have no network, and `contoso/golden-images` is the example's
organisation), so each URL a committed stack pins has its bytes in the repository under
`published/<owner>/<repo>/<ref>/<path>`: the file to publish at that URL. This test recomputes every pin from that copy,
and refuses a pinned URL without one. Repository files (`script:`/`sourceFile:`) are hashed by the pipeline itself.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
RAW = re.compile(r"^https://raw\.githubusercontent\.com/([^/]+)/([^/]+)/([^/]+)/(.+)$")


def pinned_steps(node, path: str = ""):
    """(config path, url, sha256Checksum) of every step that pins a download."""
    if isinstance(node, dict):
        url = node.get("scriptUri") or node.get("sourceUri")
        if isinstance(url, str) and node.get("sha256Checksum"):
            yield path, url, str(node["sha256Checksum"])
        for key, value in node.items():
            yield from pinned_steps(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from pinned_steps(value, f"{path}[{i}]")


def published_copy(url: str) -> Path:
    m = RAW.match(url)
    assert m, f"{url}: a committed pin needs its bytes in the repository (published/...); only raw GitHub URLs map"
    return ROOT / "published" / Path(*m.groups())


PINS = [(f.name, *p) for f in STACK_FILES for p in pinned_steps(yaml.safe_load(f.read_text()))]


def test_the_committed_stacks_pin_downloads():
    assert {name for name, *_ in PINS} == {f.name for f in STACK_FILES}


@pytest.mark.parametrize("stack, path, url, pin", PINS, ids=[f"{s}:{p}" for s, p, *_ in PINS])
def test_each_pin_is_the_sha256_of_the_published_bytes(stack, path, url, pin):
    copy = published_copy(url)
    assert copy.is_file(), f"{stack}: {path}: {url} has no published copy at {copy.relative_to(ROOT)}"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == pin.lower(), \
        f"{stack}: {path}: sha256Checksum is not the sha256 of {copy.relative_to(ROOT)}"


def test_no_pin_is_a_placeholder():
    placeholders = {hashlib.sha256(w.encode()).hexdigest() for w in ("", "foo", "bar", "baz", "test", "hello")}
    assert not [p for p in PINS if p[3].lower() in placeholders]
