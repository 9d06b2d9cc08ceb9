#!/bin/sh
# Redis for compose.yaml (the Celery broker), the same on Berth's own image
# (berth/redis: Debian's redis-server, `manage.py dataservice ensure redis`)
# and on the official redis image: data kept in /data (append-only file).
# It listens on its Unix socket in /run/berth-sockets/redis (in a volume the
# portal's containers share) and on no TCP port. Started as root to own the volumes;
# Redis runs as redis. `redis.sh health` is the health check.
set -eu
SOCKET=/run/berth-sockets/redis/redis.sock
if [ "${1:-}" = health ]; then
    redis-cli -s "$SOCKET" ping | grep -q PONG
    exit
fi
mkdir -p /data "${SOCKET%/*}"
chown redis:redis /data "${SOCKET%/*}"
cd /data
exec setpriv --reuid=redis --regid=redis --init-groups \
    redis-server --dir /data --appendonly yes --port 0 \
    --unixsocket "$SOCKET" --unixsocketperm 700
