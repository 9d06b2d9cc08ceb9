"""A release's configuration: what was in force when it went live, what a
rollback to it would change, and putting it back.

The snapshot is JSON in Deployment.release_settings (encrypted at rest):

    {"version": 1,
     "appSettings": {"NAME": {"value": "...", "slotSetting": false}},
     "connectionStrings": {"NAME": {"value": "...", "type": "Custom", "slotSetting": false}},
     "appCommandLine": "...", "linuxFxVersion": "PYTHON|3.11", "pythonVersion": "3.11",
     "deployer": "alice", "finished": "2026-01-01T10:00:00+00:00"}

The diff names what changes and never carries a setting's value: values are
secrets, so they show as ***. The startup command and the stack are shown in
clear (they are not secrets, and the General settings page shows them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.webapps import services as config
from apps.webapps.models import AppSetting, ConnectionString, WebApp

VERSION = 1
MASK = "***"


def take(app: WebApp, *, deployer: str = "", finished=None) -> dict:
    """The app's configuration now, as a release snapshot."""
    return {
        "version": VERSION,
        "appSettings": {
            s.name: {"value": s.value, "slotSetting": s.slot_setting}
            for s in AppSetting.objects.filter(app=app).order_by("name")
        },
        "connectionStrings": {
            cs.name: {"value": cs.value, "type": cs.type, "slotSetting": cs.slot_setting}
            for cs in ConnectionString.objects.filter(app=app).order_by("name")
        },
        "appCommandLine": app.app_command_line,
        "linuxFxVersion": app.linux_fx_version,
        "pythonVersion": app.python_version,
        "deployer": deployer,
        "finished": (finished or timezone.now()).isoformat(),
    }


@dataclass(frozen=True)
class Change:
    """One named entry that differs. `what` is "added" (in the release, not
    today: restoring adds it), "removed" (today, not in the release) or
    "changed"; `details` say which parts changed (value shown as ***)."""

    name: str
    what: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingsDiff:
    app_settings: list[Change] = field(default_factory=list)
    connection_strings: list[Change] = field(default_factory=list)
    # (today, the release's) when they differ, else None
    app_command_line: tuple[str, str] | None = None
    linux_fx_version: tuple[str, str] | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.app_settings
            or self.connection_strings
            or self.app_command_line
            or self.linux_fx_version
        )

    def as_dict(self) -> dict:
        """For the API: names and what changed; values only as ***."""

        def changes(items: list[Change]) -> list[dict]:
            return [{"name": c.name, "change": c.what, "details": list(c.details)} for c in items]

        out: dict = {
            "appSettings": changes(self.app_settings),
            "connectionStrings": changes(self.connection_strings),
        }
        if self.app_command_line:
            out["appCommandLine"] = {
                "current": self.app_command_line[0],
                "restored": self.app_command_line[1],
            }
        if self.linux_fx_version:
            out["linuxFxVersion"] = {
                "current": self.linux_fx_version[0],
                "restored": self.linux_fx_version[1],
            }
        return out


def _compare(now: dict[str, dict], then: dict[str, dict], parts: tuple[str, ...]) -> list[Change]:
    out: list[Change] = []
    for name in sorted(set(now) | set(then)):
        if name not in now:
            out.append(Change(name, "added"))
        elif name not in then:
            out.append(Change(name, "removed"))
        else:
            details = []
            for part in parts:
                a, b = now[name].get(part), then[name].get(part)
                if a == b:
                    continue
                if part == "value":
                    details.append(f"value {MASK} -> {MASK}")
                else:
                    details.append(f"{part} {a} -> {b}")
            if details:
                out.append(Change(name, "changed", tuple(details)))
    return out


def diff(app: WebApp, snapshot: dict) -> SettingsDiff:
    """What restoring `snapshot` would change in the app's configuration today."""
    now = take(app)
    command = (now["appCommandLine"], snapshot.get("appCommandLine", ""))
    stack = (now["linuxFxVersion"], snapshot.get("linuxFxVersion", now["linuxFxVersion"]))
    return SettingsDiff(
        app_settings=_compare(
            now["appSettings"], snapshot.get("appSettings", {}), ("value", "slotSetting")
        ),
        connection_strings=_compare(
            now["connectionStrings"],
            snapshot.get("connectionStrings", {}),
            ("value", "type", "slotSetting"),
        ),
        app_command_line=command if command[0] != command[1] else None,
        linux_fx_version=stack if stack[0] != stack[1] else None,
    )


@transaction.atomic
def restore(app: WebApp, snapshot: dict, *, actor=None) -> None:
    """Make the app's configuration the snapshot's, without a restart (the
    caller deploys once afterwards). Each change is audited by the config
    services, values masked."""
    with config.one_environment_check(app):
        config.replace_app_settings(
            app,
            [
                config.SettingInput(name, v.get("value", ""), bool(v.get("slotSetting")))
                for name, v in snapshot.get("appSettings", {}).items()
            ],
            restart=False,
            actor=actor,
        )
        config.replace_connection_strings(
            app,
            [
                config.ConnectionStringInput(
                    name,
                    v.get("value", ""),
                    v.get("type", ConnectionString.Type.CUSTOM),
                    bool(v.get("slotSetting")),
                )
                for name, v in snapshot.get("connectionStrings", {}).items()
            ],
            restart=False,
            actor=actor,
        )
    config.update_general_settings(
        app,
        linux_fx_version=snapshot.get("linuxFxVersion") or None,
        app_command_line=snapshot.get("appCommandLine", ""),
        restart=False,
        actor=actor,
    )
