"""Image version lifecycle against the emulator over real HTTPS, driven the way the engine drives the providers.

Builds run through the real build providers (``ImageBuildStartProvider`` / ``ImageBuildProvider``), so every rebuild
adds a gallery image version exactly as AIB would; the lifecycle provider then lists, PATCHes and deletes those
versions with the real ``azure-mgmt-compute`` client (``arm_client.compute_client`` reads endpoint, CA bundle and
token from env, as in the dynamic-provider process). Phases last 0.05 s.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from azure.mgmt.compute.models import GalleryImageVersionUpdate

from components.providers import arm_client
from components.providers.build_run import BuildError, ImageBuildProvider, ImageBuildStartProvider
from components.emulator.scope import BuildScope
from components.emulator import Emulator, Faults
from components.providers.lifecycle import ImageVersionLifecycleProvider, LifecycleError
from tests.conftest import ROOT

SUB = "00000000-0000-0000-0000-0000000000bb"
RG = "rg-images"
LOCATION = "westeurope"
PHASE = 0.05
POLL = 0.02


@pytest.fixture
def emu(monkeypatch):
    with Emulator(tls=True, phase_seconds=PHASE, faults=Faults()) as emu:
        for key, value in emu.client_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIB_POLL_SECONDS", str(POLL))
        yield emu


class Gallery(BuildScope):
    """A resource group with an identity allowed to build into one gallery image definition."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__(emu, arm_client.image_builder_client(SUB, api_version="2024-02-01", poll_seconds=POLL),
                         subscription=SUB, resource_group=RG, location=LOCATION)
        self.aib = self.client
        self.compute = arm_client.compute_client(SUB, poll_seconds=POLL)
        self.definition = self.image_def_id
        self.last_start: dict[str, dict] = {}  # template name -> the start's outputs (the engine's state)

    def close(self) -> None:
        self.aib.close()
        self.compute.close()

    def template(self, name: str, *, exclude_from_latest: bool = False, validator: str | None = None) -> None:
        # continueDistributeOnFailure: a failed validator still publishes the (excluded) version, which is the
        # case where promotion must not happen.
        body = self.template_body(exclude_from_latest=exclude_from_latest, validators=[validator] if validator else [],
                                  continue_distribute_on_failure=True)
        self.aib.virtual_machine_image_templates.begin_create_or_update(RG, name, body).result()

    def build(self, name: str, trigger: str) -> dict:
        """One `pulumi up` of the build pair after a bumped rebuild trigger (the start updated): the wait's outputs."""
        props = {"subscription_id": SUB, "resource_group_name": RG, "image_template_name": name,
                 "api_version": "2024-02-01", "rebuild_trigger": trigger, "run_output_names": ["gallery"],
                 "poll_seconds": POLL, "auth_retry_seconds": 1, "cancel_timeout_seconds": 5}
        starts = ImageBuildStartProvider(lambda line: None)
        previous = self.last_start.get(name)
        start = (starts.update("id", previous, props) if previous else starts.create(props)).outs
        self.last_start[name] = start
        return ImageBuildProvider(lambda line: None).create(dict(props, run_started_at=start["run_started_at"])).outs

    def add_version(self, name: str, *, days_old: float = 0, tags: dict | None = None,
                    excluded: bool = False) -> str:
        """A version published `days_old` days ago (created directly, as an older build would have)."""
        vid = f"{self.definition}/versions/{name}"
        self.put(vid, {"location": LOCATION, "tags": tags or {}, "properties": {
            "publishingProfile": {"excludeFromLatest": excluded},
            "storageProfile": {"source": {"id": f"{self.rg_id}/providers/Microsoft.Compute/images/src"}}}},
                 "2023-07-03")
        if days_old:
            self.age(name, days_old)
        return vid

    def age(self, name: str, days: float) -> None:
        published = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        with self.emu.state.lock:
            version = self.emu.state.get(f"{self.definition}/versions/{name}")
            assert version is not None
            version["properties"]["publishingProfile"]["publishedDate"] = published.isoformat()

    def versions(self) -> dict[str, dict]:
        """Version name -> publishingProfile, as the emulator holds them."""
        return {n: v["properties"]["publishingProfile"]
                for n, v in self.emu.state.image_versions(self.definition).items()}

    def writes(self) -> int:
        return self.emu.state.request_count("PATCH", "/versions/") + \
            self.emu.state.request_count("DELETE", "/versions/")


@pytest.fixture
def gallery(emu):
    g = Gallery(emu)
    yield g
    g.close()


def lifecycle_props(gallery: Gallery, build: dict | None = None, **over) -> dict:
    """The inputs the component gives the lifecycle resource after `build` (the wait's outputs)."""
    props = {"image_definition_id": gallery.definition, "retention": None, "promotion_mode": None,
             "promote_version_id": None, "just_built_version_id": (build or {}).get("image_version_id"),
             "build_run_state": (build or {}).get("run_state"), "build_started_at": (build or {}).get("start_time"),
             "validated": False, "dry_run": False, "poll_seconds": POLL}
    props.update(over)
    return props


def name_of(version_id: str) -> str:
    return version_id.rsplit("/", 1)[-1]


# ---- tests --------------------------------------------------------------------------------------------------------

def test_retention_across_monthly_rebuilds(gallery):
    gallery.template("monthly")
    provider = ImageVersionLifecycleProvider()
    retention = {"keep_latest": 2, "delete_older_than_days": 90}
    outs, built = None, []
    for month in range(1, 5):
        build = gallery.build("monthly", trigger=f"2026-0{month}")
        built.append(name_of(build["image_version_id"]))
        news = provider.check({}, lifecycle_props(gallery, build, retention=retention)).inputs
        if outs is None:
            outs = provider.create(news).outs
        else:
            assert provider.diff("id", outs, news).changes  # a new build re-runs the policy
            outs = provider.update("id", outs, news).outs
        assert outs["kept"][0] == built[-1]  # the just-built version is the newest and kept
    assert built == ["0.0.1", "0.0.2", "0.0.3", "0.0.4"]
    assert outs["kept"] == ["0.0.4", "0.0.3"] and outs["excluded"] == ["0.0.2", "0.0.1"] and outs["deleted"] == []
    versions = gallery.versions()
    assert [n for n, p in sorted(versions.items()) if p["excludeFromLatest"]] == ["0.0.1", "0.0.2"]
    # End of life defaults to deleteOlderThanDays after publication.
    published = dt.datetime.fromisoformat(versions["0.0.1"]["publishedDate"].replace("Z", "+00:00"))
    eol = dt.datetime.fromisoformat(versions["0.0.1"]["endOfLifeDate"].replace("Z", "+00:00"))
    assert abs((eol - published) - dt.timedelta(days=90)) < dt.timedelta(seconds=1)
    assert outs["end_of_life"].keys() == {"0.0.1", "0.0.2"}

    # Months later: the old ones are past 90 days; 0.0.1 is pinned with the tag; one more rebuild.
    gallery.compute.gallery_image_versions.begin_update(
        RG, "gal", "linux", "0.0.1", GalleryImageVersionUpdate(tags={"keep": "true"})).result()
    for name in ("0.0.1", "0.0.2", "0.0.3"):
        gallery.age(name, 200)
    build = gallery.build("monthly", trigger="2026-05")
    news = provider.check({}, lifecycle_props(gallery, build, retention=retention)).inputs
    outs = provider.update("id", outs, news).outs
    assert outs["kept"] == ["0.0.5", "0.0.4", "0.0.1"] and "pinned" in outs["reasons"]["0.0.1"]
    assert outs["deleted"] == ["0.0.3", "0.0.2"] and outs["excluded"] == []
    assert sorted(gallery.versions()) == ["0.0.1", "0.0.4", "0.0.5"]
    assert gallery.versions()["0.0.1"]["excludeFromLatest"] is True  # pinned: left as it was, not re-included


def test_same_inputs_change_nothing(gallery):
    gallery.template("steady")
    provider = ImageVersionLifecycleProvider()
    build = gallery.build("steady", trigger="1")
    news = provider.check({}, lifecycle_props(gallery, build, retention={"keep_latest": 1})).inputs
    outs = provider.create(news).outs
    assert provider.diff("id", outs, dict(news)).changes is False  # an unchanged stack does not re-run it


@pytest.mark.parametrize("failing, promoted", [(False, True), (True, False)])
def test_promotion_only_after_successful_validation(emu, gallery, failing, promoted):
    gallery.template("validated", exclude_from_latest=True, validator="smoke")
    if failing:
        emu.faults.failing_validators = {"smoke"}
        with pytest.raises(BuildError, match="PartiallySucceeded|[Vv]alidat"):
            gallery.build("validated", trigger="1")
        # The build resource failed, so the engine would never reach the lifecycle; driven anyway with what the run
        # reports, the provider still refuses to promote.
        run = emu.state.template(f"{gallery.rg_id}/providers/Microsoft.VirtualMachineImages/imageTemplates/"
                                 f"validated")["properties"]["lastRunStatus"]
        [version] = gallery.versions()
        build = {"image_version_id": f"{gallery.definition}/versions/{version}", "run_state": run["runState"],
                 "start_time": run["startTime"]}
    else:
        build = gallery.build("validated", trigger="1")
    [version] = gallery.versions()
    assert gallery.versions()[version]["excludeFromLatest"] is True  # built out of latest
    outs = ImageVersionLifecycleProvider().create(lifecycle_props(
        gallery, build, promotion_mode="afterValidation", validated=True)).outs
    assert gallery.versions()[version]["excludeFromLatest"] is (not promoted)
    assert outs["promoted"] == ([build["image_version_id"]] if promoted else [])
    assert outs["notes"][0].startswith("promoted" if promoted else "not promoted")


def test_nothing_is_touched_without_a_policy(gallery):
    gallery.add_version("1.0.0", days_old=400)
    gallery.add_version("1.0.1", days_old=300)
    before = gallery.versions()
    outs = ImageVersionLifecycleProvider().create(lifecycle_props(gallery)).outs
    assert gallery.versions() == before and gallery.writes() == 0
    assert outs["kept"] == outs["excluded"] == outs["deleted"] == outs["promoted"] == []


def test_dry_run_reports_and_changes_nothing(gallery):
    gallery.add_version("1.0.0", days_old=400)
    gallery.add_version("1.0.1", days_old=100)
    gallery.add_version("1.0.2", days_old=10, excluded=True)
    before = gallery.versions()
    outs = ImageVersionLifecycleProvider().create(lifecycle_props(
        gallery, retention={"keep_latest": 1, "delete_older_than_days": 365}, promotion_mode="manual",
        promote_version_id=f"{gallery.definition}/versions/1.0.2", dry_run=True)).outs
    assert outs["applied"] is False
    assert outs["kept"] == ["1.0.2"] and outs["excluded"] == ["1.0.1"] and outs["deleted"] == ["1.0.0"]
    assert outs["promoted"] == [f"{gallery.definition}/versions/1.0.2"] and "(dry run)" in outs["notes"][1]
    assert gallery.versions() == before and gallery.writes() == 0


def test_a_later_stack_promotes_what_an_earlier_one_built(gallery):
    dev_version = gallery.add_version("1.0.5", excluded=True)  # dev built it out of latest and validated it
    gallery.add_version("1.0.4", days_old=30)
    outs = ImageVersionLifecycleProvider().create(lifecycle_props(
        gallery, promotion_mode="manual", promote_version_id=dev_version,
        retention={"keep_latest": 1})).outs
    assert outs["promoted"] == [dev_version]
    versions = gallery.versions()
    assert versions["1.0.5"]["excludeFromLatest"] is False and versions["1.0.4"]["excludeFromLatest"] is True

    with pytest.raises(LifecycleError, match="does not exist"):
        ImageVersionLifecycleProvider().create(lifecycle_props(
            gallery, promotion_mode="manual", promote_version_id=f"{gallery.definition}/versions/9.9.9"))


def test_local_run_builds_and_promotes(tmp_path):
    """The whole stack program on the emulator (`python -m components local`) with a lifecycle section: the
    lifecycle provider runs in the local engine and reaches the emulator through the same env as the builds."""
    from components.local.run import run_local

    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / item, tmp_path / item)
    for folder in ("scripts/linux", "files"):  # repository files the dev stack uploads
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "stacks").mkdir()
    # A stack of its own (inline steps only), so the test does not depend on the shipped stacks' files.
    definition = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-golden-images-dev/providers/"
                  "Microsoft.Compute/galleries/gal_golden_dev/images/ubuntu-2204")
    image = {"lifecycle": {"retention": {"keepLatest": 2}, "promotion": {"mode": "afterValidation"}},
             "template": {"properties": {
                 "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                            "sku": "22_04-lts-gen2", "version": "latest"},
                 "customize": [{"type": "Shell", "name": "packages", "inline": ["sudo apt-get install -y jq"]}],
                 "validate": {"inVMValidations": [{"type": "Shell", "name": "smoke", "inline": ["command -v jq"]}]},
                 "distribute": [{"type": "SharedImage", "runOutputName": "ubuntu-2204-sig", "excludeFromLatest": True,
                                 "galleryImageId": definition, "targetRegions": [{"name": "westeurope"}]}]}}}
    doc = {"config": {"azure-native:location": "westeurope", "aib-images:location": "westeurope",
                      "aib-images:resourceGroupName": "rg-golden-images-dev",
                      "aib-images:images": {"ubuntu-2204": image}}}
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    out, err = io.StringIO(), io.StringIO()
    code = run_local("dev", project_dir=Path(tmp_path), as_json=True, stdout=out, stderr=err, phase_seconds=0.05)
    assert code == 0, err.getvalue()
    outputs = json.loads(out.getvalue())["ubuntu-2204"]
    report = outputs["lifecycle"]
    assert report["dryRun"] is False and report["kept"] == [name_of(outputs["imageVersionId"])]
    assert report["promoted"] == [outputs["imageVersionId"]] and report["excluded"] == report["deleted"] == []
    assert "[lifecycle] gal_golden_dev/ubuntu-2204: promoted" in err.getvalue()
