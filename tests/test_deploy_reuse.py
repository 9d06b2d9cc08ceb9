"""The code-only redeploy decision: when may a build reuse the previous
release's virtual environment? (No engine needed.)"""

from __future__ import annotations

from apps.deployments import build
from apps.lifecycle.source import SourceTree

FLASK = {"requirements.txt": "flask\n", "app.py": "app = None\n"}


def inputs(files: dict[str, str], app_settings: dict[str, str] | None = None, **kw) -> dict:
    return build.build_inputs(
        SourceTree.from_files(files),
        app_settings or {},
        kw.get("python", "3.11"),
        kw.get("runtime", "sha256:abc123"),
    )


def previous(files: dict[str, str], app_settings=None, depth: int = 0, layers: int = 3, **kw):
    return build.PreviousRelease(
        12, "berth/app-x:12", inputs(files, app_settings, **kw), depth, layers
    )


def decide(files: dict[str, str], prev, app_settings=None, **kw) -> build.ReuseDecision:
    app_settings = app_settings or {}
    tree = SourceTree.from_files(files)
    return build.decide_reuse(tree, app_settings, inputs(files, app_settings, **kw), prev)


def test_it_reuses_the_venv_when_only_the_code_changed():
    changed = {**FLASK, "app.py": "app = 2\n", "new.py": ""}
    d = decide(changed, previous(FLASK))
    assert d.reuse
    assert d.depth == 1
    assert (
        "requirements.txt unchanged since deployment 12: reusing its virtual environment"
        in d.message
    )
    assert "reusing its virtual environment" in d.message


def test_it_builds_in_full_when_requirements_change():
    d = decide({**FLASK, "requirements.txt": "flask\nrequests\n"}, previous(FLASK))
    assert not d.reuse
    assert d.message == "requirements.txt changed since deployment 12: full build."


def test_it_builds_in_full_when_the_python_version_or_runtime_image_changes():
    assert "Python changed" in decide(FLASK, previous(FLASK), python="3.12").message
    assert "runtime image changed" in decide(FLASK, previous(FLASK), runtime="sha256:f00").message


def test_it_builds_in_full_when_pre_build_or_pip_settings_change():
    d = decide(FLASK, previous(FLASK), {"PRE_BUILD_COMMAND": "apt-get install -y libpq5"})
    assert not d.reuse and "PRE_BUILD_COMMAND changed" in d.message
    d = decide(FLASK, previous(FLASK), {"PIP_EXTRA_INDEX_URL": "http://127.0.0.1/simple"})
    assert not d.reuse and "PIP_* app settings changed" in d.message
    same = {"PRE_BUILD_COMMAND": "echo hi"}
    assert decide(FLASK, previous(FLASK, same), same).reuse


def test_a_pre_build_script_file_counts_by_its_content():
    with_script = {**FLASK, "pre.sh": "echo one\n"}
    setting = {"PRE_BUILD_SCRIPT_PATH": "pre.sh"}
    prev = previous(with_script, setting)
    assert decide(with_script, prev, setting).reuse
    assert not decide({**with_script, "pre.sh": "echo two\n"}, prev, setting).reuse


def test_it_builds_in_full_without_an_earlier_release_or_its_inputs():
    assert decide(FLASK, None).message == "No earlier successful release to reuse: full build."
    old = build.PreviousRelease(12, "berth/app-x:12", {}, 0, 3)
    assert "predates build reuse" in decide(FLASK, old).message


def test_it_caps_the_stack_of_reusing_builds():
    prev = previous(FLASK, depth=build.REUSE_MAX_DEPTH)
    d = decide(FLASK, prev)
    assert not d.reuse and "keep the image flat" in d.message
    assert not decide(FLASK, previous(FLASK, layers=build.REUSE_MAX_LAYERS)).reuse
    assert decide(FLASK, previous(FLASK, depth=build.REUSE_MAX_DEPTH - 1)).reuse


def test_it_never_reuses_when_the_install_depends_on_the_code():
    for files in (
        {"setup.py": "from setuptools import setup\nsetup()\n", "app.py": ""},
        {"pyproject.toml": PACKAGE, "app.py": ""},
        {"pyproject.toml": PACKAGE, "uv.lock": "version = 1\n", "app.py": ""},
        {"requirements.txt": "-r base.txt\n", "base.txt": "flask\n"},
        {"requirements.txt": "-e .\n"},
        {"requirements.txt": "./libs/mylib\n"},
        {**FLASK, "antenv/pyvenv.cfg": "home = /usr\n"},
        {"app.py": ""},
    ):
        assert not decide(files, previous(files)).reuse, files


PACKAGE = "[build-system]\nrequires = ['setuptools']\n[project]\nname='x'\n"


def test_an_application_with_pyproject_or_uv_lock_reuses_until_they_change():
    app = {"pyproject.toml": "[project]\nname='x'\ndependencies=['flask']\n", "app.py": ""}
    for files in (app, {**app, "uv.lock": "version = 1\n"}):
        assert decide(files, previous(files)).reuse, files
    locked = {**app, "uv.lock": "version = 1\n"}
    changed = {**locked, "uv.lock": "version = 1\n# relocked\n"}
    d = decide(changed, previous(locked))
    assert not d.reuse and "uv.lock changed" in d.message


def test_no_build_means_no_reuse_and_no_message():
    off = {"SCM_DO_BUILD_DURING_DEPLOYMENT": "false"}
    assert decide(FLASK, previous(FLASK, off), off) == build.ReuseDecision(False, "")


def test_the_reusing_script_replaces_the_code_and_skips_pip():
    script = build.script(SourceTree.from_files(FLASK), {}, reuse="requirements.txt unchanged")
    assert "pip install -r" not in script
    assert "Step 1/1: pip install: skipped, reusing antenv" in script
    assert "! -name antenv -exec rm -rf" in script
    assert f"find /{build.STAGING} -mindepth 1" in script
    full = build.script(SourceTree.from_files(FLASK), {})
    assert "rm -rf" not in full and "pip install -r requirements.txt" in full


def test_the_labels_round_trip():
    labels = {build.INPUTS_LABEL: '{"Python": "3.11"}', build.DEPTH_LABEL: "3"}
    assert build.parse_inputs(labels) == ({"Python": "3.11"}, 3)
    assert build.parse_inputs({build.INPUTS_LABEL: "not json"}) == ({}, 0)


def test_only_a_reusing_build_without_user_commands_runs_offline():
    assert build.needs_network({}, reuse=False)
    assert not build.needs_network({}, reuse=True)
    assert build.needs_network({"POST_BUILD_COMMAND": "curl -O x"}, reuse=True)


def test_the_inputs_label_keys_its_digests_so_a_short_build_command_cannot_be_guessed(settings):
    files = {**FLASK, "setup.sh": "echo hi\n"}
    command = {"PRE_BUILD_COMMAND": "pip config set global.token hunter2"}
    keyed = inputs(files, command)["PRE_BUILD_COMMAND"]
    settings.SECRET_KEY = "another install's key"
    assert inputs(files, command)["PRE_BUILD_COMMAND"] != keyed
    assert "hunter2" not in str(inputs(files, command))


def test_a_release_built_as_root_is_not_reused():
    before = previous(FLASK)
    old = build.PreviousRelease(12, "berth/app-x:12", {**before.inputs}, 0, 3)
    del old.inputs["build user"]
    d = decide({**FLASK, "app.py": "app = 2\n"}, old)
    assert not d.reuse
    assert "build user changed since deployment 12: full build." in d.message
