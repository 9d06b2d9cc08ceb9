"""Finding 6 of the security probe: masking missed numeric secrets, a
secret's base64 form (Basic auth), its URL-encoded forms and a secret split
across two log lines. Each test reproduces one attack against the masking
functions and the paths a Reader or the disk sees: the Log stream (as a
Reader), the log archive file, the build log. The engine is faked here;
tests/test_security_masking_e2e.py runs the real one."""

# ruff: noqa: F811 (pytest fixtures imported from other test modules)

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest
from django.contrib.auth.models import User

from apps.access.models import Role, RoleAssignment
from apps.deployments.models import Deployment
from apps.lifecycle.deploylog import DeploymentLog
from apps.logs import archive, services
from apps.webapps.environment import mask, secret_values
from apps.webapps.masking import LineMasker, masker, masking_forms
from apps.webapps.models import AppSetting
from tests.security_helpers import table_fixture
from tests.test_log_retention import _data_dir, line, run_archiver  # noqa: F401 (autouse)
from tests.test_logstream import FakeFollower, data_of, engine_mocks, read_events  # noqa: F401
from tests.test_retire_archive import StoppedContainers

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

table = table_fixture("Masking: numeric, base64, URL-encoded and split secrets")

APP = "hello-flask"
CONTAINER = "berth-hello-flask-1"
PIN = "84736251"
PASSWORD = "Zq8-7hQ2/Lm+4p X9v&ok"  # a slash, a plus, a space and an ampersand
TOKEN = "tok_9fJ2kQx7Vb3LmN8r"


@pytest.fixture
def reader(webapp) -> User:
    user = User.objects.create_user("rita")
    RoleAssignment.objects.create(role=Role.READER, user=user, app=webapp)
    return user


@pytest.fixture
def secrets(webapp) -> list[str]:
    AppSetting.objects.create(app=webapp, name="PIN_CODE", value=PIN)
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=PASSWORD)
    AppSetting.objects.create(app=webapp, name="API_TOKEN", value=TOKEN)
    # Flags and small numbers that are not secrets stay readable.
    AppSetting.objects.create(app=webapp, name="PORT", value="8000")
    AppSetting.objects.create(app=webapp, name="WORKERS", value="4")
    AppSetting.objects.create(app=webapp, name="TIMEOUT_SECONDS", value="30000")
    AppSetting.objects.create(app=webapp, name="DEBUG", value="true")
    return secret_values(webapp)


@pytest.fixture
def serving(webapp):
    return Deployment.objects.create(app=webapp, status="success", active=True, container=CONTAINER)


def streamed(reader, count: int) -> list[str]:
    """The texts of the first `count` lines of the Log stream, as a Reader reads them."""
    messages = read_events(f"/apps/{APP}/logstream/events", reader, count + 1)
    return [json.loads(data_of(m))["text"] for m in messages[1:]]


def on_disk() -> str:
    return "".join(p.read_text() for p in archive.app_dir(APP).iterdir() if p.is_file())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- numeric secrets ---------------------------------------------------------------------


PIN_PRINTED = [line(1, f"PIN_CODE={PIN}"), line(2, "listening on port 8000 with 4 workers")]


def test_a_numeric_pin_is_masked_on_the_log_stream_a_reader_sees(
    table, reader, webapp, serving, secrets, engine_mocks
):
    with table.attack("6", f"app prints PIN_CODE={PIN}: Reader's Log stream") as row:
        logs, _, _ = engine_mocks
        logs.return_value = FakeFollower(PIN_PRINTED)
        texts = streamed(reader, 2)
        assert texts == ["PIN_CODE=***", "listening on port 8000 with 4 workers"]
        row.outcome = "masked: PIN_CODE=***; port 8000, 4 workers kept"


def test_a_numeric_pin_is_masked_in_the_archive_on_disk(table, webapp, secrets):
    with table.attack("6", f"app prints PIN_CODE={PIN}: archive file on disk") as row:
        run_archiver(PIN_PRINTED)
        assert PIN not in on_disk() and "PIN_CODE=***" in on_disk()
        assert "port 8000 with 4 workers" in on_disk()
        row.outcome = "masked: PIN_CODE=*** in app.log"


def test_short_numbers_and_flags_stay_readable(table, secrets):
    with table.attack("6", "PORT=8000, WORKERS=4, TIMEOUT_SECONDS=30000, DEBUG=true") as row:
        text = "PORT=8000 WORKERS=4 TIMEOUT_SECONDS=30000 DEBUG=true"
        assert mask(text, secrets) == text
        row.outcome = "not secrets: shown as they are"


def test_a_numeric_secret_inside_a_longer_number_is_left_alone(secrets):
    # 184736251 is another number: masking part of it would hide nothing.
    assert mask("order 1847362519 for pin 84736251", secrets) == "order 1847362519 for pin ***"


# --- base64 ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["u", "us", "use", "deploy-bot"])
def test_a_basic_authorization_header_is_masked(table, secrets, user):
    with table.attack("6", f"Authorization: Basic base64({user}:<password>)") as row:
        header = f"Authorization: Basic {b64(f'{user}:{PASSWORD}')}"
        masked = mask(header, secrets)
        encoded, _, after = masked.removeprefix("Authorization: Basic ").partition("***")
        # Left: the user's part, at most one character holding 2 or 4 bits
        # of the password's first byte, and the padding.
        assert after in ("", "=", "==")
        shown = base64.b64decode(encoded[: len(encoded) // 4 * 4])
        assert shown == f"{user}:".encode()[: len(shown)]
        row.outcome = f"masked: {masked}"


@pytest.mark.parametrize("prefix", ["", "x", "xy", '{"token": "'])
@pytest.mark.parametrize("alphabet", ["standard", "url-safe"])
def test_base64_of_a_secret_alone_or_inside_a_blob_is_masked(table, secrets, prefix, alphabet):
    with table.attack("6", f"base64 ({alphabet}) of {prefix!r} + secret + more") as row:
        blob = base64.b64encode(f"{prefix}{PASSWORD}, and more".encode())
        if alphabet == "url-safe":
            blob = base64.urlsafe_b64encode(base64.b64decode(blob))
        masked = mask(f"payload={blob.decode()}", secrets)
        assert "***" in masked
        alone = base64.b64encode(PASSWORD.encode()).decode()
        assert mask(alone, secrets) in ("***", "***=")
        row.outcome = f"masked: {masked}"


# --- URL-encoded ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        quote(PASSWORD, safe=""),
        quote(PASSWORD),
        quote_plus(PASSWORD),
        re.sub("%..", lambda m: m.group().lower(), quote(PASSWORD, safe="")),
        quote_plus(PASSWORD).replace("%2F", "%2f"),
    ],
    ids=["quote", "quote-keeping-slash", "quote_plus", "lower-case-hex", "mixed-case-hex"],
)
def test_a_url_encoded_secret_is_masked(table, secrets, encoded):
    with table.attack("6", f"URL-encoded secret with special characters: {encoded}") as row:
        url = f"GET /callback?password={encoded}&next=/"
        assert mask(url, secrets) == "GET /callback?password=***&next=/"
        row.outcome = "masked: password=***"


# --- a secret split across two lines --------------------------------------------------------


def test_a_secret_split_across_two_lines_is_masked_on_the_stream(
    table, reader, webapp, serving, secrets, engine_mocks
):
    with table.attack("6", "secret split across two lines: Reader's Log stream") as row:
        logs, _, _ = engine_mocks
        logs.return_value = FakeFollower(
            [line(1, f"token starts {TOKEN[:9]}"), line(2, f"{TOKEN[9:]} and ends")]
        )
        texts = streamed(reader, 2)
        assert texts == ["token starts ***", "*** and ends"]
        row.outcome = "masked: both parts"


def test_a_secret_split_across_two_lines_is_masked_in_the_archive(
    table, webapp, secrets, monkeypatch
):
    with table.attack("6", "secret split across two lines: archive file (archiver)") as row:
        run_archiver([line(1, f"pin {PIN[:4]}"), line(2, f"{PIN[4:]} done")])
        assert [a.text for a in archive.tail(APP, 10)][1:] == ["pin ***", "*** done"]
        row.outcome = "masked: both parts"


def test_a_secret_split_across_two_lines_is_masked_when_a_container_is_retired(
    table, webapp, secrets, monkeypatch
):
    with table.attack("6", "secret split across two lines: archive file (retired)") as row:
        stopped = StoppedContainers().install(monkeypatch)
        stopped.printed[CONTAINER] = [line(1, f"pw {PASSWORD[:7]}"), line(2, PASSWORD[7:])]
        archive.keep_last_lines(APP, [CONTAINER])
        assert PASSWORD[:7] not in on_disk() and PASSWORD[7:] not in on_disk()
        assert [a.text for a in archive.tail(APP, 10)][1:] == ["pw ***", "***"]
        row.outcome = "masked: both parts"


def test_a_secret_split_across_two_lines_is_masked_in_the_build_log(table, webapp, secrets):
    with table.attack("6", "secret split across two lines: build log") as row:
        log = DeploymentLog(Deployment.objects.create(app=webapp))
        log.write(f"echo {TOKEN[:6]}\n")
        log.flush()
        # What the page shows meanwhile: the line's end might be a secret's start.
        assert Deployment.objects.get(pk=log.deployment_id).log == "echo ***\n"
        log.write(f"{TOKEN[6:]}\nbuild done\n")
        log.flush()
        stored = Deployment.objects.get(pk=log.deployment_id).log
        assert stored == "echo ***\n***\nbuild done\n"
        row.outcome = "masked: both parts"


def test_a_line_merely_starting_like_a_secret_is_shown_whole(secrets, engine_mocks):
    # "tok_" alone is no secret: the next line does not complete it.
    assert mask("prefix tok_\nsomething else", secrets) == "prefix tok_\nsomething else"


# --- the masking itself ---------------------------------------------------------------------


def test_a_value_holding_another_secret_is_masked_whole():
    forms = masking_forms([("A_TOKEN", "abcd1234"), ("B_TOKEN", "xxabcd1234yy")])
    assert mask("1 xxabcd1234yy 2 abcd1234", forms) == "1 *** 2 ***"


def test_a_numeric_setting_is_a_secret_by_length_or_by_name():
    forms = masking_forms(
        [
            ("PIN_CODE", "8473"),
            ("ACCOUNT", "123456"),
            ("WORKERS", "12345"),
            ("PORT", "8000"),
            ("TOKEN_TTL", "3600"),
        ]
    )
    assert mask("8473 123456 12345 8000 3600", forms) == "*** *** 12345 8000 3600"


def test_a_line_ending_like_a_secret_is_held_until_the_next_says_it_is_not_one():
    stream: LineMasker[int] = LineMasker(masker(masking_forms([("API_TOKEN", TOKEN)])))
    assert stream.push(1, f"ends with {TOKEN[:6]}") == []
    assert stream.push(2, "something else") == [
        (1, f"ends with {TOKEN[:6]}"),
        (2, "something else"),
    ]
    assert stream.push(3, f"again {TOKEN[:6]}") == []
    # A live stream gives it back after a while; a late rest is still masked.
    assert stream.release() == [(3, f"again {TOKEN[:6]}")]
    assert stream.push(4, f"{TOKEN[6:]}!") == [(4, "***!")]


def test_the_masker_of_a_set_of_secrets_is_built_once():
    forms = masking_forms([("API_TOKEN", TOKEN), ("DB_PASSWORD", PASSWORD)])
    assert masker(forms) is masker(list(forms))
    assert masker(forms).pattern is masker(tuple(forms)).pattern


def test_many_secrets_mask_a_long_line_as_each_would_alone():
    # Not timed: what it checks is that one pattern over all of them finds
    # what each finds alone, however many there are.
    values = [f"secret-{i:04d}-{'x' * (i % 7)}" for i in range(300)]
    forms = masking_forms((f"KEY_{i}", v) for i, v in enumerate(values))
    line = " | ".join(values[::-7]) + " | plain text"
    expected = " | ".join("***" for _ in values[::-7]) + " | plain text"
    assert mask(line, forms) == expected


def test_each_line_of_a_secret_of_several_lines_is_masked():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----"
    forms = masking_forms([("TLS_KEY", key)])
    printed = ["loading", *key.split("\n"), "done"]
    assert masker(forms).lines(printed) == ["loading", "***", "***", "***", "done"]
    assert mask(f"key={key}", forms) == "key=***"


def test_a_held_line_is_sent_when_no_next_line_comes(
    reader, webapp, serving, secrets, engine_mocks, monkeypatch
):
    # It ends like the token starts; nothing follows: after HOLD_SECONDS it goes out as it is.
    monkeypatch.setattr(services, "HOLD_SECONDS", 0.05)
    logs, _, _ = engine_mocks
    logs.return_value = FakeFollower([line(1, "prefix tok_9fJ"), line(2, "x"), line(3, "tok_")])
    assert streamed(reader, 3) == ["prefix tok_9fJ", "x", "tok_"]
