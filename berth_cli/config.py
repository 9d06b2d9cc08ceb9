"""Where `berth login` keeps the portal's address and the API token.

~/.config/berth/config.json (or $XDG_CONFIG_HOME/berth, or BERTH_CONFIG_DIR),
readable by its owner only. BERTH_URL and BERTH_TOKEN override it, for CI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from berth_cli.errors import CliError


def config_dir() -> Path:
    if explicit := os.environ.get("BERTH_CONFIG_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "berth"


def config_path() -> Path:
    return config_dir() / "config.json"


@dataclass
class Profile:
    url: str
    user: str
    token: str


def load() -> dict:
    path = config_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CliError(f"Cannot read {path}: {e}. Delete it and run `berth login` again.") from e


def save(data: dict) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def current_profile() -> Profile:
    data = load()
    url = os.environ.get("BERTH_URL") or data.get("url", "")
    token = os.environ.get("BERTH_TOKEN") or data.get("token", "")
    if not url or not token:
        raise CliError("Not logged in: run `berth login --url URL -u USER` first.")
    return Profile(url=url.rstrip("/"), user=data.get("user", ""), token=token)
