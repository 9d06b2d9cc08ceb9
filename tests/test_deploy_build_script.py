from __future__ import annotations

import subprocess

from apps.deployments import build
from apps.lifecycle.source import SourceTree

DJANGO = {"manage.py": "", "requirements.txt": "Django==5.2\n", "mysite/wsgi.py": ""}


def titles(files: dict[str, str], settings: dict[str, str]) -> list[str]:
    steps, _ = build.steps(SourceTree.from_files(files), settings)
    return [s.title for s in steps]


def test_it_runs_the_steps_in_app_services_order():
    settings = {"PRE_BUILD_COMMAND": "echo pre", "POST_BUILD_COMMAND": "echo post"}
    assert titles(DJANGO, settings) == [
        "PRE_BUILD_COMMAND: echo pre",
        "pip install -r requirements.txt",
        "python manage.py collectstatic --noinput",
        "POST_BUILD_COMMAND: echo post",
    ]


def test_script_path_aliases_win_over_commands():
    settings = {
        "PRE_BUILD_COMMAND": "echo pre",
        "PRE_BUILD_SCRIPT_PATH": "scripts/pre.sh",
        "POST_BUILD_SCRIPT_PATH": "post.sh",
    }
    t = titles({"requirements.txt": "flask\n"}, settings)
    assert t[0] == "PRE_BUILD_SCRIPT_PATH: scripts/pre.sh"
    assert t[-1] == "POST_BUILD_SCRIPT_PATH: post.sh"


def test_disable_collectstatic_skips_it_and_says_so():
    steps, notes = build.steps(SourceTree.from_files(DJANGO), {"DISABLE_COLLECTSTATIC": "true"})
    assert "collectstatic" not in " ".join(s.title for s in steps)
    assert "DISABLE_COLLECTSTATIC is true: not running collectstatic." in notes


def test_collectstatic_needs_django_in_requirements():
    files = {"manage.py": "", "requirements.txt": "django-environ\nflask\n"}
    steps, notes = build.steps(SourceTree.from_files(files), {})
    assert "collectstatic" not in " ".join(s.title for s in steps)
    assert any("Django is not in requirements.txt" in n for n in notes)


def test_collectstatic_failure_is_only_a_warning():
    steps, _ = build.steps(SourceTree.from_files(DJANGO), {})
    assert [s.required for s in steps if "collectstatic" in s.title] == [False]


def test_it_prints_the_docs_message_when_there_is_nothing_to_install():
    text = build.script(SourceTree.from_files({"app.py": ""}), {})
    assert "Could not find setup.py or requirements.txt; Not running pip install." in text


def test_it_names_a_misnamed_requirements_file():
    text = build.script(SourceTree.from_files({"Requirements.txt": "flask"}), {})
    assert "rename it to requirements.txt" in text


PACKAGE = "[build-system]\nrequires = ['setuptools']\n[project]\nname = 'x'\n"
APPLICATION = "[project]\nname = 'x'\ndependencies = ['flask>=3', 'gunicorn']\n"


def test_it_installs_a_pyproject_package_with_pip():
    assert titles({"pyproject.toml": PACKAGE}, {}) == ["pip install . (pyproject.toml)"]
    assert titles({"setup.py": ""}, {}) == ["pip install . (setup.py)"]


def test_requirements_txt_wins_over_pyproject():
    files = {"pyproject.toml": PACKAGE, "uv.lock": "", "requirements.txt": "flask\n"}
    assert titles(files, {}) == ["pip install -r requirements.txt"]


def test_an_application_pyproject_installs_its_dependencies_only(tmp_path):
    files = {"pyproject.toml": APPLICATION}
    assert titles(files, {}) == ["pip install pyproject.toml's dependencies"]
    # The embedded reader, run for real on this pyproject.toml.
    (tmp_path / "pyproject.toml").write_text(APPLICATION)
    out = subprocess.run(
        ["python3", "-c", build.PYPROJECT_DEPENDENCIES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["flask>=3", "gunicorn"]


def test_a_uv_lock_installs_the_locked_versions_and_then_a_package_itself():
    steps, _ = build.steps(
        SourceTree.from_files({"pyproject.toml": APPLICATION, "uv.lock": ""}), {}
    )
    assert [s.title for s in steps] == ["pip install the versions locked in uv.lock"]
    assert "uv export --frozen --no-dev" in steps[0].script
    assert "--no-deps ." not in steps[0].script  # an application: not installed itself
    steps, _ = build.steps(SourceTree.from_files({"pyproject.toml": PACKAGE, "uv.lock": ""}), {})
    assert steps[0].script.rstrip().endswith("$PIP install --no-deps .")


def test_scm_do_build_false_means_no_build():
    steps, notes = build.steps(
        SourceTree.from_files(DJANGO), {"SCM_DO_BUILD_DURING_DEPLOYMENT": "false"}
    )
    assert steps == []
    assert "no build" in notes[0]


def test_it_builds_by_default_and_says_so():
    _, notes = build.steps(SourceTree.from_files(DJANGO), {})
    assert "Berth builds by default" in notes[0]


def test_the_script_is_valid_bash_and_stops_at_a_failing_step(tmp_path):
    files = {"app.py": ""}
    settings = {"PRE_BUILD_COMMAND": "echo pre-ran; exit 4", "POST_BUILD_COMMAND": "echo post-ran"}
    text = build.script(SourceTree.from_files(files), settings)
    text = text.replace("cd /home/site/wwwroot", f"cd {tmp_path}")
    result = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=10)
    assert result.returncode == 4
    assert "pre-ran" in result.stdout
    assert "ERROR: PRE_BUILD_COMMAND: echo pre-ran; exit 4 failed with exit code 4" in result.stdout
    assert "post-ran" not in result.stdout


def test_a_pre_build_value_naming_a_file_runs_the_file(tmp_path):
    (tmp_path / "pre.sh").write_text("echo from-the-file\n")
    text = build.script(SourceTree.from_files({}), {"PRE_BUILD_COMMAND": "pre.sh"})
    text = text.replace("cd /home/site/wwwroot", f"cd {tmp_path}")
    result = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "from-the-file" in result.stdout
    assert result.stdout.index("from-the-file") < result.stdout.index("Could not find setup.py")
