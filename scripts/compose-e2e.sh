#!/usr/bin/env bash
# compose.yaml end to end, as README's Production section runs it: build the
# portal image, `docker compose up -d --wait` (PostgreSQL, Redis, migrate,
# web, worker, archiver, proxy; the host's Docker socket), deploy a small
# Flask app through the portal with the `berth` CLI, set an app setting,
# check the app answers with it through the stack's proxy on 127.0.0.1,
# `docker compose down` (no -v) and `up -d --wait` again, check the app, its
# setting and its container are still there, then delete the app and
# `docker compose down -v`. Every image is one Berth builds itself (no
# registry needed) unless BERTH_PORTAL_BASE, BERTH_POSTGRES_IMAGE or
# BERTH_REDIS_IMAGE name others. Prints how long each step took.
#
# Ports (on 127.0.0.1): BERTH_COMPOSE_PORT (portal, 8105),
# BERTH_COMPOSE_HTTP_PORT / _HTTPS_PORT (the proxy, 8205 / 8305); compose
# project BERTH_COMPOSE_PROJECT (berthci).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

PROJECT="${BERTH_COMPOSE_PROJECT:-berthci}"
PORT="${BERTH_COMPOSE_PORT:-8105}"
HTTP_PORT="${BERTH_COMPOSE_HTTP_PORT:-8205}"
HTTPS_PORT="${BERTH_COMPOSE_HTTPS_PORT:-8305}"
APP="${PROJECT}-flask-$(date +%s | tail -c 6)"
STARTED=$SECONDS
TIMES=()
step() {
    # step NAME COMMAND...: run it, keep how long it took.
    local name="$1" t0=$SECONDS
    shift
    log "$name"
    "$@"
    TIMES+=("$name: $((SECONDS - t0)) s")
}
fail() {
    echo "compose e2e FAILED: $*" >&2
    exit 1
}

"$ROOT/scripts/ensure-docker.sh"
"$ROOT/scripts/ensure-compose.sh"

# Berth's own images: the runtime the app runs on (and the portal image's
# base), and the PostgreSQL and Redis service images.
images() {
    "$PY" manage.py runtime ensure 3.11 | grep -v '%]' || true
    "$PY" manage.py dataservice ensure | grep -v '%]' || true
    # The last line: Django may log before it.
    PG_IMAGE="$("$PY" manage.py shell -c "from apps.engine import dataservices as d; print(d.image_tag('postgres'))" | tail -n 1)"
    REDIS_IMAGE="$("$PY" manage.py shell -c "from apps.engine import dataservices as d; print(d.image_tag('redis'))" | tail -n 1)"
}
step "Berth's images (runtime 3.11, PostgreSQL, Redis)" images

WORK="$(mktemp -d)"
# nginx's workers (www-data) pass through the folders above the data folder.
chmod 0755 "$WORK"
ADMIN_PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')"
# The .env README's Production section describes, plus this run's ports,
# images and data folder.
cat >"$WORK/.env" <<EOF
POSTGRES_PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(40))')
BERTH_ENCRYPTION_KEYS=$("$PY" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
BERTH_ADMIN_PASSWORD=$ADMIN_PASSWORD
ALLOWED_HOSTS=127.0.0.1,localhost
BERTH_LISTEN=127.0.0.1
BERTH_PORT=$PORT
BERTH_PROXY_HTTP_PORT=$HTTP_PORT
BERTH_PROXY_HTTPS_PORT=$HTTPS_PORT
BERTH_DATA_HOST_DIR=$WORK/data
BERTH_PORTAL_BASE=${BERTH_PORTAL_BASE:-berth/python:3.11}
BERTH_PORTAL_IMAGE=${BERTH_PORTAL_IMAGE:-berth/portal:latest}
BERTH_POSTGRES_IMAGE=${BERTH_POSTGRES_IMAGE:-$PG_IMAGE}
BERTH_REDIS_IMAGE=${BERTH_REDIS_IMAGE:-$REDIS_IMAGE}
EOF
chmod 0600 "$WORK/.env"
COMPOSE=(-p "$PROJECT" --env-file "$WORK/.env" -f "$ROOT/compose.yaml")
export BERTH_CONFIG_DIR="$WORK/cli" BERTH_OUTPUT=json
BERTH="$VENV/bin/berth"
PORTAL="http://127.0.0.1:$PORT"

cleanup() {
    local rc=$?
    set +e
    log "Cleaning up: the app, the stack and its volumes"
    if [ -s "$BERTH_CONFIG_DIR/config.json" ]; then
        "$BERTH" webapp delete -n "$APP" >/dev/null 2>&1
    fi
    if [ $rc -ne 0 ]; then
        docker compose "${COMPOSE[@]}" ps -a
        docker compose "${COMPOSE[@]}" logs --tail 40 migrate web worker proxy
    fi
    docker compose "${COMPOSE[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1
    # Whatever the app's delete left behind (it failed, or never ran).
    leftovers="$(docker ps -aq --filter "label=io.berth.app=$APP")"
    [ -n "$leftovers" ] && docker rm -f $leftovers >/dev/null
    for v in $(docker volume ls -q --filter "label=io.berth.app=$APP") "berth-home-$APP" "berth-pip-cache-$APP"; do
        docker volume rm -f "$v" >/dev/null 2>&1
    done
    for i in $(docker images -q --filter "label=io.berth.app=$APP" | sort -u); do
        docker rmi -f "$i" >/dev/null 2>&1
    done
    for n in $(docker network ls -q --filter "label=io.berth.app=$APP"); do
        docker network rm "$n" >/dev/null 2>&1
    done
    rm -rf "$WORK"
    TIMES+=("total: $((SECONDS - STARTED)) s")
    log "compose e2e timings: $(IFS=';'; echo "${TIMES[*]}" | sed 's/;/, /g')"
    [ $rc -eq 0 ] && log "compose e2e passed" || echo "compose e2e failed (exit $rc)" >&2
    exit $rc
}
trap cleanup EXIT

wait_for() {
    # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds, or fail.
    local limit="$1" what="$2" deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$what: not within $limit s"
        sleep 1
    done
}
app_says() {
    # app_says TEXT: the app answers TEXT through the stack's proxy.
    curl -fsS --max-time 5 -H "Host: $APP.localhost" "http://127.0.0.1:$HTTP_PORT/" | grep -qx "$1"
}
serving_container() {
    docker ps -q --filter "label=io.berth.app=$APP" --filter "label=io.berth.role=app"
}

step "docker compose config" docker compose "${COMPOSE[@]}" config --quiet
step "docker compose build" docker compose "${COMPOSE[@]}" build --quiet
step "docker compose up -d --wait" docker compose "${COMPOSE[@]}" up -d --wait --wait-timeout 300

# A Flask app: the runtime image has Flask, so no requirements.txt.
mkdir -p "$WORK/app"
cat >"$WORK/app/app.py" <<'EOF'
import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    redis = "yes" if "AZURE_REDIS_CONNECTIONSTRING" in os.environ else "no"
    return f"hello from compose, GREETING={os.environ.get('GREETING', 'unset')}, redis={redis}\n"
EOF
GREETING="kept-$RANDOM"
deploy() {
    echo "$ADMIN_PASSWORD" | "$BERTH" login --url "$PORTAL" -u admin --password-stdin >/dev/null
    (cd "$WORK/app" && "$BERTH" webapp up -n "$APP" --runtime "PYTHON|3.11" -o none)
    wait_for 120 "the app answering through the proxy" app_says "hello from compose, GREETING=unset, redis=no"
    # Saved, then applied by a restart, as App Service does.
    "$BERTH" webapp config appsettings set -n "$APP" --settings "GREETING=$GREETING" -o none
    wait_for 180 "the app answering with its new setting" \
        app_says "hello from compose, GREETING=$GREETING, redis=no"
    # A service of Berth's own (the app's Redis), whose TLS files the
    # engine mounts from the data folder: the same path on the host.
    "$BERTH" webapp connection create redis -n "$APP" --connection cache -o none
    # Its settings reach the app by a restart, as any setting's do.
    wait_for 180 "the app answering with its Redis connection" \
        app_says "hello from compose, GREETING=$GREETING, redis=yes"
    redis_answers || fail "the app's Redis connection does not validate"
}
redis_answers() {
    local said
    said="$("$BERTH" webapp connection validate -n "$APP" --connection cache)"
    echo "$said" | "$PY" -c 'import json, sys; sys.exit(json.load(sys.stdin)["ok"] is not True)' \
        || { echo "$said" >&2; return 1; }
}
one_serving() { [ "$(serving_container | wc -l)" -eq 1 ]; }
step "deploy a Flask app, set GREETING, connect its Redis" deploy
# The restart's previous container goes once the proxy has moved.
wait_for 60 "one serving container of $APP" one_serving
BEFORE="$(serving_container)"

restart_stack() {
    docker compose "${COMPOSE[@]}" down --timeout 30
    # The proxy went with the stack; the app's own container did not.
    [ "$(serving_container)" = "$BEFORE" ] \
        || fail "docker compose down stopped the app's container ($BEFORE; now: $(serving_container))"
    docker compose "${COMPOSE[@]}" up -d --wait --wait-timeout 300
}
step "docker compose down, then up -d --wait (volumes kept)" restart_stack

check_after() {
    wait_for 60 "the app answering after the restart" \
        app_says "hello from compose, GREETING=$GREETING, redis=yes"
    "$BERTH" webapp config appsettings list -n "$APP" --show-values --query "[?name=='GREETING'].value | [0]" \
        | grep -qx "\"$GREETING\"" || fail "GREETING is not among the app's settings after the restart"
    "$BERTH" webapp show -n "$APP" --query state | grep -qx '"Running"' \
        || fail "the app is not Running after the restart"
    redis_answers || fail "the app's Redis connection does not validate after the restart"
    [ "$(serving_container)" = "$BEFORE" ] \
        || fail "the app's container was replaced by the restart ($BEFORE; now: $(serving_container))"
}
step "the app, its setting, its container and its Redis are still there" check_after

remove_app() {
    "$BERTH" webapp delete -n "$APP" -o none
    [ -z "$(docker ps -aq --filter "label=io.berth.app=$APP")" ] \
        || fail "containers of $APP are left after deleting it"
    [ -z "$(docker images -q --filter "label=io.berth.app=$APP")" ] \
        || fail "images of $APP are left after deleting it"
    [ -z "$(docker volume ls -q --filter "label=io.berth.app=$APP")" ] \
        || fail "volumes of $APP are left after deleting it"
}
step "delete the app" remove_app
step "docker compose down -v" docker compose "${COMPOSE[@]}" down -v --remove-orphans --timeout 30
