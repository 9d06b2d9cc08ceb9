"""Each app's own network: who may reach an app's container.

An app container sits alone (with its next release during a swap, and later
the services connected to the app) on a user-defined bridge made for the app:

- other apps cannot reach it: Docker isolates user-defined bridges from each
  other (its DOCKER-ISOLATION chains drop forwarding between them), and
  container names resolve only inside their own network;
- its port 8000 is published on the host's 127.0.0.1 only, where the front
  proxy and the health checks reach it; a container knocking at its gateway
  address on that port finds nothing (the port is not bound there);
- the host itself is closed to it: packets coming in on a Berth bridge (all
  named berth<hash>, so one iptables rule matches them by prefix) may only
  be replies or go to the front proxy's ports (engine.guard_host). Without
  that rule every host listener on 0.0.0.0 answers apps at the gateway;
- the way out (the internet, the package index) is Docker's usual NAT.

Why not the alternatives: an `internal` network has no way out at all (apps
must reach the internet), and still leaves the host's INPUT chain open;
com.docker.network.bridge.enable_icc=false would also cut the app off from
the services attached to its network (databases), which must reach it;
Docker 28's com.docker.network.bridge.gateway_mode_ipv4 doesn't exist on
older engines (Debian 12's docker.io is 20.10), and its one mode that takes
the host's address off the bridge ("isolated") is for internal networks.

Containers made by an older Berth sit on the shared network "berth";
apps.lifecycle.reconcile moves a running app to its own network with a
zero-downtime restart.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from apps.engine import client as engine
from apps.engine.errors import EngineError, ImageMissing
from apps.engine.runtimes import image_tag

# Where every app container was before each app had a network of its own.
SHARED_NETWORK = "berth"
# Bridge interfaces are at most 15 characters: "berth" and 10 hex digits.
BRIDGE_PREFIX = "berth"
APP_LABEL = "io.berth.app"
ROLE = "app-network"
# Containers of the database services, attached to the networks of the apps
# connected to them (apps.engine.dataservices).
SERVICE_CONTAINERS = ("berth-postgres", "berth-redis-")


def network_name(app_name: str) -> str:
    return f"berth-app-{app_name}"


def bridge_name(app_name: str) -> str:
    """The host's interface for the app's bridge: named from the app, so the
    host rule (`-i berth+`) matches it before it exists."""
    digest = hashlib.sha256(app_name.encode()).hexdigest()[:10]
    return f"{BRIDGE_PREFIX}{digest}"


def ensure(app_name: str, python_version: str) -> str:
    """The app's network, made when missing, with the host closed to it;
    returns its name."""
    name = network_name(app_name)
    if settings.BERTH_APP_HOST_GUARD:
        try:
            _guard_host(python_version)
        except EngineError as e:
            # Fail closed: without the rule the app reaches every host listener.
            raise EngineError(
                f"{e.message} Fix it, or set BERTH_APP_HOST_GUARD=false to start apps "
                "with the host's listeners open to them."
            ) from e
    try:
        engine.ensure_network(
            name,
            labels={APP_LABEL: app_name, "io.berth.role": ROLE},
            options={"com.docker.network.bridge.name": bridge_name(app_name)},
            subnet_pool=settings.BERTH_APP_SUBNET_POOL,
        )
    except EngineError as e:
        if "address pool" not in e.message:
            raise
        # Docker's default pools give each bridge a /16 or /20: about 30 in all.
        raise EngineError(
            f"{e.message} Set BERTH_APP_SUBNET_POOL to a range the host's networks "
            "don't use (e.g. 10.123.0.0/16: a /27 for each app)."
        ) from e
    return name


def _guard_host(python_version: str) -> None:
    """The host rule, run from a runtime image: Berth made it, nothing in it
    came from an app. Never from a release image: an app's build could put
    its own `chroot` or `sh` there, to run as root in the host's network
    namespace with the host's files in view. The app's own Python version
    first, else any runtime image here."""
    try:
        engine.guard_host(image_tag(python_version), BRIDGE_PREFIX, _front_proxy_ports())
        return
    except ImageMissing:
        others = engine.find_images(repository=settings.BERTH_RUNTIME_IMAGE_PREFIX)
        if not others:
            raise
    engine.guard_host(others[0], BRIDGE_PREFIX, _front_proxy_ports())


def _front_proxy_ports() -> list[int]:
    # An app may call another app (or itself) by its public name through the
    # front proxy, as from anywhere else: the proxy applies HTTPS Only and
    # X-Forwarded-For. When the proxy listens on 127.0.0.1 only, these
    # ports answer nobody at the gateway anyway.
    return [int(settings.BERTH_PROXY_HTTP_PORT), int(settings.BERTH_PROXY_HTTPS_PORT)]


def misplaced(app_name: str, container: str) -> bool:
    """Is the container attached to a network other than its app's own (the
    shared one of an older Berth)? False when it is gone."""
    networks = engine.container_networks(container)
    return bool(networks) and networks != [network_name(app_name)]


def remove(app_name: str) -> list[str]:
    """Remove the app's networks (its containers must be gone); their names."""
    names = engine.find_networks({APP_LABEL: app_name, "io.berth.role": ROLE})
    for name in names:
        # Database services (apps.databases) are shared and outlive the app.
        engine.remove_network(name, detach=SERVICE_CONTAINERS)
    return names
