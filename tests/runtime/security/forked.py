"""Run a function in a forked child and get its JSON-able result back: the child may change its
credentials, capabilities and seccomp filter without touching the test process."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from typing import Any


def in_child(fn: Callable[[], Any]) -> Any:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            out = {"ok": fn()}
        except BaseException as exc:  # report, never return into pytest
            out = {"error": f"{type(exc).__name__}: {exc}", "tb": traceback.format_exc()}
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child died: {status}"
    result = json.loads(b"".join(chunks))
    if "error" in result:
        raise AssertionError(f"in child: {result['error']}\n{result['tb']}")
    return result["ok"]


def status_fields(*names: str) -> dict[str, str]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in names:
                out[key] = value.strip()
    return out
