"""The pure part of `composer watch`: ignore and include patterns as docker compose matches them
(moby's patternmatcher over absolute paths), the rules made of develop.watch triggers, the plan of
one batch of changes, the debouncer, and what watch refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.errors import ComposerError, ConfigError
from composer.watch.patterns import PatternMatcher, read_ignore_file
from composer.watch.rules import (
    Debouncer,
    initial_files,
    plan_batch,
    restart_message,
    watch_setup,
)

# ---- patterns --------------------------------------------------------------------------------------


def test_a_pattern_is_relative_to_its_root_and_matches_one_level_like_dockerignore() -> None:
    m = PatternMatcher("/p/src", ["*.tmp"])
    assert m.matches("/p/src/a.tmp")
    assert not m.matches("/p/src/sub/a.tmp")  # `*` stays within a component (not gitignore's rule)
    assert not m.matches("/p/other/a.tmp")


def test_double_star_crosses_directories() -> None:
    m = PatternMatcher("/p/src", ["**/*.tmp"])
    assert m.matches("/p/src/a.tmp")
    assert m.matches("/p/src/sub/deep/a.tmp")
    assert not m.matches("/p/src/sub/a.txt")


def test_a_directory_pattern_covers_what_is_below_it() -> None:
    m = PatternMatcher("/p/src", ["cache/"])
    assert m.matches("/p/src/cache")
    assert m.matches("/p/src/cache/x/y.txt")
    assert not m.matches("/p/src/cached.txt")


def test_an_exclusion_takes_a_match_back_and_the_last_pattern_decides() -> None:
    m = PatternMatcher("/p", ["*.log", "!keep.log"])
    assert m.matches("/p/a.log")
    assert not m.matches("/p/keep.log")
    again = PatternMatcher("/p", ["*.log", "!keep.log", "keep.log"])
    assert again.matches("/p/keep.log")


def test_a_lone_star_keeps_only_the_exclusions_as_docker_compose_does() -> None:
    assert not PatternMatcher("/p", ["*"]).matches("/p/a")
    assert not PatternMatcher("/p", ["*", "!b"]).matches("/p/a")


def test_an_absolute_pattern_is_taken_as_it_is() -> None:
    assert PatternMatcher("/p/src", ["/p/src/gen"]).matches("/p/src/gen/x")


def test_question_mark_and_classes() -> None:
    m = PatternMatcher("/p", ["file?.txt", "[ab].md"])
    assert m.matches("/p/file1.txt") and not m.matches("/p/file12.txt")
    assert m.matches("/p/a.md") and not m.matches("/p/c.md")


def test_a_broken_pattern_is_an_error() -> None:
    with pytest.raises(ValueError, match="syntax error in pattern"):
        PatternMatcher("/p", ["["])


def test_a_dockerignore_is_read_as_moby_reads_it() -> None:
    text = "\ufeff# comment\n/build\n!build/keep\n\n  tmp/  \n! spaced\n"
    assert read_ignore_file(text) == ["build", "!build/keep", "tmp", "!spaced"]


# ---- rules -----------------------------------------------------------------------------------------


def _services(*triggers: dict[str, object], **more: object) -> dict[str, dict[str, object]]:
    return {"web": {"image": "busybox", "develop": {"watch": list(triggers)}, **more}}


def _setup(tmp_path: Path, *triggers: dict[str, object], **more: object):  # type: ignore[no-untyped-def]
    return watch_setup(_services(*triggers, **more), ["web"])


def test_a_sync_rule_maps_a_changed_file_under_its_target(tmp_path: Path) -> None:
    src = str(tmp_path / "src")
    setup = _setup(tmp_path, {"path": src, "action": "sync", "target": "/srv", "ignore": ["*.tmp"]})
    assert setup.paths == (src,)
    rule = setup.rules[0]
    assert rule.container_path(f"{src}/a/b.txt") == "/srv/a/b.txt"
    assert rule.container_path(src) == "/srv"
    assert rule.container_path(f"{src}/x.tmp") is None  # its ignore
    assert rule.container_path(f"{src}/.git/HEAD") is None  # .git anywhere
    assert rule.container_path(f"{src}/sub/.git/HEAD") is None
    assert rule.container_path(f"{src}/.a.swp") is None  # an editor's
    assert rule.container_path(f"{src}/x~") is None
    assert rule.container_path(f"{tmp_path}/srcx/a") is None  # not under the path


def test_include_keeps_only_what_it_names(tmp_path: Path) -> None:
    src = str(tmp_path)
    setup = _setup(tmp_path, {"path": src, "action": "sync", "target": "/app", "include": ["*.py"]})
    assert setup.rules[0].container_path(f"{src}/m.py") == "/app/m.py"
    assert setup.rules[0].container_path(f"{src}/m.txt") is None


def test_a_dockerignore_of_the_build_context_is_honoured_dockerfile_specific_first(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    trigger = {"path": str(tmp_path), "action": "sync", "target": "/app"}
    build = {"context": str(tmp_path), "dockerfile": "Web.Dockerfile"}
    rule = _setup(tmp_path, trigger, build=build).rules[0]
    assert rule.container_path(f"{tmp_path}/secret.txt") is None
    assert rule.container_path(f"{tmp_path}/other.txt") == "/app/other.txt"
    (tmp_path / "Web.Dockerfile.dockerignore").write_text("other.txt\n")
    rule = _setup(tmp_path, trigger, build=build).rules[0]
    assert rule.container_path(f"{tmp_path}/secret.txt") == "/app/secret.txt"
    assert rule.container_path(f"{tmp_path}/other.txt") is None
    no_build = _setup(tmp_path, trigger).rules[0]  # no build section: no .dockerignore
    assert no_build.container_path(f"{tmp_path}/secret.txt") == "/app/secret.txt"


def test_a_batch_syncs_restarts_and_runs_each_exec_once(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    services = {
        "web": {"develop": {"watch": [
            {"path": a, "action": "sync+restart", "target": "/a"},
            {"path": b, "action": "sync+exec", "target": "/b", "exec": {"command": ["true"]}},
        ]}},
        "api": {"develop": {"watch": [{"path": a, "action": "restart"}]}},
    }
    setup = watch_setup(services, ["web", "api"])
    plan = plan_batch([f"{a}/1", f"{b}/2", f"{b}/3", "/elsewhere"], setup.rules)
    assert plan.sync == {"web": [(f"{a}/1", "/a/1"), (f"{b}/2", "/b/2"), (f"{b}/3", "/b/3")]}
    assert plan.restart == ["api", "web"]
    assert [r.index for r in plan.exec["web"]] == [1]
    assert restart_message(plan.restart) == 'service(s) ["api" "web"] restarted'


def test_rebuild_is_refused_naming_the_service(tmp_path: Path) -> None:
    trigger = {"path": str(tmp_path), "action": "rebuild"}
    with pytest.raises(ComposerError, match="^service web: watch action rebuild needs an image build, which "
                                            "composer does not support yet$"):
        _setup(tmp_path, trigger, build={"context": str(tmp_path)})
    with pytest.raises(ComposerError, match='with action rebuild without a build context'):
        _setup(tmp_path, trigger)


def test_sync_exec_needs_a_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^services\.web\.develop\.watch\[0\]\.exec: "):
        _setup(tmp_path, {"path": str(tmp_path), "action": "sync+exec", "target": "/x", "exec": {}})


def test_a_broken_ignore_pattern_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^services\.web\.develop\.watch\[0\]\.ignore: syntax error"):
        _setup(tmp_path, {"path": str(tmp_path), "action": "sync", "target": "/x", "ignore": ["["]})


def test_no_develop_section_is_an_error() -> None:
    with pytest.raises(ComposerError, match="none of the selected services is configured for watch"):
        watch_setup({"web": {"image": "busybox"}}, ["web"])


def test_a_sync_path_under_a_bind_mount_is_not_watched_with_a_warning(tmp_path: Path) -> None:
    src = str(tmp_path / "src")
    vols = [{"type": "bind", "source": str(tmp_path), "target": "/data"}]
    services = {"web": {"volumes": vols, "develop": {"watch": [
        {"path": src, "action": "sync", "target": "/srv"},
        {"path": src, "action": "restart"},
    ]}}}
    setup = watch_setup(services, ["web"])
    assert setup.paths == (src,)  # the restart rule's
    said = f"path '{src}' also declared by a bind mount volume, this path won't be monitored!"
    assert setup.warnings == (said,)


def test_initial_files_are_those_changed_since_the_image_and_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("old")
    os.utime(tmp_path / "old.txt", (1000, 1000))
    (tmp_path / "new.txt").write_text("new")
    (tmp_path / "skip.tmp").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "n.txt").write_text("n")
    trigger = {"path": str(tmp_path), "action": "sync", "target": "/app", "ignore": ["*.tmp"],
               "initial_sync": True}
    setup = _setup(tmp_path, trigger)
    assert setup.initial_sync == setup.rules
    assert initial_files(setup.rules[0], 2000.0, []) == [
        (f"{tmp_path}/new.txt", "/app/new.txt"),
        (f"{tmp_path}/d/n.txt", "/app/d/n.txt"),
    ]


# ---- debouncing ------------------------------------------------------------------------------------


def test_changes_are_batched_until_half_a_second_passes_without_one() -> None:
    d = Debouncer()
    assert d.wait(0.0) is None and d.due(0.0) == []
    d.add("/a", 0.0)
    d.add("/b", 0.4)
    d.add("/a", 0.8)
    assert d.due(1.2) == []  # 0.4 s since the last
    assert d.wait(1.2) == pytest.approx(0.1)
    assert d.due(1.3) == ["/a", "/b"]
    assert d.wait(1.3) is None and d.due(5.0) == []
