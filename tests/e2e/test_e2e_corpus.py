"""The public template corpus (tests/fixtures/corpus, each file's source in its README) runs locally: every template
that imports is imported with the values its README gives at deploy time, validated, and built with all the others
in ONE stack through `pulumi up` on the emulator (what a user adopting them all at once would do)."""

from __future__ import annotations

import yaml

from components.local.cloud import SUBSCRIPTION
from e2e_helpers import e2e_config
from tests.unit.test_import_corpus import EXPECTED_REFUSALS, PARAMETERS, SCOPE, TEMPLATES, call, filled

# The deployment's scope is the local cloud's subscription: a template whose deployment creates its gallery (AVM's
# pattern module) has the stack create it, in the stack's own subscription.
LOCAL_SCOPE = [SUBSCRIPTION if arg == SCOPE[1] else arg for arg in SCOPE]


def test_every_importable_corpus_template_builds_in_one_local_stack(local_stack, tmp_path):
    images: dict = {}
    for name in TEMPLATES:
        if name in EXPECTED_REFUSALS:
            continue
        parameters = PARAMETERS / name.replace(".json", ".parameters.json")
        output = tmp_path / f"{name}.yaml"
        code, _, err = call("import-arm", str(filled(name, tmp_path)), "-o", str(output), *LOCAL_SCOPE,
                            *(["--parameters", str(parameters)] if parameters.is_file() else []))
        assert code == 0, f"{name}: {err}"
        imported = yaml.safe_load(output.read_text(encoding="utf-8"))["aib-images:images"]
        for image, config in imported.items():
            # Two samples' READMEs give the same template name; a user pasting both renames one, as here.
            images[image if image not in images else f"{image}-{len(images)}"] = config
    assert len(images) == len(TEMPLATES) - len(EXPECTED_REFUSALS) >= 20, sorted(images)

    stack = local_stack(e2e_config(images))
    result = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False, timeout=1200)

    outputs, templates = stack.outputs(), stack.templates()
    built = {image for image in images if image in outputs and outputs[image]["runState"] == "Succeeded"
             and (templates[outputs[image]["templateName"]]["body"]["properties"].get("lastRunStatus") or {})
             .get("runState") == "Succeeded"}
    assert built == set(images), (sorted(set(images) - built), result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:]
