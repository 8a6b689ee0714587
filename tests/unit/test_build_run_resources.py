"""The build resources under Pulumi mocks: they construct (dill-serializing their provider), expose what their
providers return, and declare_build wires each wait to its own start and after the stack's starts. The mocks answer
values unique to each resource and run: the tests assert where the product routes them, not the values."""

from __future__ import annotations

import base64
import pickle
import uuid

import pulumi
import pytest


class _Mocks(pulumi.runtime.Mocks):
    """Echo the inputs and answer each output of a build resource with a value unique to that resource and run, so a
    test can only see it where the product wired it (never a constant both sides happen to share)."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []
        self.answers: dict[str, dict[str, str]] = {}
        self.token = uuid.uuid4().hex[:8]

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        from components.providers.build_run.provider import START_OUTPUTS, WAIT_OUTPUTS

        self.created.append(args)
        keys = {"ImageBuildStart": START_OUTPUTS, "ImageBuild": WAIT_OUTPUTS}.get(args.typ.rsplit(":", 1)[-1], ())
        self.answers[args.name] = {key: f"{args.name}/{key}/{self.token}" for key in keys}
        return f"{args.name}-id", {**args.inputs, **self.answers[args.name]}

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


def test_each_resource_declares_exactly_the_outputs_its_provider_returns():
    from components.providers.build_run import ImageBuild, ImageBuildStart
    from components.providers.build_run.provider import START_OUTPUTS, WAIT_OUTPUTS

    assert set(ImageBuildStart.__annotations__) == set(START_OUTPUTS)
    assert set(ImageBuild.__annotations__) == set(WAIT_OUTPUTS)


@pulumi.runtime.test
def test_declare_build_wires_each_wait_to_its_own_start_and_exposes_the_build_results(mocks):
    from components.providers.build_run import declare_build
    from components.providers.build_run.provider import START_OUTPUTS, WAIT_OUTPUTS

    pairs = [declare_build((f"img{i}-run", f"img{i}-build"), _args(i)) for i in range(2)]
    exposed = {f"img{i}-{kind}": {key: getattr(resource, key) for key in keys}
               for i, (start, wait) in enumerate(pairs)
               for kind, resource, keys in (("run", start, START_OUTPUTS), ("build", wait, WAIT_OUTPUTS))}

    def check(values):
        resolved = dict(zip([(name, key) for name, outs in exposed.items() for key in outs], values))
        inputs = {a.name: a.inputs for a in mocks.created}
        types = {a.name: a.typ for a in mocks.created}
        for i in range(2):
            start, wait = f"img{i}-run", f"img{i}-build"
            assert types[start] == "pulumi-python:dynamic/aib:ImageBuildStart"
            assert types[wait] == "pulumi-python:dynamic/aib:ImageBuild"
            assert inputs[start]["image_template_name"] == inputs[wait]["image_template_name"] == f"tmpl-{i}"
            assert inputs[wait]["run_started_at"] == mocks.answers[start]["run_started_at"], \
                "the wait follows the run its own start started"
            for name in (start, wait):
                assert {key: resolved[name, key] for key in exposed[name]} == mocks.answers[name]

    return pulumi.Output.all(*[o for outs in exposed.values() for o in outs.values()]).apply(check)


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
