"""The routes Berth keeps (one JSON file per app under routes/) and the
HTTPS Only choices (https-only.json): what the config is rendered from.
"""

from __future__ import annotations

import json
import logging
import time

from apps.proxy import config, files
from apps.proxy.errors import ProxyError

logger = logging.getLogger(__name__)
HTTPS_ONLY_FILE = "https-only.json"  # beside the routes folder, under the prefix


def routes() -> dict[str, str]:
    """The routes Berth keeps: {app name: upstream}."""
    found: dict[str, str] = {}
    directory = files.layout().routes_dir
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            found[config.check_name(data["name"])] = config.check_upstream(data["upstream"])
        except (OSError, ValueError, KeyError, TypeError, ProxyError) as e:
            logger.warning("Skipping the unreadable route %s: %s", path, e)
    return found


def save_route(name: str, upstream: str) -> None:
    files.write_atomic(
        files.layout().routes_dir / f"{name}.json",
        json.dumps({"name": name, "upstream": upstream, "updated_at": time.time()}),
    )


def https_only_apps() -> set[str]:
    """The apps whose plain HTTP is redirected to HTTPS (App Service's
    httpsOnly). Kept apart from the routes: a stopped app keeps its choice."""
    try:
        names = json.loads((files.layout().prefix / HTTPS_ONLY_FILE).read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as e:
        logger.warning("Ignoring the unreadable %s: %s", HTTPS_ONLY_FILE, e)
        return set()
    return {n for n in names if isinstance(n, str) and config.APP_NAME_RE.match(n)}
