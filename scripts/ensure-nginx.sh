#!/usr/bin/env bash
# Make sure Debian's nginx binary is here for Berth's front proxy. Berth runs
# its own nginx master under the data folder (manage.py proxy start), never
# the system's nginx service, so installing it is all this does.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if is_root_with_apt; then
    apt_install nginx-light
    # Debian's package starts the system service on port 80; Berth does not
    # need it, so leave it stopped where it was started.
    if command -v service >/dev/null 2>&1 && [ -f /etc/init.d/nginx ]; then
        service nginx stop >/dev/null 2>&1 || true
    fi
    exit 0
fi
echo "nginx is not installed, and only root with apt can install it here." >&2
echo "Run as root: apt-get install nginx-light (or your system's nginx package), then try again." >&2
exit 1
