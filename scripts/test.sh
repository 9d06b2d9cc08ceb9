#!/usr/bin/env bash
# Set up everything the tests need (Docker engine, runtime image, nginx,
# Chromium, PostgreSQL, Redis) and run the suite twice: on SQLite, then the
# database-facing tests on PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if is_root_with_apt; then
    apt_install nginx-light chromium fonts-dejavu-core postgresql redis-server
fi
export BERTH_DATA_DIR="${BERTH_TEST_DATA_DIR:-$ROOT/data/test}"
"$ROOT/scripts/setup.sh" requirements-dev.txt
# Every Python the catalog can build here, so the runtime matrix runs; one
# that fails to build is skipped by its tests with the reason.
log "Making sure every available runtime image and its build image exist"
"$PY" manage.py runtime ensure --available || log "Some runtimes could not be built: their tests say why"
"$ROOT/scripts/ensure-services.sh"
"$ROOT/scripts/ensure-nginx.sh"
cd "$ROOT"
mkdir -p test-artifacts

run_pytest() {
    # pytest exits 5 when nothing was collected: that is a failure of the
    # suite's wiring here, so say so instead of passing quietly.
    set +e
    "$PY" -m pytest "$@"
    local rc=$?
    set -e
    if [ $rc -eq 5 ]; then echo "pytest collected no tests for: $*" >&2; fi
    return $rc
}

# Every pass runs even when one fails, so one CI log shows every failure.
FAILED_PASSES=()

log "Lint: ruff check and ruff format --check"
{ "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . >/dev/null; } || FAILED_PASSES+=("lint")

log "Test pass 1: SQLite (everything but the browser)"
run_pytest -m "not browser" "$@" || FAILED_PASSES+=("SQLite")

# Playwright's sync API keeps an event loop in the main thread while its
# browser is open, which async_to_sync in other tests refuses: its own run.
log "Test pass 1b: SQLite, the browser tests (Debian's chromium)"
run_pytest -m "browser" "$@" || FAILED_PASSES+=("browser")

log "Test pass 2: PostgreSQL (models, views, services)"
PG_URL="${BERTH_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
DATABASE_URL="$PG_URL" run_pytest -m "postgres" "$@" || FAILED_PASSES+=("PostgreSQL")

if [ ${#FAILED_PASSES[@]} -ne 0 ]; then
    echo "Failed test passes: ${FAILED_PASSES[*]}" >&2
    exit 1
fi
log "All test passes succeeded."
