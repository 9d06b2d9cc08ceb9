"""`berth webapp deployment list-publishing-credentials`, `... source
config-local-git` and `berth webapp log download` without a portal: their
arguments, what they ask the API, and what they print or write."""

from __future__ import annotations

import json

import pytest

from berth_cli import commands
from berth_cli.main import build_parser, main


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTH_CONFIG_DIR", str(tmp_path / "cfg"))
    for name in ("BERTH_URL", "BERTH_TOKEN", "BERTH_OUTPUT"):
        monkeypatch.delenv(name, raising=False)


class Response:
    def __init__(self, chunks: list[bytes], kind: str = "application/zip") -> None:
        self.headers = {"Content-Type": kind}
        self.chunks = chunks
        self.closed = False

    def iter_content(self, chunk_size: int):
        yield from self.chunks

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FakeClient:
    url = "http://127.0.0.1:1"

    def __init__(self, answer=None, response: Response | None = None) -> None:
        self.answer = answer
        self.response = response
        self.calls: list[tuple] = []

    def call(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs.get("params")))
        return self.answer

    def request(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs.get("params")))
        return self.response


@pytest.fixture
def fake(monkeypatch):
    def install(**kwargs) -> FakeClient:
        client = FakeClient(**kwargs)
        monkeypatch.setattr(commands, "_client", lambda: client)
        return client

    return install


def parse(*argv):
    return build_parser().parse_args(argv)


def test_it_parses_the_az_commands():
    args = parse("webapp", "deployment", "list-publishing-credentials", "-g", "g", "-n", "n")
    assert args.func is commands.list_publishing_credentials and args.show_values is False
    args = parse("webapp", "deployment", "source", "config-local-git", "-g", "g", "-n", "n")
    assert args.func is commands.config_local_git
    args = parse("webapp", "log", "download", "-n", "n")
    assert (args.func, args.log_file) == (commands.log_download, "webapp_logs.zip")


def test_the_password_is_hidden_unless_asked(fake, capsys):
    client = fake(answer={"publishingUserName": "$n", "publishingPassword": None})
    assert main(["webapp", "deployment", "list-publishing-credentials", "-n", "n"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["publishingPassword"] is None
    assert "redacted" in err and "--show-values" in err
    assert client.calls == [("GET", "/api/apps/n/publishingcredentials", {"showValues": "false"})]

    client = fake(answer={"publishingUserName": "$n", "publishingPassword": "pw"})
    argv = ["webapp", "deployment", "list-publishing-credentials", "-g", "g", "-n", "n"]
    assert main([*argv, "--show-values", "--query", "publishingPassword", "-o", "tsv"]) == 0
    out, err = capsys.readouterr()
    assert out == "pw\n" and "redacted" not in err
    assert client.calls[0][2] == {"resourceGroup": "g", "showValues": "true"}


def test_config_local_git_prints_the_url(fake, capsys):
    client = fake(answer={"url": "http://$n@127.0.0.1:8000/git/n.git"})
    assert main(["webapp", "deployment", "source", "config-local-git", "-n", "n"]) == 0
    assert json.loads(capsys.readouterr().out) == {"url": "http://$n@127.0.0.1:8000/git/n.git"}
    assert client.calls == [("POST", "/api/apps/n/localgit", {})]


def test_log_download_writes_the_zip_and_says_where(fake, tmp_path, capsys):
    client = fake(response=Response([b"PK\x03\x04", b"rest"]))
    target = tmp_path / "logs.zip"
    assert main(["webapp", "log", "download", "-n", "n", "--log-file", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"Downloaded logs to {target}" in err
    assert target.read_bytes() == b"PK\x03\x04rest"
    assert not (tmp_path / "logs.zip.part").exists()
    assert client.calls == [("GET", "/api/apps/n/dump", {})]


def test_log_download_refuses_what_is_not_a_zip(fake, tmp_path, capsys):
    fake(response=Response([b"<html>"], kind="text/html"))
    target = tmp_path / "logs.zip"
    assert main(["webapp", "log", "download", "-n", "n", "--log-file", str(target)]) == 1
    assert "not a zip" in capsys.readouterr().err
    assert not target.exists() and not (tmp_path / "logs.zip.part").exists()


def test_log_download_says_when_the_folder_is_missing(fake, tmp_path, capsys):
    client = fake(response=Response([b"PK"]))
    target = tmp_path / "nowhere" / "logs.zip"
    assert main(["webapp", "log", "download", "-n", "n", "--log-file", str(target)]) == 1
    assert "is missing" in capsys.readouterr().err
    assert client.calls == []  # nothing asked before the argument is known good
