"""Berth's front proxy: its own nginx master with one server block per app.

`<name>.<BERTH_APPS_DOMAIN>` goes to the app's upstream ("127.0.0.1:PORT",
published by the app's container), over HTTP and HTTPS. The deploy pipeline
calls the plain functions at the bottom: set_route, remove_route, routes,
ensure_running, reload, stop, status.

Every change follows one path: render the whole config from the routes, test
it with `nginx -t` as a candidate file, and only then swap it in atomically and
reload nginx, all under a lock so concurrent deploys don't interleave. A bad
config never replaces the good one, and a reload is graceful: nginx's old
workers finish their requests while new ones take new connections, which is
how a release swaps upstreams without dropping a request.

Everything lives under DATA_DIR/proxy (config, routes, pid, logs, temp, TLS),
so the same code runs as root or not, beside the system's nginx if any.

BERTH_PROXY_MODE=external (compose.yaml's proxy service): this process only
writes the routes and the tested config; `manage.py proxy run` in the proxy
container owns nginx, sees the new config and reloads it, and records what it
applied in applied.json, which set_route waits for.

The code lives in one module a job: files (the layout under DATA_DIR/proxy),
config (rendering), store (the saved routes and HTTPS Only choices),
process (nginx itself, the lock, run_foreground), routes (changing them)
and status. This module only re-exports their public names, so callers
keep `from apps.proxy import nginx` / `nginx.set_route(...)`: other apps
import it this way (the redesign changes their import lines separately).
"""

from __future__ import annotations

from apps.proxy.config import (
    APP_NAME_RE,
    UPSTREAM_RE,
    certificate,
    check_name,
    check_upstream,
    render_config,
)
from apps.proxy.errors import ProxyError
from apps.proxy.files import (
    Layout,
    layout,
)
from apps.proxy.process import (
    locked,
    master_pid,
    nginx_binary,
    run_foreground,
    test_config,
)
from apps.proxy.routes import (
    ensure_running,
    reload,
    remove_route,
    set_https_only,
    set_route,
    stop,
)
from apps.proxy.status import (
    ProxyStatus,
    app_url,
    status,
)
from apps.proxy.store import (
    https_only_apps,
    routes,
)

__all__ = [
    "ProxyError",
    "APP_NAME_RE",
    "Layout",
    "ProxyStatus",
    "UPSTREAM_RE",
    "app_url",
    "certificate",
    "check_name",
    "check_upstream",
    "ensure_running",
    "https_only_apps",
    "layout",
    "locked",
    "master_pid",
    "nginx_binary",
    "reload",
    "remove_route",
    "render_config",
    "routes",
    "run_foreground",
    "set_https_only",
    "set_route",
    "status",
    "stop",
    "test_config",
]
