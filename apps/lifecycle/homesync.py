"""Put a release's code into the app's persistent /home, keeping what the app wrote.

Runs INSIDE a throwaway container made from the release image, with the
app's volume mounted at another path (apps.lifecycle.storage runs it as
`python3 -c <this file> SRC DST UID RELEASE [--undo=FAILED] [--adopt]`):
the image's own /home/site/wwwroot is the release's code (SRC), the
volume's site/wwwroot is DST. Standard library only, Python 3.9+ (the
oldest runtime), no Django.

For the release the volume already holds (a restart, a settings change),
nothing the app changed is touched: only shipped files that are missing
come back. For another release (a deploy, a rollback), as App Service's zip
deploy does, with a record of it:
- every file the release ships is copied to DST unless DST already has the
  same bytes there;
- a file in DST that the release ships too but the app wrote (it is not in
  the manifest of shipped files, or changed since it was shipped) is
  overwritten, and first moved to <state>/replaced/<release>/<path>, so no
  byte the app wrote is lost; the result names it;
- a file the previous release shipped and this one doesn't is removed,
  unless the app changed it since (then it is kept and named);
- bytecode caches (__pycache__/*.pyc) it does not ship are removed: they
  were written for the previous code;
- everything else in DST (the app's own files) is left alone.
The manifest of shipped files (<state>/manifest.json) is written last,
atomically. With --undo=FAILED (a release that did not start), the app's files
that release replaced are moved back from its backup afterwards. The last
line of output is `BERTH-HOMESYNC {json}`.
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import shutil
import stat
import sys

RESULT_PREFIX = "BERTH-HOMESYNC "
STATE = ".berth"  # beside site/ in the volume: /home/.berth in the app
MANIFEST = "manifest.json"
REPLACED = "replaced"
LISTED = 50  # names the result lists at most, per kind


def _stamp(st: os.stat_result) -> list:
    if stat.S_ISLNK(st.st_mode):
        return ["l"]
    return [st.st_size, st.st_mtime_ns]


def _read_manifest(path: str) -> tuple[str, dict[str, list]]:
    """(the release it was written for, {path: stamp}); ("", {}) if none or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return str(data.get("release", "")), dict(data.get("files", {}))
    except (OSError, ValueError, AttributeError):
        return "", {}


def _shipped_files(src: str) -> list[str]:
    """Paths (relative, with /) of the files and symlinks under src, sorted."""
    found = []
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        kept = []
        for d in dirs:
            if os.path.islink(os.path.join(root, d)):
                files.append(d)  # a symlink to a folder is copied as a link
            else:
                kept.append(d)
        dirs[:] = kept
        for name in files:
            found.append(name if rel_root == "." else f"{rel_root}/{name}")
    return sorted(found)


def _same(src: str, dst: str, sst: os.stat_result, dstat: os.stat_result) -> bool:
    if stat.S_ISLNK(sst.st_mode) or stat.S_ISLNK(dstat.st_mode):
        return (
            stat.S_ISLNK(sst.st_mode)
            and stat.S_ISLNK(dstat.st_mode)
            and os.readlink(src) == os.readlink(dst)
        )
    if not stat.S_ISREG(dstat.st_mode) or sst.st_size != dstat.st_size:
        return False
    # Bytes, not times: uploads reach the image with one fixed time.
    return filecmp.cmp(src, dst, shallow=False)


def _chown(path: str, uid: int) -> None:
    with contextlib.suppress(OSError):
        os.lchown(path, uid, uid)


def _makedirs(path: str, top: str, uid: int) -> None:
    """mkdir -p, giving each new folder (and any non-folder in the way,
    moved aside by the caller) to uid."""
    missing = []
    while not os.path.isdir(path) and path != top:
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        os.mkdir(folder)
        _chown(folder, uid)


def _copy(src: str, dst: str, sst: os.stat_result, uid: int) -> None:
    tmp = f"{dst}.berth-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    if stat.S_ISLNK(sst.st_mode):
        os.symlink(os.readlink(src), tmp)
    else:
        shutil.copy2(src, tmp, follow_symlinks=False)
    _chown(tmp, uid)
    os.replace(tmp, dst)  # a reader sees the old file or the new one, never half


def _move_aside(dst: str, backup: str, top: str, uid: int) -> None:
    _makedirs(os.path.dirname(backup), top, uid)
    if os.path.lexists(backup):
        if os.path.isdir(backup) and not os.path.islink(backup):
            shutil.rmtree(backup)
        else:
            os.unlink(backup)
    os.replace(dst, backup)


def sync(src: str, home: str, uid: int, release: str, *, adopt: bool = False) -> dict:
    """Sync src (the release's code) into home/site/wwwroot; see the module's
    doc. With `adopt` (a /home just copied from a container that ran this
    release without the volume), only what is missing is copied and a
    shipped path holding other bytes is left as the app's."""
    dst_root = os.path.join(home, "site", "wwwroot")
    state = os.path.join(home, STATE)
    for folder in (home, os.path.join(home, "site"), dst_root, state):
        if not os.path.isdir(folder):
            os.mkdir(folder)
        _chown(folder, uid)
    manifest_path = os.path.join(state, MANIFEST)
    was_release, old = _read_manifest(manifest_path)
    # The same release again (a restart, a settings change): nothing the app
    # changed is touched; only a shipped file that is missing comes back.
    again = was_release == release
    backup_root = os.path.join(state, REPLACED, release)
    new: dict[str, list] = {}
    copied = unchanged = 0
    replaced: list[str] = []
    for rel in _shipped_files(src):
        s = os.path.join(src, rel)
        d = os.path.join(dst_root, rel)
        sst = os.lstat(s)
        parent = os.path.dirname(d)
        # A file (or link) of the app's where the release has a folder: move it aside.
        probe = parent
        while probe != dst_root and not os.path.isdir(probe):
            if os.path.lexists(probe):
                relp = os.path.relpath(probe, dst_root)
                _move_aside(probe, os.path.join(backup_root, relp), state, uid)
                replaced.append(relp)
                break
            probe = os.path.dirname(probe)
        _makedirs(parent, dst_root, uid)
        try:
            dstat = os.lstat(d)
        except FileNotFoundError:
            dstat = None
        if dstat is not None and again:
            unchanged += 1
            new[rel] = old.get(rel) or _stamp(dstat)
            continue
        if dstat is not None and adopt:
            if _same(s, d, sst, dstat):
                unchanged += 1
                new[rel] = _stamp(dstat)
            continue  # other bytes: the app's, not in the manifest
        if dstat is not None and _same(s, d, sst, dstat):
            unchanged += 1
        else:
            if dstat is not None:
                shipped = old.get(rel) == _stamp(dstat)
                if stat.S_ISDIR(dstat.st_mode) or not shipped:
                    # The app's own bytes (or folder): keep a copy, then overwrite.
                    _move_aside(d, os.path.join(backup_root, rel), state, uid)
                    replaced.append(rel)
            _copy(s, d, sst, uid)
            copied += 1
        new[rel] = _stamp(os.lstat(d))
    removed: list[str] = []
    kept: list[str] = []
    for rel, was in sorted(old.items()):
        if rel in new:
            continue
        d = os.path.join(dst_root, rel)
        try:
            dstat = os.lstat(d)
        except FileNotFoundError:
            continue
        if _stamp(dstat) == was:
            os.unlink(d)
            removed.append(rel)
            _prune(os.path.dirname(d), dst_root)
        else:
            kept.append(rel)  # shipped once, changed by the app since: its data now
    dropped = [] if again or adopt else _drop_bytecode(dst_root, new)
    kept = [rel for rel in kept if rel not in set(dropped)]
    tmp = f"{manifest_path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"release": release, "files": new}, f)
    _chown(tmp, uid)
    os.replace(tmp, manifest_path)
    return {
        "release": release,
        "shipped": len(new),
        "copied": copied,
        "unchanged": unchanged,
        "removed": len(removed),
        "replaced": replaced[:LISTED],
        "replaced_count": len(replaced),
        "kept": kept[:LISTED],
        "kept_count": len(kept),
        "backup": f"/home/{STATE}/{REPLACED}/{release}" if replaced else "",
        "bytecode_dropped": len(dropped),
    }


def _drop_bytecode(dst_root: str, shipped: dict[str, list]) -> list[str]:
    """Remove the bytecode caches (__pycache__/*.pyc) the new release does
    not ship: Python wrote them for the previous release's code, and checks
    a cache against its source's size and time only, which an upload of the
    same size (files from a zip all carry one time) would pass."""
    dropped = []
    for root, _dirs, files in os.walk(dst_root):
        if os.path.basename(root) != "__pycache__":
            continue
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), dst_root)
            if name.endswith(".pyc") and rel not in shipped:
                os.unlink(os.path.join(root, name))
                dropped.append(rel)
    return dropped


def undo_replaced(home: str, release: str, uid: int) -> list[str]:
    """Move the app's files that `release` replaced (kept in its backup) back
    into wwwroot: that release did not start, so what the app had stays."""
    dst_root = os.path.join(home, "site", "wwwroot")
    backup_root = os.path.join(home, STATE, REPLACED, release)
    restored = []
    for rel in _shipped_files(backup_root) if os.path.isdir(backup_root) else []:
        d = os.path.join(dst_root, rel)
        _makedirs(os.path.dirname(d), dst_root, uid)
        if os.path.isdir(d) and not os.path.islink(d):
            shutil.rmtree(d)
        os.replace(os.path.join(backup_root, rel), d)
        restored.append(rel)
    shutil.rmtree(backup_root, ignore_errors=True)
    return restored


def _prune(folder: str, top: str) -> None:
    """Remove folders left empty by a removal, up to (not including) top."""
    while folder != top and folder.startswith(top):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)


def main(argv: list[str]) -> int:
    src, home, uid, release = argv[0], argv[1], int(argv[2]), argv[3]
    options = dict(a[2:].partition("=")[::2] for a in argv[4:] if a.startswith("--"))
    if not os.path.isdir(src):
        os.makedirs(src, exist_ok=True)  # an image with no code: an empty wwwroot
    result = sync(src, home, uid, release, adopt="adopt" in options)
    if options.get("undo"):  # putting back the code after that release failed to start
        result["restored"] = undo_replaced(home, options["undo"], uid)[:LISTED]
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
