"""The check on upload, before the build."""

from __future__ import annotations

import io
import zipfile

from apps.diagnostics.precheck import check_zip


def make_zip(files: dict[str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    buf.seek(0)
    return buf


FLASK = "from flask import Flask\napp = Flask(__name__)\n"


def codes(result) -> list[str]:
    return [w.code for w in result.warnings]


def test_it_passes_a_clean_flask_app_and_names_the_rule_and_command():
    result = check_zip(make_zip({"app.py": FLASK, "requirements.txt": "Flask\n"}))
    assert result.warnings == ()
    assert result.rule == "flask"
    assert "app:app" in result.command
    assert "found app.py" in result.startup


def test_it_warns_about_a_committed_virtual_environment():
    files = {
        "app.py": FLASK,
        "requirements.txt": "",
        "venv/pyvenv.cfg": "home = /usr/bin\n",
        "venv/lib/python3.11/site-packages/flask/__init__.py": "",
    }
    result = check_zip(make_zip(files))
    assert codes(result) == ["committed_venv"]
    assert result.warnings[0].path == "venv"


def test_it_warns_about_a_missing_requirements_txt():
    result = check_zip(make_zip({"app.py": FLASK}))
    assert codes(result) == ["missing_requirements"]


def test_it_names_a_misnamed_requirements_file():
    result = check_zip(make_zip({"app.py": FLASK, "Requirements.txt": "Flask\n"}))
    assert codes(result) == ["misnamed_requirements"]
    assert "Requirements.txt" in result.warnings[0].message


def test_it_warns_about_a_hard_coded_secret_key_with_debug_on():
    settings = (
        "SECRET_KEY = 'django-insecure-abcdefghijklmnop'\nDEBUG = True\nINSTALLED_APPS = []\n"
    )
    files = {
        "manage.py": "",
        "mysite/wsgi.py": "",
        "mysite/settings.py": settings,
        "requirements.txt": "Django\n",
    }
    result = check_zip(make_zip(files))
    assert codes(result) == ["secret_key_debug"]
    assert result.warnings[0].path == "mysite/settings.py" and result.warnings[0].line == 1
    assert result.rule == "django"
    assert "mysite.wsgi" in result.command


def test_it_accepts_a_secret_key_read_from_the_environment():
    settings = (
        "import os\nSECRET_KEY = os.environ['SECRET_KEY']\nDEBUG = True\nINSTALLED_APPS = []\n"
    )
    files = {"mysite/wsgi.py": "", "mysite/settings.py": settings, "requirements.txt": ""}
    assert check_zip(make_zip(files)).warnings == ()


def test_it_says_when_the_default_site_will_answer_and_what_to_do():
    result = check_zip(
        make_zip(
            {
                "website/hello.py": "from flask import Flask\nmyapp = Flask(__name__)\n",
                "requirements.txt": "",
            }
        )
    )
    assert result.rule == "default"
    assert "default site" in result.startup
    assert "--chdir website hello:myapp" in result.startup


def test_it_says_a_custom_startup_command_comes_first():
    result = check_zip(
        make_zip({"app.py": FLASK, "requirements.txt": ""}), app_command_line="gunicorn app:app"
    )
    assert result.rule == "custom"
    assert "If it exits, it falls back to flask" in result.startup
