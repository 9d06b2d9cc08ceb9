"""ASGI entry point: the portal runs under uvicorn so streamed responses
(build logs, the log stream) hold no worker thread while they wait."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_asgi_application()
