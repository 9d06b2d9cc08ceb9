"""Limits, the run-as decision and the healthy statuses, without the engine."""

from __future__ import annotations

import pytest

from apps.deployments.models import HealthEvent
from apps.engine.client import ImageFacts
from apps.lifecycle import containers
from apps.lifecycle import health as probes
from apps.lifecycle import watch as health
from apps.webapps.models import AppSetting

pytestmark = [pytest.mark.postgres]


def test_it_reads_docker_memory_sizes():
    assert containers.memory_mb("1g") == 1024
    assert containers.memory_mb("512m") == 512
    assert containers.memory_mb("256") == 256
    assert containers.memory_mb("lots") == 0


def test_it_takes_limits_from_app_settings_else_the_defaults(webapp, settings):
    settings.BERTH_APP_MEMORY, settings.BERTH_APP_CPUS = "1g", 1.0
    assert (containers.app_limits(webapp).memory_mb, containers.app_limits(webapp).cpus) == (
        1024,
        1.0,
    )
    AppSetting.objects.create(app=webapp, name="WEBSITE_MEMORY_LIMIT_MB", value="256")
    AppSetting.objects.create(app=webapp, name="WEBSITE_CPU_LIMIT", value="0.25")
    limits = containers.app_limits(webapp)
    assert (limits.memory_mb, limits.cpus, limits.notes) == (256, 0.25, ())


def test_it_says_why_it_ignores_a_bad_limit(webapp):
    AppSetting.objects.create(app=webapp, name="WEBSITE_MEMORY_LIMIT_MB", value="2GB")
    limits = containers.app_limits(webapp)
    assert limits.memory_mb == 1024
    assert "WEBSITE_MEMORY_LIMIT_MB='2GB' is not a number of MB" in limits.notes[0]


def test_it_runs_as_a_user_only_when_the_release_was_prepared(webapp, monkeypatch):
    labels = {containers.RUN_AS_LABEL: containers.RUN_AS}
    monkeypatch.setattr(containers.engine, "image_facts", lambda tag: ImageFacts("id", 3, labels))
    guard = containers.hardening(webapp, "img")
    assert guard.options() == {
        "cap_drop": ["ALL"],
        "cap_add": [],
        "security_opt": ["no-new-privileges"],
        "user": "1000:1000",
    }
    labels.clear()
    old = containers.hardening(webapp, "img")
    assert old.user == "" and "deploy again to run as uid 1000" in old.why_root
    assert old.options()["cap_drop"] == ["ALL"]


def test_an_app_may_ask_for_root(webapp, monkeypatch):
    monkeypatch.setattr(containers.engine, "image_facts", lambda tag: None)
    AppSetting.objects.create(app=webapp, name="WEBSITES_RUN_AS_ROOT", value="true")
    guard = containers.hardening(webapp, "img")
    assert guard.user == "" and "WEBSITES_RUN_AS_ROOT" in guard.why_root
    assert set(guard.cap_add) == {"CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"}


def test_healthy_is_200_to_399_unless_configured(webapp, settings):
    ok, text = probes.accepted_statuses(webapp)
    assert (ok(200), ok(302), ok(404), ok(500), text) == (True, True, False, False, "200-399")
    settings.BERTH_HEALTH_ACCEPT_ANY = True
    ok, text = probes.accepted_statuses(webapp)
    assert ok(404) and ok(500) and text == "any HTTP answer"
    AppSetting.objects.create(app=webapp, name="WEBSITE_WARMUP_STATUSES", value="200-499, 503")
    ok, text = probes.accepted_statuses(webapp)
    assert (ok(404), ok(503), ok(500), text) == (True, True, False, "200-499, 503")


def test_it_counts_failures_since_the_last_recovery(webapp):
    for kind in ("failed", "recovered", "failed", "oom", "failed"):
        HealthEvent.objects.create(app=webapp, kind=kind)
    assert health.failures_in_a_row(webapp) == 2


def test_a_running_app_with_nothing_serving_is_not_checked(webapp):
    assert health.check(webapp) == ""
