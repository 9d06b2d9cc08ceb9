from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

from apps.deployments import intake
from apps.deployments.intake import BadZip


def make_zip(entries: dict[str, bytes | str], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def leftovers(tmp_path) -> list:
    return list((tmp_path / "artifacts" / ".incoming").glob("*"))


def test_it_accepts_a_plain_zip():
    path = intake.receive(make_zip({"app.py": "x", "templates/index.html": "y"}))
    assert path.exists()


@pytest.mark.parametrize(
    "entries, symlinks, fragment",
    [
        ({"../evil.py": "x"}, None, "outside the app's folder"),
        ({"a/../../evil.py": "x"}, None, "outside the app's folder"),
        ({"/etc/cron.d/evil": "x"}, None, "absolute path"),
        ({"app.py": "x"}, {"link": "/etc/passwd"}, "symbolic link"),
        ({"app.py": "x"}, {"sub/link": "../../outside"}, "symbolic link"),
        ({}, None, "no files"),
    ],
)
def test_it_refuses_unsafe_zips_and_leaves_nothing(tmp_path, entries, symlinks, fragment):
    with pytest.raises(BadZip) as e:
        intake.receive(make_zip(entries, symlinks))
    assert fragment in e.value.message
    assert leftovers(tmp_path) == []


def test_it_refuses_what_is_not_a_zip(tmp_path):
    with pytest.raises(BadZip, match="not a zip file"):
        intake.receive(b"hello, I am a text file")
    assert leftovers(tmp_path) == []


def test_it_refuses_an_empty_upload():
    with pytest.raises(BadZip, match="empty"):
        intake.receive(b"")


def test_it_refuses_an_oversized_zip(settings, tmp_path):
    settings.BERTH_MAX_ZIP_MB = 1
    data = make_zip({"big.bin": __import__("os").urandom(2 * 1024 * 1024)})
    with pytest.raises(BadZip, match="limit of 1 MB"):
        intake.receive(data)
    assert leftovers(tmp_path) == []


def test_it_refuses_a_zip_bomb(settings):
    settings.BERTH_MAX_UNZIPPED_MB = 5
    with pytest.raises(BadZip, match="unpacks to"):
        intake.receive(make_zip({"bomb.txt": b"0" * (20 * 1024 * 1024)}))


def test_it_allows_symlinks_inside_the_tree_and_makes_a_tar(tmp_path):
    path = intake.receive(make_zip({"app.py": "print()", "sub/a.txt": "a"}, {"sub/l": "a.txt"}))
    with tarfile.open(fileobj=intake.to_tar(path)) as tar:
        names = tar.getnames()
        assert "home/site/wwwroot/app.py" in names
        assert "home/site/wwwroot/sub" in names
        assert tar.getmember("home/site/wwwroot/sub/l").issym()
        assert tar.extractfile("home/site/wwwroot/app.py").read() == b"print()"
