"""The one module that imports `docker`. Everything else in Berth calls the
typed functions here and catches apps.engine.errors.*."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from django.conf import settings

from apps.engine.errors import ContainerMissing, EngineError, EngineUnavailable, ImageMissing

# Every object Berth creates carries this label, so it can find (and clean up)
# its own containers, images and networks without touching anyone else's.
LABEL = "io.berth.managed"


def _where() -> str:
    return settings.BERTH_DOCKER_HOST or "unix:///var/run/docker.sock"


@functools.cache
def _client() -> docker.DockerClient:
    try:
        if settings.BERTH_DOCKER_HOST:
            return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=120)
        return docker.from_env(timeout=120)
    except docker.errors.DockerException as e:
        raise EngineUnavailable(
            f"The Docker engine is not reachable at {_where()}: {e}. "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn docker SDK and connection errors into Berth's engine errors."""
    try:
        yield
    except docker.errors.ImageNotFound as e:
        raise ImageMissing(f"{what}: image not found ({e.explanation or e})") from e
    except docker.errors.NotFound as e:
        raise ContainerMissing(f"{what}: not found ({e.explanation or e})") from e
    except docker.errors.APIError as e:
        raise EngineError(f"{what}: the Docker engine said: {e.explanation or e}") from e
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
        _client.cache_clear()
        raise EngineUnavailable(
            f"{what}: the Docker engine is not reachable at {_where()} ({e}). "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


def client() -> docker.DockerClient:
    return _client()


@dataclass(frozen=True)
class EngineStatus:
    reachable: bool
    message: str
    version: str = ""
    storage_driver: str = ""
    containers_running: int = 0
    images: int = 0


def engine_status() -> EngineStatus:
    """Engine health, for the Overview and the health endpoint. Never raises."""
    try:
        with translated("Checking the Docker engine"):
            info = client().info()
            version = client().version().get("Version", "")
    except EngineError as e:
        return EngineStatus(reachable=False, message=e.message)
    return EngineStatus(
        reachable=True,
        message=f"Docker {version} is up",
        version=version,
        storage_driver=info.get("Driver", ""),
        containers_running=info.get("ContainersRunning", 0),
        images=info.get("Images", 0),
    )


# Images


def _inspect_image(tag: str, what: str) -> dict | None:
    """`docker image inspect`; None when there is no such image."""
    with translated(what):
        try:
            return client().api.inspect_image(tag)
        except docker.errors.ImageNotFound:
            return None


def _inspect_container(name: str) -> dict | None:
    """`docker inspect`; None when there is no such container."""
    with translated(f"Inspecting container {name}"):
        try:
            return client().api.inspect_container(name)
        except docker.errors.NotFound:
            return None


def image_exists(tag: str) -> bool:
    return _inspect_image(tag, f"Looking up image {tag}") is not None


def image_labels(tag: str) -> dict[str, str]:
    with translated(f"Inspecting image {tag}"):
        return client().images.get(tag).labels or {}


def import_image(tarball: Any, tag: str, changes: list[str]) -> str:
    """`docker import` a root file system tarball (a file object or path)."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:  # no tag, or a registry port: "host:5000/name"
        repository, version = tag, "latest"
    with translated(f"Importing image {tag}"):
        # The SDK's import lives on the low-level API (ImageCollection has none).
        answer = client().api.import_image(
            src=tarball, repository=repository, tag=version, changes=changes
        )
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return json.loads(answer).get("status", "") or tag
    return tag


def pull_image(reference: str) -> None:
    with translated(f"Pulling {reference}"):
        client().images.pull(reference)


def build_image(
    context_dir: str, tag: str, buildargs: dict[str, str] | None = None
) -> Iterator[str]:
    """`docker build` a folder holding a Dockerfile; yields the build's output lines."""
    with translated(f"Building image {tag}"):
        stream = client().api.build(
            path=context_dir,
            tag=tag,
            buildargs=buildargs or {},
            rm=True,
            decode=True,
            labels={LABEL: "true"},
        )
        for chunk in stream:
            if "error" in chunk:
                raise EngineError(f"Building image {tag} failed: {chunk['error'].strip()}")
            if text := chunk.get("stream", "").rstrip():
                yield text


def remove_image(tag: str) -> None:
    with translated(f"Removing image {tag}"), contextlib.suppress(docker.errors.ImageNotFound):
        client().images.remove(tag, force=True)


# Containers


def run_once(image: str, command: list[str], timeout: int = 120, **kwargs: Any) -> tuple[int, str]:
    """Run a command in a throwaway container; return (exit code, output)."""
    with translated(f"Running {command[0]} in {image}"):
        container = client().containers.create(image, command, labels={LABEL: "true"}, **kwargs)
        try:
            container.start()
            result = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            return int(result.get("StatusCode", -1)), output
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


# Container inspection, for "Diagnose and solve problems" (apps.diagnostics).


@dataclass(frozen=True)
class ContainerState:
    name: str
    status: str  # created | running | restarting | exited | dead | paused
    exit_code: int | None
    oom_killed: bool
    restart_count: int
    started_at: str  # RFC 3339 as the engine gives it; "" when never
    finished_at: str
    error: str
    created: str
    labels: dict[str, str]


def find_containers(labels: dict[str, str]) -> list[str]:
    """Names of the containers (running or not) carrying all these labels, newest first."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    with translated("Listing containers"):
        found = client().api.containers(all=True, filters=filters)
    found.sort(key=lambda c: c.get("Created", 0), reverse=True)
    return [c["Names"][0].lstrip("/") for c in found if c.get("Names")]


def container_state(name: str) -> ContainerState:
    """`docker inspect`'s State: exit code, OOM kill, restart count."""
    with translated(f"Inspecting container {name}"):
        attrs = client().api.inspect_container(name)
    state = attrs.get("State", {})

    def when(value: str | None) -> str:
        # The engine says 0001-01-01T00:00:00Z for "never".
        return "" if not value or value.startswith("0001-") else value

    return ContainerState(
        name=attrs.get("Name", name).lstrip("/"),
        status=state.get("Status", ""),
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(attrs.get("RestartCount") or 0),
        started_at=when(state.get("StartedAt")),
        finished_at=when(state.get("FinishedAt")),
        error=state.get("Error", "") or "",
        created=when(attrs.get("Created")),
        labels=(attrs.get("Config") or {}).get("Labels") or {},
    )


def container_logs(name: str, tail: int = 500, timestamps: bool = True) -> list[str]:
    """The last `tail` lines of stdout and stderr; with timestamps, each line
    starts with the engine's RFC 3339 time and a space."""
    with translated(f"Reading the logs of container {name}"):
        raw = client().api.logs(name, stdout=True, stderr=True, tail=tail, timestamps=timestamps)
    return raw.decode("utf-8", "replace").splitlines()


def registry_has(reference: str, timeout: int = 10) -> bool:
    """Does a registry answer for `reference`? Asks for its manifest, pulls nothing."""
    try:
        with contextlib.closing(_short_client(timeout)) as short:
            short.api.inspect_distribution(reference)
    except (requests.exceptions.RequestException, docker.errors.DockerException):
        return False
    return True


def _short_client(timeout: int) -> docker.DockerClient:
    if settings.BERTH_DOCKER_HOST:
        return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=timeout)
    return docker.from_env(timeout=timeout)


def image_size(tag: str) -> int:
    """An image's size in bytes, as `docker images` shows it."""
    with translated(f"Inspecting image {tag}"):
        return int(client().images.get(tag).attrs.get("Size", 0))


# Build containers, releases and app containers (apps.deployments).


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
    with translated(f"Creating network {name}"):
        for attempt in range(5):
            if _network_exists(name):
                return
            kwargs: dict[str, Any] = {
                "driver": "bridge",
                "labels": {LABEL: "true", **(labels or {})},
                "options": options or {},
            }
            if subnet_pool:
                subnet = _free_subnet(subnet_pool, prefix)
                pool = docker.types.IPAMPool(subnet=subnet)
                kwargs["ipam"] = docker.types.IPAMConfig(pool_configs=[pool])
            try:
                client().networks.create(name, **kwargs)
                return
            except docker.errors.APIError as e:
                if attempt == 4 or not (_network_exists(name) or "overlap" in str(e).lower()):
                    raise


def _network_exists(name: str) -> bool:
    # networks.list(names=...) matches by prefix too ("berth" finds "berth-x").
    return any(n.get("Name") == name for n in client().api.networks(names=[name]))


def _free_subnet(pool: str, prefix: int) -> str:
    """The first /prefix of `pool` overlapping no existing network's subnet."""
    taken = []
    for network in client().api.networks():
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
    with translated("Listing networks"):
        return sorted(n["Name"] for n in client().api.networks(filters=filters))


def remove_network(name: str) -> None:
    """Remove a network; a missing one is fine. Containers still attached
    make the engine refuse (EngineError)."""
    with translated(f"Removing network {name}"), contextlib.suppress(docker.errors.NotFound):
        client().api.remove_network(name)


def container_networks(name: str) -> list[str]:
    """The networks a container is attached to; [] when it is gone."""
    attrs = _inspect_container(name) or {}
    return sorted(((attrs.get("NetworkSettings") or {}).get("Networks") or {}).keys())


# The host's INPUT chain, which Docker leaves open: a container reaches every
# host listener bound to 0.0.0.0 through its bridge's gateway address. One
# chain, jumped to for packets coming in on Berth's bridges, lets replies
# (the proxy's and health checks' connections to the app) and the front
# proxy's ports through and refuses the rest. iptables-restore --noflush
# rewrites just that chain, in one step (never open half-way, no rule left
# from an older port); the jump is added only when missing.
GUARD_CHAIN = "BERTH-APPS"
GUARD_SCRIPT = """set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
iptables-restore -w --noflush <<'RULES'
*filter
:{chain} - [0:0]
-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
{allow}
-A {chain} -p tcp -j REJECT --reject-with tcp-reset
-A {chain} -j DROP
COMMIT
RULES
iptables -w -C INPUT -i {interfaces}+ -j {chain} 2>/dev/null \\
  || iptables -w -I INPUT -i {interfaces}+ -j {chain}
"""


def guard_host(image: str, interfaces: str, allow_tcp_ports: list[int]) -> None:
    """Refuse new connections from bridges named `interfaces`* to the host
    itself, but for `allow_tcp_ports`. Runs the host's own iptables (the one
    dockerd uses) from a throwaway container in the host's network namespace
    with the host's root mounted read-only and chrooted into, so it works the
    same when Berth runs on the host (`make run`) and when it drives the
    engine from a container through the socket (compose). Needs an engine
    that can grant NET_ADMIN (not rootless) and iptables on the host."""
    allow = "\n".join(
        f"-A {GUARD_CHAIN} -p tcp --dport {int(port)} -j RETURN"
        for port in sorted(set(allow_tcp_ports))
    )
    script = GUARD_SCRIPT.format(chain=GUARD_CHAIN, interfaces=interfaces, allow=allow)
    code, output = _on_host(image, script)
    if code != 0:
        raise EngineError(
            f"Closing the host to app containers failed (exit code {code}): {output.strip()[-500:]}"
        )


def host_rules(image: str) -> list[str]:
    """The host's INPUT chain and Berth's own, as `iptables -S` prints them."""
    code, output = _on_host(image, f"iptables -w -S INPUT; iptables -w -S {GUARD_CHAIN} || true")
    if code != 0:
        raise EngineError(f"Reading the host's iptables rules failed: {output.strip()[-500:]}")
    return output.splitlines()


def _on_host(image: str, script: str) -> tuple[int, str]:
    """Run a shell script in the host's network namespace and root file
    system (read-only), as root with only the capabilities iptables needs."""
    return run_once(
        image,
        ["chroot", "/host", "sh", "-c", script],
        timeout=60,
        user="0",  # chroot and iptables need root, whatever user the image names
        network_mode="host",
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN", "NET_RAW", "SYS_CHROOT"],
        mounts=[docker.types.Mount(target="/host", source="/", type="bind", read_only=True)],
    )


def ensure_volume(
    name: str, labels: dict[str, str] | None = None, *, owner: str = "", image: str = ""
) -> bool:
    """Create a volume unless it is there; True when it was made now. A new
    volume's root belongs to root: `owner` ("uid:gid") gets it instead,
    through a throwaway container from `image` that may only chown."""
    with translated(f"Creating volume {name}"):
        try:
            client().volumes.get(name)
            return False
        except docker.errors.NotFound:
            client().volumes.create(name, labels={LABEL: "true", **(labels or {})})
    if owner:
        code, output = run_once(
            image,
            ["chown", owner, "/volume"],
            timeout=60,
            user="0",
            network_disabled=True,
            cap_drop=["ALL"],
            cap_add=["CHOWN"],
            security_opt=["no-new-privileges"],
            mounts=[docker.types.Mount(target="/volume", source=name, type="volume")],
        )
        if code != 0:
            remove_volume(name)
            raise EngineError(f"Giving volume {name} to {owner} failed: {output.strip()[-300:]}")
    return True


def create_container(
    image: str,
    command: list[str],
    *,
    name: str,
    environment: dict[str, str],
    labels: dict[str, str],
    mem_limit: str = "",
    nano_cpus: int = 0,
    network: str = "",
    publish_port: int | None = None,
    host_port: int | None = None,
    restart: bool = False,
    mounts: dict[str, tuple[str, str]] | None = None,
    cap_drop: list[str] | None = None,
    cap_add: list[str] | None = None,
    security_opt: list[str] | None = None,
    pids_limit: int = 0,
    user: str = "",
) -> str:
    """Create (not start) a container; returns its id. `publish_port` is
    published on 127.0.0.1 only, on `host_port` or else a random host port
    (which Docker changes when it restarts the container). `mounts` maps a host
    path or volume name to (container path, "ro"|"rw")."""
    kwargs: dict[str, Any] = {
        "name": name,
        "environment": environment,
        "labels": {LABEL: "true", **labels},
        "detach": True,
    }
    # Only the options given: an unset one keeps Docker's default. The
    # hardening ones (apps.lifecycle.containers.hardening: never privileged, no
    # engine socket mounted) narrow what the process may do.
    optional = {
        "mem_limit": mem_limit,
        "nano_cpus": nano_cpus,
        "network": network,
        "cap_drop": cap_drop,
        "cap_add": cap_add,
        "security_opt": security_opt,
        "pids_limit": pids_limit,
        "user": user,
    }
    kwargs.update({key: value for key, value in optional.items() if value})
    if publish_port:
        kwargs["ports"] = {f"{publish_port}/tcp": ("127.0.0.1", host_port)}
    if restart:
        kwargs["restart_policy"] = {"Name": "unless-stopped"}
    if mounts:
        # HostConfig mounts, not `volumes=`: the SDK also writes those into
        # Config.Volumes, which `docker commit` would carry into an image.
        kwargs["mounts"] = [
            docker.types.Mount(
                target=dst,
                source=src,
                type="bind" if src.startswith("/") else "volume",
                read_only=mode == "ro",
            )
            for src, (dst, mode) in mounts.items()
        ]
    with translated(f"Creating container {name}"):
        return client().containers.create(image, command, **kwargs).id


def put_archive(container: str, path: str, data: Any) -> None:
    """Copy a tar stream (bytes or a file object) into a container at `path`."""
    with translated(f"Copying files into {container}"):
        if not client().api.put_archive(container, path, data):
            raise EngineError(f"Copying files into {container} failed")


def start_container(container: str) -> None:
    with translated(f"Starting container {container}"):
        client().api.start(container)


def follow_logs(container: str) -> Iterator[bytes]:
    """stdout and stderr as they come, until the container stops."""
    with translated(f"Reading the logs of container {container}"):
        yield from client().api.logs(container, stdout=True, stderr=True, stream=True, follow=True)


def wait_container(container: str, timeout: float | None = None) -> int:
    """Wait for a container to stop; its exit code."""
    with translated(f"Waiting for container {container}"):
        result = client().api.wait(container, timeout=timeout)
    return int(result.get("StatusCode", -1))


def kill_container(container: str) -> None:
    with translated(f"Stopping container {container}"), contextlib.suppress(docker.errors.APIError):
        client().api.kill(container)


def stop_container(container: str, timeout: int = 10) -> None:
    with translated(f"Stopping container {container}"), contextlib.suppress(docker.errors.NotFound):
        client().api.stop(container, timeout=timeout)


def remove_container(container: str) -> None:
    """Force-remove a container; a missing one is fine."""
    with translated(f"Removing container {container}"), contextlib.suppress(docker.errors.NotFound):
        client().api.remove_container(container, force=True)


def commit_container(container: str, tag: str, changes: list[str], labels: dict[str, str]) -> str:
    """`docker commit` with Dockerfile-style changes; returns the image id."""
    repository, _, version = tag.rpartition(":")
    changes = [
        *changes,
        *(f"LABEL {k}={json.dumps(v)}" for k, v in {LABEL: "true", **labels}.items()),
    ]
    with translated(f"Saving image {tag}"):
        answer = client().api.commit(
            container, repository=repository, tag=version, changes="\n".join(changes)
        )
    return answer.get("Id", "")


def published_port(container: str, port: int) -> int | None:
    """The 127.0.0.1 host port a container's port is published on."""
    with translated(f"Inspecting container {container}"):
        attrs = client().api.inspect_container(container)
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def container_exists(container: str) -> bool:
    return _inspect_container(container) is not None


def container_environment(container: str) -> dict[str, str]:
    """The environment the container was created with; {} when it is gone."""
    attrs = _inspect_container(container) or {}
    pairs = (item.partition("=") for item in (attrs.get("Config") or {}).get("Env") or [])
    return {name: value for name, _, value in pairs}


# Interactive shells (apps.console): `docker exec -it` over the low-level API.


def find_app_container(app_name: str) -> str | None:
    """The app's running container with the highest io.berth.deployment, or
    None when none runs (stopped, crashed, never deployed)."""
    filters = {"label": [f"io.berth.app={app_name}"], "status": ["running"]}
    with translated(f"Listing the containers of {app_name}"):
        found = client().api.containers(filters=filters)

    def deployment(c: dict) -> int:
        try:
            return int((c.get("Labels") or {}).get("io.berth.deployment", "0"))
        except ValueError:
            return 0

    # Build containers carry the app's label too; only app containers serve.
    apps = [c for c in found if (c.get("Labels") or {}).get("io.berth.role", "app") == "app"]
    apps.sort(key=lambda c: (deployment(c), c.get("Created", 0)), reverse=True)
    for c in apps:
        if c.get("Names"):
            return c["Names"][0].lstrip("/")
    return None


class TtyStream:
    """The raw, bidirectional stream of an exec started with a TTY (no
    multiplexing headers: with a TTY, stdout and stderr are one stream).
    Blocking: call read() from a thread, never from an event loop."""

    def __init__(self, exec_id: str, sock: Any) -> None:
        self.exec_id = exec_id
        self._io = sock  # socket.SocketIO from the SDK; keeps the connection alive
        self._sock = getattr(sock, "_sock", sock)  # the SDK's documented way to write

    def read(self, size: int = 65536) -> bytes:
        """Up to `size` bytes; b"" when the shell has ended."""
        try:
            return self._sock.recv(size)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            self._io.close()


def exec_tty(
    container: str, cmd: list[str], env: dict[str, str] | None = None, workdir: str = ""
) -> TtyStream:
    """Start `cmd` in a running container with a TTY and stdin attached."""
    kwargs: dict[str, Any] = {"tty": True, "stdin": True, "environment": env or {}}
    if workdir:
        kwargs["workdir"] = workdir
    with translated(f"Opening a shell in {container}"):
        exec_id = client().api.exec_create(container, cmd, **kwargs)["Id"]
        sock = client().api.exec_start(exec_id, tty=True, socket=True)
    return TtyStream(exec_id, sock)


def exec_resize(exec_id: str, rows: int, cols: int) -> None:
    with translated("Resizing the terminal"):
        client().api.exec_resize(exec_id, height=rows, width=cols)


def exec_exit_code(exec_id: str) -> int | None:
    """An exec's exit code; None while it runs (or when the engine never saw it end)."""
    with translated("Inspecting a shell"):
        attrs = client().api.exec_inspect(exec_id)
    code = attrs.get("ExitCode")
    return None if attrs.get("Running") or code is None else int(code)


def exec_quick(container: str, cmd: list[str], *, user: str = "") -> tuple[int, str]:
    """Run a short command in a running container, no TTY; (exit code, output)."""
    with translated(f"Running {cmd[0]} in {container}"):
        exec_id = client().api.exec_create(container, cmd, user=user)["Id"]
        output = client().api.exec_start(exec_id)
        code = client().api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), output.decode("utf-8", "replace")


def exec_stream(
    container: str, cmd: list[str], *, env: dict[str, str], workdir: str = ""
) -> tuple[str, Iterator[bytes]]:
    """Start `cmd` in a running container, no TTY, as the container's user;
    (exec id, its stdout and stderr as they come). The environment is the
    exec's only: it is not in the container's config, so `docker commit`
    never carries it into an image. exec_exit_code() says how it ended."""
    with translated(f"Running {cmd[0]} in {container}"):
        exec_id = client().api.exec_create(container, cmd, environment=env, workdir=workdir)["Id"]
        stream = client().api.exec_start(exec_id, stream=True)

    def chunks() -> Iterator[bytes]:
        with translated(f"Reading the output of {cmd[0]} in {container}"):
            yield from stream

    return exec_id, chunks()


# The Log stream and the Overview's charts (apps.logs).


@dataclass(frozen=True)
class LogLine:
    timestamp: (
        str  # the engine's RFC 3339 time with nanoseconds, e.g. 2024-05-01T10:00:00.123456789Z
    )
    stream: str  # "stdout" | "stderr"
    text: str


class LogFollower:
    """`docker logs --follow --timestamps` with stdout and stderr told apart.

    Iterate for LogLines; the iteration blocks on the engine's socket, so run
    it in a thread. close() (from any thread) ends it: the socket is shut and
    the blocked read returns. The iteration also ends when the container stops.
    """

    def __init__(
        self, name: str, *, since: str = "", tail: int | str = "all", follow: bool = True
    ) -> None:
        self.name = name
        params: dict[str, Any] = {
            "stdout": 1,
            "stderr": 1,
            "follow": 1 if follow else 0,
            "timestamps": 1,
            "tail": str(tail),
        }
        if since:
            # "seconds.nanoseconds", exactly as the engine's own timestamps go.
            params["since"] = since
        api = client().api
        with translated(f"Reading the logs of container {name}"):
            self._response = api._get(
                api._url("/containers/{0}/logs", name), params=params, stream=True
            )
            api._raise_for_status(self._response)
            self._socket = api._get_raw_response_socket(self._response)
            # A quiet app must not time the stream out (the client's 120 s).
            api._disable_socket_timeout(self._socket)
        self._closed = False

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        # The engine's multiplexed format: an 8-byte header (stream, 0, 0, 0,
        # big-endian length), then the payload; read through the HTTP body.
        raw = self._response.raw
        while True:
            header = raw.read(8)
            if len(header) < 8:
                return
            size = int.from_bytes(header[4:8], "big")
            data = raw.read(size) if size else b""
            yield header[0], data

    def __iter__(self) -> Iterator[LogLine]:
        from docker.utils.socket import STDERR

        pending = {1: b"", 2: b""}
        try:
            for stream_id, data in self._frames():
                if self._closed:
                    return
                buf = pending.get(stream_id, b"") + data
                *lines, pending[stream_id] = buf.split(b"\n")
                for raw in lines:
                    yield _log_line(raw, "stderr" if stream_id == STDERR else "stdout")
        except (
            OSError,
            ValueError,
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,  # the engine ended the chunked body: container removed
            AttributeError,
        ):
            # The socket was closed under us (close()) or the engine went away.
            if not self._closed:
                raise EngineUnavailable(
                    f"The log stream of {self.name} was cut by the Docker engine."
                ) from None
        for stream_id, rest in pending.items():
            if rest:
                yield _log_line(rest, "stderr" if stream_id == STDERR else "stdout")

    def close(self) -> None:
        self._closed = True
        # The connection dies here: keep urllib3 from offering it back to the
        # client's pool (which warns "pool is full" for each of many viewers).
        with contextlib.suppress(Exception):
            self._response.raw._pool = None
        with contextlib.suppress(Exception):
            import socket as _socket

            # Over the unix socket the SDK hands back a SocketIO, which has no
            # shutdown(): reach the socket under it, or the blocked read (and
            # close() below, waiting on the same buffer) lasts until the next line.
            getattr(self._socket, "_sock", self._socket).shutdown(_socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._response.close()


def _log_line(raw: bytes, stream: str) -> LogLine:
    text = raw.decode("utf-8", "replace").rstrip("\r")
    stamp, sep, rest = text.partition(" ")
    if sep and stamp[:4].isdigit() and "T" in stamp:
        return LogLine(stamp, stream, rest)
    return LogLine("", stream, text)


def container_logs_stream(
    name: str,
    since: str = "",
    tail: int | str = 100,
    timestamps: bool = True,
    *,
    follow: bool = True,
) -> LogFollower:
    """Follow a container's logs from `tail` lines back (or from `since`, the
    engine's "seconds.nanoseconds"): an iterable of LogLine with close().
    Always timestamped: the Log stream resumes by time. With follow=False
    the iteration ends at the last line written so far, even if the
    container still runs."""
    del timestamps  # always on; kept in the signature for callers that say so
    return LogFollower(name, since=since, tail=tail, follow=follow)


def container_logs_lines(name: str, tail: int = 1000) -> list[LogLine]:
    """The last `tail` lines, stdout and stderr told apart, oldest first."""
    api = client().api
    with translated(f"Reading the logs of container {name}"):
        out = api.logs(name, stdout=True, stderr=False, timestamps=True, tail=tail)
        err = api.logs(name, stdout=False, stderr=True, timestamps=True, tail=tail)
    lines = [_log_line(r, "stdout") for r in out.splitlines()]
    lines += [_log_line(r, "stderr") for r in err.splitlines()]
    # RFC 3339 with the same zone sorts as text, close enough for a download.
    lines.sort(key=lambda line: line.timestamp)
    return lines[-tail:]


@dataclass(frozen=True)
class ContainerStats:
    cpu_percent: float  # of one core, as `docker stats` shows it (200% = two cores busy)
    memory_bytes: int
    memory_limit: int


def container_stats(name: str) -> ContainerStats:
    """One `docker stats` sample. Takes about a second: the engine waits for
    two CPU readings to compute the percentage."""
    with translated(f"Reading the stats of container {name}"):
        s = client().api.stats(name, stream=False)
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    percent = cpu_delta / system_delta * cpus * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage = int(mem.get("usage", 0))
    # `docker stats` leaves the page cache out (cgroup v2: inactive_file).
    cache = int((mem.get("stats") or {}).get("inactive_file", 0))
    return ContainerStats(
        cpu_percent=round(percent, 2),
        memory_bytes=max(usage - cache, 0),
        memory_limit=int(mem.get("limit", 0)),
    )


def container_id(name: str) -> str:
    """The container's full id ("" when there is no such container)."""
    attrs = _inspect_container(name)
    return attrs.get("Id", "") if attrs is not None else ""


# Release reuse and the benchmark (apps.deployments.release, scripts/bench.py).


@dataclass(frozen=True)
class ImageFacts:
    id: str
    layers: int  # file system layers (overlay2 stacks them; keep it well under 128)
    labels: dict[str, str]
    env_names: tuple[str, ...] = ()  # of its config's Env (names only: values may be secrets)


def image_facts(tag: str) -> ImageFacts | None:
    """An image's id, layer count, labels and environment variable names;
    None when there is no such image."""
    attrs = _inspect_image(tag, f"Inspecting image {tag}")
    if attrs is None:
        return None
    config = attrs.get("Config") or {}
    return ImageFacts(
        id=attrs.get("Id", ""),
        layers=len((attrs.get("RootFS") or {}).get("Layers") or []),
        labels=config.get("Labels") or {},
        env_names=tuple(item.partition("=")[0] for item in config.get("Env") or []),
    )


def remove_volume(name: str) -> None:
    """Remove a volume; a missing one is fine."""
    with translated(f"Removing volume {name}"), contextlib.suppress(docker.errors.NotFound):
        client().volumes.get(name).remove(force=True)


# Deleting an app (apps.deployments.teardown): everything it left behind.


def find_images(labels: dict[str, str] | None = None, repository: str = "") -> list[str]:
    """Ids of the images carrying all these labels, and of those tagged in
    `repository` (e.g. berth/app-shop, any tag), newest first: an image
    committed on top of another is newer than it, so removing them in this
    order never meets a parent that still has children."""
    created: dict[str, int] = {}
    with translated("Listing images"):
        if labels:
            filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
            for image in client().api.images(filters=filters):
                created[image["Id"]] = image.get("Created", 0)
        if repository:
            for image in client().api.images(name=repository):
                created[image["Id"]] = image.get("Created", 0)
    return sorted(created, key=lambda image_id: created[image_id], reverse=True)


def find_volumes(labels: dict[str, str]) -> list[str]:
    """Names of the volumes carrying all these labels."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    with translated("Listing volumes"):
        answer = client().api.volumes(filters=filters)
    return sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])


def container_oom_events(name: str, since: float) -> int:
    """How many times the kernel OOM-killed a process in the container since
    `since` (a Unix time), from the engine's recent events. The State's
    OOMKilled flag is reset when the engine restarts the container; the
    events are not."""
    import time as _time

    filters = {"container": [name], "event": ["oom"], "type": ["container"]}
    with translated(f"Reading the events of container {name}"):
        events = client().events(
            since=int(since), until=int(_time.time()) + 1, filters=filters, decode=True
        )
        return sum(1 for _ in events)


# The log archiver (apps.logs.archive).


@dataclass(frozen=True)
class RunningContainer:
    name: str
    id: str
    labels: dict[str, str]


def running_containers(label: str) -> list[RunningContainer]:
    """Running containers carrying `label` (any value), oldest first."""
    with translated("Listing running containers"):
        found = client().api.containers(filters={"label": [label], "status": "running"})
    found.sort(key=lambda c: c.get("Created", 0))
    return [
        RunningContainer(c["Names"][0].lstrip("/"), c.get("Id", ""), c.get("Labels") or {})
        for c in found
        if c.get("Names")
    ]
