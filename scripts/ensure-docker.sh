#!/usr/bin/env bash
# Make sure a Docker engine answers. On a root Debian-like machine without one,
# install Debian's docker.io and start dockerd in the background.
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "No Docker engine is reachable and this script can only install one as root with apt." >&2
        echo "Install Docker and start it, or set DOCKER_HOST, then run this again." >&2
        exit 1
    fi
    echo "Installing Debian's docker.io ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

echo "Starting dockerd ..."
mkdir -p /var/log/berth
# A session of its own (setsid): a Ctrl-C on `make run`, or the end of the
# script that started it, must not reach the engine, which every app runs on.
setsid nohup dockerd >/var/log/berth/dockerd.log 2>&1 </dev/null &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "Docker engine is up."
        exit 0
    fi
    sleep 1
done
echo "dockerd did not come up in 60 s; see /var/log/berth/dockerd.log" >&2
tail -20 /var/log/berth/dockerd.log >&2 || true
exit 1
