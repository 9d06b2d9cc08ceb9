"""ASGI entry point: the portal runs under uvicorn so streamed responses
(build logs, the log stream) hold no worker thread while they wait, and the
SSH console's WebSockets (apps.console) are served by the same process."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Set Django up before importing anything that imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.console.auth import TokenAuthMiddleware  # noqa: E402
from apps.console.routing import websocket_urlpatterns  # noqa: E402
from apps.core.bodylimit import BodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies over their limit are refused as they arrive, not after.
        "http": BodyLimit(django_asgi_app),
        # The Origin check stops another site's page from opening a shell
        # with the user's cookie (cross-site WebSocket hijacking).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
