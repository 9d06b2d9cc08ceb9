from __future__ import annotations

from django.apps import AppConfig


class WebappsConfig(AppConfig):
    name = "apps.webapps"
    label = "webapps"
    verbose_name = "Web apps"
