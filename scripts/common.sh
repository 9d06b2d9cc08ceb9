# Sourced by the other scripts: paths and small helpers.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BERTH_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
export BERTH_DATA_DIR="${BERTH_DATA_DIR:-$ROOT/data}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

is_root_with_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=""
apt_install() {
    # apt_install PKG... : install Debian packages that are missing (root only).
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! is_root_with_apt; then
        echo "Missing Debian packages: ${missing[*]}; install them (needs root and apt)." >&2
        return 1
    fi
    if [ -z "$APT_UPDATED" ]; then apt-get update -qq; APT_UPDATED=1; fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
    # ensure_venv REQUIREMENTS_FILE
    if [ ! -x "$PY" ]; then
        log "Creating the virtual environment in $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(sha1sum "$ROOT/$1" "$ROOT/requirements.txt" | sha1sum | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        log "pip install -r $1"
        "$VENV/bin/pip" install -q -r "$ROOT/$1" 2>&1 | grep -v "is ignored: it is neither" || true
        "$VENV/bin/pip" check >/dev/null 2>&1 || true
        "$PY" -c "import django, celery, docker" || { echo "pip install failed" >&2; exit 1; }
        touch "$stamp"
    fi
    # The `berth` CLI (berth_cli/, pyproject.toml), editable, on the venv's PATH.
    local cli_stamp="$VENV/.cli-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
    if [ ! -f "$cli_stamp" ] || [ ! -x "$VENV/bin/berth" ]; then
        log "pip install -e $ROOT (the berth CLI)"
        "$VENV/bin/pip" install -q -e "$ROOT" 2>&1 | grep -v "is ignored: it is neither" || true
        [ -x "$VENV/bin/berth" ] || { echo "pip install -e $ROOT failed" >&2; exit 1; }
        touch "$cli_stamp"
    fi
}
