from __future__ import annotations

from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "apps.diagnostics"
    verbose_name = "Diagnose and solve problems"
