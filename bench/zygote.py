"""An experiment beside the monitor numbers: what would monitors cost if they were forked from one
pre-imported parent (a fork server, "zygote") instead of each being a fresh interpreter?

Run as ``python -I -S bench/zygote.py REPO N``: imports what the monitor imports, freezes the GC
(so that collections do not dirty the shared pages), forks N children that allocate a little and
sleep, and prints one JSON line: fork ms per child, mean child Rss/Pss/private kB, zygote Pss kB.
Standard library only, like the monitor.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time


def rollup(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f.read().splitlines()[1:]:
            key, _, rest = line.partition(":")
            out[key.strip()] = int(rest.split()[0])
    return out


def main(repo: str, n: int) -> dict[str, float]:
    sys.path.insert(0, repo)
    import runtime.executor.supervise  # noqa: F401  (what runtime/monitor.py imports)

    gc.freeze()
    kids = []
    t0 = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            scratch = [bytearray(4096) for _ in range(8)]  # a monitor's own small state
            time.sleep(60 + len(scratch))
            os._exit(0)
        kids.append(pid)
    fork_ms = (time.perf_counter() - t0) * 1000 / n
    try:
        time.sleep(0.5)
        rolls = [rollup(p) for p in kids]
        mean = {k: sum(r[k] for r in rolls) / n for k in ("Rss", "Pss", "Private_Clean", "Private_Dirty")}
        return {
            "fork_ms": fork_ms,
            "rss_kb": mean["Rss"],
            "pss_kb": mean["Pss"],
            "private_kb": mean["Private_Clean"] + mean["Private_Dirty"],
            "zygote_pss_kb": float(rollup(os.getpid())["Pss"]),
        }
    finally:
        for p in kids:
            os.kill(p, 9)
            os.waitpid(p, 0)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
