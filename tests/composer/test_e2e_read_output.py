"""What the reading verbs print, on real containers, as docker compose v2.40.3 prints it (its Go
code read for the formats: cmd/formatter/container.go, docker/cli's DisplayablePorts and
tabwriter, moby's container list): scripts that parse one parse the other."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def test_ps_ls_images_top_output(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (port,) = _free_ports(1)
    (proj / "compose.yaml").write_text(
        "name: h3out\nservices:\n"
        "  web:\n    image: localhost/busybox:latest\n"
        '    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]\n'
        f"    ports: ['127.0.0.1:{port}:80']\n    expose: ['3000-3001']\n"
        "  job:\n    image: localhost/busybox:latest\n"
        '    command: ["sh", "-c", "echo \\"a b\\"; exit 3"]\n'
        "    deploy: {replicas: 10}\n"
    )
    try:
        composer_ok(proj, "up", "-d")
        composer_ok(proj, "up", "-d", "--wait", "web")  # the jobs have exited by now or soon
        every = composer_ok(proj, "ps", "-a", "--format", "json").stdout.splitlines()
        docs = [json.loads(line) for line in every]
        # sorted by name as docker compose: h3out-job-10 before h3out-job-2
        assert [d["Name"] for d in docs][:3] == ["h3out-job-1", "h3out-job-10", "h3out-job-2"]
        web = next(d for d in docs if d["Service"] == "web")
        assert len(web["ID"]) == 12 and web["Names"] == web["Name"] == "h3out-web-1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+", web["CreatedAt"]), web
        assert web["Publishers"] == [
            {"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": port, "Protocol": "tcp"},
            {"URL": "", "TargetPort": 3000, "PublishedPort": 0, "Protocol": "tcp"},
            {"URL": "", "TargetPort": 3001, "PublishedPort": 0, "Protocol": "tcp"},
        ]
        assert web["Ports"] == f"3000-3001/tcp, 127.0.0.1:{port}->80/tcp"
        raw = next(line for line in every if '"Service":"web"' in line)
        assert "-\\u003e80/tcp" in raw  # Go's json.Marshal escapes > (the context's MarshalJSON)
        job = docs[0]
        # moby quotes an argument with a space; compose cuts at 20 and strconv.Quote's the result
        assert job["Command"] == '"sh -c \'echo \\"a b\\"; …"'
        assert (job["State"], job["ExitCode"], job["Health"], job["Publishers"]) == ("exited", 3, "", [])
        assert job["Status"].startswith("Exited (3) ")
        whole = composer_ok(proj, "ps", "-a", "--no-trunc", "--format", "json", "job").stdout
        assert json.loads(whole.splitlines()[0])["Command"] == '"sh -c \'echo \\"a b\\"; exit 3\'"'

        table = composer_ok(proj, "ps").stdout.splitlines()
        assert table[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
        assert table[1].startswith("h3out-web-1   localhost/busybox:latest   \"httpd -f -p 80 -h /…\"   web ")
        assert table[1].endswith(f"3000-3001/tcp, 127.0.0.1:{port}->80/tcp")

        # Go templates, as docker compose ps --format accepts them
        names = composer_ok(proj, "ps", "-a", "--format", "{{.Name}} {{.State}}", "job").stdout.splitlines()
        assert names[:2] == ["h3out-job-1 exited", "h3out-job-10 exited"]
        label = '{{.Label "com.docker.compose.project"}}'
        custom = composer_ok(proj, "ps", "--format", "table {{.Service}}\\t" + label)
        assert custom.stdout == "SERVICE   project\nweb       h3out\n"  # docker: the key, its case kept
        bad = composer_ok(proj, "ps", "--format", "{{.Nmae}}", code=2)
        assert "<.Nmae>" in bad.stderr and "Traceback" not in bad.stderr
        # -q wins over --services and prints whole IDs
        ids = composer_ok(proj, "ps", "-q", "--services").stdout.split()
        assert len(ids) == 1 and len(ids[0]) == 64
        # --status lists one-off containers too (docker compose: All is -a or --status)
        composer_ok(proj, "run", "-d", "--name", "h3out-once", "job", "sleep", "30")
        assert "h3out-once" in composer_ok(proj, "ps", "--status", "running").stdout
        assert "h3out-once" not in composer_ok(proj, "ps").stdout

        listed = composer_ok(tmp_path, "ls", "--filter", "name=^h3out$", "--format", "json").stdout
        mine = [{"Name": "h3out", "Status": "running(2)", "ConfigFiles": str(proj / "compose.yaml")}]
        assert listed == json.dumps(mine, separators=(",", ":")) + "\n"
        # filters.Match: any of the name filters; a regular expression that does not compile matches none
        assert composer_ok(tmp_path, "ls", "--filter", "name=^nosuch$", "--filter", "name=^h3out$",
                           "--format", "json").stdout == listed
        assert composer_ok(tmp_path, "ls", "--filter", "name=(", "--format", "json").stdout == "[]\n"
        every_ls = composer_ok(tmp_path, "ls", "-a", "--filter", "name=h3out", "--format", "json").stdout
        assert json.loads(every_ls)[0]["Status"] == "exited(10), running(2)"
        head = composer_ok(tmp_path, "ls").stdout.splitlines()[0]
        assert head == "NAME                STATUS              CONFIG FILES"

        images = composer_ok(proj, "images", "-q").stdout.split()
        assert len(images) == 1 and re.fullmatch(r"[0-9a-f]{64}", images[0])
        img_json = composer_ok(proj, "images", "--format", "json").stdout
        assert img_json.endswith("]\n\n")
        first = json.loads(img_json)[0]
        assert set(first) == {"ID", "ContainerName", "Repository", "Tag", "Platform", "Size", "LastTagTime"}
        assert (first["Repository"], first["Tag"]) == ("localhost/busybox", "latest")
        assert first["ID"].startswith("sha256:")
        head = composer_ok(proj, "images").stdout.splitlines()[0].split("   ")
        assert [h.strip() for h in head if h.strip()] == [
            "CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"]

        top = composer_ok(proj, "top", "web").stdout.splitlines()
        assert top[0].split() == ["SERVICE", "#", "UID", "PID", "PPID", "CMD"]
        assert top[1].split()[:2] == ["web", "1"] and top[1].endswith("httpd -f -p 80 -h /etc")
    finally:
        composer_cli("down", "-t", "0", "--remove-orphans", cwd=proj)
