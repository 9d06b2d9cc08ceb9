"""The real runtime images: for every `berth/python:3.X` in the engine, python
is the right version, venv and pip work, gunicorn and Flask import, and the
built-in default site answers on port 8000."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid

import pytest

from apps.engine import build_image, builders, client, runtimes

pytestmark = pytest.mark.runtime


def _ready_image(version: str) -> str:
    tag = runtimes.image_tag(version)
    if not client.image_exists(tag):
        pytest.skip(f"{tag} is not built here (manage.py runtime ensure {version})")
    return tag


def _python(tag: str, code: str) -> str:
    exit_code, output = client.run_once(tag, ["python", "-c", code], timeout=60)
    assert exit_code == 0, output
    return output.strip()


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_image_runs_its_python_version(version):
    tag = _ready_image(version)
    found = _python(tag, "import sys; print('%d.%d' % sys.version_info[:2])")
    assert found == version


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_image_makes_virtual_environments_with_pip(version):
    tag = _ready_image(version)
    exit_code, output = client.run_once(
        tag,
        ["sh", "-c", "python -m venv /tmp/v && /tmp/v/bin/pip --version"],
        timeout=120,
        network_disabled=True,
    )
    assert exit_code == 0, output
    assert f"(python {version})" in output


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_image_has_gunicorn_and_flask_outside_the_apps_venv(version):
    tag = _ready_image(version)
    output = _python(tag, "import gunicorn, flask; print(gunicorn.__file__)")
    assert not output.startswith("/home/")
    exit_code, output = client.run_once(tag, ["sh", "-c", "command -v gunicorn"], timeout=30)
    assert exit_code == 0, output


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_image_is_labelled_and_set_up_like_app_service(version):
    tag = _ready_image(version)
    labels = client.image_labels(tag)
    assert labels[client.LABEL] == "true"
    assert labels[builders.LABEL_PYTHON] == version
    assert labels[builders.LABEL_SOURCE] in ("pull", "debootstrap")
    exit_code, output = client.run_once(tag, ["sh", "-c", "pwd; echo $HOME $PORT $LANG"])
    assert output.split() == ["/home/site/wwwroot", "/home", "8000", "C.UTF-8"]


def _get(url: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except (urllib.error.URLError, ConnectionError) as e:
            if isinstance(e, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_default_site_answers_every_path(version):
    tag = _ready_image(version)
    name = f"berth-test-defaultsite-{uuid.uuid4().hex[:8]}"
    # An empty command runs the image's own CMD: the default site under gunicorn.
    container = client.create_container(
        tag, [], name=name, environment={}, labels={"io.berth.test": "runtime"}, publish_port=8000
    )
    try:
        client.start_container(container)
        port = client.published_port(container, 8000)
        assert port
        deadline = time.monotonic() + 30
        for path in ("/", "/robots933456.txt", "/some/deep/path?x=1"):
            status, body = _get(f"http://127.0.0.1:{port}{path}", deadline)
            assert status == 200
            assert "Your web app is running and waiting for your content" in body
    finally:
        client.remove_container(container)


def test_ensure_runtime_makes_the_default_image():
    # Fast when the image is there with the current recipe; a build otherwise.
    seen: list[tuple[int, str]] = []
    result = builders.ensure_runtime("3.11", progress=lambda p, m: seen.append((p, m)))
    assert result.tag == runtimes.image_tag("3.11")
    assert builders.is_current("3.11")
    assert seen[-1][0] == 100
    assert runtimes.runtime("3.11").status == runtimes.Status.READY


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_image_has_the_libraries_builds_link_to_but_no_tools(version):
    tag = _ready_image(version)
    script = (
        "stat -c 'tmp=%a' /tmp; ldconfig -p | grep -oE 'lib(pq|mariadb|jpeg|xslt|xml2|z)\\.so\\.[0-9]+' "
        "| sort -u; command -v gcc node npm || echo no-tools"
    )
    exit_code, output = client.run_once(tag, ["sh", "-c", script], timeout=30)
    assert exit_code == 0, output
    for line in ("tmp=1777", "libpq.so.5", "libmariadb.so.3", "libjpeg.so.62", "libxslt.so.1"):
        assert line in output.split(), output
    assert output.split()[-1] == "no-tools", output


@pytest.mark.parametrize("version", list(runtimes.PYTHON_VERSIONS))
def test_the_build_image_compiles_and_has_node(version):
    _ready_image(version)
    if not client.image_exists(build_image.build_tag(version)):
        pytest.skip(f"{build_image.build_tag(version)} is not built here")
    output = build_image.verify(version, lambda p, m: None, 96)
    assert "Python.h in" in output and "node v" in output
    exit_code, output = client.run_once(
        build_image.build_tag(version), ["stat", "-c", "%a", "/tmp"], timeout=30
    )
    assert (exit_code, output.strip()) == (0, "1777")
