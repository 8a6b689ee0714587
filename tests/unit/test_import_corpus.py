"""Every public image template in tests/fixtures/corpus (sources in its README) imports and validates, or fails as
recorded below: one line per problem, naming the place and the way forward, never a traceback.

Samples written as templates to fill in (`<imgBuilderId>`, `<region>`) are filled from
tests/fixtures/azvmimagebuilder/placeholders.json, as their READMEs do with sed; `parameters/<name>.parameters.json`
holds the values the sample's README passes at deploy time (where each comes from: tests/fixtures/corpus/README.md)
and is passed as its parameters file, and the scope is given on the command line, as `az deployment group create`
would have it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from components.ops.cli import Env, main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
PARAMETERS = CORPUS / "parameters"
PLACEHOLDERS = json.loads((ROOT / "tests" / "fixtures" / "azvmimagebuilder" / "placeholders.json").read_text())
SCOPE = ["--subscription", "11111111-2222-3333-4444-555555555555", "--resource-group", "rg", "--location", "westus2"]
TEMPLATES = sorted(p.name for p in CORPUS.glob("*.json") if not p.name.endswith(".parameters.json"))

# Templates that cannot import even with the values their READMEs give at deploy time (parameters/<name>.parameters.json,
# sources in tests/fixtures/corpus/README.md), and the first line of what import-arm says: the place, then the way
# forward.
EXPECTED_REFUSALS = {
    # The sample's own blank, left for the user to fill in by hand (its README says to).
    "azvmimagebuilder--7_Creating_C--helloImageTemplateMsi.json": "properties.customize[0].scriptUri: '<scriptUrl>' "
                                                                  "is a blank left to fill in (hint: replace "
                                                                  "<scriptUrl> in the template with its value "
                                                                  "(https://<host>/<path>)",
    # An ISO source: the service retired them.
    "sollondon--rhel_iso_image_deploy_mdi.json": "properties.source.type: ISO sources were retired by the service",
}

def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), Env(stdout=out, stderr=err)), out.getvalue(), err.getvalue()


def filled(name: str, tmp_path: Path) -> Path:
    text = (CORPUS / name).read_text(encoding="utf-8")
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_corpus_is_large_and_from_several_repositories():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert len(TEMPLATES) >= 20
    for name in TEMPLATES:
        assert f"| {name} |" in readme, f"{name} has no source row in tests/fixtures/corpus/README.md"
    assert len({line.split("|")[2].strip() for line in readme.splitlines() if line.startswith("| ") and ".json" in line}) >= 3


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_public_template_imports_and_validates_or_fails_as_recorded(name, tmp_path):
    parameters = PARAMETERS / name.replace(".json", ".parameters.json")
    extra = ["--parameters", str(parameters)] if parameters.is_file() else []
    output = tmp_path / "imported.yaml"
    code, _, err = call("import-arm", str(filled(name, tmp_path)), "-o", str(output), *SCOPE, *extra)
    assert "Traceback" not in err
    if name in EXPECTED_REFUSALS:
        assert code == 2, f"{name} imports now: remove it from EXPECTED_REFUSALS\n{err}"
        problems = [line for line in err.splitlines() if line.startswith("  - ")]
        assert problems and all("(hint: " in line or "hint:" in line for line in problems), err
        assert EXPECTED_REFUSALS[name] in err, err
        return
    assert code == 0, err
    code, out, err = call("validate", str(output))
    assert code == 0, err
    assert "valid (1 image template" in out or "valid (" in out


@pytest.mark.parametrize("name,image,note", [
    ("avm--image-template--main.json", "vmiitmin001-1970-01-01-00-00-00", "notice: parameters.baseTime.defaultValue: "
     "utcNow('yyyy-MM-dd-HH-mm-ss') is the time a deployment starts"),
    ("avm--azure-image-builder-pattern--main.json", "it-aib-1970-01-01-00-00-00", "notice: resources.imageTemplate."
     "properties.template.parameters.baseTime.defaultValue: utcNow('yyyy-MM-dd-HH-mm-ss') is the time a deployment "
     "starts"),
])
def test_the_avm_modules_name_their_image_from_a_fixed_utcnow_and_say_so(name, image, note, tmp_path):
    # Both modules name the template `<name>-<baseTime>`, baseTime defaulting to utcNow(): a fixed time here, named
    # in a notice with the way to choose another.
    output = tmp_path / "imported.yaml"
    code, _, err = call("import-arm", str(CORPUS / name), "-o", str(output), *SCOPE,
                        "--parameters", str(PARAMETERS / name.replace(".json", ".parameters.json")))
    assert code == 0, err
    assert f"\n  {image}:\n" in output.read_text() and note in err
