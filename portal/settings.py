"""Berth's settings, read from the environment.

Everything has an embedded default so `make run` works on a bare machine:
SQLite under the data folder, a Celery broker that is just files, a secret key
generated on first run. Production sets DATABASE_URL, CELERY_BROKER_URL and
friends (see compose.yaml).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# Every file Berth makes is its own (the database and its WAL, keys,
# repositories, logs): set before anything below creates one, and inherited by
# the portal, the worker, the archiver and what they start (git, nginx). What
# is meant for others says so: runtime images (apps.engine.builders) and the
# nginx workers' temp folders (apps.proxy.nginx).
os.umask(0o077)

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def _envnumber(name: str, default: str, kind: type, words: str, minimum: float | None):
    raw = os.getenv(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: use {words}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: use {minimum} or more.")
    return value


def envint(name: str, default: str, minimum: int | None = None) -> int:
    return _envnumber(name, default, int, "a whole number", minimum)


def envfloat(name: str, default: str, minimum: float | None = None) -> float:
    return _envnumber(name, default, float, "a number", minimum)


# What envbool takes for true and false, for a setting that also has other values.
BOOL_WORDS = {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false", "off": "false"}


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.getenv(name, default).strip().lower()
    value = BOOL_WORDS.get(value, value)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: use one of {', '.join(choices)}.")
    return value


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def envsecret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the file NAME_FILE names (Docker secrets), else default."""
    if value := os.getenv(name):
        return value
    if path := os.getenv(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return default


def _secret_from_file(path: Path, make) -> str:
    """A secret kept in the data folder, created on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Create with 0600 so other users on the machine cannot read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


DATA_DIR = Path(os.getenv("BERTH_DATA_DIR", str(BASE_DIR / "data"))).resolve()
# 0700 through the umask; an older install is made private by
# `manage.py secure_data` (apps.core.datadir), which `make run` and compose run.
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = envsecret("SECRET_KEY") or _secret_from_file(
    DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
)
# Keys that encrypt app settings and connection strings at rest (Fernet).
# Comma-separated; the first encrypts, all decrypt, so keys can be rotated.
BERTH_ENCRYPTION_KEYS = envlist("BERTH_ENCRYPTION_KEYS", envsecret("BERTH_ENCRYPTION_KEYS") or "")
if not BERTH_ENCRYPTION_KEYS:
    # Third-party, needed only the first time: made once, then read from the file.
    from cryptography.fernet import Fernet

    BERTH_ENCRYPTION_KEYS = [
        _secret_from_file(DATA_DIR / "encryption_key", lambda: Fernet.generate_key().decode())
    ]

DEBUG = envbool("DEBUG", "False")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.engine",
    "apps.webapps",
    "apps.deployments",
    "apps.audit",
    "apps.proxy",
    "apps.api",
    "apps.diagnostics",
    "apps.logs",
    "apps.databases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above the session and CSRF middleware: it must see the cookies they set.
    "apps.core.middleware.SecureCookiesMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.api.auth.TokenAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.HtmxVaryMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'berth.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "webapps:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Sign-in and HTTPS (apps.core.middleware). A portal session lasts a working
# day, not Django's two weeks.
SESSION_COOKIE_AGE = envint("BERTH_SESSION_HOURS", "12", minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True
# auto: cookies are Secure on every response to an HTTPS request; true: always
# (the portal is only reached over HTTPS; 1/yes/on as before); false: never.
SECURE_COOKIES = envchoice("SECURE_COOKIES", "auto", ("auto", "true", "false"))
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES == "true"
# Behind a TLS-terminating proxy the request reaches Django over HTTP: trust its
# X-Forwarded-Proto only when told to, or any client could claim HTTPS.
if envbool("BERTH_TRUST_X_FORWARDED_PROTO", "False"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Sent on HTTPS responses only (SecurityMiddleware); not includeSubDomains:
# the apps answer at <name>.<apps domain> and choose HTTPS Only themselves.
SECURE_HSTS_SECONDS = envint("BERTH_HSTS_SECONDS", str(365 * 24 * 3600), minimum=0)
# Content-Security-Policy on every page, in the shape of Django 6.0's
# SECURE_CSP (so its middleware can take over): scripts and styles from
# static/ only, no inline script, no eval, no framing.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# API tokens (apps.api): days a token from `berth login` lasts. A password
# change revokes a user's tokens whatever their age.
BERTH_TOKEN_DAYS = envint("BERTH_TOKEN_DAYS", "90", minimum=1)

# Celery. With no CELERY_BROKER_URL the broker is a folder of files under the
# data folder: no server to run, good for one machine.
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Where kombu keeps its exchange tables; by default the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "False")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "3600")
CELERY_TASK_IGNORE_RESULT = True
# Tasks one worker runs at once (scripts/run.sh and compose start one worker).
CELERY_WORKER_CONCURRENCY = envint("BERTH_WORKERS", "2", minimum=1)
# apps.lifecycle.reconcile every minute, when beat runs (celery worker -B).
CELERY_BEAT_SCHEDULE = {
    "berth-reconcile": {"task": "deployments.reconcile_all", "schedule": 60.0},
    # CPU and memory samples for the Overview charts.
    "berth-metrics": {"task": "logs.sample_metrics", "schedule": 60.0},
}

# The Docker engine and what Berth builds with it.
BERTH_DOCKER_HOST = os.getenv("DOCKER_HOST", "")
BERTH_RUNTIME_IMAGE_PREFIX = os.getenv("BERTH_RUNTIME_IMAGE_PREFIX", "berth/python")
# Pull python:3.X-slim style bases when a registry is reachable ("auto" tries
# and falls back to bootstrapping from the host's Debian archive).
BERTH_RUNTIME_SOURCE = os.getenv("BERTH_RUNTIME_SOURCE", "auto")  # auto | pull | debootstrap
BERTH_RUNTIME_BASE_IMAGE = os.getenv("BERTH_RUNTIME_BASE_IMAGE", "python:{version}-slim")
# More Debian packages (space-separated) for the build image
# (berth/python-build:<version>: headers a package compiles against) and for
# the runtime image (the libraries it then loads); `manage.py runtime ensure`
# rebuilds the images when these change.
BERTH_BUILD_EXTRA_PACKAGES = os.getenv("BERTH_BUILD_EXTRA_PACKAGES", "").split()
BERTH_RUNTIME_EXTRA_PACKAGES = os.getenv("BERTH_RUNTIME_EXTRA_PACKAGES", "").split()
# CA bundle and pip configuration handed to build containers, so pip works
# behind an intercepting proxy. Defaults to the host's.
BERTH_BUILD_CA_BUNDLE = os.getenv(
    "BERTH_BUILD_CA_BUNDLE", os.getenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
)
BERTH_PIP_INDEX_URL = os.getenv("BERTH_PIP_INDEX_URL", os.getenv("PIP_INDEX_URL", ""))
BERTH_PIP_EXTRA_INDEX_URL = os.getenv("BERTH_PIP_EXTRA_INDEX_URL", "")
BERTH_APPS_DOMAIN = os.getenv("BERTH_APPS_DOMAIN", "localhost")
# The front proxy (apps/proxy): Berth's own nginx under DATA_DIR/proxy.
# "external": only write routes and config; compose's proxy service runs nginx.
BERTH_PROXY_MODE = os.getenv("BERTH_PROXY_MODE", "managed")
BERTH_PROXY_LISTEN = os.getenv("BERTH_PROXY_LISTEN", "127.0.0.1")  # production: 0.0.0.0
BERTH_PROXY_HTTP_PORT = envint("BERTH_PROXY_HTTP_PORT", "8080")
BERTH_PROXY_HTTPS_PORT = envint("BERTH_PROXY_HTTPS_PORT", "8443")
BERTH_PROXY_MAX_BODY = os.getenv("BERTH_PROXY_MAX_BODY", "100m")  # nginx client_max_body_size
BERTH_PROXY_USER = os.getenv("BERTH_PROXY_USER", "")  # nginx workers' user when root
BERTH_NGINX = os.getenv("BERTH_NGINX", "nginx")
# nginx's worker_processes: "auto" (one a core) or a number.
BERTH_PROXY_WORKERS = os.getenv("BERTH_PROXY_WORKERS", "auto")
# Seconds a routes change waits for another one to finish, and for nginx to
# take a new config (reload, or the proxy service in "external" mode).
BERTH_PROXY_LOCK_TIMEOUT = envfloat("BERTH_PROXY_LOCK_TIMEOUT", "60", minimum=0)
BERTH_PROXY_APPLY_TIMEOUT = envfloat("BERTH_PROXY_APPLY_TIMEOUT", "15", minimum=0)
# false: no routes are written; an app is reached on its own 127.0.0.1 port
# (development and benchmarks without nginx).
BERTH_PROXY_ROUTING = envbool("BERTH_PROXY_ROUTING", "True")
# Empty: a self-signed certificate for *.<apps domain>, under DATA_DIR/proxy/tls.
BERTH_TLS_CERT = os.getenv("BERTH_TLS_CERT", "")
BERTH_TLS_KEY = os.getenv("BERTH_TLS_KEY", "")
# App networks (apps.lifecycle.appnet): each app on a bridge of its own,
# the host closed to them by an iptables rule (false: leave the host's
# INPUT chain alone, e.g. under rootless Docker). Empty pool: Docker picks
# the subnets from its default-address-pools (about 30 bridges by default).
BERTH_APP_HOST_GUARD = envbool("BERTH_APP_HOST_GUARD", "true")
BERTH_APP_SUBNET_POOL = os.getenv("BERTH_APP_SUBNET_POOL", "")
# Database services (apps.databases): PostgreSQL and Redis containers made
# from Debian's packages of BERTH_SERVICE_SUITE (empty: the host's suite),
# pulled on BERTH_SERVICE_BASE_IMAGE or bootstrapped as BERTH_RUNTIME_SOURCE says.
BERTH_SERVICE_SUITE = os.getenv("BERTH_SERVICE_SUITE", "")
BERTH_SERVICE_BASE_IMAGE = os.getenv("BERTH_SERVICE_BASE_IMAGE", "debian:{suite}-slim")
BERTH_POSTGRES_MEMORY_MB = envint("BERTH_POSTGRES_MEMORY_MB", "512", minimum=64)
BERTH_POSTGRES_CPUS = envfloat("BERTH_POSTGRES_CPUS", "1", minimum=0.1)
BERTH_POSTGRES_MAX_CONNECTIONS = envint("BERTH_POSTGRES_MAX_CONNECTIONS", "100", minimum=10)
BERTH_REDIS_MEMORY_MB = envint("BERTH_REDIS_MEMORY_MB", "128", minimum=32)
# Backups of apps with connections (apps.databases.backups): one every
# BERTH_BACKUP_INTERVAL_HOURS (beat checks hourly), the newest BERTH_BACKUP_KEEP
# scheduled ones kept (manual ones stay until deleted).
BERTH_BACKUP_INTERVAL_HOURS = envfloat("BERTH_BACKUP_INTERVAL_HOURS", "24", minimum=1)
BERTH_BACKUP_KEEP = envint("BERTH_BACKUP_KEEP", "7", minimum=1)
CELERY_BEAT_SCHEDULE["berth-backups"] = {"task": "databases.backup_due", "schedule": 3600.0}

BERTH_ADMIN_USER = os.getenv("BERTH_ADMIN_USER", "")
BERTH_ADMIN_PASSWORD = envsecret("BERTH_ADMIN_PASSWORD")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

# Deployments (apps.deployments): intake limits, build and start-up limits.
BERTH_MAX_ZIP_MB = envint("BERTH_MAX_ZIP_MB", "200")
BERTH_MAX_UNZIPPED_MB = envint("BERTH_MAX_UNZIPPED_MB", "1024")
# The most a git push may send (its pack): git's receive.maxInputSize.
BERTH_MAX_PUSH_MB = envint("BERTH_MAX_PUSH_MB", str(BERTH_MAX_ZIP_MB))
# Uploads over these limits are refused as they arrive (apps.core.bodylimit;
# portal/asgi.py wraps the app in BodyLimit for uvicorn). First, so nothing
# (CSRF's form parsing) reads a body before the check.
MIDDLEWARE.insert(0, "apps.core.bodylimit.ContentLengthMiddleware")
BERTH_BUILD_TIMEOUT = envint("BERTH_BUILD_TIMEOUT", "900")
BERTH_BUILD_MEMORY = os.getenv("BERTH_BUILD_MEMORY", "2g")
BERTH_APP_MEMORY = os.getenv("BERTH_APP_MEMORY", "1g")
# Like WEBSITES_CONTAINER_START_TIME_LIMIT: seconds a new release has to answer HTTP.
BERTH_START_TIME_LIMIT = envint("BERTH_START_TIME_LIMIT", "230")
# A new release that answers only 5xx this long fails then, not at the limit.
BERTH_HTTP_5XX_GRACE = envint("BERTH_HTTP_5XX_GRACE", "30")

# The SSH console (apps.console): WebSockets through Django Channels, one
# consumer per socket, so no channel layer is needed.
INSTALLED_APPS += ["channels", "apps.console"]
# Seconds without a keystroke or output before a session is closed.
BERTH_SSH_IDLE_TIMEOUT = envint("BERTH_SSH_IDLE_TIMEOUT", "1800")

# Trust (apps.deployments, issue 8). Builds: CPU limit and a queue across
# apps (a counting flock under DATA_DIR/locks), so builds can't starve apps.
BERTH_BUILD_CPUS = envfloat("BERTH_BUILD_CPUS", "1.0")
BERTH_MAX_CONCURRENT_BUILDS = envint("BERTH_MAX_CONCURRENT_BUILDS", "1")
# Seconds a deployment waits for a build slot before it fails.
BERTH_BUILD_QUEUE_WAIT = envint("BERTH_BUILD_QUEUE_WAIT", "3600")
# App containers: default limits (per app: app settings WEBSITE_MEMORY_LIMIT_MB
# and WEBSITE_CPU_LIMIT), process limit.
BERTH_APP_CPUS = envfloat("BERTH_APP_CPUS", "1.0")
BERTH_APP_PIDS_LIMIT = envint("BERTH_APP_PIDS_LIMIT", "512")
# Health checks: 200-399 is healthy; true accepts any HTTP answer (per app:
# the app setting WEBSITE_WARMUP_STATUSES, e.g. "200-499" or "any").
BERTH_HEALTH_ACCEPT_ANY = envbool("BERTH_HEALTH_ACCEPT_ANY", "False")
# The periodic check of running apps: failures in a row before a restart.
BERTH_HEALTH_INTERVAL = envfloat("BERTH_HEALTH_INTERVAL", "60")
BERTH_HEALTH_FAILURES = envint("BERTH_HEALTH_FAILURES", "3")
CELERY_BEAT_SCHEDULE["berth-health"] = {
    "task": "deployments.health_check_all",
    "schedule": BERTH_HEALTH_INTERVAL,
}
# Each app's /home limit in MB (per app: the app setting WEBSITE_STORAGE_LIMIT_MB),
# checked by the same periodic task at most every BERTH_STORAGE_INTERVAL seconds.
BERTH_STORAGE_LIMIT_MB = envint("BERTH_STORAGE_LIMIT_MB", "1024", minimum=1)
BERTH_STORAGE_INTERVAL = envfloat("BERTH_STORAGE_INTERVAL", "60")

# Per-app roles (Access control, IAM) and the `app_perms` templates use to
# hide what a role may not do.
INSTALLED_APPS += ["apps.access"]
TEMPLATES[0]["OPTIONS"]["context_processors"].append("apps.access.context_processors.app_perms")

# Logs kept (apps.logs.archive, issue 8): the last N MB of each app's
# container output under DATA_DIR/logs/<app>/ (app.log + app.log.1), and a
# cap on each deployment's stored build log (head and tail kept).
BERTH_APP_LOG_MB = envfloat("BERTH_APP_LOG_MB", "10")
BERTH_BUILD_LOG_MB = envfloat("BERTH_BUILD_LOG_MB", "5")
# Tracebacks (DEBUG pages, error mails) hide app setting values too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "apps.logs.reporting.SecretsFilter"

# Sign-in throttling (django-axes): after BERTH_LOGIN_FAILURE_LIMIT failed
# sign-ins for one user name from one address, that pair is refused for
# BERTH_LOGIN_COOLOFF_MINUTES; the portal's login form, the admin's and
# POST /api/token (`berth login`) alike. Attempts are kept in the database
# (SQLite or PostgreSQL: no cache server needed). A successful sign-in
# resets the count. `python manage.py axes_reset` lifts every lockout.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as axes asks
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = envbool("BERTH_LOGIN_THROTTLE", "True")
AXES_FAILURE_LIMIT = envint("BERTH_LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("BERTH_LOGIN_COOLOFF_MINUTES", "15"))
# The user name and the address together: a typo elsewhere never locks a
# user out, and one address cannot go on guessing one user's password.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that locked: the "try again at" a user
# is told stays true however often the form is sent meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.access.lockout.lockout_response"
