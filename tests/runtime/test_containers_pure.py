"""Pure parts of the container lifecycle: the transition table and the spec's JSON form."""

from __future__ import annotations

import pytest

from runtime.container_create import _parse_device
from runtime.containers import ALLOWED, check_transition, spec_from_json, spec_to_json
from runtime.errors import Conflict, InvalidSpec
from runtime.spec import (
    ContainerSpec,
    Healthcheck,
    Mount,
    NetworkAttachment,
    PortMapping,
    Resources,
    RestartPolicy,
)


def test_transitions_are_checked_against_the_table() -> None:
    check_transition("start", "created", "demo-web-1")
    with pytest.raises(Conflict, match="container demo-web-1: cannot pause while exited"):
        check_transition("pause", "exited", "demo-web-1")
    assert "running" not in ALLOWED["remove"] and ALLOWED["unpause"] == frozenset({"paused"})


def test_specs_round_trip_through_json() -> None:
    spec = ContainerSpec(
        name="demo-web-1",
        image="busybox",
        command=("sh", "-c", "x"),
        entrypoint=(),
        env={"A": "1"},
        mounts=(Mount(type="volume", source="v", target="/v", read_only=True),),
        networks=(NetworkAttachment(network="n", aliases=("web",)),),
        ports=(PortMapping(container_port=80),),
        restart=RestartPolicy(name="on-failure", max_retries=2),
        resources=Resources(memory=1 << 20),
        healthcheck=Healthcheck(test=("CMD", "true"), interval=1.0),
        ulimits={"nofile": (10, 20)},
        extra_hosts=(("h", "1.2.3.4"),),
        labels={"l": "v"},
    )
    assert spec_from_json(spec_to_json(spec)) == spec
    # a key this code does not know (a row written by another version) is left out
    assert spec_from_json({**spec_to_json(spec), "no_such_field": [1]}) == spec


def test_device_strings_parse_with_defaults() -> None:
    assert _parse_device("/dev/null", "c")[1:] == ("/dev/null", "c", 1, 3, "rwm")
    assert _parse_device("/dev/null:/dev/mynull:r", "c")[1:] == ("/dev/mynull", "c", 1, 3, "r")
    with pytest.raises(InvalidSpec, match="container c: device '/dev/null:/x:rwz': invalid permissions"):
        _parse_device("/dev/null:/x:rwz", "c")


def test_spec_to_json_is_dataclasses_asdict_without_the_import() -> None:
    import dataclasses
    import json

    from runtime import spec as S

    spec = S.ContainerSpec(
        name="x", image="i", command=("a", "b"), env={"A": "1"},
        mounts=(S.Mount(type="bind", source="/a", target="/b", read_only=True),),
        ports=(S.PortMapping(container_port=80, host_port=8080),),
        networks=(S.NetworkAttachment(network="n", aliases=("x",)),),
        healthcheck=S.Healthcheck(test=("CMD", "true")), ulimits={"nofile": (1, 2)},
        extra_hosts=(("a", "1.2.3.4"),))
    want = json.loads(json.dumps(dataclasses.asdict(spec)))
    got = spec_to_json(spec)
    assert (got, list(got)) == (want, list(want))
