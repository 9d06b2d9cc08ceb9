"""Helpers for the deploy tests: zip a sample app, clean up what a test made."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"


def zip_sample(name: str, replace: dict[str, str] | None = None) -> bytes:
    """The sample folder as zip bytes; `replace` overrides or adds files."""
    buf = io.BytesIO()
    replace = dict(replace or {})
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((SAMPLES / name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(SAMPLES / name).as_posix()
                data = replace.pop(rel, None)
                zf.writestr(rel, data if data is not None else path.read_bytes())
        for rel, data in replace.items():
            zf.writestr(rel, data)
    return buf.getvalue()


def cleanup_app(app_name: str) -> None:
    from apps.engine import client as engine

    with contextlib.suppress(Exception):
        for name in engine.find_containers({"io.berth.app": app_name}):
            engine.remove_container(name)
    with contextlib.suppress(Exception):
        for image in engine.client().images.list(name=f"berth/app-{app_name}"):
            for tag in image.tags:
                engine.remove_image(tag)


def zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
