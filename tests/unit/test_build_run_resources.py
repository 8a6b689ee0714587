"""The build resources under Pulumi mocks: they construct (dill-serializing their provider), expose their outputs, and
declare_build wires each wait after the stack's starts."""

from __future__ import annotations

import base64
import pickle

import pulumi
import pytest


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.created.append(args)
        outs = dict(args.inputs)
        if args.typ.endswith(":ImageBuildStart"):
            outs["run_started_at"] = "2026-01-01T00:00:00+00:00"
            outs["template_id"] = "/subscriptions/s/resourceGroups/rg/providers/x/imageTemplates/" + outs[
                "image_template_name"]
        if args.typ.endswith(":ImageBuild"):
            outs["run_state"] = "Succeeded"
            outs["run_outputs"] = {"gallery": {"artifact_id": "/x/galleries/g/images/i/versions/1.0.0",
                                               "artifact_uri": None}}
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks():
    m = _Mocks()
    pulumi.runtime.set_mocks(m, preview=False)
    yield m


def _args(i: int = 0):
    from components.providers.build_run import BuildArgs

    return BuildArgs(subscription_id="00000000-0000-0000-0000-000000000000", resource_group_name="rg",
                     image_template_name=f"tmpl-{i}", run_output_names=["gallery"], rebuild_trigger="1")


@pulumi.runtime.test
def test_declare_build_constructs_both_resources_with_type_tokens(mocks):
    from components.providers.build_run import declare_build

    start, wait = declare_build(("img-run", "img-build"), _args())

    def check(values):
        run_started_at, state, outputs = values
        assert run_started_at == "2026-01-01T00:00:00+00:00"
        assert state == "Succeeded"
        assert outputs["gallery"]["artifact_id"].endswith("/versions/1.0.0")
        types = {a.name: a.typ for a in mocks.created}
        assert types["img-run"] == "pulumi-python:dynamic/aib:ImageBuildStart"
        assert types["img-build"] == "pulumi-python:dynamic/aib:ImageBuild"
        wait_inputs = next(a.inputs for a in mocks.created if a.name == "img-build")
        assert wait_inputs["run_started_at"] == run_started_at, "the wait follows the start's run"

    return pulumi.Output.all(start.run_started_at, wait.run_state, wait.run_outputs).apply(check)


@pulumi.runtime.test
def test_provider_is_pickled_by_reference_and_not_secret(mocks):
    from components.providers.build_run import ImageBuildStart

    start = ImageBuildStart("one", _args())

    def check(_):
        inputs = next(a.inputs for a in mocks.created if a.name == "one")
        blob = base64.b64decode(inputs["__provider"])
        # By reference: the pickle names the module and class instead of carrying bytecode.
        assert b"components.providers.build_run.provider" in blob and b"ImageBuildStartProvider" in blob
        assert len(blob) < 400, len(blob)
        provider = pickle.loads(blob)
        assert provider.progress is None

    return start.urn.apply(check)


@pulumi.runtime.test
def test_barrier_makes_waits_wait_for_every_start(mocks):
    from components.providers.build_run import BuildBarrier, declare_build

    with BuildBarrier() as barrier:
        pairs = [declare_build((f"img{i}-run", f"img{i}-build"), _args(i), wait_after=barrier) for i in range(3)]

    def check(_):
        names = [a.name for a in mocks.created]
        assert sorted(n for n in names if n.endswith("-build")) == ["img0-build", "img1-build", "img2-build"]
        # With mocks, a resource is only registered once its depends_on resolved: every start comes first.
        last_start = max(names.index(f"img{i}-run") for i in range(3))
        first_wait = min(names.index(f"img{i}-build") for i in range(3))
        assert last_start < first_wait

    return pulumi.Output.all(*[w.urn for _, w in pairs]).apply(check)
