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
# The Pythons whose runtime and build images the suite makes first: the
# runtime matrix tests every one that is ready and skips the others with
# the reason. Each new one costs about 6-8 minutes on 2 cores, so CI makes
# 3.11 (the default) and 3.13 (the stack change's target) within its time
# limit; BERTH_TEST_RUNTIMES=available makes every one the catalog can build.
RUNTIMES="${BERTH_TEST_RUNTIMES:-3.11 3.13}"
log "Making sure the runtime and build images exist: $RUNTIMES"
if [ "$RUNTIMES" = "available" ]; then
    "$PY" manage.py runtime ensure --available || log "Some runtimes could not be built: their tests say why"
else
    # shellcheck disable=SC2086 # a list of versions
    "$PY" manage.py runtime ensure $RUNTIMES || log "Some runtimes could not be built: their tests say why"
fi
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
