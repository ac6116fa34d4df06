#!/usr/bin/env bash
# The README's first command: a real multi-service project, up, ps, a page through the published
# port, logs, down. Run by `make demo` after the fixture image is in place.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
composer="$here/../.venv/bin/composer"
cd "$here/demo"

DEMO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DEMO_PORT
trap '"$composer" down -v' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step composer up -d --wait
"$composer" up -d --wait
step composer ps
"$composer" ps
step "fetch http://127.0.0.1:$DEMO_PORT/"
python3 - "$DEMO_PORT" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5).read().decode()
print(body.strip())
assert "hello from composer" in body, body
PY
sleep 1
step composer logs
"$composer" logs
step composer down -v
