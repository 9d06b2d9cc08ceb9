"""Why a deployment or an operation failed, as a code machines read.

A failed Deployment or Operation keeps one of these codes with its evidence,
a small JSON dict of what was seen (an exit code, the status an answer had,
a limit, the app's last log lines with secrets masked, the proxy's reason).
The pages, the API and the detectors in apps.diagnostics read the code and
the evidence, never the English sentence a log line happened to say.

Where each is set: see the README's "Failure codes" table; in short
build_* and queue_timeout in apps.deployments.buildrun (the build),
runtime_missing/bad_settings/start_failed/exited/start_timeout/http_5xx/
http_status/oom/proxy_refused/storage_failed in the release steps, lock_timeout where the
app's lock is waited for, storage_full on the Stop apps.lifecycle.quota makes, worker_lost/not_picked_up in reconcile,
engine_unreachable/engine_error from the engine's errors, internal_error
for Berth's own bugs.
"""

from __future__ import annotations

import re

from apps.engine.errors import EngineError, EngineUnavailable

BUILD_FAILED = "build_failed"  # the build script exited non-zero: exit_code, last_lines
BUILD_TIMEOUT = "build_timeout"  # longer than BERTH_BUILD_TIMEOUT: limit_s
QUEUE_TIMEOUT = "queue_timeout"  # no build slot in time: waited_s
RUNTIME_MISSING = "runtime_missing"  # the runtime image is not here: image, python_version
BAD_SETTINGS = "bad_settings"  # saved app settings cannot reach a container
START_FAILED = "start_failed"  # the container could not be created or started: error
EXITED = "exited"  # the container stopped before answering: exit_code, restart_count
START_TIMEOUT = "start_timeout"  # no answer within BERTH_START_TIME_LIMIT: limit_s, last
HTTP_5XX = "http_5xx"  # it answered, but with a 5xx status: status, limit_s
HTTP_STATUS = "http_status"  # it answered with a status not counted healthy: status, accepted
OOM = "oom"  # killed for memory: limit_mb (or limit), phase "build" | "start"
PROXY_REFUSED = "proxy_refused"  # the proxy did not take the new route: reason
ENGINE_UNREACHABLE = "engine_unreachable"  # the Docker engine did not answer: error
ENGINE_ERROR = "engine_error"  # the engine answered with an error: error
LOCK_TIMEOUT = "lock_timeout"  # another deployment or restart held the app: waited_s
WORKER_LOST = "worker_lost"  # the worker doing it stopped (found by reconcile)
NOT_PICKED_UP = "not_picked_up"  # no worker took the task in time (found by reconcile)
STORAGE_FAILED = "storage_failed"  # the release's code could not be put into /home: volume, error
# Berth stopped the app: /home held more than its limit (a Stop's cause):
# used_bytes, limit_bytes, volume
STORAGE_FULL = "storage_full"
INTERNAL_ERROR = "internal_error"  # an error in Berth itself: error

CODES = (
    BUILD_FAILED,
    BUILD_TIMEOUT,
    QUEUE_TIMEOUT,
    RUNTIME_MISSING,
    BAD_SETTINGS,
    START_FAILED,
    EXITED,
    START_TIMEOUT,
    HTTP_5XX,
    HTTP_STATUS,
    OOM,
    PROXY_REFUSED,
    ENGINE_UNREACHABLE,
    ENGINE_ERROR,
    LOCK_TIMEOUT,
    WORKER_LOST,
    NOT_PICKED_UP,
    STORAGE_FAILED,
    STORAGE_FULL,
    INTERNAL_ERROR,
)

# The codes that say the app itself did not start (its code or its
# configuration), as opposed to Berth, the engine or the proxy.
APP_DID_NOT_START = (EXITED, START_TIMEOUT, HTTP_5XX, HTTP_STATUS, OOM, START_FAILED)
LAST_LINES = 20  # how many of the app's last log lines evidence keeps


def engine_code(error: EngineError) -> str:
    """The code for an error from apps.engine."""
    return ENGINE_UNREACHABLE if isinstance(error, EngineUnavailable) else ENGINE_ERROR


# A Python exception's last line: "ModuleNotFoundError: No module named 'x'".
EXCEPTION_LINE = re.compile(
    r"^\s*(?:[A-Za-z_][\w.]*\.)?(?P<type>[A-Z]\w*(?:Error|Exception|Exit|Warning)|KeyboardInterrupt)"
    r"\b(?::\s*(?P<msg>.*))?$"
)


def exception_line(text: str) -> str:
    """The last exception line of an app's log (a traceback's last line:
    what went wrong), or ""."""
    for line in reversed(text.splitlines()):
        # Log lines may carry a prefix (a timestamp, gunicorn's [pid]): the
        # exception is what follows the last "] " if the line has one.
        tail = line.rpartition("] ")[2] if "] " in line else line
        if EXCEPTION_LINE.match(tail):
            return tail.strip()
    return ""


def last_lines(text: str, count: int = LAST_LINES) -> list[str]:
    """The last `count` lines of an already masked log, for evidence."""
    return text.splitlines()[-count:]
