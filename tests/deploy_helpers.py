"""Helpers for the deploy tests: zip a sample app, clean up what a test made."""

from __future__ import annotations

import contextlib
import io
import stat
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"


def zip_sample(name: str, replace: dict[str, str] | None = None, *, root: Path = SAMPLES) -> bytes:
    """The sample folder as zip bytes; `replace` overrides or adds files."""
    buf = io.BytesIO()
    replace = dict(replace or {})
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(root / name).as_posix()
                data = replace.pop(rel, None)
                zf.writestr(rel, data if data is not None else path.read_bytes())
        for rel, data in replace.items():
            zf.writestr(rel, data)
    return buf.getvalue()


def cleanup_app(app_name: str) -> None:
    from apps.engine import client as engine
    from apps.lifecycle.appnet import SERVICE_CONTAINERS

    with contextlib.suppress(Exception):
        for name in engine.find_containers({"io.berth.app": app_name}):
            engine.remove_container(name)
    with contextlib.suppress(Exception):
        for image in engine.client().images.list(name=f"berth/app-{app_name}"):
            for tag in image.tags:
                engine.remove_image(tag)
    with contextlib.suppress(Exception):
        for volume in engine.find_volumes({"io.berth.app": app_name}):
            engine.remove_volume(volume)
    # Its network too: Docker's default address pools hold only about 30.
    with contextlib.suppress(Exception):
        for name in engine.find_networks({"io.berth.app": app_name}):
            engine.remove_network(name, detach=SERVICE_CONTAINERS)


def zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_zip(members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    """A zip of these members, as given (for the bad-zip cases)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return buf.getvalue()


def symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    """A zip member that is a symbolic link to `target`."""
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def git_in(work: Path) -> Callable[..., str]:
    """Run git in `work` as Alice; returns its output."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=Alice", "-c", "user.email=alice@example.org", *args],
            cwd=work,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout

    return git


@contextlib.contextmanager
def lock_held_elsewhere(app_name: str, hold: float = 5) -> Iterator[None]:
    """Another thread holds the app's deploy lock (as a busy worker would)
    while the block runs, for at most `hold` seconds."""
    from apps.lifecycle import locks

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.app_lock(app_name):
            held.set()
            release.wait(hold)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        t.join(5)


def git_push(base_url: str, app, work: Path, *options: str) -> subprocess.CompletedProcess:
    """`git push` the repository at `work` to the app's local Git URL under
    `base_url` with its deployment credentials; `options` go before `push`
    (e.g. "-c", "http.postBuffer=..."). Does not check the exit status."""
    from urllib.parse import quote

    user = quote(app.publishing_username, safe="")
    url = base_url.replace("http://", f"http://{user}:{app.publishing_password}@")
    return subprocess.run(
        ["git", *options, "push", f"{url}/git/{app.name}.git", "main"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0", "HOME": str(work.parent)},
        check=False,
    )


def push_files(base_url: str, app, work: Path, files: dict[str, str]) -> list[str]:
    """Commit `files` in a new repository at `work` and `git push` it to the
    app's local Git URL under `base_url` with its deployment credentials (no
    -q); returns the `remote:` lines the pusher saw."""
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git = git_in(work)
    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "Pushed by a test")
    pushed = git_push(base_url, app, work)
    pushed.check_returncode()
    assert "main -> main" in pushed.stderr  # git's own report still arrives
    assert app.publishing_password not in pushed.stderr
    return [
        line.removeprefix("remote: ").rstrip()
        for line in pushed.stderr.splitlines()
        if line.startswith("remote: ")
    ]


def app_json(app, path: str, timeout: float = 60) -> dict:
    """GET `path` from the app's serving container on its 127.0.0.1 port; its JSON."""
    # As the helpers above: this module is imported before Django is set up.
    import requests

    from apps.lifecycle import operations as lifecycle_ops

    d = lifecycle_ops.active_deployment(app)
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only
    answer = session.get(f"http://127.0.0.1:{d.host_port}{path}", timeout=timeout)
    assert answer.status_code == 200, answer.text[:2000]
    return answer.json()
