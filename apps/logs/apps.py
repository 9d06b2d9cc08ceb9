from __future__ import annotations

from django.apps import AppConfig

from apps.core import hooks


class LogsConfig(AppConfig):
    """Monitoring: the Log stream and the Overview's CPU and memory samples."""

    name = "apps.logs"
    label = "logs"

    def ready(self) -> None:
        # The release pipeline and the app teardown sit below the log
        # archive: they reach it through apps.core.hooks. Imported here, not
        # at the top: a module with models is not importable before Django
        # has loaded the apps (Django's own rule for ready()).
        from apps.logs import archive

        def keep(app_name: str, containers: list[str]) -> list[str]:
            return [k.warning for k in archive.keep_last_lines(app_name, containers) if k.warning]

        hooks.register_keeper(keep)
        hooks.register_log_remover(lambda app_name, names: archive.delete_app_logs(app_name, names))
