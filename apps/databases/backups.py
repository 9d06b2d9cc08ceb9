"""Backups of an app (`az webapp config backup create|list|restore`): its
configuration (app settings, connection strings, stack, startup command,
health check path, HTTPS Only, and its connections: encrypted, never
plain), its /home and a dump of each connected PostgreSQL database, written
atomically and verified (the dump and the /home archive read back) before
it counts; on demand and daily, the newest BERTH_BACKUP_KEEP kept.

A backup is a folder under DATA_DIR/backups/<app>/<name>/: manifest.json
(names, sizes, times: no secret), config.enc (the configuration, Fernet
encrypted with BERTH_ENCRYPTION_KEYS), home.tar.gz (the app's /home volume,
apps/lifecycle/homebackup.py) and <database>.dump (pg_dump's custom
format). It is built in a hidden folder and renamed into place, so a
backup is there whole or not at all. Redis is a cache here, as Azure Cache
for Redis is outside App Service's backups: its data is not in a backup.

Restore into the same app or a new one: first a backup of the target as it
is (`before-restore-...`, unless it holds nothing yet), so a restore never
loses data; then connections made where missing, each database restored
with pg_restore --clean, /home made to hold what the backup's holds, and
the configuration as saved (the settings a connection sets come from the
app's current connection, so they match its password), stack and startup
command included; the app then restarts to take them (a new stack builds
the serving release again), as a settings change does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.core import crypto
from apps.databases import connections, postgres
from apps.databases.models import ServiceConnection
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.engine.versions import image_tag
from apps.lifecycle import homebackup
from apps.webapps import services as config
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
HOME_FILE = "home.tar.gz"
# The general settings a backup keeps: App Service's name -> WebApp field.
GENERAL = {
    "linuxFxVersion": "linux_fx_version",
    "appCommandLine": "app_command_line",
    "healthCheckPath": "health_check_path",
    "httpsOnly": "https_only",
}


class BackupProblem(Exception):
    def __init__(self, message: str, *, code: str = "InvalidArgument", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def backups_dir(app_name: str) -> Path:
    path = Path(settings.DATA_DIR) / "backups" / app_name
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Backup:
    name: str
    app: str
    created: str
    size: int
    databases: list[str]
    trigger: str  # manual | scheduled | pre-restore
    home_files: int | None = None  # None: no /home in it (the app had none)
    stack: str = ""

    @classmethod
    def read(cls, folder: Path) -> Backup | None:
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        return cls(
            folder.name,
            manifest.get("app", ""),
            manifest.get("created", ""),
            size,
            [d["name"] for d in manifest.get("databases", [])],
            manifest.get("trigger", "manual"),
            (manifest.get("home") or {}).get("files"),
            manifest.get("linuxFxVersion", ""),
        )


def list_backups(app: WebApp) -> list[Backup]:
    found = (Backup.read(p) for p in backups_dir(app.name).iterdir() if p.is_dir())
    return sorted((b for b in found if b), key=lambda b: b.created, reverse=True)


def _configuration(app: WebApp) -> dict:
    return {
        **{name: getattr(app, field) for name, field in GENERAL.items()},
        "appSettings": [
            {"name": s.name, "value": s.value, "slotSetting": s.slot_setting}
            for s in app.app_settings.all()
        ],
        "connectionStrings": [
            {"name": c.name, "value": c.value, "type": c.type, "slotSetting": c.slot_setting}
            for c in app.connection_strings.all()
        ],
        "connections": [
            {
                "name": c.name,
                "target": c.target,
                "clientType": c.client_type,
                "database": c.database,
            }
            for c in app.service_connections.all()
        ],
    }


def create(app: WebApp, *, name: str = "", trigger: str = "manual", actor=None) -> Backup:
    name = name or timezone.now().strftime("%Y%m%d-%H%M%S")
    if not NAME_RE.match(name):
        raise BackupProblem(f"Backup name {name!r}: use letters, digits, '.', '_' or '-'.")
    root = backups_dir(app.name)
    final = root / name
    if final.exists():
        raise BackupProblem(f"{app.name} already has a backup named {name!r}.", status=409)
    work = root / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        databases = []
        pg = app.service_connections.filter(target=ServiceConnection.Target.POSTGRES).first()
        if pg is not None:
            try:
                postgres.ensure_running()
                size = postgres.dump(pg.database, work / f"{pg.database}.dump")
            except EngineError as e:
                raise BackupProblem(
                    f"The dump of database {pg.database} failed: {e.message}",
                    code="BackupFailed",
                    status=503,
                ) from e
            databases.append({"name": pg.database, "file": f"{pg.database}.dump", "size": size})
        try:
            home = homebackup.export(app, image_tag(app.python_version), work / HOME_FILE)
        except EngineError as e:
            raise BackupProblem(
                f"Copying /home of {app.name} failed: {e.message}", code="BackupFailed", status=503
            ) from e
        (work / "config.enc").write_text(crypto.encrypt(json.dumps(_configuration(app))))
        manifest = {
            "app": app.name,
            "created": timezone.now().isoformat(),
            "trigger": trigger,
            "linuxFxVersion": app.linux_fx_version,
            "databases": databases,
            "home": home and {"file": HOME_FILE, "files": home.files, "bytes": home.bytes},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
        os.rename(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    backup = Backup.read(final)
    assert backup is not None
    record(
        app=app,
        action=AuditEvent.Action.BACKUP_CREATE,
        actor=actor,
        after={"backup": name, "databases": backup.databases, "size": backup.size},
        summary=f"Backup {name} ({trigger}): configuration"
        + ("" if backup.home_files is None else f", /home ({backup.home_files} files)")
        + "".join(f", database {d}" for d in backup.databases),
    )
    prune(app)
    return backup


def prune(app: WebApp) -> list[str]:
    """Keep the newest BERTH_BACKUP_KEEP scheduled backups; manual ones stay."""
    scheduled = [b for b in list_backups(app) if b.trigger == "scheduled"]
    removed = []
    for old in scheduled[settings.BERTH_BACKUP_KEEP :]:
        shutil.rmtree(backups_dir(app.name) / old.name, ignore_errors=True)
        removed.append(old.name)
    return removed


def _find(app: WebApp, name: str) -> Path:
    folder = backups_dir(app.name) / name
    if not NAME_RE.match(name) or Backup.read(folder) is None:
        names = ", ".join(b.name for b in list_backups(app)) or "none"
        raise BackupProblem(
            f"{app.name} has no backup named {name!r} (its backups: {names}).",
            code="ResourceNotFound",
            status=404,
        )
    return folder


def _check_general(target: WebApp, saved: dict) -> dict:
    """The saved general settings as WebApp fields, checked against what this
    Berth offers before anything is touched; BackupProblem says what to fix."""
    general = {field: saved[name] for name, field in GENERAL.items() if name in saved}
    probe = copy.copy(target)
    for field, value in general.items():
        setattr(probe, field, value)
    try:
        probe.clean_fields(exclude=[f.name for f in WebApp._meta.fields if f.name not in general])
    except ValidationError as e:
        raise BackupProblem(
            f"The backup's configuration does not fit this Berth: {'; '.join(e.messages)}",
            code="InvalidProperty",
            status=422,
        ) from e
    return general


def _runtime_image(version: str) -> str:
    tag = image_tag(version)
    try:
        there = engine.image_exists(tag)
    except EngineError as e:
        raise BackupProblem(e.message, code="ServiceUnavailable", status=503) from e
    if not there:
        raise BackupProblem(
            f"The backup's stack PYTHON|{version} has no runtime image here ({tag}): build it "
            "on the Runtimes page (or `manage.py runtime ensure`), then restore again.",
            code="RuntimeUnavailable",
            status=409,
        )
    return tag


def _holds_anything(app: WebApp) -> bool:
    try:
        home = homebackup.has_home(app)
    except EngineError:
        home = True  # cannot tell: keep a copy to be safe
    return home or app.service_connections.exists()


def restore(
    source: WebApp, name: str, *, target: WebApp | None = None, actor=None, keep_current=True
) -> WebApp:
    """Restore backup `name` of `source` into `target` (default: the same app).
    With `keep_current`, the target as it is now is backed up first."""
    folder = _find(source, name)
    target = target or source
    saved = json.loads(crypto.decrypt((folder / "config.enc").read_text()))
    manifest = json.loads((folder / "manifest.json").read_text())
    general = _check_general(target, saved)
    version = general.get("linux_fx_version", target.linux_fx_version).partition("|")[2]
    home = manifest.get("home")
    image = _runtime_image(version) if home else ""
    kept = ""
    if keep_current and _holds_anything(target):
        kept = f"before-restore-{timezone.now().strftime('%Y%m%d-%H%M%S')}"
        create(target, name=kept, trigger="pre-restore", actor=actor)
    try:
        _apply(folder, name, source, target, saved, manifest, general, image, actor)
    except BackupProblem as e:
        if kept:
            e.message += (
                f" {target.name} as it was before is in backup {kept}: restore it to go back."
            )
        raise
    return target


def _apply(
    folder: Path,
    name: str,
    source: WebApp,
    target: WebApp,
    saved: dict,
    manifest: dict,
    general: dict,
    image: str,
    actor,
) -> None:
    home = manifest.get("home")
    # Connections first: what the restored settings and databases need.
    made: dict[str, ServiceConnection] = {}
    for c in saved["connections"]:
        current = target.service_connections.filter(target=c["target"]).first()
        if current is None:
            try:
                current = connections.create(
                    target, c["target"], client_type=c["clientType"], name=c["name"], actor=actor
                )
            except connections.ConnectionProblem as e:
                raise BackupProblem(e.message, code=e.code, status=e.status) from e
        made[c["target"]] = current
    try:
        pg = made.get(ServiceConnection.Target.POSTGRES)
        for database in manifest.get("databases", []):
            if pg is not None:
                postgres.restore(pg.database, pg.role, folder / database["file"])
    except EngineError as e:
        raise BackupProblem(
            f"Restoring the database failed: {e.message}", code="RestoreFailed", status=503
        ) from e
    if home:
        try:
            homebackup.restore(target, image, folder / home["file"])
        except EngineError as e:
            raise BackupProblem(
                f"Restoring /home failed: {e.message}", code="RestoreFailed", status=503
            ) from e
    managed = {n for c in made.values() for n in c.setting_names}
    with transaction.atomic():
        current = {s.name: s for s in target.app_settings.all() if s.name in managed}
        items = [
            config.SettingInput(s["name"], s["value"], s["slotSetting"])
            for s in saved["appSettings"]
            if s["name"] not in managed
        ]
        items += [config.SettingInput(n, s.value, s.slot_setting) for n, s in current.items()]
        config.replace_app_settings(target, items, actor=actor, restart=False)
        config.replace_connection_strings(
            target,
            [
                config.ConnectionStringInput(s["name"], s["value"], s["type"], s["slotSetting"])
                for s in saved["connectionStrings"]
            ],
            actor=actor,
            restart=False,
        )
        # A new stack builds the serving release again, another startup
        # command restarts it: update_general_settings asks for either.
        changed = {f for f, value in general.items() if getattr(target, f) != value}
        try:
            config.update_general_settings(target, **general, actor=actor)
        except ValidationError as e:
            raise BackupProblem(
                f"The backup's stack could not be applied: {'; '.join(e.messages)}",
                code="InvalidProperty",
                status=422,
            ) from e
        record(
            app=target,
            action=AuditEvent.Action.BACKUP_RESTORE,
            actor=actor,
            after={"backup": name, "from": source.name, "home": bool(home)},
            summary=f"Restored backup {name} of {source.name}"
            + (": /home, " if home else ": ")
            + "configuration"
            + "".join(f", database {d['name']}" for d in manifest.get("databases", [])),
        )
        if not changed - config.NO_RESTART_FIELDS:
            config.request_restart(target, f"backup {name} restored", actor=actor)


def due(app: WebApp, now: dt.datetime | None = None) -> bool:
    """Is a scheduled backup due (none in BERTH_BACKUP_INTERVAL_HOURS)?"""
    now = now or timezone.now()
    last = next(iter(list_backups(app)), None)
    if last is None:
        return True
    made = dt.datetime.fromisoformat(last.created)
    return now - made >= dt.timedelta(hours=settings.BERTH_BACKUP_INTERVAL_HOURS)


def backup_due_apps() -> list[str]:
    """The scheduled pass: every app whose last backup is old."""
    done = []
    for app in WebApp.objects.all():
        if not due(app):
            continue
        try:
            create(app, trigger="scheduled")
        except BackupProblem as e:
            logger.warning("Scheduled backup of %s failed: %s", app.name, e.message)
            continue
        done.append(app.name)
    return done
