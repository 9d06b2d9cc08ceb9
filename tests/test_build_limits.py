"""Builds can't hurt running apps: CPU, memory and time limits, a queue of
at most BERTH_MAX_CONCURRENT_BUILDS builds at once (across processes), and a
worker that dies mid-build leaves the deployment failed at the next start."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from apps.deployments import buildenv, buildqueue, buildrun
from apps.deployments.models import Deployment
from apps.lifecycle import locks, reconcile
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed

pytestmark = [pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_MAX_CONCURRENT_BUILDS = 1
    settings.BERTH_PROXY_ROUTING = False


HOLD_SLOT = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


def _hold(path) -> subprocess.Popen:
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_it_waits_for_a_slot_held_by_another_process_and_says_how_many_are_ahead(tmp_path):
    holder = _hold(tmp_path / "locks" / "build-slot-0.lock")
    seen: list[int] = []
    got = threading.Event()

    def build() -> None:
        with buildqueue.build_slot("app-b-2", on_wait=seen.append, timeout=30):
            got.set()

    try:
        waiter = threading.Thread(target=build)
        waiter.start()
        time.sleep(1.2)
        assert seen == [0] and not got.is_set()
        assert buildqueue.running() == 1 and buildqueue.waiting() == 1
    finally:
        holder.send_signal(signal.SIGKILL)  # a builder that dies frees its slot
        holder.wait()
    waiter.join(10)
    assert got.is_set()
    assert buildqueue.waiting() == 0


def test_the_second_waiter_sees_one_ahead(tmp_path):
    holder = _hold(tmp_path / "locks" / "build-slot-0.lock")
    first: list[int] = []
    second: list[int] = []
    try:

        def wait(name: str, seen: list[int]) -> None:
            with buildqueue.build_slot(name, on_wait=seen.append, timeout=30):
                time.sleep(1.5)

        t1 = threading.Thread(target=wait, args=("a", first))
        t1.start()
        time.sleep(0.3)
        t2 = threading.Thread(target=wait, args=("b", second))
        t2.start()
        time.sleep(1.2)
        assert first == [0] and second == [1]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    t1.join(10)
    t2.join(10)
    assert second[-1] == 0  # moved up once the first got the slot


def test_it_allows_as_many_builds_as_configured(settings):
    settings.BERTH_MAX_CONCURRENT_BUILDS = 2
    with buildqueue.build_slot("a", timeout=0), buildqueue.build_slot("b", timeout=0):
        assert buildqueue.running() == 2
        too_many = pytest.raises(buildqueue.QueueTimeout, match="BERTH_MAX_CONCURRENT_BUILDS=2")
        with too_many, buildqueue.build_slot("c", timeout=0.6):
            pass


def test_a_queued_build_shows_its_place_in_the_status_and_log(webapp, tmp_path, settings):
    settings.BERTH_BUILD_QUEUE_WAIT = 1
    d = Deployment.objects.create(app=webapp, status=Deployment.Status.BUILDING)
    log = DeploymentLog(d)
    holder = _hold(tmp_path / "locks" / "build-slot-0.lock")
    statuses: list[str] = []
    try:
        with (
            pytest.raises(DeployFailed, match="No build slot came free"),
            buildrun._build_slot(d, log),
        ):
            pass
        statuses.append(Deployment.objects.get(pk=d.pk).status_text)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    d.refresh_from_db()
    assert "Queued: waiting for a build slot (0 ahead)" in d.log
    assert statuses == ["Queued: waiting for a build slot (0 ahead)"]


def test_the_build_container_gets_cpu_memory_and_time_limits(webapp, monkeypatch, settings):
    settings.BERTH_BUILD_CPUS = 0.5
    settings.BERTH_BUILD_MEMORY = "300m"
    made: dict = {}

    def create(image, command, **kwargs):
        made.update(kwargs)
        raise DeployFailed("stop here")

    monkeypatch.setattr(buildrun.engine, "create_container", create)
    d = Deployment.objects.create(app=webapp, status=Deployment.Status.BUILDING)
    with pytest.raises(DeployFailed):
        buildrun._build_in_container(
            d, None, None, DeploymentLog(d), "n", "img", "true", {}, {}, {}, None, False
        )
    assert made["nano_cpus"] == 500_000_000
    assert made["mem_limit"] == "300m"
    assert made["security_opt"] == ["no-new-privileges"]
    # Unprivileged, and no app setting in the container's config (docker
    # commit would keep it in the release image).
    assert made["user"] == "1000:1000" and made["cap_drop"] == ["ALL"]
    assert made["environment"] == {}


def test_it_warns_when_the_build_user_cannot_read_the_ca_bundle(settings, tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings.BERTH_BUILD_CA_BUNDLE = str(bundle)
    bundle.chmod(0o600)
    assert "is not readable by other users" in buildenv.ca_bundle_warning()
    bundle.chmod(0o644)
    assert buildenv.ca_bundle_warning() == ""


def test_a_worker_killed_mid_build_leaves_the_deployment_failed_at_the_next_start(
    webapp, tmp_path, monkeypatch
):
    """A real process holds the app's lock (as the worker does while it
    builds) and is killed: reconcile, as run at worker start, fails it."""
    monkeypatch.setattr(reconcile.engine, "remove_container", lambda name: None)
    monkeypatch.setattr(reconcile.engine, "find_containers", lambda labels: [])
    old = Deployment.objects.create(
        app=webapp, status=Deployment.Status.SUCCESS, image="x:1", active=True, container="c1"
    )
    d = Deployment.objects.create(app=webapp, status=Deployment.Status.BUILDING)
    monkeypatch.setattr(reconcile, "_container_status", lambda name: "running")
    monkeypatch.setattr(reconcile.engine, "published_port", lambda c, p: None)
    worker = _hold(locks.lock_path(webapp.name))
    try:
        reconcile.reconcile(webapp)
        d.refresh_from_db()
        assert d.status == Deployment.Status.BUILDING  # its worker still owns it
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    reconcile.reconcile(webapp)
    d.refresh_from_db()
    old.refresh_from_db()
    assert d.status == Deployment.Status.FAILED
    assert "worker stopped during the build" in d.status_text
    assert old.active  # the old release still serves
