#!/usr/bin/env bash
# Set up and run Berth on its embedded defaults: SQLite, a file broker, and
# under supervisord (Supervisor, from requirements.txt) the Celery worker, the
# log archiver, the front proxy's watch and the portal under uvicorn, each
# restarted when it dies.
#
# Ctrl-C stops the control plane (portal, worker, archiver, watch) and nothing
# else: the Docker engine (started in a session of its own by
# ensure-docker.sh), the front proxy (nginx runs detached) and therefore every
# app keep serving; the next `make run` picks them up again.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$ROOT/scripts/setup.sh" requirements.txt
cd "$ROOT"

HOST="${BERTH_HOST:-127.0.0.1}"
PORT="${BERTH_PORT:-8000}"
"$PY" manage.py ensure_admin
# Files this script and what it starts create (the logs below) are private too.
umask 077

CONF="$BERTH_DATA_DIR/supervisord.conf"
SOCK="$BERTH_DATA_DIR/supervisor.sock"
if "$VENV/bin/supervisorctl" -c "$CONF" pid >/dev/null 2>&1; then
    echo "Berth already runs from $BERTH_DATA_DIR (supervisord pid $("$VENV/bin/supervisorctl" -c "$CONF" pid))." >&2
    echo "Stop it first (Ctrl-C where it runs, or: $VENV/bin/supervisorctl -c $CONF shutdown)." >&2
    exit 1
fi

if ! "$ROOT/scripts/ensure-nginx.sh"; then
    log "No nginx here: apps are not reachable by name (the proxy watch will say so)."
fi

# One section a process. autorestart: a process that dies (a signal, a crash)
# is started again, with supervisord's back-off; startretries is high so a
# dependency that is away for a while (the engine restarting) is waited out.
# stopasgroup: SIGTERM goes to the process and what it started (uvicorn's,
# the archiver's); killasgroup: past stopwaitsecs, SIGKILL reaches them all.
common_program() {
    cat <<EOF
directory=$ROOT
autorestart=true
startretries=100
stopasgroup=${1:-true}
killasgroup=true
redirect_stderr=true
EOF
}

{
    cat <<EOF
; Written by scripts/run.sh at each start; edits are lost.
[supervisord]
nodaemon=true
logfile=$BERTH_DATA_DIR/supervisord.log
pidfile=$BERTH_DATA_DIR/supervisord.pid
childlogdir=$BERTH_DATA_DIR
directory=$ROOT
umask=077

[unix_http_server]
file=$SOCK
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$SOCK

[program:worker]
; Started in priority order and stopped in reverse: the portal stops first.
priority=300
; -B: the worker also runs beat (the periodic reconcile); one worker on one machine.
command=$VENV/bin/celery -A portal worker -B --schedule $BERTH_DATA_DIR/celerybeat-schedule --loglevel=INFO
stdout_logfile=$BERTH_DATA_DIR/worker.log
startsecs=5
; A warm shutdown lets running tasks finish; past this they are redelivered (acks_late).
stopwaitsecs=30
EOF
    # SIGTERM to celery's main process only: it stops its pool and beat
    # itself (a SIGTERM to each of them as well can hang its warm shutdown).
    common_program false
    cat <<EOF

[program:archiver]
priority=200
command=$PY manage.py archive_logs
stdout_logfile=$BERTH_DATA_DIR/archive_logs.log
startsecs=2
EOF
    common_program
    cat <<EOF

[program:proxy]
priority=100
; Starts nginx (detached) when it is not running; stopping this leaves it running.
command=$PY manage.py proxy watch
stdout_logfile=$BERTH_DATA_DIR/proxy_watch.log
startsecs=2
EOF
    common_program
    cat <<EOF

[program:portal]
priority=400
command=$VENV/bin/uvicorn portal.asgi:application --host $HOST --port $PORT --log-level ${UVICORN_LOG_LEVEL:-info}
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
startsecs=2
EOF
    common_program
} >"$CONF"

log "Berth is at http://$HOST:$PORT/  (worker log: $BERTH_DATA_DIR/worker.log)"
log "Apps answer at <app>.${BERTH_APPS_DOMAIN:-localhost} through the front proxy"
log "Processes: $VENV/bin/supervisorctl -c $CONF status   (Ctrl-C stops them; apps keep running)"
exec "$VENV/bin/supervisord" -c "$CONF"
