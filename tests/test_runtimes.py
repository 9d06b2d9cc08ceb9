"""Runtime images: the catalog, choosing a recipe, the lock, the task, the CLI
and the runtimes page. The Docker client is patched (autospec); the real
images are exercised in test_runtime_images.py."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.engine import (
    build_image,
    builders,
    buildplan,
    buildstate,
    client,
    debootstrap,
    pullbuild,
    recipe,
    runtime_image,
    runtimes,
    tasks,
)
from apps.engine.errors import EngineError, EngineUnavailable, RuntimeUnavailable

DEB822 = """\
Types: deb
# a snapshot comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""

DEB822_SECURITY_FIRST = """\
Types: deb-src
URIs: http://sources.example/debian
Suites: bookworm

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://mirror.example/debian/
Suites: bookworm
Components: main
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://mirror.example/debian-security bookworm-security main
deb http://mirror.example/debian bookworm main contrib
deb-src http://mirror.example/debian bookworm main
"""


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_RUNTIME_SOURCE = "auto"
    settings.BERTH_RUNTIME_BASE_IMAGE = "python:{version}-slim"
    settings.BERTH_RUNTIME_IMAGE_PREFIX = "berth/python"


ENGINE_CALLS = (
    "image_exists",
    "image_labels",
    "image_size",
    "registry_has",
    "run_once",
    "remove_image",
    "import_image",
    "pull_image",
    "build_image",
    "image_facts",
)


@pytest.fixture
def engine():
    """The engine seam, patched: no image exists, no registry answers."""
    fake = mock.create_autospec(client)
    fake.image_exists.return_value = False
    fake.image_labels.return_value = {}
    fake.registry_has.return_value = False
    fake.image_facts.return_value = None
    # The builder's modules call the seam as client.<name>: patch it there.
    with contextlib.ExitStack() as stack:
        for name in ENGINE_CALLS:
            stack.enter_context(mock.patch.object(client, name, getattr(fake, name)))
        # The build image on top is tested on its own (tests/test_missing_header.py).
        fake.build_image_build = stack.enter_context(mock.patch.object(build_image, "build"))
        yield fake


@pytest.fixture
def can_debootstrap():
    with (
        mock.patch.object(buildplan, "debootstrap_missing", return_value=""),
        mock.patch.object(
            buildplan, "find_debian_mirror", return_value="http://mirror.example/debian"
        ),
    ):
        yield


@pytest.fixture
def cannot_debootstrap():
    with mock.patch.object(
        buildplan,
        "debootstrap_missing",
        return_value="debootstrap is not installed (apt-get install debootstrap)",
    ):
        yield


# The host's apt sources


def test_it_reads_deb822_sources():
    sources = builders.parse_deb822_sources(DEB822)
    assert sources == [
        builders.AptSource("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        builders.AptSource("http://mirror.example/debian-security", ("bookworm-security",)),
    ]


def test_it_skips_source_entries_and_reads_one_line_format():
    sources = builders.parse_one_line_sources(ONE_LINE)
    assert sources == [
        builders.AptSource("http://mirror.example/debian-security", ("bookworm-security",)),
        builders.AptSource("http://mirror.example/debian", ("bookworm",)),
    ]


def test_it_picks_the_archive_with_a_plain_suite(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822_SECURITY_FIRST)
    assert builders.find_debian_mirror(tmp_path) == "https://mirror.example/debian"


def test_it_falls_back_to_sources_list(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(ONE_LINE)
    assert builders.find_debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_it_finds_no_archive_in_an_empty_apt_folder(tmp_path):
    assert builders.find_debian_mirror(tmp_path) is None


# Suites and recipes


def test_it_maps_versions_to_debian_suites():
    assert builders.suite_for("3.9") == "bullseye"
    assert builders.suite_for("3.11") == "bookworm"
    assert builders.suite_for("3.13") == "trixie"
    assert builders.suite_for("3.14") == "forky"
    assert builders.suite_for("3.10") is None
    assert builders.suite_for("3.12") is None


def test_it_uses_sids_script_for_suites_debootstrap_does_not_know(tmp_path):
    (tmp_path / "bookworm").write_text("")
    assert builders.debootstrap_script("bookworm", tmp_path) is None
    assert builders.debootstrap_script("forky", tmp_path) == str(tmp_path / "sid")


def test_it_bootstraps_when_no_registry_answers(engine, can_debootstrap):
    chosen = builders.plan("3.11")
    assert chosen.source == "debootstrap"
    assert chosen.suite == "bookworm"
    engine.registry_has.assert_called_once_with("python:3.11-slim", timeout=builders.PROBE_TIMEOUT)


def test_it_pulls_when_the_registry_answers_and_keeps_debootstrap_as_fallback(
    engine, can_debootstrap
):
    engine.registry_has.return_value = True
    chosen = builders.plan("3.11")
    assert chosen.source == "pull"
    assert chosen.base_image == "python:3.11-slim"
    assert chosen.fallback and chosen.fallback.source == "debootstrap"


def test_it_pulls_versions_no_suite_carries_when_the_registry_answers(engine, can_debootstrap):
    engine.registry_has.return_value = True
    chosen = builders.plan("3.12")
    assert (chosen.source, chosen.base_image, chosen.fallback) == ("pull", "python:3.12-slim", None)


def test_it_remembers_the_registry_probe(engine, can_debootstrap):
    for _ in range(3):
        with pytest.raises(RuntimeUnavailable):
            builders.plan("3.10")
    assert engine.registry_has.call_count == 1


def test_it_says_why_a_version_cannot_be_built(engine, can_debootstrap):
    with pytest.raises(RuntimeUnavailable) as e:
        builders.plan("3.10")
    assert e.value.message == "3.10: no Debian suite carries it and no registry is reachable."


def test_it_says_what_to_install_without_debootstrap(settings, engine, cannot_debootstrap):
    settings.BERTH_RUNTIME_SOURCE = "debootstrap"
    with pytest.raises(RuntimeUnavailable, match="apt-get install debootstrap"):
        builders.plan("3.11")


def test_it_only_pulls_when_told_to(settings, engine, cannot_debootstrap):
    settings.BERTH_RUNTIME_SOURCE = "pull"
    settings.BERTH_RUNTIME_BASE_IMAGE = "registry.example/python:{version}"
    chosen = builders.plan("3.13")
    assert (chosen.source, chosen.base_image) == ("pull", "registry.example/python:3.13")
    engine.registry_has.assert_not_called()


def test_it_rejects_versions_it_does_not_offer(engine):
    with pytest.raises(RuntimeUnavailable, match="choose one of"):
        builders.plan("2.7")


def test_it_rejects_an_unknown_source_setting(settings, engine):
    settings.BERTH_RUNTIME_SOURCE = "magic"
    with pytest.raises(RuntimeUnavailable, match="auto, pull or debootstrap"):
        builders.plan("3.11")


# The catalog


def test_it_lists_every_version_with_its_status(engine, can_debootstrap):
    engine.image_exists.side_effect = lambda tag: tag.endswith(":3.11")
    engine.image_labels.return_value = {
        builders.LABEL_SOURCE: "debootstrap",
        builders.LABEL_REVISION: builders.runtime_revision(),
    }
    by_version = {rt.version: rt for rt in runtimes.catalog()}
    assert list(by_version) == list(runtimes.PYTHON_VERSIONS)
    assert by_version["3.11"].status == runtimes.Status.READY
    assert by_version["3.11"].detail == "built by debootstrap"
    assert by_version["3.13"].status == runtimes.Status.BUILDABLE
    assert "debootstrap Debian trixie" in by_version["3.13"].detail
    assert by_version["3.10"].status == runtimes.Status.UNAVAILABLE
    assert "no registry is reachable" in by_version["3.10"].detail
    assert by_version["3.12"].config == "PYTHON|3.12"
    assert by_version["3.12"].image == "berth/python:3.12"


def test_it_says_when_a_ready_image_has_an_older_recipe(engine, can_debootstrap):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: "old"}
    assert "older recipe" in runtimes.runtime("3.11").detail


def test_it_marks_versions_unavailable_without_debootstrap(engine, cannot_debootstrap):
    rt = runtimes.runtime("3.11")
    assert rt.status == runtimes.Status.UNAVAILABLE
    assert "apt-get install debootstrap" in rt.detail


def test_it_marks_everything_unavailable_when_the_engine_is_down(engine, can_debootstrap):
    engine.image_exists.side_effect = EngineUnavailable("The Docker engine is not reachable")
    assert {rt.status for rt in runtimes.catalog()} == {runtimes.Status.UNAVAILABLE}


def test_it_shows_building_while_the_lock_is_held(engine, can_debootstrap):
    with builders.build_lock("3.13", lambda p, m: None):
        rt = runtimes.runtime("3.13")
    assert rt.status == runtimes.Status.BUILDING
    assert runtimes.runtime("3.13").status == runtimes.Status.BUILDABLE


def test_it_shows_building_while_a_build_is_queued(engine, can_debootstrap):
    builders.mark_queued("3.13")
    rt = runtimes.runtime("3.13")
    assert rt.status == runtimes.Status.BUILDING
    assert rt.progress.status == "queued"


def test_it_shows_the_last_failure(engine, can_debootstrap):
    builders.write_state(builders.BuildState("3.13", status="failed", error="debootstrap exited 1"))
    rt = runtimes.runtime("3.13")
    assert rt.status == runtimes.Status.BUILDABLE
    assert rt.detail.startswith("Last build failed: debootstrap exited 1; ")


def test_it_does_not_show_a_crashed_build_as_building(engine, can_debootstrap):
    builders.write_state(builders.BuildState("3.13", status="running", percent=40))
    rt = runtimes.runtime("3.13")
    assert rt.status == runtimes.Status.BUILDABLE
    assert "stopped before finishing" in rt.detail


# The lock


def test_the_lock_is_seen_by_another_process(tmp_path, settings):
    # flock works across processes: a child holding it makes us see "building".
    lock = buildstate.lock_path("3.11")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(lock)!r}, 'a'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        assert builders.is_building("3.11")
    finally:
        child.communicate("", timeout=10)
    assert not builders.is_building("3.11")


def test_a_second_builder_waits_and_says_so(engine):
    messages = []
    done = threading.Event()
    with builders.build_lock("3.11", lambda p, m: messages.append(m)):

        def second():
            with builders.build_lock("3.11", lambda p, m: messages.append(m)):
                done.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(0.3)
    thread.join(5)
    assert done.is_set()
    assert any("waiting for it" in m for m in messages)


# ensure_runtime


def test_it_returns_quickly_when_the_current_image_exists(engine):
    engine.image_exists.return_value = True
    labels = {
        builders.LABEL_REVISION: builders.runtime_revision(),
        build_image.LABEL_BUILD_REVISION: build_image.build_revision(""),
    }
    engine.image_labels.return_value = labels
    engine.image_facts.return_value = client.ImageFacts("sha256:1", 1, labels, (), ("sha256:a",))
    with mock.patch.object(runtime_image, "_build") as build:
        result = builders.ensure_runtime("3.11")
    assert result.built is False
    build.assert_not_called()
    engine.build_image_build.assert_not_called()


def test_a_current_runtime_with_an_old_build_image_rebuilds_only_the_build_image(engine):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: builders.runtime_revision()}
    seen = []
    with mock.patch.object(runtime_image, "_build") as build:
        result = builders.ensure_runtime("3.11", progress=lambda p, m: seen.append((p, m)))
    build.assert_not_called()
    engine.build_image_build.assert_called_once()
    assert result.built and result.build_tag == "berth/python-build:3.11"
    assert seen[-1] == (100, "berth/python:3.11 and berth/python-build:3.11 are ready")


def test_it_rebuilds_an_image_from_an_older_recipe(engine, can_debootstrap):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: "older"}
    engine.run_once.return_value = (0, "berth-python 3.11.2\n")
    engine.image_size.return_value = 193_000_000
    seen = []
    with mock.patch.object(debootstrap, "build_by_debootstrap") as boot:
        result = builders.ensure_runtime("3.11", progress=lambda p, m: seen.append((p, m)))
    boot.assert_called_once()
    assert (result.built, result.source, result.python) == (True, "debootstrap", "3.11.2")
    assert seen[-1][0] == 100
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


def test_it_falls_back_to_debootstrap_when_pulling_fails(engine, can_debootstrap):
    engine.registry_has.return_value = True
    engine.run_once.return_value = (0, "berth-python 3.13.5\n")
    engine.image_size.return_value = 1
    with (
        mock.patch.object(pullbuild, "build_by_pull", side_effect=EngineError("pull failed")),
        mock.patch.object(debootstrap, "build_by_debootstrap") as boot,
    ):
        result = builders.ensure_runtime("3.13")
    boot.assert_called_once()
    assert result.source == "debootstrap"


def test_it_removes_an_image_with_the_wrong_python(engine):
    engine.run_once.return_value = (0, "berth-python 3.12.1\n")
    with pytest.raises(RuntimeUnavailable, match="it has Python 3.12.1"):
        builders.verify("3.11", lambda p, m: None)
    engine.remove_image.assert_called_once_with("berth/python:3.11")


def test_it_removes_an_image_whose_python_cannot_import_gunicorn(engine):
    engine.run_once.return_value = (1, "ModuleNotFoundError: No module named 'gunicorn'")
    with pytest.raises(RuntimeUnavailable, match="No module named 'gunicorn'"):
        builders.verify("3.11", lambda p, m: None)


# The recipes


def test_the_revision_follows_the_runtime_files(tmp_path):
    before = builders.runtime_revision()
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "extra.txt").write_text("x")
    with mock.patch.object(recipe, "RUNTIME_FILES", tmp_path):
        assert builders.runtime_revision() != before
    assert builders.runtime_revision() == before


def test_the_import_sets_what_apps_expect(engine):
    changes = builders.import_changes("3.11", builders.image_labels("3.11", "debootstrap"))
    assert "ENV PORT=8000" in changes
    assert "ENV HOME=/home" in changes
    assert "ENV LANG=C.UTF-8" in changes
    assert "WORKDIR /home/site/wwwroot" in changes
    assert 'LABEL io.berth.python="3.11"' in changes
    assert 'LABEL io.berth.source="debootstrap"' in changes
    assert f'LABEL io.berth.runtime-revision="{builders.runtime_revision()}"' in changes
    cmd = json.loads(changes[-1].removeprefix("CMD "))
    assert "--chdir /opt/defaultsite app:app" in cmd[-1]


def test_the_debootstrap_command_reads_the_mirror_and_includes_the_packages(
    engine, can_debootstrap
):
    chosen = builders.Plan("3.11", "debootstrap", suite="bookworm")
    commands = []

    def fake_stream(command, progress, percent, stage):
        commands.append(command)
        rootfs = Path(command[4])
        (rootfs / "var/lib/apt/lists").mkdir(parents=True)
        (rootfs / "var/lib/apt/lists/junk_Packages").write_text("x")

    with mock.patch.object(debootstrap, "_stream", side_effect=fake_stream):
        builders.build_by_debootstrap(chosen, lambda p, m: None)
    command = commands[0]
    assert command[:2] == ["debootstrap", "--variant=minbase"]
    assert command[2] == "--include=" + ",".join(recipe.debian_packages())
    assert command[3] == "bookworm"
    assert command[5] == "http://mirror.example/debian"
    tarball, tag, changes = engine.import_image.call_args.args
    assert tag == "berth/python:3.11"
    # The work folder lives under the data folder and is gone afterwards.
    assert Path(tarball).is_relative_to(builders.runtimes_dir())
    assert not Path(tarball).exists()
    assert list(builders.runtimes_dir().glob("build-*")) == []


def test_the_pull_recipe_builds_on_the_slim_base_with_the_ca_bundle(settings, engine, tmp_path):
    ca = tmp_path / "corp-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings.BERTH_BUILD_CA_BUNDLE = str(ca)
    settings.BERTH_PIP_INDEX_URL = "https://index.example/simple"
    seen = {}

    def fake_build(context_dir, tag, buildargs=None):
        context = Path(context_dir)
        seen["dockerfile"] = (context / "Dockerfile").read_text()
        seen["ca"] = (context / "build-ca.crt").read_text()
        seen["site"] = (context / "runtime_files/opt/defaultsite/app.py").exists()
        seen["tag"], seen["args"] = tag, buildargs
        yield "Step 1/12 : ARG BASE"

    engine.build_image.side_effect = fake_build
    builders.build_by_pull(
        builders.Plan("3.12", "pull", base_image="python:3.12-slim"), lambda p, m: None
    )
    engine.pull_image.assert_called_once_with("python:3.12-slim")
    assert seen["tag"] == "berth/python:3.12"
    assert seen["args"] == {
        "BASE": "python:3.12-slim",
        "PIP_INDEX_URL": "https://index.example/simple",
    }
    assert (
        "pip install --no-cache-dir --disable-pip-version-check gunicorn flask"
        in seen["dockerfile"]
    )
    assert 'LABEL io.berth.source="pull"' in seen["dockerfile"]
    assert "WORKDIR /home/site/wwwroot" in seen["dockerfile"]
    assert seen["ca"].startswith("-----BEGIN CERTIFICATE-----")
    assert seen["site"]


# The task and the command


def test_the_task_records_progress_and_success(engine):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: builders.runtime_revision()}
    tasks.build_runtime(version="3.11")
    state = builders.read_state("3.11")
    assert (state.status, state.percent, state.error) == ("done", 100, "")
    assert "berth/python:3.11 and berth/python-build:3.11 are ready" in state.log


def test_the_task_records_a_failure(engine, cannot_debootstrap):
    tasks.build_runtime(version="3.11")
    state = builders.read_state("3.11")
    assert state.status == "failed"
    assert "apt-get install debootstrap" in state.error


def test_the_command_lists_the_catalog(engine, can_debootstrap):
    out = StringIO()
    call_command("runtime", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["VERSION", "CONFIG", "IMAGE"]
    assert any(line.startswith("3.11 ") and "can be built" in line for line in lines)
    assert len(lines) == 1 + len(runtimes.PYTHON_VERSIONS)


def test_the_command_prints_progress(engine):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: builders.runtime_revision()}
    out = StringIO()
    call_command("runtime", "ensure", "3.11", stdout=out)
    assert "[3.11 100%] berth/python:3.11 and berth/python-build:3.11 are ready" in out.getvalue()
    assert "3.13" not in out.getvalue()  # only the version named


def test_the_command_fails_with_the_reason(engine, can_debootstrap):
    err = StringIO()
    with pytest.raises(CommandError, match="3.10"):
        call_command("runtime", "ensure", "3.10", stdout=StringIO(), stderr=err)
    assert "no Debian suite carries it" in err.getvalue()


def test_the_command_ensures_every_available_version_and_says_why_not_the_others(engine):
    engine.image_exists.return_value = True
    engine.image_labels.return_value = {builders.LABEL_REVISION: builders.runtime_revision()}
    out = StringIO()
    with mock.patch.object(buildplan, "debootstrap_missing", return_value="no debootstrap here"):
        call_command("runtime", "ensure", "--available", stdout=out)
    text = out.getvalue()
    # The images are there: every version is ready, so every one is ensured.
    for version in runtimes.PYTHON_VERSIONS:
        assert f"[{version} 100%] berth/python:{version} and" in text
    engine.image_exists.return_value = False
    out = StringIO()
    with mock.patch.object(buildplan, "debootstrap_missing", return_value="no debootstrap here"):
        call_command("runtime", "ensure", "--available", stdout=out)
    # Nothing can be built: each says why, and nothing is attempted.
    assert "[3.10] not available here: 3.10: no Debian suite carries it" in out.getvalue()
    assert "[3.11] not available here: 3.11: no debootstrap here" in out.getvalue()
    assert "100%" not in out.getvalue()
    with pytest.raises(CommandError, match="--available"):
        call_command("runtime", "ensure", stdout=StringIO())


# The page


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.postgres
def test_the_page_lists_the_runtimes(alice_client, engine, can_debootstrap):
    r = alice_client.get(reverse("webapps:runtimes"))
    assert r.status_code == 200
    for version in runtimes.PYTHON_VERSIONS:
        assert f"PYTHON|{version}" in r.content.decode()
    # Only staff see the Build button.
    assert b">Build<" not in r.content


@pytest.mark.postgres
def test_staff_see_a_build_button_for_buildable_versions(staff_client, engine, can_debootstrap):
    r = staff_client.get(reverse("webapps:runtimes"))
    assert reverse("webapps:runtime-build", args=["3.13"]).encode() in r.content
    assert reverse("webapps:runtime-build", args=["3.10"]).encode() not in r.content


@pytest.mark.postgres
def test_staff_can_start_a_build(
    staff_client, engine, can_debootstrap, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.build_runtime, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        r = staff_client.post(reverse("webapps:runtime-build", args=["3.13"]))
    assert r.status_code == 302
    delay.assert_called_once_with(version="3.13")
    assert builders.read_state("3.13").status == "queued"
    page = staff_client.get(reverse("webapps:runtimes")).content.decode()
    assert reverse("webapps:runtime-progress", args=["3.13"]) in page
    assert 'hx-trigger="every 2s"' in page


@pytest.mark.postgres
def test_it_does_not_queue_versions_that_cannot_be_built(staff_client, engine, can_debootstrap):
    with mock.patch.object(tasks.build_runtime, "delay") as delay:
        r = staff_client.post(reverse("webapps:runtime-build", args=["3.10"]), follow=True)
    delay.assert_not_called()
    assert "cannot be built here" in r.content.decode()


@pytest.mark.postgres
def test_non_staff_cannot_start_a_build(alice_client, engine):
    with mock.patch.object(tasks.build_runtime, "delay") as delay:
        r = alice_client.post(reverse("webapps:runtime-build", args=["3.13"]))
    assert r.status_code == 403
    delay.assert_not_called()


@pytest.mark.postgres
def test_the_build_form_needs_csrf(admin_user, engine, can_debootstrap):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)
    r = csrf_client.post(reverse("webapps:runtime-build", args=["3.13"]))
    assert r.status_code == 403


@pytest.mark.postgres
def test_it_rejects_get_on_build(staff_client):
    r = staff_client.get(reverse("webapps:runtime-build", args=["3.13"]))
    assert r.status_code == 405


@pytest.mark.postgres
def test_progress_keeps_polling_while_building(alice_client, engine, can_debootstrap):
    builders.write_state(
        builders.BuildState(
            "3.13",
            status="running",
            percent=42,
            message="I: Unpacking dpkg...",
            log=["I: Retrieving libc6 2.41", "I: Unpacking dpkg..."],
        )
    )
    with builders.build_lock("3.13", lambda p, m: None):
        r = alice_client.get(
            reverse("webapps:runtime-progress", args=["3.13"]), HTTP_HX_REQUEST="true"
        )
    body = r.content.decode()
    assert r.status_code == 200
    assert 'value="42"' in body
    assert "I: Retrieving libc6 2.41" in body
    assert "hx-get" in body
    assert "<html" not in body


@pytest.mark.postgres
def test_progress_stops_polling_when_done(alice_client, engine, can_debootstrap):
    engine.image_exists.return_value = True
    builders.write_state(builders.BuildState("3.13", status="done", percent=100))
    r = alice_client.get(reverse("webapps:runtime-progress", args=["3.13"]), HTTP_HX_REQUEST="true")
    assert r.status_code == 286
    assert r["HX-Refresh"] == "true"
    assert "hx-get" not in r.content.decode()


def test_debootstrap_progress_moves_forward_through_the_stages():
    stages = debootstrap.DebootstrapStages()
    lines = ["I: Retrieving InRelease", "I: Checking Release signature"]
    lines += [f"I: {verb} pkg{i}" for i in range(150) for verb in ("Retrieving", "Validating")]
    lines += [f"I: Extracting pkg{i}..." for i in range(40)]
    lines += ["I: Installing core packages...", "I: Unpacking required packages..."]
    lines += [f"I: Unpacking pkg{i}..." for i in range(60)]
    lines += [f"I: Configuring pkg{i}..." for i in range(150)]
    lines += ["I: Base system installed successfully."]
    percents, current = [], 10
    for line in lines:
        current = stages(line, current)
        percents.append(current)
    assert percents == sorted(percents)
    assert percents[0] == 10
    assert 17 < percents[300] <= 38
    assert percents[-2] <= 74
    assert percents[-1] == 75


def test_the_catalog_does_not_probe_the_registry_for_versions_debian_carries(
    engine, can_debootstrap
):
    assert (
        builders.how_to_build("3.11") == "debootstrap Debian bookworm from the host's apt archive"
    )
    engine.registry_has.assert_not_called()
    # Once a build has found the registry, the catalog says it will pull.
    engine.registry_has.return_value = True
    builders.plan("3.11")
    assert builders.how_to_build("3.11").startswith("pull python:3.11-slim and add gunicorn")


def test_a_build_image_made_on_another_runtime_image_is_not_current(engine):
    labels = {
        builders.LABEL_REVISION: builders.runtime_revision(),
        build_image.LABEL_BUILD_REVISION: build_image.build_revision(""),
    }
    runtime = client.ImageFacts("sha256:r", 1, labels, (), ("sha256:new",))
    built = {"layers": ("sha256:old", "sha256:tools")}

    def facts(tag):
        if tag == "berth/python-build:3.11":
            return client.ImageFacts("sha256:b", 2, labels, (), built["layers"])
        return runtime

    engine.image_facts.side_effect = facts
    assert not build_image.is_current("3.11")
    built["layers"] = ("sha256:new", "sha256:tools")
    assert build_image.is_current("3.11")


def test_a_runtime_without_its_build_image_is_not_ready(engine):
    engine.image_exists.side_effect = lambda tag: tag == "berth/python:3.11"
    rt = runtimes.runtime("3.11")
    assert rt.status == runtimes.Status.BUILDABLE
    assert "its build image berth/python-build:3.11 is missing" in rt.detail
    engine.image_exists.side_effect = None
    engine.image_exists.return_value = True
    assert runtimes.runtime("3.11").status == runtimes.Status.READY
