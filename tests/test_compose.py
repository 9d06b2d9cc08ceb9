"""compose.yaml: `docker compose config` accepts it and it says what the
README says (images from the environment, Berth's processes on the host's
network with the engine's socket, the data folder at one path inside and
out); and the whole stack end to end (scripts/compose-e2e.sh): up, deploy,
down and up again with the app and its settings kept, down -v."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.compose, pytest.mark.docker]

BERTH_SERVICES = {"migrate", "web", "worker", "archiver", "proxy"}
SECRETS = {"POSTGRES_PASSWORD": "pw", "SECRET_KEY": "sk", "BERTH_ENCRYPTION_KEYS": "ek"}


def compose_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`docker compose config` with only `env` (an empty .env of its own, so
    a developer's .env or shell does not count)."""
    if shutil.which("docker") is None:
        pytest.fail("docker is not installed: scripts/ensure-docker.sh installs it")
    env_file = tmp_path / "env"
    env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "POSTGRES_"))}
    clean.pop("SECRET_KEY", None)
    return subprocess.run(
        ["docker", "compose", "-p", "berthci-config", "--env-file", str(env_file)]
        + ["-f", str(ROOT / "compose.yaml"), "config", "--format", "json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def services(tmp_path: Path, **env: str) -> dict:
    result = compose_config(tmp_path, **{**SECRETS, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def test_it_validates_with_every_service(tmp_path):
    assert set(services(tmp_path)) == {"db", "redis", *BERTH_SERVICES}


def test_it_refuses_to_start_without_its_secrets(tmp_path):
    for missing in SECRETS:
        env = {k: v for k, v in SECRETS.items() if k != missing}
        result = compose_config(tmp_path, **env)
        assert result.returncode != 0
        assert f"set {missing} in .env" in result.stderr


def test_images_come_from_the_environment(tmp_path):
    found = services(
        tmp_path,
        BERTH_PORTAL_IMAGE="example/portal:7",
        BERTH_PORTAL_BASE="berth/python:3.11",
        BERTH_POSTGRES_IMAGE="berth/postgres:bookworm",
        BERTH_REDIS_IMAGE="berth/redis:bookworm",
    )
    for name in BERTH_SERVICES:
        assert found[name]["image"] == "example/portal:7"
        assert found[name]["build"]["args"]["BASE"] == "berth/python:3.11"
    assert found["db"]["image"] == "berth/postgres:bookworm"
    assert found["redis"]["image"] == "berth/redis:bookworm"


def test_the_defaults_are_the_registrys_images(tmp_path):
    found = services(tmp_path)
    assert found["web"]["build"]["args"]["BASE"] == "python:3.11-slim"
    assert found["db"]["image"] == "postgres:16"
    assert found["redis"]["image"] == "redis:7"


def test_berth_runs_on_the_hosts_network_with_the_engine_and_one_data_path(tmp_path):
    found = services(tmp_path, BERTH_DATA_HOST_DIR="/srv/berth-data", BERTH_LISTEN="127.0.0.1")
    for name in BERTH_SERVICES:
        service = found[name]
        assert service["network_mode"] == "host", name
        mounts = {(m["source"], m["target"]) for m in service["volumes"] if m["type"] == "bind"}
        assert ("/var/run/docker.sock", "/var/run/docker.sock") in mounts, name
        assert ("/srv/berth-data", "/srv/berth-data") in mounts, name
        assert service["environment"]["BERTH_DATA_DIR"] == "/srv/berth-data"
        assert service["environment"]["BERTH_PROXY_LISTEN"] == "127.0.0.1"
        # The database and the broker through their sockets, not a host name.
        assert "@%2Frun%2Fberth-sockets%2Fpostgres/" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis+socket:///run/")


def test_postgres_and_redis_publish_no_port(tmp_path):
    found = services(tmp_path)
    for name in ("db", "redis"):
        assert not found[name].get("ports"), name
        assert "healthcheck" in found[name], name


def readme_production_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's Production section has no ```sh block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_e2e_script_runs_the_readmes_production_commands():
    script = (ROOT / "scripts" / "compose-e2e.sh").read_text()
    commands = readme_production_commands()
    assert any(c.startswith("docker compose up") for c in commands)
    for command in commands:
        if command.startswith("docker compose "):
            expected = 'docker compose "${COMPOSE[@]}" ' + command.removeprefix("docker compose ")
        else:
            expected = '"$PY" ' + command.removeprefix("python ")
        assert expected in script, f"scripts/compose-e2e.sh does not run README's `{command}`"


@pytest.mark.runtime
@pytest.mark.timeout(1800)
def test_the_stack_deploys_an_app_and_keeps_it_across_a_restart():
    """The whole of scripts/compose-e2e.sh (its own checks fail it)."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose-e2e.sh")],
        capture_output=True,
        text=True,
        timeout=1700,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    timings = [line for line in output.splitlines() if "compose e2e timings" in line]
    print("\n".join(timings))
    assert result.returncode == 0, output[-6000:]
    assert "compose e2e passed" in output
