"""Building a runtime image on a pulled python:3.X-slim base, with a
Dockerfile that adds what App Service's image has.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from apps.engine import buildplan, buildstate, client, recipe
from apps.engine.versions import image_tag

# Recipe: pull a slim base and add to it


DOCKERFILE = """\
ARG BASE
FROM ${{BASE}}
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {libraries} \\
 && rm -rf /var/lib/apt/lists/*
COPY build-ca.crt /tmp/build-ca.crt
RUN if [ -s /tmp/build-ca.crt ]; then export PIP_CERT=/tmp/build-ca.crt; fi \\
 && PIP_INDEX_URL="$PIP_INDEX_URL" PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" \\
    python -m pip install --no-cache-dir --disable-pip-version-check {packages} \\
 && rm -f /tmp/build-ca.crt \\
 && chmod 1777 /tmp
COPY runtime_files/ /
{env}
{labels}
WORKDIR {workdir}
EXPOSE 8000
CMD {cmd}
"""


def dockerfile(version: str) -> str:
    env = "\n".join(f'ENV {k}="{v}"' for k, v in recipe.image_env(version).items())
    labels = "\n".join(f'LABEL {k}="{v}"' for k, v in recipe.image_labels(version, "pull").items())
    return DOCKERFILE.format(
        packages=" ".join(recipe.PIP_PACKAGES),
        libraries=" ".join(recipe.extra_libraries()),
        env=env,
        labels=labels,
        workdir=recipe.WORKDIR,
        cmd=json.dumps(["/bin/sh", "-c", recipe.DEFAULT_CMD]),
    )


def build_args(base: str) -> dict[str, str]:
    args = {"BASE": base}
    if settings.BERTH_PIP_INDEX_URL:
        args["PIP_INDEX_URL"] = settings.BERTH_PIP_INDEX_URL
    if settings.BERTH_PIP_EXTRA_INDEX_URL:
        args["PIP_EXTRA_INDEX_URL"] = settings.BERTH_PIP_EXTRA_INDEX_URL
    return args


def build_by_pull(chosen: buildplan.Plan, progress: buildstate.Progress) -> None:
    build_on_base(
        key=chosen.version,
        tag=image_tag(chosen.version),
        base=chosen.base_image,
        dockerfile=dockerfile(chosen.version),
        files={"runtime_files": recipe.RUNTIME_FILES},
        progress=progress,
    )


def build_on_base(
    *,
    key: str,
    tag: str,
    base: str,
    dockerfile: str,
    files: dict[str, Path],
    progress: buildstate.Progress,
) -> None:
    """Pull `base` and `docker build` `dockerfile` on it (ARG BASE), with
    `files` (context name -> folder) and the build's CA bundle as
    build-ca.crt in the context. The runtime images and the database service
    images (apps.engine.dataservices) are both made this way."""
    progress(10, f"Pulling {base}")
    client.pull_image(base)
    context = Path(tempfile.mkdtemp(prefix=f"context-{key}-", dir=buildstate.runtimes_dir()))
    try:
        (context / "Dockerfile").write_text(dockerfile)
        for name, folder in files.items():
            shutil.copytree(folder, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        # The CA bundle pip trusts inside the build, so it works behind an
        # intercepting proxy (an empty file leaves pip on its own bundle).
        ca = Path(settings.BERTH_BUILD_CA_BUNDLE) if settings.BERTH_BUILD_CA_BUNDLE else None
        if ca and ca.is_file():
            shutil.copy(ca, context / "build-ca.crt")
        else:
            (context / "build-ca.crt").write_text("")
        (context / "build-ca.crt").chmod(0o644)
        percent = 30
        progress(percent, f"docker build {tag} FROM {base}")
        for line in client.build_image(str(context), tag, buildargs=build_args(base)):
            percent = min(percent + 2, 90)
            progress(percent, line)
    finally:
        shutil.rmtree(context, ignore_errors=True)
