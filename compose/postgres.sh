#!/bin/sh
# PostgreSQL for compose.yaml, the same on Berth's own image (berth/postgres:
# Debian's packages, `manage.py dataservice ensure postgres`) and on the
# official postgres image: one cluster in $PGDATA, made on first start with
# the superuser $POSTGRES_USER (password $POSTGRES_PASSWORD) and the
# database $POSTGRES_DB. It listens on its Unix socket in $SOCKET (in a
# volume the portal's containers share) and on no TCP port; every login takes the
# password (scram). Started as root to own the volumes; PostgreSQL runs as postgres.
# `postgres.sh health` is the health check.
set -eu
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
SOCKET=/run/berth-sockets/postgres
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ "${1:-}" = health ]; then
    exec "$BIN/pg_isready" -q -h "$SOCKET" -d "$POSTGRES_DB" -U "$POSTGRES_USER"
fi

: "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_DB:?}"
mkdir -p "$PGDATA" "$SOCKET"
chown postgres:postgres "$PGDATA" "$SOCKET"
chmod 0700 "$PGDATA"
chmod 0755 "$SOCKET"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres "$BIN/initdb" -D "$PGDATA" -E UTF8 --locale=C.UTF-8 -U "$POSTGRES_USER" \
        --pwfile="$pwfile" --auth=scram-sha-256 --auth-local=trust
    rm -f "$pwfile"
    # The database, on a server nobody else can reach yet (a private socket).
    private=$(mktemp -d)
    chown postgres "$private"
    as_postgres "$BIN/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses='' -k $private" start
    echo 'CREATE DATABASE :"db";' | as_postgres "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$private" -U "$POSTGRES_USER" -d postgres -v db="$POSTGRES_DB"
    as_postgres "$BIN/pg_ctl" -D "$PGDATA" -w -m fast stop
    rmdir "$private"
    echo "local all all scram-sha-256" >"$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$PGDATA" \
    -c listen_addresses='' -c unix_socket_directories="$SOCKET"
