"""Public Azure VM Image Builder samples (Azure/azvmimagebuilder, tests/fixtures/azvmimagebuilder), adopted as they are:
their `<placeholders>` filled as the samples' own instructions do (sed), `import-arm` with the deployment's parameters
file, `validate`, then all six images in ONE stack through `pulumi up` on the emulator.

The samples name what already exists (a user-assigned identity, a VNet, a gallery and its image definition, a source
image version and a managed image) in a subscription that is not the emulator's default one; the local run seeds
them (`components.local.existing`), so the stack file serves the emulator and Azure alike.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from components.ops.cli import Env, main
from e2e_helpers import e2e_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azvmimagebuilder"
SAMPLES = ("helloImageTemplateLinux", "helloImageTemplateforReCustomization", "armTemplateWinSIG",
           "existingVNETWindows", "helloImageTemplateforSIGfromWinSIG", "armTemplateWVD")


def filled(sample: str, folder: Path) -> Path:
    """The sample with its placeholders replaced, as its README's sed commands do."""
    text = (FIXTURES / f"{sample}.json").read_text(encoding="utf-8")
    for placeholder, value in json.loads((FIXTURES / "placeholders.json").read_text(encoding="utf-8")).items():
        text = text.replace(placeholder, value)
    path = folder / f"{sample}.json"
    path.write_text(text, encoding="utf-8")
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Env(stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def imported(sample: str, folder: Path) -> dict:
    """`import-arm` of the filled sample (with its parameters file, if any), then `validate` of what it printed."""
    parameters = FIXTURES / f"{sample}.parameters.json"
    output = folder / f"{sample}.yaml"
    status, _, err = cli("import-arm", str(filled(sample, folder)), "-o", str(output),
                         *(["--parameters", str(parameters)] if parameters.exists() else []))
    assert status == 0, err
    assert "Traceback" not in err
    status, out, err = cli("validate", str(output))
    assert status == 0, err
    return yaml.safe_load(output.read_text(encoding="utf-8"))["aib-images:images"]


def test_six_public_samples_import_validate_and_build_in_one_stack(local_stack, tmp_path):
    images: dict = {}
    for sample in SAMPLES:
        images.update(imported(sample, tmp_path))
    assert sorted(images) == sorted(SAMPLES)  # each sample its own image: pasted together, none collapses

    stack = local_stack(e2e_config(images))
    result = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False)

    templates = stack.templates()
    states = {sample: next((t["body"]["properties"].get("lastRunStatus") or {}).get("runState")
                           for name, t in templates.items() if name.startswith(sample + "-")) for sample in SAMPLES}
    # Every sample builds, the one from a gallery image version too (its identity reads the source gallery).
    assert states == {s: "Succeeded" for s in SAMPLES}, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:]
