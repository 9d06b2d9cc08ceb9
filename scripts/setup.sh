#!/usr/bin/env bash
# Everything Berth needs on this machine, idempotent: the virtual environment,
# a Docker engine, the database schema, static files, the Python 3.11 runtime
# image and the first admin. `make run` and `make test` both start here.
set -euo pipefail
source "$(dirname "$0")/common.sh"
REQUIREMENTS="${1:-requirements.txt}"

ensure_venv "$REQUIREMENTS"
if is_root_with_apt; then apt_install debootstrap git; fi
"$ROOT/scripts/ensure-docker.sh"

cd "$ROOT"
# The data folder is Berth's alone (0700, files 0600); fixes older installs.
"$PY" manage.py secure_data
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py collectstatic --noinput -v0
log "Making sure the Python ${BERTH_DEFAULT_PYTHON:-3.11} runtime image exists"
"$PY" manage.py runtime ensure "${BERTH_DEFAULT_PYTHON:-3.11}"
