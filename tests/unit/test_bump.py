"""`bump-trigger`: a one-line edit per image, comments and layout kept, validated before anything is written."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timezone

import pytest
import yaml

from components.ops.bump import bump, bump_text, default_value
from components.ops.cli import Env, main
from components.model.errors import SpecError
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path):
    """A copy of the project as bump-trigger sees it: Pulumi.yaml, the stack files and the repository files they name."""
    (tmp_path / "stacks").mkdir()
    for stack in ("dev", "prod"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{stack}.yaml", tmp_path / "stacks" / f"Pulumi.{stack}.yaml")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for assets in ("scripts", "files"):
        shutil.copytree(ROOT / assets, tmp_path / assets)
    return tmp_path


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), "the edit added or removed lines"
    return [(x, y) for x, y in zip(a, b) if x != y]


@pytest.mark.parametrize("stack,image", [("dev", "ubuntu-2204"), ("prod", "win2022")])
def test_only_the_trigger_line_changes(stack, image):
    before = (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    after, previous = bump_text(before, "2026-12")
    assert previous == [(image, "2026-01")]
    assert _changed_lines(before, after) == [('      rebuildTrigger: "2026-01"', '      rebuildTrigger: "2026-12"')]
    assert after.startswith("# yaml-language-server: $schema=")  # comments survive the round trip
    assert yaml.safe_load(after)["config"]["aib-images:images"][image]["rebuildTrigger"] == "2026-12"


def test_values_that_look_like_numbers_stay_strings():
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    after, _ = bump_text(text, "1.10")
    assert yaml.safe_load(after)["config"]["aib-images:images"]["ubuntu-2204"]["rebuildTrigger"] == "1.10"


def test_a_missing_trigger_is_added_before_the_template():
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace('      rebuildTrigger: "2026-01"\n', "")
    after, previous = bump_text(text, "2026-12")
    assert previous == [("ubuntu-2204", None)]
    image = yaml.safe_load(after)["config"]["aib-images:images"]["ubuntu-2204"]
    assert image["rebuildTrigger"] == "2026-12"
    keys = list(image)
    assert keys.index("rebuildTrigger") == keys.index("template") - 1


def test_unknown_image_and_empty_value_are_errors():
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    with pytest.raises(SpecError, match="no image 'ubuntu-2404'.*known: ubuntu-2204"):
        bump_text(text, "2026-12", ["ubuntu-2404"])
    with pytest.raises(SpecError, match="empty"):
        bump_text(text, "  ")


def test_default_value_is_the_utc_month():
    assert default_value(datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)) == "2026-12"


def test_every_stack_by_default_and_nothing_written_on_dry_run(project):
    before = {p.name: p.read_text() for p in (project / "stacks").iterdir()}
    done = bump(project, value="2026-07", dry_run=True)
    assert {(b.stack_file.name, b.image, b.old, b.new) for b in done} == {
        ("Pulumi.dev.yaml", "ubuntu-2204", "2026-01", "2026-07"), ("Pulumi.prod.yaml", "win2022", "2026-01", "2026-07")}
    assert {p.name: p.read_text() for p in (project / "stacks").iterdir()} == before
    bump(project, value="2026-07")
    for p in (project / "stacks").iterdir():
        assert len(_changed_lines(before[p.name], p.read_text())) == 1


def test_selecting_an_image_touches_only_its_stack(project):
    prod_before = (project / "stacks" / "Pulumi.prod.yaml").read_text()
    done = bump(project, images=["ubuntu-2204"], value="2026-08")
    assert [(b.stack_file.name, b.image) for b in done] == [("Pulumi.dev.yaml", "ubuntu-2204")]
    assert (project / "stacks" / "Pulumi.prod.yaml").read_text() == prod_before


def test_a_bad_selection_writes_nothing(project):
    before = {p.name: p.read_text() for p in (project / "stacks").iterdir()}
    with pytest.raises(SpecError, match="no image 'nope'"):
        bump(project, images=["ubuntu-2204", "nope"], value="2026-08")
    with pytest.raises(SpecError, match="known stacks: dev, prod"):
        bump(project, stacks=["staging"], value="2026-08")
    assert {p.name: p.read_text() for p in (project / "stacks").iterdir()} == before


def test_an_invalid_stack_file_is_refused_before_writing(project):
    path = project / "stacks" / "Pulumi.dev.yaml"
    bad = path.read_text().replace("destination: /tmp/motd", "destination: /etc/motd")
    path.write_text(bad)
    with pytest.raises(SpecError, match=r"customize\[2\]\.destination"):
        bump(project, stacks=["dev"], value="2026-08")
    assert path.read_text() == bad


def test_cli_verb(project):
    out, err = io.StringIO(), io.StringIO()
    code = main(["bump-trigger", "--stack", "prod", "--value", "2026-09"], Env(stdout=out, stderr=err,
                                                                             project_dir=project))
    assert code == 0, err.getvalue()
    assert out.getvalue() == "stacks/Pulumi.prod.yaml: win2022.rebuildTrigger 2026-01 -> 2026-09\n"
    doc = yaml.safe_load((project / "stacks" / "Pulumi.prod.yaml").read_text())
    assert doc["config"]["aib-images:images"]["win2022"]["rebuildTrigger"] == "2026-09"
    err = io.StringIO()
    assert main(["bump-trigger", "--image", "nope"], Env(stdout=io.StringIO(), stderr=err, project_dir=project)) == 2
    assert err.getvalue().startswith("components: error: no image 'nope'")
