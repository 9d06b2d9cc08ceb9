#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 for the test
# passes: start them if they are installed and down.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ -d /etc/postgresql ]; then
        log "Starting PostgreSQL"
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
        done
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if pg_isready -q -h 127.0.0.1 -p 5432; then
    # Trust auth on a fresh Debian cluster is only for local sockets; make the
    # test role and database exist either way.
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" 2>/dev/null | grep -q 1 \
        || su postgres -c "createdb test" 2>/dev/null || true
else
    echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2
    exit 1
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    log "Starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
