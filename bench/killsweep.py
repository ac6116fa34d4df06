"""`python -m bench.killsweep SCENARIO [DELAY_MS ...]`: SIGKILL a composer verb at growing (or
random: ``-N LO HI``) delays, or at steps (``--at "after module.Class.method" ...``: the verb kills
itself there, as tests/killpoint.py's DIE_AT does), then check that the next command tells the
truth (no container listed as running whose init is dead, nothing listed exited whose init lives,
no traceback) and that removal (rm -f, down -v, volume rm, network rm) leaves nothing: mounts,
cgroups, processes (monitors among them), bridges and their veths, nftables rules, container and
run dirs, netns pins, rows; and that every container's /etc/hosts names its peers truly. The hc_*
scenarios run a project whose web waits for a healthy db (named volume) and publishes a port, with
a worker after it: after each kill `up -d` must end with the three running, once each. Root only;
each scenario gets its own state under $KILLSWEEP_DIR (default /tmp/killsweep/<scenario>) and
imports the busybox image ($COMPOSER_BUSYBOX_TAR, else build/busybox-rootfs.tar) into it;
KILLSWEEP_PAUSE=S sleeps S seconds between rounds (a quieter machine for others). Not part of
`make bench`: it measures no time; it found the kill points the tests/*/test_*kill_points.py pin.
Scenarios: see SCENARIOS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.cgroups import engine_scope
from runtime.network.links import owner_of
from runtime.network.nft import table_name

REPO = str(Path(__file__).resolve().parents[1])
PY = sys.executable
SCENARIO = sys.argv[1] if len(sys.argv) > 1 and __name__ == "__main__" else "none"
BASE = Path(os.environ.get("KILLSWEEP_DIR", "/tmp/killsweep")) / SCENARIO
ROOT, RUN = str(BASE / "root"), str(BASE / "run")
IMG = "localhost/busybox:latest"
MARK = "31337"  # the sleep of the sweep's containers: found by it when left behind
PROJ = "killsweep"
WORK = BASE / "proj"
ENV = {**os.environ, "PYTHONPATH": REPO, "COMPOSER_ROOT": ROOT, "COMPOSER_RUNDIR": RUN}

COMPOSE = f"""
services:
  web:
    image: {IMG}
    command: ["sleep", "{MARK}"]
    stop_grace_period: 1s  # sleep ignores SIGTERM: a recreate's kill points come within seconds
    ports: ["127.0.0.1::80"]
    environment:
      X: "${{X:-1}}"
    volumes: [data:/data, /anon]
    networks: [front, back]
  db:
    image: {IMG}
    command: ["sleep", "{MARK}"]
    stop_grace_period: 1s
    environment:
      X: "${{X:-1}}"
    networks: [back]
  job:
    image: {IMG}
    command: ["sh", "-c", "sleep 0.3"]
    depends_on: [db]
    networks: [back]
networks:
  front: {{}}
  back: {{}}
volumes:
  data: {{}}
"""


def c(*args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([PY, "-m", "composer", *args], env=ENV, cwd=WORK, capture_output=True,
                       text=True, timeout=timeout)
    if "Traceback" in r.stderr or "internal error" in r.stderr:
        problem(f"traceback/internal error in {' '.join(args)}: {r.stderr.strip()[-800:]}")
    if check and r.returncode != 0:
        problem(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r


PROBLEMS: list[str] = []
FINISHED = [0]
PERSISTENT: set[str] = set()
CURRENT = [""]


def problem(what: str) -> None:
    PROBLEMS.append(f"[{CURRENT[0]}] {what}")
    print(f"  PROBLEM [{CURRENT[0]}] {what}", flush=True)


AT = [""]  # --at STEP: the verb kills itself at that step (tests/killpoint.py) instead of after a delay


def killed_after(delay: float, *args: str, env: dict[str, str] | None = None) -> int:
    if AT[0]:
        from tests.killpoint import DIE_AT

        code = DIE_AT + "die_at(sys.argv[1])\nfrom composer.cli.main import main\nmain(sys.argv[2:])\n"
        rc = subprocess.run([PY, "-c", code, AT[0], *args], env={**ENV, **(env or {})}, cwd=WORK,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=120).returncode
        if rc != -signal.SIGKILL:
            FINISHED[0] += 1
            print(f"  ({AT[0]} not reached: exit {rc})", flush=True)
        return rc
    proc = subprocess.Popen([PY, "-m", "composer", *args], env={**ENV, **(env or {})}, cwd=WORK,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rc = proc.wait()
    if rc != -signal.SIGKILL:
        FINISHED[0] += 1
    return rc


def alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def ls_rows(r: subprocess.CompletedProcess[str] | None = None) -> list[dict]:
    """`container ls -a --format json`'s rows (docker ps's: one object a line, Names a string)."""
    r = r or c("container", "ls", "-a", "--format", "json")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def truth() -> list[dict]:
    """The listing, checked against the processes."""
    r = c("container", "ls", "-a", "--format", "json")
    if r.returncode != 0:
        problem(f"container ls -a failed: {r.stderr.strip()}")
        return []
    rows = ls_rows(r)
    for row in rows:
        name = row["Names"]
        ins = c("container", "inspect", name)
        if ins.returncode != 0:
            if not _listed(name):  # removed meanwhile: an --rm one whose start failed, by its monitor
                continue
            problem(f"inspect {name} failed: {ins.stderr.strip()}")
            continue
        st = json.loads(ins.stdout)[0]["State"]
        if st["Running"] and not alive(st["Pid"]):  # it may have exited since: asked again, a lie stays
            time.sleep(0.2)
            again = c("container", "inspect", name)
            st2 = json.loads(again.stdout)[0]["State"] if again.returncode == 0 else {}
            if st2.get("Running") and st2.get("Pid") == st["Pid"]:
                problem(f"{name}: listed {st['Status']} with pid {st['Pid']} not alive")
        if st["Status"] in ("exited", "dead") and st["Pid"] and alive(st["Pid"]):
            problem(f"{name}: listed {st['Status']} but pid {st['Pid']} alive")
    return rows


def mark_procs() -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(("sleep " + MARK, "sh -c sleep 0.3")) or (
            (ROOT in cmd or RUN in cmd) and "zygote" not in cmd
        ):
            try:
                cg = Path(f"/proc/{pid}/cgroup").read_text()
            except OSError:
                cg = ""
            scope = engine_scope(Path(ROOT))[0]
            if scope in cg or ROOT in cmd or RUN in cmd:
                out.append(f"process {pid}: {cmd.strip()}")
    return out


def leaks(bridges: set[str]) -> list[str]:
    found = [f"mount {ln}" for ln in Path("/proc/mounts").read_text().splitlines()
             if ROOT in ln or RUN in ln]
    scope = engine_scope(Path(ROOT))[0]
    found += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob(f"*/composer/{scope}") if p.is_dir()]
    found += mark_procs()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = {ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()}
    found += [f"bridge {b}" for b in (bridges - PERSISTENT - default_bridge()) & names]
    for ln in links.splitlines():
        if any(f"master {b} " in ln for b in bridges):
            found.append(f"veth {ln.split(':')[1].strip()}")
    t = table_name(Path(RUN))
    nets_left = [n for n in c("network", "ls", "--format", "{{.Name}}").stdout.split() if n != "composer"]
    if not nets_left:  # no network of the sweep's own: none of its bridges or veths, no table rules
        kept = default_bridge()  # the default network (container run's) stays, with its bridge and rules
        found += [f"link {x} ({owner_of(x)})" for x in os.listdir("/sys/class/net")
                  if owner_of(x) == t and x not in kept]
        body = subprocess.run(["nft", "list", "table", "inet", t], capture_output=True, text=True).stdout
        if body and ("elements" in body or not kept):  # published ports go with their containers
            found.append(f"nft table {t} with rules: {body.strip()[:300]}")
    for sub in ("containers", "volumes"):
        d = Path(ROOT) / sub
        if d.exists() and any(d.iterdir()):
            found.append(f"dirs {d}: {sorted(os.listdir(d))}")
    d = Path(RUN) / "containers"
    if d.exists() and any(d.iterdir()):
        found.append(f"run dirs {d}: {sorted(os.listdir(d))}")
    d = Path(RUN) / "netns"
    if d.exists() and any(d.iterdir()):
        found.append(f"netns pins {d}: {sorted(os.listdir(d))}")
    r = c("volume", "ls", "-q")
    if r.stdout.strip():
        found.append(f"volumes {r.stdout.split()}")
    r = c("network", "ls", "--format", "{{.Name}}")
    nets = [n for n in r.stdout.split() if n != "composer"]
    if nets:
        found.append(f"networks {nets}")
    r = c("container", "ls", "-aq")
    if r.stdout.strip():
        found.append(f"containers {r.stdout.split()}")
    return found


def default_bridge() -> set[str]:
    ins = c("network", "inspect", "composer")
    if ins.returncode != 0:
        return set()
    return {json.loads(ins.stdout)[0]["Options"].get("com.docker.network.bridge.name", "")}


def known_bridges() -> set[str]:
    r = c("network", "ls", "--format", "{{.Name}}")
    out = set()
    for n in r.stdout.split():
        ins = c("network", "inspect", n)
        if ins.returncode == 0:
            out.add(json.loads(ins.stdout)[0]["Options"].get("com.docker.network.bridge.name", ""))
    return out - {""}


def settle_and_check(bridges: set[str]) -> None:
    bridges = bridges | known_bridges()
    deadline = time.monotonic() + 4
    found = leaks(bridges)
    while found and time.monotonic() < deadline:
        time.sleep(0.3)
        found = leaks(bridges)
    for f in found:
        problem("leak: " + f)
    if found:  # clean by force so the next run starts clean
        rows = ls_rows()
        if rows:
            c("container", "rm", "-f", "-v", *[r["Names"] for r in rows])
        c("-p", PROJ, "down", "-v", "-t", "0")
        for v in c("volume", "ls", "-q").stdout.split():
            c("volume", "rm", "-f", v)
        for n in c("network", "ls", "--format", "{{.Name}}").stdout.split():
            if n != "composer":
                c("network", "rm", n)


def rm_all(names: list[str]) -> None:
    rows = truth()
    listed = [r["Names"] for r in rows]
    if listed:
        r = c("container", "rm", "-f", "-v", *listed)
        if r.returncode != 0 and any(_listed(n) for n in listed):  # else its monitor removed it meanwhile
            problem(f"rm -f {listed} exited {r.returncode}: {r.stderr.strip()}")


def _listed(name: str) -> bool:
    return any(r["Names"] == name for r in ls_rows())


def rm_went_by_itself(names: list[str], timeout: float = 5.0) -> None:
    """An --rm container that ran is removed once it exits, by its monitor when no CLI is left
    (as docker's daemon, podman's exit command): none of *names* may stay exited."""
    deadline = time.monotonic() + timeout
    while True:
        r = c("container", "ls", "-a", "--format", "json")
        rows = ls_rows(r) if r.returncode == 0 else []
        left = [x for x in rows if any(n in x["Names"] for n in names)]
        if not [x for x in left if x["State"] in ("running", "exited")]:
            return
        if time.monotonic() > deadline:
            problem(f"--rm container left after its exit: {[(x['Names'], x['State']) for x in left]}")
            return
        time.sleep(0.1)


def up_converges() -> None:
    r = c("-p", PROJ, "up", "-d")
    if r.returncode != 0:
        problem(f"up -d after kill exited {r.returncode}: {r.stderr.strip()[-600:]}")
    ps = c("-p", PROJ, "ps", "-a", "--format", "json")
    try:
        rows = [json.loads(ln) for ln in ps.stdout.splitlines() if ln.strip()]
        if len(rows) == 1 and isinstance(rows[0], list):
            rows = rows[0]
    except json.JSONDecodeError:
        problem(f"ps json unreadable: {ps.stdout[:200]}")
        rows = []
    state = {r["Service"]: r["State"] for r in rows}
    for svc in ("web", "db"):
        if state.get(svc) != "running":
            problem(f"after up -d again: {svc} is {state.get(svc)} ({state})")
    truth()
    hosts_true([f"{PROJ}-web-1", f"{PROJ}-db-1"])


def down_cleans() -> None:
    r = c("-p", PROJ, "down", "-v", "-t", "1")
    if r.returncode != 0:
        problem(f"down -v exited {r.returncode}: {r.stderr.strip()[-600:]}")


# ---- scenarios: (setup, the killed command, after) ------------------------------------------

def sc_run_d(d: float) -> None:
    killed_after(d, "container", "run", "-d", "--name", "ks-a", "-p", "127.0.0.1::80", "-v", "/anon",
                 IMG, "sleep", MARK)
    rm_all(["ks-a"])


def sc_run_rm(d: float) -> None:
    killed_after(d, "container", "run", "--rm", "--name", "ks-b", "-v", "/anon", IMG, "sh", "-c", "sleep 0.3")
    rm_went_by_itself(["ks-b"])
    rm_all(["ks-b"])


def sc_run_d_rm(d: float) -> None:
    killed_after(d, "container", "run", "-d", "--rm", "--name", "ks-f", "-v", "/anon", IMG, "sh", "-c",
                 "sleep 0.3")
    rm_went_by_itself(["ks-f"])
    rm_all(["ks-f"])


def sc_create(d: float) -> None:
    killed_after(d, "container", "create", "--name", "ks-c", "-p", "127.0.0.1::80", IMG, "sleep", MARK)
    rows = truth()
    for r in rows:
        if r["State"] == "created":
            s = c("container", "start", r["Names"])
            if s.returncode != 0:
                problem(f"start of created left by kill failed: {s.stderr.strip()}")
    rm_all(["ks-c"])


def _started_again(name: str) -> None:
    """After a kill of a start: the listing tells the truth, a second start runs it, then it goes."""
    truth()
    s = c("container", "start", name)
    if s.returncode != 0:
        problem(f"start again failed: {s.stderr.strip()}")
    rows = truth()
    if [r["State"] for r in rows] != ["running"]:
        problem(f"after start again: {[(r['Names'], r['State']) for r in rows]}")
    rm_all([name])


def sc_start(d: float) -> None:
    c("container", "create", "--name", "ks-d", "-p", "127.0.0.1::80", IMG, "sleep", MARK, check=True)
    killed_after(d, "container", "start", "ks-d")
    _started_again("ks-d")


def sc_restart_stopped(d: float) -> None:
    c("container", "run", "-d", "--name", "ks-e", "-p", "127.0.0.1::80", IMG, "sleep", MARK, check=True)
    c("container", "kill", "ks-e", check=True)
    c("container", "wait", "ks-e")
    killed_after(d, "container", "start", "ks-e")
    _started_again("ks-e")


def sc_stop(d: float) -> None:
    c("container", "run", "-d", "--name", "ks-f", "-p", "127.0.0.1::80", IMG, "sleep", MARK, check=True)
    killed_after(d, "container", "stop", "-t", "1", "ks-f")
    truth()
    s = c("container", "stop", "-t", "1", "ks-f")
    if s.returncode != 0:
        problem(f"stop again failed: {s.stderr.strip()}")
    s = c("container", "start", "ks-f")
    if s.returncode != 0:
        problem(f"start after stop failed: {s.stderr.strip()}")
    rm_all(["ks-f"])


def sc_rm_f(d: float) -> None:
    c("container", "run", "-d", "--name", "ks-g", "-p", "127.0.0.1::80", "-v", "/anon", IMG, "sleep", MARK,
      check=True)
    killed_after(d, "container", "rm", "-f", "-v", "ks-g")
    rm_all(["ks-g"])
    for v in c("volume", "ls", "-q").stdout.split():  # an anonymous volume rm -v would have removed
        problem(f"anonymous volume {v} left after rm -f -v killed and redone")
        c("volume", "rm", v)


def sc_pause(d: float) -> None:
    c("container", "run", "-d", "--name", "ks-p", IMG, "sleep", MARK, check=True)
    killed_after(d, "container", "pause", "ks-p")
    rows = truth()
    st = rows[0]["State"] if rows else None
    r = c("container", "unpause" if st == "paused" else "pause", "ks-p")
    if r.returncode != 0:
        problem(f"(un)pause after kill failed: {r.stderr.strip()}")
    r = c("container", "stop", "-t", "1", "ks-p")
    if r.returncode != 0:
        problem(f"stop after killed pause failed: {r.stderr.strip()}")
    rm_all(["ks-p"])


def sc_restart(d: float) -> None:
    c("container", "run", "-d", "--name", "ks-r", "-p", "127.0.0.1::80", IMG, "sleep", MARK, check=True)
    killed_after(d, "container", "restart", "-t", "0", "ks-r")
    truth()
    r = c("container", "restart", "-t", "0", "ks-r")
    if r.returncode != 0:
        problem(f"restart again failed: {r.stderr.strip()}")
    rows = truth()
    if [x["State"] for x in rows] != ["running"]:
        problem(f"after restart again: {[(x['Names'], x['State']) for x in rows]}")
    rm_all(["ks-r"])


def sc_compose_restart(d: float) -> None:
    c("-p", PROJ, "up", "-d", check=True)
    killed_after(d, "-p", PROJ, "restart", "-t", "0")
    truth()
    up_converges()
    down_cleans()


def sc_volume(d: float) -> None:
    killed_after(d, "volume", "create", "ks-v")
    c("volume", "ls")
    c("volume", "inspect", "ks-v")
    c("volume", "rm", "ks-v")
    c("volume", "create", "ks-v", check=True)
    killed_after(d, "volume", "rm", "ks-v")
    c("volume", "ls")
    c("volume", "rm", "ks-v")
    if (Path(ROOT) / "volumes").exists() and list((Path(ROOT) / "volumes").iterdir()):
        problem(f"volume dirs left: {os.listdir(Path(ROOT) / 'volumes')}")


def sc_network(d: float) -> None:
    killed_after(d, "network", "create", "ks-n")
    c("network", "ls")
    r = c("network", "rm", "ks-n")
    c("network", "create", "ks-n", check=True)
    c("network", "inspect", "ks-n", check=True)
    killed_after(d, "network", "rm", "ks-n")
    c("network", "ls")
    c("network", "rm", "ks-n")
    r = c("network", "create", "ks-n")
    if r.returncode != 0:
        problem(f"network create after kill+rm failed: {r.stderr.strip()}")
    c("network", "rm", "ks-n")


def sc_up(d: float) -> None:
    killed_after(d, "-p", PROJ, "up", "-d")
    c("-p", PROJ, "ps", "-a")
    truth()
    up_converges()
    down_cleans()


def sc_recreate(d: float) -> None:
    c("-p", PROJ, "up", "-d", check=True)
    killed_after(d, "-p", PROJ, "up", "-d", env={"X": "2"})
    c("-p", PROJ, "ps", "-a")
    truth()
    up_converges()
    names = sorted(r["Names"] for r in ls_rows())
    if names != [f"{PROJ}-db-1", f"{PROJ}-job-1", f"{PROJ}-web-1"]:
        problem(f"after up -d again: containers {names}")
    down_cleans()


def sc_down(d: float) -> None:
    c("-p", PROJ, "up", "-d", check=True)
    killed_after(d, "-p", PROJ, "down", "-v", "-t", "1")
    c("-p", PROJ, "ps", "-a")
    truth()
    down_cleans()


def sc_run_rm_svc(d: float) -> None:
    killed_after(d, "-p", PROJ, "run", "--rm", "job")
    rm_went_by_itself([f"{PROJ}-job-run-"])
    c("-p", PROJ, "ps", "-a")
    truth()
    down_cleans()


# ---- a project with a healthy dependency: every service keeps running --------------------------
# db has a named volume and a healthcheck, web waits for it to be healthy and publishes a port,
# worker needs web: after any kill, up -d again must end with exactly these three running and each
# one's /etc/hosts naming the others at their current addresses.

HC_PROJ = "kshc"
HC_SERVICES = ("db", "web", "worker")
HC_COMPOSE = f"""
services:
  db:
    image: {IMG}
    command: ["sleep", "{MARK}"]
    stop_grace_period: 1s
    healthcheck: {{test: ["CMD", "true"], interval: 300ms, timeout: 2s, retries: 20}}
    volumes: [data:/data]
  web:
    image: {IMG}
    command: ["sleep", "{MARK}"]
    stop_grace_period: 1s
    ports: ["127.0.0.1::80"]
    environment:
      X: "${{X:-1}}"
    depends_on: {{db: {{condition: service_healthy}}}}
    volumes: [data:/data, /anon]
  worker:
    image: {IMG}
    command: ["sleep", "{MARK}"]
    stop_grace_period: 1s
    depends_on: [web]
volumes:
  data: {{}}
"""


def hc(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return c("-p", HC_PROJ, "-f", str(WORK / "hc.yaml"), *args, check=check)


def hc_killed(d: float, *args: str) -> None:
    killed_after(d, "-p", HC_PROJ, "-f", str(WORK / "hc.yaml"), *args)


def hc_converges() -> None:
    """up -d after a kill: the three services, once each, running, with true hosts files."""
    r = hc("up", "-d")
    if r.returncode != 0:
        problem(f"up -d after kill exited {r.returncode}: {r.stderr.strip()[-600:]}")
    rows = truth()
    names = sorted(x["Names"] for x in rows)
    want = sorted(f"{HC_PROJ}-{s}-1" for s in HC_SERVICES)
    if names != want:
        problem(f"after up -d again: containers {names}")
    states = {x["Names"]: x["State"] for x in rows}
    if any(states.get(n) != "running" for n in want):
        problem(f"after up -d again: {states}")
    hosts_true(want)


def hosts_true(names: list[str]) -> None:
    """Each container's /etc/hosts (the file bind-mounted in it) names every other one on a network
    they share at its address there, by its container and service names, and no temporary name."""
    nets: dict[str, dict[str, str]] = {}
    files: dict[str, str] = {}
    for n in names:
        ins = c("container", "inspect", n)
        if ins.returncode != 0:
            continue
        doc = json.loads(ins.stdout)[0]
        nets[n] = {k: v["IPAddress"] for k, v in doc["NetworkSettings"]["Networks"].items()}
        files[n] = doc.get("HostsPath", "")
    for n, path in files.items():
        try:
            text = Path(path).read_text()
        except OSError as exc:
            problem(f"{n}: hosts file {path}: {exc.strerror}")
            continue
        if f"_{n.split('-')[0]}-" in text:
            problem(f"{n}: /etc/hosts names a temporary name: {text!r}")
        for other, addrs in nets.items():
            svc = other.split("-")[1]
            for net in set(addrs) & set(nets[n]):
                names_at = [ln.split()[1:] for ln in text.splitlines() if ln.split()[:1] == [addrs[net]]]
                if len(names_at) != 1 or not {other, svc} <= set(names_at[0]):
                    problem(f"{n}: /etc/hosts names {addrs[net]} ({other} on {net}) as {names_at}")


def hc_down_cleans() -> None:
    r = hc("down", "-v", "-t", "1")
    if r.returncode != 0:
        problem(f"down -v exited {r.returncode}: {r.stderr.strip()[-600:]}")


def sc_hc_up(d: float) -> None:
    hc_killed(d, "up", "-d")
    truth()
    hc_converges()
    hc_down_cleans()


def sc_hc_down(d: float) -> None:
    hc("up", "-d", check=True)
    hc_killed(d, "down", "-v", "-t", "1")
    truth()
    hc_down_cleans()


def sc_hc_recreate(d: float) -> None:
    hc("up", "-d", check=True)
    hc_killed(d, "up", "-d", "--force-recreate")
    truth()
    hc_converges()
    hc_down_cleans()


def sc_hc_run_rm(d: float) -> None:
    hc_killed(d, "run", "--rm", "web", "true")
    rm_went_by_itself([f"{HC_PROJ}-web-run-"])
    truth()
    hc_converges()
    hc_down_cleans()


SCENARIOS = {k[3:]: v for k, v in globals().items() if k.startswith("sc_")}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SCENARIOS:
        sys.exit(f"usage: python -m bench.killsweep {{{','.join(SCENARIOS)}}} "
                 "[DELAY_MS ... | -N LO HI | --at STEP ...]")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "compose.yaml").write_text(COMPOSE)
    (WORK / "hc.yaml").write_text(HC_COMPOSE)
    if not (Path(ROOT) / "state.db").exists():
        tar = os.environ.get("COMPOSER_BUSYBOX_TAR") or str(Path(REPO) / "build" / "busybox-rootfs.tar")
        c("image", "import", tar, IMG, check=True)
    name = sys.argv[1]
    compose = name.startswith("hc_") or name in ("up", "down", "run_rm_svc", "recreate", "compose_restart")
    step = 50 if compose else 15
    if sys.argv[2:3] == ["--at"]:  # --at STEP ...: one round per step (a killpoint), not per delay
        _sweep_steps(name, sys.argv[3:])
        return
    delays = [int(x) for x in sys.argv[2:]] or list(range(0, 3000, step))
    if delays[0] < 0:  # -N LO HI: N random delays in [LO, HI] ms
        import random
        delays = sorted(random.randint(delays[1], delays[2]) for _ in range(-delays[0]))
    bridges = known_bridges()
    PERSISTENT.update(bridges)
    for ms in delays:
        CURRENT[0] = f"{name}@{ms}ms"
        n0 = len(PROBLEMS)
        SCENARIOS[name](ms / 1000)
        settle_and_check(bridges)
        print(f"{CURRENT[0]}: {'ok' if len(PROBLEMS) == n0 else 'FAIL'} finished={FINISHED[0]}", flush=True)
        time.sleep(float(os.environ.get("KILLSWEEP_PAUSE", "0")))  # a quieter machine for others
        if FINISHED[0] >= 4:  # the verb finishes before the kill now: later delays test nothing
            break
    print(f"== {name}: {len(PROBLEMS)} problems")
    for p in PROBLEMS:
        print("  " + p)
    _clean_up()
    sys.exit(1 if PROBLEMS else 0)


def _sweep_steps(name: str, steps: list[str]) -> None:
    bridges = known_bridges()
    PERSISTENT.update(bridges)
    for at in steps:
        AT[0] = at
        CURRENT[0] = f"{name}@{at}"
        n0 = len(PROBLEMS)
        SCENARIOS[name](0)
        settle_and_check(bridges)
        print(f"{CURRENT[0]}: {'ok' if len(PROBLEMS) == n0 else 'FAIL'}", flush=True)
        time.sleep(float(os.environ.get("KILLSWEEP_PAUSE", "0")))
    print(f"== {name}: {len(PROBLEMS)} problems")
    for p in PROBLEMS:
        print("  " + p)
    _clean_up()
    sys.exit(1 if PROBLEMS else 0)


def _clean_up() -> None:
    """Everything of the sweep's own engine, then its state (KILLSWEEP_KEEP=1 keeps the state)."""
    import shutil

    rows = ls_rows()
    if rows:
        c("container", "rm", "-f", "-v", *[r["Names"] for r in rows])
    for v in c("volume", "ls", "-q").stdout.split():
        c("volume", "rm", "-f", v)
    for n in c("network", "ls", "--format", "{{.Name}}").stdout.split():
        c("network", "rm", n)
    if not os.environ.get("KILLSWEEP_KEEP"):
        shutil.rmtree(BASE, ignore_errors=True)


if __name__ == "__main__":
    main()
