"""Deploy-speed benchmark (issue 3, item 7): figures and ratios, not a test.

Against the real Docker engine and runtime image, in a temporary data folder
(SQLite, migrated) with a throwaway user, two apps and a temporary pip cache
volume; everything it made is removed at the end. Traffic goes to 127.0.0.1
only (the apps' published ports) and, for pip, to the index the machine's pip
config names.

    (a) floor: a container from the release image, created and started until
        its first HTTP 200
    (b) code-only redeploy of the Flask sample (one changed line), from the
        upload until the new version answers; median of 3
    (c) first deploy with a cold and a warm wheel cache, next to a bare
        `pip install` of the same requirements in a runtime container
    (d) rollback: redeploy an older release, no build
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "samples" / "flask_app"
TARGET_SECONDS = 5.0
TARGET_RATIO = 2.0
DEADLINE = 240  # seconds: give up on any one deployment past this


def setup_django(data_dir: Path) -> None:
    os.environ["BERTH_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.BERTH_PROXY_ROUTING = False  # poll the app's own 127.0.0.1 port
    settings.BERTH_START_TIME_LIMIT = 60
    settings.BERTH_BUILD_TIMEOUT = DEADLINE
    call_command("migrate", verbosity=0, interactive=False)


def sample_zip(version: str) -> bytes:
    sys.path.insert(0, str(ROOT))
    from tests.deploy_helpers import zip_sample

    app_py = (SAMPLE / "app.py").read_text().replace('"v1"', f'"{version}"')
    return zip_sample("flask_app", {"app.py": app_py})


def http_get(port: int, timeout: float = 2.0):
    import requests

    session = requests.Session()
    session.trust_env = False  # never through a proxy: 127.0.0.1
    return session.get(f"http://127.0.0.1:{port}/", timeout=timeout)


def deploy_until_served(app, data: bytes | None, version: str, *, rollback_of=None):
    """Start the clock, make the deployment (the upload has arrived: its bytes
    are in memory), run it in a thread and poll until `version` answers on the
    new release's port. Returns (seconds until served, seconds until the
    deployment finished, deployment)."""
    from django.db import connection

    from apps.deployments import services
    from apps.deployments.models import Deployment

    started = time.monotonic()
    if rollback_of is not None:
        deployment = services.redeploy(rollback_of)
    else:
        deployment = services.create_deployment(app, data)
    done: dict[str, float] = {}

    def run() -> None:
        try:
            services.run_deployment(deployment.pk)
        finally:
            done["at"] = time.monotonic()
            connection.close()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    served = None
    while served is None and time.monotonic() - started < DEADLINE:
        row = Deployment.objects.filter(pk=deployment.pk).values("host_port", "status").first()
        if row["status"] == Deployment.Status.FAILED:
            break
        if row["host_port"]:
            try:
                if http_get(row["host_port"]).json().get("version") == version:
                    served = time.monotonic() - started
                    break
            except Exception:
                pass
        time.sleep(0.02)  # light: the deployment thread writes to the same SQLite file
    worker.join(DEADLINE)
    deployment.refresh_from_db()
    if served is None:
        raise SystemExit(f"Deployment {deployment.pk} did not serve {version}:\n{deployment.log}")
    return served, done.get("at", time.monotonic()) - started, deployment


def floor(app, deployment, runs: int = 3) -> list[float]:
    """Create and start a container like run_release does, until its first 200."""
    from django.conf import settings

    from apps.engine import client as engine
    from apps.lifecycle import appnet, startup, steps
    from apps.lifecycle.source import SourceTree
    from apps.webapps.environment import build_environment

    detection = startup.Detection.from_dict(deployment.startup)
    script = startup.script(
        detection, app.app_command_line, SourceTree.from_zip(deployment.artifact)
    )
    figures = []
    for i in range(runs):
        name = f"berth-bench-floor-{app.name}-{i}"
        engine.remove_container(name)
        started = time.monotonic()
        container = engine.create_container(
            deployment.image,
            ["bash", "-c", script],
            name=name,
            environment=build_environment(app, instance_id=name),
            labels={"io.berth.app": app.name, "io.berth.role": "bench"},
            mem_limit=settings.BERTH_APP_MEMORY,
            network=appnet.ensure(app.name, app.python_version),
            publish_port=steps.APP_PORT,
        )
        try:
            engine.start_container(container)
            port = engine.published_port(container, steps.APP_PORT)
            while time.monotonic() - started < 60:
                try:
                    if http_get(port, timeout=1).status_code == 200:
                        break
                except Exception:
                    pass
                time.sleep(0.01)
            else:
                raise SystemExit(f"The floor container {name} never answered 200.")
            figures.append(time.monotonic() - started)
        finally:
            engine.remove_container(container)
    return figures


def bare_pip(app) -> tuple[float, int, str]:
    """`python -m venv` + `pip install --no-cache-dir -r requirements.txt` in a
    throwaway runtime container, with the build's pip environment and CA bundle."""
    from apps.deployments import buildenv, buildrun
    from apps.engine import client as engine

    env, mounts = buildenv.build_env(app)
    env.pop("PIP_CACHE_DIR", None)
    volumes = {
        src: {"bind": dst, "mode": mode}
        for src, (dst, mode) in mounts.items()
        if src.startswith("/")
    }
    requirements = (SAMPLE / "requirements.txt").read_text()
    command = (
        f"printf %s {sh_quote(requirements)} > /tmp/requirements.txt && "
        "python -m venv /tmp/venv && /tmp/venv/bin/python -m pip install -q --no-cache-dir "
        "-r /tmp/requirements.txt"
    )
    started = time.monotonic()
    code, output = engine.run_once(
        buildrun.runtime_image(app),
        ["bash", "-c", command],
        timeout=DEADLINE,
        environment=env,
        volumes=volumes,
    )
    return time.monotonic() - started, code, output


def sh_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.11")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    setup_django(data_dir)
    from django.contrib.auth.models import User

    from apps.deployments import buildenv
    from apps.engine import client as engine
    from apps.webapps.models import WebApp
    from tests.deploy_helpers import cleanup_app

    tag = secrets.token_hex(3)
    volume = f"berth-bench-pip-{tag}"
    # A cold cache of the bench's own, shared by its two apps (builds keep one
    # per app) so that the second app's first deploy measures a warm cache.
    buildenv.pip_cache_volume = lambda app: volume
    user = User.objects.create_user(f"bench-{tag}", password=secrets.token_urlsafe(16))
    apps = [
        WebApp.objects.create(
            name=f"bench-{name}-{tag}", owner=user, linux_fx_version=f"PYTHON|{args.python}"
        )
        for name in ("a", "b")
    ]
    rows: list[tuple[str, str, str, str, str]] = []
    bench_started = time.monotonic()
    try:
        print(f"Benchmark: Flask sample, Python {args.python}, data in {data_dir}", flush=True)
        cold, cold_total, v1 = deploy_until_served(apps[0], sample_zip("v1"), "v1")
        print(f"  first deploy, cold wheel cache: {cold:.2f} s", flush=True)
        warm, _, _ = deploy_until_served(apps[1], sample_zip("v1"), "v1")
        print(f"  first deploy, warm wheel cache: {warm:.2f} s", flush=True)
        bare, code, output = bare_pip(apps[0])
        if code != 0:
            print(f"  the bare pip install failed ({code}):\n{output[-2000:]}", flush=True)
        print(f"  bare pip install: {bare:.2f} s", flush=True)
        floors = floor(apps[0], v1, args.runs)
        base = statistics.median(floors)
        print(f"  floor: {', '.join(f'{f:.2f}' for f in floors)} s", flush=True)
        redeploys, totals, reused = [], [], 0
        for i in range(args.runs):
            version = f"v{i + 2}"
            served, total, d = deploy_until_served(apps[0], sample_zip(version), version)
            redeploys.append(served)
            totals.append(total)
            reused += "reusing its virtual environment" in d.log
            print(
                f"  code-only redeploy {version}: served {served:.2f} s, finished {total:.2f} s",
                flush=True,
            )
        back, back_total, _ = deploy_until_served(apps[0], None, "v1", rollback_of=v1)
        print(f"  rollback to v1: served {back:.2f} s, finished {back_total:.2f} s", flush=True)
    finally:
        for app in apps:
            cleanup_app(app.name)
        for name in engine.find_containers({"io.berth.role": "bench"}):
            engine.remove_container(name)
        engine.remove_volume(volume)
        shutil.rmtree(data_dir, ignore_errors=True)

    redeploy = statistics.median(redeploys)
    rows = [
        ("floor: container start -> first HTTP 200 (median)", f"{base:.2f} s", "1.0x", "", ""),
        (
            f"code-only redeploy -> new version served (median of {args.runs})",
            f"{redeploy:.2f} s",
            f"{redeploy / base:.1f}x floor",
            f"<= {TARGET_SECONDS:.0f} s and <= {TARGET_RATIO:.0f}x floor",
            verdict(redeploy <= TARGET_SECONDS and redeploy <= TARGET_RATIO * base),
        ),
        (
            "  the same, until the deployment finished (old container retired)",
            f"{statistics.median(totals):.2f} s",
            f"{statistics.median(totals) / base:.1f}x floor",
            f"<= {TARGET_SECONDS:.0f} s",
            verdict(statistics.median(totals) <= TARGET_SECONDS),
        ),
        (
            "  redeploys that reused the venv",
            f"{reused}/{args.runs}",
            "",
            f"{args.runs}/{args.runs}",
            verdict(reused == args.runs),
        ),
        (
            "bare pip install (venv + pip, no cache)",
            f"{bare:.2f} s",
            "1.0x",
            "",
            "" if code == 0 else "FAILED",
        ),
        (
            "first deploy, cold wheel cache -> served",
            f"{cold:.2f} s",
            f"{cold / bare:.1f}x bare pip",
            "",
            "",
        ),
        (
            "first deploy, warm wheel cache -> served",
            f"{warm:.2f} s",
            f"{warm / bare:.1f}x bare pip",
            "< cold",
            verdict(warm < cold),
        ),
        (
            "rollback (no build) -> old version served",
            f"{back:.2f} s",
            f"{back / base:.1f}x floor",
            f"<= {TARGET_RATIO:.0f}x floor",
            verdict(back <= TARGET_RATIO * base),
        ),
    ]
    widths = [
        max(len(r[i]) for r in [*rows, ("figure", "value", "ratio", "target", "")])
        for i in range(5)
    ]
    print()
    header = ("figure", "value", "ratio", "target", "")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(
        f"\n(benchmark took {time.monotonic() - bench_started:.0f} s; everything it made is removed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
