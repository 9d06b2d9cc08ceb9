from __future__ import annotations

from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "apps.proxy"
    label = "proxy"
    verbose_name = "Front proxy"
