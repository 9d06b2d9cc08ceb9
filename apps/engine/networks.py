"""App networks and volumes: one bridge per app (a subnet from a pool when
set), named volumes, what a container is attached to.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from apps.engine import containers, docker_api
from apps.engine.errors import EngineError

# One bridge per app (apps.lifecycle.appnet).


def ensure_network(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    subnet_pool: str = "",
    prefix: int = 27,
) -> None:
    """A user-defined bridge network, created when missing. `options` are the
    bridge driver's (com.docker.network.bridge.*). With `subnet_pool` (a CIDR)
    its subnet is the first /`prefix` of the pool no other network uses:
    Docker's own default pools hold only about 30 bridges, one per app would
    run out; and two workers creating networks at once meet Docker's "overlaps"
    refusal, so a few tries are made."""
    with docker_api.translated(f"Creating network {name}"):
        for attempt in range(5):
            if _network_exists(name):
                return
            kwargs: dict[str, Any] = {
                "driver": "bridge",
                "labels": {docker_api.LABEL: "true", **(labels or {})},
                "options": options or {},
            }
            if subnet_pool:
                subnet = _free_subnet(subnet_pool, prefix)
                pool = docker_api.IPAMPool(subnet=subnet)
                kwargs["ipam"] = docker_api.IPAMConfig(pool_configs=[pool])
            try:
                docker_api.client().networks.create(name, **kwargs)
                return
            except docker_api.APIError as e:
                if attempt == 4 or not (_network_exists(name) or "overlap" in str(e).lower()):
                    raise


def _network_exists(name: str) -> bool:
    # networks.list(names=...) matches by prefix too ("berth" finds "berth-x").
    return any(n.get("Name") == name for n in docker_api.client().api.networks(names=[name]))


def _free_subnet(pool: str, prefix: int) -> str:
    """The first /prefix of `pool` overlapping no existing network's subnet."""
    taken = []
    for network in docker_api.client().api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError):
                taken.append(ipaddress.ip_network(config["Subnet"], strict=False))
    for candidate in ipaddress.ip_network(pool, strict=False).subnets(new_prefix=prefix):
        if not any(candidate.overlaps(used) for used in taken):
            return str(candidate)
    raise EngineError(
        f"No free /{prefix} subnet is left in {pool} for another app network: "
        "widen BERTH_APP_SUBNET_POOL."
    )


def find_networks(labels: dict[str, str]) -> list[str]:
    """Names of the networks carrying all these labels."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    with docker_api.translated("Listing networks"):
        return sorted(n["Name"] for n in docker_api.client().api.networks(filters=filters))


def remove_network(name: str, *, detach: tuple[str, ...] = ()) -> None:
    """Remove a network; a missing one is fine. Containers still attached
    make the engine refuse (EngineError), except those whose name starts
    with one of `detach` (shared services attached to it): they are detached."""
    with (
        docker_api.translated(f"Removing network {name}"),
        contextlib.suppress(docker_api.NotFound),
    ):
        if detach:
            attached = docker_api.client().api.inspect_network(name).get("Containers") or {}
            for info in attached.values():
                if str(info.get("Name", "")).startswith(detach):
                    docker_api.client().api.disconnect_container_from_network(
                        info["Name"], name, force=True
                    )
        docker_api.client().api.remove_network(name)


def container_networks(name: str) -> list[str]:
    """The networks a container is attached to; [] when it is gone."""
    attrs = containers.inspect_container(name) or {}
    return sorted(((attrs.get("NetworkSettings") or {}).get("Networks") or {}).keys())


def ensure_volume(
    name: str, labels: dict[str, str] | None = None, *, owner: str = "", image: str = ""
) -> bool:
    """Create a volume unless it is there; True when it was made now. A new
    volume's root belongs to root: `owner` ("uid:gid") gets it instead,
    through a throwaway container from `image` that may only chown."""
    with docker_api.translated(f"Creating volume {name}"):
        try:
            docker_api.client().volumes.get(name)
            return False
        except docker_api.NotFound:
            docker_api.client().volumes.create(
                name, labels={docker_api.LABEL: "true", **(labels or {})}
            )
    if owner:
        code, output = containers.run_once(
            image,
            ["chown", owner, "/volume"],
            timeout=60,
            user="0",
            network_disabled=True,
            cap_drop=["ALL"],
            cap_add=["CHOWN"],
            security_opt=["no-new-privileges"],
            mounts=[docker_api.Mount(target="/volume", source=name, type="volume")],
        )
        if code != 0:
            remove_volume(name)
            raise EngineError(f"Giving volume {name} to {owner} failed: {output.strip()[-300:]}")
    return True


def remove_volume(name: str) -> None:
    """Remove a volume; a missing one is fine."""
    with docker_api.translated(f"Removing volume {name}"), contextlib.suppress(docker_api.NotFound):
        docker_api.client().volumes.get(name).remove(force=True)


def find_volumes(labels: dict[str, str]) -> list[str]:
    """Names of the volumes carrying all these labels."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    with docker_api.translated("Listing volumes"):
        answer = docker_api.client().api.volumes(filters=filters)
    return sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])
