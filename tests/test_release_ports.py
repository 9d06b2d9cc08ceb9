"""start_container tries another host port when Docker says the one it
probed was taken meanwhile, and only then (apps.engine.errors.PortTaken)."""

import pytest

from apps.engine import docker_api
from apps.engine.errors import EngineError, PortTaken
from apps.lifecycle import containers, release


class FakeEngine:
    def __init__(self, failures):
        self.failures = list(failures)
        self.created: list[int] = []
        self.removed: list[str] = []

    def create_container(self, image, command, *, host_port, name, **options):
        self.created.append(host_port)
        return name

    def start_container(self, container):
        if self.failures:
            raise self.failures.pop(0)

    def remove_container(self, name):
        self.removed.append(name)


def _start(monkeypatch, failures):
    fake = FakeEngine(failures)
    monkeypatch.setattr(release, "engine", fake)
    name = release.start_container(
        "berth/python:3.11",
        ["true"],
        name="app-1",
        env={},
        labels={},
        limits=containers.Limits(memory_mb=128, cpus=0.5, pids=64),
        guard=containers.Hardening(containers.RUN_AS, ()),
        network="none",
        app_port=8000,
    )
    return name, fake


def test_a_taken_port_is_tried_again_on_another(monkeypatch):
    name, fake = _start(monkeypatch, [PortTaken("port is already allocated")])
    assert name == "app-1"
    assert len(fake.created) == 2
    assert fake.removed == ["app-1"]


def test_the_third_taken_port_is_the_callers(monkeypatch):
    with pytest.raises(PortTaken):
        _start(monkeypatch, [PortTaken("a"), PortTaken("b"), PortTaken("c")])


def test_other_engine_errors_are_not_retried(monkeypatch):
    with pytest.raises(EngineError) as raised:
        _start(monkeypatch, [EngineError("no such image")])
    assert not isinstance(raised.value, PortTaken)
    assert len(release.engine.created) == 1
    assert release.engine.removed == []


def test_the_engine_edge_names_a_taken_port():
    """Docker says it only in English: the edge turns it into PortTaken."""
    said = "Bind for 127.0.0.1:4000 failed: port is already allocated"
    with pytest.raises(PortTaken), docker_api.translated("Starting container x"):
        raise docker_api.APIError("500", explanation=said)
