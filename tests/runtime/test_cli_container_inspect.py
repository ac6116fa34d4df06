"""`composer container inspect` as docker scripts read it: docker's ContainerJSON keys and types, the
Config merged with the image's, and the Go templates of --format (range, index, json, if, ...)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from composer.cli.go_text_template import GoMap, GoStruct, TemplateError, plain, render
from tests.conftest import composer_cli
from tests.runtime.test_cli_container import bb, cli  # noqa: F401  (bb is a fixture)

NEVER = "0001-01-01T00:00:00Z"

# ---- the template engine (pure) -----------------------------------------------------------

DOC = {
    "Name": "/web", "State": {"Status": "running", "Pid": 12, "Running": True},
    "Config": {"Env": ["A=1", "B=2"], "Labels": GoMap({"z": "9", "com.docker.compose.service": "web"})},
    "NetworkSettings": {"Networks": GoMap({"b_net": {"IPAddress": "10.0.1.2"},
                                           "a_net": {"IPAddress": "10.0.0.2"}})},
    "Mounts": [{"Type": "bind", "Source": "/a"}, {"Type": "volume", "Source": "/v"}],
    "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
}


@pytest.mark.parametrize(("template", "out"), [
    ("{{.State.Status}}", "running"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.2 10.0.1.2 "),  # keys sorted
    ("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}",
     "a_net=10.0.0.2;b_net=10.0.1.2;"),
    ('{{index .Config.Labels "com.docker.compose.service"}}', "web"),
    ('{{index .Config.Labels "missing"}}', ""),  # a map[string]string's zero value
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{.Config.Labels}}", "map[com.docker.compose.service:web z:9]"),
    ("{{.HostConfig.RestartPolicy}}", "{always 0}"),
    ("{{json .Config.Labels}}", '{"com.docker.compose.service":"web","z":"9"}'),
    ("{{json .Mounts}}", '[{"Type":"bind","Source":"/a"},{"Type":"volume","Source":"/v"}]'),
    ('{{join .Config.Env ","}}', "A=1,B=2"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ('{{if eq .State.Status "exited"}}e{{else if eq .State.Status "running"}}r{{else}}x{{end}}-tail',
     "r-tail"),
    ('{{with .State}}{{.Pid}}{{end}}', "12"),
    ('{{range .Mounts}}{{if eq .Type "volume"}}{{.Source}}{{end}}{{end}}', "/v"),
    ("{{range $i, $m := .Mounts}}{{$i}}:{{$m.Type}} {{end}}", "0:bind 1:volume "),
    ("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", "/web/web"),
    ("{{(index .Mounts 1).Source}}", "/v"),
    ('{{printf "%s=%d" .Name .State.Pid}}', "/web=12"),
    ("{{.Name | printf \"%q\"}}", '"/web"'),
    ("{{len .Mounts}} {{not .State.Running}} {{and .State.Running .Name}}", "2 false /web"),
    ("{{upper .State.Status}}", "RUNNING"),
    ('{{title "hELLO wORLD-x_y"}}', "HELLO WORLD-X_y"),  # strings.Title keeps the rest as it is
    ('[{{pad "" 2 2}}][{{pad "a" 1 2}}]', "[][ a  ]"),  # padWithSpace: nothing around nothing
    # strconv.Unquote of the literals, strconv.Quote of %q
    (r"""{{printf "%q" "a\tb\x01"}}|{{"\u00e9\101"}}|{{print '\x41'}}""", r'"a\tb\x01"|éA|65'),
    ("a {{- .Name -}} \n b", "a/webb"),
    ("{{/* a comment */}}ok", "ok"),
    ("{{range .Nothing}}x{{else}}empty{{end}}", "empty"),
])
def test_go_template_over_an_inspect_document(template: str, out: str) -> None:
    doc = {**DOC, "Nothing": []}
    assert render(template, doc) == out


@pytest.mark.parametrize(("template", "error"), [
    ("{{.State.Health.Status}}", 'map has no entry for key "Health"'),
    ("{{.Name.X}}", "can't evaluate field X in type string"),
    ("{{nosuch .Name}}", 'function "nosuch" not defined'),
    ("{{if .Name}}x", "without {{end}}"),
    ("{{define \"x\"}}{{end}}", "not supported"),
])
def test_go_template_errors_name_the_problem(template: str, error: str) -> None:
    with pytest.raises(TemplateError, match=error.replace("{", r"\{").replace("}", r"\}")):
        render(template, DOC)


def test_the_default_output_is_the_daemons_json_indented(capsys: pytest.CaptureFixture[str]) -> None:
    """docker inspect indents the daemon's JSON (json.Marshal: <>& escaped), map keys sorted."""
    from composer.cli.go_text_template import print_inspect

    print_inspect([{"Labels": GoMap({"b": "<x&y>", "a": "1"}), "Id": "i", "Args": []}], "")
    assert capsys.readouterr().out == (
        '[\n    {\n        "Labels": {\n            "a": "1",\n            "b": "\\u003cx\\u0026y\\u003e"\n'
        '        },\n        "Id": "i",\n        "Args": []\n    }\n]\n')


def test_json_leaves_out_empty_omitempty_fields_but_templates_see_them() -> None:
    state = GoStruct({"Status": "created", "Health": None}, omitempty=["Health"])
    assert plain({"State": state}) == {"State": {"Status": "created"}}
    assert render("{{json .}}", state) == '{"Status":"created"}'
    config = GoStruct({"StopSignal": ""}, omitempty=["StopSignal"])
    assert render("[{{.StopSignal}}]", config) == "[]"


# ---- real containers ----------------------------------------------------------------------

def _inspect(ref: str) -> dict:  # type: ignore[type-arg]
    r = cli("inspect", ref)
    assert r.returncode == 0, r.stderr
    [doc] = json.loads(r.stdout)
    return doc  # type: ignore[no-any-return]


def _fmt(template: str, ref: str) -> str:
    r = cli("inspect", "--format", template, ref)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.privileged
def test_inspect_config_merges_the_image_config(bb: tuple[Path, Path], busybox_tar: Path) -> None:  # noqa: F811
    changes = ["ENV FOO=image", "ENV KEEP=1", 'CMD ["sleep", "300"]', "WORKDIR /tmp", "EXPOSE 8080",
               "STOPSIGNAL SIGINT", "LABEL org.image=yes", "LABEL shared=image", "USER root"]
    r = composer_cli("image", "import", *[a for c in changes for a in ("-c", c)], str(busybox_tar),
                     "localhost/rich:latest")
    assert r.returncode == 0, r.stderr
    r = cli("run", "-d", "--name", "rich", "--init", "-e", "FOO=mine", "-l", "shared=mine", "rich")
    assert r.returncode == 0, r.stderr
    doc = _inspect("rich")
    c = doc["Config"]
    # the container's variables first, then the image's it does not set (daemon/commit.go merge)
    assert c["Env"] == ["FOO=mine", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "KEEP=1"]
    assert (c["Cmd"], c["Entrypoint"], c["WorkingDir"], c["User"]) == (["sleep", "300"], None, "/tmp", "root")
    assert (c["ExposedPorts"], c["StopSignal"]) == ({"8080/tcp": {}}, "SIGINT")
    assert c["Labels"] == {"org.image": "yes", "shared": "mine"}
    assert (c["Image"], c["Hostname"]) == ("rich", doc["Id"][:12])
    # docker's Path/Args are the command, not the init that runs it
    assert (doc["Path"], doc["Args"], doc["HostConfig"]["Init"]) == ("sleep", ["300"], True)
    assert doc["Name"] == "/rich" and doc["Image"].startswith("sha256:")
    assert doc["State"]["FinishedAt"] == NEVER and doc["State"]["Error"] == ""
    assert "Healthcheck" not in c and "Health" not in doc["State"]
    # what the runtime really runs agrees with the report
    r = cli("exec", "rich", "sh", "-c", 'echo "$FOO $KEEP $(pwd)"')
    assert r.stdout == "mine 1 /tmp\n", r.stderr
    t0 = time.monotonic()
    assert cli("stop", "rich").returncode == 0
    assert time.monotonic() - t0 < 8  # SIGINT (the image's) stops sleep at once, under tini
    # an entrypoint given resets the image's Cmd, as docker's merge
    r = cli("create", "--name", "ep", "--entrypoint", "echo", "rich")
    assert r.returncode == 0, r.stderr
    ep = _inspect("ep")
    cfg = ep["Config"]
    assert (cfg["Entrypoint"], cfg["Cmd"], ep["Path"], ep["Args"]) == (["echo"], None, "echo", [])
    assert ep["State"]["StartedAt"] == NEVER and ep["State"]["Status"] == "created"


@pytest.mark.privileged
def test_inspect_state_host_config_mounts_and_network_as_docker(
        bb: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    src = tmp_path / "src"
    src.mkdir()
    r = cli("run", "-d", "--name", "svc", "-v", f"{src}:/b:ro", "-v", "insvol:/data", "--tmpfs", "/tt",
            "-p", "127.0.0.1::8080", "--cap-add", "NET_ADMIN", "-m", "64m", "--cpus", "0.5",
            "--pids-limit", "50", "--restart", "on-failure:3", "--health-cmd", "exit 1",
            "--health-interval", "1s", "--health-retries", "1", "--ulimit", "nofile=1000:2000",
            "-l", "com.docker.compose.service=svc", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 20
    while _fmt("{{.State.Health.Status}}", "svc") != "unhealthy\n" and time.monotonic() < deadline:
        time.sleep(0.3)
    doc = _inspect("svc")
    st = doc["State"]
    assert st["Health"]["Status"] == "unhealthy" and st["Health"]["FailingStreak"] >= 1
    assert st["Health"]["Log"][-1]["ExitCode"] == 1
    h = doc["HostConfig"]
    assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (h["Memory"], h["NanoCpus"], h["PidsLimit"]) == (64 << 20, 500_000_000, 50)
    assert (h["MemorySwap"], h["ShmSize"]) == (128 << 20, 64 << 20)  # docker's defaults: 2x memory, 64m
    assert (h["CapAdd"], h["CapDrop"], h["Tmpfs"]) == (["NET_ADMIN"], None, {"/tt": ""})
    assert h["Ulimits"] == [{"Name": "nofile", "Hard": 2000, "Soft": 1000}]
    assert h["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert h["Binds"] == [f"{src}:/b:ro"]
    mounts = {m["Destination"]: m for m in doc["Mounts"]}
    assert set(mounts) == {"/b", "/data"}  # a tmpfs is HostConfig.Tmpfs, as docker's --tmpfs
    assert mounts["/b"] == {"Type": "bind", "Source": str(src), "Destination": "/b", "Mode": "ro",
                            "RW": False, "Propagation": "rprivate"}
    vol = mounts["/data"]
    assert (vol["Type"], vol["Name"], vol["Driver"], vol["RW"]) == ("volume", "insvol", "local", True)
    assert Path(vol["Source"]).is_dir()
    ns = doc["NetworkSettings"]
    [(net, ep)] = ns["Networks"].items()
    assert ep["IPAddress"] and ep["Gateway"] and ep["IPPrefixLen"] > 0 and len(ep["NetworkID"]) == 64
    # the MAC shown is the one the container's interface has
    r = cli("exec", "svc", "cat", "/sys/class/net/eth0/address")
    assert r.stdout.strip() == ep["MacAddress"] != "", r.stderr
    [binding] = ns["Ports"]["8080/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) > 0
    # what scripts write
    assert _fmt("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "svc") == ep["IPAddress"] + "\n"
    assert _fmt('{{index .Config.Labels "com.docker.compose.service"}}', "svc") == "svc\n"
    assert _fmt("{{.HostConfig.RestartPolicy.Name}} {{.State.Running}} {{.Name}}", "svc") == (
        "on-failure true /svc\n")
    assert _fmt("{{json .NetworkSettings.Ports}}", "svc") == json.dumps(
        ns["Ports"], separators=(",", ":")) + "\n"
    mac = _fmt(f'{{{{(index .NetworkSettings.Networks "{net}").MacAddress}}}}', "svc")
    assert mac == ep["MacAddress"] + "\n"
    assert cli("stop", "-t", "1", "svc").returncode == 0  # sleep, as PID 1, ignores SIGTERM: killed
    # stopped: the exit code, a finish time, no port bindings, and the last health kept, as docker
    gone = _inspect("svc")
    assert gone["State"]["ExitCode"] == 137 and gone["State"]["FinishedAt"] != NEVER
    assert gone["State"]["Pid"] == 0 and gone["NetworkSettings"]["Ports"] == {}
    assert gone["State"]["Health"]["Status"] == "unhealthy"
    r = cli("inspect", "--format", "{{.State.Nope}}", "svc")
    assert r.returncode == 2 and 'map has no entry for key "Nope"' in r.stderr
    assert cli("rm", "-f", "svc").returncode == 0
    assert composer_cli("volume", "rm", "insvol").returncode == 0
