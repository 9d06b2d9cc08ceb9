from __future__ import annotations

from django.apps import AppConfig

from apps.core import hooks


class DiagnosticsConfig(AppConfig):
    name = "apps.diagnostics"
    verbose_name = "Diagnose and solve problems"

    def ready(self) -> None:
        # The intake (apps.deployments, below this layer) runs the
        # pre-deployment check through apps.core.hooks. Imported here, not at
        # the top: precheck reads models, which load after the app configs.
        from apps.diagnostics import precheck

        def check(path, app_command_line: str, tree) -> list[dict]:
            return precheck.check_zip(path, app_command_line, tree).findings()

        hooks.register_precheck(check, precheck.log_lines)
