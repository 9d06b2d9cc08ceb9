#!/usr/bin/env bash
# Make sure `docker compose` (Compose v2, the CLI plugin) works. On a root
# Debian-like machine without it, install Debian's `docker-compose` package:
# from the host's own suites when they carry Compose v2 (trixie and later),
# else from the next Debian suite of the same archive (bookworm carries only
# Compose v1, 1.29, which lacks what compose.yaml uses). That package needs
# nothing but libc6 (>= 2.34), so it installs on bookworm as it is.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# The suite a bookworm host takes Compose v2 from.
COMPOSE_SUITE="${BERTH_COMPOSE_SUITE:-trixie}"

compose_ok() { docker compose version >/dev/null 2>&1; }
compose_ok && exit 0

if ! is_root_with_apt; then
    echo "docker compose (v2) is missing: install Docker's Compose plugin, or run this as root with apt." >&2
    exit 1
fi

# The host's suites may already carry v2 (Debian trixie's docker-compose is).
candidate="$(apt-cache policy docker-compose 2>/dev/null | awk '/Candidate:/ {print $2}')"
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    apt-get update -qq
    candidate="$(apt-cache policy docker-compose 2>/dev/null | awk '/Candidate:/ {print $2}')"
fi
if [ "${candidate%%.*}" -ge 2 ] 2>/dev/null; then
    apt_install docker-compose
    compose_ok && exit 0
fi

# The Debian archive the host's apt sources name (deb822 or one-line
# format), read here, never written down.
mirror="$(awk '/^URIs:/ && $2 ~ /^https?:/ && $2 !~ /security/ {print $2; exit}' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [ -z "$mirror" ]; then
    mirror="$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) {print $i; exit}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$mirror" ]; then
    echo "No Debian archive in the host's apt sources to take docker-compose (v2) from." >&2
    exit 1
fi

log "Installing Compose v2: Debian $COMPOSE_SUITE's docker-compose (the host's suites carry ${candidate:-none})"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $COMPOSE_SUITE main" \
    >"$work/sources.list"
# A private apt state: the host's sources, pins and lists stay as they are.
apt_opts=(
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::Cache=$work/cache"
    -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
deb="$(ls "$work"/docker-compose_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
if [ "${version%%.*}" -lt 2 ]; then
    echo "Debian $COMPOSE_SUITE's docker-compose is $version, not Compose v2." >&2
    exit 1
fi
# apt resolves its one dependency (libc6) from the host's own sources.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
compose_ok || { echo "docker compose still does not answer after installing $deb" >&2; exit 1; }
log "$(docker compose version)"
