"""A stack never jams: after a change whose build fails, a revert needs one `up`, and `destroy` has a way out.

The failed `up` leaves the earlier revision's template, staging group and build in state, waiting for deletion. Their
logical names carry the template revision (`components.plan.stack.ImagePlan.revision_name`), so reverting the config finds
them in state instead of creating a second resource under the same Azure name, which azure-native refuses
(`cannot create already existing resource`).
"""

from __future__ import annotations

import re

from components.emulator import Faults
from e2e_helpers import e2e_config, minimal_image


def _with_vhd(image: dict) -> dict:
    image["template"]["properties"]["distribute"].append({"type": "VHD", "runOutputName": "one-vhd"})
    return image


def _break(config: dict) -> None:
    """The user's edit: a new customizer that fails in the build VM."""
    config["aib-images:images"]["one"]["template"]["properties"]["customize"].append(
        {"type": "Shell", "name": "broken", "inline": ["exit 1"]})


def test_reverting_a_change_whose_build_failed_needs_one_up(local_stack):
    stack = local_stack(e2e_config({"one": minimal_image("one")}), faults=Faults(failing_customizers={"broken"}))
    stack.up()
    [working] = stack.templates()
    working_config = stack.config()

    stack.edit(_break)
    failed = stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False)
    assert failed.returncode != 0 and "broken" in failed.stdout
    assert len(stack.templates()) == 2, "the working template waits for deletion beside the failed one"

    stack.write_config(working_config)  # `git revert`
    reverted = stack.up()
    assert "cannot create already existing resource" not in reverted.stdout
    assert list(stack.templates()) == [working], "the failed revision is gone, the working one kept"
    assert stack.runs(working) == 1, "the working build was kept, not built again"
    assert stack.outputs()["one"]["runState"] == "Succeeded"
    again = stack.preview("--expect-no-changes")
    assert again.returncode == 0


def test_a_failed_change_then_destroy_has_a_way_out_that_works(local_stack):
    stack = local_stack(e2e_config({"one": _with_vhd(minimal_image("one"))}),
                        faults=Faults(failing_customizers={"broken"}))
    stack.up()
    stack.edit(_break)
    assert stack.pulumi("up", "--yes", "--non-interactive", "--skip-preview", check=False).returncode != 0

    refused = stack.pulumi("destroy", "--yes", "--non-interactive", check=False)
    assert refused.returncode != 0 and "REFUSING TO DELETE" in refused.stdout
    # The refusal names a command that works while the broken change is still in config (an `up` cannot succeed).
    way_out = re.search(r"`(AIB_ACCEPT_VHD_LOSS=\S+) bash scripts/pulumi\.sh destroy --stack \S+`", refused.stdout)
    assert way_out, refused.stdout[-3000:]
    variable, value = way_out.group(1).split("=", 1)
    stack.pulumi("destroy", "--yes", "--non-interactive", env={variable: value})
    assert stack.templates() == {}
    assert not stack.resources("ImageBuild"), "nothing left in state"
