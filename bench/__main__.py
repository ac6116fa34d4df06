"""`make bench`: run every benchmark whose commands exist; say why one is skipped."""

from __future__ import annotations

import subprocess
import sys

from bench import cases
from bench.harness import render


def main() -> int:
    results, skipped = [], []
    for case in cases.ALL:
        try:
            results.extend(case())
        except cases.Skip as why:
            skipped.append(f"{case.__name__}: skipped: {why}")
        except subprocess.CalledProcessError as exc:
            err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
            skipped.append(f"{case.__name__}: failed: {' '.join(exc.cmd)}: {err[-1] if err else exc.returncode}")
    print(render(results))
    for line in skipped:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
