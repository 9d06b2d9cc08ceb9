"""Database services on the engine: PostgreSQL and Redis images made from
Debian's packages the way runtime images are made (pull a Debian base and
apt-get install where a registry answers, else debootstrap the host's Debian
archive), and the containers Berth runs from them: a named volume, limits, a
health check, restart on crash, no published port, attached to the networks
of the apps connected to them.

What a service is for (which app, which database) is apps.databases'
business; this module only knows containers, images and networks.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.engine import (
    buildplan,
    buildstate,
    containers,
    debootstrap,
    docker_api,
    images,
    pullbuild,
    recipe,
)
from apps.engine.errors import EngineError, RuntimeUnavailable

SERVICE_FILES = Path(__file__).resolve().parent / "service_files"
LABEL_SERVICE = "io.berth.service"
LABEL_REVISION = "io.berth.service-revision"
ENTRYPOINT = "/usr/local/bin/berth-service"
HEALTHCHECK = "/usr/local/bin/berth-healthcheck"
TLS_TARGET = "/run/berth-tls"
# Bump when the recipe changes in a way the packages and files don't show.
RECIPE = "1"


@dataclass(frozen=True)
class ServiceRecipe:
    kind: str
    what: str
    packages: tuple[str, ...]
    # A command that prints the server's version in the finished image.
    version_command: str


RECIPES = {
    "postgres": ServiceRecipe(
        "postgres",
        "PostgreSQL",
        ("postgresql",),
        "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/postgres --version",
    ),
    "redis": ServiceRecipe("redis", "Redis", ("redis-server",), "redis-server --version"),
}


def _recipe(kind: str) -> ServiceRecipe:
    try:
        return RECIPES[kind]
    except KeyError:
        raise RuntimeUnavailable(
            f"{kind!r} is not a database service Berth runs: use one of {', '.join(RECIPES)}."
        ) from None


# Which Debian, which tag


def host_suite(os_release: Path = Path("/etc/os-release")) -> str:
    """The Debian suite the service images come from: BERTH_SERVICE_SUITE,
    else the host's own (its packages are what its archive carries)."""
    if settings.BERTH_SERVICE_SUITE:
        return settings.BERTH_SERVICE_SUITE
    with contextlib.suppress(OSError):
        match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)", os_release.read_text(), re.M)
        if match:
            return match.group(1)
    return "bookworm"


def image_tag(kind: str) -> str:
    return f"berth/{_recipe(kind).kind}:{host_suite()}"


def revision(kind: str) -> str:
    """A short hash of everything that goes into the image, so changes rebuild."""
    digest = hashlib.sha256()
    chosen = _recipe(kind)
    for part in (RECIPE, host_suite(), " ".join(chosen.packages)):
        digest.update(part.encode() + b"\0")
    root = SERVICE_FILES / kind
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def labels(kind: str, source: str) -> dict[str, str]:
    return {
        docker_api.LABEL: "true",
        LABEL_SERVICE: kind,
        recipe.LABEL_SOURCE: source,
        LABEL_REVISION: revision(kind),
    }


def is_current(kind: str) -> bool:
    tag = image_tag(kind)
    return images.image_exists(tag) and images.image_labels(tag).get(LABEL_REVISION) == revision(
        kind
    )


# Making the image


PULL_DOCKERFILE = """\
ARG BASE
FROM ${{BASE}}
# No cluster made at install time: the service makes its own in its volume.
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/berth.conf \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*
COPY service_files/ /
{labels}
CMD {cmd}
"""


def pull_dockerfile(kind: str) -> str:
    return PULL_DOCKERFILE.format(
        packages=" ".join(_recipe(kind).packages),
        labels="\n".join(f'LABEL {k}="{v}"' for k, v in labels(kind, "pull").items()),
        cmd=json.dumps([ENTRYPOINT]),
    )


def import_changes(kind: str) -> list[str]:
    changes = [f"ENV PATH={recipe.PATH}", "ENV LANG=C.UTF-8"]
    changes += [f'LABEL {k}="{v}"' for k, v in labels(kind, "debootstrap").items()]
    changes.append(f"CMD {json.dumps([ENTRYPOINT])}")
    return changes


def _finish_rootfs(kind: str, rootfs: Path) -> None:
    shutil.copytree(SERVICE_FILES / kind, rootfs, dirs_exist_ok=True, symlinks=True)
    debootstrap.clean_apt(rootfs)
    # postgresql-common makes a "main" cluster on install; the service makes its own.
    for made in (*rootfs.glob("etc/postgresql/*/main"), *rootfs.glob("var/lib/postgresql/*/main")):
        shutil.rmtree(made, ignore_errors=True)


def base_image() -> str:
    return settings.BERTH_SERVICE_BASE_IMAGE.format(suite=host_suite())


def _build(kind: str, progress: buildstate.Progress) -> str:
    chosen, tag, base = _recipe(kind), image_tag(kind), base_image()
    mode = settings.BERTH_RUNTIME_SOURCE
    why_not_boot = buildplan.debootstrap_missing() or (
        "" if buildplan.find_debian_mirror() else "no Debian archive in the host's apt sources"
    )

    def boot() -> str:
        if why_not_boot:
            raise RuntimeUnavailable(f"Cannot build {chosen.what} here: {why_not_boot}.")
        debootstrap.bootstrap_image(
            what=chosen.what,
            key=f"service-{kind}",
            suite=host_suite(),
            packages=list(chosen.packages),
            tag=tag,
            changes=import_changes(kind),
            finish=lambda rootfs: _finish_rootfs(kind, rootfs),
            progress=progress,
        )
        return "debootstrap"

    def pull() -> str:
        pullbuild.build_on_base(
            key=f"service-{kind}",
            tag=tag,
            base=base,
            dockerfile=pull_dockerfile(kind),
            files={"service_files": SERVICE_FILES / kind},
            progress=progress,
        )
        return "pull"

    if mode == "debootstrap" or (mode == "auto" and not buildplan.registry_reachable(base)):
        return boot()
    try:
        return pull()
    except EngineError as e:
        if mode == "pull" or why_not_boot:
            raise
        progress(5, f"Pulling failed ({e.message}); bootstrapping from Debian instead")
        return boot()


@dataclass(frozen=True)
class ServiceImage:
    kind: str
    tag: str
    built: bool
    source: str = ""
    seconds: float = 0.0
    version: str = ""


def _quiet(percent: int, message: str) -> None:
    pass


def ensure_image(kind: str, progress: buildstate.Progress | None = None) -> ServiceImage:
    """The service's image, built once (under a lock shared with every
    process) when missing or made by an older recipe."""
    progress = progress or _quiet
    tag = image_tag(kind)
    if is_current(kind):
        progress(100, f"{tag} is ready")
        return ServiceImage(kind, tag, built=False)
    with buildstate.build_lock(f"service-{kind}", progress):
        if is_current(kind):
            progress(100, f"{tag} is ready")
            return ServiceImage(kind, tag, built=False)
        started = time.monotonic()
        progress(
            2, f"Building {tag} from Debian {host_suite()}'s {' '.join(RECIPES[kind].packages)}"
        )
        source = _build(kind, progress)
        version = verify(kind)
        seconds = time.monotonic() - started
        progress(100, f"{tag} is ready: {version}, built in {seconds:.0f} s")
        return ServiceImage(kind, tag, True, source, seconds, version)


def verify(kind: str) -> str:
    """The server starts far enough to print its version; else the image goes."""
    tag = image_tag(kind)
    code, output = containers.run_once(
        tag, ["sh", "-c", RECIPES[kind].version_command], timeout=60, network_disabled=True
    )
    if code == 0 and output.strip():
        return output.strip().splitlines()[-1]
    images.remove_image(tag)
    raise RuntimeUnavailable(
        f"The image built for {RECIPES[kind].what} does not run its server "
        f"({output.strip()[-300:]}); it was removed."
    )


# Running a service


@dataclass(frozen=True)
class ServiceContainer:
    """What a service container is made of. `tls_dir` is a host folder with
    server.crt, server.key and ca.crt, mounted read-only at /run/berth-tls."""

    name: str
    kind: str
    volume: str
    volume_target: str
    tls_dir: Path
    network: str
    memory_mb: int
    cpus: float
    pids: int = 256
    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def create_service(spec: ServiceContainer) -> None:
    """Create and start the container (its volume made when missing). It
    runs as root only to hand its TLS files to the server's user; the
    server runs unprivileged, with most capabilities dropped."""
    labels = {docker_api.LABEL: "true", LABEL_SERVICE: spec.kind, **spec.labels}
    with docker_api.translated(f"Creating volume {spec.volume}"):
        try:
            docker_api.client().volumes.get(spec.volume)
        except docker_api.NotFound:
            docker_api.client().volumes.create(spec.volume, labels=labels)
    with docker_api.translated(f"Creating container {spec.name}"):
        container = docker_api.client().containers.create(
            image_tag(spec.kind),
            name=spec.name,
            environment=spec.environment,
            labels=labels,
            detach=True,
            network=spec.network,
            mem_limit=f"{spec.memory_mb}m",
            nano_cpus=int(spec.cpus * 1e9),
            pids_limit=spec.pids,
            restart_policy={"Name": "unless-stopped"},
            healthcheck={
                "test": ["CMD", HEALTHCHECK],
                "interval": 3_000_000_000,
                "timeout": 5_000_000_000,
                "retries": 5,
                "start_period": 60_000_000_000,
            },
            cap_drop=["ALL"],
            cap_add=["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"],
            security_opt=["no-new-privileges"],
            mounts=[
                docker_api.Mount(target=spec.volume_target, source=spec.volume, type="volume"),
                docker_api.Mount(
                    target=TLS_TARGET, source=str(spec.tls_dir), type="bind", read_only=True
                ),
            ],
        )
        container.start()


LABEL_CONFIG = "io.berth.service-config"


def config_digest(spec: ServiceContainer) -> str:
    """What the container was made with that a restart would not change: its
    image, environment, limits and TLS files. A container made otherwise is
    made again (its volume, and so its data, stays)."""
    digest = hashlib.sha256()
    for part in (
        image_tag(spec.kind),
        json.dumps(spec.environment, sort_keys=True),
        f"{spec.memory_mb}/{spec.cpus}/{spec.pids}/{spec.tls_dir}",
        *((spec.tls_dir / f).read_bytes() for f in ("server.crt", "ca.crt")),
    ):
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def ensure_service(spec: ServiceContainer, timeout: float = 90) -> None:
    """The service container up, healthy and made as `spec` says: created
    when missing, made again when its configuration changed (a new CA or
    certificate, password, limits or image), started when stopped."""
    spec = ServiceContainer(
        **{**spec.__dict__, "labels": {**spec.labels, LABEL_CONFIG: config_digest(spec)}}
    )
    status = health(spec.name)
    rejoin: list[str] = []
    if status != "missing":
        attrs = containers.inspect_container(spec.name) or {}
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_CONFIG) != spec.labels[LABEL_CONFIG]:
            # The apps' networks it was attached to, to attach the new one to.
            rejoin = list((attrs.get("NetworkSettings") or {}).get("Networks") or {})
            containers.remove_container(spec.name)
            status = "missing"
    if status == "missing":
        create_service(spec)
        for network in rejoin:
            if network != spec.network and network_exists(network):
                connect(network, spec.name)
    elif status == "stopped":
        containers.start_container(spec.name)
    wait_healthy(spec.name, timeout)


def health(name: str) -> str:
    """healthy | unhealthy | starting | stopped | missing."""
    attrs = containers.inspect_container(name)
    if attrs is None:
        return "missing"
    state = attrs.get("State") or {}
    if state.get("Status") not in ("running", "restarting"):
        return "stopped"
    return (state.get("Health") or {}).get("Status") or "starting"


def wait_healthy(name: str, timeout: float = 90) -> None:
    """Until the health check passes; EngineError with the last log lines if it doesn't."""
    deadline = time.monotonic() + timeout
    status = health(name)
    while status != "healthy" and time.monotonic() < deadline:
        if status in ("missing", "unhealthy"):
            break
        time.sleep(0.5)  # polling the engine's health state, with a deadline
        status = health(name)
    if status == "healthy":
        return
    tail = ""
    with contextlib.suppress(EngineError), docker_api.translated(f"Reading logs of {name}"):
        tail = docker_api.client().api.logs(name, tail=15).decode("utf-8", "replace").strip()
    raise EngineError(f"The service container {name} is {status}, not healthy. {tail}"[:1500])


def connect(network: str, container: str, aliases: list[str] | None = None) -> bool:
    """Attach a container to a network unless it is there; True when attached now."""
    attrs = containers.inspect_container(container) or {}
    if network in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}):
        return False
    with docker_api.translated(f"Attaching {container} to network {network}"):
        docker_api.client().api.connect_container_to_network(container, network, aliases=aliases)
    return True


def disconnect(network: str, container: str) -> None:
    """Detach a container from a network; fine when it is not attached or gone."""
    with (
        docker_api.translated(f"Detaching {container} from network {network}"),
        contextlib.suppress(docker_api.NotFound, docker_api.APIError),
    ):
        docker_api.client().api.disconnect_container_from_network(container, network, force=True)


def network_exists(name: str) -> bool:
    with docker_api.translated("Listing networks"):
        return any(n.get("Name") == name for n in docker_api.client().api.networks(names=[name]))


def probe(
    kind: str,
    network: str,
    command: list[str],
    *,
    environment: dict[str, str],
    trust_dir: Path,
    trust_target: str,
) -> tuple[int, str]:
    """Run a client of the service's own image (psql, redis-cli) on `network`,
    as an app there would connect: (exit code, output). Unprivileged, the
    CA folder mounted read-only."""
    return containers.run_once(
        image_tag(kind),
        command,
        timeout=60,
        network=network,
        environment=environment,
        user="65534:65534",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mounts=[
            docker_api.Mount(
                target=trust_target, source=str(trust_dir), type="bind", read_only=True
            )
        ],
    )


def copy_out(container: str, path: str, dest: Path) -> int:
    """Copy one file out of a container to `dest`; its size."""
    with docker_api.translated(f"Copying {path} out of {container}"):
        stream, _ = docker_api.client().api.get_archive(container, path)
        with tempfile.TemporaryFile() as tar_file:
            for chunk in stream:
                tar_file.write(chunk)
            tar_file.seek(0)
            with tarfile.open(fileobj=tar_file) as tar:
                member = tar.next()
                source = tar.extractfile(member) if member else None
                if source is None:
                    raise EngineError(f"{path} in {container} is not a file")
                with dest.open("wb") as out:
                    shutil.copyfileobj(source, out)
    return dest.stat().st_size


def copy_in(container: str, source: Path, directory: str, name: str, owner: int = 0) -> None:
    """Copy one file into a container's `directory` as `name`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tar.gettarinfo(str(source), arcname=name)
        info.uid = info.gid = owner
        info.mode = 0o600
        with source.open("rb") as f:
            tar.addfile(info, f)
    containers.put_archive(container, directory, buffer.getvalue())
