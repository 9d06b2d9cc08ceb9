#!/usr/bin/env bash
# `make bench`: deploy-speed figures against the real Docker engine (issue 3,
# item 7). Needs the engine and the berth/python:3.11 runtime image; works in
# a temporary data folder and removes everything it made.
set -euo pipefail
source "$(dirname "$0")/common.sh"

"$ROOT/scripts/ensure-docker.sh"
PYVER="${BERTH_BENCH_PYTHON:-${BERTH_DEFAULT_PYTHON:-3.11}}"
if ! docker image inspect "berth/python:$PYVER" >/dev/null 2>&1; then
    echo "The runtime image berth/python:$PYVER is missing: run scripts/setup.sh (or" >&2
    echo "  .venv/bin/python manage.py runtime ensure $PYVER) first, then make bench again." >&2
    exit 1
fi
# The bench makes its own SQLite database in a temporary BERTH_DATA_DIR.
unset DATABASE_URL
cd "$ROOT"
exec "$PY" scripts/bench.py --python "$PYVER" "$@"
