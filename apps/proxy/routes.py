"""Changing the routes: render, test, swap, save, reload, under the lock.
set_route, remove_route, set_https_only, ensure_running, reload, stop.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.conf import settings

from apps.proxy import config, files, process, store
from apps.proxy.errors import ProxyError

logger = logging.getLogger(__name__)


def _wait_external(text: str) -> None:
    """Wait until the proxy service applied this config, or a newer one."""
    timeout = float(settings.BERTH_PROXY_APPLY_TIMEOUT)
    deadline = time.monotonic() + timeout
    mine = process.config_hash(text)
    while time.monotonic() < deadline:
        applied = process.applied_hash()
        if applied == mine:
            return
        # A later change rewrote the config from the saved routes, ours too.
        try:
            current = process.config_hash(files.layout().conf.read_text())
        except OSError:
            current = ""
        if current != mine and applied == current:
            return
        time.sleep(0.1)
    raise ProxyError(
        f"The routes are saved, but the proxy service did not apply them within {timeout:.0f} s: "
        "is it running (`docker compose ps proxy`)? It applies them when it starts."
    )


def _apply(
    new_routes: dict[str, str],
    *,
    save: Callable[[], object] | None = None,
    force_reload: bool = False,
    start: bool = True,
) -> str | None:
    """Render, test, swap, save, reload. Called with the lock held.

    Returns the config text when the proxy service (external mode) still has
    to apply it; the caller waits for that without holding the lock.
    """
    files.prepare(files.layout())
    text = config.render_config(
        new_routes,
        cert=config.certificate(list(new_routes)),
        https_only=frozenset(store.https_only_apps()),
    )
    changed = process.install_config(text)
    # Saved only once nginx accepted the config: a refused route is never kept.
    if save is not None:
        save()
    if config.proxy_mode() == "external":
        return text
    pid = process.master_pid()
    if pid is None:
        if start:
            process.start_nginx()
    elif changed or force_reload or process.applied_hash() != process.config_hash(text):
        seconds = process.reload_nginx(pid, text)
        logger.info("Reloaded the proxy in %.0f ms", seconds * 1000)
    return None


def _change(**kwargs) -> None:
    with process.locked():
        # Read under the lock: routes saved by a concurrent deploy are kept.
        pending = _apply(store.routes(), **kwargs)
    if pending is not None:
        _wait_external(pending)


def set_route(app_name: str, upstream: str) -> None:
    """Send <app_name>.<apps domain> to upstream ("127.0.0.1:PORT").

    Returns once only nginx workers with the new route take new connections,
    so the caller may then stop the old container (after a few seconds'
    grace for requests the old workers still hold).
    """
    config.check_name(app_name)
    config.check_upstream(upstream)
    with process.locked():
        pending = _apply(
            {**store.routes(), app_name: upstream},
            save=lambda: store.save_route(app_name, upstream),
        )
    if pending is not None:
        _wait_external(pending)


def set_https_only(app_name: str, on: bool) -> None:
    """Redirect the app's plain HTTP to HTTPS (301), or stop doing so."""
    config.check_name(app_name)
    with process.locked():
        current = store.https_only_apps()
        wanted = current | {app_name} if on else current - {app_name}
        if wanted == current:
            return
        path = files.layout().prefix / store.HTTPS_ONLY_FILE
        files.prepare(files.layout())
        # Written before the render (which reads it), put back if nginx refuses.
        previous = path.read_text() if path.exists() else None
        files.write_atomic(path, json.dumps(sorted(wanted)))
        try:
            pending = _apply(store.routes(), start=False)
        except Exception:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                files.write_atomic(path, previous)
            raise
    if pending is not None:
        _wait_external(pending)


def remove_route(app_name: str) -> None:
    """Stop routing the app; its host name then gets the "no app" page."""
    config.check_name(app_name)
    with process.locked():
        current = store.routes()
        if app_name not in current:
            return
        del current[app_name]
        path = files.layout().routes_dir / f"{app_name}.json"
        pending = _apply(current, save=lambda: path.unlink(missing_ok=True), start=False)
    if pending is not None:
        _wait_external(pending)


def ensure_running() -> None:
    """Start the proxy with the current routes, or bring it up to date."""
    _change()


def reload() -> None:
    """Re-render from the routes and settings, test, and reload (or start)."""
    _change(force_reload=True)


def stop() -> bool:
    """Stop Berth's nginx gracefully. False when it was not running."""
    if config.proxy_mode() == "external":
        return False
    with process.locked():
        return process.stop_nginx()
