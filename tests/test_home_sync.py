"""apps.lifecycle.homesync on real folders: what a release's code does to the
files in /home/site/wwwroot and what the app wrote there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.lifecycle import homesync, storage


def release(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def www(home: Path) -> Path:
    return home / "site" / "wwwroot"


def test_it_places_a_release_into_an_empty_home(tmp_path, home):
    src = release(tmp_path / "r1", {"manage.py": "v1", "app/views.py": "views v1"})
    result = homesync.sync(str(src), str(home), os.getuid(), "1")
    assert (www(home) / "manage.py").read_text() == "v1"
    assert (www(home) / "app/views.py").read_text() == "views v1"
    assert result["copied"] == 2 and result["replaced"] == []
    manifest = json.loads((home / ".berth/manifest.json").read_text())
    assert manifest["release"] == "1" and sorted(manifest["files"]) == ["app/views.py", "manage.py"]


def test_the_same_release_again_copies_nothing_and_keeps_app_changes(tmp_path, home):
    src = release(tmp_path / "r1", {"manage.py": "v1", "db.sqlite3": "shipped db"})
    homesync.sync(str(src), str(home), os.getuid(), "1")
    (www(home) / "db.sqlite3").write_text("rows the app wrote")
    (www(home) / "media").mkdir()
    (www(home) / "media/upload.png").write_text("png")
    result = homesync.sync(str(src), str(home), os.getuid(), "1")
    assert result["copied"] == 0 and result["replaced"] == []
    assert (www(home) / "db.sqlite3").read_text() == "rows the app wrote"
    assert (www(home) / "media/upload.png").read_text() == "png"


def test_a_new_release_keeps_app_files_and_removes_files_it_no_longer_ships(tmp_path, home):
    homesync.sync(str(release(tmp_path / "r1", {"a.py": "a1", "old.py": "old"})), str(home), 0, "1")
    (www(home) / "db.sqlite3").write_text("app data")
    (home / "data").mkdir()
    (home / "data/notes.txt").write_text("outside wwwroot")
    result = homesync.sync(str(release(tmp_path / "r2", {"a.py": "a2"})), str(home), 0, "2")
    assert (www(home) / "a.py").read_text() == "a2"
    assert not (www(home) / "old.py").exists()
    assert (www(home) / "db.sqlite3").read_text() == "app data"
    assert (home / "data/notes.txt").read_text() == "outside wwwroot"
    assert result["removed"] == 1 and result["replaced"] == []


def test_a_release_shipping_a_file_the_app_wrote_replaces_it_and_keeps_a_copy(tmp_path, home):
    homesync.sync(str(release(tmp_path / "r1", {"a.py": "a1"})), str(home), 0, "1")
    (www(home) / "db.sqlite3").write_text("app rows")
    result = homesync.sync(
        str(release(tmp_path / "r2", {"a.py": "a1", "db.sqlite3": "shipped"})), str(home), 0, "2"
    )
    assert (www(home) / "db.sqlite3").read_text() == "shipped"
    assert result["replaced"] == ["db.sqlite3"] and result["replaced_count"] == 1
    assert (home / ".berth/replaced/2/db.sqlite3").read_text() == "app rows"
    assert result["backup"] == "/home/.berth/replaced/2"


def test_a_shipped_file_the_app_changed_counts_as_the_apps(tmp_path, home):
    homesync.sync(str(release(tmp_path / "r1", {"db.sqlite3": "empty"})), str(home), 0, "1")
    (www(home) / "db.sqlite3").write_text("with rows")
    # The next release still ships it: replaced, with the app's copy kept.
    result = homesync.sync(
        str(release(tmp_path / "r2", {"db.sqlite3": "empty"})), str(home), 0, "2"
    )
    assert result["replaced"] == ["db.sqlite3"]
    # A release that no longer ships it keeps it: it is the app's data now.
    (www(home) / "db.sqlite3").write_text("more rows")
    result = homesync.sync(str(release(tmp_path / "r3", {"a.py": "a"})), str(home), 0, "3")
    assert result["kept"] == ["db.sqlite3"] and result["removed"] == 0
    assert (www(home) / "db.sqlite3").read_text() == "more rows"


def test_rollback_brings_back_code_never_older_data(tmp_path, home):
    r1 = release(tmp_path / "r1", {"a.py": "a1"})
    homesync.sync(str(r1), str(home), 0, "1")
    (www(home) / "db.sqlite3").write_text("row 1")
    homesync.sync(str(release(tmp_path / "r2", {"a.py": "a2", "b.py": "b"})), str(home), 0, "2")
    (www(home) / "db.sqlite3").write_text("row 1, row 2")
    homesync.sync(str(r1), str(home), 0, "3")
    assert (www(home) / "a.py").read_text() == "a1"
    assert not (www(home) / "b.py").exists()
    assert (www(home) / "db.sqlite3").read_text() == "row 1, row 2"


def test_putting_back_after_a_failed_release_restores_what_it_replaced(tmp_path, home):
    r1 = release(tmp_path / "r1", {"a.py": "a1"})
    homesync.sync(str(r1), str(home), 0, "1")
    (www(home) / "settings.ini").write_text("the app's")
    homesync.sync(
        str(release(tmp_path / "r2", {"a.py": "bad", "settings.ini": "x"})), str(home), 0, "2"
    )
    homesync.sync(str(r1), str(home), 0, "1")
    assert homesync.undo_replaced(str(home), "2", 0) == ["settings.ini"]
    assert (www(home) / "a.py").read_text() == "a1"
    assert (www(home) / "settings.ini").read_text() == "the app's"
    assert not (home / ".berth/replaced/2").exists()


def test_a_folder_of_the_apps_where_the_release_ships_a_file_is_kept_aside(tmp_path, home):
    homesync.sync(str(release(tmp_path / "r1", {"a.py": "a"})), str(home), 0, "1")
    (www(home) / "static").mkdir()
    (www(home) / "static/x.css").write_text("css")
    result = homesync.sync(
        str(release(tmp_path / "r2", {"static": "a file now"})), str(home), 0, "2"
    )
    assert (www(home) / "static").read_text() == "a file now"
    assert (home / ".berth/replaced/2/static/x.css").read_text() == "css"
    assert result["replaced"] == ["static"]


def test_symlinks_are_copied_as_links(tmp_path, home):
    src = release(tmp_path / "r1", {"lib/real.py": "x"})
    (src / "link.py").symlink_to("lib/real.py")
    homesync.sync(str(src), str(home), 0, "1")
    assert os.readlink(www(home) / "link.py") == "lib/real.py"


def test_run_as_a_script_it_prints_its_result_for_storage_to_read(tmp_path, home):
    src = release(tmp_path / "r1", {"manage.py": "v1"})
    script = storage.SYNC_SCRIPT.read_text()
    out = subprocess.run(
        [sys.executable, "-c", script, str(src), str(home), str(os.getuid()), "7"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = storage.parse_result(out)
    assert result is not None and result["release"] == "7" and result["copied"] == 1
    placed = storage.Placed(**result)
    assert "release 7's 1 files" in placed.lines()[0]


def test_an_unreadable_result_is_none():
    assert storage.parse_result("Traceback ...\nOSError: boom") is None
    assert storage.parse_result("BERTH-HOMESYNC {not json") is None


def test_a_changed_file_of_the_same_size_and_time_is_copied(tmp_path, home):
    # Uploads reach release images with one fixed mtime: only bytes tell them apart.
    r1 = release(tmp_path / "r1", {"version.txt": "v1"})
    r2 = release(tmp_path / "r2", {"version.txt": "v2"})
    for r in (r1, r2):
        os.utime(r / "version.txt", ns=(0, 0))
    homesync.sync(str(r1), str(home), 0, "1")
    result = homesync.sync(str(r2), str(home), 0, "2")
    assert (www(home) / "version.txt").read_text() == "v2" and result["copied"] == 1


def test_adopting_a_containers_home_records_shipped_files_and_keeps_the_apps(tmp_path, home):
    # /home copied from a container that ran release 1 without the volume:
    # its code, a shipped db the app changed, and a file of the app's.
    r1 = release(tmp_path / "r1", {"app.py": "code", "db.sqlite3": "empty", "gone.py": "x"})
    release(www(home), {"app.py": "code", "db.sqlite3": "rows", "notes.txt": "mine"})
    result = homesync.sync(str(r1), str(home), 0, "1", adopt=True)
    assert (result["copied"], result["unchanged"], result["replaced"]) == (1, 1, [])
    assert (www(home) / "db.sqlite3").read_text() == "rows"
    manifest = json.loads((home / ".berth/manifest.json").read_text())["files"]
    assert sorted(manifest) == ["app.py", "gone.py"]  # the changed db is the app's
    # The next release ships a db too: the app's rows are replaced, and kept aside.
    r2 = release(tmp_path / "r2", {"app.py": "code 2", "db.sqlite3": "empty"})
    result = homesync.sync(str(r2), str(home), 0, "2")
    assert result["replaced"] == ["db.sqlite3"] and result["removed"] == 1
    assert (home / ".berth/replaced/2/db.sqlite3").read_text() == "rows"
    assert (www(home) / "notes.txt").read_text() == "mine"


def test_the_script_reads_its_options(tmp_path, home):
    r1 = release(tmp_path / "r1", {"a.py": "a"})
    r2 = release(tmp_path / "r2", {"a.py": "b"})
    script = storage.SYNC_SCRIPT.read_text()

    def run(src: Path, *args: str) -> dict | None:
        argv = [sys.executable, "-c", script, str(src), str(home), str(os.getuid()), *args]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        return storage.parse_result(done.stdout)

    run(r1, "1")
    (www(home) / "a.py").write_text("the app's")
    assert run(r2, "2")["replaced"] == ["a.py"]
    assert (www(home) / "a.py").read_text() == "b"
    # Release 2 did not start: release 1's code, and the app's file, come back.
    assert run(r1, "1", "--undo=2")["restored"] == ["a.py"]
    assert (www(home) / "a.py").read_text() == "the app's"


def test_a_new_release_drops_the_bytecode_python_wrote_for_the_old_code(tmp_path, home):
    # Same size, same (zip) time: Python's own check would take the old cache.
    r1 = release(tmp_path / "r1", {"app.py": 'V = "v1"', "lib/__pycache__/x.cpython-311.pyc": "s"})
    r2 = release(tmp_path / "r2", {"app.py": 'V = "v2"', "lib/__pycache__/x.cpython-311.pyc": "s"})
    homesync.sync(str(r1), str(home), 0, "1")
    release(www(home), {"__pycache__/app.cpython-311.pyc": "compiled v1"})
    again = homesync.sync(str(r1), str(home), 0, "1")  # a restart keeps it
    assert again["bytecode_dropped"] == 0
    result = homesync.sync(str(r2), str(home), 0, "2")
    assert result["bytecode_dropped"] == 1 and result["replaced"] == []
    assert not (www(home) / "__pycache__/app.cpython-311.pyc").exists()
    assert (www(home) / "lib/__pycache__/x.cpython-311.pyc").exists()  # shipped: kept
