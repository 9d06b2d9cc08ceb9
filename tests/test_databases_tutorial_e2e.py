"""App Service's "Django + PostgreSQL + Redis" tutorial, run on Berth: an app
reading AZURE_POSTGRESQL_* and AZURE_REDIS_CONNECTIONSTRING in production
settings chosen by WEBSITE_HOSTNAME (django-redis, whitenoise) deploys after
two `connection create`s, migrates in its container, stores a row through a
form, and keeps it across a restart, a redeploy, a PostgreSQL service
restart, and a backup restored into a new app; an app not connected cannot
even reach the database service."""

from __future__ import annotations

import re

import pytest
import requests

from apps.databases import backups, connections, postgres, redis, tls
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine import dataservices
from apps.lifecycle import appnet
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps.models import AppSetting
from tests.deploy_helpers import zip_sample

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings"),
]


def serving(app) -> Deployment:
    return Deployment.objects.get(app=app, active=True)


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def page(app, client: requests.Session | None = None) -> str:
    client = client or session()
    d = serving(app)
    answer = client.get(
        f"http://127.0.0.1:{d.host_port}/", headers={"Host": app.default_host_name}, timeout=30
    )
    if answer.status_code != 200:
        logs = engine.container_logs(d.container, tail=30, timestamps=False)
        pytest.fail(f"{answer.status_code}\n" + "\n".join(logs))
    return answer.text


def notes(app) -> list[str]:
    return re.findall(r'<li class="note">([^<]*)</li>', page(app))


def visits(app) -> int:
    return int(re.search(r"visits=(\d+)", page(app)).group(1))


def add_note(app, body: str) -> None:
    client = session()
    page(app, client)  # the CSRF cookie
    d = serving(app)
    answer = client.post(
        f"http://127.0.0.1:{d.host_port}/",
        data={"body": body, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Host": app.default_host_name},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[-1000:]


def deploy(app) -> Deployment:
    d = services.run_deployment(services.create_deployment(app, zip_sample("django_pg_redis")).pk)
    assert d.status == "success", d.log
    return d


def migrate(app) -> str:
    """What `berth webapp ssh --command "python manage.py migrate"` runs."""
    code, output = engine.exec_quick(
        serving(app).container, ["antenv/bin/python", "manage.py", "migrate", "--noinput"]
    )
    assert code == 0, output
    return output


@pytest.fixture
def tidy_services():
    made: list[str] = []
    yield made
    for app_name in made:
        redis.remove(app_name, keep_data=False)
        if postgres.database_exists(app_name):
            postgres.drop(app_name)


def test_the_tutorial_app_keeps_its_data_through_everything(make_app, tidy_services):
    app = make_app("dbs-tut")
    tidy_services.append(app.name)
    connections.create(app, "postgres-flexible", client_type="django")
    connections.create(app, "redis", client_type="django")
    # Its pages need the tables `migrate` makes after the deploy: App Service
    # takes any answer as started; Berth wants 200-399 unless told so.
    AppSetting.objects.create(app=app, name="WEBSITE_WARMUP_STATUSES", value="any")
    deploy(app)
    assert "Applying notes.0001_initial... OK" in migrate(app)

    first = page(app)
    assert "django.db.backends.postgresql tls=True" in first
    add_note(app, "stored through the form")
    assert notes(app) == ["stored through the form"]
    counted = visits(app)  # in Redis, through django-redis over TLS
    assert visits(app) == counted + 1

    outcome = lifecycle_ops.restart_app(app, reason="test")
    assert outcome.ok, outcome
    assert notes(app) == ["stored through the form"]
    assert visits(app) > counted + 1  # the cache outlives the app's container

    deploy(app)
    assert notes(app) == ["stored through the form"]

    postgres.restart()
    assert notes(app) == ["stored through the form"]

    backup = backups.create(app)
    copy = make_app("dbs-tut-copy")
    tidy_services.append(copy.name)
    backups.restore(app, backup.name, target=copy)
    deploy(copy)
    assert notes(copy) == ["stored through the form"]
    add_note(copy, "only in the copy")
    assert notes(app) == ["stored through the form"]

    # An app not connected to PostgreSQL cannot even reach it.
    stranger = make_app("dbs-tut-other")
    network = appnet.ensure(stranger.name, stranger.python_version)
    pg = app.service_connections.get(target="postgres-flexible")
    dsn = (
        f"dbname={pg.database} host={pg.host} port=5432 sslmode=require "
        f"user={pg.role} password={pg.password} connect_timeout=5"
    )
    code, output = dataservices.probe(
        "postgres",
        network,
        ["psql", dsn, "-c", "SELECT 1"],
        environment={**tls.trust_environment(), "HOME": "/tmp"},
        trust_dir=tls.trust_dir(),
        trust_target=tls.TRUST_TARGET,
    )
    assert code != 0 and "translate host name" in output, output
