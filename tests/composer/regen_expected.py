"""Regenerate fixtures/compose/*/expected.json by running docker compose (the reference).

    .venv/bin/python -m tests.composer.regen_expected [CASE...]

Cases with expected-error.txt are only checked: docker compose must fail on them.
"""

from __future__ import annotations

import sys

from tests.composer.fixturelib import cases


def main(argv: list[str]) -> int:
    status = 0
    for case in cases():
        if argv and case.name not in argv:
            continue
        out = case.docker_compose()
        if case.expected_error.exists():
            if out.returncode == 0:
                print(f"{case.name}: docker compose accepts this invalid case", file=sys.stderr)
                status = 1
            continue
        if out.returncode != 0:
            print(f"{case.name}: docker compose failed: {out.stderr.strip()}", file=sys.stderr)
            status = 1
            continue
        case.expected_json.write_text(case.to_placeholder(out.stdout))
        print(f"{case.name}: ok")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
