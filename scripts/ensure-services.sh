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
    # A fresh Debian cluster wants a password over TCP; the test database
    # on 127.0.0.1 is throwaway, so trust local TCP connections as the
    # machines this runs on already do.
    if ! psql -h 127.0.0.1 -U postgres -d postgres -qtAc "SELECT 1" >/dev/null 2>&1; then
        for hba in /etc/postgresql/*/main/pg_hba.conf; do
            grep -q "berth-test" "$hba" || sed -i '1i host all all 127.0.0.1/32 trust # berth-test' "$hba"
        done
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main reload || true
        done
        sleep 1
    fi
    psql -h 127.0.0.1 -U postgres -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='test'" \
        | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test"
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
