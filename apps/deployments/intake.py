"""Intake: check a zip before anything changes (refusals), run the
pre-deployment check on it (advice), keep it as the deployment's artifact, and
turn it into the tar stream the build container receives."""

from __future__ import annotations

import io
import logging
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

from apps.core import hooks
from apps.lifecycle.source import SourceTree, normalize
from apps.webapps.environment import mask, secret_values

logger = logging.getLogger(__name__)


class BadZip(Exception):
    """The upload is refused; nothing was changed. The message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def max_zip_bytes() -> int:
    return settings.BERTH_MAX_ZIP_MB * 1024 * 1024


def max_unzipped_bytes() -> int:
    return settings.BERTH_MAX_UNZIPPED_MB * 1024 * 1024


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _unsafe(name: str) -> str:
    """Why a member path is not allowed, or ''."""
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"{name!r} is an absolute path"
    if ".." in path.parts:
        return f"{name!r} points outside the app's folder (..)"
    return ""


def validate(path: Path) -> None:
    """Raise BadZip unless `path` is a zip Berth can deploy safely."""
    size = path.stat().st_size
    if size == 0:
        raise BadZip("The upload is empty: send a zip of your app's folder.")
    if size > max_zip_bytes():
        raise BadZip(
            f"The zip is {size / 1024 / 1024:.1f} MB; the limit is {settings.BERTH_MAX_ZIP_MB} MB "
            "(BERTH_MAX_ZIP_MB). Leave out virtual environments and build output."
        )
    if not zipfile.is_zipfile(path):
        raise BadZip("The upload is not a zip file: send a .zip of your app's folder.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_members(zf, infos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise BadZip(f"The zip cannot be read ({e}): make it again with `zip -r`.") from e


def _check_members(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    files = [i for i in infos if not i.is_dir()]
    if not files:
        raise BadZip("The zip holds no files: zip the contents of your app's folder.")
    total = 0
    links: dict[str, str] = {}
    for info in infos:
        name = normalize(info.filename)
        if why := _unsafe(name):
            raise BadZip(f"Refused: {why}. Zip your app's folder with relative paths only.")
        if _is_symlink(info):
            links[name.rstrip("/")] = zf.read(info).decode("utf-8", "replace")
        total += info.file_size
    for name, target in links.items():
        try:
            inside = resolve(name, links) is not None
        except LinkLoop:
            raise BadZip(
                f"Refused: {name!r} is a symbolic link that never resolves (a loop through "
                f"{target!r}). Replace it with the file itself."
            ) from None
        if not inside:
            raise BadZip(
                f"Refused: {name!r} is a symbolic link to {target!r}, which leads outside the "
                "app's folder. Replace it with the file itself."
            )
    if total > max_unzipped_bytes():
        raise BadZip(
            f"The zip unpacks to {total / 1024 / 1024:.0f} MB; the limit is "
            f"{settings.BERTH_MAX_UNZIPPED_MB} MB (BERTH_MAX_UNZIPPED_MB)."
        )
    # The sizes a zip declares can lie (a zip bomb); test the real ones while
    # counting, without writing anything.
    seen = 0
    for info in files:
        with zf.open(info) as member:
            while chunk := member.read(1024 * 1024):
                seen += len(chunk)
                if seen > max_unzipped_bytes():
                    raise BadZip(
                        "The zip unpacks to more than it declares (a zip bomb?); "
                        f"the limit is {settings.BERTH_MAX_UNZIPPED_MB} MB."
                    )


class LinkLoop(Exception):
    pass


MAX_LINK_HOPS = 40  # as Linux's path walk (ELOOP)


def resolve(path: str, links: dict[str, str]) -> list[str] | None:
    """Where `path` really leads inside the zip's folder, following its
    symbolic links (`links`: member path -> target) the way the kernel will
    once the files are on disk: the parts of the real path, or None if it
    leaves the folder (or is absolute). Raises LinkLoop for a cycle."""
    pending = list(reversed(path.split("/")))
    real: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not real:
                return None
            real.pop()
            continue
        here = "/".join([*real, part])
        if here not in links:
            real.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise LinkLoop(path)
        target = links[here]
        if target.startswith("/"):
            return None
        # The link's target is relative to the folder holding the link: `real`.
        pending.extend(reversed(target.split("/")))
    return real


def artifact_path(app_name: str, deployment_id: int) -> Path:
    return settings.DATA_DIR / "artifacts" / app_name / f"{deployment_id}.zip"


def receive(upload: BinaryIO | bytes) -> Path:
    """Spool an upload to a temporary file (bounded by the size limit) and
    validate it. The caller moves it into place once the deployment exists."""
    folder = settings.DATA_DIR / "artifacts" / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    stream = io.BytesIO(upload) if isinstance(upload, bytes) else upload
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".zip", delete=False) as tmp:
        written = 0
        while chunk := stream.read(1024 * 1024):
            written += len(chunk)
            if written > max_zip_bytes():
                tmp.close()
                Path(tmp.name).unlink(missing_ok=True)
                raise BadZip(
                    f"The zip is bigger than the limit of {settings.BERTH_MAX_ZIP_MB} MB "
                    "(BERTH_MAX_ZIP_MB). Leave out virtual environments and build output."
                )
            tmp.write(chunk)
    path = Path(tmp.name)
    try:
        validate(path)
    except BadZip:
        path.unlink(missing_ok=True)
        raise
    return path


def precheck(path: Path, app) -> list[dict]:
    """The pre-deployment check's findings for a received zip
    (apps.diagnostics.precheck): committed virtual environment, missing
    requirements.txt, hard-coded SECRET_KEY with DEBUG on, and the start-up
    rule that will match with its exact command (from the same SourceTree the
    build reads). Advice only: a check that fails says so and never stops the
    deployment. Secret values are masked, as in every log Berth keeps."""
    try:
        found = hooks.precheck(path, app.app_command_line, SourceTree.from_zip(path))
    except Exception:
        # Don't quote the error: it may hold a piece of the user's code.
        logger.exception("The pre-deployment check failed on %s", path)
        return [
            {
                "level": "info",
                "code": "check_failed",
                "message": "The pre-deployment check could not read this upload; "
                "the deployment goes on without it.",
            }
        ]
    secrets = secret_values(app)
    return [{k: mask(v, secrets) if isinstance(v, str) else v for k, v in f.items()} for f in found]


def to_tar(zip_path: Path, prefix: str = "home/site/wwwroot", owner: int = 0) -> BinaryIO:
    """The zip's files as a tar under `prefix`, for put_archive; every entry,
    the prefix's folders too, belongs to uid and gid `owner`."""
    # Returned open to the caller (put_archive reads it), so no `with` here.
    out = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115
    with zipfile.ZipFile(zip_path) as zf, tarfile.open(fileobj=out, mode="w") as tar:
        dirs: set[str] = set()

        def add_dir(path: str) -> None:
            parts = PurePosixPath(path).parts
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.uid = info.gid = owner
                    tar.addfile(info)

        add_dir(prefix)
        for zi in zf.infolist():
            name = normalize(zi.filename).rstrip("/")
            if not name:
                continue
            full = f"{prefix}/{name}"
            if zi.is_dir():
                add_dir(full)
                continue
            add_dir(str(PurePosixPath(full).parent))
            mode = (zi.external_attr >> 16) & 0o7777
            info = tarfile.TarInfo(full)
            info.mtime = 0
            info.uid = info.gid = owner
            if _is_symlink(zi):
                info.type = tarfile.SYMTYPE
                info.linkname = zf.read(zi).decode("utf-8", "replace")
                tar.addfile(info)
                continue
            info.mode = mode if mode & 0o400 else 0o644
            info.size = zi.file_size
            with zf.open(zi) as member:
                tar.addfile(info, member)
    out.seek(0)
    return out
