"""The second `pulumi up` with the same backend and cloud: an update of the first, as the real engine computes it."""

from __future__ import annotations

import yaml

from reliability_helpers import local_run, project, settled, succeeded_once_each


def _edit_stack(proj, change) -> None:
    path = proj / "stacks" / "Pulumi.bench.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc["config"]["aib-images:images"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_unchanged_rerun_starts_no_build_and_replaces_nothing(tmp_path):
    proj = project(tmp_path / "project", 2)
    first = local_run(proj, tmp_path / "state")
    succeeded_once_each(first)
    second = local_run(proj, tmp_path / "state")
    succeeded_once_each(second)  # still exactly one run per template
    assert second.outputs == first.outputs
    changes = second.changes()
    assert set(changes) and all(key.endswith(".same") for key in changes), changes
    assert changes["ImageBuildStart.same"] == 2 and changes["VirtualMachineImageTemplate.same"] == 2
    assert second.summary() == {"same": sum(changes.values())}, second.summary()


def test_changed_customizer_replaces_the_template_builds_it_and_deletes_the_old_one(tmp_path):
    def allow_vhd_loss(config):  # the old build's VHD lives in the old template's staging account
        for image in config["aib-images:images"].values():
            image["allowVhdLossOnDelete"] = True

    proj = project(tmp_path / "project", 2, edit=allow_vhd_loss)
    first = local_run(proj, tmp_path / "state")
    succeeded_once_each(first)
    def change_packages(images):
        (packages,) = [c for c in images["img-0000"]["template"]["properties"]["customize"]
                       if c.get("name") == "packages"]
        packages["inline"].append("echo changed")

    _edit_stack(proj, change_packages)
    second = local_run(proj, tmp_path / "state")
    assert second.code == 0, second.stderr[-3000:]
    old, new = first.outputs["img-0000"]["templateName"], second.outputs["img-0000"]["templateName"]
    assert old != new
    templates = second.templates()
    assert old not in templates and templates[new]["runs"] == 1  # created, built once; the old one deleted
    assert second.outputs["img-0001"] == first.outputs["img-0001"]  # the other image was left alone
    changes = second.changes()
    # A new revision beside the old (its logical name carries the revision), the old deleted at the end of the up,
    # once the new one is built: no replacement of one resource.
    assert changes.get("VirtualMachineImageTemplate.create") == 1 and changes.get("VirtualMachineImageTemplate.delete") == 1
    assert changes.get("ImageBuildStart.create") == 1 and changes.get("ImageBuildStart.delete") == 1
    assert not any(k.startswith(("VirtualMachineImageTemplate.", "ImageBuild")) and "replace" in k for k in changes), changes
    settled(second)


def test_rebuild_trigger_builds_the_same_template_again(tmp_path):
    proj = project(tmp_path / "project", 1)
    first = local_run(proj, tmp_path / "state")
    succeeded_once_each(first)
    _edit_stack(proj, lambda images: images["img-0000"].update(rebuildTrigger="2026-02"))
    second = local_run(proj, tmp_path / "state")
    assert second.code == 0, second.stderr[-3000:]
    out = second.outputs["img-0000"]
    assert out["templateName"] == first.outputs["img-0000"]["templateName"]
    assert second.templates()[out["templateName"]]["runs"] == 2
    assert out["imageVersionId"] != first.outputs["img-0000"]["imageVersionId"]
    assert second.changes().get("VirtualMachineImageTemplate.replace") is None
