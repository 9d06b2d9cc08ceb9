"""Hand-made Evidence for the detector tests."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.diagnostics.evidence import (
    AppConfig,
    ContainerRecord,
    DeploymentRecord,
    Evidence,
    SourceFiles,
    parse_log,
)

T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)

HEALTHY_FLASK = {
    "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/')\ndef hello():\n    return 'Hello'\n",
    "requirements.txt": "Flask\n",
}
HEALTHY_LOG = """\
2025-05-01T12:00:00.000000001Z [berth-startup] Detected: flask (found app.py)
2025-05-01T12:00:00.100000000Z [berth-startup] Running: gunicorn --bind=0.0.0.0:$PORT --timeout 600 app:app
2025-05-01T12:00:01Z [2025-05-01 12:00:01 +0000] [7] [INFO] Starting gunicorn 23.0.0
2025-05-01T12:00:01Z [2025-05-01 12:00:01 +0000] [7] [INFO] Listening at: http://0.0.0.0:8000 (7)
2025-05-01T12:00:01Z [2025-05-01 12:00:01 +0000] [8] [INFO] Booting worker with pid: 8
"""
HEALTHY_BUILD = """\
Running pip install -r requirements.txt
Requirement already satisfied: Flask in /usr/lib/python3/dist-packages
Build succeeded.
"""


def evidence(
    *,
    files: dict[str, str] | None = None,
    listing: list[str] | None = None,
    container_log: str = HEALTHY_LOG,
    build_log: str = HEALTHY_BUILD,
    status: str = "success",
    status_text: str = "",
    container: dict | None = None,
    app: dict | None = None,
    startup: dict | None = None,
    failure_code: str = "",
    failure_evidence: dict | None = None,
) -> Evidence:
    files = HEALTHY_FLASK if files is None else files
    names = tuple(sorted(set(files) | set(listing or [])))
    state = {"name": "berth-hello-1", "status": "running", "exit_code": 0, "deployment_id": 1}
    state.update(container or {})
    return Evidence(
        app=AppConfig(**{"name": "hello", **(app or {})}),
        deployments=(
            DeploymentRecord(
                id=1,
                status=status,
                status_text=status_text,
                log=parse_log(build_log, "deployment #1"),
                active=status == "success",
                created=T0,
                finished=T0,
                startup=startup or {},
                failure_code=failure_code,
                failure_evidence=failure_evidence or {},
            ),
        ),
        source=SourceFiles(names, dict(files), "deployment #1"),
        containers=(
            ContainerRecord(**state, logs=parse_log(container_log, f"container {state['name']}")),
        ),
        collected_at=T0,
    )


def with_error(*lines: str) -> str:
    """The healthy log followed by these lines, timestamped."""
    return HEALTHY_LOG + "".join(f"2025-05-01T12:00:02Z {line}\n" for line in lines)
