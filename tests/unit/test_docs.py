"""The configuration reference is generated from the models and committed; the README links it."""

from __future__ import annotations

import io
import re

from components.ops.cli import Env, main
from components.ops.schema import REFERENCE_PATH, configuration_reference, stack_file_schema
from components.model.stack import ImageConfig, StackConfig
from tests.conftest import ROOT


def test_committed_reference_is_current():
    assert (ROOT / REFERENCE_PATH).read_text() == configuration_reference(), \
        "docs/configuration.md is stale; run: python -m components docs -o docs/configuration.md"


def test_cli_prints_the_reference():
    out = io.StringIO()
    assert main(["docs"], Env(stdout=out, stderr=io.StringIO())) == 0
    assert out.getvalue() == configuration_reference()


def _section(text: str, title: str) -> str:
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def _rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_model_field_is_documented_with_its_default_and_description():
    text = configuration_reference()
    image = _rows(_section(text, "ImageConfig"))
    for name, info in ImageConfig.model_fields.items():
        key = info.alias or name
        assert key in image, f"ImageConfig.{key} is missing from the reference"
        if info.description:
            assert " ".join(info.description.split()).replace("|", "\\|") in image[key][3]
    assert image["staging"][2] == '`"create"`'
    assert image["rebuildTrigger"][2] == "none"
    assert image["template"][2] == "required"
    stack = _rows(_section(text, "Stack keys"))
    assert set(stack) == {f"aib-images:{info.alias or n}" for n, info in StackConfig.model_fields.items()}
    assert stack["aib-images:resourceGroupName"][2] == '`"rg-golden-images"`'


def test_every_schema_definition_has_a_section_and_links_resolve():
    text = configuration_reference()
    headings = set(re.findall(r"^### (\w+)$", text, re.M))
    assert headings == set(stack_file_schema()["$defs"])
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", text):
        assert any(h.lower() == anchor for h in headings), f"dangling link #{anchor}"
    # Discriminated unions name every tag with its section.
    assert "`type: Shell` [ShellCustomizer](#shellcustomizer)" in text


def test_readme_links_the_reference_and_keeps_the_quick_start():
    readme = (ROOT / "README.md").read_text()
    assert "docs/configuration.md" in readme
    quick = _section(readme, "Quick start (no Azure account needed)")
    assert "bash scripts/local.sh" in quick and "bash scripts/test.sh" in quick
