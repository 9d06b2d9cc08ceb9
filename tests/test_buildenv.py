"""The build's pip settings come from pip's own reading of the host's
configuration: a PIP_CONFIG_FILE the host names, its http(s) indexes only."""

from __future__ import annotations

import pytest

from apps.deployments import buildenv


@pytest.fixture
def pip_conf(tmp_path, monkeypatch):
    def write(text: str) -> None:
        conf = tmp_path / "pip.conf"
        conf.write_text(text)
        monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
        for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
            monkeypatch.delenv(name, raising=False)
        buildenv._pip_config.cache_clear()

    yield write
    buildenv._pip_config.cache_clear()


def test_the_host_index_reaches_the_build_and_local_paths_do_not(pip_conf):
    pip_conf(
        "[global]\n"
        "index-url = http://127.0.0.1:3141/simple\n"
        "extra-index-url = file:///opt/local/simple https://127.0.0.1:3142/simple\n"
        "find-links = /opt/wheels\n"
    )
    found = buildenv._host_pip_config()
    assert found == {
        "PIP_INDEX_URL": "http://127.0.0.1:3141/simple",
        "PIP_EXTRA_INDEX_URL": "https://127.0.0.1:3142/simple",
    }


def test_the_install_section_and_the_environment_win_as_in_pip(pip_conf, monkeypatch):
    pip_conf(
        "[global]\nindex-url = http://127.0.0.1:1/simple\n"
        "[install]\nindex-url = http://127.0.0.1:2/simple\n"
    )
    assert buildenv._host_pip_config()["PIP_INDEX_URL"] == "http://127.0.0.1:2/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:3/simple")
    assert buildenv._host_pip_config()["PIP_INDEX_URL"] == "http://127.0.0.1:3/simple"
