from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from textwrap import dedent

import pytest

from composer import labels as L
from composer.errors import DependencyCycleError, ProjectError, ServiceError
from composer.graph import dependency_closure, service_order
from composer.plan import DownOptions, Observed, ReconcileOptions, reconcile, teardown
from composer.project import Project
from runtime.spec import ContainerInfo

from .helpers import load

APP = """
services:
  web:
    image: busybox
    depends_on: {app: {condition: service_started}}
    ports: ["8080"]
  app:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  migrate:
    image: busybox
    depends_on: {db: {condition: service_healthy}}
  db:
    image: busybox
    volumes: [data:/data]
    healthcheck: {test: ["CMD", "true"]}
volumes: {data: {}}
"""


def _project(text: str) -> Project:
    """A Project from an inline canonical-ish tree (for cycles, which docker compose refuses to print)."""
    import yaml

    tree = yaml.safe_load(text)
    return Project(name="demo", working_dir="/w", config_files=("/w/compose.yaml",), tree=tree)


def test_cycle_is_an_error_naming_the_cycle() -> None:
    p = _project(
        "services:\n  a: {image: x, depends_on: {b: {}}}\n  b: {image: x, links: [c]}\n"
        "  c: {image: x, network_mode: 'service:a'}\n"
    )
    with pytest.raises(DependencyCycleError, match=r"^services: dependency cycle: a -> b -> c -> a$"):
        service_order(p)


def test_order_puts_dependencies_first(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    assert service_order(p) == ["db", "migrate", "app", "web"]
    assert dependency_closure(p, ["migrate"]) == {"migrate", "db"}


def test_reconcile_empty_project_creates_everything(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    plan = reconcile(p, Observed(images=frozenset({"busybox"})))
    assert plan.render() == dedent("""\
        [] -> #1 pod:demo, CreatePod, not found
        [] -> #2 network:demo_default, CreateNetwork, not found
        [] -> #3 volume:demo_data, CreateVolume, not found
        [1,2,3] -> #4 service:db:1, CreateContainer, no existing container
        [4] -> #5 service:db:1, StartContainer, created by #4
        [1,2,4] -> #6 service:migrate:1, CreateContainer, no existing container
        [5,6] -> #7 service:migrate:1, StartContainer, created by #6
        [1,2,4,6] -> #8 service:app:1, CreateContainer, no existing container
        [5,7,8] -> #9 service:app:1, StartContainer, created by #8
        [1,2,8] -> #10 service:web:1, CreateContainer, no existing container
        [9,10] -> #11 service:web:1, StartContainer, created by #10
        """)
    start_app = plan.ops[8]
    assert [(d.service, d.condition) for d in start_app.wait_for] == [
        ("db", "service_healthy"),
        ("migrate", "service_completed_successfully"),
    ]


def _running(
    p: Project, service: str, n: int = 1, *, status: str = "running", hash_: str | None = None, cid: str = ""
) -> ContainerInfo:
    svc = p.services.get(service, {"image": "busybox"})
    return ContainerInfo(
        id=cid or f"id-{service}-{n}",
        name=f"demo-{service}-{n}",
        image="busybox",
        image_id="sha256:x",
        status=status,  # type: ignore[arg-type]
        created_at="2026-01-01T00:00:00Z",
        labels={
            L.PROJECT: "demo",
            L.SERVICE: service,
            L.CONTAINER_NUMBER: str(n),
            L.ONEOFF: "False",
            L.CONFIG_HASH: hash_ if hash_ is not None else L.config_hash(svc),
        },
    )


def test_reconcile_running_project_recreates_only_the_changed_service(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    have = [_running(p, s) for s in ("db", "app", "web")]
    have.append(_running(p, "migrate", status="exited"))
    have.append(_running(p, "gone"))
    observed = Observed(
        containers=tuple(have),
        networks=frozenset({"demo_default"}),
        volumes=frozenset({"demo_data"}),
        images=frozenset({"busybox"}),
        pod=True,
    )
    assert reconcile(p, observed).render() == dedent("""\
        [] -> #1 service:migrate:1, StartContainer, container is exited
        """)
    changed = replace(
        p, tree={**p.tree, "services": {**p.services, "web": {**p.services["web"], "command": ["x"]}}}
    )
    plan = reconcile(changed, observed, ReconcileOptions(remove_orphans=True))
    assert plan.render() == dedent("""\
        [] -> #1 service:migrate:1, StartContainer, container is exited
        [] -> #2 service:web:1, RecreateContainer, config hash changed
        [2] -> #3 service:web:1, StartContainer, recreated by #2
        [] -> #4 service:gone:1, StopContainer, orphan
        [4] -> #5 service:gone:1, RemoveContainer, orphan
        """)
    quiet = reconcile(p, observed, ReconcileOptions(services=("web",), no_deps=True, recreate="force"))
    assert quiet.render() == dedent("""\
        [] -> #1 service:web:1, RecreateContainer, --force-recreate
        [1] -> #2 service:web:1, StartContainer, recreated by #1
        """)
    assert quiet.warnings and "demo-gone-1" in quiet.warnings[0]


def test_reconcile_scales_up_and_down(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  w:\n    image: busybox\n    network_mode: none\n")
    observed = Observed(
        containers=(_running(p, "w", 1), _running(p, "w", 2), _running(p, "w", 3)),
        images=frozenset({"busybox"}),
        pod=True,
    )
    assert reconcile(p, observed, ReconcileOptions(scale={"w": 2})).render() == dedent("""\
        [] -> #1 service:w:3, StopContainer, scale down to 2
        [1] -> #2 service:w:3, RemoveContainer, scale down to 2
        """)
    assert reconcile(p, observed, ReconcileOptions(scale={"w": 4}, start=False)).render() == dedent("""\
        [] -> #1 service:w:4, CreateContainer, scale up to 4
        """)


def test_external_network_must_exist(tmp_path: Path) -> None:
    p = load(
        tmp_path, "services:\n  a: {image: busybox, networks: [ext]}\nnetworks: {ext: {external: true}}\n"
    )
    with pytest.raises(ProjectError, match="network ext declared as external, but could not be found"):
        reconcile(p, Observed())


def test_external_volume_must_exist_in_docker_composes_words(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: busybox, volumes: [ext:/d]}\n"
                       "volumes: {ext: {external: true, name: shared-data}}\n")
    with pytest.raises(ProjectError, match='external volume "shared-data" not found$'):
        reconcile(p, Observed())


def test_a_declared_volume_that_is_not_the_projects_is_used_with_docker_composes_warning(
    tmp_path: Path,
) -> None:
    p = load(tmp_path, "name: demo\nservices:\n  a: {image: busybox, volumes: [mine:/m, theirs:/t, "
                       "made:/x, ext:/e]}\nvolumes: {mine: {}, theirs: {}, made: {}, "
                       "ext: {external: true}}\n")
    observed = Observed(volumes=frozenset({"demo_mine", "demo_theirs", "demo_made", "ext"}),
                        volume_projects={"demo_mine": "demo", "demo_theirs": "other", "demo_made": "",
                                         "ext": ""})
    plan = reconcile(p, observed)
    assert not [op for op in plan.ops if op.kind == "CreateVolume"]
    assert set(plan.warnings) == {
        'volume "demo_theirs" already exists but was created for project "other" (expected "demo"). '
        "Use `external: true` to use an existing volume",
        'volume "demo_made" already exists but was not created by Docker Compose. '
        "Use `external: true` to use an existing volume",
    }


def test_a_volume_driver_other_than_local_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: busybox, volumes: [data:/d]}\n"
                       "volumes: {data: {driver: rexray/ebs}}\n")
    with pytest.raises(ProjectError, match='volumes.data.driver: error looking up volume plugin rexray/ebs: '
                                           'plugin "rexray/ebs" not found; expected local$'):
        reconcile(p, Observed())
    assert reconcile(p, Observed(volumes=frozenset({f"{p.name}_data"}))).ops  # one made before: used


def test_teardown_stops_dependents_first_from_labels_alone(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    cs = []
    for s, deps in (
        ("db", ""),
        ("migrate", "db:service_healthy:false"),
        ("app", "db:service_healthy:false,migrate:service_completed_successfully:false"),
        ("web", "app:service_started:false"),
    ):
        c = _running(p, s, status="exited" if s == "migrate" else "running")
        cs.append(replace(c, labels={**c.labels, L.DEPENDS_ON: deps}))
    plan = teardown(
        "demo",
        cs,
        known_services=None,
        networks=["demo_default"],
        volumes=["demo_data"],
        pod=True,
        options=DownOptions(volumes=True),
    )
    assert plan.render() == dedent("""\
        [] -> #1 service:web:1, StopContainer, project down
        [1] -> #2 service:web:1, RemoveContainer, project down
        [2] -> #3 service:app:1, StopContainer, project down
        [3] -> #4 service:app:1, RemoveContainer, project down
        [4] -> #5 service:migrate:1, RemoveContainer, project down
        [4,5] -> #6 service:db:1, StopContainer, project down
        [6] -> #7 service:db:1, RemoveContainer, project down
        [2,4,5,7] -> #8 network:demo_default, RemoveNetwork, project down
        [2,4,5,7] -> #9 volume:demo_data, RemoveVolume, down -v
        [2,4,5,7] -> #10 pod:demo, RemovePod, project down
        """)


def test_a_service_to_build_is_refused_until_its_image_exists(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    p = load(tmp_path, "services:\n  web:\n    build: ./ctx\n")
    with pytest.raises(
        ServiceError, match="^service web: image demo-web must be built, and build is not supported"
    ):
        reconcile(p, Observed())
    plan = reconcile(p, Observed(images=frozenset({"demo-web"}), pod=True))
    assert [op.kind for op in plan.ops] == ["CreateNetwork", "CreateContainer", "StartContainer"]


def test_a_container_sharing_a_recreated_namespace_is_recreated_too(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "services:\n  web: {image: busybox}\n  side: {image: busybox, network_mode: 'service:web'}\n"
        "  other: {image: busybox, depends_on: [web]}\n",
    )
    observed = Observed(
        containers=(_running(p, "web", hash_="old"), _running(p, "side"), _running(p, "other")),
        networks=frozenset({"demo_default"}),
        images=frozenset({"busybox"}),
        pod=True,
    )
    rendered = reconcile(p, observed).render()
    assert "service:side:1, RecreateContainer, web is recreated and this container uses it by id" in rendered
    assert "service:other:1, RecreateContainer" not in rendered


def test_a_container_still_joined_to_a_replaced_container_is_recreated(tmp_path: Path) -> None:
    """`up --force-recreate web` alone replaced web; side still sits in the old web's network
    namespace (no network at all): the next `up` recreates it, as docker compose does (it hashes
    the resolved `container:<id>`), and leaves it alone once it joins the current web."""
    from runtime.spec import ContainerSpec

    p = load(
        tmp_path,
        "services:\n  web: {image: busybox}\n  side: {image: busybox, network_mode: 'service:web'}\n"
        "  vols: {image: busybox, volumes_from: [web]}\n",
    )

    def joined(service: str, web_id: str) -> ContainerInfo:
        spec = ContainerSpec(name=f"demo-{service}-1", image="busybox")
        if service == "side":
            spec = replace(spec, network_mode=f"container:{web_id}")
        else:
            spec = replace(spec, volumes_from=(f"{web_id}:rw",))
        return replace(_running(p, service), spec=spec)

    def plan(web_id: str) -> str:
        observed = Observed(
            containers=(_running(p, "web", cid="id-web-new"), joined("side", web_id), joined("vols", web_id)),
            networks=frozenset({"demo_default"}),
            images=frozenset({"busybox"}),
            pod=True,
        )
        return reconcile(p, observed).render()

    rendered = plan("id-web-old")
    cause = "web's container was replaced and this container uses the old one by id"
    assert f"service:side:1, RecreateContainer, {cause}" in rendered
    assert f"service:vols:1, RecreateContainer, {cause}" in rendered
    assert plan("id-web-new") == ""


def test_run_waits_for_the_conditions_of_the_dependencies_it_brings_up(tmp_path: Path) -> None:
    """docker compose's run waits for service_healthy/completed dependencies before the one-off
    starts (it started them and went on at once); --no-deps waits for nothing."""
    p = load(tmp_path, APP)

    def plan(services: tuple[str, ...]) -> str:
        opts = ReconcileOptions(services=services, no_deps=True, infra_only=frozenset({"app"}))
        return reconcile(p, Observed(images=frozenset({"busybox"}), pod=True), opts).render()

    rendered = plan(("db", "migrate", "app"))
    last = rendered.splitlines()[-1]
    assert last.endswith("service:app, AwaitDependencies, run waits for its dependencies"), rendered
    op = reconcile(
        p, Observed(images=frozenset({"busybox"}), pod=True),
        ReconcileOptions(services=("db", "migrate", "app"), no_deps=True, infra_only=frozenset({"app"})),
    ).ops[-1]
    assert sorted((d.service, d.condition) for d in op.wait_for) == [
        ("db", "service_healthy"), ("migrate", "service_completed_successfully")]
    assert "AwaitDependencies" not in plan(("app",))


def test_depends_on_restart_restarts_dependents_of_a_recreated_service(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "services:\n  db: {image: busybox}\n"
        "  app: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}\n",
    )
    observed = Observed(
        containers=(_running(p, "db", hash_="old"), _running(p, "app")),
        networks=frozenset({"demo_default"}),
        images=frozenset({"busybox"}),
        pod=True,
    )
    assert reconcile(p, observed).render() == dedent("""\
        [] -> #1 service:db:1, RecreateContainer, config hash changed
        [1] -> #2 service:db:1, StartContainer, recreated by #1
        [2] -> #3 service:app:1, StopContainer, db is recreated (depends_on restart: true)
        [2,3] -> #4 service:app:1, StartContainer, restarted by #3
        """)


def test_scaling_a_dependency_up_restarts_and_recreates_no_dependent(tmp_path: Path) -> None:
    """docker compose 2.40's stopDependentContainers runs on a recreate only: `up --scale db=2`
    leaves app (depends_on restart, or links, which imply it) and side (network_mode
    service:db, which joins db-1, still there) as they are."""
    p = load(
        tmp_path,
        "services:\n  db: {image: busybox}\n"
        "  app: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}\n"
        "  web: {image: busybox, links: [db]}\n"
        "  side: {image: busybox, network_mode: 'service:db'}\n",
    )
    observed = Observed(
        containers=tuple(_running(p, s) for s in ("db", "app", "web", "side")),
        networks=frozenset({"demo_default"}),
        images=frozenset({"busybox"}),
        pod=True,
    )
    assert reconcile(p, observed, ReconcileOptions(scale={"db": 2})).render() == dedent("""\
        [] -> #1 service:db:2, CreateContainer, scale up to 2
        [1] -> #2 service:db:2, StartContainer, created by #1
        """)


def test_a_recreate_killed_midway_is_finished_from_labels(tmp_path: Path) -> None:
    """docker compose's recreate makes the new container as `<12 hex of the old id>_<name>` before it
    removes the old one: a kill between leaves two containers of one number, or the new one alone
    under its temporary name. One per number stays (of the file's config), the other goes, and a
    temporary name becomes the final one."""
    p = load(tmp_path, "services:\n  web: {image: busybox}\n")
    old = replace(_running(p, "web", hash_="stale", cid="a" * 64), status="exited")  # type: ignore[arg-type]
    new = replace(_running(p, "web", status="created", cid="b" * 64), name=f"{'a' * 12}_demo-web-1")
    seen = {"networks": frozenset({"demo_default"}), "images": frozenset({"busybox"}), "pod": True}
    both = reconcile(p, Observed(containers=(old, new), **seen))  # type: ignore[arg-type]
    assert both.render() == dedent("""\
        [] -> #1 service:web:1, RemoveContainer, a recreate was interrupted
        [1] -> #2 service:web:1, RenameContainer, aaaaaaaaaaaa_demo-web-1 is a recreate's temporary name
        [2] -> #3 service:web:1, StartContainer, container is created
        """)
    assert both.ops[0].container_id == old.id and not both.ops[0].volumes  # its volumes are the new one's
    assert (both.ops[1].container_id, both.ops[1].name) == (new.id, "demo-web-1")
    alone = reconcile(p, Observed(containers=(new,), **seen))  # type: ignore[arg-type]
    assert [op.kind for op in alone.ops] == ["RenameContainer", "StartContainer"]
    # the new one half made (a kill inside its create): it goes with what only it has, the old one
    # is recreated under its final name once the temporary name is free
    damaged = reconcile(p, Observed(containers=(old, new), damaged=frozenset({new.id}), **seen))  # type: ignore[arg-type]
    assert damaged.render() == dedent("""\
        [] -> #1 service:web:1, RemoveContainer, a recreate was interrupted
        [1] -> #2 service:web:1, RecreateContainer, config hash changed
        [2] -> #3 service:web:1, StartContainer, recreated by #2
        """)
    assert damaged.ops[0].container_id == new.id and damaged.ops[0].volumes
    assert (damaged.ops[1].container_id, damaged.ops[1].name) == (old.id, "demo-web-1")
    # the file's config is the old one's again (the change undone): it stays, and starts once the
    # new one, which holds its addresses and ports, is gone (it started beside that removal)
    kept = _running(p, "web", status="exited", cid="a" * 64)
    newer = replace(_running(p, "web", status="created", hash_="newer", cid="b" * 64), name=new.name)
    undone = reconcile(p, Observed(containers=(kept, newer), **seen))  # type: ignore[arg-type]
    assert undone.render() == dedent("""\
        [] -> #1 service:web:1, RemoveContainer, a recreate was interrupted
        [1] -> #2 service:web:1, StartContainer, container is exited
        """)
    assert undone.ops[0].container_id == new.id
