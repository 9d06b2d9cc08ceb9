"""The database service images: which Debian, how they are made (pull a
Debian base where a registry answers, else debootstrap the host's archive,
pull failing over to debootstrap), and what goes into them; without an
engine (the real builds run in tests/test_databases_e2e.py's first use)."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.engine import buildplan, dataservices, debootstrap, pullbuild
from apps.engine.errors import EngineError, RuntimeUnavailable


def test_the_suite_is_the_host_s_unless_set(tmp_path, settings):
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Debian GNU/Linux 13"\nVERSION_CODENAME=trixie\n')
    assert dataservices.host_suite(release) == "trixie"
    settings.BERTH_SERVICE_SUITE = "bookworm"
    assert dataservices.host_suite(release) == "bookworm"


def test_tags_and_unknown_kinds(settings):
    settings.BERTH_SERVICE_SUITE = "bookworm"
    assert dataservices.image_tag("postgres") == "berth/postgres:bookworm"
    with pytest.raises(RuntimeUnavailable, match="use one of postgres, redis"):
        dataservices.image_tag("mysql")


def test_the_pull_recipe_installs_debian_s_package_without_a_cluster(settings):
    settings.BERTH_SERVICE_SUITE = "bookworm"
    text = dataservices.pull_dockerfile("postgres")
    assert "apt-get install -y --no-install-recommends postgresql" in text
    assert "create_main_cluster = false" in text
    assert 'CMD ["/usr/local/bin/berth-service"]' in text
    assert f'LABEL io.berth.service-revision="{dataservices.revision("postgres")}"' in text


def test_the_revision_follows_the_suite(settings):
    settings.BERTH_SERVICE_SUITE = "bookworm"
    before = dataservices.revision("redis")
    settings.BERTH_SERVICE_SUITE = "trixie"
    assert dataservices.revision("redis") != before


@pytest.fixture
def builders(settings):
    settings.BERTH_SERVICE_SUITE = "bookworm"
    settings.BERTH_RUNTIME_SOURCE = "auto"
    with (
        mock.patch.object(buildplan, "debootstrap_missing", return_value=""),
        mock.patch.object(buildplan, "find_debian_mirror", return_value="http://archive"),
        mock.patch.object(debootstrap, "bootstrap_image", autospec=True) as boot,
        mock.patch.object(pullbuild, "build_on_base", autospec=True) as pull,
    ):
        yield boot, pull


def test_without_a_registry_it_bootstraps_the_host_s_debian(builders):
    boot, pull = builders
    with mock.patch.object(buildplan, "registry_reachable", return_value=False):
        assert dataservices._build("redis", lambda p, m: None) == "debootstrap"
    pull.assert_not_called()
    kwargs = boot.call_args.kwargs
    assert (kwargs["suite"], kwargs["packages"], kwargs["tag"]) == (
        "bookworm",
        ["redis-server"],
        "berth/redis:bookworm",
    )


def test_with_a_registry_it_pulls_and_falls_back_when_pulling_fails(builders):
    boot, pull = builders
    with mock.patch.object(buildplan, "registry_reachable", return_value=True):
        assert dataservices._build("postgres", lambda p, m: None) == "pull"
        assert pull.call_args.kwargs["base"] == "debian:bookworm-slim"
        pull.side_effect = EngineError("pull refused")
        assert dataservices._build("postgres", lambda p, m: None) == "debootstrap"
    boot.assert_called_once()
