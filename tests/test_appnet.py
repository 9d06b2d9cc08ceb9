"""apps.lifecycle.appnet without the engine: names, and which image the
host rule runs from (tests/test_security_network.py does it for real)."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.engine import client as engine
from apps.engine.errors import EngineError, ImageMissing
from apps.lifecycle import appnet


@pytest.fixture
def fake_engine(settings):
    settings.BERTH_RUNTIME_IMAGE_PREFIX = "berth/python"
    settings.BERTH_APP_HOST_GUARD = True
    with (
        mock.patch.object(engine, "guard_host", autospec=True) as guard,
        mock.patch.object(engine, "ensure_network", autospec=True) as network,
        mock.patch.object(engine, "find_images", autospec=True) as images,
    ):
        yield guard, network, images


def test_the_bridge_name_fits_an_interface_name_and_matches_the_host_rule():
    for name in ("a", "shop", "x" * 60):
        bridge = appnet.bridge_name(name)
        assert len(bridge) <= 15 and bridge.startswith(appnet.BRIDGE_PREFIX)
    assert appnet.bridge_name("shop") == appnet.bridge_name("shop")
    assert appnet.bridge_name("shop") != appnet.bridge_name("shop2")


def test_it_runs_the_host_rule_from_the_apps_runtime_image(fake_engine, settings):
    guard, network, _ = fake_engine
    assert appnet.ensure("shop", "3.12") == "berth-app-shop"
    guard.assert_called_once_with(
        "berth/python:3.12",
        "berth",
        [settings.BERTH_PROXY_HTTP_PORT, settings.BERTH_PROXY_HTTPS_PORT],
    )
    network.assert_called_once_with(
        "berth-app-shop",
        labels={"io.berth.app": "shop", "io.berth.role": "app-network"},
        options={"com.docker.network.bridge.name": appnet.bridge_name("shop")},
        subnet_pool=settings.BERTH_APP_SUBNET_POOL,
    )


def test_it_falls_back_to_another_runtime_image_never_a_release(fake_engine):
    guard, _, images = fake_engine
    guard.side_effect = [ImageMissing("no berth/python:3.12"), None]
    images.return_value = ["sha256:runtime311"]
    appnet.ensure("shop", "3.12")
    images.assert_called_once_with(repository="berth/python")
    assert [c.args[0] for c in guard.call_args_list] == ["berth/python:3.12", "sha256:runtime311"]


def test_it_refuses_to_start_an_app_when_the_host_rule_fails(fake_engine):
    guard, network, _ = fake_engine
    guard.side_effect = EngineError("iptables: not found")
    with pytest.raises(EngineError, match="BERTH_APP_HOST_GUARD=false"):
        appnet.ensure("shop", "3.12")
    network.assert_not_called()


def test_without_the_guard_it_only_makes_the_network(fake_engine, settings):
    guard, network, _ = fake_engine
    settings.BERTH_APP_HOST_GUARD = False
    appnet.ensure("shop", "3.12")
    guard.assert_not_called()
    network.assert_called_once()
