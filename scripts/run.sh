#!/usr/bin/env bash
# Set up and run Berth on its embedded defaults: SQLite, a file broker, one
# Celery worker and the portal under uvicorn. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$ROOT/scripts/setup.sh" requirements.txt
cd "$ROOT"

HOST="${BERTH_HOST:-127.0.0.1}"
PORT="${BERTH_PORT:-8000}"
"$PY" manage.py ensure_admin
# Files this script and what it starts create (the logs below) are private too.
umask 077

log "Starting the Celery worker"
# -B: the worker also runs beat (the periodic reconcile); one worker on one machine.
"$VENV/bin/celery" -A portal worker -B --schedule "$BERTH_DATA_DIR/celerybeat-schedule" \
    --loglevel=INFO \
    >"$BERTH_DATA_DIR/worker.log" 2>&1 &
WORKER=$!

log "Starting the log archiver: app logs kept under $BERTH_DATA_DIR/logs"
"$PY" manage.py archive_logs >"$BERTH_DATA_DIR/archive_logs.log" 2>&1 &
ARCHIVER=$!
trap 'kill $WORKER $ARCHIVER 2>/dev/null || true; "$PY" manage.py proxy stop >/dev/null 2>&1 || true' EXIT

log "Starting the front proxy (nginx): apps answer at <app>.${BERTH_APPS_DOMAIN:-localhost}"
if "$ROOT/scripts/ensure-nginx.sh"; then
    "$PY" manage.py proxy start || log "The front proxy did not start (see above): apps are not reachable by name."
fi

log "Berth is at http://$HOST:$PORT/  (worker log: $BERTH_DATA_DIR/worker.log)"
exec_uvicorn() {
    "$VENV/bin/uvicorn" portal.asgi:application --host "$HOST" --port "$PORT" \
        --log-level "${UVICORN_LOG_LEVEL:-info}"
}
exec_uvicorn
