"""The cutover (apps.lifecycle.cutover.swap): traffic moves only when the
proxy confirms the new route. A proxy that refuses leaves the serving
container serving, removes the new one and fails the restart or deployment
with the proxy's reason (code proxy_refused). On a fake engine and a fake
proxy here; against the real engine in tests/test_operations_e2e.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.lifecycle import operations as lifecycle_ops
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps.models import Operation
from tests.operations_helpers import FakeEngine, serving_release

pytestmark = [pytest.mark.django_db]

REFUSAL = "nginx: [emerg] unexpected end of file in berth.conf"


@dataclass
class FakeProxy:
    """The routes nginx serves; `refuse` makes set_route raise as a failed
    config test does. `saved_anyway` mimics an external proxy service that
    saved the route but did not apply it in time."""

    served: dict[str, str] = field(default_factory=dict)
    refuse: bool = False
    saved_anyway: bool = False

    def install(self, monkeypatch) -> FakeProxy:
        monkeypatch.setattr(nginx, "routes", lambda: dict(self.served))
        monkeypatch.setattr(nginx, "set_route", self.set_route)
        monkeypatch.setattr(nginx, "remove_route", lambda name: self.served.pop(name, None))
        return self

    def set_route(self, name: str, upstream: str) -> None:
        if self.refuse:
            if self.saved_anyway:
                self.served[name] = upstream
                self.refuse = False  # putting the old route back is accepted
            raise ProxyError(REFUSAL)
        self.served[name] = upstream


@pytest.fixture(autouse=True)
def _data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = True
    settings.BERTH_START_TIME_LIMIT = 2


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    return FakeEngine().install(monkeypatch)


@pytest.fixture
def proxy(monkeypatch, webapp) -> FakeProxy:
    return FakeProxy(served={webapp.name: "127.0.0.1:40001"}).install(monkeypatch)


def test_a_confirmed_route_moves_traffic_and_retires_the_old_container(webapp, fake, proxy):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    outcome = lifecycle_ops.restart_app(webapp)
    assert outcome.ok, outcome.message
    new = fake.created[0]
    assert fake.containers == {new: "running"}
    assert proxy.served[webapp.name] != "127.0.0.1:40001"


def test_a_refused_route_fails_the_restart_and_the_old_container_keeps_serving(webapp, fake, proxy):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    proxy.refuse = True
    outcome = lifecycle_ops.restart_app(webapp)
    op = outcome.operation
    assert not outcome.ok
    assert op.status == Operation.Status.FAILED
    assert REFUSAL in op.message
    assert (op.failure_code, op.failure_evidence["reason"]) == ("proxy_refused", REFUSAL)
    assert [(s["name"], s["status"]) for s in op.steps] == [
        ("start", "done"),
        ("health", "done"),
        ("switch", "failed"),
        ("retire", "pending"),
    ]
    assert fake.containers == {d.container: "running"}  # the new one is gone
    assert proxy.served == {webapp.name: "127.0.0.1:40001"}
    d.refresh_from_db()
    assert d.active and d.container == f"berth-{webapp.name}-1" and d.host_port == 40001
    assert op.serving == d.container


def test_a_refused_route_fails_the_deployment_and_the_serving_release_stays_active(
    webapp, fake, proxy
):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    proxy.refuse = True
    failed = services.run_deployment(services.redeploy(d).pk)
    assert failed.status == Deployment.Status.FAILED
    assert REFUSAL in failed.status_text
    assert failed.failure_code == "proxy_refused"
    assert not failed.active
    assert fake.containers == {d.container: "running"}
    d.refresh_from_db()
    assert d.active and d.host_port == 40001
    assert proxy.served == {webapp.name: "127.0.0.1:40001"}


def test_a_route_saved_but_not_applied_is_put_back_to_the_serving_container(webapp, fake, proxy):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    proxy.refuse = proxy.saved_anyway = True
    outcome = lifecycle_ops.restart_app(webapp)
    assert not outcome.ok
    assert proxy.served == {webapp.name: "127.0.0.1:40001"}
    assert fake.containers == {d.container: "running"}
