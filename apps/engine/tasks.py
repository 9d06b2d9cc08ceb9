"""Celery tasks for the engine: thin, they call the builder and record the outcome."""

from __future__ import annotations

from celery import shared_task

from apps.engine import builders


# A debootstrap build takes about a minute; a slow archive can make it many.
@shared_task(name="engine.build_runtime", time_limit=1800, soft_time_limit=1700)
def build_runtime(*, version: str) -> None:
    # Progress and the outcome go to DATA_DIR/runtimes/<version>.progress.json;
    # the build lock makes a duplicate task wait, then find the image ready.
    builders.ensure_and_record(version)
